//! Compute Engine's calls for the contract: [`GcpProvisioner`]'s [`Wire`],
//! which core's one implementation of the contract over a `Wire` makes an
//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner).

use std::collections::HashMap;

use async_trait::async_trait;
use google_cloud_compute_v1::model::Instance;
use google_cloud_gax::options::RequestOptionsBuilder as _;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::naming;
use provisioner_core::provider::validate::{field, ConfigRules};
use provisioner_core::provider::Wire;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus, Result,
};

use crate::convert::{launch_fingerprint_of, operation_result, owner_of};
use crate::describe::reclaimed;
use crate::errors::{self, from_gax};
use crate::ids::{self, InstanceId};
use crate::list::name_filters;
use crate::operations::fresh_request_id;
use crate::tags::GCP_RULES;
use crate::GcpProvisioner;
use crate::PROVIDER;

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
        naming::check_same_launch(
            &id,
            config,
            launch_fingerprint_of(&existing),
            owner_of(&existing).as_deref(),
            &self.owner,
            self.lock_deleting().contains(&id),
        )?;
        Ok(self.info_of(&existing, false))
    }
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
}
