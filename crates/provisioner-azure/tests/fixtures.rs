//! The official REST spec examples (`shared/fixtures/azure`) against the
//! SDK's own model types and against the emulator's ARM face: every example
//! body parses with the model types; every face body parses with the same
//! types without losing a field; and where an example and a face body have
//! the same field, it has the same JSON shape.

mod common;

use azure_mgmt_compute::package_2024_07_01::models as compute;
use azure_mgmt_network::package_2024_03::models as network;
use common::get_json;
use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
use provisioner_core::{InstanceConfig, InstanceProvisioner};
use provisioner_emulator::Emulator;
use provisioner_fake::Personality;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../../shared/fixtures/azure/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Parses `body` as `T`, and returns it as the model serializes it back.
fn through_model<T: DeserializeOwned + Serialize>(body: &Value, what: &str) -> Value {
    let model: T =
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{what}: {e}\n{body:#}"));
    serde_json::to_value(model).unwrap()
}

/// Paths of `value` (objects by key, arrays by `[]`) with their JSON kind.
/// Nulls and empty arrays carry no shape (the SDK models drop both when
/// they serialize), so they are left out.
fn shape(value: &Value, at: &str, out: &mut Vec<(String, &'static str)>) {
    let kind = match value {
        Value::Null => return,
        Value::Array(items) if items.is_empty() => return,
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{at}[]"), out);
            }
            "array"
        }
        Value::Object(map) => {
            for (k, v) in map {
                shape(v, &format!("{at}.{k}"), out);
            }
            "object"
        }
    };
    out.push((at.to_owned(), kind));
}

fn shapes(value: &Value) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    shape(value, "", &mut out);
    out.sort();
    out.dedup();
    out
}

/// Every field of `face` survives a round trip through the model `T` (so
/// the SDK knows it), and shares its JSON kind with the examples wherever
/// both have it. Tags are free-form maps and are left out of the comparison.
fn assert_faithful<T: DeserializeOwned + Serialize>(face: &Value, examples: &[Value], what: &str) {
    let back = shapes(&through_model::<T>(face, what));
    let lost: Vec<_> = shapes(face)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".tags."))
        .filter(|p| !back.contains(p))
        .collect();
    assert!(
        lost.is_empty(),
        "{what}: fields the SDK model does not know: {lost:?}"
    );
    let example_shapes: Vec<(String, &str)> = examples.iter().flat_map(shapes).collect();
    for (path, kind) in shapes(face) {
        if path.starts_with(".tags.") {
            continue;
        }
        let seen: Vec<&str> = example_shapes
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, k)| *k)
            .collect();
        assert!(
            seen.is_empty() || seen.contains(&kind),
            "{what}{path}: {kind} here, {seen:?} in the examples"
        );
    }
}

#[test]
fn every_example_body_parses_with_the_sdk_models() {
    let vm_examples = [
        "VirtualMachine_Create_WithSshAuthentication.json",
        "VirtualMachine_Create_FromACustomImage.json",
        "VirtualMachine_Get.json",
    ];
    for name in vm_examples {
        let example = fixture(name);
        if let Some(request) = example.pointer("/parameters/parameters") {
            through_model::<compute::VirtualMachine>(request, name);
        }
        for (code, response) in example["responses"].as_object().unwrap() {
            if let Some(body) = response.get("body") {
                through_model::<compute::VirtualMachine>(body, &format!("{name} {code}"));
            }
        }
    }
    let view = fixture("VirtualMachine_Get_InstanceView.json");
    through_model::<compute::VirtualMachineInstanceView>(
        &view["responses"]["200"]["body"],
        "instanceView",
    );
    for name in [
        "VirtualMachine_List_MinimumSet_Gen.json",
        "VirtualMachine_List_MaximumSet_Gen.json",
        "VirtualMachine_ListAll_MinimumSet_Gen.json",
    ] {
        through_model::<compute::VirtualMachineListResult>(
            &fixture(name)["responses"]["200"]["body"],
            name,
        );
    }
    through_model::<network::NetworkInterface>(
        &fixture("NetworkInterfaceGet.json")["responses"]["200"]["body"],
        "nic",
    );
    through_model::<network::PublicIpAddress>(
        &fixture("PublicIpAddressGet.json")["responses"]["200"]["body"],
        "pip",
    );
    // The long-running actions answer 202 with a location header and no body.
    for name in [
        "VirtualMachine_Deallocate_MinimumSet_Gen.json",
        "VirtualMachine_Deallocate_MaximumSet_Gen.json",
        "VirtualMachine_Start_MinimumSet_Gen.json",
        "VirtualMachine_PowerOff_MinimumSet_Gen.json",
        "VirtualMachine_Delete_Force.json",
    ] {
        let accepted = &fixture(name)["responses"]["202"];
        let headers = accepted["headers"].as_object().unwrap();
        assert!(
            headers.keys().any(|k| k.eq_ignore_ascii_case("location")),
            "{name}"
        );
        assert!(accepted.get("body").is_none(), "{name}");
    }
}

