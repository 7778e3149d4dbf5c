//! The model behind the lock: instances with their state and scheduled
//! transition, the indexes (creation order, tags, keys) and the rules
//! that end, halt and purge instances.

use super::*;

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) model: Mutex<Model>,
    /// Set once any latency is configured, so the common path skips a lock.
    pub(super) latency_armed: AtomicBool,
    pub(super) personality: Personality,
    pub(super) transitions: Transitions,
    pub(super) max_live: Option<usize>,
    pub(super) started: Instant,
    pub(super) started_wall: OffsetDateTime,
}

impl Inner {
    /// The model's wall clock at `now`: its creation time plus tokio-clock
    /// time elapsed since, so a paused and advanced clock moves it too.
    pub(super) fn wall_at(&self, now: Instant) -> OffsetDateTime {
        self.started_wall + (now - self.started)
    }
}

#[derive(Debug)]
pub(super) struct Instance {
    pub(super) id: Arc<str>,
    /// Creation order: the paging cursor.
    pub(super) seq: u64,
    pub(super) config: Arc<InstanceConfig>,
    pub(super) attributes: Arc<Attributes>,
    pub(super) state: CloudInstanceState,
    /// The one scheduled transition: the state it reaches, and when.
    pub(super) next: Option<(CloudInstanceState, Instant)>,
    pub(super) reason: Option<&'static str>,
    pub(super) private_ip: Option<Ipv4Addr>,
    pub(super) public_ip: Option<Ipv4Addr>,
    pub(super) launch_time: OffsetDateTime,
    pub(super) last_start: OffsetDateTime,
    pub(super) visible_from: Instant,
    /// When it vanishes from every view (terminated and past retention).
    pub(super) gone_at: Option<Instant>,
    /// Counted among the live instances (quota); a launch doomed to fail
    /// never is.
    pub(super) live: bool,
    /// The failure planned for (or met by) this launch after acceptance.
    pub(super) failure: Option<LaunchFailureKind>,
    /// The cloud reclaimed this spot instance.
    pub(super) reclaimed: bool,
    /// Starts of a stopped instance accepted so far.
    pub(super) starts: u32,
    /// The starts (by number) that failed, or will, after acceptance, and
    /// why: the latest [`MAX_FAILED_STARTS`], what a cloud's operations
    /// records keep.
    pub(super) failed_starts: Vec<(u32, LaunchFailureKind)>,
}

/// How many failed starts an instance remembers.
pub(super) const MAX_FAILED_STARTS: usize = 8;

impl Instance {
    pub(super) fn state_at(&self, now: Instant) -> CloudInstanceState {
        match self.next {
            Some((target, at)) if now >= at => target,
            _ => self.state,
        }
    }

    pub(super) fn visible_at(&self, now: Instant) -> bool {
        now >= self.visible_from && self.gone_at.is_none_or(|gone| now < gone)
    }

    pub(super) fn settle(&mut self, now: Instant) {
        self.state = self.state_at(now);
        if self.next.is_some_and(|(_, at)| now >= at) {
            self.next = None;
        }
    }

