//! The addresses of VMs: from their interface and public address, one at a
//! time or the whole group's at once.

use std::collections::HashMap;
use std::net::IpAddr;

use azure_mgmt_compute::package_2024_07_01::models::VirtualMachine;
use futures::StreamExt;
use provisioner_core::{Error, Result};

use crate::convert::{nic_addresses, nic_id};
use crate::errors::from_azure;
use crate::AzureProvisioner;

impl AzureProvisioner {
    /// The private and public address of the VM's primary interface.
    pub(crate) async fn addresses(
        &self,
        vm: &VirtualMachine,
    ) -> Result<(Option<IpAddr>, Option<IpAddr>)> {
        let Some(nic_id) = nic_id(vm) else {
            return Ok((None, None));
        };
        let Some(nic_name) = nic_id.rsplit('/').next() else {
            return Ok((None, None));
        };
        let nic = match self
            .network
            .network_interfaces_client()
            .get(&self.group, nic_name, &self.subscription)
            .await
        {
            Ok(nic) => nic,
            Err(e) => match from_azure(e, nic_name) {
                Error::NotFound { .. } => return Ok((None, None)),
                other => return Err(other),
            },
        };
        let (private, pip_id) = nic_addresses(&nic);
        let pip_name = pip_id.as_deref().and_then(|id| id.rsplit('/').next());
        let public = match pip_name {
            None => None,
            Some(pip) => match self
                .network
                .public_ip_addresses_client()
                .get(&self.group, pip, &self.subscription)
                .await
            {
                Ok(pip) => pip
                    .properties
                    .and_then(|p| p.ip_address)
                    .and_then(|a| a.parse().ok()),
                Err(e) => match from_azure(e, pip) {
                    Error::NotFound { .. } => None,
                    other => return Err(other),
                },
            },
        };
        Ok((private, public))
    }

    /// Every interface and public address of the group: one paged call each,
    /// whatever the number of VMs.
    pub(crate) async fn group_addresses(
        &self,
    ) -> Result<(
        HashMap<String, (Option<IpAddr>, Option<String>)>,
        HashMap<String, IpAddr>,
    )> {
        let mut nics = HashMap::new();
        let mut pages = self
            .network
            .network_interfaces_client()
            .list(&self.group, &self.subscription)
            .into_stream();
        while let Some(page) = pages.next().await {
            for nic in page.map_err(|e| from_azure(e, ""))?.value {
                let Some(id) = nic.resource.id.clone() else {
                    continue;
                };
                nics.insert(id.to_ascii_lowercase(), nic_addresses(&nic));
            }
        }
        let mut pips = HashMap::new();
        let mut pages = self
            .network
            .public_ip_addresses_client()
            .list(&self.group, &self.subscription)
            .into_stream();
        while let Some(page) = pages.next().await {
            for pip in page.map_err(|e| from_azure(e, ""))?.value {
                let address = pip
                    .properties
                    .as_ref()
                    .and_then(|p| p.ip_address.as_deref())
                    .and_then(|a| a.parse().ok());
                if let (Some(id), Some(address)) = (pip.resource.id.clone(), address) {
                    pips.insert(id.to_ascii_lowercase(), address);
                }
            }
        }
        Ok((nics, pips))
    }
}

/// The private and public address of `vm`, from the group's interfaces and
/// addresses (keyed by lowercased resource id).
pub(crate) fn addresses_of(
    vm: &VirtualMachine,
    nics: &HashMap<String, (Option<IpAddr>, Option<String>)>,
    pips: &HashMap<String, IpAddr>,
) -> (Option<IpAddr>, Option<IpAddr>) {
    let (private_ip, pip) = nic_id(vm)
        .and_then(|id| nics.get(&id.to_ascii_lowercase()))
        .cloned()
        .unwrap_or((None, None));
    let public_ip = pip.and_then(|id| pips.get(&id.to_ascii_lowercase()).copied());
    (private_ip, public_ip)
}
