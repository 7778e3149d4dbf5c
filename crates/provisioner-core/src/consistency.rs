//! Helpers for clouds whose reads lag behind their writes.
//!
//! EC2 (and, less often, other clouds) may answer "not found" for an instance
//! it created a moment ago. A provisioner that launched the instance knows
//! better: [`RecentLaunches`] remembers the ids it launched for a short
//! window, so that describe can say `pending` instead of `terminated`, and
//! stop/start/terminate can wait for the instance to become visible instead
//! of failing or, worse, reporting a terminate that never happened.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Result;

/// Ids this provisioner launched recently, each remembered for `window`.
///
/// Uses tokio's clock, so tests with a paused clock control it.
#[derive(Debug)]
pub struct RecentLaunches {
    window: Duration,
    launched: Mutex<HashMap<String, Instant>>,
}

impl RecentLaunches {
    /// Remembers ids for `window` after their launch.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            launched: Mutex::new(HashMap::new()),
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
        let now = Instant::now();
        let mut launched = self.lock();
        // Forget expired ids here, so the map stays as small as the window.
        launched.retain(|_, at| now.duration_since(*at) < self.window);
        launched.insert(id.to_owned(), now);
    }

    /// Forgets `id`, for example because this provisioner terminated it: from
    /// then on "not found" really means gone.
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// True when `id` was launched less than `window` ago.
    pub fn contains(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|at| at.elapsed() < self.window)
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
        let mut delay = Duration::from_millis(50);
        loop {
            match op().await {
                Err(e) if e.is_not_found() && self.contains(id) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
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
    async fn not_found_is_retried_while_recent() {
        let recent = RecentLaunches::new(Duration::from_secs(10));
        recent.record("i-1");
        let calls = AtomicU32::new(0);
        let result = recent
            .retry_while_unseen("i-1", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(Error::NotFound {
                        instance_id: "i-1".into(),
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
                })
            })
            .await
            .unwrap_err();
        assert!(err.is_not_found());
    }
}
