//! [`FakeCloud`]: the one cloud model behind the fake provisioner and every
//! face of the emulator.
//!
//! States are never updated by a background task. Each instance keeps its
//! current state and at most one scheduled transition (`Pending` until
//! `boot` has passed, then `Running`, …); reads compute the state at "now"
//! on tokio's clock, and writes settle it first. So a test with a paused
//! clock moves every instance forward just by advancing time, reads need no
//! mutation, and nothing runs when nobody looks.

use std::collections::BTreeMap;

// The model's maps are keyed by ids and tags it made or was given by its
// own tests: FxHash, several times faster than SipHash on short keys, with
// no need for SipHash's resistance to crafted keys.
use rustc_hash::FxHashMap as HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use provisioner_core::provider::consistency::Expiring;
use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::{
    ownership, Capacity, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus,
    LaunchFailure, LaunchFailureKind, OnReclaim, OWNER_TAG,
};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::addresses::AddressPool;
use crate::call_log::CallLog;
use crate::faults::{FaultPlan, SplitMix64};
use crate::{CallRecord, CloudError, Fault, Operation, Personality, Transitions};

/// A snapshot of one instance, as the model sees it at the time of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// The instance id (generated, or the name of a named launch).
    pub id: Arc<str>,
    /// The config it was launched with (user data included: faces that echo
    /// it must take care never to log it).
    pub config: Arc<InstanceConfig>,
    /// Wire attributes a face stored at launch and echoes back (Compute
    /// Engine metadata items, for example); the model does not read them.
    pub attributes: Arc<Attributes>,
    /// The state now.
    pub state: CloudInstanceState,
    /// The state before the call that returned this record (the same as
    /// `state` for reads), as EC2's state-change responses report it.
    pub previous_state: CloudInstanceState,
    /// Why it is in this state, when a user action put it there.
    pub state_reason: Option<&'static str>,
    /// The private address, when one is assigned.
    pub private_ip: Option<Ipv4Addr>,
    /// The public address, when one is assigned.
    pub public_ip: Option<Ipv4Addr>,
    /// When it was launched, on the model's wall clock.
    pub launch_time: OffsetDateTime,
    /// When it was last started (its launch, or the last start after a
    /// stop), on the model's wall clock.
    pub last_start: OffsetDateTime,
    /// The order of creation: a cursor for paging.
    pub seq: u64,
    /// Why the cloud failed this launch after accepting it; set once the
    /// failure happened (the state is then `Terminated`).
    pub failure: Option<LaunchFailureKind>,
    /// The cloud reclaimed this spot instance ([`FakeCloud::reclaim`]).
    pub reclaimed: bool,
    /// How many starts of a stopped instance the cloud accepted: the number
    /// of the latest start (0: never started again since its launch).
    pub starts: u32,
    /// Why the latest start failed after the cloud accepted it; set once it
    /// failed (the state is then `Stopped` again).
    pub start_failure: Option<LaunchFailureKind>,
}

impl InstanceRecord {
    /// As the core's [`InstanceInfo`].
    /// The ownership marker, if the launch wrote one, is reported as
    /// [`InstanceInfo::owner`], not among the tags.
    pub fn to_info(&self) -> InstanceInfo {
        let mut tags = self.config.tags.clone();
        let owner = ownership::take_marker(&mut tags);
        InstanceInfo::new(self.id.to_string(), self.state)
            .with_addresses(
                self.private_ip.map(IpAddr::V4),
                self.public_ip.map(IpAddr::V4),
            )
            .with_launch_time(self.launch_time)
            .with_tags(tags)
            .with_reclaimed(self.reclaimed)
            .with_owner(owner)
    }

    /// As the core's [`InstanceStatus`]; a failed launch carries the model's
    /// own failure codes (`InsufficientCapacity`, `QuotaExceeded`).
    pub fn to_status(&self) -> InstanceStatus {
        status(
            &self.id,
            Seen {
                state: self.state,
                failure: self.failure,
                reason: self.state_reason,
                reclaimed: self.reclaimed,
                start_failure: self.start_failure,
            },
            self.private_ip,
            self.public_ip,
            owner_of(&self.config),
        )
    }
}

/// The owner in a launch's ownership marker.
fn owner_of(config: &InstanceConfig) -> Option<String> {
    config.tags.get(OWNER_TAG).cloned()
}

/// What a read sees of an instance's state at one time.
#[derive(Clone, Copy)]
struct Seen {
    state: CloudInstanceState,
    /// Set once a launch failed after acceptance (then terminated).
    failure: Option<LaunchFailureKind>,
    reason: Option<&'static str>,
    reclaimed: bool,
    /// Set once the latest start failed after acceptance (then stopped).
    start_failure: Option<LaunchFailureKind>,
}

/// The core's status of instance `id` as `seen`.
fn status(
    id: &str,
    seen: Seen,
    private_ip: Option<Ipv4Addr>,
    public_ip: Option<Ipv4Addr>,
    owner: Option<String>,
) -> InstanceStatus {
    if let Some(kind) = seen.failure {
        return InstanceStatus::failed_launch(id, launch_failure(kind)).with_owner(owner);
    }
    let status = InstanceStatus::new(id, seen.state)
        .with_state_reason(seen.reason.map(str::to_owned))
        .with_addresses(private_ip.map(IpAddr::V4), public_ip.map(IpAddr::V4))
        .with_reclaimed(seen.reclaimed)
        .with_owner(owner);
    match seen.start_failure {
        Some(kind) => status.with_failed_start(launch_failure(kind)),
        None => status,
    }
}

/// A launch failure with the model's own code and message.
pub(crate) fn launch_failure(kind: LaunchFailureKind) -> LaunchFailure {
    let (code, message) = match kind {
        LaunchFailureKind::InsufficientCapacity => (
            "InsufficientCapacity",
            "no capacity for this instance type here",
        ),
        LaunchFailureKind::QuotaExceeded => ("QuotaExceeded", "an account quota is reached"),
        _ => ("LaunchFailed", "the launch failed"),
    };
    LaunchFailure::new(kind, code, message)
}

