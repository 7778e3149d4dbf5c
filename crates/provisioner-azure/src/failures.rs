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
use provisioner_core::{LaunchFailure, Result};

use crate::activity::Event;
use crate::convert::state_of;
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

/// True when `events` hold a power action on the VM, whatever its outcome.
pub(crate) fn acted_on(events: &[Event]) -> bool {
    events.iter().any(|e| {
        let operation = e.operation.to_ascii_lowercase();
        operation.starts_with("microsoft.compute/virtualmachines/")
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
        Ok(Some(match self.vm_events(name).await? {
            Some(events) if acted_on(&events) => Failed::Start(failure),
            Some(_) => Failed::Create(failure),
            None if self.recent.contains(name) => Failed::Create(failure),
            None => Failed::Unknown(failure),
        }))
    }

    pub(crate) fn lock_starts(
        &self,
    ) -> std::sync::MutexGuard<'_, provisioner_core::consistency::Expiring<()>> {
        self.starts.lock().unwrap_or_else(|p| p.into_inner())
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
        assert!(!acted_on(&[]));
        assert!(!acted_on(&[event(
            "Microsoft.Compute/virtualMachines/write",
            "Failed"
        )]));
        for action in ["start", "deallocate", "powerOff", "restart", "evictSpotVM"] {
            let op = format!("Microsoft.Compute/virtualMachines/{action}/action");
            assert!(acted_on(&[event(&op, "Failed")]), "{op}");
            assert!(acted_on(&[event(&op, "Succeeded")]), "{op}");
        }
        assert!(!acted_on(&[event(
            "Microsoft.Network/networkInterfaces/start/action",
            "Succeeded"
        )]));
    }
}
