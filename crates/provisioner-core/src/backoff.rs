//! [`Backoff`]: the one doubling pause every retry and poll loop of this
//! workspace waits with (the retry layer, batching, the sweep, the waits,
//! the consistency window, the contract's polls, the soak).
//!
//! A loop asks for the pause before its next try: [`next_pause`](Backoff::next_pause)
//! for a poll, [`after`](Backoff::after) for a retry after an error, which
//! honours the error's Retry-After up to a cap. Either way the pause then
//! doubles, up to a most. [`jittered`](Backoff::jittered) spreads a pause
//! over half to all of it, so that callers refused together do not come
//! back together. Loops keep their own attempt counts and deadlines: those
//! differ by job; the pauses do not.

use std::time::Duration;

use crate::Error;

/// Doubling pauses from a first one up to a most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
    most: Duration,
}

impl Backoff {
    /// Pauses of `first`, then twice that, and so on, never over `most`.
    pub fn new(first: Duration, most: Duration) -> Self {
        Self {
            next: first.min(most),
            most,
        }
    }

    /// The pause before the next try; the one after will be twice as long
    /// (up to the most).
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = self.next.saturating_mul(2).min(self.most);
        pause
    }

    /// The pause before retrying after `error`: its Retry-After when it
    /// has one, else this backoff's own pause; never over `cap`. The own
    /// pause doubles either way.
    pub fn after(&mut self, error: &Error, cap: Duration) -> Duration {
        let own = self.next_pause();
        error.retry_after().unwrap_or(own).min(cap)
    }

    /// `pause` spread over half to all of it, at random.
    pub fn jittered(pause: Duration) -> Duration {
        // A fresh `RandomState` is keyed anew for each use: random enough
        // to spread retries, with no generator to share.
        use std::hash::BuildHasher as _;
        let draw = std::collections::hash_map::RandomState::new().hash_one(pause);
        let fraction = 0.5 + (draw % 1000) as f64 / 2000.0;
        pause.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pauses_double_up_to_the_most() {
        let mut b = Backoff::new(50 * MS, 300 * MS);
        let pauses: Vec<Duration> = (0..5).map(|_| b.next_pause()).collect();
        assert_eq!(pauses, [50 * MS, 100 * MS, 200 * MS, 300 * MS, 300 * MS]);
        // A first pause over the most is the most; a huge most never
        // overflows.
        assert_eq!(Backoff::new(MS * 9, MS * 5).next_pause(), MS * 5);
        let mut long = Backoff::new(Duration::MAX, Duration::MAX);
        long.next_pause();
        assert_eq!(long.next_pause(), Duration::MAX);
    }

    #[test]
    fn a_retry_after_wins_up_to_the_cap_and_the_own_pause_still_doubles() {
        let throttled = |after: Option<Duration>| Error::Throttled {
            retry_after: after,
            message: "slow down".into(),
            context: None,
        };
        let mut b = Backoff::new(10 * MS, Duration::from_secs(1));
        assert_eq!(
            b.after(&throttled(Some(70 * MS)), Duration::from_secs(5)),
            70 * MS
        );
        assert_eq!(b.after(&throttled(None), Duration::from_secs(5)), 20 * MS);
        assert_eq!(
            b.after(
                &throttled(Some(Duration::from_secs(60))),
                Duration::from_secs(5)
            ),
            Duration::from_secs(5)
        );
        assert_eq!(b.next_pause(), 80 * MS);
    }

    #[test]
    fn jitter_stays_within_half_to_all() {
        for _ in 0..200 {
            let j = Backoff::jittered(100 * MS);
            assert!(j >= 50 * MS && j <= 100 * MS, "{j:?}");
        }
    }
}
