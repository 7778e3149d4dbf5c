//! Compute Engine's Spot VMs on this face: the insert body's `scheduling`
//! block to the model's capacity and back, and the
//! `compute.instances.preempted` operations that report the model's
//! reclaims.
//!
//! - `scheduling.provisioningModel` `SPOT` is a spot launch;
//!   `instanceTerminationAction` `STOP` (the default, per the discovery
//!   document's enum description) or `DELETE` is what a preemption does.
//!   Compute Engine has no maximum price. A Spot VM "cannot be automatically
//!   restarted", and `TERMINATE` is its "only possible" host maintenance
//!   behaviour (the `Scheduling` schema's descriptions): asking otherwise is
//!   refused.
//! - A preemption leaves no mark on the instance; it is a zone operation of
//!   type `compute.instances.preempted` on the instance, which the
//!   documented way to see preemptions lists
//!   (`operationType="compute.instances.preempted"`, Google's
//!   "List preemption history" sample). The face synthesizes one `DONE`
//!   operation per reclaim the model kept (an hour), whether the instance
//!   was stopped or deleted.

use provisioner_core::{Capacity, OnReclaim, SpotOptions};
use provisioner_fake::Reclaim;

use super::*;

/// The `operationType` of a preemption.
pub(super) const PREEMPTED: &str = "compute.instances.preempted";

/// Operation ids of preemptions start here, after every id the face's own
/// operations take, so one cursor pages through both.
const PREEMPTION_IDS: u64 = 1 << 40;

/// The capacity an insert body's `scheduling` asks for.
pub(super) fn capacity(scheduling: Option<&Value>) -> Result<Capacity, GceError> {
    let Some(scheduling) = scheduling else {
        return Ok(Capacity::OnDemand);
    };
    let field = |name: &str| format!("Invalid value for field 'resource.scheduling.{name}'");
    match string_at(scheduling, "/provisioningModel") {
        None | Some("STANDARD") => return Ok(Capacity::OnDemand),
        Some("SPOT") => {}
        Some(other) => {
            return Err(GceError::invalid(format!(
                "{}: '{other}'.",
                field("provisioningModel")
            )))
        }
    }
    if scheduling.get("automaticRestart") == Some(&Value::Bool(true)) {
        return Err(GceError::invalid(format!(
            "{}: 'true'. Preemptible instances cannot be automatically restarted.",
            field("automaticRestart")
        )));
    }
    match string_at(scheduling, "/onHostMaintenance") {
        None | Some("TERMINATE") => {}
        Some(other) => {
            return Err(GceError::invalid(format!(
                "{}: '{other}'. Preemptible instances must terminate on host maintenance.",
                field("onHostMaintenance")
            )))
        }
    }
    let on_reclaim = match string_at(scheduling, "/instanceTerminationAction") {
        None | Some("STOP" | "INSTANCE_TERMINATION_ACTION_UNSPECIFIED") => OnReclaim::Stop,
        Some("DELETE") => OnReclaim::Terminate,
        Some(other) => {
            return Err(GceError::invalid(format!(
                "{}: '{other}'.",
                field("instanceTerminationAction")
            )))
        }
    };
    Ok(Capacity::Spot(
        SpotOptions::default().with_on_reclaim(on_reclaim),
    ))
}

/// The `scheduling` block an instance shows.
pub(super) fn scheduling_json(capacity: &Capacity) -> Value {
    match capacity {
        Capacity::Spot(spot) => json!({
            "provisioningModel": "SPOT",
            "instanceTerminationAction": match spot.on_reclaim {
                OnReclaim::Stop => "STOP",
                _ => "DELETE",
            },
            "automaticRestart": false,
            "onHostMaintenance": "TERMINATE",
            "preemptible": false,
        }),
        _ => json!({
            "provisioningModel": "STANDARD",
            "automaticRestart": true,
            "onHostMaintenance": "MIGRATE",
            "preemptible": false,
        }),
    }
}

/// The preemption operations of `zone`, from the model's reclaims.
pub(super) fn preemptions(state: &AppState, project: &str, zone: &str) -> Vec<(u64, Value)> {
    let prefix = format!("projects/{project}/zones/{zone}/instances/");
    state
        .cloud
        .reclaims()
        .into_iter()
        .filter(|r| r.id.starts_with(&prefix))
        .map(|r| (PREEMPTION_IDS + r.seq, preemption_json(project, zone, &r)))
        .collect()
}

fn preemption_json(project: &str, zone: &str, r: &Reclaim) -> Value {
    let at = r.at.format(&Rfc3339).unwrap_or_default();
    let millis = r.at.unix_timestamp_nanos() / 1_000_000;
    let name = format!("systemevent-{millis}-emulated-{}", r.seq);
    json!({
        "kind": "compute#operation",
        "id": (PREEMPTION_IDS + r.seq).to_string(),
        "name": name,
        "zone": format!("{BASE}/projects/{project}/zones/{zone}"),
        "operationType": PREEMPTED,
        "targetLink": format!("{BASE}/{}", r.id),
        "targetId": numeric_id(&r.id).to_string(),
        "status": "DONE",
        "statusMessage": "Instance was preempted.",
        "user": "system",
        "progress": 100,
        "insertTime": at,
        "startTime": at,
        "endTime": at,
        "selfLink": format!("{BASE}/projects/{project}/zones/{zone}/operations/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduling_reads_as_compute_engine_takes_it() {
        let spot = |v: Value| capacity(Some(&v));
        assert_eq!(spot(json!({})).unwrap(), Capacity::OnDemand);
        assert_eq!(
            spot(json!({"provisioningModel": "SPOT"})).unwrap(),
            Capacity::Spot(SpotOptions::default().with_on_reclaim(OnReclaim::Stop))
        );
        let deleted =
            spot(json!({"provisioningModel": "SPOT", "instanceTerminationAction": "DELETE"}));
        assert_eq!(
            deleted.unwrap(),
            Capacity::Spot(SpotOptions::default().with_on_reclaim(OnReclaim::Terminate))
        );
        for bad in [
            json!({"provisioningModel": "CHEAP"}),
            json!({"provisioningModel": "SPOT", "automaticRestart": true}),
            json!({"provisioningModel": "SPOT", "onHostMaintenance": "MIGRATE"}),
            json!({"provisioningModel": "SPOT", "instanceTerminationAction": "HIBERNATE"}),
        ] {
            assert_eq!(
                spot(bad.clone()).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        // What is shown reads back as what was asked.
        for asked in [Capacity::OnDemand, deleted_capacity()] {
            assert_eq!(spot(scheduling_json(&asked)).unwrap(), asked);
        }
    }

    fn deleted_capacity() -> Capacity {
        Capacity::Spot(SpotOptions::default().with_on_reclaim(OnReclaim::Terminate))
    }
}
