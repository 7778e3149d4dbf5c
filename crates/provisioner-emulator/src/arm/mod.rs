//! The Azure Resource Manager face: Microsoft.Compute virtual machines and
//! the Microsoft.Network interfaces and public addresses created with them,
//! over the shared model.
//!
//! VMs: PUT (create; a PUT of an existing VM applies the update: tags,
//! user data, size; with `If-None-Match: *` it is refused with 412), GET
//! (`$expand=instanceView`), DELETE, `deallocate`, `start`, `powerOff`,
//! `instanceView`, and list (`$expand=instanceView` only with a `$filter`,
//! as the spec says; `statusOnly` on the subscription's list; paged by
//! `nextLink`, by group or by subscription). Network interfaces and
//! public addresses: PUT, GET, DELETE, list; OS disks: GET; virtual
//! networks: PUT, GET, DELETE, and GET of a subnet (`vnets.rs`); an
//! interface joins an existing subnet only. Those created
//! with a VM exist while it does, and outlive it when its request set their
//! `deleteOption` to `Detach`. Long-running operations
//! answer as ARM does: 201 or 202 with `Azure-AsyncOperation`, `Location` and
//! `Retry-After`, and an operation status resource that goes from
//! `InProgress` to `Succeeded` when the model reaches the state asked for.
//! Resource groups: PUT, GET, HEAD; every resource lives in an existing
//! one. Network interfaces and public addresses are also created, listed
//! and deleted on their own, and a VM may name an existing NIC by id.
//! `api-version` is required and checked against the published versions of
//! the resource type; errors use ARM's envelope, with
//! `details[]` where Compute sends them (throttling: 429
//! `OperationNotAllowed` with a `TooManyRequests` detail and Retry-After;
//! vCPU quota: 409 `OperationNotAllowed` naming the quota).
//!
//! A create the model accepted and then failed
//! ([`FakeCloud::fail_after_acceptance`](provisioner_fake::FakeCloud::fail_after_acceptance))
//! is answered 201 like any create; its operation turns `Failed` with the
//! Compute error (`AllocationFailed`), and the VM stays, provisioningState
//! `Failed`, with its NIC, disk and public address, until it is deleted, as
//! Azure leaves it (and bills it).
//!
//! The files: this one (routes, the face's records, `api-version`, auth and
//! the error envelope), `vms.rs` (the VM handlers), `spot.rs` (Spot VM
//! fields), `activity.rs` (the activity log, where evictions show), `network.rs` (network
//! interfaces, public addresses, disks), `operations.rs` (long-running
//! answers and the operation status resource), `request.rs` (what a PUT
//! body asks for), `checks.rs` (names and tags), `bodies.rs` (the JSON
//! answered), `mapping.rs` (states and errors).

mod activity;
mod bodies;
mod checks;
mod groups;
pub(crate) mod mapping;
mod network;
mod operations;
mod request;
mod spot;
mod versions;
mod vms;
mod vnets;

use activity::*;
use bodies::*;
use checks::*;
use groups::*;
use network::*;
use operations::*;
use request::*;
use vms::*;
use vnets::*;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceFilter, Tags, UserData};
use provisioner_fake::{Attributes, InstanceRecord};

use crate::wire::{request_id, Face};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::lro::{Change as OpKind, Registry};
use crate::wire::DropConnection;
use crate::AppState;
use mapping::{ArmError, StopMode};

const VMS: &str = "Microsoft.Compute/virtualMachines";

/// Attribute keys of the wire fields this face keeps.
mod attr {
    pub(crate) const GROUP: &str = "resourceGroup";
    pub(crate) const SUBSCRIPTION: &str = "subscription";
    pub(crate) const LOCATION: &str = "location";
    pub(crate) const IMAGE_REFERENCE: &str = "imageReference";
    pub(crate) const OS_PROFILE: &str = "osProfile";
    /// The NIC's resource id.
    pub(crate) const NIC_ID: &str = "nic.id";
    /// Set when the VM named an existing NIC (`networkInterfaces[].id`)
    /// rather than creating one.
    pub(crate) const NIC_GIVEN: &str = "nic.given";
    pub(crate) const NIC_DELETE: &str = "nic.deleteOption";
    pub(crate) const SUBNET: &str = "nic.subnet";
    pub(crate) const NSG: &str = "nic.nsg";
    /// The public address's resource id.
    pub(crate) const PIP_ID: &str = "pip.id";
    /// Set when the public address exists on its own (named by the NIC).
    pub(crate) const PIP_GIVEN: &str = "pip.given";
    pub(crate) const PIP_DELETE: &str = "pip.deleteOption";
    pub(crate) const DISK: &str = "disk.name";
    pub(crate) const DISK_DELETE: &str = "disk.deleteOption";
    pub(crate) const USER_DATA: &str = "userData";
}

