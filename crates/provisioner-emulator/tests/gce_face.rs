//! The Compute Engine face on the wire: shapes checked against the official
//! discovery document, operations, requestId, filters, paging, errors.

mod common;

use std::time::Duration;

use common::http;
use provisioner_emulator::{Emulator, EmulatorHandle};
use provisioner_fake::{FakeCloud, Personality, Transitions};
use serde_json::{json, Value};

const ZONE_PATH: &str = "/compute/v1/projects/p/zones/us-central1-a";

fn discovery() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/gce/compute.v1.instances.json"
    );
    let text = std::fs::read_to_string(path).expect("shared/fixtures beside the repository");
    serde_json::from_str(&text).unwrap()
}

/// Every field of `value` is a property of `schema` (recursively through
/// `$ref`s and arrays), and every enum field holds a documented value.
fn check_shape(value: &Value, schema: &str, doc: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(def) = doc.pointer(&format!("/schemas/{schema}")) else {
        problems.push(format!("{at}: no schema {schema}"));
        return;
    };
    let Some(object) = value.as_object() else {
        return;
    };
    for (key, field) in object {
        let here = format!("{at}.{key}");
        let Some(prop) = def.pointer(&format!("/properties/{key}")) else {
            problems.push(format!("{here}: not a field of {schema}"));
            continue;
        };
        check_property(field, prop, doc, &here, problems);
    }
}

fn check_property(field: &Value, prop: &Value, doc: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(name) = prop.get("$ref").and_then(Value::as_str) {
        return check_shape(field, name, doc, at, problems);
    }
    if let Some(allowed) = prop.get("enum").and_then(Value::as_array) {
        if !allowed.contains(field) {
            problems.push(format!("{at}: {field} is not one of the documented values"));
        }
    }
    match prop.get("type").and_then(Value::as_str) {
        Some("array") => {
            for (i, item) in field.as_array().into_iter().flatten().enumerate() {
                check_property(item, &prop["items"], doc, &format!("{at}[{i}]"), problems);
            }
        }
        Some("object") => {
            if let Some(values) = prop.get("additionalProperties") {
                for (k, v) in field.as_object().into_iter().flatten() {
                    check_property(v, values, doc, &format!("{at}[{k}]"), problems);
                }
            } else if let Some(props) = prop.get("properties") {
                for (k, v) in field.as_object().into_iter().flatten() {
                    match props.get(k) {
                        Some(p) => check_property(v, p, doc, &format!("{at}.{k}"), problems),
                        None => problems.push(format!("{at}.{k}: not a documented field")),
                    }
                }
            }
        }
        Some("string") if !field.is_string() => {
            problems.push(format!("{at}: {field} should be a string"))
        }
        Some("integer") if !field.is_number() => {
            problems.push(format!("{at}: {field} should be a number"))
        }
        Some("boolean") if !field.is_boolean() => {
            problems.push(format!("{at}: {field} should be a boolean"))
        }
        _ => {}
    }
}

fn assert_shape(value: &Value, schema: &str) {
    let mut problems = Vec::new();
    check_shape(value, schema, &discovery(), schema, &mut problems);
    assert!(problems.is_empty(), "{problems:#?}\nin {value:#}");
}