/// A reclaim the cloud did ([`FakeCloud::reclaim`]), kept an hour: what a
/// face reports as the cloud's own record of it (a Compute Engine
/// `compute.instances.preempted` operation, an Azure activity-log
/// eviction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaim {
    /// The instance reclaimed.
    pub id: Arc<str>,
    /// Its wire attributes: a face reports a reclaim in its own terms
    /// (Azure's activity log names the VM's subscription and group) after
    /// the instance is gone.
    pub attributes: Arc<Attributes>,
    /// When, on the model's wall clock.
    pub at: OffsetDateTime,
    /// What the reclaim did to it: stopped or terminated it.
    pub on_reclaim: OnReclaim,
    /// A number unique to this reclaim, increasing: a stable name and
    /// paging cursor for the record a face shows.
    pub seq: u64,
}

/// One instance the cloud created, as [`FakeCloud::creations`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// Its id.
    pub id: String,
    /// Its tags at creation.
    pub tags: provisioner_core::Tags,
    /// It was a launch planned to fail after acceptance: it never ran.
    pub fails_after_acceptance: bool,
}

/// Wire attributes of an instance that only its face interprets.
pub type Attributes = BTreeMap<String, String>;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The matching instances, in creation order.
    pub items: Vec<InstanceRecord>,
    /// Where the next page starts (pass it as `after`), or `None` when this
    /// was the last. A next page is never empty.
    pub next: Option<u64>,
}

/// Builds a [`FakeCloud`].
#[derive(Debug, Clone)]
pub struct FakeCloudBuilder {
    personality: Personality,
    transitions: Transitions,
    seed: u64,
    max_live_instances: Option<usize>,
    visibility_delay: Duration,
    call_log_capacity: usize,
    record_creations: bool,
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

/// An in-memory cloud. Cloning gives another handle to the same cloud, so a
/// test, several provisioners and an emulator can share one.
#[derive(Debug, Clone)]
pub struct FakeCloud {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    model: Mutex<Model>,
    /// Set once any latency is configured, so the common path skips a lock.
    latency_armed: AtomicBool,
    personality: Personality,
    transitions: Transitions,
    max_live: Option<usize>,
    started: Instant,
    started_wall: OffsetDateTime,
}

impl Inner {
    /// The model's wall clock at `now`: its creation time plus tokio-clock
    /// time elapsed since, so a paused and advanced clock moves it too.
    fn wall_at(&self, now: Instant) -> OffsetDateTime {
        self.started_wall + (now - self.started)
    }
}

#[derive(Debug)]
struct Instance {
    id: Arc<str>,
    /// Creation order: the paging cursor.
    seq: u64,
    config: Arc<InstanceConfig>,
    attributes: Arc<Attributes>,
    state: CloudInstanceState,
    /// The one scheduled transition: the state it reaches, and when.
    next: Option<(CloudInstanceState, Instant)>,
    reason: Option<&'static str>,
    private_ip: Option<Ipv4Addr>,
    public_ip: Option<Ipv4Addr>,
    launch_time: OffsetDateTime,
    last_start: OffsetDateTime,
    visible_from: Instant,
    /// When it vanishes from every view (terminated and past retention).
    gone_at: Option<Instant>,
    /// Counted among the live instances (quota); a launch doomed to fail
    /// never is.
    live: bool,
    /// The failure planned for (or met by) this launch after acceptance.
    failure: Option<LaunchFailureKind>,
    /// The cloud reclaimed this spot instance.
    reclaimed: bool,
    /// Starts of a stopped instance accepted so far.
    starts: u32,
    /// The starts (by number) that failed, or will, after acceptance, and
    /// why: the latest [`MAX_FAILED_STARTS`], what a cloud's operations
    /// records keep.
    failed_starts: Vec<(u32, LaunchFailureKind)>,
}

/// How many failed starts an instance remembers.
const MAX_FAILED_STARTS: usize = 8;

impl Instance {
    fn state_at(&self, now: Instant) -> CloudInstanceState {
        match self.next {
            Some((target, at)) if now >= at => target,
            _ => self.state,
        }
    }

    fn visible_at(&self, now: Instant) -> bool {
        now >= self.visible_from && self.gone_at.is_none_or(|gone| now < gone)
    }

    fn settle(&mut self, now: Instant) {
        self.state = self.state_at(now);
        if self.next.is_some_and(|(_, at)| now >= at) {
            self.next = None;
        }
    }

    /// Moves to `through` now and to `target` after `delay`.
    fn transition(
        &mut self,
        now: Instant,
        through: CloudInstanceState,
        target: CloudInstanceState,
        delay: Duration,
    ) {
        self.state = through;
        self.next = Some((target, now + delay));
    }

    /// Why start `n` failed after acceptance, once it did.
    fn failed_start(&self, n: u32, now: Instant) -> Option<LaunchFailureKind> {
        let (_, kind) = self.failed_starts.iter().find(|(start, _)| *start == n)?;
        // The latest start fails when its transition ends.
        (n != self.starts || self.state_at(now) != Pending).then_some(*kind)
    }

    /// Its state, failure and reason at `now`.
    fn seen(&self, now: Instant) -> Seen {
        let state = self.state_at(now);
        let failed = state == Terminated && self.failure.is_some();
        Seen {
            start_failure: self
                .failed_start(self.starts, now)
                .filter(|_| state == Stopped),
            state,
            failure: self.failure.filter(|_| failed),
            // A doomed launch says nothing of its fate before it happens.
            reason: self.reason.filter(|_| self.failure.is_none() || failed),
            reclaimed: self.reclaimed,
        }
    }

    /// The core's status at `now`, without a record: a describe touches
    /// none of the shared parts (config, attributes).
    fn status(&self, now: Instant) -> InstanceStatus {
        status(
            &self.id,
            self.seen(now),
            self.private_ip,
            self.public_ip,
            owner_of(&self.config),
        )
    }

