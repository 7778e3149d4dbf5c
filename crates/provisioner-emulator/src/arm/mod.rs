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

pub(crate) mod mapping;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use provisioner_core::consistency::Expiring;
use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceFilter, Tags, UserData};
use provisioner_fake::{Attributes, InstanceRecord};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::lro::Change as OpKind;
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
#[derive(Debug)]
pub(crate) struct ArmState {
    next: AtomicU64,
    /// Operation status resources, each kept an hour.
    operations: Mutex<Expiring<ArmOp>>,
    stop_modes: Mutex<HashMap<String, StopMode>>,
    /// Network or disk resource name → its VM.
    owners: Mutex<HashMap<String, String>>,
    /// Resource name → its last body, for resources that outlived their VM.
    orphans: Mutex<HashMap<String, Value>>,
}

impl Default for ArmState {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            operations: Mutex::new(Expiring::new(std::time::Duration::from_secs(3600))),
            stop_modes: Mutex::default(),
            owners: Mutex::default(),
            orphans: Mutex::default(),
        }
    }
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

/// Azure's VM name rules (Linux): 1 to 64 letters, digits, `-`, `_` and
/// `.`, starting with a letter or digit, not ending in `.` or `-`.
fn check_vm_name(name: &str) -> Result<(), ArmError> {
    let b = name.as_bytes();
    let ok = (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && !matches!(b[b.len() - 1], b'.' | b'-');
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("The resource name '{name}' is invalid."),
        ))
    }
}

/// Azure's tag rules: 50 tags, names up to 512 characters without
/// `<>%&\?/`, values up to 256.
fn check_tags(tags: &Tags) -> Result<(), ArmError> {
    if tags.len() > 50 {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidTagNameCharacters",
            "At most 50 tags",
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 512 || k.chars().any(|c| "<>%&\\?/".contains(c)) {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidTagNameCharacters",
                format!("The tag names '{k}' have reserved characters '<,>,%,&,\\,?,/' or control characters."),
            ));
        }
        if v.chars().count() > 256 {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidTagValueLength",
                format!("The value of tag '{k}' is longer than 256 characters."),
            ));
        }
    }
    Ok(())
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

fn instance_view_json(state: &AppState, r: &InstanceRecord) -> Value {
    if let Some(kind) = r.failure {
        // A failed allocation: the provisioning state says why; the VM never
        // got a power state.
        let (code, message) = mapping::launch_failure(kind);
        return json!({
            "computerName": &*r.id,
            "statuses": [{
                "code": format!("ProvisioningState/failed/{code}"),
                "level": "Error",
                "displayStatus": "Provisioning failed",
                "message": message,
                "time": state.cloud.now_wall().format(&Rfc3339).unwrap_or_default(),
            }],
        });
    }
    let first_boot = r.state == CloudInstanceState::Pending
        && r.previous_state == CloudInstanceState::Pending
        && !lock(&state.arm().stop_modes).contains_key(&*r.id);
    let (provisioning, power, display) =
        mapping::states(r.state, state.stop_mode(&r.id), first_boot);
    let time = r.launch_time.format(&Rfc3339).unwrap_or_default();
    json!({
        "computerName": &*r.id,
        "osName": "ubuntu",
        "osVersion": "22.04",
        "statuses": [
            {"code": format!("ProvisioningState/{}", provisioning.to_ascii_lowercase()), "level": "Info",
             "displayStatus": format!("Provisioning {}", provisioning.to_ascii_lowercase()), "time": time},
            {"code": format!("PowerState/{power}"), "level": "Info", "displayStatus": display},
        ],
    })
}