async fn call(emulator: &EmulatorHandle, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http(emulator, method, path, "application/json", &body)
        .await
        .expect("an answer");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn insert_body(name: &str) -> Value {
    json!({
        "name": name,
        "machineType": "zones/us-central1-a/machineTypes/e2-small",
        "disks": [{"boot": true, "autoDelete": true, "initializeParams": {
            "sourceImage": "projects/debian-cloud/global/images/family/debian-12", "diskSizeGb": "20"}}],
        "networkInterfaces": [{"accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]}],
        "metadata": {"items": [{"key": "user-data", "value": "#cloud-config"}]},
        "labels": {"fleet-id": "blue"},
        "serviceAccounts": [{"email": "sa@p.iam.gserviceaccount.com", "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}],
    })
}

async fn gce() -> EmulatorHandle {
    Emulator::builder()
        .personality(Personality::gce())
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn responses_follow_the_discovery_document() {
    let emulator = gce().await;
    let (status, op) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("web-1"),
    )
    .await;
    assert_eq!(status, 200, "{op}");
    assert_shape(&op, "Operation");
    let (_, instance) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_shape(&instance, "Instance");
    assert_eq!(instance["status"], "RUNNING");
    assert_eq!(instance["labels"]["fleet-id"], "blue");
    assert_eq!(instance["metadata"]["items"][0]["key"], "user-data");
    assert!(instance["networkInterfaces"][0]["accessConfigs"][0]["natIP"].is_string());
    let (_, list) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances"),
        &Value::Null,
    )
    .await;
    assert_shape(&list, "InstanceList");
    let (_, aggregated) = call(
        &emulator,
        "GET",
        "/compute/v1/projects/p/aggregated/instances",
        &Value::Null,
    )
    .await;
    assert_shape(&aggregated, "InstanceAggregatedList");
    assert_eq!(
        aggregated["items"]["zones/us-central1-a"]["instances"][0]["name"],
        "web-1"
    );
    let (_, stop) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances/web-1/stop"),
        &Value::Null,
    )
    .await;
    assert_shape(&stop, "Operation");
    let (_, stopped) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(
        stopped["status"], "TERMINATED",
        "Compute Engine calls a stopped instance TERMINATED"
    );
}

#[tokio::test]
async fn operations_go_pending_running_done() {
    let cloud = FakeCloud::builder()
        .personality(Personality::gce())
        // Seconds, so that the checks run inside each transition even on a
        // loaded machine; `wait` ends each one.
        .transitions(Transitions::uniform(Duration::from_secs(3)))
        .build();
    let emulator = Emulator::builder().cloud(cloud).start().await.unwrap();
    let (_, op) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("web-1"),
    )
    .await;
    assert_eq!(
        (op["status"].as_str(), op["operationType"].as_str()),
        (Some("PENDING"), Some("insert"))
    );
    let name = op["name"].as_str().unwrap();
    let (_, now) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/operations/{name}"),
        &Value::Null,
    )
    .await;
    assert_eq!(now["status"], "RUNNING");
    let (_, instance) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(instance["status"], "STAGING");
    let (_, done) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/operations/{name}/wait"),
        &Value::Null,
    )
    .await;
    assert_eq!(
        (done["status"].as_str(), done["progress"].as_i64()),
        (Some("DONE"), Some(100))
    );
    // It ran for the three seconds of the boot: its end is later than its
    // start, and stays what it was.
    let time = |op: &Value, field: &str| {
        time::OffsetDateTime::parse(
            op[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let ran = time(&done, "endTime") - time(&done, "insertTime");
    assert!(ran >= time::Duration::seconds(2), "{done:#}");
    let (_, again) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/operations/{name}"),
        &Value::Null,
    )
    .await;
    assert_eq!(again["endTime"], done["endTime"]);

    // Deleting shows STOPPING until the instance is gone.
    let (_, delete) = call(
        &emulator,
        "DELETE",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    let (_, deleting) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(deleting["status"], "STOPPING");
    let name = delete["name"].as_str().unwrap();
    let (_, done) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/operations/{name}/wait"),
        &Value::Null,
    )
    .await;
    assert_eq!(done["status"], "DONE");
    let (status, gone) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(
        (status, gone["error"]["errors"][0]["reason"].as_str()),
        (404, Some("notFound"))
    );
}

#[tokio::test]
async fn a_repeated_request_id_replays_its_operation() {
    let emulator = gce().await;
    let path = format!("{ZONE_PATH}/instances?requestId=0b0c8e36-8f0a-4b7a-9c51-000000000001");
    let (_, first) = call(&emulator, "POST", &path, &insert_body("web-1")).await;
    let (status, second) = call(&emulator, "POST", &path, &insert_body("web-1")).await;
    assert_eq!((status, &second["name"]), (200, &first["name"]));
    assert_eq!(emulator.cloud().live_instances(), 1);
    let (status, conflict) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("web-1"),
    )
    .await;
    assert_eq!(
        (status, conflict["error"]["errors"][0]["reason"].as_str()),
        (409, Some("alreadyExists"))
    );
    // "The request ID must be a valid UUID with the exception that zero
    // UUID is not supported": refused, on insert and on a change.
    for bad in ["slot-1-launch", "00000000-0000-0000-0000-000000000000"] {
        for path in [
            format!("{ZONE_PATH}/instances?requestId={bad}"),
            format!("{ZONE_PATH}/instances/web-1/stop?requestId={bad}"),
        ] {
            let (status, refused) = call(&emulator, "POST", &path, &insert_body("web-2")).await;
            assert_eq!(
                (status, refused["error"]["errors"][0]["reason"].as_str()),
                (400, Some("invalid")),
                "{path}: {refused:#}"
            );
        }
    }
    assert_eq!(emulator.cloud().live_instances(), 1);
}

#[tokio::test]
async fn filters_and_pages() {
    let emulator = Emulator::builder()
        .personality(Personality::gce())
        .gce_page_cap(2)
        .start()
        .await
        .unwrap();
    for (i, fleet) in ["blue", "blue", "blue", "green"].iter().enumerate() {
        let mut body = insert_body(&format!("web-{i}"));
        body["labels"] = json!({"fleet-id": fleet});
        assert_eq!(
            call(&emulator, "POST", &format!("{ZONE_PATH}/instances"), &body)
                .await
                .0,
            200
        );
    }
    call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances/web-0/stop"),
        &Value::Null,
    )
    .await;
    let filter =
        "filter=(labels.fleet-id%20%3D%20%22blue%22)%20AND%20(status%20%3D%20%22RUNNING%22)";
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let (_, page) = call(
            &emulator,
            "GET",
            &format!("{ZONE_PATH}/instances?{filter}&maxResults=500{token}"),
            &Value::Null,
        )
        .await;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_owned()),
        );
        match page["nextPageToken"].as_str() {
            Some(next) => token = format!("&pageToken={next}"),
            None => break,
        }
    }
    assert_eq!(names, ["web-1", "web-2"]);
    let (status, bad) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances?filter=zone%20%3D%20x"),
        &Value::Null,
    )
    .await;
    assert_eq!(
        (status, bad["error"]["errors"][0]["reason"].as_str()),
        (400, Some("invalid"))
    );
    let (status, _) = call(
        &emulator,
        "GET",
        "/compute/v1/projects/p/zones/us-central1-b/instances/web-1",
        &Value::Null,
    )
    .await;
    assert_eq!(status, 404, "instances live in one zone");
}

