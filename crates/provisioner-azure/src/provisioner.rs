//! Azure Resource Manager's calls for the contract: [`AzureProvisioner`]'s
//! [`Wire`], which core's one implementation of the contract over a `Wire`
//! makes an [`InstanceProvisioner`](provisioner_core::InstanceProvisioner).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use async_trait::async_trait;
use azure_mgmt_compute::package_2024_07_01::models::{VirtualMachine, VirtualMachineInstanceView};
use futures::StreamExt;
use provisioner_core::provider::consistency::{Expiring, RecentLaunches};
use provisioner_core::provider::naming;
use provisioner_core::provider::validate::{field, ConfigRules};
use provisioner_core::provider::Wire;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus,
    LaunchFailure, Result,
};

use crate::convert::{
    info_of, launch_fingerprint_of, name_of, nic_addresses, nic_id, owner_of, state_of, tags_of,
};
use crate::errors::from_azure;
use crate::failures::{state_given, Failed};
use crate::rules::{check_vm_name, AZURE_RULES};
use crate::spot::{self, Eviction};
use crate::{AzureProvisioner, PROVIDER};

impl AzureProvisioner {
    fn lock_failed(&self) -> std::sync::MutexGuard<'_, Expiring<LaunchFailure>> {
        self.failed_launches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The VM a keyed launch met (`412` on its create-only PUT): returned
    /// when it was launched with the same parameters and is not being
    /// deleted, else `InvalidArgument` naming the key. A VM of this launch
    /// that failed after acceptance (the first PUT's answer was lost, and
    /// the create then failed) is reaped and returned, as EC2 returns the
    /// instance of a client token whose launch failed: the caller learns its
    /// id, and describing it says why it failed.
    async fn existing_launch(&self, name: &str, config: &InstanceConfig) -> Result<InstanceInfo> {
        let vm = self.get_vm(name).await?.ok_or_else(|| Error::Unavailable {
            message: format!("{name} exists and cannot be read yet"),
            context: None,
        })?;
        if launch_fingerprint_of(&vm) != Some(naming::launch_fingerprint(config).as_str()) {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!("already used for a launch of {name} with other parameters"),
            ));
        }
        // The same launch by another owner (two fleets, one key) is theirs:
        // neither returned nor reaped.
        if !self.owner.owns(owner_of(&vm).as_deref()) {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!("already used for a launch of {name} by another owner"),
            ));
        }
        let failed = self.failed_provisioning(name, &vm).await?;
        let state = state_given(&vm, failed.as_ref());
        let (private_ip, public_ip) = if let Some(failure) = self.reapable(&vm, failed.as_ref()) {
            // Were it left to a later describe or list, a caller that gave
            // up here would never delete it: it bills until deleted.
            self.reap(name, failure).await?;
            (None, None)
        } else if state.is_terminal() {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!("it names {name}, which is being deleted: wait until it is gone, or use a new key"),
            ));
        } else {
            self.addresses(&vm).await?
        };
        Ok(info_of(
            name,
            &vm,
            state,
            tags_of(&vm),
            (private_ip, public_ip),
        ))
    }

    /// Deletes a VM whose create failed after acceptance, with the NIC, disk
    /// and address created with it, so that nothing of it stays billed. A
    /// delete Azure refused is the caller's to retry (or the next describe's
    /// or list's); a VM already gone is reaped.
    async fn reap(&self, name: &str, failure: &LaunchFailure) -> Result<()> {
        self.recent.forget(name);
        self.lock_failed().insert(name, failure.clone());
        match self
            .vms()
            .delete(&self.group, name, &self.subscription)
            .send()
            .await
            .map_err(|e| from_azure(e, name))
        {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
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
    async fn group_vms(
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
    async fn subscription_views(&self) -> Result<HashMap<String, VirtualMachineInstanceView>> {
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
    async fn instance_view(&self, name: &str) -> Result<Option<VirtualMachineInstanceView>> {
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

    /// What this provisioner's records say of a VM ARM does not know: the
    /// failed launch it reaped, gone by its own delete, evicted (a Spot VM
    /// whose policy is `Delete`), or gone after an eviction; `None` when
    /// they say nothing (a recent launch not yet visible, or gone).
    async fn missing(&self, name: &str) -> Result<Option<InstanceStatus>> {
        let reaped = self.lock_failed().get(name).cloned();
        if let Some(failure) = reaped {
            return Ok(Some(InstanceStatus::failed_launch(name, failure)));
        }
        if self.lock_deleted().contains(name) {
            return Ok(Some(InstanceStatus::gone(name)));
        }
        let eviction = self.eviction(name).await?;
        if eviction == Eviction::Evicted {
            return Ok(Some(
                InstanceStatus::gone(name)
                    .with_state_reason(eviction.reason().map(str::to_owned))
                    .with_reclaimed(true),
            ));
        }
        if self.recent.contains(name) {
            return Ok(None);
        }
        Ok(eviction.reason().map(|why| {
            InstanceStatus::gone(name)
                .with_state_reason(format!("instance no longer exists; {why}"))
        }))
    }

    fn lock_deleted(&self) -> std::sync::MutexGuard<'_, Expiring<()>> {
        self.deleted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a deallocated Spot VM was deallocated by an eviction.
    async fn reclaimed(&self, name: &str, vm: &VirtualMachine) -> Result<Eviction> {
        if !spot::is_spot(vm) || state_of(vm).0 != CloudInstanceState::Stopped {
            return Ok(Eviction::None);
        }
        self.eviction(name).await
    }

    /// What describe says of `vm`, which ARM answered for, given its
    /// `addresses` (read only when needed): a launch of this library's that
    /// failed after acceptance is reaped and reported so (even when the
    /// delete was refused: the next describe, list or terminate deletes it
    /// again); a VM whose start could not be placed is stopped, with the
    /// failure.
    async fn status_of_vm<F>(
        &self,
        name: &str,
        vm: &VirtualMachine,
        addresses: F,
    ) -> Result<InstanceStatus>
    where
        F: std::future::Future<Output = Result<(Option<IpAddr>, Option<IpAddr>)>>,
    {
        let failed = self.failed_provisioning(name, vm).await?;
        if let Some(failure) = self.reapable(vm, failed.as_ref()) {
            let _ = self.reap(name, failure).await;
            return Ok(InstanceStatus::failed_launch(name, failure.clone()));
        }
        let addresses = addresses.await?;
        let reclaimed = self.reclaimed(name, vm).await?;
        Ok(status_of_found(name, vm, addresses, reclaimed, failed))
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

/// The status of a VM ARM answered for, with its addresses, and its failed
/// provisioning, if any.
fn status_of_found(
    name: &str,
    vm: &VirtualMachine,
    (private_ip, public_ip): (Option<IpAddr>, Option<IpAddr>),
    eviction: Eviction,
    failed: Option<Failed>,
) -> InstanceStatus {
    let (state, reason, _) = state_of(vm);
    let status = InstanceStatus::new(name, state)
        .with_state_reason(reason.or_else(|| eviction.reason().map(str::to_owned)))
        .with_addresses(private_ip, public_ip)
        .with_reclaimed(eviction == Eviction::Evicted)
        .with_owner(owner_of(vm));
    crate::failures::reported(status, failed)
}

/// The private and public address of `vm`, from the group's interfaces and
/// addresses (keyed by lowercased resource id).
fn addresses_of(
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

/// True for the 412 of a create-only PUT that met an existing VM.
fn is_precondition_failed(e: &azure_core::Error) -> bool {
    matches!(
        e.kind(),
        azure_core::error::ErrorKind::HttpResponse { status, .. }
            if *status == azure_core::StatusCode::PreconditionFailed
    )
}

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