fn vm_json(state: &AppState, r: &InstanceRecord, with_view: bool) -> Value {
    let a = &r.attributes;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let (sub, group) = (get(attr::SUBSCRIPTION), get(attr::GROUP));
    let first_boot = r.state == CloudInstanceState::Pending
        && !lock(&state.arm().stop_modes).contains_key(&*r.id);
    let (mut provisioning, _, _) = mapping::states(r.state, state.stop_mode(&r.id), first_boot);
    if r.failure.is_some() {
        provisioning = "Failed";
    }
    let image: Value = serde_json::from_str(&get(attr::IMAGE_REFERENCE)).unwrap_or(Value::Null);
    let os_profile: Value =
        serde_json::from_str(&get(attr::OS_PROFILE)).unwrap_or_else(|_| json!({}));
    let nic = get(attr::NIC);
    let mut os_disk = json!({
        "osType": "Linux",
        "name": get(attr::DISK),
        "createOption": "FromImage",
        "caching": "ReadWrite",
        "managedDisk": {
            "storageAccountType": "Standard_LRS",
            "id": resource_id(&sub, &group, "Microsoft.Compute/disks", &get(attr::DISK)),
        },
        "deleteOption": get(attr::DISK_DELETE),
    });
    if let Some(gb) = r.config.disk_size_gb {
        os_disk["diskSizeGB"] = gb.into();
    }
    let mut vm = json!({
        "id": resource_id(&sub, &group, VMS, &r.id),
        "name": &*r.id,
        "type": VMS,
        "location": get(attr::LOCATION),
        "tags": r.config.tags,
        "properties": {
            "vmId": format!("{:08x}-0000-4000-8000-{:012x}", r.seq, r.seq),
            "hardwareProfile": {"vmSize": r.config.instance_type},
            "storageProfile": {"imageReference": image, "osDisk": os_disk, "dataDisks": []},
            "osProfile": os_profile,
            "networkProfile": {
                "networkInterfaces": [{
                    "id": resource_id(&sub, &group, "Microsoft.Network/networkInterfaces", &nic),
                    "properties": {"primary": true, "deleteOption": get(attr::NIC_DELETE)},
                }],
            },
            "provisioningState": provisioning,
            "timeCreated": r.launch_time.format(&Rfc3339).unwrap_or_default(),
        },
    });
    if with_view {
        vm["properties"]["instanceView"] = instance_view_json(state, r);
    }
    vm
}

fn nic_json(r: &InstanceRecord) -> Value {
    let a = &r.attributes;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let (sub, group, name) = (get(attr::SUBSCRIPTION), get(attr::GROUP), get(attr::NIC));
    let id = resource_id(&sub, &group, "Microsoft.Network/networkInterfaces", &name);
    let mut ip_config = json!({
        "name": "ipconfig1",
        "id": format!("{id}/ipConfigurations/ipconfig1"),
        "properties": {
            "privateIPAllocationMethod": "Dynamic",
            "subnet": {"id": get(attr::SUBNET)},
            "primary": true,
            "privateIPAddressVersion": "IPv4",
            "provisioningState": "Succeeded",
        },
    });
    if let Some(ip) = r.private_ip {
        ip_config["properties"]["privateIPAddress"] = ip.to_string().into();
    }
    if a.contains_key(attr::PIP) {
        ip_config["properties"]["publicIPAddress"] = json!({"id": resource_id(&sub, &group, "Microsoft.Network/publicIPAddresses", &get(attr::PIP))});
    }
    let mut nic = json!({
        "name": name,
        "id": id,
        "location": get(attr::LOCATION),
        "type": "Microsoft.Network/networkInterfaces",
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [ip_config],
            "primary": true,
            "virtualMachine": {"id": resource_id(&sub, &group, VMS, &r.id)},
        },
    });
    if let Some(nsg) = a.get(attr::NSG) {
        nic["properties"]["networkSecurityGroup"] = json!({"id": nsg});
    }
    nic
}

fn pip_json(r: &InstanceRecord) -> Value {
    let a = &r.attributes;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let (sub, group, name) = (get(attr::SUBSCRIPTION), get(attr::GROUP), get(attr::PIP));
    let nic_id = resource_id(
        &sub,
        &group,
        "Microsoft.Network/networkInterfaces",
        &get(attr::NIC),
    );
    let mut pip = json!({
        "name": name,
        "id": resource_id(&sub, &group, "Microsoft.Network/publicIPAddresses", &name),
        "location": get(attr::LOCATION),
        "type": "Microsoft.Network/publicIPAddresses",
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "provisioningState": "Succeeded",
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "idleTimeoutInMinutes": 4,
            "ipConfiguration": {"id": format!("{nic_id}/ipConfigurations/ipconfig1")},
        },
    });
    if let Some(ip) = r.public_ip {
        pip["properties"]["ipAddress"] = ip.to_string().into();
    }
    pip
}

