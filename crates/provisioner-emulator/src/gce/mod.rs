//! The Compute Engine face: compute/v1 REST JSON over the shared model.
//!
//! Instances `insert`, `get`, `list`, `aggregatedList`, `delete`, `start`,
//! `stop`; zone operations `get` and `wait`. Paths, fields and enum values
//! follow the discovery document (`shared/fixtures/gce`). Instances are
//! named by the caller (the model's id is the name; names are unique across
//! the emulator's zones). Labels are the model's tags; metadata items and the
//! other wire fields are kept as the model's attributes and echoed.
//!
//! Operations are records of this face: `PENDING` in the answer to the call,
//! `RUNNING` until the model reaches the state the call asked for, then
//! `DONE`. Capacity and quota shortages on insert are reported the way
//! Compute Engine does, in the operation: a launch the model accepted and
//! then failed ([`FakeCloud::fail_after_acceptance`](provisioner_fake::FakeCloud::fail_after_acceptance))
//! shows its instance `STAGING` for a moment, its operation `RUNNING`, then
//! the instance is gone and the operation `DONE` with the error
//! (`ZONE_RESOURCE_POOL_EXHAUSTED`, `QUOTA_EXCEEDED`) and its HTTP status; a
//! shortage the model refuses at once gives an operation that is `DONE` with
//! the error straight away. A `requestId` seen in the last 60 minutes returns
//! the operation it started, without repeating the call; after that it is
//! forgotten, as Compute Engine guarantees it for "at least 60 minutes".

mod filter;
mod mapping;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use provisioner_core::consistency::Expiring;
use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceFilter, Tags};
use provisioner_fake::{Attributes, InstanceRecord};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;

use crate::lro::{Change as OpKind, Registry};
use crate::wire::DropConnection;
use crate::AppState;
use mapping::GceError;

const BASE: &str = "https://compute.googleapis.com/compute/v1";
/// Attribute keys of the wire fields this face keeps.
const ZONE: &str = "zone";
const NETWORK: &str = "network";
const SUBNETWORK: &str = "subnetwork";
const EXTERNAL: &str = "accessConfig";
const SERVICE_ACCOUNT: &str = "serviceAccount.email";
const SCOPES: &str = "serviceAccount.scopes";
const METADATA: &str = "metadata.";

pub(crate) fn router() -> Router<AppState> {
    let zone = "/compute/v1/projects/{project}/zones/{zone}";
    Router::new()
        .route(&format!("{zone}/instances"), post(insert).get(list))
        .route(
            &format!("{zone}/instances/{{instance}}"),
            get(get_instance).delete(delete),
        )
        .route(&format!("{zone}/instances/{{instance}}/start"), post(start))
        .route(&format!("{zone}/instances/{{instance}}/stop"), post(stop))
        .route(
            "/compute/v1/projects/{project}/aggregated/instances",
            get(aggregated_list),
        )
        .route(
            &format!("{zone}/operations/{{operation}}"),
            get(get_operation),
        )
        .route(
            &format!("{zone}/operations/{{operation}}/wait"),
            post(wait_operation),
        )
}

/// How long a `requestId` names the operation it started.
const REQUEST_ID_LIFETIME: Duration = Duration::from_secs(3600);

/// The operations this face started.
#[derive(Debug)]
pub(crate) struct Operations {
    by_name: Registry<OpRecord>,
    /// `requestId` → operation name, each kept [`REQUEST_ID_LIFETIME`].
    by_request_id: Mutex<Expiring<String>>,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            by_name: Registry::default(),
            by_request_id: Mutex::new(Expiring::new(REQUEST_ID_LIFETIME)),
        }
    }
}

#[derive(Debug, Clone)]
struct OpRecord {
    name: String,
    id: u64,
    project: String,
    zone: String,
    kind: OpKind,
    target: String,
    inserted: String,
    /// An error known when the call was answered.
    error: Option<OpError>,
}

/// An operation's error: code, message, and the HTTP status Compute Engine
/// gives it (`httpErrorStatusCode`).
type OpError = (&'static str, String, StatusCode);

/// Compute Engine's `operationType` of a change.
fn operation_type(change: OpKind) -> &'static str {
    match change {
        OpKind::Create => "insert",
        OpKind::Delete => "delete",
        OpKind::Start => "start",
        OpKind::Stop => "stop",
    }
}