pub(crate) fn router() -> Router<AppState> {
    let sub = "/subscriptions/{sub}";
    let group = "/subscriptions/{sub}/resourceGroups/{group}/providers";
    let vm = format!("{group}/{VMS}/{{vm}}");
    Router::new()
        .route(
            &format!("{sub}/resourceGroups/{{group}}"),
            put(put_group).get(get_group).head(head_group),
        )
        .route(&format!("{sub}/providers/{VMS}"), get(list_all_vms))
        .route(
            &format!("{sub}/providers/Microsoft.Insights/eventtypes/management/values"),
            get(list_activity),
        )
        .route(&format!("{group}/{VMS}"), get(list_vms))
        .route(&vm, get(get_vm).put(put_vm).delete(delete_vm))
        .route(&format!("{vm}/instanceView"), get(instance_view))
        .route(&format!("{vm}/deallocate"), post(deallocate))
        .route(&format!("{vm}/start"), post(start))
        .route(&format!("{vm}/powerOff"), post(power_off))
        .route(&format!("{group}/{DISK_KIND}/{{name}}"), get(get_disk))
        .route(&format!("{group}/{NIC_KIND}"), get(list_nics))
        .route(
            &format!("{group}/{NIC_KIND}/{{name}}"),
            get(get_nic).put(put_nic).delete(delete_nic),
        )
        .route(&format!("{group}/{PIP_KIND}"), get(list_pips))
        .route(
            &format!("{group}/{PIP_KIND}/{{name}}"),
            get(get_pip).put(put_pip).delete(delete_pip),
        )
        .route(
            &format!("{group}/{VNET_KIND}/{{name}}"),
            get(get_vnet).put(put_vnet).delete(delete_vnet),
        )
        .route(
            &format!("{group}/{VNET_KIND}/{{vnet}}/subnets/{{name}}"),
            get(get_subnet),
        )
        .route(
            &format!("{sub}/providers/{{namespace}}/locations/{{location}}/operations/{{id}}"),
            get(operation_status),
        )
}

/// ARM matches the fixed words of its paths without regard to case (the
/// Python SDK sends `resourcegroups` for groups, `resourceGroups` for the
/// rest): rewrites them to the spelling the routes use, leaving names as
/// sent.
pub(crate) fn canonical_path<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    const WORDS: &[&str] = &[
        "subscriptions",
        "resourceGroups",
        "providers",
        "Microsoft.Compute",
        "Microsoft.Network",
        "virtualMachines",
        "networkInterfaces",
        "publicIPAddresses",
        "virtualNetworks",
        "subnets",
        "disks",
        "locations",
        "operations",
        "instanceView",
        "deallocate",
        "start",
        "powerOff",
    ];
    let uri = request.uri();
    let path = uri.path();
    if !path
        .get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
    {
        return request;
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    // The positions of fixed words: /subscriptions/{sub}/resourceGroups/
    // {group}/providers/{namespace}/{type}/{name}/{action}, or
    // /subscriptions/{sub}/providers/{namespace}/{type}/{location}/operations/{id}.
    let in_group = segments
        .get(2)
        .is_some_and(|s| s.eq_ignore_ascii_case("resourceGroups"));
    let fixed: &[usize] = if in_group {
        &[0, 2, 4, 5, 6, 8]
    } else {
        &[0, 2, 3, 4, 6]
    };
    let rewritten: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if fixed.contains(&i) {
                WORDS
                    .iter()
                    .find(|w| w.eq_ignore_ascii_case(s))
                    .copied()
                    .unwrap_or(s)
            } else {
                s
            }
        })
        .collect();
    let mut new = format!("/{}", rewritten.join("/"));
    if let Some(query) = uri.query() {
        new.push('?');
        new.push_str(query);
    }
    if let Ok(parsed) = new.parse() {
        *request.uri_mut() = parsed;
    }
    request
}

/// The face's own records: operations, stop modes, resource groups, and the
/// network and disk resources around VMs.
#[derive(Debug, Default)]
pub(crate) struct ArmState {
    /// Operation status resources, each kept an hour.
    operations: Registry<ArmOp>,
    stop_modes: Mutex<HashMap<String, StopMode>>,
    /// Resource groups by [`key`] of their id → their body.
    groups: Mutex<HashMap<String, Value>>,
    /// Network or disk resource, by [`key`] of its id → the VM using it.
    /// A path that holds both maps locks `owners` first, then `resources`.
    owners: Mutex<HashMap<String, String>>,
    /// Network or disk resources that exist on their own, by [`key`] of
    /// their id → their body: created by a PUT, or left behind by a VM
    /// whose `deleteOption` for them was `Detach`.
    resources: Mutex<HashMap<String, Value>>,
    /// The address each network interface or public address made by a PUT
    /// holds from its creation to its deletion, taken from the model's
    /// pools (true: public), by [`key`] of its id.
    addresses: Mutex<HashMap<String, (std::net::Ipv4Addr, bool)>>,
    /// The power actions callers made (the activity log, `activity.rs`).
    activity: ActivityLog,
}

/// ARM ids are case-insensitive: the map key of one.
fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// The last segment of a resource id: the resource's name.
fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or_default()
}

