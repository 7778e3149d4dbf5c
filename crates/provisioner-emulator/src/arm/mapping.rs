//! The Azure Resource Manager face's tables: model states to
//! provisioningState and PowerState, and model errors to ARM's envelope.

use axum::http::StatusCode;
use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::LaunchFailureKind;
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

/// An ARM error: status, code, message, `details[]` (code, target,
/// message), Retry-After seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArmError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: Vec<(&'static str, String, String)>,
    pub(crate) retry_after: Option<u64>,
}

impl ArmError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// Compute's vCPU quota refusal: 409 `OperationNotAllowed`, the quota in
    /// the message (no code of its own).
    pub(crate) fn quota(limit: usize) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "OperationNotAllowed",
            format!(
                "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Current Limit: {limit}, Current Usage: {limit}, Additional Required: 2, (Minimum) New Limit Required: {}. Submit a request for Quota increase by specifying parameters listed in the 'Details' section for deployment to succeed.",
                limit + 2
            ),
        )
    }

    /// Compute's throttling: 429 `OperationNotAllowed` with the throttled
    /// operation group in `details[]` (`TooManyRequests`) and Retry-After.
    pub(crate) fn throttled(retry_after_secs: u64) -> Self {
        Self {
            details: vec![(
                "TooManyRequests",
                "PutVM3Min".to_owned(),
                r#"{"operationGroup":"PutVM3Min","startTime":"2026-01-01T00:00:00+00:00","endTime":"2026-01-01T00:03:00+00:00","allowedRequestCount":20,"measuredRequestCount":21}"#.to_owned(),
            )],
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "OperationNotAllowed",
                "The server rejected the request because too many requests have been received for this subscription.",
            )
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

/// The code and message of a VM create that failed after acceptance, as
/// Compute reports it in the operation and the instance view.
pub(crate) fn launch_failure(kind: LaunchFailureKind) -> (&'static str, &'static str) {
    match kind {
        LaunchFailureKind::InsufficientCapacity => (
            "AllocationFailed",
            "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance",
        ),
        LaunchFailureKind::QuotaExceeded => (
            "OperationNotAllowed",
            "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
        ),
        _ => ("InternalExecutionError", "An internal execution error occurred."),
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
        CloudError::QuotaExceeded { limit } => ArmError::quota(*limit),
        CloudError::Fault { fault, .. } => match *fault {
            Fault::Throttled { retry_after } => {
                ArmError::throttled(retry_after.map_or(1, |d| d.as_secs().max(1)))
            }
            Fault::Unavailable => ArmError::new(S::SERVICE_UNAVAILABLE, "ServiceUnavailable", "The service is unavailable."),
            Fault::InsufficientCapacity => ArmError::new(
                S::CONFLICT,
                "AllocationFailed",
                "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
            ),
            Fault::QuotaExceeded => ArmError::quota(10),
            // Learn, "Error messages for Azure Spot Virtual Machines and
            // scale sets" (the status is not documented; 409 as Compute's
            // other refusals of a valid request).
            Fault::PriceTooLow => ArmError::new(
                S::CONFLICT,
                "SpotPriceGreaterThanProvidedMaxPrice",
                "Unable to perform operation 'Create VM' since the provided max price '0.01 USD' is lower than the current spot price '0.0374 USD' for Azure Spot VM size 'Standard_B2s'.",
            ),
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