    fn record(&self, now: Instant) -> InstanceRecord {
        let seen = self.seen(now);
        InstanceRecord {
            failure: seen.failure,
            id: Arc::clone(&self.id),
            config: Arc::clone(&self.config),
            attributes: Arc::clone(&self.attributes),
            state: seen.state,
            previous_state: seen.state,
            state_reason: seen.reason,
            private_ip: self.private_ip,
            public_ip: self.public_ip,
            launch_time: self.launch_time,
            last_start: self.last_start,
            seq: self.seq,
            reclaimed: seen.reclaimed,
            starts: self.starts,
            start_failure: seen.start_failure,
        }
    }

    fn same_launch(&self, config: &InstanceConfig, attributes: &Attributes) -> bool {
        let mine = &*self.config;
        *self.attributes == *attributes
            && mine.image == config.image
            && mine.instance_type == config.instance_type
            && mine.tags == config.tags
            && mine.disk_size_gb == config.disk_size_gb
            && mine.user_data == config.user_data
            // Another zone, subnet or market is another request: EC2's
            // "change one or more of the API parameters" (Ensuring
            // idempotency).
            && mine.placement == config.placement
            && mine.capacity == config.capacity
    }
}

/// How long the model remembers a failed launch after it vanished.
const FAILED_LAUNCH_MEMORY: Duration = Duration::from_secs(3600);

/// An index from creation order to id.
type Ordered = BTreeMap<u64, Arc<str>>;

/// An empty index, for filters that name a tag no instance carries.
static EMPTY: Ordered = BTreeMap::new();

/// Instances by id (one hash lookup for describe and the other single-instance
/// calls), plus creation-ordered indexes for paging: of every instance, and
/// per tag.
#[derive(Debug)]
struct Model {
    instances: HashMap<Arc<str>, Instance>,
    order: Ordered,
    /// Tag key → value → instances carrying it: a filtered list touches only
    /// the instances that carry the rarest of the filter's tags.
    by_tag: HashMap<String, HashMap<String, Ordered>>,
    tokens: HashMap<String, Arc<str>>,
    /// (when it is forgotten, creation order) → key, for keys whose instance
    /// was terminated.
    token_expiry: BTreeMap<(Instant, u64), String>,
    /// How long a key outlives the termination of its instance.
    key_retention: Duration,
    /// Launches planned to fail after acceptance: (count, why, after how long).
    doomed: Vec<(u32, LaunchFailureKind, Duration)>,
    /// The same for starts of stopped instances.
    doomed_starts: Vec<(u32, LaunchFailureKind, Duration)>,
    /// Every instance created, when the builder asked to record them.
    creations: Option<Vec<Creation>>,
    /// Failed launches that vanished, kept an hour as a cloud keeps the
    /// operation that reports them (Compute Engine's insert operation).
    failed: Expiring<LaunchFailureKind>,
    /// Reclaimed spot instances that vanished, kept as long as failed
    /// launches: the record a cloud keeps of a preemption or eviction.
    reclaimed: Expiring<()>,
    /// Every reclaim of the last hour, oldest first, with when it is
    /// forgotten.
    reclaims: std::collections::VecDeque<(Instant, Reclaim)>,
    /// (when it vanishes, creation order) → id, for terminated instances.
    expiry: BTreeMap<(Instant, u64), Arc<str>>,
    next_seq: u64,
    live: usize,
    private: AddressPool,
    public: AddressPool,
    faults: FaultPlan,
    log: CallLog,
    ids: SplitMix64,
    visibility_delay: Duration,
}

fn not_found(id: &str) -> CloudError {
    CloudError::NotFound { id: id.to_owned() }
}

/// The visible instance `id`, its state settled at `now`.
/// Stops `id` now (running) or leaves it (stopping, stopped); refuses the
/// other states. `reason` is the state reason it gets.
fn halt(
    model: &mut Model,
    inner: &Inner,
    id: &str,
    now: Instant,
    reason: &'static str,
) -> Result<InstanceRecord, CloudError> {
    let instance = visible_mut(&mut model.instances, id, now)?;
    let before = instance.state;
    match instance.state {
        Running => {
            instance.transition(now, Stopping, Stopped, inner.transitions.stop);
            instance.reason = Some(reason);
            if !inner.personality.keep_public_ip_on_stop {
                if let Some(ip) = instance.public_ip.take() {
                    model.public.release(ip);
                }
            }
            if inner.personality.release_private_ip_on_stop {
                if let Some(ip) = instance.private_ip.take() {
                    model.private.release(ip);
                }
            }
        }
        Stopping | Stopped => {}
        state @ (Pending | Terminating | Terminated) => {
            return Err(CloudError::InvalidState {
                id: id.to_owned(),
                state,
                op: Operation::Stop,
            })
        }
    }
    Ok(InstanceRecord {
        previous_state: before,
        ..instance.record(now)
    })
}

/// Terminates `id` now (a terminal one stays as it is, or goes at once if
/// it was kept until deleted). `reason` is the state reason it gets.
fn end(
    model: &mut Model,
    inner: &Inner,
    id: &str,
    now: Instant,
    reason: &'static str,
) -> Result<InstanceRecord, CloudError> {
    let instance = visible_mut(&mut model.instances, id, now)?;
    let before = instance.state;
    if instance.state.is_terminal() {
        // A failed launch kept until deleted (Azure) goes now.
        if instance.gone_at.is_none() {
            instance.gone_at = Some(now);
            let (seq, id) = (instance.seq, Arc::clone(&instance.id));
            let record = instance.record(now);
            model.expiry.insert((now, seq), id);
            return Ok(record);
        }
        return Ok(instance.record(now));
    }
    let delay = inner.transitions.terminate;
    instance.transition(now, Terminating, Terminated, delay);
    instance.reason = Some(reason);
    // Terminated before it failed: it no longer will (nor its start).
    instance.failure = None;
    if before == Pending {
        let latest = instance.starts;
        instance.failed_starts.retain(|(n, _)| *n != latest);
    }
    let was_live = std::mem::replace(&mut instance.live, false);
    let gone_at = now + delay + inner.personality.terminated_retention;
    instance.gone_at = Some(gone_at);
    if let Some(ip) = instance.private_ip.take() {
        model.private.release(ip);
    }
    if let Some(ip) = instance.public_ip.take() {
        model.public.release(ip);
    }
    let record = InstanceRecord {
        previous_state: before,
        ..instance.record(now)
    };
    model
        .expiry
        .insert((gone_at, record.seq), Arc::clone(&record.id));
    if was_live {
        model.live -= 1;
    }
    model.retire_key(record.config.idempotency_key.as_ref(), record.seq, now);
    Ok(record)
}

fn visible_mut<'m>(
    instances: &'m mut HashMap<Arc<str>, Instance>,
    id: &str,
    now: Instant,
) -> Result<&'m mut Instance, CloudError> {
    let instance = instances
        .get_mut(id)
        .filter(|i| i.visible_at(now))
        .ok_or_else(|| not_found(id))?;
    instance.settle(now);
    Ok(instance)
}

