//! The Compute Engine face's tables: model states to `Instance.status`, and
//! model errors and faults to Compute Engine's error envelope.

use axum::http::StatusCode;
use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::LaunchFailureKind;
use provisioner_fake::{CloudError, Fault};

/// `Instance.status` for a model state. A deleting instance shows
/// `STOPPING`, as Compute Engine shows it; a stopped one `TERMINATED`.
pub(crate) fn status(state: CloudInstanceState) -> &'static str {
    match state {
        Pending => "STAGING",
        Running => "RUNNING",
        Stopping | Terminating => "STOPPING",
        Stopped | Terminated => "TERMINATED",
    }
}

/// A Compute Engine error: HTTP status, `reason`, message, and the
/// Retry-After seconds of a throttled call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GceError {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
}

impl GceError {
    pub(crate) fn new(
        status: StatusCode,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub(crate) fn not_found(resource: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("The resource '{resource}' was not found"),
        )
    }
}

/// The model's errors as Compute Engine sends them; `resource` is the
/// path of the instance the call was about.
pub(crate) fn error(e: &CloudError, resource: &str) -> GceError {
    use StatusCode as S;
    match e {
        CloudError::NotFound { .. } => GceError::not_found(resource),
        CloudError::InvalidState { state, .. } => GceError::new(
            S::BAD_REQUEST,
            "resourceNotReady",
            format!(
                "The resource '{resource}' is not ready (status {})",
                status(*state)
            ),
        ),
        CloudError::AlreadyExists { .. } => GceError::new(
            S::CONFLICT,
            "alreadyExists",
            format!("The resource '{resource}' already exists"),
        ),
        CloudError::QuotaExceeded { limit } => GceError::new(
            S::FORBIDDEN,
            "quotaExceeded",
            format!("Quota 'INSTANCES' exceeded. Limit: {limit}"),
        ),
        CloudError::Fault { fault, .. } => fault_error(*fault),
        other => GceError::new(S::BAD_REQUEST, "invalid", other.to_string()),
    }
}

fn fault_error(fault: Fault) -> GceError {
    use StatusCode as S;
    match fault {
        Fault::Throttled { retry_after } => GceError {
            retry_after: retry_after.map(|d| d.as_secs().max(1)),
            ..GceError::new(
                S::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            )
        },
        Fault::Unavailable => GceError::new(
            S::SERVICE_UNAVAILABLE,
            "backendError",
            "Service unavailable",
        ),
        Fault::InsufficientCapacity => GceError::new(
            S::SERVICE_UNAVAILABLE,
            "ZONE_RESOURCE_POOL_EXHAUSTED",
            "The zone does not have enough resources available to fulfill the request",
        ),
        Fault::QuotaExceeded => {
            GceError::new(S::FORBIDDEN, "quotaExceeded", "Quota 'CPUS' exceeded")
        }
        Fault::Unauthenticated => {
            GceError::new(S::UNAUTHORIZED, "authError", "Invalid Credentials")
        }
        Fault::PermissionDenied => GceError::new(
            S::FORBIDDEN,
            "forbidden",
            "Required 'compute.instances.create' permission",
        ),
        _ => GceError::new(S::INTERNAL_SERVER_ERROR, "backendError", "Internal error"),
    }
}

/// The operation error (code, message, HTTP status) of a fault that Compute
/// Engine reports in the operation rather than in the HTTP answer (capacity
/// and quota on insert).
pub(crate) fn operation_error(
    e: &CloudError,
    project: &str,
    zone: &str,
) -> Option<(&'static str, String, StatusCode)> {
    let kind = match e {
        CloudError::Fault {
            fault: Fault::InsufficientCapacity,
            ..
        } => LaunchFailureKind::InsufficientCapacity,
        CloudError::Fault {
            fault: Fault::QuotaExceeded,
            ..
        }
        | CloudError::QuotaExceeded { .. } => LaunchFailureKind::QuotaExceeded,
        _ => return None,
    };
    Some(launch_failure(kind, project, zone))
}

/// The operation error of an insert that failed after acceptance, with the
/// codes, messages and HTTP statuses Compute Engine uses.
pub(crate) fn launch_failure(
    kind: LaunchFailureKind,
    project: &str,
    zone: &str,
) -> (&'static str, String, StatusCode) {
    match kind {
        LaunchFailureKind::QuotaExceeded => (
            "QUOTA_EXCEEDED",
            format!("Quota 'CPUS' exceeded.  Limit: 24.0 in region {}.", region(zone)),
            StatusCode::FORBIDDEN,
        ),
        LaunchFailureKind::InsufficientCapacity => (
            "ZONE_RESOURCE_POOL_EXHAUSTED",
            format!(
                "The zone 'projects/{project}/zones/{zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later."
            ),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        _ => (
            "INTERNAL_ERROR",
            "Internal error. Please try again or contact Google Support.".to_owned(),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    }
}

/// The region of a zone (`us-central1-a` → `us-central1`).
fn region(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(region, _)| region)
}
