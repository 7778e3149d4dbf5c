//! Faults that live on the wire rather than in the model: a connection
//! dropped after the model committed the request, so the client never learns
//! that its call succeeded (and retries it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use provisioner_fake::SplitMix64;

/// Wire-level faults, shared by every face.
#[derive(Debug, Default)]
pub struct WireFaults {
    drop_after_commit: Mutex<HashMap<String, u32>>,
    /// action → (probability, generator) of random drops.
    random: Mutex<HashMap<String, (f64, SplitMix64)>>,
}

impl WireFaults {
    /// The next `count` requests for `action` (a face's action name, such as
    /// EC2's `RunInstances`) are applied to the model, and then the
    /// connection is closed without a response.
    pub fn drop_after_commit(&self, action: &str, count: u32) {
        let mut plan = self.lock();
        let left = plan.entry(action.to_owned()).or_default();
        *left = left.saturating_add(count);
    }

    /// Every request for `action` is applied and then dropped with this
    /// probability, drawn from a generator seeded with `seed`.
    pub fn drop_randomly(&self, action: &str, probability: f64, seed: u64) {
        self.random
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                action.to_owned(),
                (probability.clamp(0.0, 1.0), SplitMix64::new(seed)),
            );
    }

    /// Consumes one planned drop for `action`, if any, or draws a random one.
    pub(crate) fn take_drop(&self, action: &str) -> bool {
        let mut plan = self.lock();
        if let Some(left) = plan.get_mut(action).filter(|left| **left > 0) {
            *left -= 1;
            return true;
        }
        drop(plan);
        let mut random = self.random.lock().unwrap_or_else(|p| p.into_inner());
        let Some((probability, generator)) = random.get_mut(action) else {
            return false;
        };
        generator.next_f64() < *probability
    }

    /// Forgets every planned and random drop.
    pub fn clear(&self) {
        self.lock().clear();
        self.random
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
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

/// A cloud API this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    /// EC2's Query API (`POST /`).
    Ec2,
    /// Compute Engine (`/compute/v1/…`).
    ComputeEngine,
    /// Azure Resource Manager (`/subscriptions/…`).
    ResourceManager,
}

impl Face {
    /// The face a request path belongs to; `None` for the control face.
    pub fn of_path(path: &str) -> Option<Face> {
        if path.starts_with("/_emulator") {
            None
        } else if path.starts_with("/compute/") {
            Some(Face::ComputeEngine)
        } else if path.starts_with("/subscriptions/") {
            Some(Face::ResourceManager)
        } else {
            Some(Face::Ec2)
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// How many requests each face received on the wire, whatever became of
/// them (refused, faulted, answered): "no request reached the cloud" is
/// counted here, before any face looks at the request.
#[derive(Debug, Default)]
pub struct WireCounts {
    received: [std::sync::atomic::AtomicU64; 3],
}

impl WireCounts {
    pub(crate) fn record(&self, path: &str) {
        if let Some(face) = Face::of_path(path) {
            self.received[face.index()].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Requests `face` received so far.
    pub fn received(&self, face: Face) -> u64 {
        self.received[face.index()].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests every face received so far (the control face not counted).
    pub fn total(&self) -> u64 {
        self.received
            .iter()
            .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }
}

/// A new request id in the GUID shape the clouds give theirs (EC2's
/// `RequestID`, ARM's `x-ms-request-id`): unique within the process.
pub(crate) fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-0000-4000-8000-{n:012x}", n >> 16)
}
