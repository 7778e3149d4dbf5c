//! What the suite cannot see: retries, dropped responses, capacity errors,
//! eventual consistency, and the exact request EC2 receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use provisioner_core::layers::Batching;
use provisioner_core::sweep::Sweep;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceProvisioner, OwnerId,
    OWNER_TAG,
};
use provisioner_ec2::{emulator_client, Ec2LaunchConfig, Ec2Provisioner};
use provisioner_emulator::{Emulator, EmulatorHandle, Face};
use provisioner_fake::{FakeCloud, Fault, Operation, Personality};

async fn setup() -> (EmulatorHandle, Ec2Provisioner) {
    let emulator = Emulator::builder().start().await.unwrap();
    let ec2 = Ec2Provisioner::from_client(
        emulator_client(&emulator.endpoint()),
        Ec2LaunchConfig::default(),
    );
    (emulator, ec2)
}

fn config() -> InstanceConfig {
    InstanceConfig::new("ami-0abcdef1234567890", "t3.micro").with_tag("fleet-id", "blue")
}

#[tokio::test]
async fn throttled_calls_are_retried_and_succeed() {
    let (emulator, ec2) = setup().await;
    emulator
        .cloud()
        .fail_next(Operation::Launch, 2, Fault::Throttled { retry_after: None });
    let info = ec2.launch_instance(&config()).await.unwrap();
    assert_eq!(
        emulator.cloud().call_count(Operation::Launch),
        3,
        "two throttled, one accepted"
    );
    assert_eq!(emulator.cloud().live_instances(), 1);
    // Throttling beyond the SDK's three attempts reaches the caller as Throttled.
    emulator.cloud().fail_next(
        Operation::Describe,
        3,
        Fault::Throttled { retry_after: None },
    );
    let err = ec2.describe_instance(&info.instance_id).await.unwrap_err();
    assert!(
        matches!(err, Error::Throttled { .. }) && err.is_retryable(),
        "{err}"
    );
}

#[tokio::test]
async fn a_launch_whose_response_is_dropped_leaves_one_instance() {
    let (emulator, ec2) = setup().await;
    // With the caller's idempotency key, and without one (a fresh client
    // token per call, reused by the SDK's retry).
    for config in [config().with_idempotency_key("blue-slot-0"), config()] {
        emulator.wire().drop_after_commit("RunInstances", 1);
        let before = emulator.cloud().live_instances();
        let info = ec2.launch_instance(&config).await.unwrap();
        assert_eq!(emulator.cloud().live_instances(), before + 1, "{config:?}");
        assert_eq!(
            ec2.describe_instance(&info.instance_id)
                .await
                .unwrap()
                .state,
            CloudInstanceState::Running
        );
    }
    assert_eq!(
        emulator.cloud().call_count(Operation::Launch),
        4,
        "each launch was sent twice"
    );
}

#[tokio::test]
async fn insufficient_capacity_arrives_at_once_not_after_retries_in_place() {
    let (emulator, ec2) = setup().await;
    emulator
        .cloud()
        .fail_next(Operation::Launch, 3, Fault::InsufficientCapacity);
    let err = ec2.launch_instance(&config()).await.unwrap_err();
    assert!(matches!(err, Error::InsufficientCapacity { .. }), "{err}");
    assert!(
        err.to_string().contains("InsufficientInstanceCapacity"),
        "{err}"
    );
    // The error keeps where it came from: EC2's code, the operation, and
    // the RequestID of EC2's error document.
    let context = err.context().expect("a context");
    assert_eq!(
        (context.provider, context.operation),
        ("ec2", Some(Operation::Launch))
    );
    assert_eq!(err.code(), Some("InsufficientInstanceCapacity"));
    assert!(
        err.request_id().is_some_and(|id| id.len() == 36),
        "{:?}",
        err.request_id()
    );
    assert!(!err.is_retryable());
    assert_eq!(emulator.cloud().live_instances(), 0);
    // EC2 sends it as a 500; the SDK would retry that three times.
    assert_eq!(emulator.cloud().call_count(Operation::Launch), 1);
}

#[tokio::test]
async fn a_client_token_whose_instance_was_terminated_is_refused_for_a_day() {
    let (emulator, ec2) = setup().await;
    let keyed = config().with_idempotency_key("slot-0-intent-1");
    let first = ec2.launch_instance(&keyed).await.unwrap();
    ec2.terminate_instance(&first.instance_id).await.unwrap();
    let err = ec2.launch_instance(&keyed).await.unwrap_err();
    assert_eq!(err.invalid_field(), Some("idempotency_key"), "{err}");
    assert!(
        err.to_string().contains("IdempotentInstanceTerminated"),
        "{err}"
    );
    assert_eq!(emulator.cloud().live_instances(), 0);
}

