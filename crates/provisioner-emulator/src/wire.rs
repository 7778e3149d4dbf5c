//! Faults that live on the wire rather than in the model: a connection
//! dropped after the model committed the request, so the client never learns
//! that its call succeeded (and retries it).

use std::collections::HashMap;
use std::sync::Mutex;

/// Wire-level faults, shared by every face.
#[derive(Debug, Default)]
pub struct WireFaults {
    drop_after_commit: Mutex<HashMap<String, u32>>,
}

impl WireFaults {
    /// The next `count` requests for `action` (a face's action name, such as
    /// EC2's `RunInstances`) are applied to the model, and then the
    /// connection is closed without a response.
    pub fn drop_after_commit(&self, action: &str, count: u32) {
        let mut plan = self.lock();
        *plan.entry(action.to_owned()).or_default() += count;
    }

    /// Consumes one planned drop for `action`, if any.
    pub(crate) fn take_drop(&self, action: &str) -> bool {
        let mut plan = self.lock();
        match plan.get_mut(action) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Forgets every planned drop.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.drop_after_commit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// A response marker: the server closes the connection instead of sending
/// the response it is attached to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;
