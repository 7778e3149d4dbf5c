//! Compute Engine's calls for the contract: [`GcpProvisioner`]'s [`Wire`],
//! which core's one implementation of the contract over a `Wire` makes an
//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use google_cloud_compute_v1::model::Instance;
use google_cloud_gax::options::RequestOptionsBuilder as _;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::naming;
use provisioner_core::provider::paging::PageTokens;
use provisioner_core::provider::validate::{field, ConfigRules};
use provisioner_core::provider::Wire;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus, Result,
};

use crate::convert::{
    id_of, launch_fingerprint_of, operation_result, owner_of, private_ip, public_ip,
    reported_failure, state_of,
};
use crate::errors::{self, from_gax};
use crate::ids::{self, InstanceId};
use crate::spot::{self, PreemptedAt};
use crate::tags::GCP_RULES;
use crate::GcpProvisioner;
use crate::PROVIDER;
use google_cloud_compute_v1::model::operation::Status as OpStatus;
use provisioner_core::provider::consistency::Expiring;
use provisioner_core::LaunchFailure;

impl GcpProvisioner {
    /// The zone a launch goes to: the one it asks for, which must be one of
    /// this provisioner's zones (describe and list look only there), or
    /// the one a hash of its name picks.
    fn placed<'a>(&'a self, config: &'a InstanceConfig, name: &str) -> Result<&'a str> {
        match &config.placement.zone {
            Some(zone) if self.zones.contains(zone) => Ok(zone),
            Some(_) => Err(Error::invalid_argument(
                field::PLACEMENT,
                format!(
                    "the zone is not one of this provisioner's zones ({})",
                    self.zones.join(", ")
                ),
            )),
            None => Ok(&self.zones
                [(naming::stable_hash(name.as_bytes()) % self.zones.len() as u64) as usize]),
        }
    }

    /// Remembers `operation`, the insert or start of `id`, in `followed`
    /// (see [`INSERT_FOLLOW_UP`](crate::builder::INSERT_FOLLOW_UP)).
    fn follow(followed: &Mutex<Expiring<String>>, id: &str, operation: Option<String>) {
        let mut followed = lock(followed);
        match operation {
            Some(operation) => followed.insert(id, operation),
            None => drop(followed.remove(id)),
        }
    }

    /// The failure the insert operation of `id` reports, if this provisioner
    /// launched `id` recently and the operation is done with an error.
    async fn insert_outcome(&self, id: &str, zone: &str) -> Option<LaunchFailure> {
        self.outcome(&self.inserts, id, zone).await
    }

    /// The failure the operation `followed` holds for `id` reports, if it is
    /// done with an error. A done operation without an error is forgotten:
    /// the insert or start succeeded.
    async fn outcome(
        &self,
        followed: &Mutex<Expiring<String>>,
        id: &str,
        zone: &str,
    ) -> Option<LaunchFailure> {
        let operation = lock(followed).get(id).cloned()?;
        let op = self
            .operations
            .get()
            .set_project(&self.project)
            .set_zone(zone)
            .set_operation(&operation)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await
            .ok()?;
        let failure = reported_failure(&op);
        if failure.is_none() && op.status == Some(OpStatus::Done) {
            lock(followed).remove(id);
        }
        failure
    }