#[tokio::test]
async fn quota_auth_and_permission_errors_keep_their_class() {
    let (emulator, ec2) = setup().await;
    type IsClass = fn(&Error) -> bool;
    let cases: [(Fault, IsClass); 3] = [
        (Fault::QuotaExceeded, |e| {
            matches!(e, Error::QuotaExceeded { .. })
        }),
        (Fault::Unauthenticated, |e| {
            matches!(e, Error::Unauthenticated { .. })
        }),
        (Fault::PermissionDenied, |e| {
            matches!(e, Error::PermissionDenied { .. })
        }),
    ];
    for (fault, is_class) in cases {
        emulator.cloud().fail_next(Operation::Launch, 1, fault);
        let err = ec2.launch_instance(&config()).await.unwrap_err();
        assert!(is_class(&err), "{fault:?} gave {err}");
    }
}

/// EC2 refuses a spot request priced below what it asks
/// (`SpotMaxPriceTooLow`, a client error): its own class, with EC2's code,
/// and a fallback moves on to the next offering.
#[tokio::test]
async fn a_spot_offering_priced_too_low_is_skipped_for_the_next() {
    use provisioner_core::fallback::{Fallback, Offering};
    use provisioner_core::{Capacity, SpotOptions};
    let (emulator, ec2) = setup().await;
    let low = Offering::new("m7i.large").with_capacity(Capacity::Spot(
        SpotOptions::default().with_max_price_per_hour("0.001"),
    ));
    let next = Offering::new("m6i.large").with_capacity(Capacity::spot());
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::PriceTooLow);
    let err = ec2
        .launch_instance(&config().with_capacity(low.capacity.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PriceTooLow { .. }), "{err}");
    assert_eq!(err.code(), Some("SpotMaxPriceTooLow"));
    assert!(!err.is_retryable());

    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::PriceTooLow);
    let (info, chosen) = Fallback::new(vec![low, next.clone()])
        .launch(&ec2, &config())
        .await
        .unwrap();
    assert_eq!(chosen, next);
    let record = emulator.cloud().peek(&info.instance_id).unwrap();
    assert_eq!(record.config.instance_type, "m6i.large");
    assert_eq!(emulator.cloud().live_instances(), 1);
}

#[tokio::test]
async fn describe_inside_the_invisibility_window_says_pending() {
    let (emulator, ec2) = setup().await;
    emulator
        .cloud()
        .set_visibility_delay(Duration::from_secs(600));
    let info = ec2.launch_instance(&config()).await.unwrap();
    let status = ec2.describe_instance(&info.instance_id).await.unwrap();
    assert_eq!(status.state, CloudInstanceState::Pending, "{status:?}");
    // Another provisioner (a restarted fleet manager) did not launch it: for
    // it, EC2's "not found" means terminated.
    let stranger = Ec2Provisioner::from_client(
        emulator_client(&emulator.endpoint()),
        Ec2LaunchConfig::default(),
    );
    assert_eq!(
        stranger
            .describe_instance(&info.instance_id)
            .await
            .unwrap()
            .state,
        CloudInstanceState::Terminated
    );
}

