//! Compute Engine errors to the provider-neutral classes: the one table.
//!
//! An HTTP error carries a status and, in its body, a `reason`
//! (`{"error": {"errors": [{"reason": "notFound"}]}}`); an operation that
//! finished with an error carries codes such as `ZONE_RESOURCE_POOL_EXHAUSTED`.
//! Both go through [`classify`].

use std::time::Duration;

use provisioner_core::provider::{ErrorClass, ProviderFailure};
use provisioner_core::Error;

use crate::PROVIDER;

/// The table: HTTP status (0 for an operation error) and reason or code.
pub(crate) fn classify(status: u16, reason: &str) -> ErrorClass {
    use ErrorClass::*;
    match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED" => return Throttled,
        "quotaExceeded" | "QUOTA_EXCEEDED" => return QuotaExceeded,
        "ZONE_RESOURCE_POOL_EXHAUSTED"
        | "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"
        | "REGION_RESOURCE_POOL_EXHAUSTED"
        | "resourceExhausted" => return InsufficientCapacity,
        "notFound" | "RESOURCE_NOT_FOUND" => return NotFound,
        "resourceNotReady" | "RESOURCE_NOT_READY" | "conditionNotMet" => return InvalidState,
        _ => {}
    }
    match status {
        404 => NotFound,
        429 => Throttled,
        400 => InvalidArgument("launch settings"),
        401 => Unauthenticated,
        403 => PermissionDenied,
        500..=599 => Unavailable,
        _ => Other,
    }
}

/// True for `alreadyExists` (409): on a launch with a key, the instance
/// that key names exists already.
pub(crate) fn is_already_exists(err: &google_cloud_gax::error::Error) -> bool {
    let (status, reason, _) = describe(err);
    status == Some(409) || reason == "alreadyExists" || reason == "RESOURCE_ALREADY_EXISTS"
}

/// The HTTP status, reason and message of a client error.
fn describe(err: &google_cloud_gax::error::Error) -> (Option<u16>, String, String) {
    let Some(status) = err.http_status_code() else {
        return (None, String::new(), err.to_string());
    };
    let body: Option<serde_json::Value> = err
        .http_payload()
        .and_then(|b| serde_json::from_slice(b).ok());
    let text = |pointer: &str| {
        body.as_ref()
            .and_then(|b| b.pointer(pointer))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let reason = text("/error/errors/0/reason").unwrap_or_default();
    let message = text("/error/message")
        .or_else(|| err.status().map(|s| s.message.clone()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    (Some(status), reason, message)
}

/// A client error as a core error, for the instance `id`.
pub(crate) fn from_gax(err: google_cloud_gax::error::Error, id: &str) -> Error {
    let (status, code, message) = describe(&err);
    let class = match status {
        Some(status) => classify(status, &code),
        None if err.is_authentication() => ErrorClass::Unauthenticated,
        None if err.is_timeout()
            || err.is_io()
            || err.is_connect()
            || err.is_transport()
            || err.is_exhausted() =>
        {
            ErrorClass::Unavailable
        }
        None => ErrorClass::Other,
    };
    let retry_after = err
        .http_headers()
        .and_then(|h| h.get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    class.into_error(ProviderFailure {
        instance_id: id.to_owned(),
        retry_after,
        source: Some(Box::new(err)),
        ..ProviderFailure::new(PROVIDER, code, message)
    })
}

/// The error code and message of the zone operation `operation` (its
/// name, which Compute Engine's logs and support know the call by, is the
/// request id) as a core error.
pub(crate) fn from_operation(code: &str, message: String, id: &str, operation: &str) -> Error {
    classify(0, code).into_error(ProviderFailure {
        instance_id: id.to_owned(),
        request_id: operation.to_owned(),
        ..ProviderFailure::new(PROVIDER, code, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn the_table() {
        let table = [
            (404, "notFound", NotFound),
            (429, "rateLimitExceeded", Throttled),
            (403, "rateLimitExceeded", Throttled),
            (403, "userRateLimitExceeded", Throttled),
            (403, "quotaExceeded", QuotaExceeded),
            (0, "QUOTA_EXCEEDED", QuotaExceeded),
            (0, "ZONE_RESOURCE_POOL_EXHAUSTED", InsufficientCapacity),
            (
                0,
                "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
                InsufficientCapacity,
            ),
            (503, "ZONE_RESOURCE_POOL_EXHAUSTED", InsufficientCapacity),
            (400, "resourceNotReady", InvalidState),
            (400, "invalid", InvalidArgument("launch settings")),
            (401, "authError", Unauthenticated),
            (403, "forbidden", PermissionDenied),
            (500, "backendError", Unavailable),
            (503, "backendError", Unavailable),
            (418, "", Other),
        ];
        for (status, reason, class) in table {
            assert_eq!(classify(status, reason), class, "{status} {reason}");
        }
    }
}