fn disk_json(r: &InstanceRecord) -> Value {
    let get = |k: &str| r.attributes.get(k).cloned().unwrap_or_default();
    let name = get(attr::DISK);
    json!({
        "name": name,
        "id": resource_id(&get(attr::SUBSCRIPTION), &get(attr::GROUP), "Microsoft.Compute/disks", &name),
        "location": get(attr::LOCATION),
        "type": "Microsoft.Compute/disks",
        "managedBy": resource_id(&get(attr::SUBSCRIPTION), &get(attr::GROUP), VMS, &r.id),
        "properties": {"osType": "Linux", "diskSizeGB": r.config.disk_size_gb.unwrap_or(30), "diskState": "Attached", "provisioningState": "Succeeded"},
    })
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The model launch a PUT body asks for.
fn parse_vm(
    sub: &str,
    group: &str,
    name: &str,
    body: &Value,
) -> Result<(InstanceConfig, Attributes), ArmError> {
    let location = str_at(body, "/location")
        .ok_or_else(|| ArmError::invalid("The 'location' property is required."))?;
    let size = str_at(body, "/properties/hardwareProfile/vmSize")
        .ok_or_else(|| ArmError::invalid("The 'hardwareProfile.vmSize' property is required."))?;
    let image = body
        .pointer("/properties/storageProfile/imageReference")
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            ArmError::invalid("The 'storageProfile.imageReference' property is required.")
        })?;
    let image_text = match (
        str_at(image, "/id"),
        str_at(image, "/publisher"),
        str_at(image, "/offer"),
        str_at(image, "/sku"),
    ) {
        (Some(id), ..) => id.to_owned(),
        (None, Some(p), Some(o), Some(s)) => format!(
            "{p}:{o}:{s}:{}",
            str_at(image, "/version").unwrap_or("latest")
        ),
        _ => {
            return Err(ArmError::invalid(
                "imageReference needs an id, or publisher, offer and sku.",
            ))
        }
    };
    let mut config = InstanceConfig::new(image_text, size);
    if let Some(tags) = body.get("tags").and_then(Value::as_object) {
        config.tags = tags
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
    }
    check_tags(&config.tags)?;
    if let Some(gb) = body.pointer("/properties/storageProfile/osDisk/diskSizeGB") {
        let gb = gb
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=4095).contains(n))
            .ok_or_else(|| ArmError::invalid("The 'osDisk.diskSizeGB' property is invalid."))?;
        config.disk_size_gb = Some(gb);
    }
    // customData is what cloud-init runs at first boot: the model's user
    // data. userData (read by the guest from the metadata service) is kept
    // as a wire attribute.
    if let Some(custom) = str_at(body, "/properties/osProfile/customData") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(custom)
            .map_err(|_| ArmError::invalid("The 'customData' property must be base64."))?;
        if bytes.len() > 65_535 {
            return Err(ArmError::invalid(
                "The 'customData' property is limited to 65535 bytes once decoded.",
            ));
        }
        config.user_data = Some(UserData::new(bytes));
    }
    let user_data = str_at(body, "/properties/userData");
    if let Some(user_data) = user_data {
        base64::engine::general_purpose::STANDARD
            .decode(user_data)
            .map_err(|_| ArmError::invalid("The 'userData' property must be base64."))?;
        if user_data.len() > 64 * 1024 {
            return Err(ArmError::invalid(
                "The 'userData' property is limited to 64 KB.",
            ));
        }
    }
    let nic = body
        .pointer("/properties/networkProfile/networkInterfaceConfigurations/0")
        .ok_or_else(|| ArmError::invalid("This emulator creates network interfaces with the VM: networkInterfaceConfigurations is required."))?;
    let subnet = str_at(nic, "/properties/ipConfigurations/0/properties/subnet/id")
        .ok_or_else(|| ArmError::invalid("The ipConfiguration's 'subnet.id' is required."))?;
    let mut a = Attributes::new();
    let mut set = |k: &str, v: &str| {
        a.insert(k.to_owned(), v.to_owned());
    };
    set(attr::SUBSCRIPTION, sub);
    set(attr::GROUP, group);
    set(attr::LOCATION, location);
    set(attr::IMAGE_REFERENCE, &image.to_string());
    if let Some(user_data) = user_data {
        set(attr::USER_DATA, user_data);
    }
    let mut os_profile = body
        .pointer("/properties/osProfile")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(profile) = os_profile.as_object_mut() {
        profile.remove("adminPassword");
        profile.remove("customData");
        profile.entry("secrets").or_insert_with(|| json!([]));
    }
    set(attr::OS_PROFILE, &os_profile.to_string());
    set(
        attr::NIC,
        str_at(nic, "/name").unwrap_or(&format!("{name}-nic")),
    );
    set(
        attr::NIC_DELETE,
        str_at(nic, "/properties/deleteOption").unwrap_or("Detach"),
    );
    set(attr::SUBNET, subnet);
    if let Some(nsg) = str_at(nic, "/properties/networkSecurityGroup/id") {
        set(attr::NSG, nsg);
    }
    if let Some(pip) =
        nic.pointer("/properties/ipConfigurations/0/properties/publicIPAddressConfiguration")
    {
        set(
            attr::PIP,
            str_at(pip, "/name").unwrap_or(&format!("{name}-pip")),
        );
        set(
            attr::PIP_DELETE,
            str_at(pip, "/properties/deleteOption").unwrap_or("Detach"),
        );
    }
    let os_disk = body.pointer("/properties/storageProfile/osDisk");
    set(
        attr::DISK,
        os_disk
            .and_then(|d| str_at(d, "/name"))
            .unwrap_or(&format!("{name}-osdisk")),
    );
    set(
        attr::DISK_DELETE,
        os_disk
            .and_then(|d| str_at(d, "/deleteOption"))
            .unwrap_or("Detach"),
    );
    Ok((config, a))
}

