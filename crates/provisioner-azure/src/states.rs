//! Azure's provisioningState and PowerState to the provider-neutral set: the
//! one table.

use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::{LaunchFailure, LaunchFailureKind};

/// The reason reported for `PowerState/stopped`: shut down from inside the
/// guest (or powered off), still allocated, still billed.
pub(crate) const STOPPED_ALLOCATED: &str =
    "PowerState/stopped: stopped but still allocated (billed); stop deallocates it";

/// What a failed provisioning code says about the launch: capacity and
/// quota codes end a create that Azure accepted (the VM stays, Failed, with
/// its NIC, disk and address); other failures (an extension, an update)
/// leave a VM that may well run.
pub(crate) fn launch_failure_of(code: &str) -> Option<LaunchFailureKind> {
    match code {
        "AllocationFailed"
        | "ZonalAllocationFailed"
        | "OverconstrainedAllocationRequest"
        | "OverconstrainedZonalAllocationRequest"
        | "SkuNotAvailable" => Some(LaunchFailureKind::InsufficientCapacity),
        "QuotaExceeded" | "OperationNotAllowed" => Some(LaunchFailureKind::QuotaExceeded),
        _ => None,
    }
}

/// The neutral state of a VM from its instance view statuses
/// (`ProvisioningState/…`, `PowerState/…` codes, each with its message or
/// display status), with the reason to report, and the launch failure when
/// the create failed for capacity or quota (the state is then `Terminated`:
/// the VM never ran and the provider deletes it).
///
/// Deleting wins over everything; a failed create is terminated; creating is
/// pending; then the power state decides (`stopped`, still allocated, is
/// told apart from `deallocated` by its reason). A VM whose power state is
/// not known yet is pending.
pub(crate) fn from_statuses<'a>(
    codes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> (CloudInstanceState, Option<String>, Option<LaunchFailure>) {
    let mut provisioning = None;
    let mut power = None;
    let mut failed = None;
    let mut launch_failure = None;
    for (code, display) in codes {
        let lower = code.to_ascii_lowercase();
        if let Some(p) = lower.strip_prefix("provisioningstate/") {
            if p.starts_with("failed") {
                failed = Some(display.unwrap_or(code).to_owned());
                // `ProvisioningState/failed/AllocationFailed`: the code keeps
                // its case after the second slash.
                let failure_code = code.splitn(3, '/').nth(2).unwrap_or_default();
                launch_failure = launch_failure_of(failure_code).map(|kind| {
                    LaunchFailure::new(kind, failure_code, display.unwrap_or("provisioning failed"))
                });
            }
            provisioning = Some(p.to_owned());
        } else if let Some(p) = lower.strip_prefix("powerstate/") {
            power = Some(p.to_owned());
        }
    }
    if provisioning.as_deref() == Some("deleting") {
        return (Terminating, None, None);
    }
    if let Some(failure) = launch_failure {
        let reason = format!("launch failed: {}: {}", failure.code, failure.message);
        return (Terminated, Some(reason), Some(failure));
    }
    let from_power = match power.as_deref() {
        Some("starting") => Pending,
        Some("running") => Running,
        Some("stopping" | "deallocating") => Stopping,
        Some("stopped" | "deallocated") => Stopped,
        Some(other) => {
            return (
                Pending,
                Some(format!("unknown Azure power state {other:?}")),
                None,
            )
        }
        None => Pending,
    };
    let state = if provisioning.as_deref() == Some("creating") {
        Pending
    } else {
        from_power
    };
    let reason = match (failed, power.as_deref()) {
        (Some(why), _) => Some(format!("provisioning failed: {why}")),
        (None, Some("stopped")) if state == Stopped => Some(STOPPED_ALLOCATED.to_owned()),
        (None, _) => None,
    };
    (state, reason, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(codes: &[&str]) -> CloudInstanceState {
        from_statuses(codes.iter().map(|c| (*c, None))).0
    }

    #[test]
    fn stopped_from_inside_is_stopped_but_said_to_be_billed() {
        let (s, why, _) = from_statuses([
            ("ProvisioningState/succeeded", None),
            ("PowerState/stopped", None),
        ]);
        assert_eq!(s, Stopped);
        assert!(why.unwrap().contains("still allocated"));
        let (s, why, _) = from_statuses([
            ("ProvisioningState/succeeded", None),
            ("PowerState/deallocated", None),
        ]);
        assert_eq!((s, why), (Stopped, None));
    }

    #[test]
    fn the_table() {
        let table: [(&[&str], CloudInstanceState); 10] = [
            (&["ProvisioningState/creating"], Pending),
            (
                &["ProvisioningState/creating", "PowerState/running"],
                Pending,
            ),
            (
                &["ProvisioningState/succeeded", "PowerState/starting"],
                Pending,
            ),
            (
                &["ProvisioningState/succeeded", "PowerState/running"],
                Running,
            ),
            (
                &["ProvisioningState/updating", "PowerState/stopping"],
                Stopping,
            ),
            (
                &["ProvisioningState/updating", "PowerState/deallocating"],
                Stopping,
            ),
            (
                &["ProvisioningState/succeeded", "PowerState/stopped"],
                Stopped,
            ),
            (
                &["ProvisioningState/succeeded", "PowerState/deallocated"],
                Stopped,
            ),
            (
                &["ProvisioningState/deleting", "PowerState/running"],
                Terminating,
            ),
            (&["ProvisioningState/deleting"], Terminating),
        ];
        for (codes, want) in table {
            assert_eq!(state(codes), want, "{codes:?}");
        }
    }

    #[test]
    fn failures_and_unknown_codes_are_reported() {
        let (s, why, failure) = from_statuses([
            (
                "ProvisioningState/failed/AllocationFailed",
                Some("Provisioning failed"),
            ),
            ("PowerState/stopped", None),
        ]);
        assert_eq!(s, Terminated);
        assert!(why.unwrap().contains("AllocationFailed"));
        assert_eq!(
            failure.unwrap().kind,
            provisioner_core::LaunchFailureKind::InsufficientCapacity
        );
        // An extension that failed leaves a VM that runs.
        let (s, why, failure) = from_statuses([
            (
                "ProvisioningState/failed/VMExtensionProvisioningError",
                Some("ext"),
            ),
            ("PowerState/running", None),
        ]);
        assert_eq!((s, failure), (Running, None));
        assert!(why.unwrap().contains("ext"));
        let (s, why, _) = from_statuses([("PowerState/hibernated", None)]);
        assert_eq!(s, Pending);
        assert!(why.unwrap().contains("hibernated"));
    }
}
