//! The Compute Engine face: compute/v1 REST JSON over the shared model.
//!
//! Instances `insert`, `get`, `list`, `aggregatedList`, `delete`, `start`,
//! `stop`, `suspend`, `resume`, `setLabels`, `setMetadata`; zone operations
//! `get`, `wait` and `list`; disks `get` and `list` (each instance's boot
//! disk, deleted with it or kept as its `autoDelete` says: `disks.rs`). Paths, fields and enum values follow the
//! discovery document (`shared/fixtures/gce`). Instances are named by the
//! caller; a name is unique in its project and zone, as on Compute Engine
//! (the model's id is the instance's resource path,
//! `projects/P/zones/Z/instances/NAME`). Labels are the model's tags;
//! metadata items and the other wire fields are kept as the model's
//! attributes and echoed.
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
//! Spot VMs and their preemption operations: `spot.rs`.

mod bodies;
mod disks;
mod filter;
mod mapping;
mod operations;
mod spot;
mod updates;

use bodies::{check_labels, check_name, instance_json, metadata_items, parse_insert, string_at};

pub(crate) use operations::Operations;
use operations::*;
use updates::*;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use provisioner_core::provider::consistency::Expiring;
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
        .route(&format!("{zone}/disks"), get(disks::list_disks))
        .route(&format!("{zone}/disks/{{disk}}"), get(disks::get_disk))
        .route(&format!("{zone}/instances/{{instance}}/start"), post(start))
        .route(&format!("{zone}/instances/{{instance}}/stop"), post(stop))
        .route(
            "/compute/v1/projects/{project}/aggregated/instances",
            get(aggregated_list),
        )
        .route(&format!("{zone}/operations"), get(list_operations))
        .route(
            &format!("{zone}/operations/{{operation}}"),
            get(get_operation),
        )
        .route(
            &format!("{zone}/instances/{{instance}}/setLabels"),
            post(set_labels),
        )
        .route(
            &format!("{zone}/instances/{{instance}}/setMetadata"),
            post(set_metadata),
        )
        .route(
            &format!("{zone}/instances/{{instance}}/suspend"),
            post(suspend),
        )
        .route(
            &format!("{zone}/instances/{{instance}}/resume"),
            post(resume),
        )
        .route(
            &format!("{zone}/operations/{{operation}}/wait"),
            post(wait_operation),
        )
}

type Answer = Result<Response, GceError>;

/// The longest URL Google's front ends take on a GET: past 8,192
/// characters they answer 414 (googleapis/google-api-nodejs-client issue
/// 972), so a client's filter must fit.
const MAX_URL: usize = 8192;

/// Refuses a Compute Engine request whose URL is longer than [`MAX_URL`]
/// with 414, before any handler sees it.
pub(crate) async fn refuse_long_urls(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let too_long = crate::wire::Face::of_path(request.uri().path())
        == Some(crate::wire::Face::ComputeEngine)
        && request.uri().to_string().len() > MAX_URL;
    if too_long {
        return wire_error(
            StatusCode::URI_TOO_LONG,
            "The requested URL is too large to process.",
        );
    }
    next.run(request).await
}

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

fn resource(project: &str, zone: &str, instance: &str) -> String {
    format!("projects/{project}/zones/{zone}/instances/{instance}")
}

fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn numeric_id(name: &str) -> u64 {
    // A stable numeric id per name, as Compute Engine gives one (63 bits,
    // so it stays positive where a client reads it signed).
    provisioner_core::provider::naming::stable_hash(name.as_bytes()) >> 1
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutationQuery {
    request_id: Option<String>,
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
            let id = resource(&project, &zone, &name);
            let disk = attributes
                .get(disks::DISK_NAME)
                .cloned()
                .unwrap_or_default();
            let disks = &state.gce().disks;
            // An instance of that name answers for itself (alreadyExists).
            if state.cloud.held_state(&id).is_none() {
                disks.check_free(&state.cloud, &disks::disk_path(&project, &zone, &disk))?;
            }
            match state.cloud.launch_named(&id, &config, attributes).await {
                Ok(record) => disks.inserted(&state.cloud, (&project, &zone), &record),
                Err(e) => match mapping::operation_error(&e, &project, &zone) {
                    Some(error) => op.error = Some(error),
                    None => return Err(mapping::error(&e, &id)),
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
        .describe(&path)
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
            .map(|r| Json(instance_json(&state, &project, &r)).into_response()),
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
            let suspended = is_suspended(&state, &record.id);
            let result = match kind {
                // A suspended instance comes back with resume only.
                OpKind::Start if suspended => {
                    return Err(GceError::new(
                        StatusCode::BAD_REQUEST,
                        "resourceNotReady",
                        format!("The resource '{path}' is suspended; resume it instead"),
                    ))
                }
                OpKind::Delete => state.cloud.terminate(&record.id).await,
                OpKind::Start => state.cloud.start(&record.id).await,
                OpKind::Stop => state.cloud.stop(&record.id).await,
                OpKind::Create | OpKind::Update => unreachable!("these have their own handlers"),
            };
            let changed = result.map_err(|e| mapping::error(&e, &path))?;
            if suspended {
                lock(&state.gce().suspended).remove(&*record.id);
            }
            let mut op = new_operation(&state, &project, &zone, kind, &name);
            // Which start this is: the model may fail it after acceptance.
            op.start = changed.starts;
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

/// A list's `maxResults` (at most 500; default 500) and the position after
/// which its `pageToken` (`PREFIX` and a number) resumes.
pub(super) fn paging(
    max_results: Option<u32>,
    page_token: Option<&str>,
    prefix: &str,
) -> Result<(usize, Option<u64>), GceError> {
    let limit = match max_results {
        None => 500,
        Some(n @ 0..=500) => n.max(1) as usize,
        Some(_) => {
            return Err(GceError::invalid(
                "Invalid value for field 'maxResults': must be at most 500",
            ))
        }
    };
    let after = page_token
        .map(|t| {
            t.strip_prefix(prefix)
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| GceError::invalid("Invalid page token"))
        })
        .transpose()?;
    Ok((limit, after))
}

/// One page of instances matching `q`, in `zone` or in every zone.
async fn page(
    state: &AppState,
    project: &str,
    zone: Option<&str>,
    q: &ListQuery,
) -> Result<(Vec<InstanceRecord>, Option<String>), GceError> {
    let expr = filter::parse(q.filter.as_deref().unwrap_or_default())
        .map_err(|e| GceError::invalid(format!("Invalid value for field 'filter': {e}")))?;
    let (limit, after) = paging(q.max_results, q.page_token.as_deref(), "pt-")?;
    let mut index = InstanceFilter::default().in_states(CloudInstanceState::ALL);
    if let Some(expr) = &expr {
        index.tags.extend(expr.required_labels());
    }
    // Compute Engine filters, then pages: a nextPageToken comes only when
    // more results match than maxResults ("If the number of available
    // results is larger than maxResults, Compute Engine returns a
    // nextPageToken", the list methods' reference). So model pages are read
    // until the page is full of matches or the model has no more.
    let limit = limit.min(state.settings.gce_page_cap);
    let prefix = format!("projects/{project}/");
    let admits = |r: &InstanceRecord| {
        r.state != CloudInstanceState::Terminated
            && r.id.starts_with(&prefix)
            && zone.is_none_or(|z| r.attributes.get(ZONE).map(String::as_str) == Some(z))
            && expr.as_ref().is_none_or(|e| {
                e.matches(&filter::Subject {
                    name: last_segment(&r.id),
                    status: status_of(state, r),
                    labels: &r.config.tags,
                    other: &[],
                })
            })
    };
    let mut items = Vec::new();
    let mut after = after;
    loop {
        let page = state
            .cloud
            .list(&index, after, limit)
            .await
            .map_err(|e| mapping::error(&e, "instances"))?;
        for record in page.items {
            if !admits(&record) {
                continue;
            }
            if items.len() == limit {
                // More match than fit: the next page starts at this one.
                return Ok((items, Some(format!("pt-{}", record.seq))));
            }
            items.push(record);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok((items, None)),
        }
    }
}

async fn list(
    State(state): State<AppState>,
    Path((project, zone)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Response {
    answer(
        async {
            check_name("zone", &zone)?;
            let (items, next) = page(&state, &project, Some(&zone), &q).await?;
            let items: Vec<Value> = items
                .iter()
                .map(|r| instance_json(&state, &project, r))
                .collect();
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
            let (items, next) = page(&state, &project, None, &q).await?;
            let mut scopes: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for r in &items {
                let zone = r.attributes.get(ZONE).cloned().unwrap_or_default();
                scopes
                    .entry(format!("zones/{zone}"))
                    .or_default()
                    .push(instance_json(&state, &project, r));
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
