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

async fn arm() -> EmulatorHandle {
    Emulator::builder()
        .personality(Personality::azure())
        .resource_group("s", "g", "westeurope")
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