/// What a long-running answer needs to know about its request.
struct Request<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    sub: &'a str,
    location: &'a str,
}

/// Records an operation and answers with ARM's long-running headers.
fn accepted(
    request: &Request<'_>,
    vm: &str,
    kind: OpKind,
    status: StatusCode,
    body: Option<Value>,
    action: &str,
) -> Response {
    let Request {
        state,
        headers,
        sub,
        location,
    } = *request;
    let n = state.arm().next.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("{n:08x}-0000-4000-8000-{n:012x}");
    let started = state.cloud.now_wall().format(&Rfc3339).unwrap_or_default();
    lock(&state.arm().operations).insert(
        id.clone(),
        ArmOp {
            vm: vm.to_owned(),
            kind,
            started,
        },
    );
    let url = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/operations/{id}?api-version=2024-07-01",
        base_url(headers)
    );
    let mut response = match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    // The URL holds request data (the Host header, path segments, the
    // body's location): refuse what cannot be a header instead of panicking.
    let Ok(url) = header::HeaderValue::from_str(&url) else {
        return error_response(ArmError::invalid(
            "The host, subscription or location cannot be part of a URL.",
        ));
    };
    let h = response.headers_mut();
    h.insert("azure-asyncoperation", url.clone());
    h.insert(header::LOCATION, url);
    h.insert(header::RETRY_AFTER, header::HeaderValue::from_static("0"));
    if state.wire.take_drop(action) {
        response.extensions_mut().insert(DropConnection);
    }
    response
}

