//! The one error type every provisioner maps its failures into.

use std::time::Duration;

use crate::Operation;

/// A boxed error, as providers hand the underlying error over.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The underlying error an [`ErrorContext`] keeps: shared, so that an
/// [`Error`] is `Clone` (one failed batch call answers every caller in it).
pub type SharedError = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The longest a provider waits on a cloud's Retry-After inside one call
/// before it gives the throttling to the caller instead (as
/// [`Error::Throttled`] with the wait the cloud asked for). Each provider
/// lets callers change it (`with_max_retry_after`).
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in provider-neutral classes.
///
/// Each provider crate keeps one table from its native error codes to these
/// variants. Provider detail is never lost: every variant made from a
/// cloud's answer keeps an [`ErrorContext`] (provider, the cloud's code, the
/// operation, the request id where the cloud gave one, and the underlying
/// error) as its [`source`](std::error::Error::source), so a log of the
/// error chain carries it and [`Error::context`] reads it. `Display` is one
/// line; it and the context never contain credentials or user data.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is invalid. `field` names the offending input (`image`,
    /// `instance_type`, `tags`, `user_data`, `disk_size_gb`,
    /// `idempotency_key`, `instance_id`, …). Made by the input checks,
    /// nothing was sent to the cloud (`context` is `None`); made from a
    /// cloud's answer (an unknown image, say), `context` says which.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The offending input.
        field: String,
        /// Why it is invalid.
        reason: String,
        /// Where the failure came from, when a cloud refused the input.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The instance is unknown to the provider (only where the contract does
    /// not turn this into a terminated state).
    #[error("instance {instance_id} not found")]
    NotFound {
        /// The id asked for.
        instance_id: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The operation is not allowed in the instance's current state (for
    /// example starting a terminated instance).
    #[error("instance {instance_id} is in the wrong state: {message}")]
    InvalidState {
        /// The instance.
        instance_id: String,
        /// The provider's explanation.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The provider rate-limited the call; retry after `retry_after` when it
    /// is known, else with backoff.
    #[error("throttled by the provider: {message}")]
    Throttled {
        /// How long the provider asked the caller to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The provider has no capacity for this instance type in this place
    /// right now. A retry of the same request is unlikely to succeed soon:
    /// try another type or zone, or wait minutes.
    #[error("insufficient capacity: {message}")]
    InsufficientCapacity {
        /// The provider's message.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The maximum price a spot launch offered is below what the cloud asks
    /// for this offering now (EC2 `SpotMaxPriceTooLow`, Azure
    /// `SpotPriceGreaterThanProvidedMaxPrice`). Another offering, or a
    /// higher price, may launch; the same request will not.
    #[error("price too low: {message}")]
    PriceTooLow {
        /// The provider's message.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// An account quota or limit would be exceeded.
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// The provider's message.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The credentials are missing, invalid or expired.
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        /// The provider's message.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The credentials are valid but not allowed to do this.
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// The provider's message.
        message: String,
        /// Where the failure came from.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// The provider could not be reached or failed on its side (5xx,
    /// connection error, timeout). The outcome of a mutating call is unknown.
    #[error("provider unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// Where the failure came from; its source is the transport's error.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// A wait (for example [`wait_until_running`](crate::InstanceProvisionerExt::wait_until_running))
    /// or a call did not finish within its deadline.
    #[error("deadline exceeded: {message}")]
    DeadlineExceeded {
        /// What did not finish, and the last thing seen.
        message: String,
        /// Where the failure came from, when a provider's call ran out.
        #[source]
        context: Option<Box<ErrorContext>>,
    },

    /// Anything that fits no class above, with the provider's own detail.
    #[error("{}: {message}", origin(context))]
    Provider {
        /// The provider's message.
        message: String,
        /// The provider, its code and the rest.
        #[source]
        context: Option<Box<ErrorContext>>,
    },
}

/// Where a failure came from: the provider, the cloud's error code, the
/// operation, the request id the cloud gave the call, and the underlying
/// error (the SDK's, the transport's).
///
/// It is the [`source`](std::error::Error::source) of the [`Error`] that
/// carries it, and its own source is the underlying error, so walking the
/// chain prints `error → context → SDK error`. `Display` is one line, for
/// example `ec2 launch, code InsufficientInstanceCapacity, request id
/// 5c1b…`. Nothing here holds credentials or user data: codes and request
/// ids are the cloud's, and the SDK errors kept as sources carry the
/// response, never the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The provider (`"ec2"`, `"gcp"`, `"azure"`, `"fake"`, …).
    pub provider: &'static str,
    /// The operation of the trait that failed, once the provider knows it.
    pub operation: Option<Operation>,
    /// The cloud's error code or reason (`InsufficientInstanceCapacity`,
    /// `ZONE_RESOURCE_POOL_EXHAUSTED`, `OperationNotAllowed`), when it gave
    /// one.
    pub code: Option<String>,
    /// The id the cloud gave the request (EC2's `RequestID`, Azure's
    /// `x-ms-request-id`, a Compute Engine operation's name), for a support
    /// case or the cloud's own logs.
    pub request_id: Option<String>,
    /// The underlying error.
    pub source: Option<SharedError>,
}

impl ErrorContext {
    /// A context naming only the provider.
    pub fn new(provider: &'static str) -> Self {
        Self {
            provider,
            operation: None,
            code: None,
            request_id: None,
            source: None,
        }
    }

    /// With the operation.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// With the cloud's code; an empty code is none.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.code = (!code.is_empty()).then_some(code);
        self
    }

    /// With the cloud's request id; an empty id is none.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        let id = request_id.into();
        self.request_id = (!id.is_empty()).then_some(id);
        self
    }

    /// With the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(SharedError::from(source.into()));
        self
    }

    /// Boxed, as the variants of [`Error`] keep it.
    pub fn boxed(self) -> Option<Box<Self>> {
        Some(Box::new(self))
    }
}

