//! What a test does to the cloud besides the calls a provider makes:
//! faults, latency, visibility, and looking at the model without a call.

use super::*;

impl FakeCloud {
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
            let instance = updatable(&mut model.instances, id, now)?;
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
            let instance = updatable(&mut model.instances, id, now)?;
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
}