#[derive(Debug, Clone)]
struct ArmOp {
    /// The VM the operation changes; empty for a network operation, which
    /// is done when it is accepted.
    vm: String,
    kind: OpKind,
    started: String,
    /// The model's number of the VM's latest start when the operation was
    /// accepted: for a start, its own, by which a start that failed after
    /// acceptance is found.
    start: u32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An error this face's handlers never produced (no such route, a refused
/// extractor), in ARM's envelope.
pub(crate) fn wire_error(status: StatusCode, message: &str) -> Response {
    let code = match status.as_u16() {
        404 => "NotFound",
        405 => "MethodNotAllowed",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        500..=599 => "InternalServerError",
        _ => "InvalidRequestContent",
    };
    error_response(ArmError::new(status, code, message))
}

fn error_response(e: ArmError) -> Response {
    let mut body = json!({"error": {"code": e.code, "message": e.message}});
    if !e.details.is_empty() {
        let details: Vec<Value> = e
            .details
            .iter()
            .map(|(code, target, message)| json!({"code": code, "target": target, "message": message}))
            .collect();
        body["error"]["details"] = details.into();
    }
    let mut response = (e.status, [("x-ms-error-code", e.code)], Json(body)).into_response();
    if let Some(secs) = e.retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            secs.to_string().parse().expect("digits"),
        );
    }
    response
}

/// The headers naming ARM's answer to a request: `x-ms-request-id`, new
/// for each answer, and `x-ms-correlation-request-id`, the client's when it
/// sent one. ARM sends both on every answer, errors included; a client's
/// error keeps the request id for a support case.
pub(crate) async fn stamp_request_ids(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if Face::of_path(request.uri().path()) != Some(Face::ResourceManager) {
        return next.run(request).await;
    }
    let id = request_id();
    let correlation = request
        .headers()
        .get(CORRELATION_REQUEST_ID)
        .cloned()
        .unwrap_or_else(|| header_value(&id));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, header_value(&id));
    headers.insert(CORRELATION_REQUEST_ID, correlation);
    response
}

const REQUEST_ID: &str = "x-ms-request-id";
const CORRELATION_REQUEST_ID: &str = "x-ms-correlation-request-id";

fn header_value(id: &str) -> axum::http::HeaderValue {
    id.parse().expect("a request id is ASCII")
}

fn answer(result: Result<Response, ArmError>) -> Response {
    result.unwrap_or_else(error_response)
}

#[derive(Debug, serde::Deserialize)]
struct Params {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
    #[serde(rename = "$expand")]
    expand: Option<String>,
    #[serde(rename = "statusOnly")]
    status_only: Option<String>,
    #[serde(rename = "$filter")]
    filter: Option<String>,
    #[serde(rename = "$skiptoken")]
    skip_token: Option<String>,
}

impl Params {
    fn check(&self, allowed: &[&str]) -> Result<(), ArmError> {
        match self.api_version.as_deref() {
            None => Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )),
            Some(v) if allowed.contains(&v) => Ok(()),
            Some(v) => Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    allowed.join(",")
                ),
            )),
        }
    }

    /// The api-version asked for (checked by [`Params::check`]).
    fn version(&self) -> &str {
        self.api_version.as_deref().unwrap_or_default()
    }

    /// A VM's GET with `$expand=instanceView`.
    fn wants_instance_view(&self) -> bool {
        self.expand.as_deref() == Some("instanceView")
    }
}

fn check_auth(headers: &HeaderMap) -> Result<(), ArmError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
    if bearer {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ))
    }
}

/// What a request on a resource in a group checks first, in ARM's order:
/// the token, the api-version against `versions`, the group.
fn check_in_group(
    state: &AppState,
    headers: &HeaderMap,
    q: &Params,
    versions: &[&str],
    (sub, group): (&str, &str),
) -> Result<(), ArmError> {
    check_auth(headers)?;
    q.check(versions)?;
    require_group(state, sub, group)
}

fn resource_id(sub: &str, group: &str, kind: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}")
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("{}://{host}", state.settings.scheme)
}

impl AppState {
    fn arm(&self) -> &ArmState {
        &self.arm_state
    }

    fn stop_mode(&self, vm: &str) -> StopMode {
        lock(&self.arm().stop_modes)
            .get(vm)
            .copied()
            .unwrap_or(StopMode::Deallocate)
    }
}

/// The model's VM `name` in `group`, or ARM's 404.
async fn find_vm(
    state: &AppState,
    sub: &str,
    group: &str,
    name: &str,
) -> Result<InstanceRecord, ArmError> {
    check_vm_name(name)?;
    require_group(state, sub, group)?;
    let record = state
        .cloud
        .describe(name)
        .await
        .map_err(|e| mapping::error(&e, name, group))?;
    let here = record
        .attributes
        .get(attr::GROUP)
        .is_some_and(|g| g.eq_ignore_ascii_case(group))
        && record
            .attributes
            .get(attr::SUBSCRIPTION)
            .map(String::as_str)
            == Some(sub);
    if !here || !exists_on_arm(&record) {
        return Err(ArmError::not_found(VMS, name, group));
    }
    Ok(record)
}

/// True while ARM shows the VM: until it is deleted, and a VM whose create
/// failed after acceptance until someone deletes it.
fn exists_on_arm(r: &InstanceRecord) -> bool {
    r.state != CloudInstanceState::Terminated || r.failure.is_some()
}