async fn put_vm(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(COMPUTE_VERSIONS)?;
            check_vm_name(&name)?;
            let create_only = headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == b"*");
            let body: Value = serde_json::from_slice(&body)
                .map_err(|e| ArmError::invalid(format!("The request content was invalid: {e}")))?;
            let (config, attributes) = parse_vm(&sub, &group, &name, &body)?;
            let location = attributes[attr::LOCATION].clone();
            match state
                .cloud
                .launch_named(&name, &config, attributes.clone())
                .await
            {
                Ok(record) => {
                    let mut owners = lock(&state.arm().owners);
                    for key in [attr::NIC, attr::PIP, attr::DISK] {
                        if let Some(resource) = attributes.get(key) {
                            owners.insert(resource.clone(), name.clone());
                            lock(&state.arm().orphans).remove(resource);
                        }
                    }
                    drop(owners);
                    let body = vm_json(&state, &record, false);
                    let action = "Microsoft.Compute/virtualMachines/write";
                    Ok(accepted(
                        &Request {
                            state: &state,
                            headers: &headers,
                            sub: &sub,
                            location: &location,
                        },
                        &name,
                        OpKind::Create,
                        StatusCode::CREATED,
                        Some(body),
                        action,
                    ))
                }
                // `If-None-Match: *` asks for a create only.
                Err(provisioner_fake::CloudError::AlreadyExists { .. }) if create_only => {
                    Err(ArmError::new(
                        StatusCode::PRECONDITION_FAILED,
                        "PreconditionFailed",
                        "The condition specified using HTTP conditional header(s) is not met.",
                    ))
                }
                // A PUT of an existing VM updates it (tags, user data, a new
                // size, which reboots it).
                Err(provisioner_fake::CloudError::AlreadyExists { .. }) => {
                    find_vm(&state, &sub, &group, &name).await?;
                    let record = state
                        .cloud
                        .update(&name, &config)
                        .await
                        .map_err(|e| mapping::error(&e, &name, &group))?;
                    Ok((StatusCode::OK, Json(vm_json(&state, &record, false))).into_response())
                }
                Err(e) => Err(mapping::error(&e, &name, &group)),
            }
        }
        .await,
    )
}

async fn get_vm(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(COMPUTE_VERSIONS)?;
            let record = find_vm(&state, &sub, &group, &name).await?;
            Ok(Json(vm_json(&state, &record, q.wants_instance_view())).into_response())
        }
        .await,
    )
}

async fn instance_view(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(COMPUTE_VERSIONS)?;
            let record = find_vm(&state, &sub, &group, &name).await?;
            Ok(Json(instance_view_json(&state, &record)).into_response())
        }
        .await,
    )
}

async fn delete_vm(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(COMPUTE_VERSIONS)?;
            let record = match find_vm(&state, &sub, &group, &name).await {
                Ok(record) => record,
                // ARM answers a delete of what does not exist with 204.
                Err(e) if e.status == StatusCode::NOT_FOUND => {
                    return Ok(StatusCode::NO_CONTENT.into_response())
                }
                Err(e) => return Err(e),
            };
            state
                .cloud
                .terminate(&name)
                .await
                .map_err(|e| mapping::error(&e, &name, &group))?;
            // Resources whose delete option is not Delete outlive the VM.
            let a = &record.attributes;
            let mut orphans = lock(&state.arm().orphans);
            for (key, option, body) in [
                (attr::NIC, attr::NIC_DELETE, nic_json(&record)),
                (attr::PIP, attr::PIP_DELETE, pip_json(&record)),
                (attr::DISK, attr::DISK_DELETE, disk_json(&record)),
            ] {
                if let Some(resource) = a.get(key) {
                    if a.get(option).map(String::as_str) != Some("Delete") {
                        orphans.insert(resource.clone(), body);
                    }
                }
            }
            drop(orphans);
            let location = a.get(attr::LOCATION).cloned().unwrap_or_default();
            Ok(accepted(
                &Request {
                    state: &state,
                    headers: &headers,
                    sub: &sub,
                    location: &location,
                },
                &name,
                OpKind::Delete,
                StatusCode::ACCEPTED,
                None,
                "Microsoft.Compute/virtualMachines/delete",
            ))
        }
        .await,
    )
}

