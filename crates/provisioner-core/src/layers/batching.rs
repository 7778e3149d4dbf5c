//! [`Batching`]: concurrent single describes and terminates coalesced into
//! the batch calls of the wrapped provisioner.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::{
    Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner, InstanceStatus,
    Result,
};

/// When a batch is sent, and how a failed batch is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchPolicy {
    /// A batch is sent once no call joined it for this long.
    pub idle: Duration,
    /// A batch is sent at the latest this long after its first call.
    pub max_wait: Duration,
    /// A batch is sent at once when it holds this many calls.
    pub max_items: usize,
    /// How many times a batch that failed as a whole with a retryable error
    /// is sent again, by the layer, before its callers get the error.
    pub batch_retries: u32,
    /// The first pause before a batch is sent again, doubled each time,
    /// when the cloud gave no Retry-After.
    pub retry_pause: Duration,
}

impl Default for BatchPolicy {
    /// Karpenter's defaults for its EC2 describe batcher: 100 ms idle, 1 s
    /// at most, 500 calls; two retries of a failed batch from 200 ms.
    fn default() -> Self {
        Self {
            idle: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            max_items: 500,
            batch_retries: 2,
            retry_pause: Duration::from_millis(200),
        }
    }
}

impl BatchPolicy {
    /// With these windows and size.
    pub fn new(idle: Duration, max_wait: Duration, max_items: usize) -> Self {
        Self {
            idle,
            max_wait,
            max_items: max_items.max(1),
            ..Self::default()
        }
    }

    /// With this many retries of a batch that failed as a whole.
    pub fn with_batch_retries(mut self, retries: u32) -> Self {
        self.batch_retries = retries;
        self
    }
}

/// Coalesces concurrent [`describe_instance`](InstanceProvisioner::describe_instance)
/// and [`terminate_instance`](InstanceProvisioner::terminate_instance)
/// calls into the wrapped provisioner's
/// [`describe_instances`](InstanceProvisioner::describe_instances) and
/// [`terminate_instances`](InstanceProvisioner::terminate_instances), as
/// Karpenter's batcher does for EC2: a fleet that polls 1,000 instances
/// makes two requests a round instead of 1,000.
///
/// A batch is sent when no call joined it for [`BatchPolicy::idle`], at the
/// latest [`BatchPolicy::max_wait`] after its first call, or at once when it
/// holds [`BatchPolicy::max_items`]. Each caller gets its own id's result:
/// one id's failure fails no other caller.
///
/// A batch that fails as a whole with a retryable error (throttled) is sent
/// again by the layer, after the cloud's Retry-After or a doubling pause,
/// before any caller hears of it: one throttled batch does not hand the
/// error to hundreds of callers at once for all of them to retry in the
/// same instant (the amplification of Karpenter issue 9175). When the
/// retries are spent every caller gets the error.
///
/// Batches run on their own task, so a caller that gives up (a dropped
/// future, a timeout) never cancels the call of the others. Other calls
/// pass straight through.
pub struct Batching {
    inner: Arc<dyn InstanceProvisioner>,
    describes: Arc<Queue<InstanceStatus>>,
    terminates: Arc<Queue<()>>,
}

impl fmt::Debug for Batching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batching")
            .field("inner", &self.inner.name())
            .field("policy", &self.describes.policy)
            .finish()
    }
}

impl Batching {
    /// Wraps `inner` with [`BatchPolicy::default`].
    pub fn new(inner: Arc<dyn InstanceProvisioner>) -> Self {
        Self::with_policy(inner, BatchPolicy::default())
    }

    /// Wraps `inner` with `policy`.
    pub fn with_policy(inner: Arc<dyn InstanceProvisioner>, policy: BatchPolicy) -> Self {
        Self {
            describes: Queue::new(Arc::clone(&inner), policy, describe_batch),
            terminates: Queue::new(Arc::clone(&inner), policy, terminate_batch),
            inner,
        }
    }
}

type BatchCall<T> =
    fn(Arc<dyn InstanceProvisioner>, Vec<String>) -> BoxFuture<'static, Result<Vec<Result<T>>>>;

fn describe_batch(
    inner: Arc<dyn InstanceProvisioner>,
    ids: Vec<String>,
) -> BoxFuture<'static, Result<Vec<Result<InstanceStatus>>>> {
    Box::pin(async move {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        inner.describe_instances(&ids).await
    })
}

fn terminate_batch(
    inner: Arc<dyn InstanceProvisioner>,
    ids: Vec<String>,
) -> BoxFuture<'static, Result<Vec<Result<()>>>> {
    Box::pin(async move {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        inner.terminate_instances(&ids).await
    })
}

/// The calls of one kind waiting for their batch.
struct Queue<T> {
    inner: Arc<dyn InstanceProvisioner>,
    policy: BatchPolicy,
    call: BatchCall<T>,
    open: Mutex<Option<Open<T>>>,
}

