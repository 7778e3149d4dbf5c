//! [`RateLimit`]: a token bucket per operation (governor), and a hold on an
//! operation the cloud has just throttled.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::{Error, InstanceProvisioner, Operation, Result};

use super::layer;

/// One token bucket: `burst` calls at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The most calls let through at once.
    pub burst: u32,
    /// Calls per second, on average (may be below 1).
    pub per_second: f64,
}

impl Bucket {
    /// A bucket of `burst`, refilled at `per_second`.
    pub const fn new(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }

    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(1.0 / self.per_second.max(1e-6));
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// Buckets per operation, and how long to hold an operation back after the
/// cloud throttled it without saying for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitPolicy {
    buckets: HashMap<Operation, Bucket>,
    /// The hold after a `Throttled` without Retry-After.
    pub default_hold: Duration,
    /// The longest hold, whatever Retry-After says.
    pub max_hold: Duration,
}

impl Default for RateLimitPolicy {
    /// No buckets (no operation is limited until throttled); a hold of 1 s
    /// after an unexplained throttle, 60 s at most.
    fn default() -> Self {
        Self {
            buckets: HashMap::new(),
            default_hold: Duration::from_secs(1),
            max_hold: crate::provider::DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RateLimitPolicy {
    /// Limits `op` with `bucket`.
    pub fn with(mut self, op: Operation, bucket: Bucket) -> Self {
        self.buckets.insert(op, bucket);
        self
    }

    fn reads_and_writes(reads: Bucket, writes: Bucket) -> Self {
        use Operation::*;
        let mut policy = Self::default();
        for op in [Describe, List] {
            policy = policy.with(op, reads);
        }
        for op in [Launch, Terminate, Stop, Start] {
            policy = policy.with(op, writes);
        }
        policy
    }

    /// EC2's documented request token buckets, per account and region:
    /// non-mutating actions (DescribeInstances) 100 tokens refilled at 20
    /// a second; the resource-intensive RunInstances, TerminateInstances,
    /// StartInstances and StopInstances 50 refilled at 5.
    pub fn ec2() -> Self {
        Self::reads_and_writes(Bucket::new(100, 20.0), Bucket::new(50, 5.0))
    }

    /// Compute Engine's per-project request quotas are per minute and set
    /// per project; these buckets stay below the defaults: reads 100 at
    /// once and 20 a second, writes 20 at once and 5 a second.
    pub fn gcp() -> Self {
        Self::reads_and_writes(Bucket::new(100, 20.0), Bucket::new(20, 5.0))
    }

    /// Azure Resource Manager's token buckets per subscription and region:
    /// reads 250 refilled at 25 a second, writes (and deletes) 200 refilled
    /// at 10.
    pub fn azure() -> Self {
        Self::reads_and_writes(Bucket::new(250, 25.0), Bucket::new(200, 10.0))
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Lets calls through as their operation's token bucket allows, waiting for
/// a token otherwise; after a call comes back `Throttled`, holds that
/// operation back for the Retry-After the cloud gave (or the policy's
/// default hold), so that callers slow down together instead of each
/// finding out on its own.
pub struct RateLimit {
    inner: Arc<dyn InstanceProvisioner>,
    limiters: HashMap<Operation, Limiter>,
    policy: RateLimitPolicy,
    held_until: Mutex<HashMap<Operation, Instant>>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner.name())
            .field("policy", &self.policy)
            .finish()
    }
}

impl RateLimit {
    /// Wraps `inner` with `policy`'s buckets.
    pub fn new(inner: Arc<dyn InstanceProvisioner>, policy: RateLimitPolicy) -> Self {
        let limiters = policy
            .buckets
            .iter()
            .map(|(op, bucket)| (*op, RateLimiter::direct(bucket.quota())))
            .collect();
        Self {
            inner,
            limiters,
            policy,
            held_until: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<Operation, Instant>> {
        self.held_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn around<T, F, Fut>(&self, op: Operation, _id: &str, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let hold = self.held().get(&op).copied();
        if let Some(until) = hold {
            tokio::time::sleep_until(until).await;
        }
        if let Some(limiter) = self.limiters.get(&op) {
            limiter.until_ready().await;
        }
        let result = call().await;
        if let Err(Error::Throttled { retry_after, .. }) = &result {
            let hold = retry_after
                .unwrap_or(self.policy.default_hold)
                .min(self.policy.max_hold);
            let until = Instant::now() + hold;
            let mut held = self.held();
            let entry = held.entry(op).or_insert(until);
            *entry = (*entry).max(until);
        }
        result
    }
}

layer!(RateLimit);