impl Model {
    fn visible(&self, id: &str, now: Instant) -> Result<&Instance, CloudError> {
        self.instances
            .get(id)
            .filter(|i| i.visible_at(now))
            .ok_or_else(|| not_found(id))
    }

    /// Removes terminated instances whose retention has passed.
    fn purge(&mut self, now: Instant) {
        while self
            .reclaims
            .front()
            .is_some_and(|(until, _)| *until <= now)
        {
            self.reclaims.pop_front();
        }
        while let Some(entry) = self.expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, seq), id) = entry.remove_entry();
            let Some(instance) = self.instances.remove(&id) else {
                continue;
            };
            self.order.remove(&seq);
            self.unindex_tags(&instance.config.tags, seq);
            if instance.reclaimed {
                self.reclaimed.insert(&*id, ());
            }
            if let Some(kind) = instance.failure {
                self.failed.insert(&*id, kind);
            }
            if let Some(ip) = instance.private_ip {
                self.private.release(ip);
            }
            if let Some(ip) = instance.public_ip {
                self.public.release(ip);
            }
            if let Some(key) = &instance.config.idempotency_key {
                if self.key_retention.is_zero() && self.tokens.get(key) == Some(&id) {
                    self.tokens.remove(key);
                }
            }
        }
        while let Some(entry) = self.token_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            let still_terminated = self.tokens.get(&key).is_none_or(|id| {
                self.instances
                    .get(id)
                    .is_none_or(|i| i.state_at(now).is_terminal())
            });
            if still_terminated {
                self.tokens.remove(&key);
            }
        }
    }

    /// Adds the instance `seq` to the per-tag index.
    fn index_tags(&mut self, tags: &provisioner_core::Tags, seq: u64, id: &Arc<str>) {
        for (key, value) in tags {
            self.by_tag
                .entry(key.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .insert(seq, Arc::clone(id));
        }
    }

    /// Removes the instance `seq` from the per-tag index, and the entries it
    /// leaves empty.
    fn unindex_tags(&mut self, tags: &provisioner_core::Tags, seq: u64) {
        for (key, value) in tags {
            if let Some(values) = self.by_tag.get_mut(key) {
                if let Some(ids) = values.get_mut(value) {
                    ids.remove(&seq);
                    if ids.is_empty() {
                        values.remove(value);
                    }
                }
                if values.is_empty() {
                    self.by_tag.remove(key);
                }
            }
        }
    }

    /// Remembers that the key of the instance `seq` must keep refusing
    /// launches until `from` plus the key retention.
    fn retire_key(&mut self, key: Option<&String>, seq: u64, from: Instant) {
        if let Some(key) = key {
            if !self.key_retention.is_zero() {
                self.token_expiry
                    .insert((from + self.key_retention, seq), key.clone());
            }
        }
    }

    /// Consumes one planned failure-after-acceptance of `plan`, if any.
    fn take_doom(
        plan: &mut Vec<(u32, LaunchFailureKind, Duration)>,
    ) -> Option<(LaunchFailureKind, Duration)> {
        let (remaining, kind, after) = plan.first_mut()?;
        let doom = (*kind, *after);
        *remaining -= 1;
        if *remaining == 0 {
            plan.remove(0);
        }
        Some(doom)
    }

    fn fresh_id(&mut self, prefix: &str) -> Arc<str> {
        loop {
            let id: Arc<str> = format!("{prefix}{:017x}", self.ids.next_u64()).into();
            if !self.instances.contains_key(&id) {
                return id;
            }
        }
    }

    /// The instances that can match `filter`'s tags, from `after` on: those
    /// carrying the filter's rarest tag, or every instance; and whether that
    /// index alone decides the tags (a filter of one tag, or none), so that
    /// no instance's tags need reading.
    fn candidates(
        &self,
        filter: &InstanceFilter,
        after: u64,
    ) -> (std::collections::btree_map::Range<'_, u64, Arc<str>>, bool) {
        let mut smallest: &Ordered = &self.order;
        for (key, value) in &filter.tags {
            match self.by_tag.get(key).and_then(|values| values.get(value)) {
                None => return (EMPTY.range(..), true),
                Some(ids) if ids.len() < smallest.len() => smallest = ids,
                Some(_) => {}
            }
        }
        (smallest.range(after..), filter.tags.len() <= 1)
    }
}

impl Default for FakeCloud {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeCloud {
    /// A cloud with the default settings (see [`FakeCloudBuilder`]).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for a cloud with other settings.
    pub fn builder() -> FakeCloudBuilder {
        FakeCloudBuilder::default()
    }

    /// The cloud's personality.
    pub fn personality(&self) -> &Personality {
        &self.inner.personality
    }

    /// The model's wall clock: its creation time plus tokio-clock time
    /// elapsed since, so a paused and advanced clock moves it too.
    pub fn now_wall(&self) -> OffsetDateTime {
        self.inner.wall_at(Instant::now())
    }

