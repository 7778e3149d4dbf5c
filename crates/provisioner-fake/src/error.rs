//! The model's own errors. Each face maps them to its wire errors; the fake
//! provisioner maps them to [`provisioner_core::Error`].

use std::time::Duration;

use provisioner_core::provider::validate::field;
use provisioner_core::provider::{ErrorClass, ProviderFailure};
use provisioner_core::{CloudInstanceState, Error};

use crate::provisioner::PROVIDER;
use crate::{Fault, Operation};

/// Why the model refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// No visible instance has this id.
    #[error("instance {id} not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The operation is not allowed in the instance's current state.
    #[error("instance {id} is {state}; cannot {op}")]
    InvalidState {
        /// The instance.
        id: String,
        /// Its current state.
        state: CloudInstanceState,
        /// What was refused.
        op: Operation,
    },
    /// A named launch used a name a visible instance already has.
    #[error("an instance named {id} already exists")]
    AlreadyExists {
        /// The name.
        id: String,
    },
    /// An idempotency key was reused with different launch parameters.
    #[error("idempotency key reused with different parameters")]
    IdempotencyMismatch,
    /// An idempotency key named an instance that was terminated (EC2's
    /// `IdempotentInstanceTerminated`): the key may not launch again.
    #[error("the idempotency key was used for an instance that is terminated")]
    IdempotentInstanceTerminated,
    /// The cloud's limit of live instances is reached.
    #[error("the limit of {limit} live instances is reached")]
    QuotaExceeded {
        /// The limit.
        limit: usize,
    },
    /// An injected fault.
    #[error("injected fault {fault:?} on {op}")]
    Fault {
        /// The fault.
        fault: Fault,
        /// The operation it hit.
        op: Operation,
    },
}

impl CloudError {
    /// The code the fake gives this refusal, as a cloud gives its own: the
    /// variant's name, or the fault's.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NotFound",
            Self::InvalidState { .. } => "InvalidState",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::IdempotencyMismatch => "IdempotencyMismatch",
            Self::IdempotentInstanceTerminated => "IdempotentInstanceTerminated",
            Self::QuotaExceeded { .. } => "QuotaExceeded",
            Self::Fault { fault, .. } => fault.code(),
        }
    }
}

impl Fault {
    /// The fault a cloud answers at once for a launch or start it cannot
    /// place because of `kind`: quota, or else capacity.
    pub fn refusing(kind: provisioner_core::LaunchFailureKind) -> Self {
        match kind {
            provisioner_core::LaunchFailureKind::QuotaExceeded => Self::QuotaExceeded,
            _ => Self::InsufficientCapacity,
        }
    }

    /// The fault's name, as the code of the error it makes.
    pub fn code(self) -> &'static str {
        match self {
            Self::Throttled { .. } => "Throttled",
            Self::Unavailable => "Unavailable",
            Self::Internal => "Internal",
            Self::InsufficientCapacity => "InsufficientCapacity",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::PriceTooLow => "PriceTooLow",
            Self::Unauthenticated => "Unauthenticated",
            Self::PermissionDenied => "PermissionDenied",
        }
    }
}

impl CloudError {
    /// The core class of this refusal: the fake's error table, as each
    /// provider keeps one from its cloud's codes.
    fn class(&self) -> ErrorClass {
        match self {
            Self::NotFound { .. } => ErrorClass::NotFound,
            Self::InvalidState { .. } => ErrorClass::InvalidState,
            Self::AlreadyExists { .. } => ErrorClass::Other,
            Self::IdempotencyMismatch | Self::IdempotentInstanceTerminated => {
                ErrorClass::InvalidArgument(field::IDEMPOTENCY_KEY)
            }
            Self::QuotaExceeded { .. } => ErrorClass::QuotaExceeded,
            Self::Fault { fault, .. } => match fault {
                Fault::Throttled { .. } => ErrorClass::Throttled,
                Fault::Unavailable | Fault::Internal => ErrorClass::Unavailable,
                Fault::InsufficientCapacity => ErrorClass::InsufficientCapacity,
                Fault::QuotaExceeded => ErrorClass::QuotaExceeded,
                Fault::PriceTooLow => ErrorClass::PriceTooLow,
                Fault::Unauthenticated => ErrorClass::Unauthenticated,
                Fault::PermissionDenied => ErrorClass::PermissionDenied,
            },
        }
    }
}

impl From<CloudError> for Error {
    /// The core error, with the fake's code in its
    /// [`ErrorContext`](provisioner_core::ErrorContext) (the fake
    /// provisioner names the operation).
    fn from(e: CloudError) -> Self {
        let instance_id = match &e {
            CloudError::NotFound { id } | CloudError::InvalidState { id, .. } => id.clone(),
            _ => String::new(),
        };
        let retry_after = match &e {
            CloudError::Fault { fault, .. } => retry_after(*fault),
            _ => None,
        };
        let failure = ProviderFailure {
            instance_id,
            retry_after,
            ..ProviderFailure::new(PROVIDER, e.code(), e.to_string())
        };
        e.class().into_error(failure)
    }
}

/// The retry hint of a fault, for faces that send `Retry-After`.
pub fn retry_after(fault: Fault) -> Option<Duration> {
    match fault {
        Fault::Throttled { retry_after } => retry_after,
        _ => None,
    }
}
