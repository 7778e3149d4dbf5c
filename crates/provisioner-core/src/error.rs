//! The one error type every provisioner maps its failures into.

use std::time::Duration;

/// A boxed error kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
/// variants. Provider detail is never lost: [`Error::Provider`] keeps the
/// provider's name, code, message and source for everything that fits no
/// class. Messages never contain credentials or user data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's input is invalid; nothing was sent to the cloud.
    /// `field` names the offending input (`image`, `instance_type`, `tags`,
    /// `user_data`, `disk_size_gb`, `idempotency_key`, `instance_id`, …).
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The offending input.
        field: String,
        /// Why it is invalid.
        reason: String,
    },

    /// The instance is unknown to the provider (only where the contract does
    /// not turn this into a terminated state).
    #[error("instance {instance_id} not found")]
    NotFound {
        /// The id asked for.
        instance_id: String,
    },

    /// The operation is not allowed in the instance's current state (for
    /// example starting a terminated instance).
    #[error("instance {instance_id} is in the wrong state: {message}")]
    InvalidState {
        /// The instance.
        instance_id: String,
        /// The provider's explanation.
        message: String,
    },

    /// The provider rate-limited the call; retry after `retry_after` when it
    /// is known, else with backoff.
    #[error("throttled by the provider: {message}")]
    Throttled {
        /// How long the provider asked the caller to wait, when it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },

    /// The provider has no capacity for this instance type in this place
    /// right now. A retry of the same request is unlikely to succeed soon:
    /// try another type or zone, or wait minutes.
    #[error("insufficient capacity: {message}")]
    InsufficientCapacity {
        /// The provider's message.
        message: String,
    },

    /// An account quota or limit would be exceeded.
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// The provider's message.
        message: String,
    },

    /// The credentials are missing, invalid or expired.
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        /// The provider's message.
        message: String,
    },

    /// The credentials are valid but not allowed to do this.
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// The provider's message.
        message: String,
    },

    /// The provider could not be reached or failed on its side (5xx,
    /// connection error, timeout). The outcome of a mutating call is unknown.
    #[error("provider unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// A wait (for example [`wait_until_running`](crate::InstanceProvisionerExt::wait_until_running))
    /// or a call did not finish within its deadline.
    #[error("deadline exceeded: {message}")]
    DeadlineExceeded {
        /// What did not finish, and the last thing seen.
        message: String,
    },

    /// Anything that fits no class above, with the provider's own detail.
    #[error("{provider} error{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Provider {
        /// The provider (`"ec2"`, `"gcp"`, `"azure"`, `"fake"`, …).
        provider: &'static str,
        /// The provider's error code, when it gave one.
        code: Option<String>,
        /// The provider's message.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// An [`Error::InvalidArgument`] for `field`.
    pub fn invalid_argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
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
    /// The provider's error code or reason; empty when it gave none.
    pub code: String,
    /// The provider's message.
    pub message: String,
    /// The instance the call was about; empty when none.
    pub instance_id: String,
    /// The wait the provider asked for.
    pub retry_after: Option<Duration>,
    /// The underlying error, kept for `Unavailable` and `Other`.
    pub source: Option<BoxError>,
}

impl ErrorClass {
    /// The core error of a failure in this class.
    pub fn into_error(self, failure: ProviderFailure) -> Error {
        let ProviderFailure {
            provider,
            code,
            message,
            instance_id,
            retry_after,
            source,
        } = failure;
        let coded = if code.is_empty() {
            message.clone()
        } else {
            format!("{code}: {message}")
        };
        match self {
            Self::NotFound => Error::NotFound { instance_id },
            // The cloud's code leads every message, so that a fleet can
            // tell apart, say, stop protection from a wrong state.
            Self::Throttled => Error::Throttled {
                retry_after,
                message: coded,
            },
            Self::InsufficientCapacity => Error::InsufficientCapacity { message: coded },
            Self::QuotaExceeded => Error::QuotaExceeded { message: coded },
            Self::InvalidArgument(field) => Error::invalid_argument(field, coded),
            Self::InvalidState => Error::InvalidState {
                instance_id,
                message: coded,
            },
            Self::Unauthenticated => Error::Unauthenticated { message: coded },
            Self::PermissionDenied => Error::PermissionDenied { message: coded },
            Self::Unavailable => Error::Unavailable {
                message: coded,
                source,
            },
            Self::Other => Error::Provider {
                provider,
                code: (!code.is_empty()).then_some(code),
                message,
                source,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_become_errors_keeping_the_providers_detail() {
        let failure = |code: &str| ProviderFailure {
            provider: "ec2",
            code: code.to_owned(),
            message: "it failed".to_owned(),
            instance_id: "i-1".to_owned(),
            retry_after: Some(Duration::from_secs(3)),
            source: None,
        };
        let e = ErrorClass::Throttled.into_error(failure("Throttling"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = ErrorClass::InvalidArgument("image").into_error(failure("InvalidAMIID.NotFound"));
        assert_eq!(
            e.to_string(),
            "invalid image: InvalidAMIID.NotFound: it failed"
        );
        assert!(
            matches!(ErrorClass::NotFound.into_error(failure("")), Error::NotFound { instance_id } if instance_id == "i-1")
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
            },
            Error::Unavailable {
                message: "503".into(),
                source: None,
            },
        ];
        for e in &retryable {
            assert!(e.is_retryable(), "{e}");
        }
        let final_ = [
            Error::invalid_argument("image", "empty"),
            Error::NotFound {
                instance_id: "i-1".into(),
            },
            Error::InvalidState {
                instance_id: "i-1".into(),
                message: "terminated".into(),
            },
            Error::InsufficientCapacity {
                message: "none".into(),
            },
            Error::QuotaExceeded {
                message: "vcpu".into(),
            },
            Error::Unauthenticated {
                message: "expired".into(),
            },
            Error::PermissionDenied {
                message: "no".into(),
            },
            Error::Provider {
                provider: "ec2",
                code: Some("Weird".into()),
                message: "?".into(),
                source: None,
            },
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
        let e = Error::Provider {
            provider: "ec2",
            code: Some("Odd.Code".into()),
            message: "odd".into(),
            source: None,
        };
        assert_eq!(e.to_string(), "ec2 error Odd.Code: odd");
    }
}
