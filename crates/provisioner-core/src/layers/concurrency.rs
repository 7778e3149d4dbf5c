//! [`ConcurrencyLimit`]: at most N calls in flight.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::{InstanceProvisioner, Result};

use super::layer;
use crate::Operation;

/// Lets at most `limit` calls through at once; the others wait their turn.
#[derive(Clone)]
pub struct ConcurrencyLimit {
    inner: Arc<dyn InstanceProvisioner>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("inner", &self.inner.name())
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl ConcurrencyLimit {
    /// Wraps `inner`: at most `limit` (at least 1) calls in flight.
    pub fn new(inner: Arc<dyn InstanceProvisioner>, limit: usize) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    async fn around<T, F, Fut>(&self, _op: Operation, _id: &str, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self.permits.acquire().await.ok();
        call().await
    }
}

layer!(ConcurrencyLimit);
