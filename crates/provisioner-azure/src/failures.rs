//! A VM whose provisioning failed for capacity or quota
//! (`ProvisioningState/failed/AllocationFailed` and the other codes of
//! `states::launch_failure_of`): a create Azure could not place, or a start
//! of a deallocated VM it could not place. The one place that tells them
//! apart.
//!
//! The instance view cannot: the provisioning state is the most recent one
//! (Learn, "States and billing status"), and allocation fails alike when a
//! VM is created, restarted or resized (Learn, "Troubleshoot allocation
//! failures when you create, restart, or resize VMs in Azure"). The first is
//! a failed launch, which the provider deletes with what was created with
//! it; the second is a stopped VM whose disk may hold a fleet's data, which
//! nothing but the caller may delete. So a VM counts as a failed create only
//! without evidence that it was ever created whole, which is, in order:
//!
//! 1. this provisioner started it (within the last hour): a failed start;
//! 2. the VM's activity log, when it can be read: any power action on it
//!    (start, deallocate, power off, restart, eviction), whatever its
//!    outcome, means the create had succeeded: a failed start; none, a
//!    failed create;
//! 3. without the log: this provisioner launched it within its recent
//!    window (and, by 1, did not start it): a failed create; anything else
//!    is unknown, reported stopped with the failure and never deleted.

use azure_mgmt_compute::package_2024_07_01::models::VirtualMachine;
use provisioner_core::provider::consistency::Expiring;
use provisioner_core::{CloudInstanceState, Error, InstanceStatus, LaunchFailure, Result};
use time::OffsetDateTime;

use crate::activity::Event;
use crate::convert::{launch_fingerprint_of, owner_of, state_of};
use crate::errors::from_azure;
use crate::AzureProvisioner;

/// What a failed provisioning of a VM was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failed {
    /// Its create: it never ran (terminated; reaped when it is ours).
    Create(LaunchFailure),
    /// A start of the deallocated VM: it stays stopped, with its disk.
    Start(LaunchFailure),
    /// Either: reported stopped with the failure, and never deleted.
    Unknown(LaunchFailure),
}

/// The power actions only a VM that was created whole can have had.
const POWER_ACTIONS: [&str; 5] = [
    "/start/action",
    "/deallocate/action",
    "/poweroff/action",
    "/restart/action",
    "/evictspotvm/action",
];

/// True when `events` hold a power action on the VM created at `created`,
/// whatever its outcome. An earlier VM of the same name (a key used again
/// after a terminate) left its events under the same resource id: those
/// before `created` are not this VM's. An event without a readable time
/// counts, so that doubt keeps a VM rather than deletes it.
pub(crate) fn acted_on(events: &[Event], created: Option<OffsetDateTime>) -> bool {
    events.iter().any(|e| {
        let operation = e.operation.to_ascii_lowercase();
        let this_vm = match (e.at, created) {
            (Some(at), Some(created)) => at >= created,
            _ => true,
        };
        this_vm
            && operation.starts_with("microsoft.compute/virtualmachines/")
            && POWER_ACTIONS.iter().any(|a| operation.ends_with(a))
    })
}

impl AzureProvisioner {
    /// What `vm`'s failed provisioning was, when it failed for capacity or
    /// quota; `None` otherwise.
    pub(crate) async fn failed_provisioning(
        &self,
        name: &str,
        vm: &VirtualMachine,
    ) -> Result<Option<Failed>> {
        let Some(failure) = state_of(vm).2 else {
            return Ok(None);
        };
        if self.lock_starts().contains(name) {
            return Ok(Some(Failed::Start(failure)));
        }
        let created = vm.properties.as_ref().and_then(|p| p.time_created);
        Ok(Some(match self.vm_events(name).await? {
            Some(events) if acted_on(&events, created) => Failed::Start(failure),
            Some(_) => Failed::Create(failure),
            None if self.recent.contains(name) => Failed::Create(failure),
            None => Failed::Unknown(failure),
        }))
    }

