//! Compute Engine errors to the provider-neutral classes: the one table.
//!
//! An HTTP error carries a status and, in its body, a `reason`
//! (`{"error": {"errors": [{"reason": "notFound"}]}}`); an operation that
//! finished with an error carries codes such as `ZONE_RESOURCE_POOL_EXHAUSTED`.
//! Both go through [`classify`].

use std::time::Duration;

use provisioner_core::Error;

/// The class of a Compute Engine error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    NotFound,
    AlreadyExists,
    Throttled,
    QuotaExceeded,
    InsufficientCapacity,
    InvalidArgument,
    InvalidState,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Other,
}

/// The table: HTTP status (0 for an operation error) and reason or code.
pub(crate) fn classify(status: u16, reason: &str) -> Class {
    use Class::*;
    match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED" => return Throttled,
        "quotaExceeded" | "QUOTA_EXCEEDED" => return QuotaExceeded,
        "ZONE_RESOURCE_POOL_EXHAUSTED"
        | "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"
        | "REGION_RESOURCE_POOL_EXHAUSTED"
        | "resourceExhausted" => return InsufficientCapacity,
        "alreadyExists" | "RESOURCE_ALREADY_EXISTS" => return AlreadyExists,
        "notFound" | "RESOURCE_NOT_FOUND" => return NotFound,
        "resourceNotReady" | "RESOURCE_NOT_READY" | "conditionNotMet" => return InvalidState,
        _ => {}
    }
    match status {
        404 => NotFound,
        409 => AlreadyExists,
        429 => Throttled,
        400 => InvalidArgument,
        401 => Unauthenticated,
        403 => PermissionDenied,
        500..=599 => Unavailable,
        _ => Other,
    }
}

/// A class as a core error. `NotFound` and `AlreadyExists` are usually
/// handled by the caller before this (per the contract).
pub(crate) fn to_error(
    class: Class,
    code: &str,
    message: String,
    id: &str,
    retry_after: Option<Duration>,
) -> Error {
    match class {
        Class::NotFound => Error::NotFound {
            instance_id: id.to_owned(),
        },
        Class::Throttled => Error::Throttled {
            retry_after,
            message,
        },
        Class::QuotaExceeded => Error::QuotaExceeded { message },
        Class::InsufficientCapacity => Error::InsufficientCapacity { message },
        Class::InvalidArgument => {
            Error::invalid_argument("launch settings", format!("{code}: {message}"))
        }
        Class::InvalidState => Error::InvalidState {
            instance_id: id.to_owned(),
            message,
        },
        Class::Unauthenticated => Error::Unauthenticated { message },
        Class::PermissionDenied => Error::PermissionDenied { message },
        Class::Unavailable => Error::Unavailable {
            message,
            source: None,
        },
        Class::AlreadyExists | Class::Other => Error::Provider {
            provider: "gcp",
            code: (!code.is_empty()).then(|| code.to_owned()),
            message,
            source: None,
        },
    }
}

/// The class, reason and message of a client error.
pub(crate) fn describe(err: &google_cloud_gax::error::Error) -> (Class, String, String) {
    let Some(status) = err.http_status_code() else {
        let class = if err.is_authentication() {
            Class::Unauthenticated
        } else if err.is_timeout()
            || err.is_io()
            || err.is_connect()
            || err.is_transport()
            || err.is_exhausted()
        {
            Class::Unavailable
        } else {
            Class::Other
        };
        return (class, String::new(), err.to_string());
    };
    let body: Option<serde_json::Value> = err
        .http_payload()
        .and_then(|b| serde_json::from_slice(b).ok());
    let reason = body
        .as_ref()
        .and_then(|b| b.pointer("/error/errors/0/reason"))
        .and_then(|r| r.as_str())
        .unwrap_or_default()
        .to_owned();
    let message = body
        .as_ref()
        .and_then(|b| b.pointer("/error/message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .or_else(|| err.status().map(|s| s.message.clone()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    (classify(status, &reason), reason, message)
}

/// A client error as a core error, for the instance `id`.
pub(crate) fn from_gax(err: google_cloud_gax::error::Error, id: &str) -> Error {
    let (class, reason, message) = describe(&err);
    let retry_after = err
        .http_headers()
        .and_then(|h| h.get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut e = to_error(class, &reason, message, id, retry_after);
    if let Error::Unavailable { source, .. } | Error::Provider { source, .. } = &mut e {
        *source = Some(Box::new(err));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use Class::*;

    #[test]
    fn the_table() {
        let table = [
            (404, "notFound", NotFound),
            (409, "alreadyExists", AlreadyExists),
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
            (400, "invalid", InvalidArgument),
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
