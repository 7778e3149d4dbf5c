//! What the suite cannot see on Azure: what terminate leaves behind, what a
//! list costs, a PUT whose answer is lost, throttling with Retry-After, a
//! create that fails after acceptance, custom data, a VM stopped from inside.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::auth::{AccessToken, TokenCredential};
use azure_mgmt_network::package_2024_03 as network;
use common::get_json;
use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
use provisioner_core::contract::FaultInjector;
use provisioner_core::layers::Batching;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceProvisioner,
    InstanceProvisionerExt, LaunchFailureKind, OwnerId, Tags,
};
use provisioner_emulator::{Emulator, EmulatorHandle};
use provisioner_fake::{Fault, Operation, Personality};

const SUBNET: &str = "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default";

#[derive(Debug)]
struct Token;

#[async_trait::async_trait]
impl TokenCredential for Token {
    async fn get_token(&self, _: &[&str]) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "test-token",
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

async fn emulator(page_cap: usize) -> EmulatorHandle {
    Emulator::builder()
        .personality(Personality::azure())
        .resource_group("sub-1", "fleet", "westeurope")
        .subnet(SUBNET)
        .subnet(SUBNET.replace("/subnets/default", "/subnets/jobs"))
        .arm_page_cap(page_cap)
        .start()
        .await
        .unwrap()
}

async fn provisioner(emulator: &EmulatorHandle) -> AzureProvisioner {
    AzureProvisioner::for_endpoint(
        &emulator.endpoint(),
        AzureScope::new("sub-1", "fleet", "westeurope"),
        AzureLaunchConfig::new(
            SUBNET,
            "fleet",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey fleet",
        )
        .with_public_ip(true),
    )
    .await
    .unwrap()
}

/// A provisioner on given clients: no activity log.
fn on_given_clients(emulator: &EmulatorHandle) -> AzureProvisioner {
    let token: Arc<dyn TokenCredential> = Arc::new(Token);
    let url = azure_core::Url::parse(&emulator.endpoint()).unwrap();
    let compute = azure_mgmt_compute::package_2024_07_01::Client::builder(token.clone())
        .endpoint(url.clone())
        .build()
        .unwrap();
    let network = network::Client::builder(token)
        .endpoint(url)
        .build()
        .unwrap();
    AzureProvisioner::from_clients(
        compute,
        network,
        AzureScope::new("sub-1", "fleet", "westeurope"),
        AzureLaunchConfig::new(
            SUBNET,
            "fleet",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey fleet",
        ),
    )
    .unwrap()
}

fn network_client(emulator: &EmulatorHandle) -> network::Client {
    network::Client::builder(Arc::new(Token))
        .endpoint(azure_core::Url::parse(&emulator.endpoint()).unwrap())
        .build()
        .unwrap()
}

fn config() -> InstanceConfig {
    InstanceConfig::new("Canonical:ubuntu-24_04-lts:server:latest", "Standard_B2s")
        .with_tag("ManagedBy", "Fleet A")
}

#[tokio::test]
async fn terminate_deletes_the_nic_disk_and_public_address_too() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let net = network_client(&emulator);
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    let nic = net
        .network_interfaces_client()
        .get("fleet", format!("{name}-nic"), "sub-1")
        .await
        .unwrap();
    let private = nic.properties.unwrap().ip_configurations[0]
        .properties
        .as_ref()
        .unwrap()
        .private_ip_address
        .clone();
    assert!(private.is_some());
    assert!(net
        .public_ip_addresses_client()
        .get("fleet", format!("{name}-pip"), "sub-1")
        .await
        .is_ok());