impl std::fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.provider)?;
        if let Some(op) = self.operation {
            write!(f, " {op}")?;
        }
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// The `context` field of an error (every variant has one), borrowed as the
/// error is: the one list of the variants for reading and filling it.
macro_rules! context_slot {
    ($error:expr) => {
        match $error {
            Error::InvalidArgument { context, .. }
            | Error::NotFound { context, .. }
            | Error::InvalidState { context, .. }
            | Error::Throttled { context, .. }
            | Error::InsufficientCapacity { context, .. }
            | Error::PriceTooLow { context, .. }
            | Error::QuotaExceeded { context, .. }
            | Error::Unauthenticated { context, .. }
            | Error::PermissionDenied { context, .. }
            | Error::Unavailable { context, .. }
            | Error::DeadlineExceeded { context, .. }
            | Error::Provider { context, .. } => context,
        }
    };
}

impl Error {
    /// An [`Error::InvalidArgument`] for `field`, made before any call.
    pub fn invalid_argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
            context: None,
        }
    }

    /// An [`Error::Provider`] with this context.
    pub fn provider(context: ErrorContext, message: impl Into<String>) -> Self {
        Self::Provider {
            message: message.into(),
            context: context.boxed(),
        }
    }

    /// True when the same request may succeed if sent again after a backoff:
    /// [`Throttled`](Self::Throttled) and [`Unavailable`](Self::Unavailable).
    ///
    /// Every other class needs a change first (input, state, capacity
    /// elsewhere, quota, credentials). A retried launch is safe only with an
    /// [`idempotency_key`](crate::InstanceConfig::idempotency_key): an
    /// `Unavailable` launch may have created the instance.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable { .. })
    }

    /// The wait the provider asked for, when it is [`Throttled`](Self::Throttled) and said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The field named by an [`InvalidArgument`](Self::InvalidArgument).
    pub fn invalid_field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument { field, .. } => Some(field),
            _ => None,
        }
    }

    /// True for [`NotFound`](Self::NotFound).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Where the failure came from, when a provider said.
    pub fn context(&self) -> Option<&ErrorContext> {
        context_slot!(self).as_deref()
    }

    /// The cloud's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        self.context()?.code.as_deref()
    }

    /// The cloud's id for the failed request, when it gave one.
    pub fn request_id(&self) -> Option<&str> {
        self.context()?.request_id.as_deref()
    }

    /// Says which provider and operation this error came from. Each
    /// provider calls it on every error its trait methods return, so that
    /// each carries a context; an operation an inner call named is kept.
    pub fn in_operation(mut self, provider: &'static str, operation: Operation) -> Self {
        let context =
            context_slot!(&mut self).get_or_insert_with(|| Box::new(ErrorContext::new(provider)));
        context.operation.get_or_insert(operation);
        self
    }
}

