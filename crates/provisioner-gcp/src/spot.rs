//! Spot VMs on Compute Engine: the `scheduling` block of a spot launch, and
//! preemptions read back from zone operations. The one place for this
//! cloud's spot mapping.
//!
//! - A spot launch is `scheduling.provisioningModel = SPOT` with
//!   `instanceTerminationAction` `STOP` ([`OnReclaim::Stop`]) or `DELETE`
//!   ([`OnReclaim::Terminate`]); `automaticRestart = false` and
//!   `onHostMaintenance = TERMINATE`, the only values a Spot VM takes (the
//!   `Scheduling` schema). Compute Engine has no maximum price, so
//!   [`GCP_RULES`](crate::GCP_RULES) refuses one before any call.
//! - A preemption leaves no field on the instance. Compute Engine records it
//!   as a zone operation of type `compute.instances.preempted` targeting the
//!   instance (Google's "List preemption history" sample filters on exactly
//!   that). So describe and list ask for those operations, one
//!   `zoneOperations.list` per zone and batch of names, only for instances
//!   that could have been preempted: spot instances that are stopped, and
//!   instances gone without this provisioner deleting them. A stopped
//!   instance was preempted when its last preemption is no older than its
//!   last start (`lastStartTimestamp`): started again and then stopped by a
//!   user, it was not.

use std::collections::HashMap;

use google_cloud_compute_v1::model::scheduling::{
    InstanceTerminationAction, OnHostMaintenance, ProvisioningModel,
};
use google_cloud_compute_v1::model::{Instance, Scheduling};
use google_cloud_gax::options::RequestOptionsBuilder as _;
use provisioner_core::provider::paging::PageTokens;
use provisioner_core::{Capacity, OnReclaim, Result};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::errors::from_gax;
use crate::{GcpProvisioner, PROVIDER};

/// The `operationType` Compute Engine gives a preemption.
const PREEMPTED: &str = "compute.instances.preempted";

/// The `scheduling` block of a launch, when it is a spot launch.
pub(crate) fn scheduling(capacity: &Capacity) -> Option<Scheduling> {
    let Capacity::Spot(spot) = capacity else {
        return None;
    };
    let action = match spot.on_reclaim {
        OnReclaim::Stop => InstanceTerminationAction::Stop,
        _ => InstanceTerminationAction::Delete,
    };
    Some(
        Scheduling::new()
            .set_provisioning_model(ProvisioningModel::Spot)
            .set_instance_termination_action(action)
            .set_automatic_restart(false)
            .set_on_host_maintenance(OnHostMaintenance::Terminate),
    )
}

/// True for a Spot VM.
pub(crate) fn is_spot(instance: &Instance) -> bool {
    instance
        .scheduling
        .as_ref()
        .and_then(|s| s.provisioning_model.as_ref())
        == Some(&ProvisioningModel::Spot)
}

/// When a preemption happened, if Compute Engine's time reads.
pub(crate) type PreemptedAt = Option<OffsetDateTime>;

fn time(text: &str) -> PreemptedAt {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Whether a preemption at `preempted` is what left `instance` stopped:
/// it came after the instance last started. Times that cannot be read
/// count as yes (the preemption is the only stop Compute Engine records).
pub(crate) fn stopped_by(instance: &Instance, preempted: PreemptedAt) -> bool {
    match (
        preempted,
        instance.last_start_timestamp.as_deref().and_then(time),
    ) {
        (Some(preempted), Some(started)) => preempted >= started,
        _ => true,
    }
}

impl GcpProvisioner {
    /// The latest preemption time of each of `names` in `zone` (only names
    /// that have one), from the zone's `compute.instances.preempted`
    /// operations.
    pub(crate) async fn preemptions(
        &self,
        zone: &str,
        names: &[&str],
    ) -> Result<HashMap<String, PreemptedAt>> {
        let mut latest: HashMap<String, PreemptedAt> = HashMap::new();
        for group in crate::tags::alternations(names, MAX_TARGET_FILTER) {
            // Regular-expression syntax throughout: Compute Engine does not
            // mix it with AIP-160 comparisons. Names and zones are RFC 1035
            // labels, which hold no metacharacter; the dots of the type are
            // left unescaped (a backslash in a quoted filter value is not
            // worth the risk), and each answer's type is compared exactly.
            let filter = format!(
                "(operationType eq \"{PREEMPTED}\") (targetLink eq \".*/zones/{zone}/instances/({group})\")"
            );
            let mut token: Option<String> = None;
            let mut pages = PageTokens::new(PROVIDER);
            loop {
                let page = self
                    .operations
                    .list()
                    .set_project(&self.project)
                    .set_zone(zone)
                    .set_filter(&filter)
                    .set_or_clear_page_token(token.take())
                    .with_attempt_timeout(self.deadlines.attempt)
                    .send()
                    .await
                    .map_err(|e| from_gax(e, ""))?;
                for op in page.items {
                    if op.operation_type.as_deref() != Some(PREEMPTED) {
                        continue;
                    }
                    let Some(target) = op.target_link else {
                        continue;
                    };
                    let name = target.rsplit('/').next().unwrap_or_default().to_owned();
                    let at = op.insert_time.as_deref().and_then(time);
                    // None (unreadable) sorts first: a readable time wins.
                    let newer = latest.get(&name).is_none_or(|seen| *seen < at);
                    if newer {
                        latest.insert(name, at);
                    }
                }
                match pages.next(page.next_page_token.as_deref())? {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
        Ok(latest)
    }
}

/// The longest alternation of names one preemption filter carries (see
/// `MAX_NAME_FILTER` for the URL limit it keeps under).
const MAX_TARGET_FILTER: usize = 7000;

#[cfg(test)]
mod tests {
    use super::*;
    use provisioner_core::SpotOptions;

    #[test]
    fn spot_launches_ask_for_the_only_values_a_spot_vm_takes() {
        assert!(scheduling(&Capacity::OnDemand).is_none());
        let stop = scheduling(&Capacity::Spot(
            SpotOptions::default().with_on_reclaim(OnReclaim::Stop),
        ))
        .unwrap();
        assert_eq!(stop.provisioning_model, Some(ProvisioningModel::Spot));
        assert_eq!(
            stop.instance_termination_action,
            Some(InstanceTerminationAction::Stop)
        );
        assert_eq!(stop.automatic_restart, Some(false));
        assert_eq!(stop.on_host_maintenance, Some(OnHostMaintenance::Terminate));
        let delete = scheduling(&Capacity::Spot(SpotOptions::default())).unwrap();
        assert_eq!(
            delete.instance_termination_action,
            Some(InstanceTerminationAction::Delete)
        );
    }

    #[test]
    fn a_stop_after_a_restart_is_not_the_preemption() {
        let started = |t: &str| Instance::new().set_last_start_timestamp(t);
        let preempted = time("2026-11-26T10:00:00.25Z");
        assert!(stopped_by(&started("2026-11-26T09:00:00Z"), preempted));
        assert!(!stopped_by(&started("2026-11-26T11:00:00Z"), preempted));
        assert!(stopped_by(&Instance::new(), preempted));
        assert!(stopped_by(&started("2026-11-26T11:00:00Z"), None));
    }
}