#[tokio::test]
async fn bad_bodies_are_refused_like_compute_engine_refuses_them() {
    let emulator = gce().await;
    let mut upper = insert_body("Web-1");
    let (status, _) = call(&emulator, "POST", &format!("{ZONE_PATH}/instances"), &upper).await;
    assert_eq!(status, 400);
    upper = insert_body("web-1");
    upper["labels"] = json!({"ManagedBy": "x"});
    let (status, e) = call(&emulator, "POST", &format!("{ZONE_PATH}/instances"), &upper).await;
    assert_eq!((status, e["error"]["code"].as_i64()), (400, Some(400)));
    let (status, _) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web%2F1"),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(emulator.cloud().live_instances(), 0);
}

#[tokio::test]
async fn a_stock_out_after_acceptance_is_reported_in_the_insert_operation() {
    let emulator = gce().await;
    emulator.cloud().fail_after_acceptance(
        1,
        provisioner_core::LaunchFailureKind::InsufficientCapacity,
        std::time::Duration::from_millis(300),
    );
    let op = request(&emulator, "web-1", "insert").await;
    assert_ne!(op["status"], "DONE", "{op:#}");
    // Accepted: the instance is there for a moment, staging.
    let (status, instance) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(
        (status, instance["status"].as_str()),
        (200, Some("STAGING"))
    );
    let done = wait(&emulator, &op).await;
    assert_eq!(
        done["error"]["errors"][0]["code"],
        "ZONE_RESOURCE_POOL_EXHAUSTED"
    );
    assert_eq!(done["httpErrorStatusCode"], 503);
    assert_eq!(done["httpErrorMessage"], "SERVICE UNAVAILABLE");
    // Then gone, with no error anywhere but in the operation.
    let (status, _) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/web-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let again = reread(&emulator, &op).await;
    assert_eq!(again["error"], done["error"]);
    // The name is free again: a new insert creates a new instance.
    let (status, op) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("web-1"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(op.get("error").is_none(), "{op:#}");
}

/// Calls `method` (`insert`, `stop`, `start`…) on instance `name`: the
/// operation it answers with, which must be accepted and not yet failed.
async fn request(emulator: &EmulatorHandle, name: &str, method: &str) -> Value {
    let (path, body) = match method {
        "insert" => (format!("{ZONE_PATH}/instances"), insert_body(name)),
        _ => (
            format!("{ZONE_PATH}/instances/{name}/{method}"),
            Value::Null,
        ),
    };
    let (status, op) = call(emulator, "POST", &path, &body).await;
    assert_eq!(status, 200, "{op:#}");
    assert_shape(&op, "Operation");
    assert!(op.get("error").is_none(), "{op:#}");
    op
}

/// Waits for the operation `op`: DONE, as it then is.
async fn wait(emulator: &EmulatorHandle, op: &Value) -> Value {
    let name = op["name"].as_str().unwrap();
    let path = format!("{ZONE_PATH}/operations/{name}/wait");
    let (status, done) = call(emulator, "POST", &path, &Value::Null).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("DONE")),
        "{done:#}"
    );
    assert_shape(&done, "Operation");
    done
}

