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

mod builder;
mod controls;
mod model;
mod records;

pub use builder::FakeCloudBuilder;
use model::*;
pub(crate) use records::launch_failure;
use records::*;
pub use records::{Attributes, Creation, InstanceRecord, Page, Reclaim};

/// An in-memory cloud. Cloning gives another handle to the same cloud, so a
/// test, several provisioners and an emulator can share one.
#[derive(Debug, Clone)]
pub struct FakeCloud {
    inner: Arc<Inner>,
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
