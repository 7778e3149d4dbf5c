//! The ARM face on its failure paths, in process: a create that fails after
//! acceptance, create-only PUTs, updates, and Compute's throttling and quota
//! bodies.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use provisioner_core::LaunchFailureKind;
use provisioner_emulator::{Emulator, EmulatorHandle};
use provisioner_fake::{Fault, Operation, Personality};
use serde_json::{json, Value};

const VM: &str =
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm-1";

fn body(tags: Value) -> Value {
    json!({
        "location": "westeurope",
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"}},
            "osProfile": {"computerName": "vm-1", "adminUsername": "fleet", "customData": "I2Nsb3VkLWNvbmZpZwo="},
            "networkProfile": {"networkInterfaceConfigurations": [{"name": "vm-1-nic", "properties": {
                "primary": true, "deleteOption": "Delete",
                "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/d"}}}]}}]},
        },
    })
}

/// The network and disk resources no VM holds, from the control face:
/// interfaces, public addresses, disks.
async fn unattached(emulator: &EmulatorHandle) -> (u64, u64, u64) {
    let (status, _, held) = call(emulator, "GET", "/_emulator/state", None, false).await;
    assert_eq!(status, 200, "{held}");
    let count = |kind: &str| held["unattached"][kind].as_u64().unwrap();
    let counts = (
        count("network_interfaces"),
        count("public_addresses"),
        count("disks"),
    );
    let direct = emulator.unattached_resources();
    assert_eq!(
        counts,
        (
            direct.network_interfaces as u64,
            direct.public_addresses as u64,
            direct.disks as u64
        )
    );
    counts
}

/// Sends one request in process: status, headers and JSON body.
async fn call(
    emulator: &EmulatorHandle,
    method: &str,
    uri: &str,
    body: Option<&Value>,
    if_none_match: bool,
) -> (u16, axum::http::HeaderMap, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", "Bearer t")
        .header("content-type", "application/json");
    if if_none_match {
        request = request.header("if-none-match", "*");
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = emulator.answer(request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The network the interfaces of these tests live in.
const NET: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network";

/// The body of network interface with one configuration in the declared
/// subnet, using the public address `pip`.
fn nic_body(pip: &str) -> Value {
    json!({"location": "westeurope", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
        "subnet": {"id": format!("{NET}/virtualNetworks/v/subnets/d")}, "publicIPAddress": {"id": pip}}}]}})
}

