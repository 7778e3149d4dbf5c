//! Fault injection: the failures a fleet manager must survive, on demand.
//!
//! Faults are checked before an operation touches the model, so a failed
//! call changes nothing (the emulator adds wire-level faults such as a
//! connection dropped after the model committed).

use std::time::Duration;

/// The operations of the trait, as seen by faults and the call log (one
/// type with the core's layers).
pub use provisioner_core::Operation;

/// How long after acceptance an injected failure of a launch or start
/// happens, where the contract or the soak plans one: long enough that a
/// face's operation is seen running first.
pub const FAILURE_AFTER_ACCEPTANCE: Duration = Duration::from_millis(300);

/// An injected failure. Each face turns it into its provider's wire error
/// (EC2's `RequestLimitExceeded`, Compute Engine's `rateLimitExceeded`, …);
/// the fake provisioner turns it into the matching core error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Rate limited (HTTP 429 or 503), with an optional Retry-After.
    Throttled {
        /// The wait the cloud asks for.
        retry_after: Option<Duration>,
    },
    /// The service is unavailable (HTTP 503).
    Unavailable,
    /// An internal error (HTTP 500).
    Internal,
    /// No capacity for the instance type.
    InsufficientCapacity,
    /// An account quota is exhausted.
    QuotaExceeded,
    /// A spot launch's maximum price is below the current price (EC2 and
    /// Azure; Compute Engine has no maximum price).
    PriceTooLow,
    /// Credentials rejected.
    Unauthenticated,
    /// Not allowed.
    PermissionDenied,
}

/// SplitMix64: a tiny, seeded generator whose sequence never changes between
/// versions, so a seed reproduces a failure pattern forever.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone)]
struct RandomFault {
    ops: [bool; 6],
    probability: f64,
    fault: Fault,
}

/// The faults planned for the coming calls.
#[derive(Debug, Clone)]
pub(crate) struct FaultPlan {
    next: [Vec<(u32, Fault)>; 6],
    random: Vec<RandomFault>,
    latency: [Duration; 6],
    rng: SplitMix64,
    /// True when any fault or latency is set, so that the common path
    /// (no faults) costs one branch.
    armed: bool,
}

impl FaultPlan {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            next: Default::default(),
            random: Vec::new(),
            latency: [Duration::ZERO; 6],
            rng: SplitMix64::new(seed),
            armed: false,
        }
    }

    pub(crate) fn fail_next(&mut self, op: Operation, count: u32, fault: Fault) {
        if count > 0 {
            self.next[op.index()].push((count, fault));
            self.armed = true;
        }
    }

    pub(crate) fn fail_randomly(&mut self, ops: &[Operation], probability: f64, fault: Fault) {
        let mut mask = [false; 6];
        for op in ops {
            mask[op.index()] = true;
        }
        self.random.push(RandomFault {
            ops: mask,
            probability: probability.clamp(0.0, 1.0),
            fault,
        });
        self.armed = true;
    }

    pub(crate) fn set_latency(&mut self, op: Operation, latency: Duration) {
        self.latency[op.index()] = latency;
        self.armed = true;
    }

    pub(crate) fn clear(&mut self) {
        let seed_state = self.rng.clone();
        *self = Self::new(0);
        self.rng = seed_state;
    }

    /// The latency to add to `op`.
    pub(crate) fn latency(&self, op: Operation) -> Duration {
        if self.armed {
            self.latency[op.index()]
        } else {
            Duration::ZERO
        }
    }

    /// The fault this call of `op` meets, if any; consumes planned faults.
    pub(crate) fn take(&mut self, op: Operation) -> Option<Fault> {
        if !self.armed {
            return None;
        }
        let queue = &mut self.next[op.index()];
        if let Some((remaining, fault)) = queue.first_mut() {
            let fault = *fault;
            *remaining -= 1;
            if *remaining == 0 {
                queue.remove(0);
            }
            return Some(fault);
        }
        for random in &self.random {
            if random.ops[op.index()] && self.rng.next_f64() < random.probability {
                return Some(random.fault);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_faults_are_consumed_in_order() {
        let mut plan = FaultPlan::new(1);
        plan.fail_next(Operation::Launch, 2, Fault::Unavailable);
        plan.fail_next(Operation::Launch, 1, Fault::QuotaExceeded);
        assert_eq!(plan.take(Operation::Describe), None);
        assert_eq!(plan.take(Operation::Launch), Some(Fault::Unavailable));
        assert_eq!(plan.take(Operation::Launch), Some(Fault::Unavailable));
        assert_eq!(plan.take(Operation::Launch), Some(Fault::QuotaExceeded));
        assert_eq!(plan.take(Operation::Launch), None);
    }

    #[test]
    fn random_faults_follow_the_seed_and_probability() {
        let pattern = |seed| {
            let mut plan = FaultPlan::new(seed);
            plan.fail_randomly(&[Operation::Describe], 0.25, Fault::Internal);
            (0..4000)
                .map(|_| plan.take(Operation::Describe).is_some())
                .collect::<Vec<_>>()
        };
        let a = pattern(7);
        assert_eq!(a, pattern(7), "same seed, same pattern");
        assert_ne!(a, pattern(8));
        let hits = a.iter().filter(|hit| **hit).count();
        assert!((800..1200).contains(&hits), "{hits} of 4000 at p=0.25");
    }
}
