//! The fake's own behaviour: clock, state machine, addresses, faults, quotas,
//! eventual consistency and the call log.

use std::time::Duration;

use provisioner_core::CloudInstanceState::*;
use provisioner_core::{Error, InstanceConfig, InstanceFilter, InstanceProvisioner};
use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation, Personality, Transitions};

fn config() -> InstanceConfig {
    InstanceConfig::new("img-1", "small").with_tag("fleet-id", "blue")
}

fn slow_cloud() -> FakeCloud {
    FakeCloud::builder()
        .transitions(Transitions {
            boot: Duration::from_secs(30),
            stop: Duration::from_secs(10),
            terminate: Duration::from_secs(5),
        })
        .build()
}

async fn state(p: &FakeProvisioner, id: &str) -> provisioner_core::CloudInstanceState {
    p.describe_instance(id).await.unwrap().state
}

#[tokio::test(start_paused = true)]
async fn states_follow_the_clock() {
    let p = FakeProvisioner::new(slow_cloud());
    let id = p.launch_instance(&config()).await.unwrap().instance_id;

    assert_eq!(state(&p, &id).await, Pending);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(state(&p, &id).await, Running);

    p.stop_instance(&id).await.unwrap();
    assert_eq!(state(&p, &id).await, Stopping);
    let err = p.start_instance(&id).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidState { .. }),
        "start while stopping: {err}"
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    let status = p.describe_instance(&id).await.unwrap();
    assert_eq!(
        (status.state, status.state_reason.as_deref()),
        (Stopped, Some("user initiated stop"))
    );

    p.terminate_instance(&id).await.unwrap();
    assert_eq!(state(&p, &id).await, Terminating);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(state(&p, &id).await, Terminated);
}

#[tokio::test(start_paused = true)]
async fn launch_time_follows_the_model_clock() {
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    let first = p.launch_instance(&config()).await.unwrap();
    tokio::time::advance(Duration::from_secs(3600)).await;
    let second = p.launch_instance(&config()).await.unwrap();
    let gap = second.launch_time.unwrap() - first.launch_time.unwrap();
    assert_eq!(gap, time::Duration::hours(1));
}

#[tokio::test]
async fn every_start_brings_a_new_public_address() {
    let p = FakeProvisioner::new(FakeCloud::new());
    let launched = p.launch_instance(&config()).await.unwrap();
    let id = launched.instance_id.clone();
    let mut seen = vec![launched.public_ip.unwrap()];
    for _ in 0..3 {
        p.stop_instance(&id).await.unwrap();
        let stopped = p.describe_instance(&id).await.unwrap();
        assert_eq!(
            stopped.public_ip, None,
            "a stopped instance keeps no public address"
        );
        assert_eq!(
            stopped.private_ip, launched.private_ip,
            "EC2-like clouds keep the private address"
        );
        let started = p.start_instance(&id).await.unwrap();
        let public = started.public_ip.unwrap();
        assert!(!seen.contains(&public), "{public} was handed out before");
        seen.push(public);
        assert!(matches!(public, std::net::IpAddr::V4(v4) if v4.is_documentation()));
    }
}

/// On Azure the addresses belong to the network interface and the
/// (Standard, static) public address: a deallocated VM keeps both.
#[tokio::test]
async fn azure_deallocation_keeps_both_addresses() {
    let p = FakeProvisioner::new(
        FakeCloud::builder()
            .personality(Personality::azure())
            .build(),
    );
    let launched = p.launch_instance(&config()).await.unwrap();
    let running = p.describe_instance(&launched.instance_id).await.unwrap();
    p.stop_instance(&launched.instance_id).await.unwrap();
    let stopped = p.describe_instance(&launched.instance_id).await.unwrap();
    assert_eq!(stopped.state, Stopped);
    assert_eq!(
        (stopped.private_ip, stopped.public_ip),
        (running.private_ip, running.public_ip)
    );
    let started = p.start_instance(&launched.instance_id).await.unwrap();
    assert_eq!(
        (started.private_ip, started.public_ip),
        (running.private_ip, running.public_ip)
    );
    assert!(matches!(started.private_ip, Some(std::net::IpAddr::V4(v4)) if v4.octets()[0] == 10));
    assert!(started.public_ip.is_some());
}

