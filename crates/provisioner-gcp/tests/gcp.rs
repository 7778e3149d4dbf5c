//! What the suite cannot see on Compute Engine: the tag encoding, deletes
//! that show STOPPING, inserts retried after a lost answer, throttling and
//! capacity errors reported in operations.

use std::sync::Arc;
use std::time::Duration;

use provisioner_core::layers::Batching;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceProvisioner,
    InstanceProvisionerExt,
};
use provisioner_emulator::{Emulator, EmulatorHandle, Face};
use provisioner_fake::{FakeCloud, Fault, Operation, Personality, Transitions};
use provisioner_gcp::{GcpLaunchConfig, GcpProvisioner, TAGS_METADATA_KEY};

const ZONE: &str = "europe-west1-b";

async fn provisioner(emulator: &EmulatorHandle) -> GcpProvisioner {
    GcpProvisioner::for_endpoint(
        &emulator.endpoint(),
        "p",
        vec![ZONE.into()],
        GcpLaunchConfig::default(),
    )
    .await
    .unwrap()
}

async fn setup() -> (EmulatorHandle, GcpProvisioner) {
    let emulator = Emulator::builder()
        .personality(Personality::gce())
        .start()
        .await
        .unwrap();
    let gcp = provisioner(&emulator).await;
    (emulator, gcp)
}

/// The emulator's model id of an instance id `ZONE/NAME` in project `p`:
/// its resource path.
fn model_id(instance_id: &str) -> String {
    let (zone, name) = instance_id.split_once('/').unwrap();
    format!("projects/p/zones/{zone}/instances/{name}")
}

fn config() -> InstanceConfig {
    InstanceConfig::new(
        "projects/debian-cloud/global/images/family/debian-12",
        "e2-small",
    )
}

#[tokio::test]
async fn tags_round_trip_exactly_through_labels_and_metadata() {
    let (emulator, gcp) = setup().await;
    let odd = config()
        .with_tag("ManagedBy", "Fleet A/1")
        .with_tag("fleet.id", "Blue Team");
    let similar = config()
        .with_tag("ManagedBy", "fleet_a_1")
        .with_tag("fleet.id", "blue_team");
    let a = gcp.launch_instance(&odd).await.unwrap();
    let b = gcp.launch_instance(&similar).await.unwrap();
    assert_eq!(a.tags, odd.tags);

    // Both carry the same derived labels; the exact tags tell them apart.
    let listed = gcp
        .list_instances(&InstanceFilter::tagged(&odd.tags))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].instance_id.as_str(), &listed[0].tags),
        (a.instance_id.as_str(), &odd.tags)
    );
    let listed = gcp
        .list_instances(&InstanceFilter::tagged(&similar.tags))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].instance_id, b.instance_id);

    // On the wire: lowercase labels, the exact tags in metadata.
    let record = emulator
        .cloud()
        .describe(&model_id(&a.instance_id))
        .await
        .unwrap();
    assert_eq!(
        record.config.tags.get("managedby").map(String::as_str),
        Some("fleet_a_1")
    );
    let metadata = &record.attributes[&format!("metadata.{TAGS_METADATA_KEY}")];
    assert_eq!(
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(metadata).unwrap(),
        *odd.tags
    );
}

#[tokio::test]
async fn a_value_cannot_break_the_filter() {
    let (_emulator, gcp) = setup().await;
    let sly = r#"x" OR name != "y"#;
    gcp.launch_instance(&config().with_tag("pool", "other"))
        .await
        .unwrap();
    let listed = gcp
        .list_instances(&InstanceFilter::tagged([("pool", sly)]))
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    let tagged = gcp
        .launch_instance(&config().with_tag("pool", sly))
        .await
        .unwrap();
    let listed = gcp
        .list_instances(&InstanceFilter::tagged([("pool", sly)]))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].instance_id, tagged.instance_id);
}