    /// Launches one instance with a generated id. With an idempotency key
    /// already used, returns that instance instead (or
    /// [`CloudError::IdempotencyMismatch`] if the parameters differ).
    pub async fn launch(&self, config: &InstanceConfig) -> Result<InstanceRecord, CloudError> {
        self.launch_as(None, config, Attributes::new()).await
    }

    /// Launches one instance with wire `attributes` its face echoes back
    /// (EC2's reservation, say); the model picks the id.
    pub async fn launch_with(
        &self,
        config: &InstanceConfig,
        attributes: Attributes,
    ) -> Result<InstanceRecord, CloudError> {
        self.launch_as(None, config, attributes).await
    }

    /// Launches one instance whose id is `name` (clouds where the caller
    /// names instances), with wire `attributes` its face echoes back. An
    /// instance with that name is [`CloudError::AlreadyExists`].
    pub async fn launch_named(
        &self,
        name: &str,
        config: &InstanceConfig,
        attributes: Attributes,
    ) -> Result<InstanceRecord, CloudError> {
        self.launch_as(Some(name), config, attributes).await
    }

    async fn launch_as(
        &self,
        name: Option<&str>,
        config: &InstanceConfig,
        attributes: Attributes,
    ) -> Result<InstanceRecord, CloudError> {
        let inner = &*self.inner;
        self.call(Operation::Launch, name, |model, now| {
            model.purge(now);
            if let Some(key) = &config.idempotency_key {
                if let Some(id) = model.tokens.get(key) {
                    // A key whose instance is terminated (or already gone,
                    // while the key is remembered) never launches again.
                    let existing = model
                        .instances
                        .get(id)
                        .filter(|i| !i.state_at(now).is_terminal())
                        .ok_or(CloudError::IdempotentInstanceTerminated)?;
                    if !existing.same_launch(config, &attributes) {
                        return Err(CloudError::IdempotencyMismatch);
                    }
                    return Ok(existing.record(now));
                }
            }
            if let Some(name) = name {
                if model.instances.contains_key(name) {
                    return Err(CloudError::AlreadyExists {
                        id: name.to_owned(),
                    });
                }
            }
            if let Some(limit) = inner.max_live {
                if model.live >= limit {
                    return Err(CloudError::QuotaExceeded { limit });
                }
            }
            let id = match name {
                Some(name) => Arc::from(name),
                None => model.fresh_id(inner.personality.id_prefix),
            };
            let seq = model.next_seq;
            model.next_seq += 1;
            let mut instance = Instance {
                id: Arc::clone(&id),
                seq,
                config: Arc::new(config.clone()),
                attributes: Arc::new(attributes),
                state: Pending,
                next: None,
                reason: None,
                private_ip: model.private.allocate(),
                public_ip: None,
                launch_time: inner.wall_at(now),
                last_start: inner.wall_at(now),
                visible_from: now + model.visibility_delay,
                gone_at: None,
                live: false,
                failure: None,
                reclaimed: false,
                starts: 0,
                failed_starts: Vec::new(),
            };
            match Model::take_doom(&mut model.doomed) {
                None => {
                    if inner.personality.public_addresses {
                        instance.public_ip = model.public.allocate();
                    }
                    instance.transition(now, Pending, Running, inner.transitions.boot);
                    instance.live = true;
                    model.live += 1;
                }
                Some((kind, after)) => {
                    // Accepted now, failed `after` later: pending until
                    // then, never running, never counted as live.
                    let fails_at = now + after;
                    instance.transition(now, Pending, Terminated, after);
                    instance.failure = Some(kind);
                    instance.reason = Some("launch failed after acceptance");
                    if let Some(retention) = inner.personality.failed_launch_retention {
                        let gone_at = fails_at + retention;
                        instance.gone_at = Some(gone_at);
                        model.expiry.insert((gone_at, seq), Arc::clone(&id));
                    }
                    model.retire_key(config.idempotency_key.as_ref(), seq, fails_at);
                }
            }
            model.index_tags(&config.tags, seq, &id);
            if let Some(key) = &config.idempotency_key {
                model.tokens.insert(key.clone(), Arc::clone(&id));
            }
            // A launch answers with the state it was created in.
            let mut record = instance.record(now);
            (record.state, record.previous_state) = (Pending, Pending);
            if let Some(creations) = &mut model.creations {
                creations.push(Creation {
                    id: id.to_string(),
                    tags: instance.config.tags.clone(),
                    fails_after_acceptance: instance.failure.is_some(),
                });
            }
            model.order.insert(seq, Arc::clone(&id));
            // A name used again is a new instance, whatever the last one met.
            model.failed.remove(&id);
            model.instances.insert(id, instance);
            Ok(record)
        })
        .await
    }

    /// The instance now. Unknown, not yet visible and vanished ids are
    /// [`CloudError::NotFound`].
    pub async fn describe(&self, id: &str) -> Result<InstanceRecord, CloudError> {
        self.call(Operation::Describe, Some(id), |model, now| {
            Ok(model.visible(id, now)?.record(now))
        })
        .await
    }

    /// The instance's status now: what [`describe`](Self::describe) says,
    /// as the core's [`InstanceStatus`], without copying its record.
    pub async fn describe_status(&self, id: &str) -> Result<InstanceStatus, CloudError> {
        self.call(Operation::Describe, Some(id), |model, now| {
            Ok(model.visible(id, now)?.status(now))
        })
        .await
    }

    /// Stops a running instance. Stopping or stopped: nothing changes.
    /// Pending, terminating or terminated: [`CloudError::InvalidState`].
    pub async fn stop(&self, id: &str) -> Result<InstanceRecord, CloudError> {
        let inner = &*self.inner;
        self.call(Operation::Stop, Some(id), |model, now| {
            model.purge(now);
            halt(model, inner, id, now, "user initiated stop")
        })
        .await
    }

