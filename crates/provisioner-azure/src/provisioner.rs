//! Azure Resource Manager's calls for the contract: [`AzureProvisioner`]'s
//! [`Wire`], which core's one implementation of the contract over a `Wire`
//! makes an [`InstanceProvisioner`](provisioner_core::InstanceProvisioner).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use azure_mgmt_compute::package_2024_07_01::models::VirtualMachine;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::naming;
use provisioner_core::provider::validate::ConfigRules;
use provisioner_core::provider::Wire;
use provisioner_core::{
    Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus, Result,
};

use crate::addresses::addresses_of;
use crate::convert::{info_of, name_of, state_of, tags_of};
use crate::create::is_precondition_failed;
use crate::errors::from_azure;
use crate::failures::state_given;
use crate::rules::{check_vm_name, AZURE_RULES};
use crate::spot::Eviction;
use crate::{AzureProvisioner, PROVIDER};

impl AzureProvisioner {}

/// Azure Resource Manager's calls; [`Wire`] gives [`AzureProvisioner`] the
/// contract.
#[async_trait]
impl Wire for AzureProvisioner {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn rules(&self) -> &ConfigRules {
        &AZURE_RULES
    }

    fn recent(&self) -> &RecentLaunches {
        &self.recent
    }

    fn check_id(&self, id: &str) -> Result<()> {
        check_vm_name(id)
    }

    async fn launch(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        // Derived from the key, so that a repeated PUT is the same VM.
        let name = naming::launch_name("p", config.idempotency_key.as_deref());
        let body = self.body(&name, config)?;
        // One PUT, answered once Azure accepts it; the crate's awaited form
        // would poll the PUT until provisioning ends. `If-None-Match: *`
        // makes it a create only: a PUT of an existing VM would update it
        // (tags, user data; a new size resizes and reboots it).
        let created = self
            .vms()
            .create_or_update(&self.group, &name, body, &self.subscription)
            .if_none_match("*")
            .send()
            .await;
        let response = match created {
            Ok(response) => response,
            Err(e) if is_precondition_failed(&e) => {
                // The VM this key names exists: a retry, or a reuse.
                return self.existing_launch(&name, config).await;
            }
            Err(e) => return Err(from_azure(e, &name)),
        };
        let vm = response
            .into_body()
            .await
            .map_err(|e| from_azure(e, &name))?;
        let tags = tags_of(&vm);
        let (state, _, _) = state_of(&vm);
        // A new VM under a name whose last create failed, or that this
        // provisioner deleted.
        self.lock_failed().remove(&name);
        self.lock_deleted().remove(&name);
        self.lock_starts().remove(&name);
        Ok(info_of(name, &vm, state, tags, (None, None)))
    }

    /// A VM deleted or not found is remembered as gone by this
    /// provisioner's delete.
    async fn terminate(&self, name: &str) -> Result<()> {
        let deleted = self
            .vms()
            .delete(&self.group, name, &self.subscription)
            .send()
            .await
            .map_err(|e| from_azure(e, name));
        if matches!(deleted, Ok(_) | Err(Error::NotFound { .. })) {
            self.lock_deleted().insert(name, ());
            // A VM created under this name later has not been started.
            self.lock_starts().remove(name);
        }
        deleted.map(drop)
    }

    async fn stop(&self, name: &str) -> Result<()> {
        self.vms()
            .deallocate(&self.group, name, &self.subscription)
            .send()
            .await
            .map_err(|e| from_azure(e, name))?;
        Ok(())
    }

    /// The start's answer carries no addresses: they are read after (on
    /// Azure, the interface's and the public address's, which a
    /// deallocation keeps).
    async fn start(&self, name: &str) -> Result<Option<InstanceInfo>> {
        self.vms()
            .start(&self.group, name, &self.subscription)
            .send()
            .await
            .map_err(|e| from_azure(e, name))?;
        // Whatever its provisioning state says from now on, this VM was
        // created whole: a capacity failure is this start's.
        self.lock_starts().insert(name, ());
        Ok(None)
    }

