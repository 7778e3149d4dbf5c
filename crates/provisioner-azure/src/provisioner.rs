//! [`AzureProvisioner`]: the contract on Azure Resource Manager.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::auth::TokenCredential;
// The API versions this crate speaks: compute 2024-07-01, network 2024-03-01.
use azure_mgmt_compute::package_2024_07_01 as compute;
use azure_mgmt_network::package_2024_03 as network;
use base64::Engine as _;
use compute::models::VirtualMachine;
use futures::StreamExt;
use provisioner_core::consistency::RecentLaunches;
use provisioner_core::naming;
use provisioner_core::validate;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner,
    InstanceStatus, Result, Tags,
};
use serde_json::json;

use crate::errors::from_azure;
use crate::launch::AzureLaunchConfig;
use crate::rules::{check_vm_name, image_reference, AZURE_RULES};
use crate::states;

/// An [`InstanceProvisioner`] on Azure virtual machines, in one subscription,
/// resource group and location. Instance ids are VM names within the group.
pub struct AzureProvisioner {
    compute: compute::Client,
    network: network::Client,
    subscription: String,
    group: String,
    location: String,
    launch: AzureLaunchConfig,
    recent: RecentLaunches,
}

impl std::fmt::Debug for AzureProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The clients hold the credential: they are never printed.
        f.debug_struct("AzureProvisioner")
            .field("subscription", &self.subscription)
            .field("group", &self.group)
            .field("location", &self.location)
            .field("launch", &self.launch)
            .finish_non_exhaustive()
    }
}

/// Where the provisioner works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureScope {
    /// The subscription id.
    pub subscription: String,
    /// The resource group VMs are created in and listed from.
    pub resource_group: String,
    /// The region, such as `westeurope`.
    pub location: String,
}

impl AzureScope {
    /// A scope.
    pub fn new(
        subscription: impl Into<String>,
        resource_group: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            location: location.into(),
        }
    }
}

/// A token credential for emulators: a fixed bearer token.
#[derive(Debug)]
struct EmulatorCredential;

#[async_trait]
impl TokenCredential for EmulatorCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
    ) -> azure_core::Result<azure_core::auth::AccessToken> {
        Ok(azure_core::auth::AccessToken::new(
            "emulator-token",
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

fn check_segment(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 90
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            what,
            format!("{value:?} is not a valid {what}"),
        ))
    }
}

impl AzureProvisioner {
    /// A provisioner on azure_identity's standard credential chain
    /// (environment, workload identity, managed identity, Azure CLI).
    pub fn new(scope: AzureScope, launch: AzureLaunchConfig) -> Result<Self> {
        let credential =
            azure_identity::create_credential().map_err(|e| Error::Unauthenticated {
                message: format!("no Azure credential: {e}"),
            })?;
        Self::with_credential(credential, scope, launch)
    }

    /// A provisioner on a given credential.
    pub fn with_credential(
        credential: Arc<dyn TokenCredential>,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        let compute = compute::Client::builder(credential.clone())
            .build()
            .map_err(|e| from_azure(e, ""))?;
        let network = network::Client::builder(credential)
            .build()
            .map_err(|e| from_azure(e, ""))?;
        Self::from_clients(compute, network, scope, launch)
    }

    /// A provisioner on an emulator at `endpoint` (this project's), with a
    /// fixed token and quick retries.
    pub fn for_endpoint(
        endpoint: &str,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        let url = azure_core::Url::parse(endpoint)
            .map_err(|e| Error::invalid_argument("endpoint", e.to_string()))?;
        let retry = || {
            azure_core::RetryOptions::exponential(
                azure_core::ExponentialRetryOptions::default()
                    .initial_delay(Duration::from_millis(10))
                    .max_retries(3u32),
            )
        };
        let credential: Arc<dyn TokenCredential> = Arc::new(EmulatorCredential);
        let compute = compute::Client::builder(credential.clone())
            .endpoint(url.clone())
            .retry(retry())
            .build()
            .map_err(|e| from_azure(e, ""))?;
        let network = network::Client::builder(credential)
            .endpoint(url)
            .retry(retry())
            .build()
            .map_err(|e| from_azure(e, ""))?;
        Self::from_clients(compute, network, scope, launch)
    }

    /// A provisioner on given clients.
    pub fn from_clients(
        compute: compute::Client,
        network: network::Client,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        check_segment("subscription", &scope.subscription)?;
        check_segment("resource_group", &scope.resource_group)?;
        check_segment("location", &scope.location)?;
        Ok(Self {
            compute,
            network,
            subscription: scope.subscription,
            group: scope.resource_group,
            location: scope.location,
            launch,
            recent: RecentLaunches::new(Duration::from_secs(60)),
        })
    }

    fn vms(&self) -> compute::virtual_machines::Client {
        self.compute.virtual_machines_client()
    }