    let subnet_path = format!("{SUBNET}?api-version=2024-03-01");
    let (_, subnet) = get_json(&emulator, &subnet_path).await;
    assert_eq!(
        subnet["properties"]["ipConfigurations"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    azure.terminate_instance(&name).await.unwrap();
    assert_eq!(
        azure.describe_instance(&name).await.unwrap().state,
        CloudInstanceState::Terminated
    );
    for result in [
        net.network_interfaces_client()
            .get("fleet", format!("{name}-nic"), "sub-1")
            .await
            .map(drop),
        net.public_ip_addresses_client()
            .get("fleet", format!("{name}-pip"), "sub-1")
            .await
            .map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(
            err.to_string().contains("404") || format!("{:?}", err.kind()).contains("NotFound"),
            "{err}"
        );
    }
    // The disk too (through the same ARM face).
    let disk = format!("/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Compute/disks/{name}-osdisk?api-version=2024-03-02");
    let (status, _) = get_json(&emulator, &disk).await;
    assert_eq!(status, 404);
    // Nothing created with it stayed behind.
    assert_eq!(emulator.unattached_resources().total(), 0);
    // What the caller brought stays: the subnet, free again.
    let (status, subnet) = get_json(&emulator, &subnet_path).await;
    assert_eq!(status, 200, "{subnet}");
    assert!(
        subnet["properties"].get("ipConfigurations").is_none(),
        "{subnet}"
    );
}

#[tokio::test]
async fn a_list_costs_one_request_per_page_whatever_the_number_of_vms() {
    let emulator = emulator(2).await;
    let azure = provisioner(&emulator).await;
    let fleet = InstanceFilter::tagged([("ManagedBy", "Fleet A")]);
    for (vms, pages) in [(4, 2), (9, 5)] {
        while emulator.cloud().live_instances() < vms {
            azure.launch_instance(&config()).await.unwrap();
        }
        let (lists, describes) = (
            emulator.cloud().call_count(Operation::List),
            emulator.cloud().call_count(Operation::Describe),
        );
        let listed = azure.list_instances(&fleet).await.unwrap();
        assert_eq!(listed.len(), vms);
        assert!(
            listed
                .iter()
                .all(|i| i.private_ip.is_some() && i.public_ip.is_some()),
            "{listed:?}"
        );
        // The group's VM pages, as many pages of the subscription's
        // instance views (one group here), one page of interfaces and one
        // of public addresses.
        assert_eq!(
            emulator.cloud().call_count(Operation::List) - lists,
            2 * pages + 2,
            "{vms} VMs"
        );
        assert_eq!(
            emulator.cloud().call_count(Operation::Describe),
            describes,
            "no call per VM"
        );
    }
}

/// A principal whose role is on the resource group only cannot read the
/// subscription's status-only list: the list then asks each VM it reports
/// for its instance view, and the states are the same.
#[tokio::test]
async fn a_list_by_a_principal_scoped_to_the_group_reads_each_instance_view() {
    let emulator = Emulator::builder()
        .personality(Personality::azure())
        .resource_group("sub-1", "fleet", "westeurope")
        .subnet(SUBNET)
        .arm_group_scoped()
        .start()
        .await
        .unwrap();
    let azure = provisioner(&emulator).await;
    let running = azure.launch_instance(&config()).await.unwrap().instance_id;
    let stopped = azure.launch_instance(&config()).await.unwrap().instance_id;
    azure
        .wait_for_state(
            &stopped,
            &[CloudInstanceState::Running],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    azure.stop_instance(&stopped).await.unwrap();
    azure
        .wait_for_state(
            &stopped,
            &[CloudInstanceState::Stopped],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let other = azure
        .launch_instance(&config().with_tag("ManagedBy", "Fleet B"))
        .await
        .unwrap()
        .instance_id;

    let describes = emulator.cloud().call_count(Operation::Describe);
    let fleet =
        InstanceFilter::tagged([("ManagedBy", "Fleet A")]).in_states(CloudInstanceState::ALL);
    let mut listed: Vec<(String, CloudInstanceState)> = azure
        .list_instances(&fleet)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.instance_id, i.state))
        .collect();
    listed.sort();
    let mut want = vec![
        (running, CloudInstanceState::Running),
        (stopped, CloudInstanceState::Stopped),
    ];
    want.sort();
    assert_eq!(listed, want);
    // One instance view for each VM of the fleet, none for the other one.
    assert_eq!(
        emulator.cloud().call_count(Operation::Describe) - describes,
        2
    );
    assert!(!listed.iter().any(|(id, _)| *id == other));
}

#[tokio::test]
async fn a_put_whose_answer_is_lost_leaves_one_vm() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    emulator
        .wire()
        .drop_after_commit("Microsoft.Compute/virtualMachines/write", 1);
    let keyed = config().with_idempotency_key("fleet-a-slot-0");
    let first = azure.launch_instance(&keyed).await;
    let info = match first {
        Ok(info) => info,
        Err(e) => {
            assert!(e.is_retryable(), "{e}");
            azure.launch_instance(&keyed).await.unwrap()
        }
    };
    assert_eq!(emulator.cloud().live_instances(), 1);
    assert_eq!(
        azure.launch_instance(&keyed).await.unwrap().instance_id,
        info.instance_id
    );
    assert_eq!(emulator.cloud().live_instances(), 1);
    assert_eq!(info.tags, keyed.tags);
}

/// An emulator whose next VM create is accepted and fails at once for
/// capacity, and a provisioner on it.
async fn whose_next_create_fails() -> (EmulatorHandle, AzureProvisioner) {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    emulator.cloud().fail_after_acceptance(
        1,
        LaunchFailureKind::InsufficientCapacity,
        Duration::ZERO,
    );
    (emulator, azure)
}

/// The path of VM `name` in the test group.
fn vm_path(name: &str) -> String {
    format!("/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Compute/virtualMachines/{name}?api-version=2024-07-01")
}

/// Creates a VM with `tags` as a person would (the contract's injector
/// PUTs it as the portal or `az vm create` does: no marker, no launch tag
/// of this library's); its create fails after acceptance. Its name.
async fn put_by_hand(emulator: &EmulatorHandle, tags: &[(&str, &str)]) -> String {
    let tags: Tags = tags.iter().copied().collect();
    emulator
        .faults()
        .plant_failed_launch(&tags, "")
        .await
        .expect("the emulator plants a VM")
}

/// The interleaving that leaked a VM in the soak (seed 20657, slot 170): a
/// keyed create is committed and its answer lost, the create then fails
/// after acceptance, and the caller's retry meets the failed VM. The retry
/// used to answer `InvalidArgument` without deleting it, so the caller
/// never learned the id and the VM stayed billed.
#[tokio::test]
async fn a_retried_launch_that_meets_its_own_failed_create_deletes_it_and_returns_it() {
    let (emulator, azure) = whose_next_create_fails().await;
    emulator
        .wire()
        .drop_after_commit("Microsoft.Compute/virtualMachines/write", 1);
    let keyed = config().with_idempotency_key("fleet-a-slot-170");
    let info = match azure.launch_instance(&keyed).await {
        Ok(info) => info,
        Err(e) => {
            assert!(e.is_retryable(), "{e}");
            azure.launch_instance(&keyed).await.unwrap()
        }
    };
    assert_eq!(info.state, CloudInstanceState::Terminated);
    // Deleted by the launch that met it, with what was created with it.
    let name = &info.instance_id;
    let base = "/subscriptions/sub-1/resourceGroups/fleet/providers";
    for path in [
        format!("{base}/Microsoft.Compute/virtualMachines/{name}?api-version=2024-07-01"),
        format!("{base}/Microsoft.Network/networkInterfaces/{name}-nic?api-version=2024-03-01"),
        format!("{base}/Microsoft.Compute/disks/{name}-osdisk?api-version=2024-03-02"),
    ] {
        assert_eq!(status_of(&emulator, &path).await, 404, "{path}");
    }
    let err = azure
        .wait_until_running(name, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsufficientCapacity { .. }), "{err}");
    azure.terminate_instance(name).await.unwrap();
}

