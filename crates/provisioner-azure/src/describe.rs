//! What describe says of a VM: as ARM gives it (failed provisioning, an
//! eviction), or what this provisioner's records say of one ARM does not
//! know.

use std::net::IpAddr;

use azure_mgmt_compute::package_2024_07_01::models::VirtualMachine;
use provisioner_core::provider::consistency::Expiring;
use provisioner_core::{CloudInstanceState, InstanceStatus, Result};

use crate::convert::{owner_of, state_of};
use crate::failures::Failed;
use crate::spot::{self, Eviction};
use crate::AzureProvisioner;

impl AzureProvisioner {
    /// What this provisioner's records say of a VM ARM does not know: the
    /// failed launch it reaped, gone by its own delete, evicted (a Spot VM
    /// whose policy is `Delete`), or gone after an eviction; `None` when
    /// they say nothing (a recent launch not yet visible, or gone).
    pub(crate) async fn missing(&self, name: &str) -> Result<Option<InstanceStatus>> {
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

    pub(crate) fn lock_deleted(&self) -> std::sync::MutexGuard<'_, Expiring<()>> {
        self.deleted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a deallocated Spot VM was deallocated by an eviction.
    pub(crate) async fn reclaimed(&self, name: &str, vm: &VirtualMachine) -> Result<Eviction> {
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
    pub(crate) async fn status_of_vm<F>(
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
}

/// The status of a VM ARM answered for, with its addresses, and its failed
/// provisioning, if any.
pub(crate) fn status_of_found(
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
