//! One run of one case: its unique tag, the instances it launched, polling
//! with backoff, and the cleanup that terminates everything it made.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Case, ContractSubject, RUN_TAG};
use crate::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner,
    InstanceStatus,
};

/// Why a check failed.
#[derive(Debug)]
pub(super) struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The result of a check inside a case.
pub(super) type Check<T = ()> = Result<T, Failure>;

/// Fails the case with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::contract::run::Failure::new(format!($($arg)*)))
    };
}

/// Fails the case with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            fail!($($arg)*);
        }
    };
}
pub(super) use {ensure, fail};

impl Failure {
    pub(super) fn new(message: String) -> Self {
        Self(message)
    }
}

/// Turns a provider error into a failed check that says what was being done.
pub(super) trait Doing<T> {
    fn doing(self, what: &str) -> Check<T>;
}

impl<T> Doing<T> for Result<T, Error> {
    fn doing(self, what: &str) -> Check<T> {
        self.map_err(|e| Failure(format!("{what}: unexpected error: {e}")))
    }
}

/// What a poll saw: the awaited value, or a description of what it saw instead.
pub(super) enum Seen<T> {
    Ready(T),
    NotYet(String),
}

/// One case's run against a subject.
pub(super) struct Run {
    pub(super) subject: ContractSubject,
    pub(super) run_id: String,
    launched: Mutex<Vec<String>>,
}

impl Run {
    pub(super) fn new(subject: ContractSubject, case: Case) -> Self {
        // A letter, then lowercase hex and dashes: valid in every provider's
        // tags and labels, and unique across processes and runs.
        let run_id = crate::provider::naming::fresh_token(case.clause());
        Self {
            subject,
            run_id,
            launched: Mutex::new(Vec::new()),
        }
    }

    /// The subject's fault injector; the cases that call this are skipped
    /// when it has none.
    pub(super) fn faults(&self) -> Arc<dyn super::FaultInjector> {
        Arc::clone(
            self.subject
                .faults
                .as_ref()
                .expect("cases that inject faults are skipped without an injector"),
        )
    }

    pub(super) fn provisioner(&self) -> &dyn InstanceProvisioner {
        &*self.subject.provisioner
    }

    /// The subject's base config, tagged with this run's id.
    pub(super) fn config(&self) -> InstanceConfig {
        self.subject
            .base_config
            .clone()
            .with_tag(RUN_TAG, self.run_id.clone())
    }

    /// A filter on this run's tag plus `extra` tags.
    pub(super) fn filter(&self, extra: &[(&str, &str)]) -> InstanceFilter {
        let mut filter = InstanceFilter::tagged([(RUN_TAG, self.run_id.as_str())]);
        filter.tags.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        filter
    }

    /// Launches and remembers the id for cleanup.
    pub(super) async fn launch(&self, config: &InstanceConfig) -> Check<InstanceInfo> {
        let info = self
            .provisioner()
            .launch_instance(config)
            .await
            .doing("launch")?;
        self.remember(&info.instance_id);
        Ok(info)
    }

    pub(super) fn remember(&self, id: &str) {
        let mut launched = self.launched.lock().unwrap_or_else(|p| p.into_inner());
        if !launched.iter().any(|known| known == id) {
            launched.push(id.to_owned());
        }
    }

    /// Polls `probe` with backoff until it is ready or the deadline passes.
    /// Retryable provider errors (throttling, 5xx) count as "not yet".
    pub(super) async fn eventually<T, F, Fut>(&self, what: &str, mut probe: F) -> Check<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Seen<T>, Error>>,
    {
        let timing = self.subject.timing;
        let deadline = tokio::time::Instant::now() + timing.deadline;
        let mut polls = crate::backoff::Backoff::new(timing.first_poll, timing.max_poll);
        loop {
            let last = match probe().await {
                Ok(Seen::Ready(value)) => return Ok(value),
                Ok(Seen::NotYet(saw)) => saw,
                Err(e) if e.is_retryable() => format!("retryable error {e}"),
                Err(e) => fail!("{what}: unexpected error: {e}"),
            };
            let pause = polls.next_pause();
            if tokio::time::Instant::now() + pause > deadline {
                fail!("{what}: not within {:?}; last saw {last}", timing.deadline);
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Waits until describe reports a state in `wanted`.
    pub(super) async fn wait_for(
        &self,
        id: &str,
        wanted: &[CloudInstanceState],
    ) -> Check<InstanceStatus> {
        self.eventually(&format!("{id} to reach {wanted:?}"), || async {
            let status = self.provisioner().describe_instance(id).await?;
            Ok(if wanted.contains(&status.state) {
                Seen::Ready(status)
            } else {
                Seen::NotYet(format!("state {}", status.state))
            })
        })
        .await
    }

    /// Waits until `filter` lists exactly the ids in `want` among this run's
    /// instances, and returns the listing.
    pub(super) async fn wait_for_listing(
        &self,
        filter: &InstanceFilter,
        want: &[&str],
    ) -> Check<Vec<InstanceInfo>> {
        let mut want: Vec<&str> = want.to_vec();
        want.sort_unstable();
        self.eventually(&format!("list {:?} to show {want:?}", filter), || async {
            let listed = self.provisioner().list_instances(filter).await?;
            let mut ids: Vec<&str> = listed.iter().map(|i| i.instance_id.as_str()).collect();
            ids.sort_unstable();
            Ok(if ids == want {
                Seen::Ready(listed.clone())
            } else {
                Seen::NotYet(format!("{ids:?}"))
            })
        })
        .await
    }

    /// Terminates every instance this run launched or can find by its tag.
    /// Failures are logged, never raised: cleanup must not hide the verdict.
    pub(super) async fn clean_up(&self) {
        let mut ids = self
            .launched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let live = self.filter(&[]).in_states([
            CloudInstanceState::Pending,
            CloudInstanceState::Running,
            CloudInstanceState::Stopping,
            CloudInstanceState::Stopped,
        ]);
        match self.provisioner().list_instances(&live).await {
            Ok(found) => ids.extend(found.into_iter().map(|i| i.instance_id)),
            Err(e) => tracing::warn!(run = %self.run_id, error = %e, "cleanup: list failed"),
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            // About 1.5 s over four retries, or what Retry-After asks.
            let mut backoff =
                crate::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            for _attempt in 0..5 {
                match self.provisioner().terminate_instance(&id).await {
                    Err(e) if e.is_retryable() => {
                        tokio::time::sleep(backoff.after(&e, Duration::from_secs(30))).await;
                    }
                    Err(e) => {
                        tracing::warn!(run = %self.run_id, %id, error = %e, "cleanup: terminate failed");
                        break;
                    }
                    Ok(()) => break,
                }
            }
        }
    }
}

/// Shares a run with a spawned task.
pub(super) type SharedRun = Arc<Run>;