/// A failed create nobody knows of (its caller gave up) is deleted by the
/// list that finds it; when Azure refuses that delete for a passing reason,
/// the list fails as retryable, so that the sweep's retry deletes it.
#[tokio::test]
async fn a_list_whose_delete_of_a_failed_create_is_throttled_fails_so_that_its_retry_deletes_it() {
    let (emulator, azure) = whose_next_create_fails().await;
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    // Throttled on every attempt of the transport (the first and three
    // retries), each asking to wait 10 ms.
    emulator.cloud().fail_next(
        Operation::Terminate,
        4,
        Fault::Throttled {
            retry_after: Some(Duration::from_millis(10)),
        },
    );
    let everything = InstanceFilter::tagged([("ManagedBy", "Fleet A")]);
    let err = azure.list_instances(&everything).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(azure.list_instances(&everything).await.unwrap().is_empty());
    let path = format!(
        "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Compute/virtualMachines/{name}?api-version=2024-07-01"
    );
    assert_eq!(status_of(&emulator, &path).await, 404);
}

/// Another team's VM in the same group (no `provisioner-launch` tag) whose
/// create failed after acceptance: our list and describe report it as
/// found and never delete it.
#[tokio::test]
async fn a_failed_create_someone_else_made_is_never_deleted() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let name = put_by_hand(&emulator, &[("team", "data")]).await;
    let path = &vm_path(&name);
    let (_, vm) = get_json(&emulator, &format!("{path}&$expand=instanceView")).await;
    assert_eq!(vm["properties"]["provisioningState"], "Failed");

    let ours = InstanceFilter::tagged([("fleet-id", "blue")]);
    assert!(azure.list_instances(&ours).await.unwrap().is_empty());
    let theirs = InstanceFilter::tagged([("team", "data")]).in_states(CloudInstanceState::ALL);
    assert_eq!(azure.list_instances(&theirs).await.unwrap().len(), 1);
    let status = azure.describe_instance(&name).await.unwrap();
    assert_eq!(status.state, CloudInstanceState::Terminated);
    assert_eq!(get_json(&emulator, path).await.0, 200);
}