/// The batch being filled.
struct Open<T> {
    /// Tells this batch from the next one, for its flusher.
    generation: u64,
    opened: Instant,
    last_joined: Instant,
    waiters: Vec<(String, oneshot::Sender<Result<T>>)>,
}

impl<T> Open<T> {
    fn due(&self, policy: &BatchPolicy) -> Instant {
        (self.last_joined + policy.idle).min(self.opened + policy.max_wait)
    }
}

impl<T: Clone + Send + 'static> Queue<T> {
    fn new(
        inner: Arc<dyn InstanceProvisioner>,
        policy: BatchPolicy,
        call: BatchCall<T>,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner,
            policy,
            call,
            open: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Open<T>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins `id` to the open batch (opening one, with its flusher, when
    /// there is none) and waits for its result.
    async fn join(self: &Arc<Self>, id: &str) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let full = {
            let mut open = self.lock();
            let now = Instant::now();
            let batch = open.get_or_insert_with(|| {
                let generation = NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(Arc::clone(self).flush_when_due(generation));
                Open {
                    generation,
                    opened: now,
                    last_joined: now,
                    waiters: Vec::new(),
                }
            });
            batch.waiters.push((id.to_owned(), tx));
            batch.last_joined = now;
            if batch.waiters.len() >= self.policy.max_items {
                open.take()
            } else {
                None
            }
        };
        if let Some(batch) = full {
            tokio::spawn(Arc::clone(self).send(batch.waiters));
        }
        rx.await.unwrap_or_else(|_| {
            Err(Error::Unavailable {
                message: "the batch this call joined ended without an answer".to_owned(),
                context: None,
            })
        })
    }

    /// Sends the batch `generation` once it is due, unless it was sent full.
    async fn flush_when_due(self: Arc<Self>, generation: u64) {
        loop {
            let due = match &*self.lock() {
                Some(open) if open.generation == generation => open.due(&self.policy),
                _ => return,
            };
            tokio::time::sleep_until(due).await;
            let ready = {
                let mut open = self.lock();
                match &*open {
                    Some(batch)
                        if batch.generation == generation
                            && Instant::now() >= batch.due(&self.policy) =>
                    {
                        open.take()
                    }
                    Some(batch) if batch.generation == generation => None,
                    _ => return,
                }
            };
            if let Some(batch) = ready {
                self.send(batch.waiters).await;
                return;
            }
        }
    }

    /// One batch call for `waiters` (each id once), retried as a whole on a
    /// retryable failure, then each waiter's own result.
    async fn send(self: Arc<Self>, waiters: Vec<(String, oneshot::Sender<Result<T>>)>) {
        let mut unique: Vec<String> = Vec::with_capacity(waiters.len());
        let mut position: HashMap<String, usize> = HashMap::with_capacity(waiters.len());
        for (id, _) in &waiters {
            if !position.contains_key(id) {
                position.insert(id.clone(), unique.len());
                unique.push(id.clone());
            }
        }
        let mut attempt = 0;
        let mut backoff = crate::backoff::Backoff::new(self.policy.retry_pause, Duration::MAX);
        let outcome = loop {
            match (self.call)(Arc::clone(&self.inner), unique.clone()).await {
                Err(e) if e.is_retryable() && attempt < self.policy.batch_retries => {
                    attempt += 1;
                    tokio::time::sleep(backoff.after(&e, Duration::MAX)).await;
                }
                Ok(results) if results.len() != unique.len() => {
                    break Err(Error::Unavailable {
                        message: format!(
                            "the batch of {} ids was answered with {} results",
                            unique.len(),
                            results.len()
                        ),
                        context: None,
                    })
                }
                other => break other,
            }
        };
        match outcome {
            Ok(results) => {
                for (id, tx) in waiters {
                    let result = match &results[position[&id]] {
                        Ok(value) => Ok(value.clone()),
                        Err(e) => Err(e.clone()),
                    };
                    // A caller that gave up no longer listens.
                    let _ = tx.send(result);
                }
            }
            Err(e) => {
                for (_, tx) in waiters {
                    let _ = tx.send(Err(e.clone()));
                }
            }
        }
    }
}

static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[async_trait::async_trait]
impl InstanceProvisioner for Batching {
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        self.inner.launch_instance(config).await
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        self.terminates.join(instance_id).await
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        self.inner.stop_instance(instance_id).await
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        self.inner.start_instance(instance_id).await
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        self.describes.join(instance_id).await
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        self.inner.list_instances(filter).await
    }

    async fn describe_instances(
        &self,
        instance_ids: &[&str],
    ) -> Result<Vec<Result<InstanceStatus>>> {
        self.inner.describe_instances(instance_ids).await
    }

    async fn terminate_instances(&self, instance_ids: &[&str]) -> Result<Vec<Result<()>>> {
        self.inner.terminate_instances(instance_ids).await
    }

    async fn list_orphans(&self) -> Result<Vec<crate::Orphan>> {
        self.inner.list_orphans().await
    }

    async fn delete_orphan(&self, orphan: &crate::Orphan) -> Result<()> {
        self.inner.delete_orphan(orphan).await
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