    /// Moves to `through` now and to `target` after `delay`.
    pub(super) fn transition(
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
    pub(super) fn failed_start(&self, n: u32, now: Instant) -> Option<LaunchFailureKind> {
        let (_, kind) = self.failed_starts.iter().find(|(start, _)| *start == n)?;
        // The latest start fails when its transition ends.
        (n != self.starts || self.state_at(now) != Pending).then_some(*kind)
    }

    /// Its state, failure and reason at `now`.
    pub(super) fn seen(&self, now: Instant) -> Seen {
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
    pub(super) fn status(&self, now: Instant) -> InstanceStatus {
        status(
            &self.id,
            self.seen(now),
            self.private_ip,
            self.public_ip,
            owner_of(&self.config),
        )
    }

    pub(super) fn record(&self, now: Instant) -> InstanceRecord {
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

    pub(super) fn same_launch(&self, config: &InstanceConfig, attributes: &Attributes) -> bool {
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
pub(super) const FAILED_LAUNCH_MEMORY: Duration = Duration::from_secs(3600);

/// An index from creation order to id.
pub(super) type Ordered = BTreeMap<u64, Arc<str>>;

/// An empty index, for filters that name a tag no instance carries.
static EMPTY: Ordered = BTreeMap::new();

/// Instances by id (one hash lookup for describe and the other single-instance
/// calls), plus creation-ordered indexes for paging: of every instance, and
/// per tag.
#[derive(Debug)]
pub(super) struct Model {
    pub(super) instances: HashMap<Arc<str>, Instance>,
    pub(super) order: Ordered,
    /// Tag key → value → instances carrying it: a filtered list touches only
    /// the instances that carry the rarest of the filter's tags.
    pub(super) by_tag: HashMap<String, HashMap<String, Ordered>>,
    pub(super) tokens: HashMap<String, Arc<str>>,
    /// (when it is forgotten, creation order) → key, for keys whose instance
    /// was terminated.
    pub(super) token_expiry: BTreeMap<(Instant, u64), String>,
    /// How long a key outlives the termination of its instance.
    pub(super) key_retention: Duration,
    /// Launches planned to fail after acceptance: (count, why, after how long).
    pub(super) doomed: Vec<(u32, LaunchFailureKind, Duration)>,
    /// The same for starts of stopped instances.
    pub(super) doomed_starts: Vec<(u32, LaunchFailureKind, Duration)>,
    /// Every instance created, when the builder asked to record them.
    pub(super) creations: Option<Vec<Creation>>,
    /// Failed launches that vanished, kept an hour as a cloud keeps the
    /// operation that reports them (Compute Engine's insert operation).
    pub(super) failed: Expiring<LaunchFailureKind>,
    /// Reclaimed spot instances that vanished, kept as long as failed
    /// launches: the record a cloud keeps of a preemption or eviction.
    pub(super) reclaimed: Expiring<()>,
    /// Every reclaim of the last hour, oldest first, with when it is
    /// forgotten.
    pub(super) reclaims: std::collections::VecDeque<(Instant, Reclaim)>,
    /// (when it vanishes, creation order) → id, for terminated instances.
    pub(super) expiry: BTreeMap<(Instant, u64), Arc<str>>,
    pub(super) next_seq: u64,
    pub(super) live: usize,
    pub(super) private: AddressPool,
    pub(super) public: AddressPool,
    pub(super) faults: FaultPlan,
    pub(super) log: CallLog,
    pub(super) ids: SplitMix64,
    pub(super) visibility_delay: Duration,
}

pub(super) fn not_found(id: &str) -> CloudError {
    CloudError::NotFound { id: id.to_owned() }
}

/// Stops `id` now (running) or leaves it (stopping, stopped); refuses the
/// other states. `reason` is the state reason it gets.
pub(super) fn halt(
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
pub(super) fn end(
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

/// The visible instance `id`, its state settled at `now`.
pub(super) fn visible_mut<'m>(
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

/// The visible instance `id`, to update in place: a terminal one is
/// refused as `InvalidState` (an update is a launch-time change).
pub(super) fn updatable<'m>(
    instances: &'m mut HashMap<Arc<str>, Instance>,
    id: &str,
    now: Instant,
) -> Result<&'m mut Instance, CloudError> {
    let instance = visible_mut(instances, id, now)?;
    if instance.state.is_terminal() {
        return Err(CloudError::InvalidState {
            id: id.to_owned(),
            state: instance.state,
            op: Operation::Launch,
        });
    }
    Ok(instance)
}

impl Model {
    pub(super) fn visible(&self, id: &str, now: Instant) -> Result<&Instance, CloudError> {
        self.instances
            .get(id)
            .filter(|i| i.visible_at(now))
            .ok_or_else(|| not_found(id))
    }

    /// Removes terminated instances whose retention has passed.
    pub(super) fn purge(&mut self, now: Instant) {
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
    pub(super) fn index_tags(&mut self, tags: &provisioner_core::Tags, seq: u64, id: &Arc<str>) {
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
    pub(super) fn unindex_tags(&mut self, tags: &provisioner_core::Tags, seq: u64) {
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
    pub(super) fn retire_key(&mut self, key: Option<&String>, seq: u64, from: Instant) {
        if let Some(key) = key {
            if !self.key_retention.is_zero() {
                self.token_expiry
                    .insert((from + self.key_retention, seq), key.clone());
            }
        }
    }

    /// Consumes one planned failure-after-acceptance of `plan`, if any.
    pub(super) fn take_doom(
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

    pub(super) fn fresh_id(&mut self, prefix: &str) -> Arc<str> {
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
    pub(super) fn candidates(
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