/// Clause o on Azure, with two fleets in one resource group: our list and
/// describe leave a VM created by hand and another fleet's VM in place,
/// though both creates failed after acceptance, and still delete our own.
#[tokio::test]
async fn a_list_and_a_describe_delete_only_our_own_failed_creates() {
    let emulator = emulator(1000).await;
    let ours = provisioner(&emulator)
        .await
        .with_owner(OwnerId::new("fleet-blue").unwrap());
    let theirs = provisioner(&emulator)
        .await
        .with_owner(OwnerId::new("fleet-green").unwrap());
    let by_hand = put_by_hand(&emulator, &[("fleet-id", "blue")]).await;
    // The next two creates fail after acceptance: theirs, then ours.
    emulator.cloud().fail_after_acceptance(
        2,
        LaunchFailureKind::InsufficientCapacity,
        Duration::ZERO,
    );
    let blue = config().with_tag("fleet-id", "blue");
    let their_vm = theirs.launch_instance(&blue).await.unwrap().instance_id;
    let our_vm = ours.launch_instance(&blue).await.unwrap().instance_id;

    let filter = InstanceFilter::tagged([("fleet-id", "blue")]).in_states(CloudInstanceState::ALL);
    let listed = ours.list_instances(&filter).await.unwrap();
    let owners: Vec<_> = listed
        .iter()
        .map(|i| (i.instance_id.as_str(), i.owner.as_deref()))
        .collect();
    assert!(owners.contains(&(by_hand.as_str(), None)), "{owners:?}");
    assert!(
        owners.contains(&(their_vm.as_str(), Some("fleet-green"))),
        "{owners:?}"
    );
    for name in [by_hand.as_str(), their_vm.as_str()] {
        let status = ours.describe_instance(name).await.unwrap();
        assert_eq!(status.state, CloudInstanceState::Terminated, "{name}");
        assert_eq!(
            get_json(&emulator, &vm_path(name)).await.0,
            200,
            "{name} was deleted"
        );
    }
    // Ours: deleted by our list, and described with its failure.
    assert_eq!(get_json(&emulator, &vm_path(&our_vm)).await.0, 404);
    let status = ours.describe_instance(&our_vm).await.unwrap();
    assert_eq!(
        status.launch_failure.map(|f| f.kind),
        Some(LaunchFailureKind::InsufficientCapacity)
    );
}

/// A start Azure accepts and cannot place fails its operation with
/// AllocationFailed and leaves the VM deallocated, provisioning Failed: the
/// same instance view as a create that could not be placed. It is the warm
/// pool's VM, with its disk: kept by every provisioner, whatever it
/// remembers, and stopped with the failure.
#[tokio::test]
async fn a_start_that_cannot_be_placed_keeps_the_vm_for_every_provisioner() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    let wait = Duration::from_secs(20);
    azure.wait_until_running(&name, wait).await.unwrap();
    azure.stop_instance(&name).await.unwrap();
    azure
        .wait_for_state(&name, &[CloudInstanceState::Stopped], wait)
        .await
        .unwrap();
    emulator.cloud().fail_start_after_acceptance(
        1,
        LaunchFailureKind::InsufficientCapacity,
        Duration::from_millis(100),
    );
    azure.start_instance(&name).await.unwrap();
    let err = azure.wait_until_running(&name, wait).await.unwrap_err();
    assert!(matches!(err, Error::InsufficientCapacity { .. }), "{err}");
    assert_eq!(err.code(), Some("AllocationFailed"));

    let path = format!("{}&$expand=instanceView", vm_path(&name));
    let (_, vm) = get_json(&emulator, &path).await;
    assert_eq!(vm["properties"]["provisioningState"], "Failed");
    let statuses = &vm["properties"]["instanceView"]["statuses"];
    assert_eq!(
        statuses[0]["code"],
        "ProvisioningState/failed/AllocationFailed"
    );
    assert_eq!(statuses[1]["code"], "PowerState/deallocated");
    assert_eq!(statuses.as_array().map(Vec::len), Some(2), "{statuses:#}");

    // A provisioner that did not start it reads the activity log (a start
    // on record: the create had succeeded); one without the log cannot
    // tell, and deletes nothing either.
    let all = InstanceFilter::default().in_states(CloudInstanceState::ALL);
    for other in [provisioner(&emulator).await, on_given_clients(&emulator)] {
        let status = other.describe_instance(&name).await.unwrap();
        assert_eq!(status.state, CloudInstanceState::Stopped, "{status:?}");
        assert_eq!(
            status.start_failure.map(|f| f.code),
            Some("AllocationFailed".to_owned())
        );
        assert_eq!(status.launch_failure, None);
        let listed = other.list_instances(&all).await.unwrap();
        assert!(
            listed
                .iter()
                .any(|i| i.instance_id == name && i.state == CloudInstanceState::Stopped),
            "{listed:?}"
        );
    }
    assert_eq!(emulator.faults().deletions(&name).await, Some(0));
    assert_eq!(get_json(&emulator, &vm_path(&name)).await.0, 200);

    azure.start_instance(&name).await.unwrap();
    azure.wait_until_running(&name, wait).await.unwrap();
}

