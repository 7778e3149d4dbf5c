//! EC2's spot capacity, in one place: what a spot launch sends, and the
//! signs of a reclaim.
//!
//! A spot launch is a one-time request (`InstanceMarketOptions`, market
//! type `spot`, `SpotInstanceType` `one-time`), interrupted by termination:
//! EC2 stops or hibernates only the instances of persistent requests, so a
//! launch that asks to be stopped on reclaim is refused by the input rules.
//! A reclaimed instance carries the state reason
//! `Server.SpotInstanceTermination` (or `Server.SpotInstanceShutdown` when
//! stopped), as EC2's `StateReason` reference lists them.

use aws_sdk_ec2::types::{
    InstanceInterruptionBehavior, InstanceMarketOptionsRequest, MarketType, SpotInstanceType,
    SpotMarketOptions,
};
use provisioner_core::Capacity;

/// The state reason codes of a reclaim.
pub(crate) const RECLAIM_CODES: [&str; 2] = [
    "Server.SpotInstanceTermination",
    "Server.SpotInstanceShutdown",
];

/// The market options of a launch: `None` on demand.
pub(crate) fn market_options(capacity: &Capacity) -> Option<InstanceMarketOptionsRequest> {
    let Capacity::Spot(spot) = capacity else {
        return None;
    };
    let options = SpotMarketOptions::builder()
        .spot_instance_type(SpotInstanceType::OneTime)
        .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
        .set_max_price(spot.max_price_per_hour.clone())
        .build();
    Some(
        InstanceMarketOptionsRequest::builder()
            .market_type(MarketType::Spot)
            .spot_options(options)
            .build(),
    )
}

/// True when a state reason code says EC2 reclaimed the instance.
pub(crate) fn is_reclaim(code: Option<&str>) -> bool {
    code.is_some_and(|code| RECLAIM_CODES.contains(&code))
}