    /// The existing instance a keyed launch met (`alreadyExists`): returned
    /// when it was launched with the same parameters and is not being
    /// deleted, else `InvalidArgument` naming the key.
    async fn existing_launch(
        &self,
        zone: &str,
        name: &str,
        config: &InstanceConfig,
    ) -> Result<InstanceInfo> {
        let id = ids::format(zone, name);
        let existing =
            self.get(InstanceId { zone, name })
                .await?
                .ok_or_else(|| Error::Unavailable {
                    message: format!("{id} exists and cannot be read yet"),
                    context: None,
                })?;
        if launch_fingerprint_of(&existing) != Some(naming::launch_fingerprint(config).as_str()) {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!("already used for a launch of {id} with other parameters"),
            ));
        }
        // The same launch by another owner (two fleets, one key) is theirs.
        if !self.owner.owns(owner_of(&existing).as_deref()) {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!("already used for a launch of {id} by another owner"),
            ));
        }
        if self.lock_deleting().contains(&id) {
            return Err(Error::invalid_argument(
                field::IDEMPOTENCY_KEY,
                format!(
                    "it names {id}, which is being deleted: wait until it is gone, or use a new key"
                ),
            ));
        }
        Ok(self.info_of(&existing, false))
    }

    fn lock_deleting(&self) -> std::sync::MutexGuard<'_, Expiring<String>> {
        lock(&self.deleting)
    }

    async fn get(&self, id: InstanceId<'_>) -> Result<Option<Instance>> {
        let result = self
            .instances
            .get()
            .set_project(&self.project)
            .set_zone(id.zone)
            .set_instance(id.name)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await;
        match result {
            Ok(instance) => Ok(Some(instance)),
            Err(e) => match from_gax(e, &ids::format(id.zone, id.name)) {
                Error::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// The preemptions that may explain what `seen` shows (stopped spot
    /// instances; instances gone that this provisioner did not delete), by
    /// id: one preemption query per zone and batch of names.
    async fn preempted(
        &self,
        seen: &[(InstanceId<'_>, Option<&Instance>)],
    ) -> Result<HashMap<String, PreemptedAt>> {
        let mut by_zone: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (id, instance) in seen {
            let candidate = match instance {
                Some(i) => spot::is_spot(i) && state_of(i, false).0 == CloudInstanceState::Stopped,
                None => !self
                    .lock_deleting()
                    .contains(&ids::format(id.zone, id.name)),
            };
            if candidate {
                by_zone.entry(id.zone).or_default().push(id.name);
            }
        }
        let mut found = HashMap::new();
        for (zone, names) in by_zone {
            for (name, at) in self.preemptions(zone, &names).await? {
                found.insert(ids::format(zone, &name), at);
            }
        }
        Ok(found)
    }

    /// What describe says of `id`, given what Compute Engine answered for
    /// it (`None`: not found) and its latest preemption, if any; `None`
    /// when Compute Engine does not know it and nothing this provisioner
    /// remembers speaks for it.
    async fn status_of(
        &self,
        id: InstanceId<'_>,
        instance: Option<&Instance>,
        preempted: Option<PreemptedAt>,
    ) -> Option<InstanceStatus> {
        let instance_id = ids::format(id.zone, id.name);
        let instance_id = instance_id.as_str();
        let Some(instance) = instance else {
            self.lock_deleting().remove(instance_id);
            if let Some(failure) = self.insert_outcome(instance_id, id.zone).await {
                return Some(InstanceStatus::failed_launch(instance_id, failure));
            }
            // A Spot VM whose termination action is DELETE.
            return preempted.map(|_| {
                InstanceStatus::gone(instance_id)
                    .with_state_reason("preempted".to_owned())
                    .with_reclaimed(true)
            });
        };
        let deleting = self.being_deleted(instance_id, id.zone).await;
        let (state, reason) = state_of(instance, deleting);
        // Still booting: the insert may be failing (the instance is visible
        // for a moment before a stock-out removes it).
        if state == CloudInstanceState::Pending {
            if let Some(failure) = self.insert_outcome(instance_id, id.zone).await {
                self.recent.forget(instance_id);
                return Some(
                    InstanceStatus::failed_launch(instance_id, failure)
                        .with_owner(owner_of(instance)),
                );
            }
        }
        let reclaimed = reclaimed(instance, state, preempted);
        // Stopped again after a start this provisioner made: the start
        // operation may say it could not be placed.
        let start_failure = match state {
            CloudInstanceState::Stopped => self.outcome(&self.starts, instance_id, id.zone).await,
            _ => None,
        };
        let reason = reason
            .or_else(|| instance.status_message.clone())
            .or_else(|| reclaimed.then(|| "preempted".to_owned()));
        let status = InstanceStatus::new(instance_id, state)
            .with_state_reason(reason)
            .with_addresses(private_ip(instance), public_ip(instance))
            .with_reclaimed(reclaimed)
            .with_owner(owner_of(instance));
        Some(match start_failure {
            Some(failure) => status.with_failed_start(failure),
            None => status,
        })
    }

    /// Every instance in the configured zones that `filter` admits, by id,
    /// across every page of aggregatedList. An unreachable configured zone
    /// is an error: the answer would be incomplete.
    async fn list_by_filter(&self, filter: &str) -> Result<Vec<(String, Instance)>> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new(PROVIDER);
        loop {
            let page = self
                .instances
                .aggregated_list()
                .set_project(&self.project)
                .set_filter(filter)
                .set_max_results(self.page_size)
                .set_or_clear_page_token(token.take())
                .with_attempt_timeout(self.deadlines.attempt)
                .send()
                .await
                .map_err(|e| from_gax(e, ""))?;
            if let Some(zone) = self.zones.iter().find(|z| {
                page.unreachables
                    .iter()
                    .any(|u| u.ends_with(&format!("zones/{z}")))
            }) {
                return Err(Error::Unavailable {
                    message: format!("zone {zone} is unreachable: the answer would be incomplete"),
                    context: None,
                });
            }
            for (scope, list) in page.items {
                let in_our_zones = self
                    .zones
                    .iter()
                    .any(|z| scope.ends_with(&format!("zones/{z}")));
                if in_our_zones {
                    found.extend(list.instances.into_iter().map(|i| (id_of(&i), i)));
                }
            }
            match pages.next(page.next_page_token.as_deref())? {
                Some(next) => token = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// True while a delete this provisioner started for `id` is under way
    /// (or done): the instance is terminating whatever status it shows.
    async fn being_deleted(&self, id: &str, zone: &str) -> bool {
        let Some(op) = self.lock_deleting().get(id).cloned() else {
            return false;
        };
        let result = self
            .operations
            .get()
            .set_project(&self.project)
            .set_zone(zone)
            .set_operation(&op)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await;
        match result {
            Ok(op) if op.error.is_some() => {
                // The delete failed: the instance is what it says it is.
                self.lock_deleting().remove(id);
                false
            }
            Ok(_) => true,
            // The operation cannot be read now: trust that the delete we
            // started goes on.
            Err(_) => true,
        }
    }
}

/// True when a stopped Spot VM was stopped by its latest preemption.
fn reclaimed(
    instance: &Instance,
    state: CloudInstanceState,
    preempted: Option<PreemptedAt>,
) -> bool {
    state == CloudInstanceState::Stopped
        && spot::is_spot(instance)
        && preempted.is_some_and(|at| spot::stopped_by(instance, at))
}

/// `m`'s guard, also after a panic elsewhere (the maps hold plain data).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A UUID-shaped request id, fresh for each call. The instance name already
/// makes a keyed launch idempotent; a request id derived from it would make
/// Compute Engine answer a later launch of the same key, after a terminate,
/// with the old, finished operation (it ignores a repeated request id for
/// at least 60 minutes) and create nothing.
fn fresh_request_id() -> String {
    let seed = naming::fresh_token("request");
    let a = naming::stable_hash(seed.as_bytes());
    let b = naming::stable_hash(format!("uuid:{seed}").as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// The longest `name eq` filter one aggregatedList carries, counted as it
/// travels (each `|` percent-encoded as `%7C`). Compute Engine documents no
/// limit on the filter, but Google's front ends refuse a GET whose URL
/// passes 8,192 characters (googleapis/google-api-nodejs-client issue 972);
/// 7,500 leaves room for the path and the other parameters (about 250
/// names of 26 characters a filter).
const MAX_NAME_FILTER: usize = 7500;

/// The filters naming `ids` (`ZONE/NAME`), as few as fit
/// [`MAX_NAME_FILTER`] once encoded: `name eq "(a|b|…)"`, a regular expression that must
/// match the whole name. RFC 1035 names hold no regex metacharacter. A name
/// in several zones may match instances in zones not asked for; they are
/// dropped by id.
fn name_filters(ids: &[&str]) -> Vec<String> {
    let names: Vec<&str> = ids
        .iter()
        .filter_map(|id| id.split_once('/').map(|(_, n)| n))
        .collect();
    // The wrapper `name eq "(…)"`, encoded, is about 30 characters.
    alternations(&names, MAX_NAME_FILTER - 30)
        .into_iter()
        .map(|group| format!("name eq \"({group})\""))
        .collect()
}

/// `names`, sorted and without repeats, joined with `|` into as few groups
/// as keep each under `budget` characters once the `|` are percent-encoded
/// (`%7C`), for regular-expression filters that travel in a URL.
pub(crate) fn alternations(names: &[&str], budget: usize) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    let mut groups = Vec::new();
    let mut current = String::new();
    let mut encoded = 0;
    for name in names {
        if !current.is_empty() && encoded + name.len() + 3 > budget {
            groups.push(std::mem::take(&mut current));
            encoded = 0;
        }
        if !current.is_empty() {
            current.push('|');
            encoded += 3;
        }
        current.push_str(name);
        encoded += name.len();
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// Compute Engine's calls; [`Wire`] gives [`GcpProvisioner`] the contract.
#[async_trait]
impl Wire for GcpProvisioner {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn rules(&self) -> &ConfigRules {
        &GCP_RULES
    }

    fn recent(&self) -> &RecentLaunches {
        &self.recent
    }

    fn check_id(&self, id: &str) -> Result<()> {
        ids::parse(id).map(|_| ())
    }

    async fn launch(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        let name = naming::launch_name("p", config.idempotency_key.as_deref());
        let zone = self.placed(config, &name)?.to_owned();
        let id = ids::format(&zone, &name);
        let body = self.body(&name, &zone, config)?;
        let result = self
            .instances
            .insert()
            .set_project(&self.project)
            .set_zone(&zone)
            .set_request_id(fresh_request_id())
            .set_body(body)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await;
        match result {
            Ok(op) => {
                operation_result(&op, &id)?;
                Self::follow(&self.inserts, &id, op.name);
            }
            Err(e) => {
                if config.idempotency_key.is_none() || !errors::is_already_exists(&e) {
                    return Err(from_gax(e, &id));
                }
                // A retry with the same key: the instance exists already.
                return self.existing_launch(&zone, &name, config).await;
            }
        }
        // A new instance under a name used before is not the one deleted,
        // nor the one started.
        self.lock_deleting().remove(&id);
        Self::follow(&self.starts, &id, None);
        Ok(InstanceInfo::new(id, CloudInstanceState::Pending)
            .with_tags(config.tags.clone())
            .with_owner(self.owner.to_string()))
    }

    /// A fresh request id for each delete sent (the SDK's own retries of
    /// one send keep it); the operation is followed until the instance is
    /// gone.
    async fn terminate(&self, instance_id: &str) -> Result<()> {
        let id = ids::parse(instance_id)?;
        let op = self
            .instances
            .delete()
            .set_project(&self.project)
            .set_zone(id.zone)
            .set_instance(id.name)
            .set_request_id(fresh_request_id())
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await
            .map_err(|e| from_gax(e, instance_id))?;
        operation_result(&op, instance_id)?;
        if let Some(op) = op.name {
            self.lock_deleting().insert(instance_id, op);
        }
        Self::follow(&self.starts, instance_id, None);
        Ok(())
    }

    async fn stop(&self, instance_id: &str) -> Result<()> {
        let id = ids::parse(instance_id)?;
        // Whatever the last start met, the instance stops by request now.
        Self::follow(&self.starts, instance_id, None);
        let op = self
            .instances
            .stop()
            .set_project(&self.project)
            .set_zone(id.zone)
            .set_instance(id.name)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await
            .map_err(|e| from_gax(e, instance_id))?;
        operation_result(&op, instance_id)
    }

    /// Start answers with an operation: the addresses are read after.
    async fn start(&self, instance_id: &str) -> Result<Option<InstanceInfo>> {
        let id = ids::parse(instance_id)?;
        let op = self
            .instances
            .start()
            .set_project(&self.project)
            .set_zone(id.zone)
            .set_instance(id.name)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await
            .map_err(|e| from_gax(e, instance_id))?;
        operation_result(&op, instance_id)?;
        // Compute Engine reports a start it cannot place in the operation,
        // after answering: describe reads it from there.
        Self::follow(&self.starts, instance_id, op.name);
        Ok(None)
    }

    async fn status(&self, instance_id: &str) -> Result<Option<InstanceStatus>> {
        let mut known = self.statuses(&[instance_id]).await?;
        Ok(known.remove(instance_id))
    }

    async fn info(&self, instance_id: &str) -> Result<Option<InstanceInfo>> {
        let id = ids::parse(instance_id)?;
        Ok(self.get(id).await?.map(|i| self.info_of(&i, false)))
    }

    async fn list(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        let Some(expression) = self.filter_expression(filter)? else {
            return Ok(Vec::new());
        };
        let mut listed = Vec::new();
        for (id, instance) in self.list_by_filter(&expression).await? {
            let deleting = self.lock_deleting().contains(&id);
            let info = self.info_of(&instance, deleting);
            // Labels are a lossy index: the exact tags decide.
            if filter.matches(&info.tags, info.state) {
                listed.push((info, instance));
            }
        }
        let seen: Vec<(InstanceId<'_>, Option<&Instance>)> = listed
            .iter()
            .filter_map(|(info, i)| Some((ids::parse(&info.instance_id).ok()?, Some(i))))
            .collect();
        let preempted = self.preempted(&seen).await?;
        Ok(listed
            .into_iter()
            .map(|(mut info, instance)| {
                let at = preempted.get(&info.instance_id).copied();
                info.reclaimed = reclaimed(&instance, info.state, at);
                info
            })
            .collect())
    }

    /// One aggregatedList per batch of names (a `name eq "(a|b|…)"` filter
    /// of at most 7,500 characters), and one preemption query per zone.
    const BATCHES: bool = true;

    /// The instances Compute Engine knows, and those it does not that this
    /// provisioner's records speak for (an insert that failed, a Spot VM
    /// deleted by its preemption).
    async fn statuses(&self, instance_ids: &[&str]) -> Result<HashMap<String, InstanceStatus>> {
        let mut found: HashMap<String, Instance> = HashMap::with_capacity(instance_ids.len());
        if let [one] = instance_ids {
            let id = ids::parse(one)?;
            if let Some(instance) = self.get(id).await? {
                found.insert((*one).to_owned(), instance);
            }
        } else {
            for names in name_filters(instance_ids) {
                found.extend(self.list_by_filter(&names).await?);
            }
        }
        let seen: Vec<(InstanceId<'_>, Option<&Instance>)> = instance_ids
            .iter()
            .filter_map(|id| Some((ids::parse(id).ok()?, found.get(*id))))
            .collect();
        let preempted = self.preempted(&seen).await?;
        let mut statuses = HashMap::with_capacity(seen.len());
        for (id, instance) in seen {
            let at = preempted.get(&ids::format(id.zone, id.name)).copied();
            if let Some(status) = self.status_of(id, instance, at).await {
                statuses.insert(status.instance_id.clone(), status);
            }
        }
        Ok(statuses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_names_are_rfc1035() {
        for key in [Some("blue-slot-0"), None] {
            let name = naming::launch_name("p", key);
            assert!(ids::is_rfc1035(&name), "{name}");
        }
    }

    #[test]
    fn request_ids_are_uuid_shaped_and_fresh() {
        let r = fresh_request_id();
        assert_ne!(r, fresh_request_id());
        let groups: Vec<usize> = r.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{r}");
    }
}