type Answer = Result<Response, GceError>;

/// An error this face's handlers never produced (no such route, a refused
/// extractor), in Compute Engine's envelope.
pub(crate) fn wire_error(status: StatusCode, message: &str) -> Response {
    let reason = match status.as_u16() {
        404 => "notFound",
        405 => "httpMethodNotAllowed",
        413 => "uploadTooLarge",
        500..=599 => "backendError",
        _ => "invalid",
    };
    error_response(GceError::new(status, reason, message))
}

fn error_response(e: GceError) -> Response {
    let body = json!({
        "error": {
            "code": e.status.as_u16(),
            "message": e.message,
            "errors": [{"message": e.message, "domain": "global", "reason": e.reason}],
        }
    });
    let mut response = (e.status, Json(body)).into_response();
    if let Some(secs) = e.retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            secs.to_string().parse().expect("digits"),
        );
    }
    response
}

fn answer(result: Answer) -> Response {
    result.unwrap_or_else(error_response)
}

/// RFC 1035 labels: what Compute Engine accepts as a name or zone.
fn check_name(what: &str, name: &str) -> Result<(), GceError> {
    let bytes = name.as_bytes();
    let ok = (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(GceError::invalid(format!(
            "Invalid value for field '{what}': '{name}'. Must be a match of regex '[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?'"
        )))
    }
}

/// Compute Engine's label rules: keys start with a lowercase letter; keys
/// and values use lowercase letters, digits, `_` and `-`, 63 at most.
fn check_labels(labels: &Tags) -> Result<(), GceError> {
    let allowed = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    for (key, value) in labels {
        let ok = key.len() <= 63
            && key.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && allowed(key)
            && value.len() <= 63
            && allowed(value);
        if !ok {
            return Err(GceError::invalid(format!(
                "Invalid value for field 'resource.labels': '{key}'. Label keys and values must use lowercase letters, digits, '_' and '-'"
            )));
        }
    }
    if labels.len() > 64 {
        return Err(GceError::invalid("At most 64 labels"));
    }
    Ok(())
}

fn resource(project: &str, zone: &str, instance: &str) -> String {
    format!("projects/{project}/zones/{zone}/instances/{instance}")
}

fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn numeric_id(name: &str) -> u64 {
    // FNV-1a: a stable numeric id per name, as Compute Engine gives one.
    name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    }) >> 1
}