/// The subnet of the examples' group.
const SUBNET: &str =
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/d";

#[tokio::test]
async fn the_faces_bodies_match_the_examples() {
    let emulator = Emulator::builder()
        .personality(Personality::azure())
        .resource_group("s", "g", "westus")
        .subnet(SUBNET)
        .start()
        .await
        .unwrap();
    let subnet = SUBNET;
    let azure = AzureProvisioner::for_endpoint(
        &emulator.endpoint(),
        AzureScope::new("s", "g", "westus"),
        AzureLaunchConfig::new(subnet, "admin", "ssh-rsa AAAAB3Nza admin").with_public_ip(true),
    )
    .await
    .unwrap();
    let name = azure
        .launch_instance(
            &InstanceConfig::new("Canonical:UbuntuServer:16.04-LTS:latest", "Standard_D1_v2")
                .with_tag("fleet", "a"),
        )
        .await
        .unwrap()
        .instance_id;
    let base = "/subscriptions/s/resourceGroups/g/providers";
    let vm_examples: Vec<Value> = [
        "VirtualMachine_Get.json",
        "VirtualMachine_Create_WithSshAuthentication.json",
    ]
    .iter()
    .flat_map(|f| {
        fixture(f)["responses"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|r| r.get("body").cloned())
            .collect::<Vec<_>>()
    })
    .collect();

    let (status, vm) = get_json(
        &emulator,
        &format!("{base}/Microsoft.Compute/virtualMachines/{name}?api-version=2024-07-01"),
    )
    .await;
    assert_eq!(status, 200);
    assert_faithful::<compute::VirtualMachine>(&vm, &vm_examples, "VM");

    let view_example =
        fixture("VirtualMachine_Get_InstanceView.json")["responses"]["200"]["body"].clone();
    let (_, view) = get_json(
        &emulator,
        &format!(
            "{base}/Microsoft.Compute/virtualMachines/{name}/instanceView?api-version=2024-07-01"
        ),
    )
    .await;
    assert_faithful::<compute::VirtualMachineInstanceView>(&view, &[view_example], "instanceView");
    assert_eq!(view["statuses"][1]["code"], "PowerState/running");

    let list_examples: Vec<Value> = [
        "VirtualMachine_List_MinimumSet_Gen.json",
        "VirtualMachine_List_MaximumSet_Gen.json",
    ]
    .iter()
    .map(|f| fixture(f)["responses"]["200"]["body"].clone())
    .collect();
    let (_, list) = get_json(
        &emulator,
        &format!("{base}/Microsoft.Compute/virtualMachines?api-version=2024-07-01"),
    )
    .await;
    assert_faithful::<compute::VirtualMachineListResult>(&list, &list_examples, "list");

    let nic_example = fixture("NetworkInterfaceGet.json")["responses"]["200"]["body"].clone();
    let (_, nic) = get_json(
        &emulator,
        &format!("{base}/Microsoft.Network/networkInterfaces/{name}-nic?api-version=2024-03-01"),
    )
    .await;
    assert_faithful::<network::NetworkInterface>(&nic, &[nic_example], "NIC");

    let pip_example = fixture("PublicIpAddressGet.json")["responses"]["200"]["body"].clone();
    let (_, pip) = get_json(
        &emulator,
        &format!("{base}/Microsoft.Network/publicIPAddresses/{name}-pip?api-version=2024-03-01"),
    )
    .await;
    assert_faithful::<network::PublicIpAddress>(&pip, &[pip_example], "public IP");

    // Errors: ARM's envelope, and the api-version is checked.
    let (status, error) = get_json(
        &emulator,
        &format!("{base}/Microsoft.Compute/virtualMachines/{name}"),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let (status, error) = get_json(
        &emulator,
        &format!("{base}/Microsoft.Compute/virtualMachines/nope?api-version=2024-07-01"),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
}
