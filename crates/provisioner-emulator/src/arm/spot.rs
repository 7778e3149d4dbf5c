//! Azure Spot VMs on this face: `priority`, `evictionPolicy` and
//! `billingProfile.maxPrice` of a VM body to the model's capacity and back,
//! and the VM's availability zone.
//!
//! As the VM reference describes them: `priority` is `Regular`, `Low` or
//! `Spot`; `evictionPolicy` (`Deallocate`, the default, or `Delete`) and
//! `billingProfile` apply to Spot VMs; `maxPrice` is in US dollars, any
//! decimal above zero, or `-1` for "up to the on-demand price". An evicted
//! VM is deallocated or deleted as its policy says; the eviction itself
//! shows only in the activity log (`activity.rs`).

use provisioner_core::{Capacity, OnReclaim, SpotOptions};

use super::*;

/// The attribute of a VM's availability zone.
pub(super) const ZONE: &str = "zone";

/// The capacity a VM body asks for.
pub(super) fn capacity(body: &Value) -> Result<Capacity, ArmError> {
    let props = body.get("properties");
    let field = |name: &str| props.and_then(|p| p.get(name));
    let spot = match field("priority").and_then(Value::as_str) {
        None | Some("Regular") => false,
        Some("Spot" | "Low") => true,
        Some(other) => {
            return Err(ArmError::invalid(format!(
                "The value '{other}' of parameter 'priority' is not allowed. Allowed values are 'Regular', 'Low', 'Spot'."
            )))
        }
    };
    if !spot {
        if field("evictionPolicy").is_some() || field("billingProfile").is_some() {
            return Err(ArmError::invalid(
                "'evictionPolicy' and 'billingProfile' can be set only when 'priority' is 'Spot'.",
            ));
        }
        return Ok(Capacity::OnDemand);
    }
    let on_reclaim = match field("evictionPolicy").and_then(Value::as_str) {
        None | Some("Deallocate") => OnReclaim::Stop,
        Some("Delete") => OnReclaim::Terminate,
        Some(other) => {
            return Err(ArmError::invalid(format!(
                "The value '{other}' of parameter 'evictionPolicy' is not allowed. Allowed values are 'Deallocate', 'Delete'."
            )))
        }
    };
    let mut options = SpotOptions::default().with_on_reclaim(on_reclaim);
    if let Some(price) = props.and_then(|p| p.pointer("/billingProfile/maxPrice")) {
        let value = price.as_f64().filter(|p| *p == -1.0 || *p > 0.0);
        match value {
            Some(p) if p > 0.0 => options = options.with_max_price_per_hour(price.to_string()),
            Some(_) => {}
            None => {
                return Err(ArmError::invalid(format!(
                    "The value '{price}' of parameter 'billingProfile.maxPrice' is not allowed. It must be greater than 0, or -1."
                )))
            }
        }
    }
    Ok(Capacity::Spot(options))
}

/// The availability zone a VM body asks for (`zones`, one of `1`, `2`,
/// `3`), if any.
pub(super) fn zone(body: &Value) -> Result<Option<String>, ArmError> {
    let Some(zones) = body.get("zones") else {
        return Ok(None);
    };
    match zones.as_array().map(Vec::as_slice) {
        Some([]) => Ok(None),
        Some([one]) if matches!(one.as_str(), Some("1" | "2" | "3")) => {
            Ok(one.as_str().map(str::to_owned))
        }
        _ => Err(ArmError::invalid(format!(
            "The value '{zones}' of parameter 'zones' is not allowed: a VM is in one zone, '1', '2' or '3'."
        ))),
    }
}

/// Writes a VM's spot fields and zone into its JSON.
pub(super) fn show(vm: &mut Value, r: &InstanceRecord) {
    if let Capacity::Spot(spot) = &r.config.capacity {
        let props = &mut vm["properties"];
        props["priority"] = "Spot".into();
        props["evictionPolicy"] = match spot.on_reclaim {
            OnReclaim::Stop => "Deallocate",
            _ => "Delete",
        }
        .into();
        let price = spot
            .max_price_per_hour
            .as_deref()
            .and_then(|p| p.parse::<f64>().ok())
            .unwrap_or(-1.0);
        props["billingProfile"] = json!({ "maxPrice": price });
    }
    if let Some(zone) = r.attributes.get(ZONE) {
        vm["zones"] = json!([zone]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_fields_read_as_the_vm_reference_describes_them() {
        let spot = |props: Value| capacity(&json!({ "properties": props }));
        assert_eq!(spot(json!({})).unwrap(), Capacity::OnDemand);
        assert_eq!(
            spot(json!({"priority": "Spot"})).unwrap(),
            Capacity::Spot(SpotOptions::default().with_on_reclaim(OnReclaim::Stop))
        );
        assert_eq!(
            spot(json!({"priority": "Spot", "evictionPolicy": "Delete", "billingProfile": {"maxPrice": 0.0421}}))
                .unwrap(),
            Capacity::Spot(SpotOptions::default().with_max_price_per_hour("0.0421"))
        );
        assert_eq!(
            spot(json!({"priority": "Spot", "billingProfile": {"maxPrice": -1}})).unwrap(),
            Capacity::Spot(SpotOptions::default().with_on_reclaim(OnReclaim::Stop))
        );
        for bad in [
            json!({"priority": "Cheap"}),
            json!({"evictionPolicy": "Delete"}),
            json!({"priority": "Spot", "evictionPolicy": "Stop"}),
            json!({"priority": "Spot", "billingProfile": {"maxPrice": 0}}),
            json!({"priority": "Spot", "billingProfile": {"maxPrice": "0.1"}}),
        ] {
            assert!(spot(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(
            zone(&json!({"zones": ["2"]})).unwrap().as_deref(),
            Some("2")
        );
        assert!(zone(&json!({"zones": ["1", "2"]})).is_err());
        assert!(zone(&json!({"zones": ["east"]})).is_err());
    }
}
