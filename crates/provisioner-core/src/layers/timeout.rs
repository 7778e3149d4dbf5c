//! [`Timeout`]: one deadline per call, whatever the layers below do.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{Error, ErrorContext, InstanceProvisioner, Result};

use super::layer;
use crate::Operation;

/// Fails a call that takes longer than `limit` with [`Error::Unavailable`]
/// (its outcome is unknown; a launch with a key may be retried safely).
#[derive(Clone)]
pub struct Timeout {
    inner: Arc<dyn InstanceProvisioner>,
    limit: Duration,
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("inner", &self.inner.name())
            .field("limit", &self.limit)
            .finish()
    }
}

impl Timeout {
    /// Wraps `inner`: every call ends within `limit`.
    pub fn new(inner: Arc<dyn InstanceProvisioner>, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn around<T, F, Fut>(&self, op: Operation, id: &str, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match tokio::time::timeout(self.limit, call()).await {
            Ok(result) => result,
            Err(_) => Err(Error::Unavailable {
                message: format!(
                    "{} {op} {id} did not finish within {:?}",
                    self.inner.name(),
                    self.limit
                ),
                context: ErrorContext::new(self.inner.name())
                    .with_operation(op)
                    .boxed(),
            }),
        }
    }
}

layer!(Timeout);
