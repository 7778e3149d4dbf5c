//! [`InstanceProvisionerExt`]: waiting for states, over any provisioner.
//!
//! A launch returns as soon as the cloud accepted it; whether the instance
//! then runs is only known later. Clouds report a launch that failed after
//! acceptance (no capacity, a quota) on the instance itself, so a fleet that
//! waits with these helpers gets a typed error instead of a state that never
//! comes. Bulk helpers launch with a key per slot and terminate by filter.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::CloudInstanceState::{self, *};
use crate::{
    Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner, InstanceStatus,
    Result,
};

/// The first pause between two polls; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
/// The longest pause between two polls.
const MAX_POLL: Duration = Duration::from_secs(5);

/// Helpers every [`InstanceProvisioner`] has (a blanket implementation).
#[async_trait]
pub trait InstanceProvisionerExt: InstanceProvisioner {
    /// Polls describe with backoff until the instance is in one of `states`,
    /// and returns that status.
    ///
    /// Fails with the launch's own error ([`Error::InsufficientCapacity`],
    /// [`Error::QuotaExceeded`]) when the cloud failed the launch after
    /// accepting it, with the start's own error when the cloud failed a
    /// start after accepting it (the instance is back to `Stopped` with
    /// [`InstanceStatus::start_failure`], and `Stopped` is not wanted),
    /// with [`Error::InvalidState`] when the instance reaches
    /// `Terminated` otherwise (and `Terminated` is not wanted), and with
    /// [`Error::DeadlineExceeded`] after `deadline`. Retryable errors of
    /// describe count as "not yet".
    async fn wait_for_state(
        &self,
        instance_id: &str,
        states: &[CloudInstanceState],
        deadline: Duration,
    ) -> Result<InstanceStatus> {
        let give_up = Instant::now() + deadline;
        let mut polls = crate::backoff::Backoff::new(FIRST_POLL, MAX_POLL);
        loop {
            let last = match self.describe_instance(instance_id).await {
                Ok(status) if states.contains(&status.state) => return Ok(status),
                // A start the cloud accepted and could not place: the
                // instance is back to stopped and stays so until started
                // again.
                Ok(InstanceStatus {
                    state: Stopped,
                    start_failure: Some(failure),
                    ..
                }) => return Err(failure.to_error_of(self.name(), crate::Operation::Start)),
                Ok(status) if status.state == Terminated => {
                    return Err(match &status.launch_failure {
                        Some(failure) => failure.to_error(self.name()),
                        None => Error::InvalidState {
                            instance_id: instance_id.to_owned(),
                            message: format!(
                                "terminated while waiting for {states:?}: {}",
                                status.state_reason.as_deref().unwrap_or("no reason given")
                            ),
                            context: None,
                        },
                    });
                }
                Ok(status) => format!("state {}", status.state),
                Err(e) if e.is_retryable() => format!("retryable error: {e}"),
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            if now >= give_up {
                return Err(Error::DeadlineExceeded {
                    message: format!(
                        "{instance_id} did not reach {states:?} within {deadline:?}; last saw {last}"
                    ),
                    context: None,
                });
            }
            tokio::time::sleep(polls.next_pause().min(give_up - now)).await;
        }
    }

    /// [`wait_for_state`](Self::wait_for_state) for `Running`: the typed
    /// failure of a launch the cloud accepted and then failed, or the running
    /// instance's status (with its addresses).
    async fn wait_until_running(
        &self,
        instance_id: &str,
        deadline: Duration,
    ) -> Result<InstanceStatus> {
        self.wait_for_state(instance_id, &[Running], deadline).await
    }

    /// Launches `n` instances from `config`, at most `concurrency` at once,
    /// each slot with its own idempotency key (`KEY-0`, `KEY-1`, … from the
    /// config's key, or fresh ones), so retrying the whole call, or one slot,
    /// never creates a second instance for a slot. One result per slot, in
    /// slot order: one slot's failure does not fail the others.
    async fn launch_many(
        &self,
        config: &InstanceConfig,
        n: usize,
        concurrency: usize,
    ) -> Vec<Result<InstanceInfo>> {
        let base = config
            .idempotency_key
            .clone()
            .unwrap_or_else(|| crate::provider::naming::fresh_token("many"));
        let configs: Vec<InstanceConfig> = (0..n)
            .map(|slot| {
                let mut config = config.clone();
                config.idempotency_key = Some(format!("{base}-{slot}"));
                config
            })
            .collect();
        let permits = tokio::sync::Semaphore::new(concurrency.max(1));
        let mut launches = Vec::with_capacity(n);
        for config in &configs {
            let permits = &permits;
            launches.push(async move {
                // Never closed, so acquiring cannot fail.
                let _permit = permits.acquire().await.ok();
                self.launch_instance(config).await
            });
        }
        futures::future::join_all(launches).await
    }

    /// Terminates every instance `filter` lists, and returns their ids. The
    /// first error (of the listing or of a terminate) ends the call; what
    /// was terminated before it stays terminated.
    async fn terminate_matching(&self, filter: &InstanceFilter) -> Result<Vec<String>> {
        let listed = self.list_instances(filter).await?;
        let mut terminated = Vec::with_capacity(listed.len());
        for info in listed {
            self.terminate_instance(&info.instance_id).await?;
            terminated.push(info.instance_id);
        }
        Ok(terminated)
    }
}

impl<T: InstanceProvisioner + ?Sized> InstanceProvisionerExt for T {}
