//! The call log: what was asked of the model, for assertions in tests.

use std::collections::VecDeque;
use std::time::Duration;

use crate::Operation;

/// One call to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The operation.
    pub op: Operation,
    /// The instance id the call named, if any.
    pub instance_id: Option<String>,
    /// When, on the model's clock, since the model was created.
    pub at: Duration,
    /// True when the call succeeded.
    pub ok: bool,
}

/// Per-operation counts of every call ever made, and the most recent calls
/// in full (bounded, so that a benchmark of millions of calls stays small).
#[derive(Debug, Clone)]
pub(crate) struct CallLog {
    counts: [u64; 6],
    recent: VecDeque<CallRecord>,
    capacity: usize,
}

impl CallLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            counts: [0; 6],
            recent: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn record(
        &mut self,
        op: Operation,
        instance_id: Option<&str>,
        at: Duration,
        ok: bool,
    ) {
        self.counts[op.index()] += 1;
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(CallRecord {
            op,
            instance_id: instance_id.map(str::to_owned),
            at,
            ok,
        });
    }

    pub(crate) fn count(&self, op: Operation) -> u64 {
        self.counts[op.index()]
    }

    pub(crate) fn recent(&self) -> Vec<CallRecord> {
        self.recent.iter().cloned().collect()
    }

    pub(crate) fn recent_iter(&self) -> impl Iterator<Item = &CallRecord> {
        self.recent.iter()
    }

    pub(crate) fn clear(&mut self) {
        self.counts = [0; 6];
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_everything_and_keeps_the_latest() {
        let mut log = CallLog::new(2);
        for i in 0..3u64 {
            log.record(
                Operation::Describe,
                Some("i-1"),
                Duration::from_secs(i),
                true,
            );
        }
        assert_eq!(log.count(Operation::Describe), 3);
        let recent = log.recent();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].at, Duration::from_secs(1));
    }
}
