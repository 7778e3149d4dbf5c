//! Layers: wrappers that implement [`InstanceProvisioner`](crate::InstanceProvisioner) over any
//! [`InstanceProvisioner`](crate::InstanceProvisioner), stackable in any order (an `Arc<dyn …>` in, an
//! `Arc<dyn …>` out), as tower's and OpenDAL's layers are.
//!
//! - [`Retry`]: retries retryable errors with jittered backoff, honours the
//!   cloud's Retry-After up to a cap, within a shared retry budget; a launch
//!   without a key gets one before its first attempt, so its retries carry
//!   the same client token or name and never create a second instance.
//! - [`Timeout`]: one deadline per call.
//! - [`ConcurrencyLimit`]: at most N calls in flight.
//! - [`Traced`]: one `tracing` span per call with the provider, operation,
//!   instance id, outcome and latency; never user data or credentials.
//! - `Metrics` (feature `metrics`): calls, errors by class and a latency
//!   histogram per provider and operation, through the `metrics` facade.
//! - [`Batching`]: concurrent single describes and terminates coalesced
//!   into one batch call (idle window, maximum window, maximum items); a
//!   batch throttled as a whole is retried by the layer, not by every
//!   caller at once.
//! - `RateLimit` (feature `rate-limit`): a token bucket per operation
//!   (governor), with presets from the clouds' documented limits, that
//!   holds an operation back after the cloud throttled it.
//!
//! [`Stack`] builds a stack in one expression, from the cloud outwards:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use provisioner_core::layers::Stack;
//! use provisioner_core::InstanceProvisioner;
//!
//! fn stack(cloud: Arc<dyn InstanceProvisioner>) -> Arc<dyn InstanceProvisioner> {
//!     Stack::new(cloud)
//!         .concurrency_limit(32)
//!         .timeout(Duration::from_secs(120))
//!         .retry()
//!         .traced()
//!         .build()
//! }
//! ```

mod batching;
mod concurrency;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "rate-limit")]
mod rate_limit;
mod retry;
mod stack;
mod timeout;
mod traced;

#[cfg(feature = "metrics")]
pub use self::metrics::Metrics;
pub use batching::{BatchPolicy, Batching};
pub use concurrency::ConcurrencyLimit;
#[cfg(feature = "rate-limit")]
pub use rate_limit::{Bucket, RateLimit, RateLimitPolicy};
pub use retry::{Retry, RetryBudget, RetryPolicy};
pub use stack::Stack;
pub use timeout::Timeout;
pub use traced::Traced;

/// The class of a call's outcome, for a span field or a metric label: `ok`
/// or the error's [kind label](crate::ErrorKind::label).
pub(crate) fn outcome<T>(result: &crate::Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.kind().label(),
    }
}

/// Implements [`InstanceProvisioner`] for a layer that has `inner` (the
/// wrapped provisioner) and an `around(op, id, call)` method running each
/// call; `launch` maps the launch config first, borrowing it when it
/// changes nothing (a layer without `launch` passes it on as it came).
macro_rules! layer {
    ($layer:ty) => {
        $crate::layers::layer!(
            $layer,
            launch = |_, config| { std::borrow::Cow::Borrowed(config) }
        );
    };
    ($layer:ty, launch = $prepare:expr) => {
        #[async_trait::async_trait]
        impl $crate::InstanceProvisioner for $layer {
            async fn launch_instance(
                &self,
                config: &$crate::InstanceConfig,
            ) -> $crate::Result<$crate::InstanceInfo> {
                let prepare: for<'c> fn(
                    &Self,
                    &'c $crate::InstanceConfig,
                ) -> std::borrow::Cow<'c, $crate::InstanceConfig> = $prepare;
                let config = prepare(self, config);
                self.around($crate::Operation::Launch, "", || {
                    self.inner.launch_instance(&config)
                })
                .await
            }

            async fn terminate_instance(&self, id: &str) -> $crate::Result<()> {
                self.around($crate::Operation::Terminate, id, || {
                    self.inner.terminate_instance(id)
                })
                .await
            }

            async fn stop_instance(&self, id: &str) -> $crate::Result<()> {
                self.around($crate::Operation::Stop, id, || self.inner.stop_instance(id))
                    .await
            }

            async fn start_instance(&self, id: &str) -> $crate::Result<$crate::InstanceInfo> {
                self.around($crate::Operation::Start, id, || {
                    self.inner.start_instance(id)
                })
                .await
            }

            async fn describe_instance(&self, id: &str) -> $crate::Result<$crate::InstanceStatus> {
                self.around($crate::Operation::Describe, id, || {
                    self.inner.describe_instance(id)
                })
                .await
            }

            async fn list_instances(
                &self,
                filter: &$crate::InstanceFilter,
            ) -> $crate::Result<Vec<$crate::InstanceInfo>> {
                self.around($crate::Operation::List, "", || {
                    self.inner.list_instances(filter)
                })
                .await
            }

            // A batch is one call of the layer, labelled with its
            // operation, so the inner provider's one request per batch is
            // kept.
            async fn describe_instances(
                &self,
                ids: &[&str],
            ) -> $crate::Result<Vec<$crate::Result<$crate::InstanceStatus>>> {
                self.around($crate::Operation::Describe, "", || {
                    self.inner.describe_instances(ids)
                })
                .await
            }

            async fn terminate_instances(
                &self,
                ids: &[&str],
            ) -> $crate::Result<Vec<$crate::Result<()>>> {
                self.around($crate::Operation::Terminate, "", || {
                    self.inner.terminate_instances(ids)
                })
                .await
            }

            // What launches left behind: listed as a list, deleted as a
            // terminate.
            async fn list_orphans(&self) -> $crate::Result<Vec<$crate::Orphan>> {
                self.around($crate::Operation::List, "", || self.inner.list_orphans())
                    .await
            }

            async fn delete_orphan(&self, orphan: &$crate::Orphan) -> $crate::Result<()> {
                self.around($crate::Operation::Terminate, &orphan.id, || {
                    self.inner.delete_orphan(orphan)
                })
                .await
            }

            fn name(&self) -> &'static str {
                self.inner.name()
            }
        }
    };
}
pub(crate) use layer;

#[cfg(test)]
mod tests {
    use crate::{Error, ErrorContext};

    #[test]
    fn an_outcome_is_ok_or_the_errors_kind() {
        assert_eq!(super::outcome(&Ok(())), "ok");
        let price = Error::PriceTooLow {
            message: "0.001 < 0.0374".into(),
            context: None,
        };
        assert_eq!(super::outcome::<()>(&Err(price)), "price_too_low");
        let other = Error::provider(ErrorContext::new("ec2").with_code("Odd"), "odd");
        assert_eq!(super::outcome::<()>(&Err(other)), "provider");
    }
}
