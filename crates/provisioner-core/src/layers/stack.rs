//! [`Stack`]: a layer stack built in one expression, from the provider
//! outwards, in the spirit of tower's `ServiceBuilder`, instead of nesting
//! `Arc::new(Layer::new(Arc::new(…)))` by hand.

use std::sync::Arc;
use std::time::Duration;

use crate::InstanceProvisioner;

use super::{Batching, ConcurrencyLimit, Retry, Timeout, Traced};

/// A provisioner and the layers around it so far. Each method wraps what
/// is built so far, so the stack reads from the cloud outwards: the first
/// layer named is the innermost.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use provisioner_core::layers::Stack;
/// use provisioner_core::InstanceProvisioner;
///
/// fn stack(cloud: Arc<dyn InstanceProvisioner>) -> Arc<dyn InstanceProvisioner> {
///     Stack::new(cloud)
///         .concurrency_limit(32)
///         .timeout(Duration::from_secs(120))
///         .retry()
///         .traced()
///         .build()
/// }
/// ```
#[must_use = "a stack does nothing until it is built and called"]
pub struct Stack {
    built: Arc<dyn InstanceProvisioner>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("provider", &self.built.name())
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// A stack of no layers over `provider`.
    pub fn new(provider: Arc<dyn InstanceProvisioner>) -> Self {
        Self { built: provider }
    }

    /// Wraps the stack so far in `layer` (any layer, this crate's or one's
    /// own).
    pub fn layer<L>(self, layer: impl FnOnce(Arc<dyn InstanceProvisioner>) -> L) -> Self
    where
        L: InstanceProvisioner + 'static,
    {
        Self {
            built: Arc::new(layer(self.built)),
        }
    }

    /// At most `limit` calls in flight ([`ConcurrencyLimit`]).
    pub fn concurrency_limit(self, limit: usize) -> Self {
        self.layer(|inner| ConcurrencyLimit::new(inner, limit))
    }

    /// One deadline per call ([`Timeout`]).
    pub fn timeout(self, limit: Duration) -> Self {
        self.layer(|inner| Timeout::new(inner, limit))
    }

    /// Retries with the default policy and budget ([`Retry`]).
    pub fn retry(self) -> Self {
        self.layer(Retry::new)
    }

    /// Retries as `configure` sets the layer up (policy, budget).
    pub fn retry_with(self, configure: impl FnOnce(Retry) -> Retry) -> Self {
        self.layer(|inner| configure(Retry::new(inner)))
    }

    /// Paces each operation ([`RateLimit`](super::RateLimit)).
    #[cfg(feature = "rate-limit")]
    pub fn rate_limit(self, policy: super::RateLimitPolicy) -> Self {
        self.layer(|inner| super::RateLimit::new(inner, policy))
    }

    /// Counts calls, errors and latency ([`Metrics`](super::Metrics)).
    #[cfg(feature = "metrics")]
    pub fn metrics(self) -> Self {
        self.layer(super::Metrics::new)
    }

    /// One span per call ([`Traced`]).
    pub fn traced(self) -> Self {
        self.layer(Traced::new)
    }

    /// Coalesces concurrent describes and terminates ([`Batching`]).
    pub fn batching(self) -> Self {
        self.layer(Batching::new)
    }

    /// The stack, ready to share.
    pub fn build(self) -> Arc<dyn InstanceProvisioner> {
        self.built
    }
}