#[tokio::test]
async fn invalid_input_never_reaches_the_cloud() {
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    let too_many_tags = (0..51).fold(config(), |c, i| c.with_tag(format!("k{i}"), "v"));
    for bad in [
        InstanceConfig::new("", "small"),
        too_many_tags,
        config().with_disk_size_gb(0),
    ] {
        assert!(matches!(
            p.launch_instance(&bad).await,
            Err(Error::InvalidArgument { .. })
        ));
    }
    for bad_id in [
        "",
        "i-0123456789abcdef0",
        "fake-0123456789abcdef0/../x",
        "fake-0123456789ABCDEF0",
    ] {
        let err = p.describe_instance(bad_id).await.unwrap_err();
        assert_eq!(
            err.invalid_field(),
            Some("instance_id"),
            "{bad_id:?}: {err}"
        );
        assert!(p.terminate_instance(bad_id).await.is_err());
    }
    assert!(
        cloud.calls().is_empty(),
        "calls reached the cloud: {:?}",
        cloud.calls()
    );
}

#[tokio::test]
async fn faults_come_as_the_core_error_classes() {
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    let cases = [
        (
            Fault::Throttled {
                retry_after: Some(Duration::from_secs(1)),
            },
            "throttled",
            true,
        ),
        (Fault::Unavailable, "unavailable", true),
        (Fault::Internal, "unavailable", true),
        (Fault::InsufficientCapacity, "insufficient capacity", false),
        (Fault::QuotaExceeded, "quota exceeded", false),
        (Fault::Unauthenticated, "unauthenticated", false),
        (Fault::PermissionDenied, "permission denied", false),
    ];
    for (fault, class, retryable) in cases {
        cloud.fail_next(Operation::Launch, 1, fault);
        let err = p.launch_instance(&config()).await.unwrap_err();
        assert!(err.to_string().contains(class), "{fault:?} gave {err}");
        assert_eq!(err.is_retryable(), retryable, "{fault:?}");
    }
    assert_eq!(cloud.live_instances(), 0, "failed launches created nothing");
    assert!(
        p.launch_instance(&config()).await.is_ok(),
        "faults are used up"
    );
    let launches: Vec<bool> = cloud
        .calls()
        .iter()
        .filter(|c| c.op == Operation::Launch)
        .map(|c| c.ok)
        .collect();
    assert_eq!(
        launches,
        [false, false, false, false, false, false, false, true]
    );
}

#[tokio::test]
async fn random_faults_repeat_with_the_seed() {
    async fn pattern(seed: u64) -> Vec<bool> {
        let cloud = FakeCloud::builder().seed(seed).build();
        cloud.fail_randomly(&[Operation::Describe], 0.3, Fault::Unavailable);
        let p = FakeProvisioner::new(cloud);
        let id = p.launch_instance(&config()).await.unwrap().instance_id;
        let mut outcomes = Vec::new();
        for _ in 0..200 {
            outcomes.push(p.describe_instance(&id).await.is_ok());
        }
        outcomes
    }
    let a = pattern(42).await;
    assert_eq!(a, pattern(42).await);
    let failures = a.iter().filter(|ok| !**ok).count();
    assert!(
        (30..90).contains(&failures),
        "{failures} of 200 failed at p=0.3"
    );
}

