//! The EC2 face's two tables: model states to EC2 state names and codes, and
//! model errors to EC2 error codes and HTTP statuses.

use axum::http::StatusCode;
use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::LaunchFailureKind;
use provisioner_fake::{CloudError, Fault, InstanceRecord};

/// EC2's name and code of a state.
pub(crate) fn state(state: CloudInstanceState) -> (&'static str, u16) {
    match state {
        Pending => ("pending", 0),
        Running => ("running", 16),
        Terminating => ("shutting-down", 32),
        Terminated => ("terminated", 48),
        Stopping => ("stopping", 64),
        Stopped => ("stopped", 80),
    }
}

/// EC2's state reason (code, message) for an instance, if it has one. A
/// launch that failed after acceptance carries the codes EC2 documents for
/// it: `Server.InsufficientInstanceCapacity`, and for storage quotas
/// `Client.VolumeLimitExceeded`.
pub(crate) fn state_reason(r: &InstanceRecord) -> Option<(&'static str, &'static str)> {
    if let Some(kind) = r.failure {
        return Some(match kind {
            LaunchFailureKind::InsufficientCapacity => (
                "Server.InsufficientInstanceCapacity",
                "Server.InsufficientInstanceCapacity: Insufficient capacity to satisfy instance request",
            ),
            LaunchFailureKind::QuotaExceeded => (
                "Client.VolumeLimitExceeded",
                "Client.VolumeLimitExceeded: Volume limit exceeded",
            ),
            _ => ("Server.InternalError", "Server.InternalError: Internal error"),
        });
    }
    Some(match r.state_reason? {
        "user initiated stop" | "user initiated terminate" => (
            "Client.UserInitiatedShutdown",
            "Client.UserInitiatedShutdown: User initiated shutdown",
        ),
        // EC2's StateReason reference: a reclaimed spot instance.
        "reclaimed" if matches!(r.state, CloudInstanceState::Stopping | CloudInstanceState::Stopped) => (
            "Server.SpotInstanceShutdown",
            "Server.SpotInstanceShutdown: The instance was stopped because the number of Spot requests with a maximum price equal to or higher than the Spot price exceeded available capacity or because of an increase in the Spot price.",
        ),
        "reclaimed" => (
            "Server.SpotInstanceTermination",
            "Server.SpotInstanceTermination: The instance was terminated because the number of Spot requests with a maximum price equal to or higher than the Spot price exceeded available capacity or because of an increase in the Spot price.",
        ),
        _ => (
            "Server.InternalError",
            "Server.InternalError: Internal error",
        ),
    })
}

/// An EC2 error: status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl WireError {
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

/// The model's errors as EC2 sends them.
pub(crate) fn error(e: &CloudError) -> WireError {
    let (status, code) = match e {
        CloudError::NotFound { .. } => (StatusCode::BAD_REQUEST, "InvalidInstanceID.NotFound"),
        CloudError::InvalidState { .. } => (StatusCode::BAD_REQUEST, "IncorrectInstanceState"),
        CloudError::AlreadyExists { .. } => (StatusCode::BAD_REQUEST, "InvalidParameterValue"),
        CloudError::IdempotencyMismatch => (StatusCode::BAD_REQUEST, "IdempotentParameterMismatch"),
        CloudError::IdempotentInstanceTerminated => {
            (StatusCode::BAD_REQUEST, "IdempotentInstanceTerminated")
        }
        CloudError::QuotaExceeded { .. } => (StatusCode::BAD_REQUEST, "InstanceLimitExceeded"),
        CloudError::Fault { fault, .. } => fault_error(*fault),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    };
    let message = match e {
        CloudError::NotFound { id } => format!("The instance ID '{id}' does not exist"),
        CloudError::IdempotentInstanceTerminated => "The client token you have provided is associated with a resource that is already deleted. Please use a different client token.".to_owned(),
        other => other.to_string(),
    };
    WireError {
        status,
        code,
        message,
    }
}

/// `InvalidInstanceID.NotFound` for every unknown id of a request that
/// names several: EC2 refuses the whole request and lists them all ("The
/// instance IDs 'i-1, i-2' do not exist", as moto issue 4903 quotes from
/// EC2), changing nothing.
pub(crate) fn not_found(ids: &[&str]) -> WireError {
    let message = match ids {
        [one] => format!("The instance ID '{one}' does not exist"),
        many => format!("The instance IDs '{}' do not exist", many.join(", ")),
    };
    WireError::bad_request("InvalidInstanceID.NotFound", message)
}

fn fault_error(fault: Fault) -> (StatusCode, &'static str) {
    match fault {
        Fault::Throttled { .. } => (StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded"),
        Fault::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        Fault::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        // EC2 lists capacity shortages among its server errors.
        Fault::InsufficientCapacity => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InsufficientInstanceCapacity",
        ),
        Fault::QuotaExceeded => (StatusCode::BAD_REQUEST, "VcpuLimitExceeded"),
        // "Your Spot request price of … is lower than the minimum required
        // Spot request fulfillment price of …": a client error.
        Fault::PriceTooLow => (StatusCode::BAD_REQUEST, "SpotMaxPriceTooLow"),
        Fault::Unauthenticated => (StatusCode::UNAUTHORIZED, "AuthFailure"),
        Fault::PermissionDenied => (StatusCode::FORBIDDEN, "UnauthorizedOperation"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_distinct_name_and_code() {
        let names: std::collections::HashSet<_> =
            CloudInstanceState::ALL.iter().map(|s| state(*s)).collect();
        assert_eq!(names.len(), CloudInstanceState::ALL.len());
    }

    #[test]
    fn throttling_is_503_request_limit_exceeded() {
        let e = error(&CloudError::Fault {
            fault: Fault::Throttled { retry_after: None },
            op: provisioner_fake::Operation::Launch,
        });
        assert_eq!(
            (e.status, e.code),
            (StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded")
        );
        let e = error(&CloudError::NotFound { id: "i-1".into() });
        assert_eq!(e.message, "The instance ID 'i-1' does not exist");
    }
}