/// A power action: what it does to the model, and its wire name.
struct Power {
    kind: OpKind,
    mode: Option<StopMode>,
    action: &'static str,
}

async fn power_action(
    state: AppState,
    (sub, group, name): (String, String, String),
    q: Params,
    headers: HeaderMap,
    Power { kind, mode, action }: Power,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(COMPUTE_VERSIONS)?;
            let record = find_vm(&state, &sub, &group, &name).await?;
            let result = match kind {
                OpKind::Start => state.cloud.start(&name).await,
                _ => state.cloud.stop(&name).await,
            };
            result.map_err(|e| mapping::error(&e, &name, &group))?;
            if let Some(mode) = mode {
                lock(&state.arm().stop_modes).insert(name.clone(), mode);
            }
            let location = record
                .attributes
                .get(attr::LOCATION)
                .cloned()
                .unwrap_or_default();
            Ok(accepted(
                &Request {
                    state: &state,
                    headers: &headers,
                    sub: &sub,
                    location: &location,
                },
                &name,
                kind,
                StatusCode::ACCEPTED,
                None,
                action,
            ))
        }
        .await,
    )
}

async fn deallocate(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    power_action(
        state,
        (sub, group, name),
        q,
        headers,
        Power {
            kind: OpKind::Stop,
            mode: Some(StopMode::Deallocate),
            action: "Microsoft.Compute/virtualMachines/deallocate/action",
        },
    )
    .await
}

async fn power_off(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    power_action(
        state,
        (sub, group, name),
        q,
        headers,
        Power {
            kind: OpKind::Stop,
            mode: Some(StopMode::PowerOff),
            action: "Microsoft.Compute/virtualMachines/powerOff/action",
        },
    )
    .await
}

async fn start(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    power_action(
        state,
        (sub, group, name),
        q,
        headers,
        Power {
            kind: OpKind::Start,
            mode: None,
            action: "Microsoft.Compute/virtualMachines/start/action",
        },
    )
    .await
}

async fn list_vms(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        check_auth(&headers)?;
        q.check(COMPUTE_VERSIONS)?;
        let after = q
            .skip_token
            .as_deref()
            .map(|t| t.parse::<u64>().map_err(|_| ArmError::invalid("The $skiptoken is invalid.")))
            .transpose()?;
        let live = InstanceFilter::default().in_states(CloudInstanceState::ALL);
        let page = state
            .cloud
            .list(&live, after, state.settings.arm_page_cap)
            .await
            .map_err(|e| mapping::error(&e, "", &group))?;
        let value: Vec<Value> = page
            .items
            .iter()
            .filter(|r| r.attributes.get(attr::GROUP) == Some(&group) && r.attributes.get(attr::SUBSCRIPTION) == Some(&sub))
            .filter(|r| exists_on_arm(r))
            .map(|r| vm_json(&state, r, q.wants_instance_view()))
            .collect();
        let mut body = json!({"value": value});
        if let Some(next) = page.next {
            let mut link = format!(
                "{}/subscriptions/{sub}/resourceGroups/{group}/providers/{VMS}?api-version={}&$skiptoken={next}",
                base_url(&headers),
                q.api_version.as_deref().unwrap_or_default()
            );
            if q.wants_instance_view() {
                link.push_str("&$expand=instanceView");
            }
            body["nextLink"] = link.into();
        }
        Ok(Json(body).into_response())
    }
    .await)
}

/// A resource created with a VM: its API versions, type and body.
struct Owned {
    versions: &'static [&'static str],
    kind: &'static str,
    body: fn(&InstanceRecord) -> Value,
}

const NIC: Owned = Owned {
    versions: NETWORK_VERSIONS,
    kind: "Microsoft.Network/networkInterfaces",
    body: nic_json,
};
const PIP: Owned = Owned {
    versions: NETWORK_VERSIONS,
    kind: "Microsoft.Network/publicIPAddresses",
    body: pip_json,
};
const DISK: Owned = Owned {
    versions: COMPUTE_VERSIONS,
    kind: "Microsoft.Compute/disks",
    body: disk_json,
};