/// The operation `op` as it is now.
async fn reread(emulator: &EmulatorHandle, op: &Value) -> Value {
    let name = op["name"].as_str().unwrap();
    let path = format!("{ZONE_PATH}/operations/{name}");
    let (status, now) = call(emulator, "GET", &path, &Value::Null).await;
    assert_eq!(status, 200, "{now:#}");
    now
}

/// Calls `method` on instance `name` and waits for its operation.
async fn done(emulator: &EmulatorHandle, name: &str, method: &str) -> Value {
    wait(emulator, &request(emulator, name, method).await).await
}

/// A start Compute Engine accepts and cannot place fails in its operation
/// ("Troubleshoot resource availability errors": create, restart or
/// update), and the instance is kept, TERMINATED, to start again later.
#[tokio::test]
async fn a_start_without_capacity_fails_its_operation_and_keeps_the_instance() {
    let emulator = gce().await;
    let status_of = || async {
        let path = format!("{ZONE_PATH}/instances/web-1");
        let (_, instance) = call(&emulator, "GET", &path, &Value::Null).await;
        instance["status"].as_str().map(str::to_owned)
    };
    done(&emulator, "web-1", "insert").await;
    done(&emulator, "web-1", "stop").await;
    emulator.cloud().fail_start_after_acceptance(
        1,
        provisioner_core::LaunchFailureKind::InsufficientCapacity,
        std::time::Duration::from_millis(300),
    );
    let accepted = request(&emulator, "web-1", "start").await;
    assert_ne!(accepted["status"], "DONE", "{accepted:#}");
    let failed = wait(&emulator, &accepted).await;
    assert_eq!(failed["operationType"], "start");
    assert_eq!(
        failed["error"]["errors"][0]["code"],
        "ZONE_RESOURCE_POOL_EXHAUSTED"
    );
    assert_eq!(failed["httpErrorStatusCode"], 503);
    assert_eq!(status_of().await.as_deref(), Some("TERMINATED"));
    assert_eq!(emulator.cloud().live_instances(), 1);

    // Capacity is back: the next start runs it, and the failed operation
    // still says what it met.
    let started = done(&emulator, "web-1", "start").await;
    assert!(started.get("error").is_none(), "{started:#}");
    assert_eq!(status_of().await.as_deref(), Some("RUNNING"));
    let again = reread(&emulator, &accepted).await;
    assert_eq!(again["error"], failed["error"]);
}