fn instance_json(project: &str, r: &InstanceRecord) -> Value {
    let zone = r.attributes.get(ZONE).map_or("", String::as_str);
    let mut nic = Map::new();
    nic.insert("kind".into(), "compute#networkInterface".into());
    nic.insert("name".into(), "nic0".into());
    nic.insert(
        "network".into(),
        r.attributes
            .get(NETWORK)
            .cloned()
            .unwrap_or_else(|| format!("{BASE}/projects/{project}/global/networks/default"))
            .into(),
    );
    if let Some(subnetwork) = r.attributes.get(SUBNETWORK) {
        nic.insert("subnetwork".into(), subnetwork.clone().into());
    }
    if let Some(ip) = r.private_ip {
        nic.insert("networkIP".into(), ip.to_string().into());
    }
    if r.attributes.contains_key(EXTERNAL) {
        let mut access = json!({"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT", "name": "External NAT"});
        if let Some(ip) = r.public_ip {
            access["natIP"] = ip.to_string().into();
        }
        nic.insert("accessConfigs".into(), json!([access]));
    }
    let metadata: Vec<Value> = r
        .attributes
        .iter()
        .filter_map(|(k, v)| Some(json!({"key": k.strip_prefix(METADATA)?, "value": v})))
        .collect();
    let mut disk = json!({
        "kind": "compute#attachedDisk",
        "type": "PERSISTENT",
        "mode": "READ_WRITE",
        "source": format!("{BASE}/projects/{project}/zones/{zone}/disks/{}", r.id),
        "deviceName": "persistent-disk-0",
        "index": 0,
        "boot": true,
        "autoDelete": true,
        "interface": "SCSI",
    });
    if let Some(gb) = r.config.disk_size_gb {
        disk["diskSizeGb"] = gb.to_string().into();
    }
    let mut instance = json!({
        "kind": "compute#instance",
        "id": numeric_id(&r.id).to_string(),
        "creationTimestamp": r.launch_time.format(&Rfc3339).unwrap_or_default(),
        "name": &*r.id,
        "machineType": format!("{BASE}/projects/{project}/zones/{zone}/machineTypes/{}", r.config.instance_type),
        "status": mapping::status(r.state),
        "zone": format!("{BASE}/projects/{project}/zones/{zone}"),
        "networkInterfaces": [Value::Object(nic)],
        "disks": [disk],
        "metadata": {"kind": "compute#metadata", "fingerprint": "ZW11bGF0b3I=", "items": metadata},
        "labels": r.config.tags,
        "labelFingerprint": "ZW11bGF0b3I=",
        "selfLink": format!("{BASE}/{}", resource(project, zone, &r.id)),
    });
    if let Some(reason) = r.state_reason {
        instance["statusMessage"] = reason.into();
    }
    if let Some(email) = r.attributes.get(SERVICE_ACCOUNT) {
        let scopes: Vec<&str> = r
            .attributes
            .get(SCOPES)
            .map_or(Vec::new(), |s| s.split(' ').collect());
        instance["serviceAccounts"] = json!([{"email": email, "scopes": scopes}]);
    }
    instance
}

impl AppState {
    fn operation_json(&self, op: &OpRecord, first: bool) -> Value {
        // The face's bookkeeping, not a cloud call: not logged, never faulted.
        let now = self.cloud.peek_state(&op.target);
        // An insert the model accepted and then failed: its instance is
        // gone, and the operation reports why.
        let later = || {
            let kind = self.cloud.vanished_launch_failure(&op.target)?;
            Some(mapping::launch_failure(kind, &op.project, &op.zone))
        };
        let error = match (&op.error, op.kind) {
            (Some(error), _) => Some(error.clone()),
            (None, OpKind::Create) if now.is_none() => later(),
            _ => None,
        };
        let status = if error.is_some() || op.kind.is_done(now) {
            "DONE"
        } else if first {
            "PENDING"
        } else {
            "RUNNING"
        };
        let mut value = json!({
            "kind": "compute#operation",
            "id": op.id.to_string(),
            "name": op.name,
            "zone": format!("{BASE}/projects/{}/zones/{}", op.project, op.zone),
            "operationType": operation_type(op.kind),
            "targetLink": format!("{BASE}/{}", resource(&op.project, &op.zone, &op.target)),
            "targetId": numeric_id(&op.target).to_string(),
            "status": status,
            "progress": if status == "DONE" { 100 } else { 0 },
            "insertTime": op.inserted,
            "selfLink": format!("{BASE}/projects/{}/zones/{}/operations/{}", op.project, op.zone, op.name),
        });
        if let Some((code, message, http)) = &error {
            value["error"] = json!({"errors": [{"code": code, "message": message}]});
            value["httpErrorStatusCode"] = http.as_u16().into();
            value["httpErrorMessage"] = http
                .canonical_reason()
                .unwrap_or_default()
                .to_ascii_uppercase()
                .into();
        }
        if status == "DONE" {
            value["endTime"] = op.inserted.clone().into();
        }
        value
    }

    fn gce(&self) -> &Operations {
        &self.gce_operations
    }
}

fn new_operation(
    state: &AppState,
    project: &str,
    zone: &str,
    kind: OpKind,
    target: &str,
) -> OpRecord {
    let n = state.gce().by_name.next_number();
    OpRecord {
        name: format!("operation-{n:013}-emulated"),
        id: 1_000_000 + n,
        project: project.to_owned(),
        zone: zone.to_owned(),
        kind,
        target: target.to_owned(),
        inserted: state.cloud.now_wall().format(&Rfc3339).unwrap_or_default(),
        error: None,
    }
}

