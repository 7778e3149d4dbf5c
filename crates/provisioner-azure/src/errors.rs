//! ARM errors to the provider-neutral classes: the one table.
//!
//! The pipeline (azure_core's retry policy) retries 408, 429, 500, 502, 503
//! and 504, waiting as long as a 429 or 503 `Retry-After` asks, and I/O
//! errors; what reaches this table has exhausted those retries.

use azure_core::error::ErrorKind;
use provisioner_core::{Error, ErrorClass, ProviderFailure};

/// The table: the envelope's code first, the HTTP status for codes it does
/// not know.
pub(crate) fn classify(status: u16, code: &str) -> ErrorClass {
    use ErrorClass::*;
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
        | "BadRequest" => InvalidArgument("launch settings"),
        _ => match status {
            404 => NotFound,
            429 => Throttled,
            400 => InvalidArgument("launch settings"),
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
    let (class, status, code) = match err.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            let code = error_code.clone().unwrap_or_default();
            (
                classify(u16::from(*status), &code),
                u16::from(*status),
                code,
            )
        }
        ErrorKind::Io => (ErrorClass::Unavailable, 0, String::new()),
        ErrorKind::Credential => (ErrorClass::Unauthenticated, 0, String::new()),
        _ => (ErrorClass::Other, 0, String::new()),
    };
    let message = match status {
        0 => err.to_string(),
        status if code.is_empty() => format!("HTTP {status}"),
        _ => code.clone(),
    };
    class.into_error(ProviderFailure {
        provider: "azure",
        code,
        message,
        instance_id: name.to_owned(),
        retry_after: None,
        source: Some(Box::new(err)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

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
            (400, "InvalidParameter", InvalidArgument("launch settings")),
            (500, "InternalServerError", Unavailable),
            (503, "ServiceUnavailable", Unavailable),
            (418, "Teapot", Other),
        ];
        for (status, code, class) in table {
            assert_eq!(classify(status, code), class, "{status} {code}");
        }
    }
}