#[tokio::test]
async fn labels_and_metadata_change_only_with_the_current_fingerprint() {
    let emulator = gce().await;
    let vm = format!("{ZONE_PATH}/instances/vm-1");
    call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("vm-1"),
    )
    .await;
    let (_, before) = call(&emulator, "GET", &vm, &Value::Null).await;
    let fingerprint = before["labelFingerprint"].as_str().unwrap().to_owned();

    let stale = json!({"labels": {"fleet-id": "green"}, "labelFingerprint": "c3RhbGU="});
    let (status, error) = call(&emulator, "POST", &format!("{vm}/setLabels"), &stale).await;
    assert_eq!(
        (status, error["error"]["errors"][0]["reason"].as_str()),
        (412, Some("conditionNotMet"))
    );
    let fresh = json!({"labels": {"fleet-id": "green"}, "labelFingerprint": fingerprint});
    let (status, op) = call(&emulator, "POST", &format!("{vm}/setLabels"), &fresh).await;
    assert_eq!(
        (status, op["operationType"].as_str()),
        (200, Some("setLabels"))
    );
    assert_shape(&op, "Operation");
    let (_, after) = call(&emulator, "GET", &vm, &Value::Null).await;
    assert_eq!(after["labels"], json!({"fleet-id": "green"}));
    assert_ne!(after["labelFingerprint"], before["labelFingerprint"]);
    // The same fingerprint again is stale now.
    let (status, _) = call(&emulator, "POST", &format!("{vm}/setLabels"), &fresh).await;
    assert_eq!(status, 412);
    // The label index follows.
    let (_, listed) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances?filter=labels.fleet-id%3Dgreen"),
        &Value::Null,
    )
    .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

    let metadata = json!({"fingerprint": after["metadata"]["fingerprint"], "items": [{"key": "role", "value": "web"}]});
    let (status, op) = call(&emulator, "POST", &format!("{vm}/setMetadata"), &metadata).await;
    assert_eq!(
        (status, op["operationType"].as_str()),
        (200, Some("setMetadata"))
    );
    let (_, after) = call(&emulator, "GET", &vm, &Value::Null).await;
    assert_eq!(
        after["metadata"]["items"],
        json!([{"key": "role", "value": "web"}])
    );
    assert_shape(&after, "Instance");
    let (status, _) = call(&emulator, "POST", &format!("{vm}/setMetadata"), &metadata).await;
    assert_eq!(status, 412);
}

#[tokio::test]
async fn suspend_and_resume() {
    let emulator = gce().await;
    let vm = format!("{ZONE_PATH}/instances/vm-1");
    let (_, op) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("vm-1"),
    )
    .await;
    let wait = |op: &Value| {
        format!(
            "{ZONE_PATH}/operations/{}/wait",
            op["name"].as_str().unwrap()
        )
    };
    call(&emulator, "POST", &wait(&op), &Value::Null).await;
    let (status, op) = call(&emulator, "POST", &format!("{vm}/suspend"), &Value::Null).await;
    assert_eq!(
        (status, op["operationType"].as_str()),
        (200, Some("suspend"))
    );
    call(&emulator, "POST", &wait(&op), &Value::Null).await;
    let (_, got) = call(&emulator, "GET", &vm, &Value::Null).await;
    assert_eq!(got["status"], "SUSPENDED");
    // start does not bring back a suspended instance; resume does.
    let (status, _) = call(&emulator, "POST", &format!("{vm}/start"), &Value::Null).await;
    assert_eq!(status, 400);
    let (status, op) = call(&emulator, "POST", &format!("{vm}/resume"), &Value::Null).await;
    assert_eq!(
        (status, op["operationType"].as_str()),
        (200, Some("resume"))
    );
    call(&emulator, "POST", &wait(&op), &Value::Null).await;
    let (_, got) = call(&emulator, "GET", &vm, &Value::Null).await;
    assert_eq!(got["status"], "RUNNING");
    let (status, _) = call(&emulator, "POST", &format!("{vm}/resume"), &Value::Null).await;
    assert_eq!(status, 400, "a running instance is not suspended");

    // Every operation of the zone, oldest first, across pages.
    let (_, first) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/operations?maxResults=2"),
        &Value::Null,
    )
    .await;
    assert_shape(&first, "OperationList");
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/operations?maxResults=2&pageToken={token}"),
        &Value::Null,
    )
    .await;
    let types: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|op| op["operationType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["insert", "suspend", "resume"]);
    assert!(second.get("nextPageToken").is_none());
}