/// Records and answers an operation; applies drop-after-commit.
fn started(state: &AppState, op: OpRecord, request_id: Option<&str>) -> Response {
    let value = state.operation_json(&op, true);
    let action = format!("compute.instances.{}", operation_type(op.kind));
    if let Some(id) = request_id {
        lock(&state.gce().by_request_id).insert(id, op.name.clone());
    }
    state.gce().by_name.insert(&op.name.clone(), op);
    let mut response = (StatusCode::OK, Json(value)).into_response();
    if state.wire.take_drop(&action) {
        response.extensions_mut().insert(DropConnection);
    }
    response
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A repeated `requestId`: the operation it started, without a new call.
fn replayed(state: &AppState, request_id: Option<&str>) -> Option<Response> {
    let name = lock(&state.gce().by_request_id).get(request_id?)?.clone();
    let op = state.gce().by_name.get(&name)?;
    Some((StatusCode::OK, Json(state.operation_json(&op, false))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutationQuery {
    request_id: Option<String>,
}

fn string_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The model launch an insert body asks for.
fn parse_insert(
    zone: &str,
    body: &Value,
) -> Result<(String, InstanceConfig, Attributes), GceError> {
    let name = string_at(body, "/name")
        .ok_or_else(|| GceError::invalid("Required field 'resource.name' not specified"))?;
    check_name("resource.name", name)?;
    let machine_type = string_at(body, "/machineType")
        .ok_or_else(|| GceError::invalid("Required field 'resource.machineType' not specified"))?;
    let image = string_at(body, "/disks/0/initializeParams/sourceImage").ok_or_else(|| {
        GceError::invalid(
            "Required field 'resource.disks[0].initializeParams.sourceImage' not specified",
        )
    })?;
    let mut config = InstanceConfig::new(image, last_segment(machine_type));
    if let Some(size) = body.pointer("/disks/0/initializeParams/diskSizeGb") {
        let gb = size
            .as_str()
            .and_then(|s| s.parse::<u32>().ok())
            .or_else(|| size.as_u64().and_then(|n| u32::try_from(n).ok()))
            .filter(|gb| (10..=65_536).contains(gb))
            .ok_or_else(|| {
                GceError::invalid(
                    "Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb'",
                )
            })?;
        config.disk_size_gb = Some(gb);
    }
    if let Some(labels) = body.get("labels").and_then(Value::as_object) {
        for (k, v) in labels {
            config
                .tags
                .insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    check_labels(&config.tags)?;
    let mut attributes = Attributes::new();
    attributes.insert(ZONE.to_owned(), zone.to_owned());
    let mut metadata_bytes = 0;
    for item in body
        .pointer("/metadata/items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = string_at(item, "/key").unwrap_or_default();
        let value = string_at(item, "/value").unwrap_or_default();
        let key_ok = (1..=128).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !key_ok {
            return Err(GceError::invalid(format!(
                "Invalid value for field 'resource.metadata': '{key}'"
            )));
        }
        metadata_bytes += key.len() + value.len();
        attributes.insert(format!("{METADATA}{key}"), value.to_owned());
    }
    if metadata_bytes > 512 * 1024 {
        return Err(GceError::invalid("Metadata is limited to 512 KB in total"));
    }
    if let Some(network) = string_at(body, "/networkInterfaces/0/network") {
        attributes.insert(NETWORK.to_owned(), network.to_owned());
    }
    if let Some(subnetwork) = string_at(body, "/networkInterfaces/0/subnetwork") {
        attributes.insert(SUBNETWORK.to_owned(), subnetwork.to_owned());
    }
    let external = body
        .pointer("/networkInterfaces/0/accessConfigs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if external {
        attributes.insert(EXTERNAL.to_owned(), "ONE_TO_ONE_NAT".to_owned());
    }
    if let Some(email) = string_at(body, "/serviceAccounts/0/email") {
        attributes.insert(SERVICE_ACCOUNT.to_owned(), email.to_owned());
        let scopes: Vec<&str> = body
            .pointer("/serviceAccounts/0/scopes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        attributes.insert(SCOPES.to_owned(), scopes.join(" "));
    }
    Ok((name.to_owned(), config, attributes))
}

async fn insert(
    State(state): State<AppState>,
    Path((project, zone)): Path<(String, String)>,
    Query(q): Query<MutationQuery>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(replay) = replayed(&state, q.request_id.as_deref()) {
        return replay;
    }
    answer(
        async {
            check_name("zone", &zone)?;
            let body: Value = serde_json::from_slice(&body)
                .map_err(|e| GceError::invalid(format!("Invalid JSON payload: {e}")))?;
            let (name, config, attributes) = parse_insert(&zone, &body)?;
            let mut op = new_operation(&state, &project, &zone, OpKind::Create, &name);
            match state.cloud.launch_named(&name, &config, attributes).await {
                Ok(_) => {}
                Err(e) => match mapping::operation_error(&e, &project, &zone) {
                    Some(error) => op.error = Some(error),
                    None => return Err(mapping::error(&e, &resource(&project, &zone, &name))),
                },
            }
            Ok(started(&state, op, q.request_id.as_deref()))
        }
        .await,
    )
}

/// The instance `name` in `zone`, or the 404 Compute Engine gives.
async fn describe_in_zone(
    state: &AppState,
    project: &str,
    zone: &str,
    name: &str,
) -> Result<InstanceRecord, GceError> {
    check_name("zone", zone)?;
    check_name("instance", name)?;
    let path = resource(project, zone, name);
    let record = state
        .cloud
        .describe(name)
        .await
        .map_err(|e| mapping::error(&e, &path))?;
    // A deleted instance is gone on Compute Engine, whatever the model's
    // retention; and an instance lives in exactly one zone.
    if record.state == CloudInstanceState::Terminated
        || record.attributes.get(ZONE).map(String::as_str) != Some(zone)
    {
        return Err(GceError::not_found(&path));
    }
    Ok(record)
}

async fn get_instance(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
) -> Response {
    answer(
        describe_in_zone(&state, &project, &zone, &name)
            .await
            .map(|r| Json(instance_json(&project, &r)).into_response()),
    )
}

async fn change(
    state: AppState,
    project: String,
    zone: String,
    name: String,
    request_id: Option<String>,
    kind: OpKind,
) -> Response {
    if let Some(replay) = replayed(&state, request_id.as_deref()) {
        return replay;
    }
    answer(
        async {
            // The zone must hold the instance before anything changes.
            let path = resource(&project, &zone, &name);
            let record = describe_in_zone(&state, &project, &zone, &name).await?;
            let result = match kind {
                OpKind::Delete => state.cloud.terminate(&record.id).await,
                OpKind::Start => state.cloud.start(&record.id).await,
                OpKind::Stop => state.cloud.stop(&record.id).await,
                OpKind::Create => unreachable!("insert has its own handler"),
            };
            result.map_err(|e| mapping::error(&e, &path))?;
            let op = new_operation(&state, &project, &zone, kind, &name);
            Ok(started(&state, op, request_id.as_deref()))
        }
        .await,
    )
}

async fn delete(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
) -> Response {
    change(state, project, zone, name, q.request_id, OpKind::Delete).await
}

async fn start(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
) -> Response {
    change(state, project, zone, name, q.request_id, OpKind::Start).await
}

async fn stop(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
) -> Response {
    change(state, project, zone, name, q.request_id, OpKind::Stop).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    filter: Option<String>,
    max_results: Option<u32>,
    page_token: Option<String>,
}

/// One page of instances matching `q`, in `zone` or in every zone.
async fn page(
    state: &AppState,
    zone: Option<&str>,
    q: &ListQuery,
) -> Result<(Vec<InstanceRecord>, Option<String>), GceError> {
    let expr = filter::parse(q.filter.as_deref().unwrap_or_default())
        .map_err(|e| GceError::invalid(format!("Invalid value for field 'filter': {e}")))?;
    let limit = match q.max_results {
        None => 500,
        Some(n @ 0..=500) => n.max(1) as usize,
        Some(_) => {
            return Err(GceError::invalid(
                "Invalid value for field 'maxResults': must be at most 500",
            ))
        }
    };
    let after = q
        .page_token
        .as_deref()
        .map(|t| {
            t.strip_prefix("pt-")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| GceError::invalid("Invalid page token"))
        })
        .transpose()?;
    let mut index = InstanceFilter::default().in_states(CloudInstanceState::ALL);
    if let Some(expr) = &expr {
        index.tags.extend(expr.required_labels());
    }
    let page = state
        .cloud
        .list(&index, after, limit.min(state.settings.gce_page_cap))
        .await
        .map_err(|e| mapping::error(&e, "instances"))?;
    let items = page
        .items
        .into_iter()
        .filter(|r| r.state != CloudInstanceState::Terminated)
        .filter(|r| zone.is_none_or(|z| r.attributes.get(ZONE).map(String::as_str) == Some(z)))
        .filter(|r| {
            expr.as_ref().is_none_or(|e| {
                e.matches(&filter::Subject {
                    name: &r.id,
                    status: mapping::status(r.state),
                    labels: &r.config.tags,
                })
            })
        })
        .collect();
    Ok((items, page.next.map(|n| format!("pt-{n}"))))
}

async fn list(
    State(state): State<AppState>,
    Path((project, zone)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Response {
    answer(
        async {
            check_name("zone", &zone)?;
            let (items, next) = page(&state, Some(&zone), &q).await?;
            let items: Vec<Value> = items.iter().map(|r| instance_json(&project, r)).collect();
            let mut body = json!({
                "kind": "compute#instanceList",
                "id": format!("projects/{project}/zones/{zone}/instances"),
                "items": items,
                "selfLink": format!("{BASE}/projects/{project}/zones/{zone}/instances"),
            });
            if let Some(next) = next {
                body["nextPageToken"] = next.into();
            }
            Ok(Json(body).into_response())
        }
        .await,
    )
}

async fn aggregated_list(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    answer(
        async {
            let (items, next) = page(&state, None, &q).await?;
            let mut scopes: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for r in &items {
                let zone = r.attributes.get(ZONE).cloned().unwrap_or_default();
                scopes
                    .entry(format!("zones/{zone}"))
                    .or_default()
                    .push(instance_json(&project, r));
            }
            let scopes: Map<String, Value> = scopes
                .into_iter()
                .map(|(scope, instances)| (scope, json!({"instances": instances})))
                .collect();
            let mut body = json!({
                "kind": "compute#instanceAggregatedList",
                "id": format!("projects/{project}/aggregated/instances"),
                "items": scopes,
                "selfLink": format!("{BASE}/projects/{project}/aggregated/instances"),
            });
            if let Some(next) = next {
                body["nextPageToken"] = next.into();
            }
            Ok(Json(body).into_response())
        }
        .await,
    )
}

fn find_operation(
    state: &AppState,
    project: &str,
    zone: &str,
    name: &str,
) -> Result<OpRecord, GceError> {
    state
        .gce()
        .by_name
        .get(name)
        .filter(|op| op.project == project && op.zone == zone)
        .ok_or_else(|| {
            GceError::not_found(&format!(
                "projects/{project}/zones/{zone}/operations/{name}"
            ))
        })
}

async fn get_operation(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
) -> Response {
    answer(
        find_operation(&state, &project, &zone, &name)
            .map(|op| Json(state.operation_json(&op, false)).into_response()),
    )
}

/// Waits until the operation is done, up to a bound (Compute Engine waits up
/// to two minutes), then answers it as it is.
async fn wait_operation(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
) -> Response {
    answer(
        async {
            let op = find_operation(&state, &project, &zone, &name)?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            loop {
                let value = state.operation_json(&op, false);
                if value["status"] == "DONE" || tokio::time::Instant::now() >= deadline {
                    return Ok(Json(value).into_response());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn request_ids_name_their_operation_for_an_hour_then_are_forgotten() {
        let operations = Operations::default();
        let name = || lock(&operations.by_request_id).get("r-1").cloned();
        lock(&operations.by_request_id).insert("r-1", "operation-1".to_owned());
        tokio::time::advance(Duration::from_secs(59 * 60)).await;
        assert_eq!(name().as_deref(), Some("operation-1"));
        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        assert_eq!(name(), None);
    }
}
