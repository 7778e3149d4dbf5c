//! The Azure Resource Manager face's tables: model states to
//! provisioningState and PowerState, and model errors to ARM's envelope.

use axum::http::StatusCode;
use provisioner_core::CloudInstanceState::{self, *};
use provisioner_fake::{CloudError, Fault};

/// How the last stop was asked for: Azure tells a powered-off VM (still
/// allocated) from a deallocated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    PowerOff,
    Deallocate,
}

/// (provisioningState, PowerState code suffix, displayStatus) of a state.
pub(crate) fn states(
    state: CloudInstanceState,
    mode: StopMode,
    first_boot: bool,
) -> (&'static str, &'static str, &'static str) {
    match (state, mode) {
        (Pending, _) if first_boot => ("Creating", "starting", "VM starting"),
        (Pending, _) => ("Updating", "starting", "VM starting"),
        (Running, _) => ("Succeeded", "running", "VM running"),
        (Stopping, StopMode::Deallocate) => ("Updating", "deallocating", "VM deallocating"),
        (Stopping, StopMode::PowerOff) => ("Updating", "stopping", "VM stopping"),
        (Stopped, StopMode::Deallocate) => ("Succeeded", "deallocated", "VM deallocated"),
        (Stopped, StopMode::PowerOff) => ("Succeeded", "stopped", "VM stopped"),
        (Terminating | Terminated, _) => ("Deleting", "stopped", "VM stopped"),
    }
}

/// An ARM error: status, code, message, Retry-After seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
}

impl ArmError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    pub(crate) fn not_found(kind: &str, name: &str, group: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{kind}/{name}' under resource group '{group}' was not found."),
        )
    }
}

/// The model's errors as ARM sends them.
pub(crate) fn error(e: &CloudError, name: &str, group: &str) -> ArmError {
    use StatusCode as S;
    match e {
        CloudError::NotFound { .. } => ArmError::not_found("Microsoft.Compute/virtualMachines", name, group),
        CloudError::InvalidState { state, .. } => ArmError::new(
            S::CONFLICT,
            "OperationNotAllowed",
            format!("Operation is not allowed since the VM {name} is {state}."),
        ),
        CloudError::QuotaExceeded { limit } => ArmError::new(
            S::CONFLICT,
            "QuotaExceeded",
            format!("Operation could not be completed as it results in exceeding approved cores quota ({limit} VMs)."),
        ),
        CloudError::Fault { fault, .. } => match *fault {
            Fault::Throttled { retry_after } => ArmError {
                retry_after: Some(retry_after.map_or(1, |d| d.as_secs().max(1))),
                ..ArmError::new(S::TOO_MANY_REQUESTS, "TooManyRequests", "The request is being throttled.")
            },
            Fault::Unavailable => ArmError::new(S::SERVICE_UNAVAILABLE, "ServiceUnavailable", "The service is unavailable."),
            Fault::InsufficientCapacity => ArmError::new(
                S::CONFLICT,
                "AllocationFailed",
                "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
            ),
            Fault::QuotaExceeded => ArmError::new(S::CONFLICT, "QuotaExceeded", "Approved cores quota exceeded."),
            Fault::Unauthenticated => ArmError::new(
                S::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            ),
            Fault::PermissionDenied => ArmError::new(
                S::FORBIDDEN,
                "AuthorizationFailed",
                "The client does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write'.",
            ),
            _ => ArmError::new(S::INTERNAL_SERVER_ERROR, "InternalServerError", "An internal error occurred."),
        },
        other => ArmError::invalid(other.to_string()),
    }
}