#[tokio::test(start_paused = true)]
async fn latency_is_added_on_the_clock() {
    let cloud = FakeCloud::new();
    cloud.set_latency(Operation::Launch, Duration::from_millis(1500));
    let p = FakeProvisioner::new(cloud.clone());
    let before = tokio::time::Instant::now();
    p.launch_instance(&config()).await.unwrap();
    assert_eq!(before.elapsed(), Duration::from_millis(1500));
    cloud.clear_faults();
    let before = tokio::time::Instant::now();
    p.launch_instance(&config()).await.unwrap();
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn quota_limits_live_instances() {
    let p = FakeProvisioner::new(FakeCloud::builder().max_live_instances(2).build());
    let first = p.launch_instance(&config()).await.unwrap();
    p.launch_instance(&config()).await.unwrap();
    let err = p.launch_instance(&config()).await.unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded { .. }), "{err}");
    p.terminate_instance(&first.instance_id).await.unwrap();
    p.launch_instance(&config()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn new_instances_are_invisible_for_a_while() {
    let cloud = FakeCloud::builder()
        .visibility_delay(Duration::from_secs(5))
        .build();
    let launcher = FakeProvisioner::new(cloud.clone());
    let stranger = FakeProvisioner::new(cloud.clone());
    let id = launcher
        .launch_instance(&config())
        .await
        .unwrap()
        .instance_id;
    let fleet = InstanceFilter::tagged([("fleet-id", "blue")]);

    // The launcher knows better than the cloud's reads; a stranger does not.
    assert_eq!(
        launcher.describe_instance(&id).await.unwrap().state,
        Pending
    );
    assert_eq!(
        stranger.describe_instance(&id).await.unwrap().state,
        Terminated
    );
    assert!(stranger.list_instances(&fleet).await.unwrap().is_empty());

    // Stop waits until the cloud sees the instance, then stops it.
    let before = tokio::time::Instant::now();
    launcher.stop_instance(&id).await.unwrap();
    assert!(
        before.elapsed() >= Duration::from_secs(4),
        "{:?}",
        before.elapsed()
    );
    assert_eq!(
        stranger.describe_instance(&id).await.unwrap().state,
        Stopped
    );
    assert_eq!(stranger.list_instances(&fleet).await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn terminated_instances_linger_per_personality() {
    for (personality, lingers) in [(Personality::ec2(), true), (Personality::gce(), false)] {
        let cloud = FakeCloud::builder().personality(personality).build();
        let p = FakeProvisioner::new(cloud.clone());
        let id = p.launch_instance(&config()).await.unwrap().instance_id;
        p.terminate_instance(&id).await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let terminated = InstanceFilter::default().in_states([Terminated]);
        assert_eq!(
            p.list_instances(&terminated).await.unwrap().len(),
            usize::from(lingers)
        );
        assert_eq!(p.describe_instance(&id).await.unwrap().state, Terminated);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(p.list_instances(&terminated).await.unwrap().is_empty());
        assert_eq!(p.describe_instance(&id).await.unwrap().state, Terminated);
    }
}

#[tokio::test]
async fn idempotency_key_reuse_with_other_parameters_is_rejected() {
    let p = FakeProvisioner::new(FakeCloud::new());
    let keyed = config().with_idempotency_key("k-1");
    p.launch_instance(&keyed).await.unwrap();
    let err = p
        .launch_instance(&keyed.clone().with_tag("extra", "x"))
        .await
        .unwrap_err();
    assert_eq!(err.invalid_field(), Some("idempotency_key"), "{err}");
}

#[tokio::test]
async fn named_launches_and_paging_serve_the_wire_faces() {
    let cloud = FakeCloud::new();
    let attributes: provisioner_fake::Attributes =
        [("user-data".to_owned(), "x".to_owned())].into();
    let a = cloud
        .launch_named("web-1", &config(), attributes.clone())
        .await
        .unwrap();
    assert_eq!(&*a.id, "web-1");
    assert_eq!(*a.attributes, attributes, "attributes are echoed");
    assert!(matches!(
        cloud.launch_named("web-1", &config(), attributes).await,
        Err(provisioner_fake::CloudError::AlreadyExists { .. })
    ));
    for _ in 0..4 {
        cloud.launch(&config()).await.unwrap();
    }
    let fleet = InstanceFilter::tagged([("fleet-id", "blue")]);
    let first = cloud.list(&fleet, None, 2).await.unwrap();
    let second = cloud.list(&fleet, first.next, 2).await.unwrap();
    let third = cloud.list(&fleet, second.next, 2).await.unwrap();
    assert_eq!(
        (first.items.len(), second.items.len(), third.items.len()),
        (2, 2, 1)
    );
    assert_eq!(third.next, None);
    let no_match = InstanceFilter::tagged([("fleet-id", "green")]);
    assert!(cloud
        .list(&no_match, None, 2)
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_launch_accepted_then_failed_is_pending_then_terminated_with_its_failure() {
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    cloud.fail_after_acceptance(
        1,
        provisioner_core::LaunchFailureKind::InsufficientCapacity,
        Duration::from_secs(5),
    );
    let info = p.launch_instance(&config()).await.unwrap();
    let early = p.describe_instance(&info.instance_id).await.unwrap();
    assert_eq!(
        (early.state, early.launch_failure, early.state_reason),
        (Pending, None, None)
    );
    assert_eq!(
        cloud.live_instances(),
        0,
        "a doomed launch never counts as live"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    let failed = p.describe_instance(&info.instance_id).await.unwrap();
    assert_eq!(failed.state, Terminated);
    assert_eq!(
        failed.launch_failure.map(|f| f.kind),
        Some(provisioner_core::LaunchFailureKind::InsufficientCapacity)
    );
    // Only the planned launch fails.
    let next = p.launch_instance(&config()).await.unwrap();
    assert_eq!(state(&p, &next.instance_id).await, Running);
}

#[tokio::test(start_paused = true)]
async fn a_start_accepted_then_failed_is_pending_then_stopped_with_its_failure() {
    use provisioner_core::{InstanceProvisionerExt as _, LaunchFailureKind};
    let cloud = slow_cloud();
    let p = FakeProvisioner::new(cloud.clone());
    let id = p.launch_instance(&config()).await.unwrap().instance_id;
    tokio::time::advance(Duration::from_secs(30)).await;
    p.stop_instance(&id).await.unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    cloud.fail_start_after_acceptance(
        1,
        LaunchFailureKind::InsufficientCapacity,
        Duration::from_secs(5),
    );

    let accepted = p.start_instance(&id).await.unwrap();
    assert_eq!((accepted.state, accepted.public_ip), (Pending, None));
    let early = p.describe_instance(&id).await.unwrap();
    assert_eq!((early.state, early.start_failure), (Pending, None));
    assert_eq!(cloud.failed_start(&id, 1), None, "not failed yet");
    let refused = p
        .wait_until_running(&id, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::InsufficientCapacity { .. }),
        "{refused}"
    );
    assert_eq!(refused.code(), Some("InsufficientCapacity"));
    let stopped = p.describe_instance(&id).await.unwrap();
    assert_eq!(stopped.state, Stopped);
    assert_eq!(
        stopped.start_failure.map(|f| f.kind),
        Some(LaunchFailureKind::InsufficientCapacity)
    );
    assert_eq!(cloud.live_instances(), 1, "kept, and still counted");
    assert_eq!(
        cloud.failed_start(&id, 1),
        Some(LaunchFailureKind::InsufficientCapacity)
    );

    // Only the planned start fails; the next one clears the failure.
    p.start_instance(&id).await.unwrap();
    let running = p
        .wait_until_running(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(running.start_failure, None);
    assert!(running.public_ip.is_some());
    assert_eq!(cloud.failed_start(&id, 2), None);
    assert!(cloud.failed_start(&id, 1).is_some(), "start 1 still failed");
}

#[tokio::test(start_paused = true)]
async fn a_key_outlives_its_terminated_instance_by_a_day() {
    let p = FakeProvisioner::new(FakeCloud::new());
    let keyed = config().with_idempotency_key("slot-0-gen-0");
    let id = p.launch_instance(&keyed).await.unwrap().instance_id;
    p.terminate_instance(&id).await.unwrap();
    let refused = p.launch_instance(&keyed).await.unwrap_err();
    assert_eq!(
        refused.invalid_field(),
        Some("idempotency_key"),
        "{refused}"
    );
    // The instance vanishes after an hour; the key is still refused.
    tokio::time::advance(Duration::from_secs(2 * 3600)).await;
    assert_eq!(state(&p, &id).await, Terminated);
    assert!(p.launch_instance(&keyed).await.is_err());
    tokio::time::advance(Duration::from_secs(23 * 3600)).await;
    let again = p.launch_instance(&keyed).await.unwrap();
    assert_ne!(again.instance_id, id);
}

#[tokio::test]
async fn an_update_replaces_tags_in_the_index() {
    let cloud = FakeCloud::new();
    let record = cloud.launch(&config()).await.unwrap();
    let updated = config().with_tag("fleet-id", "green");
    cloud.update(&record.id, &updated).await.unwrap();
    let blue = cloud
        .list_all(&InstanceFilter::tagged([("fleet-id", "blue")]))
        .await
        .unwrap();
    let green = cloud
        .list_all(&InstanceFilter::tagged([("fleet-id", "green")]))
        .await
        .unwrap();
    assert!(blue.is_empty());
    assert_eq!(green.len(), 1);
    assert_eq!(green[0].id, record.id);
}

#[tokio::test(start_paused = true)]
async fn a_sweep_terminates_lost_instances_and_spares_known_and_young_ones() {
    use provisioner_core::sweep::Sweep;
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    let owned = config().with_tag("ManagedBy", "fleet-a");
    let mut known = std::collections::HashSet::new();
    for _ in 0..2 {
        known.insert(p.launch_instance(&owned).await.unwrap().instance_id);
    }
    let mut lost = Vec::new();
    for _ in 0..2 {
        lost.push(p.launch_instance(&owned).await.unwrap().instance_id);
    }
    let foreign = p.launch_instance(&config()).await.unwrap().instance_id;
    tokio::time::advance(Duration::from_secs(11 * 60)).await;
    let young = p.launch_instance(&owned).await.unwrap().instance_id;
    let sweep = Sweep::new([("ManagedBy".to_owned(), "fleet-a".to_owned())].into());

    let dry = sweep.run_at(&p, &known, cloud.now_wall()).await.unwrap();
    let mut found: Vec<String> = dry.lost.iter().map(|i| i.instance_id.clone()).collect();
    found.sort();
    lost.sort();
    assert_eq!(found, lost);
    assert!(dry.terminated.is_empty(), "a dry run changes nothing");
    assert_eq!(dry.spared.len(), 1);
    assert_eq!(dry.spared[0].instance_id, young);

    let done = sweep
        .terminating()
        .run_at(&p, &known, cloud.now_wall())
        .await
        .unwrap();
    assert_eq!(done.terminated.len(), 2);
    for id in &lost {
        assert_eq!(state(&p, id).await, Terminated);
    }
    for id in known.iter().chain([&young, &foreign]) {
        assert_eq!(state(&p, id).await, Running, "{id}");
    }
}

/// The sweep by marker finds an untagged, unkeyed launch of ours, and never
/// touches an instance someone else made, nor another owner's, though all
/// three carry no tag and are unknown to the fleet.
#[tokio::test(start_paused = true)]
async fn a_sweep_by_marker_finds_untagged_launches_and_only_ours() {
    use provisioner_core::sweep::Sweep;
    use provisioner_core::OwnerId;
    let cloud = FakeCloud::new();
    let blue = OwnerId::new("fleet-blue").unwrap();
    let ours = FakeProvisioner::new(cloud.clone()).with_owner(blue.clone());
    let theirs =
        FakeProvisioner::new(cloud.clone()).with_owner(OwnerId::new("fleet-green").unwrap());
    let lost = ours.launch_instance(&config()).await.unwrap().instance_id;
    let other_owner = theirs.launch_instance(&config()).await.unwrap().instance_id;
    let by_hand = cloud.launch(&config()).await.unwrap().id.to_string();
    tokio::time::advance(Duration::from_secs(11 * 60)).await;

    let report = Sweep::marked(blue)
        .terminating()
        .run_at(&ours, &std::collections::HashSet::new(), cloud.now_wall())
        .await
        .unwrap();
    assert_eq!(report.terminated, vec![lost.clone()]);
    let mut not_ours: Vec<&str> = report
        .not_ours
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    not_ours.sort_unstable();
    let mut want = vec![other_owner.as_str(), by_hand.as_str()];
    want.sort_unstable();
    assert_eq!(not_ours, want);
    assert_eq!(state(&ours, &lost).await, Terminated);
    for id in [&other_owner, &by_hand] {
        assert_eq!(state(&ours, id).await, Running, "{id}");
    }
}

#[tokio::test]
async fn the_table_of_bad_inputs_never_reaches_the_model() {
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    let (tried, problems) = provisioner_core::contract::check_bad_inputs(&p, &config()).await;
    assert!(tried >= 30, "{tried} inputs");
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(cloud.calls().is_empty(), "{:?}", cloud.calls());
}

#[tokio::test]
async fn launch_many_gives_each_slot_a_key_and_terminate_matching_ends_them() {
    use provisioner_core::InstanceProvisionerExt;
    let cloud = FakeCloud::new();
    let p = FakeProvisioner::new(cloud.clone());
    assert_eq!(p.name(), "fake");
    let pool = config()
        .with_tag("pool", "many")
        .with_idempotency_key("pool-many-gen-0");
    let first: Vec<String> = p
        .launch_many(&pool, 5, 2)
        .await
        .into_iter()
        .map(|r| r.unwrap().instance_id)
        .collect();
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert_eq!(distinct.len(), 5);
    // The same call again (a retry after a crash) launches nothing new.
    let again: Vec<String> = p
        .launch_many(&pool, 5, 5)
        .await
        .into_iter()
        .map(|r| r.unwrap().instance_id)
        .collect();
    assert_eq!(again, first);
    assert_eq!(cloud.live_instances(), 5);
    let filter = InstanceFilter::tagged([("pool", "many")]);
    let mut ended = p.terminate_matching(&filter).await.unwrap();
    ended.sort();
    let mut want = first.clone();
    want.sort();
    assert_eq!(ended, want);
    assert_eq!(cloud.live_instances(), 0);
}
