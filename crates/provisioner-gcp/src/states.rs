//! Compute Engine `Instance.status` to the provider-neutral set: the one table.

use google_cloud_compute_v1::model::instance::Status;
use provisioner_core::CloudInstanceState::{self, *};

/// The neutral state of a status, and the raw value when Google sent one
/// this crate does not know (mapped to `Pending`, which never makes a fleet
/// forget or reuse an instance, with the raw value kept as the reason).
/// `TERMINATED` means stopped on Compute Engine; a deleted instance is gone.
pub(crate) fn from_gce(status: &Status) -> (CloudInstanceState, Option<String>) {
    let state = match status {
        Status::Provisioning | Status::Staging | Status::Pending | Status::Repairing => Pending,
        Status::Running => Running,
        Status::Stopping | Status::PendingStop | Status::Suspending | Status::Deprovisioning => {
            Stopping
        }
        Status::Terminated | Status::Stopped | Status::Suspended => Stopped,
        other => {
            return (
                Pending,
                Some(format!(
                    "unknown Compute Engine status {:?}",
                    other.name().unwrap_or("?")
                )),
            )
        }
    };
    (state, None)
}

/// The statuses that map to `state` (for server-side filters). Terminated
/// has none: a deleted instance is not listed at all. A deleting instance
/// shows `STOPPING`, so terminating asks for that.
pub(crate) fn to_gce(state: CloudInstanceState) -> &'static [&'static str] {
    match state {
        Pending => &["PROVISIONING", "STAGING", "PENDING", "REPAIRING"],
        Running => &["RUNNING"],
        Stopping => &["STOPPING", "PENDING_STOP", "SUSPENDING", "DEPROVISIONING"],
        Stopped => &["TERMINATED", "STOPPED", "SUSPENDED"],
        Terminating => &["STOPPING"],
        Terminated => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value the discovery document lists (shared/fixtures/gce/README.md).
    const TABLE: [(&str, CloudInstanceState); 12] = [
        ("DEPROVISIONING", Stopping),
        ("PENDING", Pending),
        ("PENDING_STOP", Stopping),
        ("PROVISIONING", Pending),
        ("REPAIRING", Pending),
        ("RUNNING", Running),
        ("STAGING", Pending),
        ("STOPPED", Stopped),
        ("STOPPING", Stopping),
        ("SUSPENDED", Stopped),
        ("SUSPENDING", Stopping),
        ("TERMINATED", Stopped),
    ];

    #[test]
    fn the_table_covers_every_documented_status() {
        for (name, state) in TABLE {
            assert_eq!(from_gce(&Status::from(name)), (state, None), "{name}");
            assert!(to_gce(state).contains(&name), "{name}");
        }
        for state in CloudInstanceState::ALL {
            for name in to_gce(state) {
                assert!(TABLE.iter().any(|(n, _)| n == name), "{name}");
            }
        }
    }

    #[test]
    fn an_unknown_status_is_pending_with_its_name() {
        let (state, reason) = from_gce(&Status::from("HIBERNATING"));
        assert_eq!(state, Pending);
        assert!(reason.unwrap().contains("HIBERNATING"));
    }
}
