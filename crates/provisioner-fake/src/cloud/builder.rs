//! `FakeCloudBuilder`: a cloud's personality, transitions, seed, limits
//! and logs, chosen before it starts.

use super::*;

/// Builds a [`FakeCloud`].
#[derive(Debug, Clone)]
pub struct FakeCloudBuilder {
    pub(super) personality: Personality,
    pub(super) transitions: Transitions,
    pub(super) seed: u64,
    pub(super) max_live_instances: Option<usize>,
    pub(super) visibility_delay: Duration,
    pub(super) call_log_capacity: usize,
    pub(super) record_creations: bool,
}

impl Default for FakeCloudBuilder {
    fn default() -> Self {
        Self {
            personality: Personality::generic(),
            transitions: Transitions::default(),
            seed: 0x5eed,
            max_live_instances: None,
            visibility_delay: Duration::ZERO,
            call_log_capacity: 10_000,
            record_creations: false,
        }
    }
}

impl FakeCloudBuilder {
    /// The cloud's behaviour (default: [`Personality::generic`]).
    pub fn personality(mut self, personality: Personality) -> Self {
        self.personality = personality;
        self
    }

    /// Transition delays (default: all instant).
    pub fn transitions(mut self, transitions: Transitions) -> Self {
        self.transitions = transitions;
        self
    }

    /// The seed of ids and random faults (default: fixed), so runs repeat.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The most instances that may be live (not terminated) at once; a launch
    /// beyond it fails with a quota error. Default: no limit.
    pub fn max_live_instances(mut self, limit: usize) -> Self {
        self.max_live_instances = Some(limit);
        self
    }

    /// How long a new instance stays invisible to describe, list, stop,
    /// start and terminate (eventual consistency). Default: zero.
    pub fn visibility_delay(mut self, delay: Duration) -> Self {
        self.visibility_delay = delay;
        self
    }

    /// How many recent calls the call log keeps in full (default 10,000;
    /// counts per operation are always kept).
    pub fn call_log_capacity(mut self, capacity: usize) -> Self {
        self.call_log_capacity = capacity;
        self
    }

    /// Keeps the id and tags of every instance ever created, terminated and
    /// vanished ones included ([`FakeCloud::creations`]): what a soak counts
    /// duplicates and leaks with. Off by default (it grows with every launch).
    pub fn record_creations(mut self) -> Self {
        self.record_creations = true;
        self
    }

    /// Builds the cloud. Its clock starts now.
    pub fn build(self) -> FakeCloud {
        let model = Model {
            instances: HashMap::default(),
            order: BTreeMap::new(),
            by_tag: HashMap::default(),
            tokens: HashMap::default(),
            token_expiry: BTreeMap::new(),
            key_retention: self.personality.key_retention_after_terminate,
            doomed: Vec::new(),
            doomed_starts: Vec::new(),
            failed: Expiring::new(FAILED_LAUNCH_MEMORY),
            reclaimed: Expiring::new(FAILED_LAUNCH_MEMORY),
            reclaims: std::collections::VecDeque::new(),
            expiry: BTreeMap::new(),
            next_seq: 0,
            live: 0,
            private: AddressPool::private(),
            public: AddressPool::public(),
            faults: FaultPlan::new(self.seed ^ 0xfa17),
            log: CallLog::new(self.call_log_capacity),
            ids: SplitMix64::new(self.seed),
            visibility_delay: self.visibility_delay,
            creations: self.record_creations.then(Vec::new),
        };
        FakeCloud {
            inner: Arc::new(Inner {
                model: Mutex::new(model),
                latency_armed: AtomicBool::new(false),
                personality: self.personality,
                transitions: self.transitions,
                max_live: self.max_live_instances,
                started: Instant::now(),
                started_wall: OffsetDateTime::now_utc(),
            }),
        }
    }
}