    async fn status(&self, name: &str) -> Result<Option<InstanceStatus>> {
        match self.get_vm(name).await? {
            Some(vm) => Ok(Some(
                self.status_of_vm(name, &vm, self.addresses(&vm)).await?,
            )),
            None => self.missing(name).await,
        }
    }

    async fn info(&self, name: &str) -> Result<Option<InstanceInfo>> {
        let Some(vm) = self.get_vm(name).await? else {
            return Ok(None);
        };
        let addresses = self.addresses(&vm).await?;
        Ok(Some(info_of(
            name,
            &vm,
            state_given(&vm, None),
            tags_of(&vm),
            addresses,
        )))
    }

    async fn list(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        let mut vms = Vec::new();
        let mut failed = Vec::new();
        let admitted = |vm: &VirtualMachine| filter.admits_tags(&tags_of(vm));
        for vm in self.group_vms(admitted).await? {
            let tags = tags_of(&vm);
            // Only within the filter: a list never touches the rest.
            if !filter.admits_tags(&tags) {
                continue;
            }
            let name = name_of(&vm);
            let failure = self.failed_provisioning(&name, &vm).await?;
            if let Some(failure) = self.reapable(&vm, failure.as_ref()) {
                failed.push((name, failure.clone()));
            }
            let state = state_given(&vm, failure.as_ref());
            if filter.admits_state(state) {
                vms.push((vm, state, tags));
            }
        }
        // VMs whose create failed still cost their disk, NIC and address.
        // A delete refused for a passing reason (throttling, an outage)
        // fails the list, so that the caller's retry deletes it again: a
        // sweep lists the failed launches nobody else knows of, and its
        // retry is their last chance. Other refusals (a credential that
        // may only read) leave the list as it is.
        let mut passing = None;
        for (name, failure) in failed {
            if let Err(e) = self.reap(&name, &failure).await {
                if e.is_retryable() {
                    passing.get_or_insert(e);
                }
            }
        }
        if let Some(e) = passing {
            return Err(e);
        }
        if vms.is_empty() {
            return Ok(Vec::new());
        }
        let (nics, pips) = self.group_addresses().await?;
        let mut listed = Vec::with_capacity(vms.len());
        for (vm, state, tags) in vms {
            let addresses = addresses_of(&vm, &nics, &pips);
            let reclaimed = self.reclaimed(&name_of(&vm), &vm).await? == Eviction::Evicted;
            listed
                .push(info_of(name_of(&vm), &vm, state, tags, addresses).with_reclaimed(reclaimed));
        }
        Ok(listed)
    }

    /// One listing of the group's VMs, of the subscription's instance
    /// views, of the group's NICs and public addresses, whatever the number
    /// of ids: four paged calls.
    const BATCHES: bool = true;

    async fn statuses(&self, names: &[&str]) -> Result<HashMap<String, InstanceStatus>> {
        let mut found: HashMap<String, VirtualMachine> = HashMap::with_capacity(names.len());
        if !names.is_empty() {
            let wanted: HashSet<String> = names.iter().map(|id| id.to_ascii_lowercase()).collect();
            let asked_for =
                |vm: &VirtualMachine| wanted.contains(&name_of(vm).to_ascii_lowercase());
            for vm in self.group_vms(asked_for).await? {
                let name = name_of(&vm).to_ascii_lowercase();
                if wanted.contains(&name) {
                    found.insert(name, vm);
                }
            }
        }
        let (nics, pips) = if found.is_empty() {
            Default::default()
        } else {
            self.group_addresses().await?
        };
        let mut statuses = HashMap::with_capacity(names.len());
        for name in names {
            let status = match found.get(&name.to_ascii_lowercase()) {
                None => self.missing(name).await?,
                Some(vm) => {
                    let addresses = addresses_of(vm, &nics, &pips);
                    Some(self.status_of_vm(name, vm, async { Ok(addresses) }).await?)
                }
            };
            if let Some(status) = status {
                statuses.insert((*name).to_owned(), status);
            }
        }
        Ok(statuses)
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