    /// The VM body of one launch: the NIC, OS disk and public address are
    /// created with the VM and deleted with it.
    fn body(&self, name: &str, config: &InstanceConfig) -> Result<VirtualMachine> {
        let image = image_reference(&config.image)?;
        let mut os_disk = json!({
            "name": format!("{name}-osdisk"),
            "createOption": "FromImage",
            "caching": "ReadWrite",
            "deleteOption": "Delete",
            "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
        });
        if let Some(gb) = config.disk_size_gb {
            os_disk["diskSizeGB"] = gb.into();
        }
        let mut ip_config = json!({
            "name": "ipconfig1",
            "properties": {"primary": true, "subnet": {"id": self.launch.subnet_id}},
        });
        if self.launch.public_ip {
            ip_config["properties"]["publicIPAddressConfiguration"] = json!({
                "name": format!("{name}-pip"),
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {"deleteOption": "Delete", "publicIPAllocationMethod": "Static"},
            });
        }
        let mut nic = json!({
            "name": format!("{name}-nic"),
            "properties": {"primary": true, "deleteOption": "Delete", "ipConfigurations": [ip_config]},
        });
        if let Some(nsg) = &self.launch.network_security_group_id {
            nic["properties"]["networkSecurityGroup"] = json!({"id": nsg});
        }
        let admin = &self.launch.admin_username;
        let mut body = json!({
            "location": self.location,
            "tags": config.tags,
            "properties": {
                "hardwareProfile": {"vmSize": config.instance_type},
                "storageProfile": {"imageReference": image, "osDisk": os_disk},
                "osProfile": {
                    "computerName": name,
                    "adminUsername": admin,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": true,
                        "ssh": {"publicKeys": [{"path": format!("/home/{admin}/.ssh/authorized_keys"), "keyData": self.launch.ssh_public_key}]},
                    },
                },
                "networkProfile": {"networkApiVersion": "2020-11-01", "networkInterfaceConfigurations": [nic]},
            },
        });
        if let Some(user_data) = &config.user_data {
            body["properties"]["userData"] = base64::engine::general_purpose::STANDARD
                .encode(user_data.as_bytes())
                .into();
        }
        serde_json::from_value(body).map_err(|e| Error::Provider {
            provider: "azure",
            code: None,
            message: format!("cannot build the VM model: {e}"),
            source: None,
        })
    }

    async fn get_vm(&self, name: &str) -> Result<Option<VirtualMachine>> {
        let result = self
            .vms()
            .get(&self.group, name, &self.subscription)
            .expand("instanceView")
            .await;
        match result.map_err(|e| from_azure(e, name)) {
            Ok(vm) => Ok(Some(vm)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The private and public address of the VM's primary interface.
    async fn addresses(&self, vm: &VirtualMachine) -> Result<(Option<IpAddr>, Option<IpAddr>)> {
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
    async fn group_addresses(
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

/// The private address of an interface's primary IP configuration, and the
/// resource id of its public address, if any.
fn nic_addresses(nic: &network::models::NetworkInterface) -> (Option<IpAddr>, Option<String>) {
    let config = nic
        .properties
        .as_ref()
        .and_then(|p| p.ip_configurations.first())
        .and_then(|c| c.properties.as_ref());
    let private = config
        .and_then(|c| c.private_ip_address.as_deref())
        .and_then(|a| a.parse().ok());
    let public = config
        .and_then(|c| c.public_ip_address.as_ref())
        .and_then(|p| p.resource.id.clone());
    (private, public)
}

fn nic_id(vm: &VirtualMachine) -> Option<&str> {
    vm.properties
        .as_ref()?
        .network_profile
        .as_ref()?
        .network_interfaces
        .first()?
        .sub_resource
        .id
        .as_deref()
}

fn tags_of(vm: &VirtualMachine) -> Tags {
    vm.resource
        .tags
        .as_ref()
        .and_then(|t| t.as_object())
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn state_of(vm: &VirtualMachine) -> (CloudInstanceState, Option<String>) {
    let props = vm.properties.as_ref();
    let view = props.and_then(|p| p.instance_view.as_ref());
    let mut codes: Vec<(&str, Option<&str>)> = view
        .map(|v| {
            v.statuses
                .iter()
                .filter_map(|s| Some((s.code.as_deref()?, s.display_status.as_deref())))
                .collect()
        })
        .unwrap_or_default();
    // Without an instance view, the provisioning state still tells creating
    // and deleting apart.
    let provisioning = props
        .and_then(|p| p.provisioning_state.as_deref())
        .map(|p| format!("ProvisioningState/{p}"));
    if codes
        .iter()
        .all(|(c, _)| !c.to_ascii_lowercase().starts_with("provisioningstate/"))
    {
        if let Some(p) = provisioning.as_deref() {
            codes.push((p, None));
        }
    }
    states::from_statuses(codes)
}

fn name_of(vm: &VirtualMachine) -> String {
    vm.resource.name.clone().unwrap_or_default()
}

#[async_trait]
impl InstanceProvisioner for AzureProvisioner {
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        validate::check_config(config, &AZURE_RULES)?;
        // Derived from the key, so that a repeated PUT is the same VM.
        let name = naming::launch_name("p", config.idempotency_key.as_deref());
        let body = self.body(&name, config)?;
        // One PUT, answered once Azure accepts it; the crate's awaited form
        // would poll the PUT until provisioning ends.
        let response = self
            .vms()
            .create_or_update(&self.group, &name, body, &self.subscription)
            .send()
            .await
            .map_err(|e| from_azure(e, &name))?;
        let vm = response
            .into_body()
            .await
            .map_err(|e| from_azure(e, &name))?;
        let tags = tags_of(&vm);
        if config.idempotency_key.is_some() && tags != config.tags {
            return Err(Error::invalid_argument(
                provisioner_core::validate::field::IDEMPOTENCY_KEY,
                "already used for a launch with other tags",
            ));
        }
        let (state, _) = state_of(&vm);
        self.recent.record(&name);
        Ok(InstanceInfo {
            instance_id: name,
            private_ip: None,
            public_ip: None,
            state,
            launch_time: vm.properties.as_ref().and_then(|p| p.time_created),
            tags,
        })
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        check_vm_name(instance_id)?;
        self.recent
            .terminate(instance_id, || async {
                self.vms()
                    .delete(&self.group, instance_id, &self.subscription)
                    .send()
                    .await
                    .map_err(|e| from_azure(e, instance_id))
            })
            .await
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        check_vm_name(instance_id)?;
        self.recent
            .retry_while_unseen(instance_id, || async {
                self.vms()
                    .deallocate(&self.group, instance_id, &self.subscription)
                    .send()
                    .await
                    .map_err(|e| from_azure(e, instance_id))
            })
            .await?;
        Ok(())
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        check_vm_name(instance_id)?;
        self.recent
            .retry_while_unseen(instance_id, || async {
                self.vms()
                    .start(&self.group, instance_id, &self.subscription)
                    .send()
                    .await
                    .map_err(|e| from_azure(e, instance_id))
            })
            .await?;
        // Deallocation may have given the VM new addresses: read them now.
        let vm = self
            .get_vm(instance_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                instance_id: instance_id.to_owned(),
            })?;
        let (private_ip, public_ip) = self.addresses(&vm).await?;
        Ok(InstanceInfo {
            instance_id: instance_id.to_owned(),
            private_ip,
            public_ip,
            state: state_of(&vm).0,
            launch_time: vm.properties.as_ref().and_then(|p| p.time_created),
            tags: tags_of(&vm),
        })
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        check_vm_name(instance_id)?;
        match self.get_vm(instance_id).await? {
            Some(vm) => {
                let (state, reason) = state_of(&vm);
                let (private_ip, public_ip) = self.addresses(&vm).await?;
                Ok(InstanceStatus {
                    instance_id: instance_id.to_owned(),
                    state,
                    state_reason: reason,
                    private_ip,
                    public_ip,
                })
            }
            None if self.recent.contains(instance_id) => Ok(InstanceStatus {
                state: CloudInstanceState::Pending,
                state_reason: Some("launched; not yet visible".to_owned()),
                ..InstanceStatus::gone(instance_id)
            }),
            None => Ok(InstanceStatus::gone(instance_id)),
        }
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        validate::check_filter_tags(&filter.tags, &AZURE_RULES.tags)?;
        let mut vms = Vec::new();
        let mut pages = self
            .vms()
            .list(&self.group, &self.subscription)
            .expand("instanceView")
            .into_stream();
        while let Some(page) = pages.next().await {
            for vm in page.map_err(|e| from_azure(e, ""))?.value {
                let (state, _) = state_of(&vm);
                let tags = tags_of(&vm);
                if filter.matches(&tags, state) {
                    vms.push((vm, state, tags));
                }
            }
        }
        if vms.is_empty() {
            return Ok(Vec::new());
        }
        let (nics, pips) = self.group_addresses().await?;
        Ok(vms
            .into_iter()
            .map(|(vm, state, tags)| {
                let (private_ip, pip) = nic_id(&vm)
                    .and_then(|id| nics.get(&id.to_ascii_lowercase()))
                    .cloned()
                    .unwrap_or((None, None));
                let public_ip = pip.and_then(|id| pips.get(&id.to_ascii_lowercase()).copied());
                InstanceInfo {
                    instance_id: name_of(&vm),
                    private_ip,
                    public_ip,
                    state,
                    launch_time: vm.properties.as_ref().and_then(|p| p.time_created),
                    tags,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_names_are_valid_vm_names() {
        for key in [Some("blue-slot-0"), None] {
            assert!(check_vm_name(&naming::launch_name("p", key)).is_ok());
        }
    }
}
