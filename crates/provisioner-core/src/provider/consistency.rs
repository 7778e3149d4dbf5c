//! Helpers for clouds whose reads lag behind their writes.
//!
//! EC2 (and, less often, other clouds) may answer "not found" for an instance
//! it created a moment ago. A provisioner that launched the instance knows
//! better: [`RecentLaunches`] remembers the ids it launched for a short
//! window, so that describe can say `pending` instead of `terminated`, and
//! stop/start/terminate can wait for the instance to become visible instead
//! of failing or, worse, reporting a terminate that never happened.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Result;

/// Keys remembered for a fixed time after they were last inserted, each
/// with a value. Bookkeeping is amortised O(1): a queue in insertion order
/// drops expired keys from its front, never scanning the whole map, so the
/// cost of an insert does not grow with the number of keys.
///
/// Uses tokio's clock, so tests with a paused clock control it. Not
/// synchronised: wrap it in a `Mutex` to share it.
#[derive(Debug)]
pub struct Expiring<V> {
    ttl: Duration,
    entries: HashMap<String, (V, Instant)>,
    /// (inserted at, key), oldest first; an entry whose key was inserted
    /// again later is stale and skipped.
    queue: VecDeque<(Instant, String)>,
}

impl<V> Expiring<V> {
    /// Keys live `ttl` after their last insert.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: HashMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// How long keys live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Remembers `key` with `value` from now on, replacing what it had.
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let now = Instant::now();
        self.forget_expired(now);
        let key = key.into();
        self.queue.push_back((now, key.clone()));
        self.entries.insert(key, (value, now));
    }

    /// The value of `key`, unless it expired.
    pub fn get(&mut self, key: &str) -> Option<&V> {
        self.forget_expired(Instant::now());
        self.entries.get(key).map(|(value, _)| value)
    }

    /// True when `key` is remembered and has not expired.
    pub fn contains(&mut self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Forgets `key` now.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.entries.remove(key).map(|(value, _)| value)
    }

    /// Every value remembered and not expired, in no particular order.
    pub fn values(&mut self) -> impl Iterator<Item = &V> {
        self.forget_expired(Instant::now());
        self.entries.values().map(|(value, _)| value)
    }

    /// How many keys are remembered (expired ones may still count until the
    /// next insert or read).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some((at, _)) = self.queue.front() {
            if now.duration_since(*at) < self.ttl {
                break;
            }
            if let Some((at, key)) = self.queue.pop_front() {
                if self.entries.get(&key).is_some_and(|(_, last)| *last == at) {
                    self.entries.remove(&key);
                }
            }
        }
    }
}

/// Ids this provisioner launched recently, each remembered for `window`.
///
/// Uses tokio's clock, so tests with a paused clock control it.
#[derive(Debug)]
pub struct RecentLaunches {
    window: Duration,
    launched: Mutex<Expiring<()>>,
}

impl RecentLaunches {
    /// Remembers ids for `window` after their launch.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            launched: Mutex::new(Expiring::new(window)),
        }
    }

    /// The window this tracker was built with.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Records that `id` was launched now.
    pub fn record(&self, id: &str) {
        if self.window.is_zero() {
            return;
        }
        // Amortised O(1): expired ids leave from the front of a queue.
        self.lock().insert(id, ());
    }

    /// Forgets `id`, for example because this provisioner terminated it: from
    /// then on "not found" really means gone.
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// True when `id` was launched less than `window` ago.
    pub fn contains(&self, id: &str) -> bool {
        !self.window.is_zero() && self.lock().contains(id)
    }

    /// Runs `op`, and while it fails with [`NotFound`](crate::Error::NotFound)
    /// for a recently launched `id`, waits with backoff and runs it again.
    /// Any other result, or "not found" once the window has passed, is
    /// returned as it is.
    pub async fn retry_while_unseen<T, F, Fut>(&self, id: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoff =
            crate::backoff::Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        loop {
            match op().await {
                Err(e) if e.is_not_found() && self.contains(id) => {
                    tokio::time::sleep(backoff.next_pause()).await;
                }
                other => return other,
            }
        }
    }

    /// Runs a terminate call `op` for `id` the way the contract wants it:
    /// waits out "not found" while `id` is a recent launch (so that an
    /// instance that still runs is never reported terminated), then treats
    /// "not found" as done, and forgets `id`.
    pub async fn terminate<T, F, Fut>(&self, id: &str, op: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match self.retry_while_unseen(id, op).await {
            Ok(_) | Err(crate::Error::NotFound { .. }) => {
                self.forget(id);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Expiring<()>> {
        // The map holds plain data that a panic cannot leave half-written.
        self.launched.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn ids_are_remembered_for_the_window_only() {
        let recent = RecentLaunches::new(Duration::from_secs(10));
        recent.record("i-1");
        assert!(recent.contains("i-1"));
        assert!(!recent.contains("i-2"));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!recent.contains("i-1"));
        recent.record("i-3");
        recent.forget("i-3");
        assert!(!recent.contains("i-3"));
    }

    #[tokio::test(start_paused = true)]
    async fn expiring_keys_leave_without_a_scan_and_reinserts_renew_them() {
        let mut keys = Expiring::new(Duration::from_secs(10));
        keys.insert("a", 1);
        tokio::time::advance(Duration::from_secs(6)).await;
        keys.insert("b", 2);
        keys.insert("a", 3);
        tokio::time::advance(Duration::from_secs(6)).await;
        // "a" was renewed 6 s ago; its first entry, 12 s old, is stale.
        assert_eq!(keys.get("a"), Some(&3));
        assert_eq!(keys.get("b"), Some(&2));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(keys.get("a"), None);
        assert!(keys.is_empty());
        assert!(keys.queue.is_empty(), "expired entries leave the queue too");
        keys.insert("c", 4);
        assert_eq!(keys.remove("c"), Some(4));
        assert!(!keys.contains("c"));
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_is_retried_while_recent() {
        let recent = RecentLaunches::new(Duration::from_secs(10));
        recent.record("i-1");
        let calls = AtomicU32::new(0);
        let result = recent
            .retry_while_unseen("i-1", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(Error::NotFound {
                        instance_id: "i-1".into(),
                        context: None,
                    })
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        // Unknown ids fail at once.
        let err = recent
            .retry_while_unseen("i-2", || async {
                Err::<(), _>(Error::NotFound {
                    instance_id: "i-2".into(),
                    context: None,
                })
            })
            .await
            .unwrap_err();
        assert!(err.is_not_found());
    }

    #[tokio::test(start_paused = true)]
    async fn terminate_treats_not_found_as_done_once_seen_or_old() {
        let recent = RecentLaunches::new(Duration::from_secs(10));
        recent.record("i-1");
        let calls = AtomicU32::new(0);
        let not_found_twice = || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Error::NotFound {
                    instance_id: "i-1".into(),
                    context: None,
                })
            } else {
                Ok(())
            }
        };
        recent.terminate("i-1", not_found_twice).await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "waited for the launch to appear"
        );
        assert!(!recent.contains("i-1"), "forgotten once terminated");
        let gone = || async {
            Err::<(), _>(Error::NotFound {
                instance_id: "i-2".into(),
                context: None,
            })
        };
        recent.terminate("i-2", gone).await.unwrap();
        let denied = || async {
            Err::<(), _>(Error::PermissionDenied {
                message: "no".into(),
                context: None,
            })
        };
        assert!(recent.terminate("i-3", denied).await.is_err());
    }
}
