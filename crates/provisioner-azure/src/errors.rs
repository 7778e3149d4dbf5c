//! ARM errors to the provider-neutral classes: the one table.
//!
//! The transport (`transport.rs`) retries 408, 429, 500, 502, 503 and 504
//! and I/O errors, waiting as long as Retry-After asks up to a cap; what
//! reaches this table has exhausted those retries, or asked for a longer
//! wait than the cap.
//!
//! Compute answers more than one class with one code: throttling is 429
//! `OperationNotAllowed` with a `TooManyRequests` detail, a vCPU quota is
//! 409 `OperationNotAllowed` whose message names the quota, and a VM in the
//! wrong state is 409 `OperationNotAllowed` too. So the table reads the
//! status, the details and the message before the code.

use azure_core::error::ErrorKind;
use provisioner_core::provider::{ErrorClass, ProviderFailure};
use provisioner_core::Error;

use crate::transport::ArmFailure;
use crate::PROVIDER;

/// The table: throttling by status or detail, quota by detail or message,
/// then the envelope's code, then the HTTP status for codes it does not
/// know.
pub(crate) fn classify(status: u16, code: &str, details: &[String], message: &str) -> ErrorClass {
    use ErrorClass::*;
    let detail = |wanted: &str| details.iter().any(|d| d == wanted);
    if status == 429 || detail("TooManyRequests") {
        return Throttled;
    }
    // Learn, "Error messages for Azure Spot Virtual Machines and scale
    // sets"; read as the code or a detail, whichever carries it.
    const PRICE: &str = "SpotPriceGreaterThanProvidedMaxPrice";
    if code == PRICE || detail(PRICE) {
        return PriceTooLow;
    }
    if detail("QuotaExceeded")
        || (code == "OperationNotAllowed" && message.to_ascii_lowercase().contains("quota"))
    {
        return QuotaExceeded;
    }
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

/// The answer ARM sent, kept by the transport inside `err`.
fn arm_failure(err: &azure_core::Error) -> Option<&ArmFailure> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(failure) = e.downcast_ref::<ArmFailure>() {
            return Some(failure);
        }
        current = match e.downcast_ref::<azure_core::Error>() {
            Some(azure) => azure.get_ref().map(|inner| inner as _),
            None => e.source(),
        };
    }
    None
}

/// An azure_core error as a core error, for the VM `name`.
pub(crate) fn from_azure(err: azure_core::Error, name: &str) -> Error {
    if let Some(failure) = arm_failure(&err).cloned() {
        let class = classify(
            failure.status,
            &failure.code,
            &failure.detail_codes,
            &failure.message,
        );
        return class.into_error(ProviderFailure {
            instance_id: name.to_owned(),
            request_id: failure.request_id,
            retry_after: failure.retry_after,
            source: Some(Box::new(err)),
            ..ProviderFailure::new(PROVIDER, failure.code, failure.message)
        });
    }
    let (class, status, code) = match err.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            let code = error_code.clone().unwrap_or_default();
            (
                classify(u16::from(*status), &code, &[], ""),
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
        instance_id: name.to_owned(),
        source: Some(Box::new(err)),
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
            (404, "ResourceNotFound", NotFound),
            (429, "TooManyRequests", Throttled),
            (429, "", Throttled),
            (409, "AllocationFailed", InsufficientCapacity),
            (409, "ZonalAllocationFailed", InsufficientCapacity),
            (409, "SkuNotAvailable", InsufficientCapacity),
            (409, "QuotaExceeded", QuotaExceeded),
            (409, "SpotPriceGreaterThanProvidedMaxPrice", PriceTooLow),
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
            assert_eq!(classify(status, code, &[], ""), class, "{status} {code}");
        }
    }

    #[test]
    fn one_code_three_classes_told_apart_by_status_details_and_message() {
        let throttled = classify(
            429,
            "OperationNotAllowed",
            &["TooManyRequests".to_owned()],
            "The server rejected the request because too many requests have been received for this subscription.",
        );
        assert_eq!(throttled, Throttled);
        let quota = classify(
            409,
            "OperationNotAllowed",
            &[],
            "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
        );
        assert_eq!(quota, QuotaExceeded);
        let state = classify(
            409,
            "OperationNotAllowed",
            &[],
            "Operation 'start' is not allowed since the VM is marked for deletion.",
        );
        assert_eq!(state, InvalidState);
        let price = classify(
            409,
            "OperationNotAllowed",
            &["SpotPriceGreaterThanProvidedMaxPrice".to_owned()],
            "Unable to perform operation 'Create VM' since the provided max price '0.01 USD' is lower than the current spot price.",
        );
        assert_eq!(price, PriceTooLow);
    }
}