/// A failed create is still told from a failed start by a provisioner that
/// did not make it: nothing but the failed write is on the VM's record.
#[tokio::test]
async fn a_failed_create_found_by_another_provisioner_is_still_deleted() {
    let emulator = emulator(1000).await;
    let launcher = provisioner(&emulator).await;
    emulator.cloud().fail_after_acceptance(
        1,
        LaunchFailureKind::InsufficientCapacity,
        Duration::ZERO,
    );
    let name = launcher
        .launch_instance(&config())
        .await
        .unwrap()
        .instance_id;
    let other = provisioner(&emulator).await;
    let status = other.describe_instance(&name).await.unwrap();
    assert_eq!(
        status.launch_failure.map(|f| f.code),
        Some("AllocationFailed".to_owned())
    );
    assert_eq!(get_json(&emulator, &vm_path(&name)).await.0, 404);
}

#[tokio::test]
async fn throttling_waits_as_long_as_retry_after_asks() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    emulator.cloud().fail_next(
        Operation::Describe,
        1,
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(1)),
        },
    );
    let started = Instant::now();
    let status = azure.describe_instance(&name).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status.state, CloudInstanceState::Running);

    // Throttling that outlasts the retries reaches the caller as Throttled.
    emulator.cloud().fail_next(
        Operation::Describe,
        10,
        Fault::Throttled { retry_after: None },
    );
    let err = azure.describe_instance(&name).await.unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err}");
}

#[tokio::test]
async fn capacity_quota_and_authorization_keep_their_class() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::InsufficientCapacity);
    assert!(matches!(
        azure.launch_instance(&config()).await,
        Err(Error::InsufficientCapacity { .. })
    ));
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::QuotaExceeded);
    assert!(matches!(
        azure.launch_instance(&config()).await,
        Err(Error::QuotaExceeded { .. })
    ));
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::PermissionDenied);
    assert!(matches!(
        azure.launch_instance(&config()).await,
        Err(Error::PermissionDenied { .. })
    ));
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::Unauthenticated);
    assert!(matches!(
        azure.launch_instance(&config()).await,
        Err(Error::Unauthenticated { .. })
    ));
    assert_eq!(emulator.cloud().live_instances(), 0);
}

/// Azure refuses a Spot VM whose maximum price is below the current one
/// (`SpotPriceGreaterThanProvidedMaxPrice`, Learn's spot error messages):
/// its own class, with Azure's code, and a fallback moves on to the next
/// offering.
#[tokio::test]
async fn a_spot_offering_priced_too_low_is_skipped_for_the_next() {
    use provisioner_core::fallback::{Fallback, Offering};
    use provisioner_core::{Capacity, SpotOptions};
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let low = Offering::new("Standard_D2s_v5").with_capacity(Capacity::Spot(
        SpotOptions::default().with_max_price_per_hour("0.01"),
    ));
    let next = Offering::new("Standard_B2s").with_capacity(Capacity::spot());
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::PriceTooLow);
    let err = azure
        .launch_instance(&config().with_capacity(low.capacity.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PriceTooLow { .. }), "{err}");
    assert_eq!(err.code(), Some("SpotPriceGreaterThanProvidedMaxPrice"));
    assert!(!err.is_retryable());

    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::PriceTooLow);
    let (info, chosen) = Fallback::new(vec![low, next.clone()])
        .launch(&azure, &config())
        .await
        .unwrap();
    assert_eq!(chosen, next);
    let record = emulator.cloud().describe(&info.instance_id).await.unwrap();
    assert_eq!(record.config.instance_type, "Standard_B2s");
    assert_eq!(emulator.cloud().live_instances(), 1);
}

