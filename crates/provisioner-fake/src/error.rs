//! The model's own errors. Each face maps them to its wire errors; the fake
//! provisioner maps them to [`provisioner_core::Error`].

use std::time::Duration;

use provisioner_core::validate::field;
use provisioner_core::{CloudInstanceState, Error, ErrorContext};

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

impl From<CloudError> for Error {
    /// The core error, with the fake's code in its [`ErrorContext`] (the
    /// fake provisioner names the operation).
    fn from(e: CloudError) -> Self {
        let message = e.to_string();
        let context = ErrorContext::new(PROVIDER).with_code(e.code()).boxed();
        match e {
            CloudError::NotFound { id } => Error::NotFound {
                instance_id: id,
                context,
            },
            CloudError::InvalidState { id, .. } => Error::InvalidState {
                instance_id: id,
                message,
                context,
            },
            CloudError::AlreadyExists { .. } => Error::Provider { message, context },
            CloudError::IdempotencyMismatch => Error::InvalidArgument {
                field: field::IDEMPOTENCY_KEY.to_owned(),
                reason: "already used for a launch with different parameters".to_owned(),
                context,
            },
            CloudError::IdempotentInstanceTerminated => Error::InvalidArgument {
                field: field::IDEMPOTENCY_KEY.to_owned(),
                reason: "its instance was terminated: a new launch needs a new key".to_owned(),
                context,
            },
            CloudError::QuotaExceeded { .. } => Error::QuotaExceeded { message, context },
            CloudError::Fault { fault, .. } => match fault {
                Fault::Throttled { retry_after } => Error::Throttled {
                    retry_after,
                    message,
                    context,
                },
                Fault::Unavailable | Fault::Internal => Error::Unavailable { message, context },
                Fault::InsufficientCapacity => Error::InsufficientCapacity { message, context },
                Fault::QuotaExceeded => Error::QuotaExceeded { message, context },
                Fault::PriceTooLow => Error::PriceTooLow { message, context },
                Fault::Unauthenticated => Error::Unauthenticated { message, context },
                Fault::PermissionDenied => Error::PermissionDenied { message, context },
            },
        }
    }
}

/// The retry hint of a fault, for faces that send `Retry-After`.
pub fn retry_after(fault: Fault) -> Option<Duration> {
    match fault {
        Fault::Throttled { retry_after } => retry_after,
        _ => None,
    }
}
