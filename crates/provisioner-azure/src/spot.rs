//! Spot VMs on Azure, and the zone of a launch: the one place for this
//! cloud's spot mapping.
//!
//! - A spot launch is `priority: Spot` with `evictionPolicy` `Deallocate`
//!   ([`OnReclaim::Stop`]) or `Delete` ([`OnReclaim::Terminate`]) and
//!   `billingProfile.maxPrice`: the maximum price in US dollars an hour, or
//!   `-1` for "up to the on-demand price" (the VM reference's
//!   `BillingProfile`). A zone per launch is the VM's `zones: [ZONE]`.
//! - An eviction leaves a deallocated VM (or none, with `Delete`), whose
//!   instance view looks like any other deallocated VM. Azure records the
//!   eviction in the activity log as
//!   `Microsoft.Compute/virtualMachines/evictSpotVM/action` (the operation
//!   public eviction runbooks match; scale sets log
//!   `virtualMachineScaleSets/evictSpotVM/action`). Describe and list read
//!   the log of the VMs an eviction may explain (deallocated Spot VMs, VMs
//!   gone that this provisioner did not delete), one call each: a VM was
//!   reclaimed when its latest eviction is later than its latest start.

use azure_mgmt_compute::package_2024_07_01::models::{Priority, VirtualMachine};
use provisioner_core::provider::validate::field;
use provisioner_core::{Capacity, Error, InstanceConfig, OnReclaim, Result};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::activity::Event;
use crate::AzureProvisioner;

/// Writes the spot fields and zone `config` asks for into a VM body.
pub(crate) fn apply(body: &mut Value, config: &InstanceConfig) -> Result<()> {
    if let Capacity::Spot(spot) = &config.capacity {
        let price = match spot.max_price_per_hour.as_deref() {
            None => -1.0,
            Some(text) => text.parse::<f64>().map_err(|_| {
                Error::invalid_argument(field::CAPACITY, "the maximum price is not a number")
            })?,
        };
        let props = &mut body["properties"];
        props["priority"] = "Spot".into();
        props["evictionPolicy"] = match spot.on_reclaim {
            OnReclaim::Stop => "Deallocate",
            _ => "Delete",
        }
        .into();
        props["billingProfile"] = json!({ "maxPrice": price });
    }
    if let Some(zone) = &config.placement.zone {
        if !matches!(zone.as_str(), "1" | "2" | "3") {
            return Err(Error::invalid_argument(
                field::PLACEMENT,
                "Azure availability zones are 1, 2 and 3",
            ));
        }
        body["zones"] = json!([zone]);
    }
    Ok(())
}

/// True for a Spot (or the older Low priority) VM.
pub(crate) fn is_spot(vm: &VirtualMachine) -> bool {
    matches!(
        vm.properties.as_ref().and_then(|p| p.priority.as_ref()),
        Some(Priority::Spot | Priority::Low)
    )
}

/// True when the latest of `events` that is an eviction or a start is an
/// eviction: the VM was evicted and not started since.
pub(crate) fn evicted_last(events: &[Event]) -> bool {
    let ends = |e: &Event, suffix: &str| {
        e.status.eq_ignore_ascii_case("Succeeded")
            && e.operation.to_ascii_lowercase().ends_with(suffix)
    };
    let latest = |suffix: &str| {
        events
            .iter()
            .filter(|e| ends(e, suffix))
            .map(|e| e.at.unwrap_or(OffsetDateTime::UNIX_EPOCH))
            .max()
    };
    match (
        latest("/evictspotvm/action"),
        latest("virtualmachines/start/action"),
    ) {
        (Some(evicted), Some(started)) => evicted > started,
        (evicted, _) => evicted.is_some(),
    }
}

/// What the activity log says of a VM's eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// Evicted, and not started since.
    Evicted,
    /// No eviction since the last start.
    None,
    /// The credential may not read the activity log (it lacks
    /// `Microsoft.Insights/eventtypes/values/read`): describe still
    /// answers, without the reclaim, and says why.
    Unreadable,
}

impl Eviction {
    /// The reason describe gives for a VM this eviction leaves deallocated
    /// or gone.
    pub(crate) fn reason(self) -> Option<&'static str> {
        match self {
            Eviction::Evicted => Some("evicted"),
            Eviction::None => None,
            Eviction::Unreadable => Some(
                "whether Azure evicted it is unknown: the activity log cannot be read (Microsoft.Insights/eventtypes/values/read)",
            ),
        }
    }
}

impl AzureProvisioner {
    /// What VM `name`'s activity log says of an eviction since its last
    /// start.
    pub(crate) async fn eviction(&self, name: &str) -> Result<Eviction> {
        Ok(match self.vm_events(name).await? {
            Some(events) if evicted_last(&events) => Eviction::Evicted,
            Some(_) => Eviction::None,
            None => Eviction::Unreadable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioner_core::{Placement, SpotOptions};

    fn event(operation: &str, minute: i64) -> Event {
        Event {
            operation: operation.to_owned(),
            status: "Succeeded".to_owned(),
            at: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute)),
        }
    }

    #[test]
    fn an_eviction_counts_until_the_vm_starts_again() {
        let evict = "Microsoft.Compute/virtualMachines/evictSpotVM/action";
        let start = "Microsoft.Compute/virtualMachines/start/action";
        assert!(!evicted_last(&[]));
        assert!(evicted_last(&[event(start, 1), event(evict, 2)]));
        assert!(!evicted_last(&[event(evict, 2), event(start, 3)]));
        let failed = Event {
            status: "Failed".to_owned(),
            ..event(evict, 4)
        };
        assert!(!evicted_last(&[event(start, 3), failed]));
    }

    #[test]
    fn a_spot_launch_asks_for_its_priority_policy_price_and_zone() {
        let mut body = json!({"properties": {}});
        let config = InstanceConfig::new("img", "Standard_B2s")
            .with_capacity(Capacity::Spot(
                SpotOptions::default()
                    .with_on_reclaim(OnReclaim::Stop)
                    .with_max_price_per_hour("0.0421"),
            ))
            .with_placement(Placement::in_zone("2"));
        apply(&mut body, &config).unwrap();
        assert_eq!(body["properties"]["priority"], "Spot");
        assert_eq!(body["properties"]["evictionPolicy"], "Deallocate");
        assert_eq!(body["properties"]["billingProfile"]["maxPrice"], 0.0421);
        assert_eq!(body["zones"], json!(["2"]));
        let mut uncapped = json!({"properties": {}});
        let spot =
            InstanceConfig::new("img", "s").with_capacity(Capacity::Spot(SpotOptions::default()));
        apply(&mut uncapped, &spot).unwrap();
        assert_eq!(uncapped["properties"]["billingProfile"]["maxPrice"], -1.0);
        assert_eq!(uncapped["properties"]["evictionPolicy"], "Delete");
        let elsewhere =
            InstanceConfig::new("img", "s").with_placement(Placement::in_zone("us-east-1a"));
        let err = apply(&mut json!({"properties": {}}), &elsewhere).unwrap_err();
        assert_eq!(err.invalid_field(), Some(field::PLACEMENT));
    }
}