/// `ec2 error` or `ec2 error SomeCode`: who made an [`Error::Provider`],
/// for its one line.
fn origin(context: &Option<Box<ErrorContext>>) -> String {
    match context.as_deref() {
        Some(ErrorContext {
            provider,
            code: Some(code),
            ..
        }) => format!("{provider} error {code}"),
        Some(context) => format!("{} error", context.provider),
        None => "provider error".to_owned(),
    }
}

/// Runs `call`, the body of one trait method of a provider, and names the
/// provider and operation on its error ([`Error::in_operation`]).
pub async fn in_operation<T>(
    provider: &'static str,
    operation: Operation,
    call: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    call.await.map_err(|e| e.in_operation(provider, operation))
}

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
    /// Anything else.
    Other,
}

/// What a provider knows about one failed call.
#[derive(Debug)]
pub struct ProviderFailure {
    /// The provider (`"ec2"`, `"gcp"`, `"azure"`).
    pub provider: &'static str,
    /// The operation, when the mapping site knows it (else the provider's
    /// trait method names it, see [`in_operation`]).
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
            Self::Other => Error::Provider { message, context },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn only_throttled_and_unavailable_are_retryable() {
        let retryable = [
            Error::Throttled {
                retry_after: Some(Duration::from_secs(2)),
                message: "slow down".into(),
                context: None,
            },
            Error::Unavailable {
                message: "503".into(),
                context: None,
            },
        ];
        for e in &retryable {
            assert!(e.is_retryable(), "{e}");
        }
        let final_ = [
            Error::invalid_argument("image", "empty"),
            Error::NotFound {
                instance_id: "i-1".into(),
                context: None,
            },
            Error::InvalidState {
                instance_id: "i-1".into(),
                message: "terminated".into(),
                context: None,
            },
            Error::InsufficientCapacity {
                message: "none".into(),
                context: None,
            },
            Error::QuotaExceeded {
                message: "vcpu".into(),
                context: None,
            },
            Error::PriceTooLow {
                message: "0.001 < 0.0374".into(),
                context: None,
            },
            Error::Unauthenticated {
                message: "expired".into(),
                context: None,
            },
            Error::PermissionDenied {
                message: "no".into(),
                context: None,
            },
            Error::provider(ErrorContext::new("ec2").with_code("Weird"), "?"),
        ];
        for e in &final_ {
            assert!(!e.is_retryable(), "{e}");
        }
        assert_eq!(retryable[0].retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn display_names_the_field_and_the_provider_code() {
        assert_eq!(
            Error::invalid_argument("image", "must not be empty").to_string(),
            "invalid image: must not be empty"
        );
        let e = Error::provider(ErrorContext::new("ec2").with_code("Odd.Code"), "odd");
        assert_eq!(e.to_string(), "ec2 error Odd.Code: odd");
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

    #[test]
    fn every_class_keeps_the_provider_code_operation_request_id_and_source() {
        use std::error::Error as _;
        let classes = [
            ErrorClass::NotFound,
            ErrorClass::Throttled,
            ErrorClass::InsufficientCapacity,
            ErrorClass::PriceTooLow,
            ErrorClass::QuotaExceeded,
            ErrorClass::InvalidArgument("image"),
            ErrorClass::InvalidState,
            ErrorClass::Unauthenticated,
            ErrorClass::PermissionDenied,
            ErrorClass::Unavailable,
            ErrorClass::Other,
        ];
        for class in classes {
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

    #[test]
    fn in_operation_gives_every_error_a_context_and_keeps_an_inner_operation() {
        let e = Error::NotFound {
            instance_id: "i-1".into(),
            context: None,
        }
        .in_operation("gcp", Operation::Describe);
        assert_eq!(e.context().map(|c| c.provider), Some("gcp"));
        assert_eq!(
            e.context().and_then(|c| c.operation),
            Some(Operation::Describe)
        );
        let e = e.in_operation("gcp", Operation::Launch);
        assert_eq!(
            e.context().and_then(|c| c.operation),
            Some(Operation::Describe),
            "the first operation named stays"
        );
    }
}