    /// Starts a stopped instance with a new public address (and a new private
    /// one where the personality gave it up). Pending or running: nothing
    /// changes. Stopping, terminating or terminated:
    /// [`CloudError::InvalidState`]. A start planned to fail after
    /// acceptance ([`fail_start_after_acceptance`](Self::fail_start_after_acceptance))
    /// is pending without addresses and then stopped again, with the
    /// failure on the record.
    pub async fn start(&self, id: &str) -> Result<InstanceRecord, CloudError> {
        let inner = &*self.inner;
        self.call(Operation::Start, Some(id), |model, now| {
            model.purge(now);
            let instance = visible_mut(&mut model.instances, id, now)?;
            let before = instance.state;
            match instance.state {
                Stopped => {
                    instance.starts += 1;
                    instance.reason = None;
                    if let Some((kind, after)) = Model::take_doom(&mut model.doomed_starts) {
                        // Accepted now, failed `after` later: no host, so
                        // no address, and the instance kept as it was.
                        instance.transition(now, Pending, Stopped, after);
                        if instance.failed_starts.len() == MAX_FAILED_STARTS {
                            instance.failed_starts.remove(0);
                        }
                        instance.failed_starts.push((instance.starts, kind));
                        return Ok(InstanceRecord {
                            previous_state: before,
                            ..instance.record(now)
                        });
                    }
                    instance.transition(now, Pending, Running, inner.transitions.boot);
                    // Running again: no longer what a reclaim left.
                    instance.reclaimed = false;
                    instance.last_start = inner.wall_at(now);
                    if instance.private_ip.is_none() {
                        instance.private_ip = model.private.allocate();
                    }
                    if inner.personality.public_addresses && instance.public_ip.is_none() {
                        instance.public_ip = model.public.allocate();
                    }
                }
                Pending | Running => {}
                state @ (Stopping | Terminating | Terminated) => {
                    return Err(CloudError::InvalidState {
                        id: id.to_owned(),
                        state,
                        op: Operation::Start,
                    })
                }
            }
            Ok(InstanceRecord {
                previous_state: before,
                ..instance.record(now)
            })
        })
        .await
    }

    /// Terminates an instance: its addresses go back to the pools, it is
    /// terminating, then terminated, then (after the personality's
    /// retention) gone. Terminating or terminated: nothing changes.
    pub async fn terminate(&self, id: &str) -> Result<InstanceRecord, CloudError> {
        let inner = &*self.inner;
        self.call(Operation::Terminate, Some(id), |model, now| {
            model.purge(now);
            end(model, inner, id, now, "user initiated terminate")
        })
        .await
    }

    /// The cloud takes back a running (or booting) spot instance: it is
    /// terminated or stopped, as its launch asked, and says it was
    /// reclaimed. Not a caller's operation, so not logged or faulted: the
    /// fault a test injects ("reclaim" on the control face). An on-demand
    /// instance, or one already stopping or ending, is
    /// [`CloudError::InvalidState`].
    pub fn reclaim(&self, id: &str) -> Result<InstanceRecord, CloudError> {
        let inner = &*self.inner;
        let mut guard = self.lock();
        // A plain borrow, so the instance and the reclaim log are borrowed
        // apart.
        let model = &mut *guard;
        let now = Instant::now();
        model.purge(now);
        let instance = visible_mut(&mut model.instances, id, now)?;
        let on_reclaim = match (&instance.config.capacity, instance.state) {
            (Capacity::Spot(spot), Pending | Running) => spot.on_reclaim,
            (_, state) => {
                return Err(CloudError::InvalidState {
                    id: id.to_owned(),
                    state,
                    op: Operation::Terminate,
                })
            }
        };
        instance.reclaimed = true;
        if instance.state == Pending {
            // Reclaimed before it ran: it is running for an instant first.
            instance.state = Running;
            instance.next = None;
        }
        let event = Reclaim {
            id: Arc::clone(&instance.id),
            attributes: Arc::clone(&instance.attributes),
            at: inner.wall_at(now),
            on_reclaim,
            seq: model.next_seq,
        };
        model.next_seq += 1;
        model
            .reclaims
            .push_back((now + FAILED_LAUNCH_MEMORY, event));
        match on_reclaim {
            OnReclaim::Stop => halt(model, inner, id, now, "reclaimed"),
            _ => end(model, inner, id, now, "reclaimed"),
        }
    }

