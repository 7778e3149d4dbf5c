//! [`Deadlines`]: how long one call to a cloud may take.
//!
//! A call that hangs (a connection that never answers) must not hang the
//! fleet's control loop. Every provider bounds each attempt of a request and
//! the whole call, retries included. When a deadline passes the call fails
//! with [`Error::Unavailable`](crate::Error::Unavailable): the outcome of a
//! mutating call is unknown, and retrying it is safe because every launch
//! retries with the same client token, name or request id.

use std::time::Duration;

/// The deadlines of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The longest one attempt (one HTTP request) may take.
    pub attempt: Duration,
    /// The longest the whole call may take, retries and their waits
    /// included.
    pub total: Duration,
}

impl Deadlines {
    /// Deadlines of `attempt` per attempt and `total` per call.
    pub const fn new(attempt: Duration, total: Duration) -> Self {
        Self { attempt, total }
    }
}

impl Default for Deadlines {
    /// 30 s per attempt, 120 s per call: far above what a healthy cloud
    /// takes to answer (it answers a launch once accepted, never after the
    /// boot), far below what a stuck control loop can afford.
    fn default() -> Self {
        Self::new(Duration::from_secs(30), Duration::from_secs(120))
    }
}