/// Stop deallocates; the addresses belong to the VM's interface and its
/// Standard (static) public address, which a deallocation keeps (Learn,
/// "Private IP addresses", "Public IP addresses"): describe reports them
/// while stopped, and start the same ones.
#[tokio::test]
async fn stop_deallocates_and_the_vm_keeps_its_addresses() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let name = azure
        .launch_instance(
            &config()
                .with_disk_size_gb(64)
                .with_user_data("#cloud-config\n"),
        )
        .await
        .unwrap()
        .instance_id;
    let before = azure.describe_instance(&name).await.unwrap();
    azure.stop_instance(&name).await.unwrap();
    let stopped = azure.describe_instance(&name).await.unwrap();
    assert_eq!(stopped.state, CloudInstanceState::Stopped);
    assert!(before.private_ip.is_some() && before.public_ip.is_some());
    assert_eq!(
        (stopped.private_ip, stopped.public_ip),
        (before.private_ip, before.public_ip)
    );
    let started = azure.start_instance(&name).await.unwrap();
    assert_eq!(
        (started.private_ip, started.public_ip),
        (before.private_ip, before.public_ip)
    );
    let record = emulator.cloud().describe(&name).await.unwrap();
    assert_eq!(record.config.disk_size_gb, Some(64));
    assert_eq!(
        record.config.user_data.as_ref().unwrap().as_bytes(),
        b"#cloud-config\n"
    );
    assert!(
        !format!("{azure:?}").contains("AAAAITestKey"),
        "Debug shortens the key"
    );
}

#[tokio::test]
async fn bad_input_never_reaches_azure() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    for bad in [
        config().with_tag("a/b", "x"),
        config().with_tag("k", "v".repeat(257)),
        InstanceConfig::new("ubuntu-latest", "Standard_B2s"),
        config().with_disk_size_gb(5000),
    ] {
        assert!(
            matches!(
                azure.launch_instance(&bad).await,
                Err(Error::InvalidArgument { .. })
            ),
            "{bad:?}"
        );
    }
    for id in ["p-1/../../x", "../x", "a/b", ""] {
        assert_eq!(
            azure
                .describe_instance(id)
                .await
                .unwrap_err()
                .invalid_field(),
            Some("instance_id")
        );
    }
    assert!(emulator.cloud().calls().is_empty());
    // Counted on the wire, before the face could refuse anything.
    assert_eq!(
        emulator.requests_received(provisioner_emulator::Face::ResourceManager),
        0
    );
}

/// The status of a GET through the emulator's ARM face.
async fn status_of(emulator: &EmulatorHandle, path: &str) -> u16 {
    get_json(emulator, path).await.0
}

#[tokio::test]
async fn a_create_that_fails_after_acceptance_is_reported_and_deleted_with_its_resources() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    emulator.cloud().fail_after_acceptance(
        1,
        LaunchFailureKind::InsufficientCapacity,
        Duration::from_millis(100),
    );
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Azure keeps the failed VM, with what was created with it (billed).
    let base = "/subscriptions/sub-1/resourceGroups/fleet/providers";
    let vm_path =
        format!("{base}/Microsoft.Compute/virtualMachines/{name}?api-version=2024-07-01&$expand=instanceView");
    let nic_path =
        format!("{base}/Microsoft.Network/networkInterfaces/{name}-nic?api-version=2024-03-01");
    let disk_path = format!("{base}/Microsoft.Compute/disks/{name}-osdisk?api-version=2024-03-02");
    let (status, vm) = get_json(&emulator, &vm_path).await;
    assert_eq!(status, 200);
    assert_eq!(vm["properties"]["provisioningState"], "Failed");
    assert_eq!(
        vm["properties"]["instanceView"]["statuses"][0]["code"],
        "ProvisioningState/failed/AllocationFailed"
    );
    assert_eq!(status_of(&emulator, &nic_path).await, 200);
    assert_eq!(status_of(&emulator, &disk_path).await, 200);

    let err = azure
        .wait_until_running(&name, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsufficientCapacity { .. }), "{err}");
    assert!(err.to_string().contains("AllocationFailed"), "{err}");
    // The provider deleted the VM, and with it the NIC and the disk.
    for path in [&vm_path, &nic_path, &disk_path] {
        assert_eq!(status_of(&emulator, path).await, 404, "{path}");
    }
    let status = azure.describe_instance(&name).await.unwrap();
    assert_eq!(status.state, CloudInstanceState::Terminated);
    assert_eq!(
        status.launch_failure.map(|f| f.code),
        Some("AllocationFailed".to_owned())
    );
}