    /// One page of the visible instances matching `filter`, in creation
    /// order, starting at `after` (a [`Page::next`]) and holding at most
    /// `limit` items (at least one).
    pub async fn list(
        &self,
        filter: &InstanceFilter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, CloudError> {
        let limit = limit.max(1);
        self.call(Operation::List, None, |model, now| {
            let mut items = Vec::new();
            let mut next = None;
            let (candidates, decided) = model.candidates(filter, after.unwrap_or(0));
            for (&seq, id) in candidates {
                let instance = &model.instances[id];
                if !instance.visible_at(now)
                    || !filter.admits_state(instance.state_at(now))
                    || (!decided && !filter.admits_tags(&instance.config.tags))
                {
                    continue;
                }
                if items.len() == limit {
                    next = Some(seq);
                    break;
                }
                items.push(instance.record(now));
            }
            Ok(Page { items, next })
        })
        .await
    }

    /// Every page of [`list`](Self::list), concatenated.
    pub async fn list_all(
        &self,
        filter: &InstanceFilter,
    ) -> Result<Vec<InstanceRecord>, CloudError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.list(filter, after, 1000).await?;
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// The next `count` calls of `op` fail with `fault`, after any failures
    /// already planned for it.
    pub fn fail_next(&self, op: Operation, count: u32, fault: Fault) {
        self.lock().faults.fail_next(op, count, fault);
    }

    /// The next `count` launches are accepted (pending, visible) and then fail
    /// for `kind` after `after`: terminated, with the failure on the record,
    /// never running. Each face reports it as its cloud does (a state
    /// reason, an operation error, a failed provisioning).
    pub fn fail_after_acceptance(&self, count: u32, kind: LaunchFailureKind, after: Duration) {
        if count > 0 {
            self.lock().doomed.push((count, kind, after));
        }
    }

    /// The next `count` starts of stopped instances are accepted (pending)
    /// and then fail for `kind` after `after`: stopped again, kept with
    /// everything it had, never running, the failure on the record
    /// ([`InstanceRecord::start_failure`]) until the next start. Faces report
    /// it as their cloud does (Compute Engine's start operation, Azure's
    /// long-running start).
    pub fn fail_start_after_acceptance(
        &self,
        count: u32,
        kind: LaunchFailureKind,
        after: Duration,
    ) {
        if count > 0 {
            self.lock().doomed_starts.push((count, kind, after));
        }
    }

    /// The next `count` starts of stopped instances cannot be placed, the
    /// way the personality's cloud says so: refused at once (EC2's
    /// StartInstances), or accepted and failed after
    /// [`FAILURE_AFTER_ACCEPTANCE`](crate::FAILURE_AFTER_ACCEPTANCE)
    /// (Compute Engine's start operation, Azure's long-running start).
    pub fn fail_starts(&self, count: u32, kind: LaunchFailureKind) {
        if self.inner.personality.start_failures_after_acceptance {
            self.fail_start_after_acceptance(count, kind, crate::FAILURE_AFTER_ACCEPTANCE);
            return;
        }
        self.fail_next(Operation::Start, count, Fault::refusing(kind));
    }

    /// Why start number `n` of `id` (see [`InstanceRecord::starts`]) failed
    /// after acceptance, once it did; read without a call: the record a
    /// cloud keeps of its operations.
    pub fn failed_start(&self, id: &str, n: u32) -> Option<LaunchFailureKind> {
        let now = Instant::now();
        self.lock().visible(id, now).ok()?.failed_start(n, now)
    }

    /// Changes the wire attributes of a live instance, as a cloud applies an
    /// in-place update its face names (Compute Engine's setMetadata). What
    /// the instance was launched with, its key and its state are kept.
    pub async fn update_attributes(
        &self,
        id: &str,
        change: impl FnOnce(&mut Attributes),
    ) -> Result<InstanceRecord, CloudError> {
        self.call(Operation::Launch, Some(id), |model, now| {
            model.purge(now);
            let instance = visible_mut(&mut model.instances, id, now)?;
            if instance.state.is_terminal() {
                return Err(CloudError::InvalidState {
                    id: id.to_owned(),
                    state: instance.state,
                    op: Operation::Launch,
                });
            }
            let mut attributes = (*instance.attributes).clone();
            change(&mut attributes);
            instance.attributes = Arc::new(attributes);
            Ok(instance.record(now))
        })
        .await
    }

    /// Changes what a live instance was launched with, as a cloud applies an
    /// update of an existing resource (Azure's PUT): tags (re-indexed), user
    /// data, disk size and type; a new type on a running instance reboots it.
    /// The key and the face's attributes are kept.
    pub async fn update(
        &self,
        id: &str,
        config: &InstanceConfig,
    ) -> Result<InstanceRecord, CloudError> {
        let inner = &*self.inner;
        self.call(Operation::Launch, Some(id), |model, now| {
            model.purge(now);
            let instance = visible_mut(&mut model.instances, id, now)?;
            if instance.state.is_terminal() {
                return Err(CloudError::InvalidState {
                    id: id.to_owned(),
                    state: instance.state,
                    op: Operation::Launch,
                });
            }
            let old = Arc::clone(&instance.config);
            let mut new = config.clone();
            new.idempotency_key.clone_from(&old.idempotency_key);
            if new.instance_type != old.instance_type && instance.state == Running {
                instance.transition(now, Pending, Running, inner.transitions.boot);
            }
            instance.config = Arc::new(new);
            let (seq, id, record) = (instance.seq, Arc::clone(&instance.id), instance.record(now));
            model.unindex_tags(&old.tags, seq);
            model.index_tags(&config.tags, seq, &id);
            Ok(record)
        })
        .await
    }

    /// Each call of one of `ops` fails with `fault` with this probability,
    /// drawn from the cloud's seeded generator.
    pub fn fail_randomly(&self, ops: &[Operation], probability: f64, fault: Fault) {
        self.lock().faults.fail_randomly(ops, probability, fault);
    }

    /// Every call of `op` takes `latency` longer (on tokio's clock).
    pub fn set_latency(&self, op: Operation, latency: Duration) {
        self.lock().faults.set_latency(op, latency);
        self.inner.latency_armed.store(true, Ordering::Release);
    }

    /// Instances launched from now on stay invisible for `delay`.
    pub fn set_visibility_delay(&self, delay: Duration) {
        self.lock().visibility_delay = delay;
    }

    /// Removes every planned fault, random fault, latency and planned
    /// failure after acceptance.
    pub fn clear_faults(&self) {
        let mut model = self.lock();
        model.faults.clear();
        model.doomed.clear();
        model.doomed_starts.clear();
        drop(model);
        self.inner.latency_armed.store(false, Ordering::Release);
    }

    /// The time on the model's clock: since the cloud was built, as
    /// [`CallRecord::at`] counts it, so that a caller's own notes line up
    /// with the call log.
    pub fn elapsed(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// The most recent calls, oldest first (see
    /// [`FakeCloudBuilder::call_log_capacity`]).
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().log.recent()
    }

    /// How many calls of `op` were made, failed ones included.
    pub fn call_count(&self, op: Operation) -> u64 {
        self.lock().log.count(op)
    }

    /// How many of the logged calls of `op` named an instance that `names`
    /// accepts (the log keeps the most recent calls; see
    /// [`FakeCloudBuilder::call_log_capacity`]).
    pub fn calls_naming(&self, op: Operation, names: impl Fn(&str) -> bool) -> u64 {
        let model = self.lock();
        let calls = model.log.recent_iter();
        calls
            .filter(|c| c.op == op && c.instance_id.as_deref().is_some_and(&names))
            .count() as u64
    }

    /// Forgets the call log.
    pub fn clear_calls(&self) {
        self.lock().log.clear();
    }

    /// The state of a visible instance, read without a call: not logged,
    /// never faulted, no latency. For a face's own bookkeeping (such as the
    /// status of an operation record), never for answering a cloud call.
    pub fn peek_state(&self, id: &str) -> Option<CloudInstanceState> {
        let now = Instant::now();
        self.lock().visible(id, now).ok().map(|i| i.state_at(now))
    }

    /// Why the launch of `id` failed after acceptance, for a launch that
    /// failed and vanished within the last hour, read without a call: the
    /// record a cloud keeps of its operations (Compute Engine's insert
    /// operation), not an instance read.
    pub fn vanished_launch_failure(&self, id: &str) -> Option<LaunchFailureKind> {
        let mut model = self.lock();
        model.purge(Instant::now());
        model.failed.get(id).copied()
    }

    /// The reclaims of the last hour, oldest first, read without a call:
    /// the record a cloud keeps of its preemptions and evictions.
    pub fn reclaims(&self) -> Vec<Reclaim> {
        let mut model = self.lock();
        model.purge(Instant::now());
        model.reclaims.iter().map(|(_, r)| r.clone()).collect()
    }

    /// True when `id` was a spot instance the cloud reclaimed and that has
    /// vanished since (within the last hour), read without a call: the
    /// record a cloud keeps of its preemptions and evictions.
    pub fn vanished_reclaim(&self, id: &str) -> bool {
        let mut model = self.lock();
        model.purge(Instant::now());
        model.reclaimed.contains(id)
    }

    /// The record of a visible instance, read without a call: not logged,
    /// never faulted, no latency. Like [`peek_state`](Self::peek_state), for
    /// a face's own bookkeeping only.
    pub fn peek(&self, id: &str) -> Option<InstanceRecord> {
        let now = Instant::now();
        self.lock().visible(id, now).ok().map(|i| i.record(now))
    }

    /// The state of `id` as the cloud itself holds it, read without a call
    /// and whether or not reads see it yet (eventual consistency) or still
    /// (a terminated instance past its retention reads as `None`, as one
    /// never launched). For a face's bookkeeping of what lives and dies
    /// with an instance (EC2's volumes), never for answering a read.
    pub fn held_state(&self, id: &str) -> Option<CloudInstanceState> {
        let now = Instant::now();
        let model = self.lock();
        model
            .instances
            .get(id)
            .filter(|i| i.gone_at.is_none_or(|gone| now < gone))
            .map(|i| i.state_at(now))
    }

    /// True while `id` lives as the cloud holds it ([`held_state`](Self::held_state)
    /// neither `None` nor `Terminated`): what its attached resources
    /// (volumes, disks) follow.
    pub fn holds_live(&self, id: &str) -> bool {
        self.held_state(id)
            .is_some_and(|s| s != CloudInstanceState::Terminated)
    }

    /// Takes an address from the cloud's private (or public) pool for a
    /// resource a face keeps apart from instances (an Azure network
    /// interface or public address, which holds its address from its
    /// creation to its deletion), so that no instance gets it meanwhile;
    /// `None` when the pool is empty. Give it back with
    /// [`release_address`](Self::release_address).
    pub fn allocate_address(&self, public: bool) -> Option<Ipv4Addr> {
        let mut model = self.lock();
        if public {
            model.public.allocate()
        } else {
            model.private.allocate()
        }
    }

    /// Gives back an address [`allocate_address`](Self::allocate_address)
    /// took.
    pub fn release_address(&self, address: Ipv4Addr, public: bool) {
        let mut model = self.lock();
        if public {
            model.public.release(address);
        } else {
            model.private.release(address);
        }
    }

    /// The records of the visible instances whose wire attributes `keep`
    /// admits, read without a call (a scan of every instance): for a
    /// face's bookkeeping of what its instances use (the subnet of a
    /// network interface), never for answering a list.
    pub fn peek_where(&self, keep: impl Fn(&Attributes) -> bool) -> Vec<InstanceRecord> {
        let now = Instant::now();
        let model = self.lock();
        model
            .instances
            .values()
            .filter(|i| i.visible_at(now) && keep(&i.attributes))
            .map(|i| i.record(now))
            .collect()
    }

    /// The id of a visible instance that `matches`, read without a call (a
    /// scan of every instance): for a face that knows an instance by
    /// another name than the model's id.
    pub fn find_id(&self, matches: impl Fn(&str) -> bool) -> Option<String> {
        let now = Instant::now();
        let model = self.lock();
        model
            .instances
            .values()
            .find(|i| i.visible_at(now) && matches(&i.id))
            .map(|i| i.id.to_string())
    }

    /// The id and tags of every instance created so far, in creation order,
    /// when the cloud was built with
    /// [`record_creations`](FakeCloudBuilder::record_creations); else empty.
    pub fn creations(&self) -> Vec<Creation> {
        self.lock().creations.iter().flatten().cloned().collect()
    }

    /// How many instances are live (launched and not terminated).
    pub fn live_instances(&self) -> usize {
        self.lock().live
    }

    /// Records a call, applies latency and planned faults, then runs `op`
    /// on the model under its lock.
    async fn call<T>(
        &self,
        op: Operation,
        id: Option<&str>,
        body: impl FnOnce(&mut Model, Instant) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        if self.inner.latency_armed.load(Ordering::Acquire) {
            let latency = self.lock().faults.latency(op);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
        }
        let mut model = self.lock();
        let now = Instant::now();
        let result = match model.faults.take(op) {
            Some(fault) => Err(CloudError::Fault { fault, op }),
            None => body(&mut model, now),
        };
        model
            .log
            .record(op, id, now - self.inner.started, result.is_ok());
        result
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        // Every mutation of the model completes under one lock without
        // calling out, so a poisoned lock holds consistent data.
        self.inner.model.lock().unwrap_or_else(|p| p.into_inner())
    }
}