#[tokio::test]
async fn has_and_regular_expression_filters() {
    let emulator = gce().await;
    for name in ["web-1", "web-2", "db-1"] {
        call(
            &emulator,
            "POST",
            &format!("{ZONE_PATH}/instances"),
            &insert_body(name),
        )
        .await;
    }
    let names = |filter: &str| {
        let path = format!(
            "{ZONE_PATH}/instances?filter={}",
            filter
                .replace(' ', "%20")
                .replace('=', "%3D")
                .replace(':', "%3A")
                .replace('*', "%2A")
        );
        let emulator = &emulator;
        async move {
            let (status, body) = call(emulator, "GET", &path, &Value::Null).await;
            let mut names: Vec<String> = body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| i["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            (status, names)
        }
    };
    assert_eq!(
        names("labels.fleet-id:*").await.1,
        ["db-1", "web-1", "web-2"]
    );
    assert_eq!(names("labels.owner:*").await.1, Vec::<String>::new());
    assert_eq!(names("name eq web-.*").await.1, ["web-1", "web-2"]);
    assert_eq!(names("name ne web-.*").await.1, ["db-1"]);
    assert_eq!(
        names("(name eq .*-1) (labels.fleet-id eq blu.)").await.1,
        ["db-1", "web-1"]
    );
    assert_eq!(names("name eq web-.* AND status = RUNNING").await.0, 400);
}

#[tokio::test]
async fn names_are_unique_per_project_and_zone() {
    let emulator = gce().await;
    let other_zone = "/compute/v1/projects/p/zones/europe-west1-b";
    let other_project = "/compute/v1/projects/q/zones/us-central1-a";
    for base in [ZONE_PATH, other_zone, other_project] {
        let (status, op) = call(
            &emulator,
            "POST",
            &format!("{base}/instances"),
            &insert_body("vm-1"),
        )
        .await;
        assert_eq!(status, 200, "{base}: {op}");
    }
    let (status, _) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("vm-1"),
    )
    .await;
    assert_eq!(status, 409);
    // Each lives where it was made; a project sees only its own.
    let (_, got) = call(
        &emulator,
        "GET",
        &format!("{other_zone}/instances/vm-1"),
        &Value::Null,
    )
    .await;
    assert!(got["zone"]
        .as_str()
        .unwrap()
        .ends_with("/zones/europe-west1-b"));
    let (_, all) = call(
        &emulator,
        "GET",
        "/compute/v1/projects/p/aggregated/instances",
        &Value::Null,
    )
    .await;
    let zones: Vec<&String> = all["items"].as_object().unwrap().keys().collect();
    assert_eq!(zones, ["zones/europe-west1-b", "zones/us-central1-a"]);
    let (_, q) = call(
        &emulator,
        "GET",
        "/compute/v1/projects/q/aggregated/instances",
        &Value::Null,
    )
    .await;
    assert_eq!(q["items"].as_object().unwrap().len(), 1);
    // Deleting one leaves the others.
    let (status, _) = call(
        &emulator,
        "DELETE",
        &format!("{ZONE_PATH}/instances/vm-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &emulator,
        "GET",
        &format!("{other_zone}/instances/vm-1"),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_url_longer_than_google_takes_is_refused_with_414() {
    let emulator = gce().await;
    let names: Vec<String> = (0..400).map(|i| format!("fleet-worker-{i:05}")).collect();
    let filter = format!("name%20eq%20%22({})%22", names.join("%7C"));
    let path = format!("/compute/v1/projects/p/aggregated/instances?filter={filter}");
    assert!(path.len() > 8192);
    let (status, body) = call(&emulator, "GET", &path, &Value::Null).await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["error"]["code"], 414);
    // Under the limit, the same filter is answered.
    let filter = format!("name%20eq%20%22({})%22", names[..200].join("%7C"));
    let path = format!("/compute/v1/projects/p/aggregated/instances?filter={filter}");
    let (status, body) = call(&emulator, "GET", &path, &Value::Null).await;
    assert_eq!(status, 200, "{body}");
}

/// Each instance is inserted with its boot disk, named after it unless the
/// insert names it, used by the instance while it lives. Deleting the
/// instance deletes the disk when `autoDelete` was true and otherwise keeps
/// it `READY` with no users (absent is false); a kept disk's name is taken.
#[tokio::test]
async fn boot_disks_go_with_their_instance_only_when_auto_deleted() {
    let emulator = gce().await;
    let mut kept = insert_body("vm-kept");
    kept["disks"][0]
        .as_object_mut()
        .unwrap()
        .remove("autoDelete");
    let mut named = insert_body("vm-named");
    named["disks"][0]["initializeParams"]["diskName"] = "data-1".into();
    for body in [insert_body("vm-auto"), kept, named] {
        let (status, op) = call(&emulator, "POST", &format!("{ZONE_PATH}/instances"), &body).await;
        assert_eq!(status, 200, "{op}");
    }
    let (status, list) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/disks"),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["data-1", "vm-auto", "vm-kept"]);
    let (_, vm) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/instances/vm-named"),
        &Value::Null,
    )
    .await;
    assert!(vm["disks"][0]["source"]
        .as_str()
        .unwrap()
        .ends_with("/zones/us-central1-a/disks/data-1"));
    let (_, disk) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/disks/vm-kept"),
        &Value::Null,
    )
    .await;
    assert_eq!(disk["users"][0], format!("https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instances/vm-kept"));
    assert_eq!(emulator.unattached_resources().disks, 0);

    for name in ["vm-auto", "vm-kept", "vm-named"] {
        let path = format!("{ZONE_PATH}/instances/{name}");
        let (status, op) = call(&emulator, "DELETE", &path, &Value::Null).await;
        assert_eq!(status, 200, "{op}");
        wait(&emulator, &op).await;
    }
    let (_, list) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/disks"),
        &Value::Null,
    )
    .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["name"], "vm-kept");
    assert_eq!(items[0]["status"], "READY");
    assert!(items[0].get("users").is_none(), "{list}");
    assert_eq!(emulator.unattached_resources().disks, 1);
    let (status, _) = call(
        &emulator,
        "GET",
        &format!("{ZONE_PATH}/disks/vm-auto"),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    // The kept disk's name is taken: an instance whose boot disk would
    // take it is refused; one naming another disk is not.
    let (status, refused) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &insert_body("vm-kept"),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["errors"][0]["reason"].as_str()),
        (409, Some("alreadyExists")),
        "{refused}"
    );
    let mut elsewhere = insert_body("vm-kept");
    elsewhere["disks"][0]["initializeParams"]["diskName"] = "vm-kept-2".into();
    let (status, _) = call(
        &emulator,
        "POST",
        &format!("{ZONE_PATH}/instances"),
        &elsewhere,
    )
    .await;
    assert_eq!(status, 200);
}