#[tokio::test]
async fn a_long_retry_after_reaches_the_caller_at_once() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    emulator.cloud().fail_next(
        Operation::Describe,
        1,
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(1200)),
        },
    );
    let started = Instant::now();
    let err = azure.describe_instance(&name).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    match &err {
        Error::Throttled {
            retry_after,
            message,
            ..
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(1200)));
            assert!(message.contains("OperationNotAllowed"), "{message}");
        }
        other => panic!("{other}"),
    }
    // The error keeps where it came from: ARM's code, the operation, and
    // the x-ms-request-id of the answer.
    let context = err.context().expect("a context");
    assert_eq!(
        (context.provider, context.operation),
        ("azure", Some(Operation::Describe))
    );
    assert_eq!(err.code(), Some("OperationNotAllowed"));
    assert!(
        err.request_id().is_some_and(|id| id.len() == 36),
        "{:?}",
        err.request_id()
    );
    // A lower cap gives up on shorter waits too.
    let azure = provisioner(&emulator)
        .await
        .with_max_retry_after(Duration::from_millis(500));
    emulator.cloud().fail_next(
        Operation::Describe,
        1,
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(1)),
        },
    );
    let err = azure.describe_instance(&name).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn user_data_goes_to_custom_data_which_cloud_init_runs() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let script = "#cloud-config\nruncmd: [echo hi]\n";
    let name = azure
        .launch_instance(&config().with_user_data(script))
        .await
        .unwrap()
        .instance_id;
    let record = emulator.cloud().peek(&name).unwrap();
    assert_eq!(
        record.config.user_data.as_ref().map(|u| u.as_bytes()),
        Some(script.as_bytes())
    );
    assert!(!record.attributes.contains_key("userData"));
}

#[tokio::test]
async fn a_vm_stopped_from_inside_is_stopped_but_said_to_be_billed() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let name = azure.launch_instance(&config()).await.unwrap().instance_id;
    azure
        .wait_until_running(&name, Duration::from_secs(20))
        .await
        .unwrap();
    let compute = azure_mgmt_compute::package_2024_07_01::Client::builder(Arc::new(Token))
        .endpoint(azure_core::Url::parse(&emulator.endpoint()).unwrap())
        .build()
        .unwrap();
    compute
        .virtual_machines_client()
        .power_off("fleet", &name, "sub-1")
        .send()
        .await
        .unwrap();
    let status = azure
        .wait_for_state(
            &name,
            &[CloudInstanceState::Stopped],
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert!(
        status
            .state_reason
            .as_deref()
            .is_some_and(|r| r.contains("still allocated")),
        "{status:?}"
    );
    // Stop deallocates it: stopped, and no longer said to be billed.
    azure.stop_instance(&name).await.unwrap();
    let status = azure
        .wait_for_state(
            &name,
            &[CloudInstanceState::Stopped],
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(status.state_reason, None, "{status:?}");
}

#[tokio::test]
async fn a_key_reused_with_other_parameters_leaves_the_vm_unchanged() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator).await;
    let keyed = config().with_idempotency_key("slot-0-intent-1");
    let first = azure.launch_instance(&keyed).await.unwrap();
    let err = azure
        .launch_instance(&keyed.clone().with_tag("ManagedBy", "someone else"))
        .await
        .unwrap_err();
    assert_eq!(err.invalid_field(), Some("idempotency_key"), "{err}");
    // The PUT never reached the VM as an update (If-None-Match: *).
    let record = emulator.cloud().peek(&first.instance_id).unwrap();
    assert_eq!(
        record.config.tags.get("ManagedBy").map(String::as_str),
        Some("Fleet A")
    );
    // A reserved tag never shows among the caller's.
    let listed = azure
        .list_instances(&InstanceFilter::default())
        .await
        .unwrap();
    assert_eq!(listed[0].tags, keyed.tags);
}

