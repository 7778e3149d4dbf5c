//! One slot's cycle: launch, describe, stop and start, terminate, with
//! the soak's dice, the cloud's reclaims and the caller's trace.

use super::*;

/// The soak's own choices, from the fake's seeded generator.
pub(super) struct Dice(pub(super) SplitMix64);

impl Dice {
    pub(super) fn roll(&mut self) -> u64 {
        self.0.next_u64()
    }

    pub(super) fn percent(&mut self, p: u64) -> bool {
        self.roll() % 100 < p
    }
}

/// What one slot's cycle ended with.
#[derive(Debug, Default)]
pub(super) struct Cycle {
    /// What the caller did and saw, in order, on the cloud's clock: printed
    /// for a slot that leaked or duplicated.
    pub(super) trace: Vec<(Duration, String)>,
    /// The caller gave up on the launch and never learned its id.
    pub(super) cancelled: bool,
    pub(super) failed_after_acceptance: bool,
    pub(super) errors_to_caller: usize,
    pub(super) reclaimed: bool,
    /// Reclaimed, and describe did not say so.
    pub(super) reclaim_unseen: bool,
    /// Its start could not be placed, and the caller was told so.
    pub(super) start_failed: bool,
    /// Its start failed, and the caller was told something else.
    pub(super) start_untyped: bool,
    /// The instance the caller learned of, if any.
    pub(super) id: Option<String>,
}

/// The cloud's part in one slot's cycle: whether it reclaims the instance
/// once it runs, and how; and its clock, for the caller's trace.
pub(super) struct Reclaimer {
    pub(super) faults: Arc<dyn FaultInjector>,
    pub(super) reclaim: bool,
    pub(super) cloud: FakeCloud,
}

/// What the caller did and saw, stamped with the cloud's clock so that it
/// lines up with the cloud's call log.
pub(super) struct Trace<'a> {
    pub(super) cloud: &'a FakeCloud,
    pub(super) lines: Vec<(Duration, String)>,
}

impl Trace<'_> {
    pub(super) fn note(&mut self, what: impl std::fmt::Display) {
        self.lines
            .push((self.cloud.elapsed(), format!("caller: {what}")));
    }

    pub(super) fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(
        &mut self,
        call: &str,
        result: &Result<T, E>,
    ) {
        match result {
            Ok(value) => self.note(format_args!("{call} -> {value:?}")),
            Err(e) => self.note(format_args!("{call} -> error: {e}")),
        }
    }
}

/// Calls `call` until it succeeds, fails for good, or `ATTEMPTS` pass;
/// counts and traces each error that reached the caller, and traces the
/// answer.
pub(super) async fn retried<T: std::fmt::Debug, F, Fut>(
    errors: &mut usize,
    trace: &mut Trace<'_>,
    name: &str,
    mut call: F,
) -> CoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = CoreResult<T>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(500));
    let mut attempt = 1;
    loop {
        let result = call().await;
        trace.outcome(name, &result);
        match result {
            Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                *errors += 1;
                tokio::time::sleep(backoff.after(&e, Duration::from_secs(2))).await;
                attempt += 1;
            }
            Err(e) => {
                *errors += 1;
                return Err(e);
            }
            ok => return ok,
        }
    }
}

pub(super) async fn cycle(
    p: Arc<dyn InstanceProvisioner>,
    config: InstanceConfig,
    seed: u64,
    cloud: Reclaimer,
) -> Cycle {
    let mut dice = Dice(SplitMix64::new(seed));
    let mut outcome = Cycle::default();
    let mut trace = Trace {
        cloud: &cloud.cloud,
        lines: Vec::new(),
    };
    let errors = &mut outcome.errors_to_caller;
    let key = config.idempotency_key.as_deref().unwrap_or("none");
    // One launch in twenty is abandoned at a random moment: the caller
    // never learns whether an instance was created. One that answers in
    // time is used as any other.
    let mut first = None;
    if dice.percent(5) {
        let patience = Duration::from_millis(dice.roll() % 40);
        trace.note(format_args!(
            "launch (key {key}), giving up after {patience:?}"
        ));
        match tokio::time::timeout(patience, p.launch_instance(&config)).await {
            Ok(Ok(info)) => {
                trace.note(format_args!("launch -> {}", info.instance_id));
                first = Some(info);
            }
            Ok(Err(e)) => {
                trace.note(format_args!("launch -> error: {e}"));
                *errors += 1;
            }
            Err(_) => {
                trace.note("gave up on the launch");
                outcome.cancelled = true;
                outcome.trace = trace.lines;
                return outcome;
            }
        }
    }
    let info = match first {
        Some(info) => info,
        None => {
            let launch = format!("launch (key {key})");
            match retried(errors, &mut trace, &launch, || p.launch_instance(&config)).await {
                Ok(info) => info,
                Err(_) => {
                    outcome.trace = trace.lines;
                    return outcome;
                }
            }
        }
    };
    let id = info.instance_id;
    let running = p.wait_until_running(&id, Duration::from_secs(120)).await;
    trace.outcome("wait_until_running", &running.as_ref().map(|s| s.state));
    match running {
        Err(Error::InsufficientCapacity { .. } | Error::QuotaExceeded { .. }) => {
            outcome.failed_after_acceptance = true;
        }
        Err(_) => *errors += 1,
        Ok(_) if cloud.reclaim && cloud.faults.reclaim(&id).await => {
            trace.note("the cloud reclaimed it");
            outcome.reclaimed = true;
            let ends = [CloudInstanceState::Stopped, CloudInstanceState::Terminated];
            let seen = p.wait_for_state(&id, &ends, Duration::from_secs(120)).await;
            trace.outcome(
                "wait_for_state(stopped|terminated)",
                &seen.as_ref().map(|s| (s.state, s.reclaimed)),
            );
            outcome.reclaim_unseen = !seen.is_ok_and(|status| status.reclaimed);
        }
        Ok(_) => {
            // A stop the cloud refuses (EC2 stops no one-time Spot
            // Instance) leaves nothing to wait for.
            if dice.percent(10)
                && retried(errors, &mut trace, "stop", || p.stop_instance(&id))
                    .await
                    .is_ok()
            {
                let stopped = p
                    .wait_for_state(
                        &id,
                        &[CloudInstanceState::Stopped],
                        Duration::from_secs(120),
                    )
                    .await;
                trace.outcome(
                    "wait_for_state(stopped)",
                    &stopped.as_ref().map(|s| s.state),
                );
                if stopped.is_ok() {
                    let started =
                        retried(errors, &mut trace, "start", || p.start_instance(&id)).await;
                    let running = match started {
                        Ok(_) => {
                            let running = p.wait_until_running(&id, Duration::from_secs(120)).await;
                            trace.outcome(
                                "wait_until_running (after start)",
                                &running.as_ref().map(|s| s.state),
                            );
                            running.map(|_| ())
                        }
                        Err(e) => Err(e),
                    };
                    match running {
                        Ok(()) => {}
                        Err(Error::InsufficientCapacity { .. } | Error::QuotaExceeded { .. }) => {
                            outcome.start_failed = true;
                        }
                        // A wait that ran out, or an instance gone: the
                        // failure was not told as one.
                        Err(Error::DeadlineExceeded { .. } | Error::InvalidState { .. }) => {
                            outcome.start_untyped = true;
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    }
    let _ = retried(errors, &mut trace, "terminate", || {
        p.terminate_instance(&id)
    })
    .await;
    outcome.id = Some(id);
    outcome.trace = trace.lines;
    outcome
}
