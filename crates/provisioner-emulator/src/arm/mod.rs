//! The Azure Resource Manager face: Microsoft.Compute virtual machines and
//! the Microsoft.Network interfaces and public addresses created with them,
//! over the shared model.
//!
//! VMs: PUT (create; a PUT of an existing VM applies the update: tags,
//! user data, size; with `If-None-Match: *` it is refused with 412), GET
//! (`$expand=instanceView`), DELETE, `deallocate`, `start`, `powerOff`,
//! `instanceView`, and list (with `$expand=instanceView` or `statusOnly`,
//! paged by `nextLink`). Network interfaces and public addresses: GET and
//! list; OS disks: GET. They exist while their VM does, and outlive it when
//! its request set their `deleteOption` to `Detach`. Long-running operations
//! answer as ARM does: 201 or 202 with `Azure-AsyncOperation`, `Location` and
//! `Retry-After`, and an operation status resource that goes from
//! `InProgress` to `Succeeded` when the model reaches the state asked for.
//! `api-version` is required and checked; errors use ARM's envelope, with
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
//! the error envelope), `vms.rs` (the VM handlers), `network.rs` (network
//! interfaces, public addresses, disks), `operations.rs` (long-running
//! answers and the operation status resource), `request.rs` (what a PUT
//! body asks for), `checks.rs` (names and tags), `bodies.rs` (the JSON
//! answered), `mapping.rs` (states and errors).

mod bodies;
mod checks;
pub(crate) mod mapping;
mod network;
mod operations;
mod request;
mod vms;

use bodies::*;
use checks::*;
use network::*;
use operations::*;
use request::*;
use vms::*;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceFilter, Tags, UserData};
use provisioner_fake::{Attributes, InstanceRecord};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::lro::{Change as OpKind, Registry};
use crate::wire::DropConnection;
use crate::AppState;
use mapping::{ArmError, StopMode};

const COMPUTE_VERSIONS: &[&str] = &["2024-07-01", "2024-11-01"];
const NETWORK_VERSIONS: &[&str] = &["2024-03-01"];
const VMS: &str = "Microsoft.Compute/virtualMachines";

/// Attribute keys of the wire fields this face keeps.
mod attr {
    pub(crate) const GROUP: &str = "resourceGroup";
    pub(crate) const SUBSCRIPTION: &str = "subscription";
    pub(crate) const LOCATION: &str = "location";
    pub(crate) const IMAGE_REFERENCE: &str = "imageReference";
    pub(crate) const OS_PROFILE: &str = "osProfile";
    pub(crate) const NIC: &str = "nic.name";
    pub(crate) const NIC_DELETE: &str = "nic.deleteOption";
    pub(crate) const SUBNET: &str = "nic.subnet";
    pub(crate) const NSG: &str = "nic.nsg";
    pub(crate) const PIP: &str = "pip.name";
    pub(crate) const PIP_DELETE: &str = "pip.deleteOption";
    pub(crate) const DISK: &str = "disk.name";
    pub(crate) const DISK_DELETE: &str = "disk.deleteOption";
    pub(crate) const USER_DATA: &str = "userData";
}

pub(crate) fn router() -> Router<AppState> {
    let group = "/subscriptions/{sub}/resourceGroups/{group}/providers";
    Router::new()
        .route(
            &format!("{group}/Microsoft.Compute/virtualMachines"),
            get(list_vms),
        )
        .route(
            &format!("{group}/Microsoft.Compute/virtualMachines/{{vm}}"),
            get(get_vm).put(put_vm).delete(delete_vm),
        )
        .route(
            &format!("{group}/Microsoft.Compute/virtualMachines/{{vm}}/instanceView"),
            get(instance_view),
        )
        .route(
            &format!("{group}/Microsoft.Compute/virtualMachines/{{vm}}/deallocate"),
            post(deallocate),
        )
        .route(
            &format!("{group}/Microsoft.Compute/virtualMachines/{{vm}}/start"),
            post(start),
        )
        .route(
            &format!("{group}/Microsoft.Compute/virtualMachines/{{vm}}/powerOff"),
            post(power_off),
        )
        .route(
            &format!("{group}/Microsoft.Compute/disks/{{name}}"),
            get(get_disk),
        )
        .route(
            &format!("{group}/Microsoft.Network/networkInterfaces"),
            get(list_nics),
        )
        .route(
            &format!("{group}/Microsoft.Network/networkInterfaces/{{name}}"),
            get(get_nic),
        )
        .route(
            &format!("{group}/Microsoft.Network/publicIPAddresses"),
            get(list_pips),
        )
        .route(
            &format!("{group}/Microsoft.Network/publicIPAddresses/{{name}}"),
            get(get_pip),
        )
        .route(
            "/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/operations/{id}",
            get(operation_status),
        )
}

/// The face's own records: operations, stop modes, the network resources
/// named at creation, and resources left behind by a `Detach` delete option.
#[derive(Debug, Default)]
pub(crate) struct ArmState {
    /// Operation status resources, each kept an hour.
    operations: Registry<ArmOp>,
    stop_modes: Mutex<HashMap<String, StopMode>>,
    /// Network or disk resource name → its VM.
    owners: Mutex<HashMap<String, String>>,
    /// Resource name → its last body, for resources that outlived their VM.
    orphans: Mutex<HashMap<String, Value>>,
}

#[derive(Debug, Clone)]
struct ArmOp {
    vm: String,
    kind: OpKind,
    started: String,
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

    fn wants_instance_view(&self) -> bool {
        self.expand.as_deref() == Some("instanceView")
            || self.status_only.as_deref() == Some("true")
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

fn resource_id(sub: &str, group: &str, kind: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}")
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
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
    let record = state
        .cloud
        .describe(name)
        .await
        .map_err(|e| mapping::error(&e, name, group))?;
    let here = record.attributes.get(attr::GROUP).map(String::as_str) == Some(group)
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