    /// The failure of `vm`'s create when it is a create of this
    /// provisioner's owner (it carries this owner's marker, and
    /// [`LAUNCH_TAG`](crate::LAUNCH_TAG), which only a launch writes) that
    /// failed after acceptance (`failed`, from
    /// [`failed_provisioning`](Self::failed_provisioning): never a failed
    /// start): the only VMs a describe or list deletes on its own
    /// initiative. A VM someone else created, or another owner's, is
    /// reported, never deleted.
    pub(crate) fn reapable<'a>(
        &self,
        vm: &VirtualMachine,
        failed: Option<&'a Failed>,
    ) -> Option<&'a LaunchFailure> {
        let Some(Failed::Create(failure)) = failed else {
            return None;
        };
        if !self.owner.owns(owner_of(vm).as_deref()) {
            return None;
        }
        launch_fingerprint_of(vm)?;
        Some(failure)
    }

    /// The VMs this provisioner started within the last hour.
    pub(crate) fn lock_starts(
        &self,
    ) -> std::sync::MutexGuard<'_, provisioner_core::provider::consistency::Expiring<()>> {
        self.starts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state of `vm`, whose failed provisioning, if any, was `failed`: a
/// start that could not be placed (or a failure not known to be the
/// create's) leaves it stopped.
pub(crate) fn state_given(vm: &VirtualMachine, failed: Option<&Failed>) -> CloudInstanceState {
    match failed {
        Some(Failed::Start(_) | Failed::Unknown(_)) => CloudInstanceState::Stopped,
        _ => state_of(vm).0,
    }
}

/// `status` (of a VM whose failed provisioning, if any, was `failed`) as
/// describe reports it: a failed start stopped with the failure; a failure
/// not known to be the create's the same, saying so.
pub(crate) fn reported(status: InstanceStatus, failed: Option<Failed>) -> InstanceStatus {
    match failed {
        Some(Failed::Start(failure)) => status.with_failed_start(failure),
        Some(Failed::Unknown(failure)) => {
            let reason = format!(
                "provisioning failed: {}: {} (its create's or a later start's: without the activity log this provisioner cannot tell, and deletes nothing)",
                failure.code, failure.message
            );
            status.with_failed_start(failure).with_state_reason(reason)
        }
        Some(Failed::Create(_)) | None => status,
    }
}

impl AzureProvisioner {
    pub(crate) fn lock_failed(&self) -> std::sync::MutexGuard<'_, Expiring<LaunchFailure>> {
        self.failed_launches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes a VM whose create failed after acceptance, with the NIC, disk
    /// and address created with it, so that nothing of it stays billed. A
    /// delete Azure refused is the caller's to retry (or the next describe's
    /// or list's); a VM already gone is reaped.
    pub(crate) async fn reap(&self, name: &str, failure: &LaunchFailure) -> Result<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(operation: &str, status: &str) -> Event {
        Event {
            operation: operation.to_owned(),
            status: status.to_owned(),
            at: None,
        }
    }

    #[test]
    fn any_power_action_proves_the_create_had_succeeded() {
        assert!(!acted_on(&[], None));
        assert!(!acted_on(
            &[event("Microsoft.Compute/virtualMachines/write", "Failed")],
            None
        ));
        for action in ["start", "deallocate", "powerOff", "restart", "evictSpotVM"] {
            let op = format!("Microsoft.Compute/virtualMachines/{action}/action");
            assert!(acted_on(&[event(&op, "Failed")], None), "{op}");
            assert!(acted_on(&[event(&op, "Succeeded")], None), "{op}");
        }
        assert!(!acted_on(
            &[event(
                "Microsoft.Network/networkInterfaces/start/action",
                "Succeeded"
            )],
            None
        ));
    }

    #[test]
    fn an_earlier_vm_of_the_same_name_proves_nothing() {
        let at = |minute: i64| Some(OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute));
        let start = |minute| Event {
            at: at(minute),
            ..event(
                "Microsoft.Compute/virtualMachines/start/action",
                "Succeeded",
            )
        };
        assert!(!acted_on(&[start(5)], at(10)), "before this VM was created");
        assert!(acted_on(&[start(5), start(12)], at(10)));
        assert!(
            acted_on(
                &[event(
                    "Microsoft.Compute/virtualMachines/start/action",
                    "Failed"
                )],
                at(10)
            ),
            "no time: kept"
        );
    }
}
