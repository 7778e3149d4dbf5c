//! ARM errors to the provider-neutral classes: the one table.
//!
//! The pipeline (azure_core's retry policy) retries 408, 429, 500, 502, 503
//! and 504, waiting as long as a 429 or 503 `Retry-After` asks, and I/O
//! errors; what reaches this table has exhausted those retries.

use azure_core::error::ErrorKind;
use provisioner_core::Error;

/// The class of an ARM error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    NotFound,
    Throttled,
    InsufficientCapacity,
    QuotaExceeded,
    InvalidArgument,
    InvalidState,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Other,
}

/// The table: the envelope's code first, the HTTP status for codes it does
/// not know.
pub(crate) fn classify(status: u16, code: &str) -> Class {
    use Class::*;
    match code {
        "ResourceNotFound" | "NotFound" | "ResourceGroupNotFound" => NotFound,
        "TooManyRequests" | "RetryableError" => Throttled,
        "AllocationFailed"
        | "ZonalAllocationFailed"
        | "SkuNotAvailable"
        | "OverconstrainedAllocationRequest"
        | "OverconstrainedZonalAllocationRequest" => InsufficientCapacity,
        "QuotaExceeded" => QuotaExceeded,
        "AuthorizationFailed" | "LinkedAuthorizationFailed" => PermissionDenied,
        "InvalidAuthenticationToken"
        | "AuthenticationFailed"
        | "ExpiredAuthenticationToken"
        | "InvalidAuthenticationTokenTenant" => Unauthenticated,
        "OperationNotAllowed" | "Conflict" | "PropertyChangeNotAllowed" | "OperationPreempted" => {
            InvalidState
        }
        "InvalidParameter"
        | "InvalidRequestContent"
        | "InvalidResourceName"
        | "InvalidApiVersionParameter"
        | "MissingApiVersionParameter"
        | "InvalidTagNameCharacters"
        | "InvalidTagValueLength"
        | "BadRequest" => InvalidArgument,
        _ => match status {
            404 => NotFound,
            429 => Throttled,
            400 => InvalidArgument,
            401 => Unauthenticated,
            403 => PermissionDenied,
            409 => InvalidState,
            500..=599 => Unavailable,
            _ => Other,
        },
    }
}

/// An azure_core error as a core error, for the VM `name`.
pub(crate) fn from_azure(err: azure_core::Error, name: &str) -> Error {
    let (status, code) = match err.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            (u16::from(*status), error_code.clone().unwrap_or_default())
        }
        ErrorKind::Io => {
            return Error::Unavailable {
                message: "Azure could not be reached".to_owned(),
                source: Some(Box::new(err)),
            }
        }
        ErrorKind::Credential => {
            return Error::Unauthenticated {
                message: format!("no Azure credential: {err}"),
            }
        }
        _ => (0, String::new()),
    };
    let message = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        code.clone()
    };
    match classify(status, &code) {
        Class::NotFound => Error::NotFound {
            instance_id: name.to_owned(),
        },
        Class::Throttled => Error::Throttled {
            retry_after: None,
            message,
        },
        Class::InsufficientCapacity => Error::InsufficientCapacity { message },
        Class::QuotaExceeded => Error::QuotaExceeded { message },
        Class::InvalidArgument => Error::invalid_argument("launch settings", message),
        Class::InvalidState => Error::InvalidState {
            instance_id: name.to_owned(),
            message,
        },
        Class::Unauthenticated => Error::Unauthenticated { message },
        Class::PermissionDenied => Error::PermissionDenied { message },
        Class::Unavailable => Error::Unavailable {
            message,
            source: Some(Box::new(err)),
        },
        Class::Other => Error::Provider {
            provider: "azure",
            code: (!code.is_empty()).then_some(code),
            message: err.to_string(),
            source: Some(Box::new(err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Class::*;

    #[test]
    fn the_table() {
        let table = [
            (404, "ResourceNotFound", NotFound),
            (429, "TooManyRequests", Throttled),
            (429, "", Throttled),
            (409, "AllocationFailed", InsufficientCapacity),
            (409, "ZonalAllocationFailed", InsufficientCapacity),
            (409, "SkuNotAvailable", InsufficientCapacity),
            (409, "QuotaExceeded", QuotaExceeded),
            (403, "AuthorizationFailed", PermissionDenied),
            (401, "InvalidAuthenticationToken", Unauthenticated),
            (409, "OperationNotAllowed", InvalidState),
            (409, "Conflict", InvalidState),
            (400, "InvalidParameter", InvalidArgument),
            (500, "InternalServerError", Unavailable),
            (503, "ServiceUnavailable", Unavailable),
            (418, "Teapot", Other),
        ];
        for (status, code, class) in table {
            assert_eq!(classify(status, code), class, "{status} {code}");
        }
    }
}
