//! Azure's provisioningState and PowerState to the provider-neutral set: the
//! one table.

use provisioner_core::CloudInstanceState::{self, *};

/// The neutral state of a VM from its instance view statuses
/// (`ProvisioningState/…`, `PowerState/…` codes), with the reason to report:
/// a failed provisioning says why, an unknown code is kept raw.
///
/// Deleting wins over everything; creating is pending; then the power state
/// decides. A VM whose power state is not known yet is pending.
pub(crate) fn from_statuses<'a>(
    codes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> (CloudInstanceState, Option<String>) {
    let mut provisioning = None;
    let mut power = None;
    let mut failed = None;
    for (code, display) in codes {
        let lower = code.to_ascii_lowercase();
        if let Some(p) = lower.strip_prefix("provisioningstate/") {
            if p.starts_with("failed") {
                failed = Some(display.unwrap_or(code).to_owned());
            }
            provisioning = Some(p.to_owned());
        } else if let Some(p) = lower.strip_prefix("powerstate/") {
            power = Some(p.to_owned());
        }
    }
    if provisioning.as_deref() == Some("deleting") {
        return (Terminating, None);
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
            )
        }
        None => Pending,
    };
    let state = if provisioning.as_deref() == Some("creating") {
        Pending
    } else {
        from_power
    };
    (
        state,
        failed.map(|why| format!("provisioning failed: {why}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(codes: &[&str]) -> CloudInstanceState {
        from_statuses(codes.iter().map(|c| (*c, None))).0
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
        let (s, why) = from_statuses([
            (
                "ProvisioningState/failed/AllocationFailed",
                Some("Provisioning failed"),
            ),
            ("PowerState/stopped", None),
        ]);
        assert_eq!(s, Stopped);
        assert!(why.unwrap().contains("Provisioning failed"));
        let (s, why) = from_statuses([("PowerState/hibernated", None)]);
        assert_eq!(s, Pending);
        assert!(why.unwrap().contains("hibernated"));
    }
}
