//! Reads of the resource group: one VM, every VM with its instance view,
//! one instance view.

use std::collections::HashMap;

use azure_mgmt_compute::package_2024_07_01::models::{VirtualMachine, VirtualMachineInstanceView};
use futures::StreamExt;
use provisioner_core::{Error, Result};

use crate::convert::name_of;
use crate::errors::from_azure;
use crate::AzureProvisioner;

impl AzureProvisioner {
    pub(crate) async fn get_vm(&self, name: &str) -> Result<Option<VirtualMachine>> {
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

    /// Every VM of the group, with its instance view: one paged call.
    /// The group's VMs; those `wants_view` picks carry their instance view
    /// (the power state, the failure of a create). ARM's VM list gives
    /// instance views only with a `$filter` (the spec's `$expand` on
    /// `VirtualMachines_List`: "can only be specified if a valid $filter
    /// option is specified", and the only filter is a scale set's), so they
    /// come from the subscription's status-only list (Learn, "States and
    /// billing status": `VirtualMachines_ListAll` with `statusOnly=true`),
    /// and one VM at a time (`VirtualMachines_InstanceView`) for a VM that
    /// list does not cover (created since) or when it is refused (a
    /// principal with rights on the group only).
    pub(crate) async fn group_vms(
        &self,
        wants_view: impl Fn(&VirtualMachine) -> bool,
    ) -> Result<Vec<VirtualMachine>> {
        let mut vms = Vec::new();
        let mut pages = self
            .vms()
            .list(&self.group, &self.subscription)
            .into_stream();
        while let Some(page) = pages.next().await {
            vms.extend(page.map_err(|e| from_azure(e, ""))?.value);
        }
        let wanted: Vec<usize> = (0..vms.len()).filter(|&i| wants_view(&vms[i])).collect();
        if wanted.is_empty() {
            return Ok(vms);
        }
        let mut views = match self.subscription_views().await {
            Ok(views) => views,
            Err(e) if e.is_retryable() => return Err(e),
            Err(_) => HashMap::new(),
        };
        for i in wanted {
            let id = vms[i].resource.id.as_deref().unwrap_or_default();
            let view = match views.remove(&id.to_ascii_lowercase()) {
                Some(view) => Some(view),
                None => self.instance_view(&name_of(&vms[i])).await?,
            };
            if let (Some(view), Some(properties)) = (view, vms[i].properties.as_mut()) {
                properties.instance_view = Some(view);
            }
        }
        Ok(vms)
    }

    /// The instance view of every VM of the subscription, by lowercased id:
    /// the status-only list, one paged call.
    pub(crate) async fn subscription_views(
        &self,
    ) -> Result<HashMap<String, VirtualMachineInstanceView>> {
        let mut views = HashMap::new();
        let mut pages = self
            .vms()
            .list_all(&self.subscription)
            .status_only("true")
            .into_stream();
        while let Some(page) = pages.next().await {
            for vm in page.map_err(|e| from_azure(e, ""))?.value {
                let view = vm.properties.and_then(|p| p.instance_view);
                if let (Some(id), Some(view)) = (vm.resource.id, view) {
                    views.insert(id.to_ascii_lowercase(), view);
                }
            }
        }
        Ok(views)
    }

    /// One VM's instance view; `None` for a VM gone since it was listed.
    pub(crate) async fn instance_view(
        &self,
        name: &str,
    ) -> Result<Option<VirtualMachineInstanceView>> {
        let view = self
            .vms()
            .instance_view(&self.group, name, &self.subscription)
            .await;
        match view.map_err(|e| from_azure(e, name)) {
            Ok(view) => Ok(Some(view)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