#[tokio::test]
async fn launch_sends_everything_ec2_needs() {
    let (emulator, ec2) = setup().await;
    let info = ec2
        .launch_instance(
            &config()
                .with_disk_size_gb(40)
                .with_user_data("#!/bin/sh\necho hi\n")
                .with_idempotency_key("k-7"),
        )
        .await
        .unwrap();
    let record = emulator.cloud().describe(&info.instance_id).await.unwrap();
    assert_eq!(
        record.config.disk_size_gb,
        Some(40),
        "root volume sized on the image's root device"
    );
    assert_eq!(
        record.config.user_data.as_ref().unwrap().as_bytes(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(record.config.idempotency_key.as_deref(), Some("k-7"));
    // On EC2: the caller's tags and the ownership marker; to the caller:
    // its tags, and the owner beside them.
    assert_eq!(
        record.config.tags,
        provisioner_core::OwnerId::default().mark(&config().tags)
    );
    assert_eq!(info.tags, config().tags);
    assert_eq!(
        info.owner.as_deref(),
        Some(provisioner_core::OwnerId::DEFAULT)
    );
    assert!(info.private_ip.is_some() && info.launch_time.is_some());
}

#[tokio::test]
async fn bad_input_never_reaches_ec2() {
    let (emulator, ec2) = setup().await;
    for bad in [
        config().with_tag("aws:reserved", "x"),
        config().with_tag("k".repeat(129), "x"),
        config().with_user_data(vec![b'x'; 16 * 1024 + 1]),
        InstanceConfig::new("ami-0abcdef1234567890", ""),
    ] {
        assert!(matches!(
            ec2.launch_instance(&bad).await,
            Err(Error::InvalidArgument { .. })
        ));
    }
    for id in ["i-0123/../../x", "i-0123456789ABCDEF0", "../i-0123abcd"] {
        assert_eq!(
            ec2.describe_instance(id).await.unwrap_err().invalid_field(),
            Some("instance_id")
        );
    }
    let calls = emulator.cloud().calls();
    assert!(calls.is_empty(), "{calls:?}");
    // Counted on the wire, before the face could refuse anything.
    assert_eq!(
        emulator.requests_received(provisioner_emulator::Face::Ec2),
        0
    );
}

#[tokio::test]
async fn list_matches_tag_values_exactly_not_as_wildcards() {
    let (_emulator, ec2) = setup().await;
    ec2.launch_instance(&config().with_tag("pool", "a*"))
        .await
        .unwrap();
    let literal = ec2
        .launch_instance(&config().with_tag("pool", "a*"))
        .await
        .unwrap();
    ec2.launch_instance(&config().with_tag("pool", "ab"))
        .await
        .unwrap();
    let listed = ec2
        .list_instances(&InstanceFilter::tagged([("pool", "a*")]))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|i| i.instance_id == literal.instance_id));
}

#[tokio::test]
async fn terminated_instances_are_listed_only_when_asked_for() {
    let cloud = FakeCloud::builder().personality(Personality::ec2()).build();
    let emulator = Emulator::builder().cloud(cloud).start().await.unwrap();
    let ec2 = Ec2Provisioner::from_client(
        emulator_client(&emulator.endpoint()),
        Ec2LaunchConfig::default(),
    );
    let info = ec2.launch_instance(&config()).await.unwrap();
    ec2.terminate_instance(&info.instance_id).await.unwrap();
    let fleet = InstanceFilter::tagged([("fleet-id", "blue")]);
    assert!(ec2.list_instances(&fleet).await.unwrap().is_empty());
    let terminated = ec2
        .list_instances(&fleet.in_states([CloudInstanceState::Terminated]))
        .await
        .unwrap();
    assert_eq!(terminated.len(), 1);
    assert_eq!(terminated[0].state, CloudInstanceState::Terminated);
}