#[tokio::test]
async fn tags_labels_cannot_express_are_rejected_before_any_call() {
    let (emulator, gcp) = setup().await;
    for bad in [
        config()
            .with_tag("ManagedBy", "a")
            .with_tag("managedby", "b"),
        config().with_tag("k", "v".repeat(64)),
        config().with_disk_size_gb(5),
        config().with_user_data(vec![0xff, 0xfe]),
    ] {
        assert!(
            matches!(
                gcp.launch_instance(&bad).await,
                Err(Error::InvalidArgument { .. })
            ),
            "{bad:?}"
        );
    }
    for id in [
        "europe-west1-b/../x",
        "europe-west1-b",
        "Europe/x",
        "europe-west1-b/x/stop",
    ] {
        assert_eq!(
            gcp.describe_instance(id).await.unwrap_err().invalid_field(),
            Some("instance_id"),
            "{id}"
        );
    }
    assert!(emulator.cloud().calls().is_empty());
    // Counted on the wire, before the face could refuse anything.
    assert_eq!(
        emulator.requests_received(provisioner_emulator::Face::ComputeEngine),
        0
    );
}

#[tokio::test]
async fn a_deleting_instance_is_terminating_although_it_shows_stopping() {
    // Deleting takes 5 s of real time: long enough for the checks below to
    // run inside it even on a loaded machine.
    let cloud = FakeCloud::builder()
        .personality(Personality::gce())
        .transitions(Transitions {
            terminate: Duration::from_secs(5),
            ..Transitions::default()
        })
        .build();
    let emulator = Emulator::builder().cloud(cloud).start().await.unwrap();
    let gcp = provisioner(&emulator).await;
    let id = gcp.launch_instance(&config()).await.unwrap().instance_id;
    gcp.terminate_instance(&id).await.unwrap();

    let status = gcp.describe_instance(&id).await.unwrap();
    assert_eq!(status.state, CloudInstanceState::Terminating, "{status:?}");
    // A provisioner that did not start the delete sees what Compute Engine shows.
    let stranger = provisioner(&emulator).await;
    assert_eq!(
        stranger.describe_instance(&id).await.unwrap().state,
        CloudInstanceState::Stopping
    );
    let terminating = InstanceFilter::default().in_states([CloudInstanceState::Terminating]);
    assert_eq!(gcp.list_instances(&terminating).await.unwrap().len(), 1);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while gcp.describe_instance(&id).await.unwrap().state != CloudInstanceState::Terminated {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delete never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(gcp
        .list_instances(&InstanceFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_insert_whose_answer_is_lost_is_retried_into_the_same_instance() {
    let (emulator, gcp) = setup().await;
    emulator
        .wire()
        .drop_after_commit("compute.instances.insert", 1);
    let keyed = config()
        .with_tag("fleet-id", "blue")
        .with_idempotency_key("blue-slot-0");
    let first = gcp.launch_instance(&keyed).await;
    let info = match first {
        Ok(info) => info,
        // The answer was lost: the caller retries with the same key.
        Err(e) => {
            assert!(e.is_retryable(), "{e}");
            gcp.launch_instance(&keyed).await.unwrap()
        }
    };
    assert_eq!(emulator.cloud().live_instances(), 1);
    let again = gcp.launch_instance(&keyed).await.unwrap();
    assert_eq!(again.instance_id, info.instance_id);
    assert_eq!(again.tags, keyed.tags);
    assert_eq!(emulator.cloud().live_instances(), 1);
}

#[tokio::test]
async fn throttling_and_capacity_keep_their_class() {
    let (emulator, gcp) = setup().await;
    let id = gcp.launch_instance(&config()).await.unwrap().instance_id;

    emulator.cloud().fail_next(
        Operation::Describe,
        20,
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(2)),
        },
    );
    let err = gcp.describe_instance(&id).await.unwrap_err();
    assert!(
        matches!(err, Error::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
        "{err}"
    );
    emulator.cloud().clear_faults();

    // Compute Engine reports a capacity shortage in the insert's operation.
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::InsufficientCapacity);
    let err = gcp.launch_instance(&config()).await.unwrap_err();
    assert!(matches!(err, Error::InsufficientCapacity { .. }), "{err}");
    // It keeps the operation's error code, and the operation's name as the
    // request id.
    let context = err.context().expect("a context");
    assert_eq!(
        (context.provider, context.operation),
        ("gcp", Some(Operation::Launch))
    );
    assert_eq!(err.code(), Some("ZONE_RESOURCE_POOL_EXHAUSTED"));
    assert!(
        err.request_id()
            .is_some_and(|id| id.starts_with("operation-")),
        "{:?}",
        err.request_id()
    );
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::PermissionDenied);
    let err = gcp.launch_instance(&config()).await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert_eq!(emulator.cloud().live_instances(), 1);
}

#[tokio::test]
async fn launch_sends_the_body_compute_engine_needs() {
    let (emulator, _) = setup().await;
    let gcp = GcpProvisioner::for_endpoint(
        &emulator.endpoint(),
        "p",
        vec![ZONE.into()],
        GcpLaunchConfig::default()
            .with_user_data_key("startup-script")
            .with_external_ip(false)
            .with_service_account(
                "fleet@p.iam.gserviceaccount.com",
                vec!["https://www.googleapis.com/auth/cloud-platform".into()],
            ),
    )
    .await
    .unwrap();
    let info = gcp
        .launch_instance(
            &config()
                .with_disk_size_gb(30)
                .with_user_data("#!/bin/sh\necho hi\n"),
        )
        .await
        .unwrap();
    let record = emulator
        .cloud()
        .describe(&model_id(&info.instance_id))
        .await
        .unwrap();
    assert_eq!(record.config.instance_type, "e2-small");
    assert_eq!(record.config.disk_size_gb, Some(30));
    assert_eq!(
        record.attributes["metadata.startup-script"],
        "#!/bin/sh\necho hi\n"
    );
    assert_eq!(
        record.attributes["serviceAccount.email"],
        "fleet@p.iam.gserviceaccount.com"
    );
    assert!(!record.attributes.contains_key("accessConfig"));
    let status = gcp.describe_instance(&info.instance_id).await.unwrap();
    assert!(
        status.private_ip.is_some() && status.public_ip.is_none(),
        "{status:?}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_describes_through_the_batching_layer_are_at_most_five_requests() {
    let (emulator, gcp) = setup().await;
    let gcp = Arc::new(gcp);
    let launched = gcp
        .launch_many(&config().with_idempotency_key("fleet-worker"), 999, 32)
        .await;
    let ids: Vec<String> = launched
        .into_iter()
        .map(|r| r.unwrap().instance_id)
        .collect();
    let gone = format!("{ZONE}/never-launched");
    let batching = Arc::new(Batching::new(gcp));
    let before = emulator.requests_received(Face::ComputeEngine);
    let describes = ids.iter().chain([&gone]).map(|id| {
        let (batching, id) = (Arc::clone(&batching), id.clone());
        tokio::spawn(async move { (batching.describe_instance(&id).await, id) })
    });
    for call in describes.collect::<Vec<_>>() {
        let (status, id) = call.await.unwrap();
        let status = status.unwrap();
        assert_eq!(status.instance_id, id);
        let want_gone = id == gone;
        assert_eq!(
            status.state == CloudInstanceState::Terminated,
            want_gone,
            "{status:?}"
        );
    }
    // Two batches of 500; each names its instances in two `name eq`
    // filters (within the 8 KB URL limit), each answered in one page:
    // 2 x 2. Without batching: 1,000 GETs.
    let requests = emulator.requests_received(Face::ComputeEngine) - before;
    assert!(requests <= 5, "{requests} requests for 1,000 describes");
}

#[tokio::test]
async fn a_spot_launch_asks_for_a_spot_vm_in_its_zone_and_a_preemption_reads_as_a_reclaim() {
    use provisioner_core::{Capacity, OnReclaim, Placement, SpotOptions};
    let emulator = Emulator::builder()
        .personality(Personality::gce())
        .start()
        .await
        .unwrap();
    let zones = vec![ZONE.to_owned(), "europe-west1-c".to_owned()];
    let gcp = GcpProvisioner::for_endpoint(&emulator.endpoint(), "p", zones, Default::default())
        .await
        .unwrap();
    let stops = Capacity::Spot(SpotOptions::default().with_on_reclaim(OnReclaim::Stop));
    let placed = config().with_capacity(stops.clone()).with_placement(
        Placement::in_zone("europe-west1-c").with_subnet("regions/europe-west1/subnetworks/jobs"),
    );
    let info = gcp.launch_instance(&placed).await.unwrap();
    assert!(info.instance_id.starts_with("europe-west1-c/"), "{info:?}");
    let record = emulator
        .cloud()
        .describe(&model_id(&info.instance_id))
        .await
        .unwrap();
    assert_eq!(record.config.capacity, stops);
    assert_eq!(
        record.attributes["subnetwork"],
        "regions/europe-west1/subnetworks/jobs"
    );
    let id = info.instance_id.as_str();
    let running = || gcp.wait_until_running(id, Duration::from_secs(5));
    let stopped = || gcp.wait_for_state(id, &[CloudInstanceState::Stopped], Duration::from_secs(5));
    // Once running, stopped by the user: reclaimed or not?
    let user_stop_reclaimed = || async {
        running().await.unwrap();
        gcp.stop_instance(id).await.unwrap();
        let status = stopped().await.unwrap();
        status.reclaimed
    };

    // A user's stop of a spot instance is not a preemption.
    assert!(!user_stop_reclaimed().await);

    // Preempted after a restart: stopped, and said to be reclaimed.
    gcp.start_instance(id).await.unwrap();
    running().await.unwrap();
    emulator.cloud().reclaim(&model_id(id)).unwrap();
    let status = stopped().await.unwrap();
    assert!(status.reclaimed, "{status:?}");

    // Started again and stopped by a user: the old preemption no longer
    // explains the stop.
    tokio::time::sleep(Duration::from_millis(20)).await;
    gcp.start_instance(id).await.unwrap();
    assert!(!user_stop_reclaimed().await);

    // A zone that is not the provisioner's is refused before any call.
    let elsewhere = config().with_placement(Placement::in_zone("asia-east1-a"));
    let calls = emulator.requests_received(Face::ComputeEngine);
    let err = gcp.launch_instance(&elsewhere).await.unwrap_err();
    assert_eq!(err.invalid_field(), Some("placement"), "{err}");
    assert_eq!(emulator.requests_received(Face::ComputeEngine), calls);
    // And a maximum price, which Compute Engine does not have.
    let priced = config().with_capacity(Capacity::Spot(
        SpotOptions::default().with_max_price_per_hour("0.01"),
    ));
    let err = gcp.launch_instance(&priced).await.unwrap_err();
    assert_eq!(err.invalid_field(), Some("capacity"), "{err}");
}

/// Terminate takes the boot disk with the instance (launches mark it
/// `autoDelete`), and nothing else: the disk of an instance whose insert
/// left `autoDelete` out stays after that instance is gone.
#[tokio::test]
async fn terminate_leaves_no_disk_of_its_own_and_keeps_the_others() {
    use google_cloud_compute_v1::client::Instances;
    use google_cloud_compute_v1::model::{AttachedDisk, AttachedDiskInitializeParams, Instance};
    let (emulator, gcp) = setup().await;
    let theirs = Instances::builder()
        .with_endpoint(emulator.endpoint())
        .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build())
        .build()
        .await
        .unwrap();
    let body = Instance::new()
        .set_name("theirs")
        .set_machine_type(format!("zones/{ZONE}/machineTypes/e2-small"))
        .set_disks([AttachedDisk::new().set_boot(true).set_initialize_params(
            AttachedDiskInitializeParams::new().set_source_image(config().image),
        )]);
    let op = theirs
        .insert()
        .set_project("p")
        .set_zone(ZONE)
        .set_body(body)
        .send()
        .await
        .unwrap();
    assert!(op.error.is_none(), "{op:?}");
    theirs
        .delete()
        .set_project("p")
        .set_zone(ZONE)
        .set_instance("theirs")
        .send()
        .await
        .unwrap();
    assert_eq!(emulator.unattached_resources().disks, 1);

    let ours = gcp.launch_instance(&config()).await.unwrap();
    assert_eq!(emulator.unattached_resources().disks, 1, "ours is in use");
    gcp.terminate_instance(&ours.instance_id).await.unwrap();
    gcp.wait_for_state(
        &ours.instance_id,
        &[CloudInstanceState::Terminated],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(
        emulator.unattached_resources().disks,
        1,
        "theirs stays, ours left with its instance"
    );
}
