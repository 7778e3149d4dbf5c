//! The implementor's side of the error: a provider's table gives each of
//! its codes an [`ErrorClass`], and [`ErrorClass::into_error`] is the one
//! constructor of an [`Error`] from what the provider knows
//! ([`ProviderFailure`]).

use std::time::Duration;

use super::{BoxError, Error, ErrorContext, SharedError};
use crate::Operation;

/// The class a provider's error table gives one of its error codes. Each
/// provider crate keeps one table from its codes to these classes; turning
/// a class into an [`Error`] is this one function for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The instance does not exist.
    NotFound,
    /// Rate limited.
    Throttled,
    /// No capacity for the request.
    InsufficientCapacity,
    /// A spot maximum price below the current price.
    PriceTooLow,
    /// A quota or limit is reached.
    QuotaExceeded,
    /// The request was invalid; the field it names.
    InvalidArgument(&'static str),
    /// Not allowed in the instance's current state.
    InvalidState,
    /// Credentials missing, invalid or expired.
    Unauthenticated,
    /// Credentials not allowed to do this.
    PermissionDenied,
    /// A server-side or transport failure.
    Unavailable,
    /// The cloud gave up on the call within its own deadline.
    DeadlineExceeded,
    /// Anything else.
    Other,
}

/// What a provider knows about one failed call.
#[derive(Debug)]
pub struct ProviderFailure {
    /// The provider (`"ec2"`, `"gcp"`, `"azure"`).
    pub provider: &'static str,
    /// The operation, when the mapping site knows it (else the provider's
    /// trait method names it, see [`in_operation`](super::in_operation)).
    pub operation: Option<Operation>,
    /// The provider's error code or reason; empty when it gave none.
    pub code: String,
    /// The provider's message.
    pub message: String,
    /// The instance the call was about; empty when none.
    pub instance_id: String,
    /// The cloud's id for the request; empty when it gave none.
    pub request_id: String,
    /// The wait the provider asked for.
    pub retry_after: Option<Duration>,
    /// The underlying error.
    pub source: Option<BoxError>,
}

impl ProviderFailure {
    /// A failure of `provider` with this code and message; the rest empty.
    pub fn new(
        provider: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            operation: None,
            code: code.into(),
            message: message.into(),
            instance_id: String::new(),
            request_id: String::new(),
            retry_after: None,
            source: None,
        }
    }
}

