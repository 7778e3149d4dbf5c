//! The one error type every provisioner maps its failures into.

use std::time::Duration;

use crate::Operation;

#[macro_use]
mod kind;
mod class;
mod context;
pub mod field;

pub use class::{ErrorClass, ProviderFailure};
pub use context::ErrorContext;

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

error_kinds! {
/// What went wrong, in provider-neutral classes.
///
/// Each provider crate keeps one table from its native error codes to these
/// variants. Provider detail is never lost: every variant made from a
/// cloud's answer keeps an [`ErrorContext`] (provider, the cloud's code, the
/// operation, the request id where the cloud gave one, and the underlying
/// error) as its [`source`](std::error::Error::source), so a log of the
/// error chain carries it and [`Error::context`] reads it. `Display` is one
/// line; it and the context never contain credentials or user data.
///
/// [`kind`](Self::kind) names the variant without its data
/// ([`ErrorKind`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error (context) {
    /// The input is invalid. `field` names the offending input (`image`,
    /// `instance_type`, `tags`, `user_data`, `disk_size_gb`,
    /// `idempotency_key`, `instance_id`, …). Made by the input checks,
    /// nothing was sent to the cloud (`context` is `None`); made from a
    /// cloud's answer (an unknown image, say), `context` says which.
    #[error("invalid {field}: {reason}")]
    InvalidArgument = "invalid_argument" {
        /// The offending input.
        field: String,
        /// Why it is invalid.
        reason: String,
    },

    /// The instance is unknown to the provider (only where the contract does
    /// not turn this into a terminated state).
    #[error("instance {instance_id} not found")]
    NotFound = "not_found" {
        /// The id asked for.
        instance_id: String,
    },

    /// The operation is not allowed in the instance's current state (for
    /// example starting a terminated instance).
    #[error("instance {instance_id} is in the wrong state: {message}")]
    InvalidState = "invalid_state" {
        /// The instance.
        instance_id: String,
        /// The provider's explanation.
        message: String,
    },

    /// The provider rate-limited the call; retry after `retry_after` when it
    /// is known, else with backoff.
    #[error("throttled by the provider: {message}")]
    Throttled = "throttled" {
        /// How long the provider asked the caller to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },

    /// The provider has no capacity for this instance type in this place
    /// right now. A retry of the same request is unlikely to succeed soon:
    /// try another type or zone, or wait minutes.
    #[error("insufficient capacity: {message}")]
    InsufficientCapacity = "insufficient_capacity" {
        /// The provider's message.
        message: String,
    },

    /// The maximum price a spot launch offered is below what the cloud asks
    /// for this offering now (EC2 `SpotMaxPriceTooLow`, Azure
    /// `SpotPriceGreaterThanProvidedMaxPrice`). Another offering, or a
    /// higher price, may launch; the same request will not.
    #[error("price too low: {message}")]
    PriceTooLow = "price_too_low" {
        /// The provider's message.
        message: String,
    },

    /// An account quota or limit would be exceeded.
    #[error("quota exceeded: {message}")]
    QuotaExceeded = "quota_exceeded" {
        /// The provider's message.
        message: String,
    },

    /// The credentials are missing, invalid or expired.
    #[error("unauthenticated: {message}")]
    Unauthenticated = "unauthenticated" {
        /// The provider's message.
        message: String,
    },

    /// The credentials are valid but not allowed to do this.
    #[error("permission denied: {message}")]
    PermissionDenied = "permission_denied" {
        /// The provider's message.
        message: String,
    },

    /// The provider could not be reached or failed on its side (5xx,
    /// connection error, timeout). The outcome of a mutating call is unknown.
    #[error("provider unavailable: {message}")]
    Unavailable = "unavailable" {
        /// What failed.
        message: String,
    },

    /// A wait (for example [`wait_until_running`](crate::InstanceProvisionerExt::wait_until_running))
    /// or a call did not finish within its deadline.
    #[error("deadline exceeded: {message}")]
    DeadlineExceeded = "deadline_exceeded" {
        /// What did not finish, and the last thing seen.
        message: String,
    },

    /// Anything that fits no class above, with the provider's own detail.
    #[error("{}: {message}", origin(context))]
    Provider = "provider" {
        /// The provider's message.
        message: String,
    },
}
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
        self.context_slot().as_deref()
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
        let context = self
            .context_slot_mut()
            .get_or_insert_with(|| Box::new(ErrorContext::new(provider)));
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Spans and metrics label outcomes by kind: one label each, snake case.
    #[test]
    fn every_kind_has_its_own_snake_case_label() {
        let labels: std::collections::BTreeSet<&str> =
            ErrorKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), ErrorKind::ALL.len(), "{labels:?}");
        for label in labels {
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
        }
        let e = Error::invalid_argument("image", "empty");
        assert_eq!(
            (e.kind(), e.kind().label()),
            (ErrorKind::InvalidArgument, "invalid_argument")
        );
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
