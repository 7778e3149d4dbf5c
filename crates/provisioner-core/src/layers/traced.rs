//! [`Traced`]: one `tracing` span per call.

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument as _;

use crate::{InstanceProvisioner, Result};

use super::{layer, outcome};
use crate::Operation;

/// Records each call in a `provisioner` span (provider, operation, instance
/// id) and ends it with an event carrying the outcome (`ok` or the error
/// class) and the latency. User data and credentials never reach a span:
/// the layer sees ids and outcomes only.
#[derive(Clone)]
pub struct Traced {
    inner: Arc<dyn InstanceProvisioner>,
}

impl std::fmt::Debug for Traced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced")
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl Traced {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn InstanceProvisioner>) -> Self {
        Self { inner }
    }

    async fn around<T, F, Fut>(&self, op: Operation, id: &str, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let span = tracing::info_span!(
            "provisioner",
            provider = self.inner.name(),
            operation = op.as_str(),
            instance_id = id
        );
        async {
            let started = tokio::time::Instant::now();
            let result = call().await;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            let outcome = outcome(&result);
            match &result {
                Ok(_) => tracing::debug!(outcome, latency_ms, "call done"),
                // The cloud's code and request id, for a search of the
                // cloud's own logs or a support case.
                Err(e) => tracing::warn!(
                    outcome,
                    latency_ms,
                    error = %e,
                    code = e.code(),
                    request_id = e.request_id(),
                    "call failed"
                ),
            }
            result
        }
        .instrument(span)
        .await
    }
}

layer!(Traced);
