//! [`Metrics`]: calls, errors and latency through the `metrics` facade.

use std::future::Future;
use std::sync::Arc;

use crate::{InstanceProvisioner, Operation, Result};

use super::{layer, outcome};

/// Records every call in the `metrics` facade: [`Metrics::CALLS`],
/// [`Metrics::ERRORS`] and [`Metrics::LATENCY`], per provider and operation, in whatever recorder the
/// application installed (Prometheus, StatsD, …). Labels are fixed words,
/// never ids, user data or credentials, so their number stays small.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<dyn InstanceProvisioner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl Metrics {
    /// The counter of calls, labelled `provider`, `operation` and `outcome`
    /// (`ok` or the error class).
    pub const CALLS: &'static str = "provisioner_calls_total";
    /// The counter of failed calls, labelled `provider`, `operation` and
    /// `class` (the error class).
    pub const ERRORS: &'static str = "provisioner_errors_total";
    /// The histogram of call latency in seconds, labelled `provider` and
    /// `operation`.
    pub const LATENCY: &'static str = "provisioner_call_duration_seconds";

    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn InstanceProvisioner>) -> Self {
        Self { inner }
    }

    async fn around<T, F, Fut>(&self, op: Operation, _id: &str, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = tokio::time::Instant::now();
        let result = call().await;
        let (provider, operation, outcome) = (self.inner.name(), op.as_str(), outcome(&result));
        metrics::histogram!(Self::LATENCY, "provider" => provider, "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(Self::CALLS, "provider" => provider, "operation" => operation, "outcome" => outcome)
            .increment(1);
        if result.is_err() {
            metrics::counter!(Self::ERRORS, "provider" => provider, "operation" => operation, "class" => outcome)
                .increment(1);
        }
        result
    }
}

layer!(Metrics);
