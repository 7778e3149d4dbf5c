//! The model's own errors. Each face maps them to its wire errors; the fake
//! provisioner maps them to [`provisioner_core::Error`].

use std::time::Duration;

use provisioner_core::{CloudInstanceState, Error};

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

impl From<CloudError> for Error {
    fn from(e: CloudError) -> Self {
        let message = e.to_string();
        match e {
            CloudError::NotFound { id } => Error::NotFound { instance_id: id },
            CloudError::InvalidState { id, .. } => Error::InvalidState {
                instance_id: id,
                message,
            },
            CloudError::AlreadyExists { .. } => Error::Provider {
                provider: "fake",
                code: Some("AlreadyExists".to_owned()),
                message,
                source: None,
            },
            CloudError::IdempotencyMismatch => Error::invalid_argument(
                provisioner_core::validate::field::IDEMPOTENCY_KEY,
                "already used for a launch with different parameters",
            ),
            CloudError::IdempotentInstanceTerminated => Error::invalid_argument(
                provisioner_core::validate::field::IDEMPOTENCY_KEY,
                "its instance was terminated: a new launch needs a new key",
            ),
            CloudError::QuotaExceeded { .. } => Error::QuotaExceeded { message },
            CloudError::Fault { fault, .. } => fault_error(fault, message),
        }
    }
}

fn fault_error(fault: Fault, message: String) -> Error {
    match fault {
        Fault::Throttled { retry_after } => Error::Throttled {
            retry_after,
            message,
        },
        Fault::Unavailable | Fault::Internal => Error::Unavailable {
            message,
            source: None,
        },
        Fault::InsufficientCapacity => Error::InsufficientCapacity { message },
        Fault::QuotaExceeded => Error::QuotaExceeded { message },
        Fault::Unauthenticated => Error::Unauthenticated { message },
        Fault::PermissionDenied => Error::PermissionDenied { message },
    }
}

/// The retry hint of a fault, for faces that send `Retry-After`.
pub fn retry_after(fault: Fault) -> Option<Duration> {
    match fault {
        Fault::Throttled { retry_after } => retry_after,
        _ => None,
    }
}
