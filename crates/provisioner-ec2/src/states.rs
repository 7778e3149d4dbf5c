//! EC2 instance states to the provider-neutral set: the one table.

use aws_sdk_ec2::types::InstanceStateName;
use provisioner_core::{CloudInstanceState, LaunchFailure, LaunchFailureKind};

/// The neutral state of an EC2 state, and the raw name when EC2 sent one
/// this crate does not know (mapped to `Pending`, the state that never makes
/// a fleet forget an instance, with the raw value kept as the reason).
pub(crate) fn from_ec2(name: &InstanceStateName) -> (CloudInstanceState, Option<String>) {
    use CloudInstanceState::*;
    let state = match name {
        InstanceStateName::Pending => Pending,
        InstanceStateName::Running => Running,
        InstanceStateName::Stopping => Stopping,
        InstanceStateName::Stopped => Stopped,
        InstanceStateName::ShuttingDown => Terminating,
        InstanceStateName::Terminated => Terminated,
        other => {
            return (
                Pending,
                Some(format!("unknown EC2 state {:?}", other.as_str())),
            )
        }
    };
    (state, None)
}

/// The EC2 `instance-state-name` filter values of a neutral state.
pub(crate) fn to_ec2(state: CloudInstanceState) -> &'static str {
    use CloudInstanceState::*;
    match state {
        Pending => "pending",
        Running => "running",
        Stopping => "stopping",
        Stopped => "stopped",
        Terminating => "shutting-down",
        Terminated => "terminated",
    }
}

/// The launch failure a terminated instance's state reason code names, if
/// it names one: EC2 reports a launch it accepted and then could not place
/// by terminating the instance with one of these codes.
pub(crate) fn launch_failure(code: &str, message: &str) -> Option<LaunchFailure> {
    let kind = match code {
        "Server.InsufficientInstanceCapacity" => LaunchFailureKind::InsufficientCapacity,
        "Client.VolumeLimitExceeded" => LaunchFailureKind::QuotaExceeded,
        "Server.InternalError" | "Client.InternalError" | "Client.InvalidSnapshot.NotFound" => {
            LaunchFailureKind::Other
        }
        _ => return None,
    };
    Some(LaunchFailure::new(kind, code, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CloudInstanceState::*;

    #[test]
    fn the_table() {
        let table = [
            ("pending", Pending),
            ("running", Running),
            ("stopping", Stopping),
            ("stopped", Stopped),
            ("shutting-down", Terminating),
            ("terminated", Terminated),
        ];
        for (ec2, neutral) in table {
            assert_eq!(
                from_ec2(&InstanceStateName::from(ec2)),
                (neutral, None),
                "{ec2}"
            );
            assert_eq!(to_ec2(neutral), ec2);
        }
    }

    #[test]
    fn state_reasons_of_failed_launches() {
        let table = [
            (
                "Server.InsufficientInstanceCapacity",
                Some(LaunchFailureKind::InsufficientCapacity),
            ),
            (
                "Client.VolumeLimitExceeded",
                Some(LaunchFailureKind::QuotaExceeded),
            ),
            ("Server.InternalError", Some(LaunchFailureKind::Other)),
            ("Client.UserInitiatedShutdown", None),
            ("Client.InstanceInitiatedShutdown", None),
        ];
        for (code, kind) in table {
            assert_eq!(launch_failure(code, "m").map(|f| f.kind), kind, "{code}");
        }
    }

    #[test]
    fn an_unknown_state_is_pending_with_the_raw_name() {
        let (state, reason) = from_ec2(&InstanceStateName::from("hibernating"));
        assert_eq!(state, Pending);
        assert!(reason.unwrap().contains("hibernating"));
    }
}