async fn arm() -> EmulatorHandle {
    Emulator::builder()
        .personality(Personality::azure())
        .resource_group("s", "g", "westeurope")
        .subnet("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/d")
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_create_that_fails_after_acceptance_fails_its_operation_and_keeps_the_vm() {
    let emulator = arm().await;
    emulator.cloud().fail_after_acceptance(
        1,
        LaunchFailureKind::InsufficientCapacity,
        Duration::from_millis(200),
    );
    let put = format!("{VM}?api-version=2024-07-01");
    let (status, headers, vm) = call(&emulator, "PUT", &put, Some(&body(json!({}))), true).await;
    assert_eq!(status, 201, "{vm:#}");
    assert_eq!(vm["properties"]["provisioningState"], "Creating");
    let operation = headers["azure-asyncoperation"].to_str().unwrap();
    let operation = &operation[operation.find("/subscriptions/").unwrap()..];
    let (_, _, running) = call(&emulator, "GET", operation, None, false).await;
    assert_eq!(running["status"], "InProgress", "{running:#}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, _, failed) = call(&emulator, "GET", operation, None, false).await;
    assert_eq!(failed["status"], "Failed", "{failed:#}");
    assert_eq!(failed["error"]["code"], "AllocationFailed");
    assert!(failed["endTime"].is_string());
    // The VM stays, Failed, with its NIC, until someone deletes it.
    let (status, _, vm) = call(
        &emulator,
        "GET",
        &format!("{VM}?api-version=2024-07-01&$expand=instanceView"),
        None,
        false,
    )
    .await;
    assert_eq!(
        (status, &vm["properties"]["provisioningState"]),
        (200, &json!("Failed"))
    );
    let nic = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/vm-1-nic?api-version=2024-03-01";
    assert_eq!(call(&emulator, "GET", nic, None, false).await.0, 200);
    let (status, _, _) = call(&emulator, "DELETE", &put, None, false).await;
    assert_eq!(status, 202);
    assert_eq!(call(&emulator, "GET", nic, None, false).await.0, 404);
}

#[tokio::test]
async fn a_put_of_an_existing_vm_updates_it_unless_it_asks_for_a_create_only() {
    let emulator = arm().await;
    let put = format!("{VM}?api-version=2024-07-01");
    let (status, _, _) = call(
        &emulator,
        "PUT",
        &put,
        Some(&body(json!({"fleet": "a"}))),
        true,
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, error) = call(
        &emulator,
        "PUT",
        &put,
        Some(&body(json!({"fleet": "b"}))),
        true,
    )
    .await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (412, &json!("PreconditionFailed"))
    );
    assert_eq!(
        emulator.cloud().peek("vm-1").unwrap().config.tags["fleet"],
        "a"
    );
    let (status, _, vm) = call(
        &emulator,
        "PUT",
        &put,
        Some(&body(json!({"fleet": "b"}))),
        false,
    )
    .await;
    assert_eq!((status, &vm["tags"]["fleet"]), (200, &json!("b")));
    assert_eq!(
        emulator.cloud().peek("vm-1").unwrap().config.tags["fleet"],
        "b"
    );
}

#[tokio::test]
async fn throttling_and_quota_answer_with_computes_bodies() {
    let emulator = arm().await;
    emulator.cloud().fail_next(
        Operation::Launch,
        1,
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(1200)),
        },
    );
    let put = format!("{VM}?api-version=2024-07-01");
    let (status, headers, error) = call(&emulator, "PUT", &put, Some(&body(json!({}))), true).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1200");
    assert_eq!(error["error"]["code"], "OperationNotAllowed");
    assert_eq!(error["error"]["details"][0]["code"], "TooManyRequests");
    emulator
        .cloud()
        .fail_next(Operation::Launch, 1, Fault::QuotaExceeded);
    let (status, _, error) = call(&emulator, "PUT", &put, Some(&body(json!({}))), true).await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (409, &json!("OperationNotAllowed"))
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quota"),
        "{error:#}"
    );
}

#[tokio::test]
async fn api_versions_are_those_of_the_resource_type_and_shape_the_request() {
    let emulator = arm().await;
    // The current SDKs' versions are served (azure-mgmt-compute 39's,
    // @azure/arm-compute 24.1's), each in the REST specs.
    for (version, expected) in [("2026-04-01", 201), ("2026-03-01", 200)] {
        let (status, _, _) = call(
            &emulator,
            "PUT",
            &format!("{VM}?api-version={version}"),
            Some(&body(json!({}))),
            false,
        )
        .await;
        assert_eq!(status, expected, "{version}");
    }
    // A Compute VM version is not a disks version.
    let disk = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/vm-1_OsDisk?api-version=2024-07-01";
    let (status, _, error) = call(&emulator, "GET", disk, None, false).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "InvalidApiVersionParameter");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2024-03-02"));
    // A member the version does not know is refused.
    let mut old = body(json!({}));
    old["properties"]["userData"] = "aGk=".into();
    let (status, _, error) = call(
        &emulator,
        "PUT",
        &format!("{VM}-old?api-version=2020-12-01"),
        Some(&old),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "InvalidRequestContent");
    // Answers in a version before 2021-11-01 have no timeCreated.
    let (_, _, old_shape) = call(
        &emulator,
        "GET",
        &format!("{VM}?api-version=2021-07-01"),
        None,
        false,
    )
    .await;
    let (_, _, new_shape) = call(
        &emulator,
        "GET",
        &format!("{VM}?api-version=2024-07-01"),
        None,
        false,
    )
    .await;
    assert!(old_shape["properties"].get("timeCreated").is_none());
    assert!(new_shape["properties"]["timeCreated"].is_string());
}

