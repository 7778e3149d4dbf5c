//! Long-running operations, as every face that has them sees them: an
//! operation is done once the model has taken the instance where the call
//! asked. Each face keeps its own records and wire names around this rule.

use provisioner_core::CloudInstanceState::{self, *};

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
}

impl Change {
    /// True once the instance, whose state is `now` (`None` when it is
    /// gone), is where this change takes it.
    pub(crate) fn is_done(self, now: Option<CloudInstanceState>) -> bool {
        match (self, now) {
            (Self::Delete, None | Some(Terminated)) | (_, None) => true,
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