#[tokio::test]
async fn a_call_that_hangs_ends_at_its_deadline_as_unavailable() {
    let emulator = emulator(1000).await;
    let azure = provisioner(&emulator)
        .await
        .with_deadlines(provisioner_core::Deadlines::new(
            Duration::from_millis(200),
            Duration::from_secs(1),
        ));
    emulator
        .check_a_hanging_call_ends_at_its_deadline(&azure, &config())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_describes_through_the_batching_layer_are_nine_requests() {
    let emulator = emulator(1000).await;
    let azure = Arc::new(provisioner(&emulator).await);
    let launched = azure
        .launch_many(&config().with_idempotency_key("fleet"), 999, 32)
        .await;
    let ids: Vec<String> = launched
        .into_iter()
        .map(|r| r.unwrap().instance_id)
        .collect();
    let ids: Vec<String> = ids
        .into_iter()
        .chain(["never-launched".to_owned()])
        .collect();
    let batching = Arc::new(Batching::new(azure));
    let before = emulator.requests_received(provisioner_emulator::Face::ResourceManager);
    let describes = ids.iter().map(|id| {
        let (batching, id) = (Arc::clone(&batching), id.clone());
        tokio::spawn(async move { (batching.describe_instance(&id).await, id) })
    });
    for call in describes.collect::<Vec<_>>() {
        let (status, id) = call.await.unwrap();
        let status = status.unwrap();
        assert_eq!(status.instance_id, id);
        if id == "never-launched" {
            assert_eq!(status.state, CloudInstanceState::Terminated);
        } else {
            // (The emulator's pool of public addresses is smaller than
            // 1,000: the private address is what every VM has.)
            assert!(status.private_ip.is_some(), "{status:?}");
        }
    }
    // Two batches of 500, each one page of the group's VMs, one of the
    // subscription's instance views (statusOnly), one of interfaces and one
    // of public addresses; and one read of the activity log for the VM that
    // was never launched (a Spot VM evicted with policy Delete would be
    // missing too). Without batching: 3,000 GETs (VM, interface, address
    // per describe).
    let requests = emulator.requests_received(provisioner_emulator::Face::ResourceManager) - before;
    assert!(requests <= 9, "{requests} requests for 1,000 describes");
}

#[tokio::test]
async fn a_spot_launch_asks_for_a_spot_vm_and_an_eviction_reads_from_the_activity_log() {
    use provisioner_core::{Capacity, OnReclaim, Placement, SpotOptions};
    let emulator = emulator(100).await;
    let azure = provisioner(&emulator).await;
    let other_subnet = SUBNET.replace("/subnets/default", "/subnets/jobs");
    let spot = SpotOptions::default()
        .with_on_reclaim(OnReclaim::Stop)
        .with_max_price_per_hour("0.0421");
    let config = config()
        .with_capacity(Capacity::Spot(spot))
        .with_placement(Placement::in_zone("2").with_subnet(&other_subnet));
    let info = azure.launch_instance(&config).await.unwrap();
    let vm_path = format!(
        "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Compute/virtualMachines/{}?api-version=2024-07-01",
        info.instance_id
    );
    let (_, vm) = get_json(&emulator, &vm_path).await;
    assert_eq!(vm["properties"]["priority"], "Spot", "{vm}");
    assert_eq!(vm["properties"]["evictionPolicy"], "Deallocate");
    assert_eq!(vm["properties"]["billingProfile"]["maxPrice"], 0.0421);
    assert_eq!(vm["zones"], serde_json::json!(["2"]));
    let record = emulator.cloud().peek(&info.instance_id).unwrap();
    assert_eq!(record.attributes["nic.subnet"], other_subnet);
    let id = info.instance_id.as_str();
    let wait = |states: &'static [CloudInstanceState]| {
        azure.wait_for_state(id, states, Duration::from_secs(5))
    };

    // Once running, deallocated by the user: reclaimed or not?
    let user_deallocation_reclaimed = || async {
        wait(&[CloudInstanceState::Running]).await.unwrap();
        azure.stop_instance(id).await.unwrap();
        let status = wait(&[CloudInstanceState::Stopped]).await.unwrap();
        status.reclaimed
    };

    // A user's deallocation of a Spot VM is not an eviction.
    assert!(!user_deallocation_reclaimed().await);

    // Evicted after a start: deallocated, and said to be reclaimed.
    azure.start_instance(id).await.unwrap();
    wait(&[CloudInstanceState::Running]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    emulator.cloud().reclaim(id).unwrap();
    let evicted = wait(&[CloudInstanceState::Stopped]).await.unwrap();
    assert!(evicted.reclaimed, "{evicted:?}");
    let listed = azure
        .list_instances(&InstanceFilter::default().in_states(CloudInstanceState::ALL))
        .await
        .unwrap();
    assert!(listed.iter().any(|i| i.instance_id == id && i.reclaimed));

    // Started again: the eviction no longer explains a later deallocation.
    tokio::time::sleep(Duration::from_millis(5)).await;
    azure.start_instance(id).await.unwrap();
    assert!(!user_deallocation_reclaimed().await);

    // On given clients there is no activity log to see evictions: spot is
    // refused before any call.
    let given = on_given_clients(&emulator);
    let before = emulator.requests_received(provisioner_emulator::Face::ResourceManager);
    let err = given.launch_instance(&config).await.unwrap_err();
    assert_eq!(err.invalid_field(), Some("capacity"), "{err}");
    assert_eq!(
        emulator.requests_received(provisioner_emulator::Face::ResourceManager),
        before
    );
    // A VM it no longer finds is gone, and whether by an eviction is said
    // to be unknown rather than guessed.
    let gone = given.describe_instance("never-launched").await.unwrap();
    assert_eq!(gone.state, CloudInstanceState::Terminated);
    assert!(!gone.reclaimed);
    assert!(
        gone.state_reason
            .as_deref()
            .is_some_and(|r| r.contains("activity log")),
        "{gone:?}"
    );
}
