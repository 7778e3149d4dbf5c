//! Spot capacity on the fake: reclaims as the launch asked, seen through
//! describe and list; and the fallback over offerings with its cache of
//! unavailable ones.

use std::sync::Arc;
use std::time::Duration;

use provisioner_core::fallback::{Fallback, Offering, UnavailableOfferings};
use provisioner_core::{
    Capacity, CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceProvisioner,
    OnReclaim, SpotOptions,
};
use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation};

#[tokio::test]
async fn a_reclaim_ends_a_spot_instance_as_asked_and_says_so() {
    let cloud = FakeCloud::new();
    let fake = FakeProvisioner::new(cloud.clone());
    let stops = SpotOptions::default().with_on_reclaim(OnReclaim::Stop);
    let stopping = fake
        .launch_instance(&InstanceConfig::new("img", "small").with_capacity(Capacity::Spot(stops)))
        .await
        .unwrap();
    let ending = fake
        .launch_instance(&InstanceConfig::new("img", "small").with_capacity(Capacity::spot()))
        .await
        .unwrap();
    let on_demand = fake
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap();

    cloud.reclaim(&stopping.instance_id).unwrap();
    cloud.reclaim(&ending.instance_id).unwrap();
    assert!(
        cloud.reclaim(&on_demand.instance_id).is_err(),
        "on-demand is never reclaimed"
    );

    let stopped = fake.describe_instance(&stopping.instance_id).await.unwrap();
    assert_eq!(stopped.state, CloudInstanceState::Stopped);
    assert!(stopped.reclaimed);
    assert_eq!(stopped.state_reason.as_deref(), Some("reclaimed"));
    let ended = fake.describe_instance(&ending.instance_id).await.unwrap();
    assert_eq!(ended.state, CloudInstanceState::Terminated);
    assert!(ended.reclaimed);
    assert!(
        !fake
            .describe_instance(&on_demand.instance_id)
            .await
            .unwrap()
            .reclaimed
    );

    let all = InstanceFilter::default().in_states(CloudInstanceState::ALL);
    let listed = fake.list_instances(&all).await.unwrap();
    let reclaimed: Vec<&str> = listed
        .iter()
        .filter(|i| i.reclaimed)
        .map(|i| i.instance_id.as_str())
        .collect();
    assert_eq!(reclaimed.len(), 2, "{listed:?}");

    // A stopped spot instance starts again when capacity returns.
    fake.start_instance(&stopping.instance_id).await.unwrap();
}

#[tokio::test]
async fn fallback_skips_offerings_without_capacity_and_remembers_them() {
    let cloud = FakeCloud::new();
    let fake = FakeProvisioner::new(cloud.clone());
    let cache = Arc::new(UnavailableOfferings::new(Duration::from_secs(60)));
    let offerings = vec![
        Offering::new("large").with_capacity(Capacity::spot()),
        Offering::new("large").in_zone("zone-b"),
        Offering::new("medium"),
    ];
    let fallback = Fallback::new(offerings.clone()).with_cache(Arc::clone(&cache));
    cloud.fail_next(Operation::Launch, 1, Fault::InsufficientCapacity);
    cloud.fail_next(Operation::Launch, 1, Fault::QuotaExceeded);
    let config = InstanceConfig::new("img", "small").with_idempotency_key("slot-1");
    let (info, offering) = fallback.launch(&fake, &config).await.unwrap();
    assert_eq!(offering, offerings[2]);
    assert!(cache.contains(&offerings[0]) && cache.contains(&offerings[1]));
    let record = cloud.peek(&info.instance_id).unwrap();
    assert_eq!(record.config.instance_type, "medium");
    let key = record.config.idempotency_key.clone().unwrap();
    assert!(key.starts_with("slot-1-") && key != "slot-1", "{key}");

    // Another fallback sharing the cache goes straight to the third.
    let other = Fallback::new(offerings.clone()).with_cache(Arc::clone(&cache));
    let launches = cloud.call_count(Operation::Launch);
    let (_, offering) = other
        .launch(&fake, &InstanceConfig::new("img", "small"))
        .await
        .unwrap();
    assert_eq!(offering, offerings[2]);
    assert_eq!(
        cloud.call_count(Operation::Launch),
        launches + 1,
        "one launch"
    );

    // A retry of the keyed fallback finds the instance it made.
    let fresh = Fallback::new(offerings[2..].to_vec());
    let (again, _) = fresh.launch(&fake, &config).await.unwrap();
    assert_eq!(again.instance_id, info.instance_id);
}

#[tokio::test]
async fn fallback_stops_at_other_errors_and_says_when_nothing_has_capacity() {
    let cloud = FakeCloud::new();
    let fake = FakeProvisioner::new(cloud.clone());
    let offerings = vec![Offering::new("large"), Offering::new("medium")];
    cloud.fail_next(Operation::Launch, 1, Fault::PermissionDenied);
    let err = Fallback::new(offerings.clone())
        .launch(&fake, &InstanceConfig::new("img", "small"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert_eq!(cloud.call_count(Operation::Launch), 1, "the walk ended");

    cloud.fail_next(Operation::Launch, 2, Fault::InsufficientCapacity);
    let err = Fallback::new(offerings)
        .launch(&fake, &InstanceConfig::new("img", "small"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsufficientCapacity { .. }), "{err}");
    assert!(
        err.to_string().contains("large") && err.to_string().contains("medium"),
        "{err}"
    );
    assert_eq!(cloud.live_instances(), 0);
}