#[tokio::test]
async fn resources_live_in_existing_groups_and_paths_ignore_case() {
    let emulator = arm().await;
    let elsewhere = VM.replace("resourceGroups/g/", "resourceGroups/missing/");
    let (status, _, error) = call(
        &emulator,
        "PUT",
        &format!("{elsewhere}?api-version=2024-07-01"),
        Some(&body(json!({}))),
        false,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "ResourceGroupNotFound");
    // ARM's fixed words in any case; the group created by a PUT.
    let group = "/subscriptions/s/resourcegroups/missing?api-version=2025-04-01";
    let (status, _, _) = call(
        &emulator,
        "PUT",
        group,
        Some(&json!({"location": "westeurope"})),
        false,
    )
    .await;
    assert_eq!(status, 201);
    let lower = elsewhere
        .replace("virtualMachines", "virtualmachines")
        .replace("Microsoft.Compute", "microsoft.compute");
    let (status, _, _) = call(
        &emulator,
        "PUT",
        &format!("{lower}?api-version=2024-07-01"),
        Some(&body(json!({}))),
        false,
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_vm_uses_an_existing_nic_which_cannot_be_deleted_or_shared_meanwhile() {
    let emulator = arm().await;
    let pip = format!("{NET}/publicIPAddresses/pip-1");
    let nic = format!("{NET}/networkInterfaces/nic-1");
    let v = "?api-version=2026-03-01";
    let (status, headers, _) = call(
        &emulator,
        "PUT",
        &format!("{pip}{v}"),
        Some(&json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Dynamic"}})),
        false,
    )
    .await;
    assert_eq!(status, 400, "Standard addresses must be static");
    assert!(headers.get("azure-asyncoperation").is_none());
    let (status, headers, _) = call(
        &emulator,
        "PUT",
        &format!("{pip}{v}"),
        Some(&json!({"location": "westeurope"})),
        false,
    )
    .await;
    assert_eq!(status, 201);
    assert!(headers["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .contains("/providers/Microsoft.Network/locations/westeurope/operations/"));
    let config = nic_body(&pip);
    let (status, _, _) = call(&emulator, "PUT", &format!("{nic}{v}"), Some(&config), false).await;
    assert_eq!(status, 201);
    assert_eq!(
        unattached(&emulator).await,
        (1, 1, 0),
        "no VM holds them yet"
    );

    let by_id = |name: &str| {
        let mut b = body(json!({}));
        b["properties"]["networkProfile"] = json!({"networkInterfaces": [{"id": nic}]});
        b["properties"]["osProfile"]["computerName"] = name.into();
        b
    };
    let (status, _, _) = call(
        &emulator,
        "PUT",
        &format!("{VM}?api-version=2024-07-01"),
        Some(&by_id("vm-1")),
        false,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(unattached(&emulator).await, (0, 0, 0), "vm-1 holds both");
    let (status, _, error) = call(
        &emulator,
        "PUT",
        &format!("{VM}-2?api-version=2024-07-01"),
        Some(&by_id("vm-1-2")),
        false,
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("NicInUse"))
    );

    // The NIC and the address show their VM's addresses.
    let (_, _, shown) = call(&emulator, "GET", &format!("{nic}{v}"), None, false).await;
    assert!(shown["properties"]["virtualMachine"]["id"]
        .as_str()
        .unwrap()
        .ends_with("/vm-1"));
    assert!(
        shown["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"].is_string()
    );
    let (status, _, error) = call(&emulator, "DELETE", &format!("{nic}{v}"), None, false).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("NicInUse"))
    );
    let (status, _, error) = call(&emulator, "DELETE", &format!("{pip}{v}"), None, false).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("PublicIPAddressCannotBeDeleted"))
    );

    // Once the VM is gone the NIC stays (Detach), free to delete.
    let (status, _, _) = call(
        &emulator,
        "DELETE",
        &format!("{VM}?api-version=2024-07-01"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 202);
    let (_, _, shown) = call(&emulator, "GET", &format!("{nic}{v}"), None, false).await;
    assert!(shown["properties"].get("virtualMachine").is_none());
    // Its own disk went with it (deleteOption Delete); what the caller
    // brought stays, counted as no VM's.
    assert_eq!(unattached(&emulator).await, (1, 1, 0));
    let (status, _, _) = call(&emulator, "DELETE", &format!("{nic}{v}"), None, false).await;
    assert_eq!(status, 202);
    let (status, _, _) = call(&emulator, "DELETE", &format!("{pip}{v}"), None, false).await;
    assert_eq!(status, 202);
    let (status, _, _) = call(&emulator, "GET", &format!("{nic}{v}"), None, false).await;
    assert_eq!(status, 404);
    assert_eq!(unattached(&emulator).await, (0, 0, 0));
    // A VM naming a NIC that does not exist.
    let (status, _, error) = call(
        &emulator,
        "PUT",
        &format!("{VM}?api-version=2024-07-01"),
        Some(&by_id("vm-1")),
        false,
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("InvalidResourceReference"))
    );
}

/// The VM lists as the spec has them: `$expand=instanceView` "can only be
/// specified if a valid $filter option is specified" (and the only filter
/// is a scale set's, which no VM here is in); the run-time status of every
/// VM comes from the subscription's list with `statusOnly=true`, whose VMs
/// carry their instance view and not their model (no tags).
#[tokio::test]
async fn a_vm_list_gives_instance_views_only_as_the_spec_says() {
    let emulator = arm().await;
    let (put, vm) = (
        format!("{VM}?api-version=2024-07-01"),
        body(json!({"team": "a"})),
    );
    assert_eq!(call(&emulator, "PUT", &put, Some(&vm), false).await.0, 201);
    let group_list = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01";
    let all = "/subscriptions/s/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01";

    for list in [group_list, all] {
        let (status, _, error) = call(
            &emulator,
            "GET",
            &format!("{list}&$expand=instanceView"),
            None,
            false,
        )
        .await;
        assert_eq!(
            (status, &error["error"]["code"]),
            (400, &json!("InvalidParameter")),
            "{list}"
        );
    }
    let scale_set = "%27virtualMachineScaleSet%2Fid%27%20eq%20%27%2Fsubscriptions%2Fs%2FresourceGroups%2Fg%2Fproviders%2FMicrosoft.Compute%2FvirtualMachineScaleSets%2Fss%27";
    let (status, _, none) = call(
        &emulator,
        "GET",
        &format!("{group_list}&$expand=instanceView&$filter={scale_set}"),
        None,
        false,
    )
    .await;
    assert_eq!((status, &none["value"]), (200, &json!([])));

    let (_, _, plain) = call(&emulator, "GET", group_list, None, false).await;
    let vm = &plain["value"][0];
    assert_eq!(vm["tags"]["team"], "a");
    assert!(vm["properties"]["instanceView"].is_null(), "{vm:#}");

    let (status, _, statuses) = call(
        &emulator,
        "GET",
        &format!("{all}&statusOnly=true"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 200);
    let vm = &statuses["value"][0];
    assert_eq!(vm["name"], "vm-1");
    assert!(vm["tags"].is_null(), "{vm:#}");
    let codes: Vec<&str> = vm["properties"]["instanceView"]["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    assert!(
        codes.iter().any(|c| c.starts_with("PowerState/")),
        "{codes:?}"
    );
}

/// Virtual networks are the caller's: an interface joins an existing
/// subnet only (400 `InvalidResourceReference` otherwise, for a NIC on its
/// own and one created with a VM), the subnet lists the configurations in
/// it, and a network whose subnet is in use cannot be deleted; deleting the
/// VM (its NIC `deleteOption: Delete`) frees the subnet and leaves the
/// network in place.
#[tokio::test]
async fn interfaces_join_existing_subnets_and_networks_outlive_their_vms() {
    let emulator = arm().await;
    let net = NET;
    let version = "api-version=2024-03-01";
    let vnet = format!("{net}/virtualNetworks/v");
    let subnet = format!("{vnet}/subnets/d");
    let missing = format!("{net}/virtualNetworks/v/subnets/missing");
    // A NIC on its own, and a VM creating one, in a subnet that is not there.
    let nic = json!({"location": "westeurope", "properties": {"ipConfigurations": [
        {"name": "ip", "properties": {"subnet": {"id": missing}}}]}});
    let (status, _, refused) = call(
        &emulator,
        "PUT",
        &format!("{net}/networkInterfaces/nic-x?{version}"),
        Some(&nic),
        false,
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("InvalidResourceReference")),
        "{refused}"
    );
    let mut vm = body(json!({}));
    vm["properties"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"]
        ["ipConfigurations"][0]["properties"]["subnet"]["id"] = missing.clone().into();
    let (status, _, refused) = call(
        &emulator,
        "PUT",
        &format!("{VM}?api-version=2024-07-01"),
        Some(&vm),
        false,
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("InvalidResourceReference")),
        "{refused}"
    );
    assert_eq!(emulator.cloud().live_instances(), 0);

    // In the declared subnet: listed there while the VM lives.
    let (status, _, created) = call(
        &emulator,
        "PUT",
        &format!("{VM}?api-version=2024-07-01"),
        Some(&body(json!({}))),
        false,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, _, d) = call(
        &emulator,
        "GET",
        &format!("{subnet}?{version}"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let configs = d["properties"]["ipConfigurations"].as_array().unwrap();
    assert_eq!(configs.len(), 1, "{d}");
    assert!(configs[0]["id"]
        .as_str()
        .unwrap()
        .contains("/networkInterfaces/vm-1-nic/"));
    let (status, _, refused) = call(
        &emulator,
        "DELETE",
        &format!("{vnet}?{version}"),
        None,
        false,
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("InUseSubnetCannotBeDeleted")),
        "{refused}"
    );

    let (status, _, _) = call(
        &emulator,
        "DELETE",
        &format!("{VM}?api-version=2024-07-01"),
        None,
        false,
    )
    .await;
    assert!(status == 200 || status == 202, "{status}");
    let (status, _, d) = call(
        &emulator,
        "GET",
        &format!("{subnet}?{version}"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 200, "the caller's subnet stays: {d}");
    assert!(d["properties"].get("ipConfigurations").is_none(), "{d}");
    let (status, _, _) = call(
        &emulator,
        "DELETE",
        &format!("{vnet}?{version}"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 202);
    let (status, _, _) = call(&emulator, "GET", &format!("{vnet}?{version}"), None, false).await;
    assert_eq!(status, 404);
}

/// A network interface and a Standard static public address made on their
/// own hold their addresses from their creation to their deletion (Learn,
/// "Private IP addresses" and "Public IP addresses"): the PUT answers with
/// them, and a VM using them, deallocated and started again, changes
/// neither.
#[tokio::test]
async fn interfaces_and_static_addresses_hold_their_addresses_from_creation() {
    let emulator = arm().await;
    let pip = format!("{NET}/publicIPAddresses/pip-1");
    let nic = format!("{NET}/networkInterfaces/nic-1");
    let v = "?api-version=2024-03-01";
    // Standard and static, the defaults.
    let (status, _, created) = call(
        &emulator,
        "PUT",
        &format!("{pip}{v}"),
        Some(&json!({"location": "westeurope"})),
        false,
    )
    .await;
    assert_eq!(status, 201);
    let public = created["properties"]["ipAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = nic_body(&pip);
    let (status, _, created) =
        call(&emulator, "PUT", &format!("{nic}{v}"), Some(&config), false).await;
    assert_eq!(status, 201);
    let private_at = "/properties/ipConfigurations/0/properties/privateIPAddress";
    let private = created
        .pointer(private_at)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    // A PUT again (an update) keeps them.
    let (_, _, again) = call(&emulator, "PUT", &format!("{nic}{v}"), Some(&config), false).await;
    assert_eq!(again.pointer(private_at).unwrap(), private.as_str());

    let mut vm = body(json!({}));
    vm["properties"]["networkProfile"] = json!({"networkInterfaces": [{"id": nic}]});
    let (status, _, _) = call(
        &emulator,
        "PUT",
        &format!("{VM}?api-version=2024-07-01"),
        Some(&vm),
        false,
    )
    .await;
    assert_eq!(status, 201);
    let shown = |what: String| {
        let emulator = &emulator;
        async move { call(emulator, "GET", &what, None, false).await.2 }
    };
    for action in ["", "deallocate", "start"] {
        if !action.is_empty() {
            let (status, _, _) = call(
                &emulator,
                "POST",
                &format!("{VM}/{action}?api-version=2024-07-01"),
                None,
                false,
            )
            .await;
            assert_eq!(status, 202, "{action}");
        }
        let nic_now = shown(format!("{nic}{v}")).await;
        assert_eq!(
            nic_now.pointer(private_at).unwrap(),
            private.as_str(),
            "{action}"
        );
        let pip_now = shown(format!("{pip}{v}")).await;
        assert_eq!(
            pip_now["properties"]["ipAddress"],
            public.as_str(),
            "{action}"
        );
    }
}