/// The network or disk resource `name`: from its live VM, or left behind.
async fn owned(
    state: &AppState,
    (sub, group, name): (String, String, String),
    q: Params,
    headers: HeaderMap,
    what: &Owned,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(what.versions)?;
            let owner = lock(&state.arm().owners).get(&name).cloned();
            if let Some(vm) = owner {
                if let Ok(record) = find_vm(state, &sub, &group, &vm).await {
                    return Ok(Json((what.body)(&record)).into_response());
                }
            }
            match lock(&state.arm().orphans).get(&name) {
                Some(orphan) => Ok(Json(orphan.clone()).into_response()),
                None => Err(ArmError::not_found(what.kind, &name, &group)),
            }
        }
        .await,
    )
}

async fn get_nic(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    owned(&state, path, q, headers, &NIC).await
}

async fn get_pip(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    owned(&state, path, q, headers, &PIP).await
}

async fn get_disk(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    owned(&state, path, q, headers, &DISK).await
}

/// Every network resource of one kind in the group: one page.
async fn list_network(
    state: &AppState,
    sub: &str,
    group: &str,
    q: &Params,
    headers: &HeaderMap,
    key: &str,
    body: fn(&InstanceRecord) -> Value,
) -> Result<Response, ArmError> {
    check_auth(headers)?;
    q.check(NETWORK_VERSIONS)?;
    let records = state
        .cloud
        .list_all(&InstanceFilter::default().in_states(CloudInstanceState::ALL))
        .await
        .map_err(|e| mapping::error(&e, "", group))?;
    let mut value: Vec<Value> = records
        .iter()
        .filter(|r| exists_on_arm(r))
        .filter(|r| {
            r.attributes.get(attr::GROUP).map(String::as_str) == Some(group)
                && r.attributes.get(attr::SUBSCRIPTION).map(String::as_str) == Some(sub)
        })
        .filter(|r| r.attributes.contains_key(key))
        .map(body)
        .collect();
    let prefix = format!("/subscriptions/{sub}/resourceGroups/{group}/");
    value.extend(
        lock(&state.arm().orphans)
            .values()
            .filter(|o| {
                o["id"].as_str().is_some_and(|id| {
                    id.starts_with(&prefix)
                        && id.contains(if key == attr::NIC {
                            "/networkInterfaces/"
                        } else {
                            "/publicIPAddresses/"
                        })
                })
            })
            .cloned(),
    );
    Ok(Json(json!({"value": value})).into_response())
}

async fn list_nics(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(list_network(&state, &sub, &group, &q, &headers, attr::NIC, nic_json).await)
}

async fn list_pips(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(list_network(&state, &sub, &group, &q, &headers, attr::PIP, pip_json).await)
}

async fn operation_status(
    State(state): State<AppState>,
    Path((_sub, _location, id)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(COMPUTE_VERSIONS)?;
            let op = lock(&state.arm().operations)
                .get(&id)
                .cloned()
                .ok_or_else(|| {
                    ArmError::new(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("Operation '{id}' was not found."),
                    )
                })?;
            // The face's bookkeeping, not a cloud call: not logged, never faulted.
            let now = state.cloud.peek(&op.vm);
            let failure = now
                .as_ref()
                .and_then(|r| r.failure)
                .filter(|_| op.kind == OpKind::Create);
            let done = op.kind.is_done(now.map(|r| r.state));
            let status = match (failure, done) {
                (Some(_), _) => "Failed",
                (None, true) => "Succeeded",
                (None, false) => "InProgress",
            };
            let mut body = json!({"name": id, "status": status, "startTime": op.started});
            if let Some(kind) = failure {
                let (code, message) = mapping::launch_failure(kind);
                body["error"] = json!({"code": code, "message": message});
            }
            if status != "InProgress" {
                body["endTime"] = state
                    .cloud
                    .now_wall()
                    .format(&Rfc3339)
                    .unwrap_or_default()
                    .into();
            }
            Ok(Json(body).into_response())
        }
        .await,
    )
}