impl ErrorClass {
    /// The core error of a failure in this class, keeping the provider, the
    /// code, the operation, the request id and the source as its
    /// [`ErrorContext`].
    pub fn into_error(self, failure: ProviderFailure) -> Error {
        let ProviderFailure {
            provider,
            operation,
            code,
            message,
            instance_id,
            request_id,
            retry_after,
            source,
        } = failure;
        // The cloud's code leads every message, so that a fleet can tell
        // apart, say, stop protection from a wrong state in a log line.
        let coded = if code.is_empty() {
            message.clone()
        } else {
            format!("{code}: {message}")
        };
        let mut context = ErrorContext::new(provider)
            .with_code(code)
            .with_request_id(request_id);
        context.operation = operation;
        context.source = source.map(SharedError::from);
        let context = Some(Box::new(context));
        match self {
            Self::NotFound => Error::NotFound {
                instance_id,
                context,
            },
            Self::Throttled => Error::Throttled {
                retry_after,
                message: coded,
                context,
            },
            Self::InsufficientCapacity => Error::InsufficientCapacity {
                message: coded,
                context,
            },
            Self::PriceTooLow => Error::PriceTooLow {
                message: coded,
                context,
            },
            Self::QuotaExceeded => Error::QuotaExceeded {
                message: coded,
                context,
            },
            Self::InvalidArgument(field) => Error::InvalidArgument {
                field: field.to_owned(),
                reason: coded,
                context,
            },
            Self::InvalidState => Error::InvalidState {
                instance_id,
                message: coded,
                context,
            },
            Self::Unauthenticated => Error::Unauthenticated {
                message: coded,
                context,
            },
            Self::PermissionDenied => Error::PermissionDenied {
                message: coded,
                context,
            },
            Self::Unavailable => Error::Unavailable {
                message: coded,
                context,
            },
            Self::DeadlineExceeded => Error::DeadlineExceeded {
                message: coded,
                context,
            },
            Self::Other => Error::Provider { message, context },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn classes_become_errors_keeping_the_providers_detail() {
        let failure = |code: &str| ProviderFailure {
            instance_id: "i-1".to_owned(),
            request_id: "req-7".to_owned(),
            retry_after: Some(Duration::from_secs(3)),
            source: Some("the SDK's error".into()),
            ..ProviderFailure::new("ec2", code, "it failed")
        };
        let e = ErrorClass::Throttled.into_error(failure("Throttling"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = ErrorClass::InvalidArgument("image").into_error(failure("InvalidAMIID.NotFound"));
        assert_eq!(
            e.to_string(),
            "invalid image: InvalidAMIID.NotFound: it failed"
        );
        assert!(
            matches!(ErrorClass::NotFound.into_error(failure("")), Error::NotFound { instance_id, .. } if instance_id == "i-1")
        );
        assert_eq!(
            ErrorClass::Other.into_error(failure("Odd")).to_string(),
            "ec2 error Odd: it failed"
        );
    }

    /// One failed batch call answers every caller in it: a clone keeps the
    /// class, the context and the underlying error itself (shared), not
    /// only its text.

    #[test]
    fn a_clone_keeps_the_context_and_the_source() {
        let e = ErrorClass::Throttled.into_error(ProviderFailure {
            request_id: "req-7".into(),
            source: Some("connection reset".into()),
            ..ProviderFailure::new("ec2", "RequestLimitExceeded", "slow down")
        });
        let copy = e.clone();
        assert_eq!(copy.to_string(), e.to_string());
        assert!(copy.is_retryable());
        let (a, b) = (e.context().unwrap(), copy.context().unwrap());
        assert_eq!(
            (a.code.as_deref(), a.request_id.as_deref()),
            (b.code.as_deref(), b.request_id.as_deref())
        );
        let (sa, sb) = (a.source.as_ref().unwrap(), b.source.as_ref().unwrap());
        assert!(std::sync::Arc::ptr_eq(sa, sb), "the same error, shared");
    }

    /// Every class, beside the kind of error it must make.
    const CLASSES: [(ErrorClass, ErrorKind); 12] = [
        (ErrorClass::NotFound, ErrorKind::NotFound),
        (ErrorClass::Throttled, ErrorKind::Throttled),
        (
            ErrorClass::InsufficientCapacity,
            ErrorKind::InsufficientCapacity,
        ),
        (ErrorClass::PriceTooLow, ErrorKind::PriceTooLow),
        (ErrorClass::QuotaExceeded, ErrorKind::QuotaExceeded),
        (
            ErrorClass::InvalidArgument("image"),
            ErrorKind::InvalidArgument,
        ),
        (ErrorClass::InvalidState, ErrorKind::InvalidState),
        (ErrorClass::Unauthenticated, ErrorKind::Unauthenticated),
        (ErrorClass::PermissionDenied, ErrorKind::PermissionDenied),
        (ErrorClass::Unavailable, ErrorKind::Unavailable),
        (ErrorClass::DeadlineExceeded, ErrorKind::DeadlineExceeded),
        (ErrorClass::Other, ErrorKind::Provider),
    ];

    /// `into_error` is the one constructor of every kind from a provider's
    /// answer: each class makes its own kind, and every kind of
    /// [`Error`] is made by some class (a new variant without a class
    /// fails here).
    #[test]
    fn every_kind_of_error_has_its_class() {
        let mut made: Vec<ErrorKind> = CLASSES
            .iter()
            .map(|(class, kind)| {
                let e = class.into_error(ProviderFailure::new("ec2", "Code", "message"));
                assert_eq!(e.kind(), *kind, "{class:?}");
                e.kind()
            })
            .collect();
        made.sort();
        assert_eq!(made, ErrorKind::ALL, "every kind, each once");
    }

    #[test]
    fn every_class_keeps_the_provider_code_operation_request_id_and_source() {
        use std::error::Error as _;
        for (class, _) in CLASSES {
            let failure = ProviderFailure {
                request_id: "5c1b-77".to_owned(),
                source: Some("connection reset".into()),
                ..ProviderFailure::new("ec2", "SomeCode", "it failed")
            };
            let e = class
                .into_error(failure)
                .in_operation("ignored", Operation::Launch);
            let context = e.context().expect("a context");
            assert_eq!(context.provider, "ec2", "{class:?}");
            assert_eq!(context.operation, Some(Operation::Launch), "{class:?}");
            assert_eq!(e.code(), Some("SomeCode"), "{class:?}");
            assert_eq!(e.request_id(), Some("5c1b-77"), "{class:?}");
            // The chain: error, then its context, then the SDK's error.
            let source = e.source().expect("the context is the source");
            assert_eq!(
                source.to_string(),
                "ec2 launch, code SomeCode, request id 5c1b-77"
            );
            let root = source.source().expect("the SDK's error");
            assert_eq!(root.to_string(), "connection reset");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }
}