#[tokio::test]
async fn debug_never_prints_the_secret_key_or_user_data() {
    let (_emulator, ec2) = setup().await;
    let printed = format!("{ec2:?}");
    assert!(!printed.contains("emulator-secret"), "{printed}");
    let config = config().with_user_data("TOKEN=hunter2");
    assert!(!format!("{config:?}").contains("hunter2"));
    // Errors carry EC2's message, never the request.
    let err = ec2
        .launch_instance(&config.with_tag("aws:x", "y"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn a_call_that_hangs_ends_at_its_deadline_as_unavailable() {
    let (emulator, provisioner) = setup().await;
    let provisioner = provisioner.with_deadlines(provisioner_core::Deadlines::new(
        Duration::from_millis(200),
        Duration::from_secs(1),
    ));
    emulator
        .check_a_hanging_call_ends_at_its_deadline(&provisioner, &config())
        .await
        .unwrap();
}

#[tokio::test]
async fn for_endpoint_builds_on_an_emulator_and_refuses_what_is_not_a_url() {
    let emulator = Emulator::builder().start().await.unwrap();
    let ec2 = Ec2Provisioner::for_endpoint(&emulator.endpoint(), Ec2LaunchConfig::default())
        .await
        .unwrap()
        .with_page_size(5);
    let info = ec2.launch_instance(&config()).await.unwrap();
    assert!(info.instance_id.starts_with("i-"));
    let err = Ec2Provisioner::for_endpoint("localhost:4566", Ec2LaunchConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.invalid_field(), Some("endpoint"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_describes_and_terminates_are_two_requests_each() {
    let (emulator, ec2) = setup().await;
    let mut ids = Vec::with_capacity(1000);
    for _ in 0..1000 {
        ids.push(
            emulator
                .cloud()
                .launch(&config())
                .await
                .unwrap()
                .id
                .to_string(),
        );
    }
    let batching = Arc::new(Batching::new(Arc::new(ec2)));
    let before = emulator.requests_received(Face::Ec2);
    let describes = ids.iter().map(|id| {
        let (batching, id) = (Arc::clone(&batching), id.clone());
        tokio::spawn(async move { (batching.describe_instance(&id).await, id) })
    });
    for call in describes.collect::<Vec<_>>() {
        let (status, id) = call.await.unwrap();
        let status = status.unwrap();
        assert_eq!(status.instance_id, id);
        assert_ne!(status.state, CloudInstanceState::Terminated);
    }
    let describe_requests = emulator.requests_received(Face::Ec2) - before;
    assert!(
        describe_requests <= 2,
        "{describe_requests} DescribeInstances"
    );

    let before = emulator.requests_received(Face::Ec2);
    let terminates = ids.iter().map(|id| {
        let (batching, id) = (Arc::clone(&batching), id.clone());
        tokio::spawn(async move { batching.terminate_instance(&id).await })
    });
    for call in terminates.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    let terminate_requests = emulator.requests_received(Face::Ec2) - before;
    assert!(
        terminate_requests <= 2,
        "{terminate_requests} TerminateInstances"
    );
    assert_eq!(emulator.cloud().live_instances(), 0);
}

#[tokio::test]
async fn a_batch_naming_unknown_ids_describes_the_rest_and_the_unknown_as_terminated() {
    let (emulator, ec2) = setup().await;
    let known = emulator
        .cloud()
        .launch(&config())
        .await
        .unwrap()
        .id
        .to_string();
    let unknown = ["i-0123456789abcdef0", "i-0fedcba9876543210"];
    let before = emulator.requests_received(Face::Ec2);
    let results = ec2
        .describe_instances(&[unknown[0], &known, "i-bad", unknown[1]])
        .await
        .unwrap();
    // EC2 refuses the request naming both unknown ids; the second names
    // only the known one.
    assert_eq!(emulator.requests_received(Face::Ec2) - before, 2);
    assert_eq!(results.len(), 4);
    assert_eq!(results[1].as_ref().unwrap().instance_id, known);
    assert_eq!(
        results[2].as_ref().unwrap_err().invalid_field(),
        Some("instance_id")
    );
    for i in [0, 3] {
        assert_eq!(
            results[i].as_ref().unwrap().state,
            CloudInstanceState::Terminated
        );
    }
    let results = ec2
        .terminate_instances(&[&known, unknown[0]])
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(emulator.cloud().live_instances(), 0);
}

#[tokio::test]
async fn a_spot_launch_sends_one_time_market_options_and_a_reclaim_reads_as_ec2_says_it() {
    use provisioner_core::{Capacity, OnReclaim, Placement, SpotOptions};
    let (emulator, ec2) = setup().await;
    let spot = SpotOptions::default().with_max_price_per_hour("0.0421");
    let placed = config()
        .with_capacity(Capacity::Spot(spot.clone()))
        .with_placement(Placement::in_zone("us-east-1c"));
    let info = ec2.launch_instance(&placed).await.unwrap();
    let record = emulator.cloud().peek(&info.instance_id).unwrap();
    assert_eq!(record.config.capacity, Capacity::Spot(spot));
    assert_eq!(record.config.placement.zone.as_deref(), Some("us-east-1c"));

    // EC2 stops only persistent requests' instances: refused before any call.
    let before = emulator.requests_received(Face::Ec2);
    let stops = SpotOptions::default().with_on_reclaim(OnReclaim::Stop);
    let err = ec2
        .launch_instance(&config().with_capacity(Capacity::Spot(stops)))
        .await
        .unwrap_err();
    assert_eq!(err.invalid_field(), Some("capacity"));
    assert_eq!(emulator.requests_received(Face::Ec2), before);

    emulator.cloud().reclaim(&info.instance_id).unwrap();
    let status = ec2.describe_instance(&info.instance_id).await.unwrap();
    assert!(status.reclaimed, "{status:?}");
    assert!(
        status
            .state_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("Server.SpotInstanceTermination")),
        "{status:?}"
    );
    let listed = ec2
        .list_instances(&InstanceFilter::default().in_states(CloudInstanceState::ALL))
        .await
        .unwrap();
    assert!(listed
        .iter()
        .any(|i| i.instance_id == info.instance_id && i.reclaimed));
}

const KEEPING: &str = "ami-0aaaa1111bbbb2222";

/// An emulator whose image [`KEEPING`] keeps its root volume on
/// termination, and a provisioner of `owner` on it.
async fn keeping_root(owner: &OwnerId) -> (EmulatorHandle, Ec2Provisioner) {
    let emulator = Emulator::builder()
        .ec2_image_keeping_root(KEEPING)
        .start()
        .await
        .unwrap();
    let ec2 = Ec2Provisioner::from_client(
        emulator_client(&emulator.endpoint()),
        Ec2LaunchConfig::default(),
    )
    .with_owner(owner.clone());
    (emulator, ec2)
}

/// Launches an instance of [`KEEPING`] by hand, as the image says (its
/// volume marked with `marker`, if any), and terminates it: its volume
/// stays, `available`.
async fn leave_a_volume(client: &aws_sdk_ec2::Client, marker: Option<&str>) {
    let mut run = client
        .run_instances()
        .image_id(KEEPING)
        .instance_type("t3.micro".into())
        .min_count(1)
        .max_count(1);
    if let Some(marker) = marker {
        run = run.tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .tags(Tag::builder().key(OWNER_TAG).value(marker).build())
                .build(),
        );
    }
    let out = run.send().await.unwrap();
    let id = out.instances()[0].instance_id().unwrap();
    client
        .terminate_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
}

/// Terminate takes the root volume launched with the instance with it, even
/// from an image whose own mapping keeps its root (the provider maps the
/// root device with `DeleteOnTermination=true` on every launch), and
/// nothing else: a volume another launch left behind stays.
#[tokio::test]
async fn terminate_leaves_no_volume_of_its_own_and_keeps_the_others() {
    let (emulator, ec2) = keeping_root(&OwnerId::default()).await;
    let client = ec2.client();
    leave_a_volume(client, None).await;
    let kept = client.describe_volumes().send().await.unwrap();
    let [their_volume] = kept.volumes() else {
        panic!("{kept:?}")
    };
    assert_eq!(emulator.unattached_resources().disks, 1);

    let ours = ec2
        .launch_instance(&InstanceConfig::new(KEEPING, "t3.micro"))
        .await
        .unwrap();
    let attached = client
        .describe_volumes()
        .filters(
            Filter::builder()
                .name("attachment.instance-id")
                .values(&ours.instance_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let [root] = attached.volumes() else {
        panic!("{attached:?}")
    };
    assert_eq!(root.attachments()[0].delete_on_termination(), Some(true));
    // Marked as this owner's, like the instance.
    assert!(
        root.tags().iter().any(|t| t.key() == Some(OWNER_TAG)),
        "{root:?}"
    );
    ec2.terminate_instance(&ours.instance_id).await.unwrap();
    let left = client.describe_volumes().send().await.unwrap();
    assert_eq!(left.volumes(), std::slice::from_ref(their_volume));
    assert_eq!(emulator.unattached_resources().disks, 1);
}

/// A sweep with this owner's marker deletes the volumes this owner's
/// launches left behind, and nothing else: a volume of a live instance, one
/// another owner left and one without a marker (the caller's) stay.
#[tokio::test]
async fn a_marked_sweep_deletes_this_owners_kept_volumes_only() {
    let owner = OwnerId::new("fleet-a").unwrap();
    let (emulator, ec2) = keeping_root(&owner).await;
    // One volume marked as this owner's (as a launch that mapped nothing
    // would leave it), one another owner's, one unmarked.
    for marker in [Some(owner.as_str()), Some("fleet-b"), None] {
        leave_a_volume(ec2.client(), marker).await;
    }
    // A live instance of this owner, known to the fleet: its volume is in
    // use, no orphan.
    let live = ec2.launch_instance(&config()).await.unwrap().instance_id;
    let known = HashSet::from([live]);
    assert_eq!(emulator.unattached_resources().disks, 3);
    let listed = ec2.list_orphans().await.unwrap();
    assert_eq!(listed.len(), 2, "the marked ones: {listed:?}");

    let now = emulator.cloud().now_wall();
    let sweep = Sweep::marked(owner).grace(Duration::ZERO);
    let dry = sweep.run_at(&ec2, &known, now).await.unwrap();
    let [ours] = dry.orphans.as_slice() else {
        panic!("{dry:?}")
    };
    assert_eq!(ours.owner.as_deref(), Some("fleet-a"));
    assert!(dry.deleted_orphans.is_empty() && dry.lost.is_empty());
    assert_eq!(emulator.unattached_resources().disks, 3, "a dry run");

    let done = sweep.terminating().run_at(&ec2, &known, now).await.unwrap();
    assert_eq!(done.deleted_orphans, std::slice::from_ref(&ours.id));
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    assert_eq!(emulator.unattached_resources().disks, 2);
    // Deleting it again succeeds: it is gone.
    ec2.delete_orphan(ours).await.unwrap();
}
