//! Long-running operations, as every face that has them sees them: an
//! operation is done once the model has taken the instance where the call
//! asked, and its record is kept an hour in a [`Registry`]. Each face keeps
//! its own record type and wire names around these.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use provisioner_core::provider::consistency::Expiring;
use provisioner_core::CloudInstanceState::{self, *};

/// How long an operation record is kept (and answers), as the clouds keep
/// theirs for about an hour.
pub(crate) const OPERATION_LIFETIME: Duration = Duration::from_secs(3600);

/// The operations one face started: a counter for their names, and the
/// records by name, each kept [`OPERATION_LIFETIME`].
#[derive(Debug)]
pub(crate) struct Registry<R> {
    next: AtomicU64,
    records: Mutex<Expiring<R>>,
}

impl<R> Default for Registry<R> {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            records: Mutex::new(Expiring::new(OPERATION_LIFETIME)),
        }
    }
}

impl<R: Clone> Registry<R> {
    /// The number of the next operation: 1, 2, … (saturating).
    pub(crate) fn next_number(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    /// Keeps `record` under `name`.
    pub(crate) fn insert(&self, name: &str, record: R) {
        self.lock().insert(name, record);
    }

    /// Every record kept, in no particular order.
    pub(crate) fn values(&self) -> Vec<R> {
        self.lock().values().cloned().collect()
    }

    /// The record `name`, while it is kept.
    pub(crate) fn get(&self, name: &str) -> Option<R> {
        self.lock().get(name).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Expiring<R>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a long-running operation does to its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Create (Compute Engine's insert, ARM's PUT).
    Create,
    /// Delete.
    Delete,
    /// Start.
    Start,
    /// Stop (or deallocate, or power off).
    Stop,
    /// An in-place change (labels, metadata): done once applied, which is
    /// when it is answered.
    Update,
}

impl Change {
    /// True once the instance, whose state is `now` (`None` when it is
    /// gone), is where this change takes it.
    pub(crate) fn is_done(self, now: Option<CloudInstanceState>) -> bool {
        match (self, now) {
            (Self::Update, _) | (Self::Delete, None | Some(Terminated)) | (_, None) => true,
            (Self::Delete, _) => false,
            (Self::Create | Self::Start, Some(state)) => state != Pending,
            (Self::Stop, Some(state)) => state != Stopping,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_when_the_instance_got_there() {
        assert!(!Change::Create.is_done(Some(Pending)));
        assert!(Change::Create.is_done(Some(Running)));
        assert!(!Change::Stop.is_done(Some(Stopping)));
        assert!(Change::Stop.is_done(Some(Stopped)));
        assert!(!Change::Delete.is_done(Some(Terminating)));
        assert!(Change::Delete.is_done(None));
        assert!(Change::Delete.is_done(Some(Terminated)));
    }
}
