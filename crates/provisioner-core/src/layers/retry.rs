//! [`Retry`]: retries what may succeed later, and never creates a second
//! instance doing so.

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::provider::{naming, DEFAULT_MAX_RETRY_AFTER};
use crate::{InstanceConfig, InstanceProvisioner, Result};

use super::layer;
use crate::backoff::Backoff;
use crate::Operation;

/// How a [`Retry`] layer retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (default 5).
    pub attempts: u32,
    /// The first backoff; it doubles up to `max_backoff` (default 100 ms).
    pub first_backoff: Duration,
    /// The longest backoff (default 10 s).
    pub max_backoff: Duration,
    /// The longest Retry-After waited; a longer one ends the call with the
    /// throttling error (default [`DEFAULT_MAX_RETRY_AFTER`]).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

/// A budget of retries shared by the calls of one or more [`Retry`] layers:
/// each retry spends a token, each success earns a fraction of one. When a
/// cloud fails most calls, retries stop multiplying the load on it.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: Mutex<f64>,
    max: f64,
    per_success: f64,
}

impl RetryBudget {
    /// A budget of `max` retries, earning `per_success` tokens per success.
    pub fn new(max: f64, per_success: f64) -> Self {
        Self {
            tokens: Mutex::new(max),
            max,
            per_success,
        }
    }

    /// Spends one token; false when none is left.
    pub fn withdraw(&self) -> bool {
        let mut tokens = self.lock();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Earns the reward of one success.
    pub fn deposit(&self) {
        let mut tokens = self.lock();
        *tokens = (*tokens + self.per_success).min(self.max);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, f64> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for RetryBudget {
    /// 100 retries, a tenth of a retry earned per success.
    fn default() -> Self {
        Self::new(100.0, 0.1)
    }
}

/// Retries [`Throttled`](crate::Error::Throttled) and
/// [`Unavailable`](crate::Error::Unavailable) with jittered exponential
/// backoff, or as long as the cloud's Retry-After asks (up to the policy's
/// cap). A launch without an idempotency key gets a fresh one before its
/// first attempt: every attempt then carries the same client token or
/// instance name, so a retry after a lost answer returns the instance the
/// first attempt created instead of creating another.
#[derive(Clone)]
pub struct Retry {
    inner: Arc<dyn InstanceProvisioner>,
    policy: RetryPolicy,
    budget: Arc<RetryBudget>,
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner.name())
            .field("policy", &self.policy)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Retry {
    /// Wraps `inner` with the default policy and a budget of its own.
    pub fn new(inner: Arc<dyn InstanceProvisioner>) -> Self {
        Self {
            inner,
            policy: RetryPolicy::default(),
            budget: Arc::new(RetryBudget::default()),
        }
    }

    /// Retries as `policy` says.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Spends retries from `budget` (share one among layers over one cloud).
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    fn keyed<'c>(&self, config: &'c InstanceConfig) -> Cow<'c, InstanceConfig> {
        if config.idempotency_key.is_some() {
            return Cow::Borrowed(config);
        }
        let mut config = config.clone();
        config.idempotency_key = Some(naming::fresh_token("retry"));
        Cow::Owned(config)
    }

    async fn around<T, F, Fut>(&self, _op: Operation, _id: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff = Backoff::new(self.policy.first_backoff, self.policy.max_backoff);
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => {
                    self.budget.deposit();
                    return Ok(value);
                }
                Err(e) if e.is_retryable() && attempt < self.policy.attempts => {
                    // A Retry-After longer than the policy takes ends the
                    // retries: the caller decides what to do with so long.
                    let own = Backoff::jittered(backoff.next_pause());
                    let wait = match e.retry_after() {
                        Some(asked) if asked > self.policy.max_retry_after => return Err(e),
                        Some(asked) => asked,
                        None => own,
                    };
                    if !self.budget.withdraw() {
                        return Err(e);
                    }
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

layer!(Retry, launch = |layer: &Retry, config| layer.keyed(config));
