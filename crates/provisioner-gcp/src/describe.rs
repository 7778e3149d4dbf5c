//! What describe says of an instance: the instance as Compute Engine gives
//! it, its state, its preemption, the failure of the insert or start this
//! provisioner followed.

use std::collections::HashMap;

use google_cloud_compute_v1::model::Instance;
use google_cloud_gax::options::RequestOptionsBuilder as _;
use provisioner_core::{CloudInstanceState, Error, InstanceStatus, Result};

use crate::convert::{owner_of, private_ip, public_ip, state_of};
use crate::errors::from_gax;
use crate::ids::{self, InstanceId};
use crate::spot::{self, PreemptedAt};
use crate::GcpProvisioner;

impl GcpProvisioner {
    /// The preemptions that may explain what `seen` shows (stopped spot
    /// instances; instances gone that this provisioner did not delete), by
    /// id: one preemption query per zone and batch of names.
    pub(crate) async fn preempted(
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
    pub(crate) async fn status_of(
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
}

/// True when a stopped Spot VM was stopped by its latest preemption.
pub(crate) fn reclaimed(
    instance: &Instance,
    state: CloudInstanceState,
    preempted: Option<PreemptedAt>,
) -> bool {
    state == CloudInstanceState::Stopped
        && spot::is_spot(instance)
        && preempted.is_some_and(|at| spot::stopped_by(instance, at))
}

impl GcpProvisioner {
    pub(crate) async fn get(&self, id: InstanceId<'_>) -> Result<Option<Instance>> {
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
}
