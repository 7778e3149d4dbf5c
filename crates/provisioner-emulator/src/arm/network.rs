//! Network interfaces, public addresses and OS disks: created with a VM
//! (`networkInterfaceConfigurations`, `publicIPAddressConfiguration`, the
//! OS disk) or on their own by a PUT (network interfaces and public
//! addresses), and used by a VM that names them by id.
//!
//! A resource created with its VM is drawn from the VM's record while the
//! VM lives; one that exists on its own (a PUT, or left behind by a
//! `Detach` delete option) is kept in [`ArmState`]'s `resources`. One made
//! by a PUT holds its address from creation to deletion (a NIC's private
//! address, a static public one), taken from the model's pools; one left
//! behind by a VM shows its VM's addresses.

use super::*;

pub(super) const NIC_KIND: &str = "Microsoft.Network/networkInterfaces";
pub(super) const PIP_KIND: &str = "Microsoft.Network/publicIPAddresses";
pub(super) const DISK_KIND: &str = "Microsoft.Compute/disks";

/// One kind of resource around VMs.
pub(super) struct Kind {
    versions: &'static [&'static str],
    pub(super) kind: &'static str,
    /// Its body drawn from a VM that created it.
    generated: fn(&InstanceRecord) -> Value,
    /// The id of the VM's resource of this kind, and whether it exists on
    /// its own (named by the VM, not created with it).
    pub(super) of_vm: fn(&InstanceRecord) -> Option<(String, bool)>,
}

pub(super) const NIC: Kind = Kind {
    versions: versions::NETWORK,
    kind: NIC_KIND,
    generated: nic_json,
    of_vm: |r| {
        let id = r.attributes.get(attr::NIC_ID)?;
        Some((id.clone(), r.attributes.contains_key(attr::NIC_GIVEN)))
    },
};
pub(super) const PIP: Kind = Kind {
    versions: versions::NETWORK,
    kind: PIP_KIND,
    generated: pip_json,
    of_vm: |r| {
        let id = r.attributes.get(attr::PIP_ID)?;
        Some((id.clone(), r.attributes.contains_key(attr::PIP_GIVEN)))
    },
};
pub(super) const DISK: Kind = Kind {
    versions: versions::DISKS,
    kind: DISK_KIND,
    generated: disk_json,
    of_vm: |r| Some((disk_id(r), false)),
};

impl Kind {
    /// A stored body shown while `r`, a live VM, uses the resource: the
    /// VM's addresses and its id.
    fn attach(&self, body: &mut Value, r: &InstanceRecord) {
        let vm_id = vm_id(r);
        match self.kind {
            NIC_KIND => {
                body["properties"]["virtualMachine"] = json!({ "id": vm_id });
                body["properties"]["primary"] = true.into();
                // One made by a PUT holds its own address.
                if let (Some(ip), Some(config)) = (
                    r.private_ip,
                    body.pointer_mut("/properties/ipConfigurations/0/properties"),
                ) {
                    if config.get("privateIPAddress").is_none() {
                        config["privateIPAddress"] = ip.to_string().into();
                    }
                }
            }
            PIP_KIND => {
                if let (Some(ip), None) = (r.public_ip, body["properties"].get("ipAddress")) {
                    body["properties"]["ipAddress"] = ip.to_string().into();
                }
            }
            _ => {}
        }
    }

    /// The body a VM's resource keeps once the VM is gone and the resource
    /// stays (`deleteOption: Detach`).
    pub(super) fn detached(&self, r: &InstanceRecord) -> Value {
        let mut body = (self.generated)(r);
        match self.kind {
            NIC_KIND => {
                if let Some(p) = body["properties"].as_object_mut() {
                    p.remove("virtualMachine");
                }
            }
            DISK_KIND => {
                if let Some(b) = body.as_object_mut() {
                    b.remove("managedBy");
                }
                body["properties"]["diskState"] = "Unattached".into();
            }
            _ => {}
        }
        body
    }
}

fn vm_id(r: &InstanceRecord) -> String {
    let get = |k: &str| r.attributes.get(k).cloned().unwrap_or_default();
    resource_id(&get(attr::SUBSCRIPTION), &get(attr::GROUP), VMS, &r.id)
}

/// The resource `id`, as GET shows it, or `None`.
async fn resolve(state: &AppState, id: &str, what: &Kind) -> Result<Option<Value>, ArmError> {
    let k = key(id);
    let owner = lock(&state.arm().owners).get(&k).cloned();
    let stored = lock(&state.arm().resources).get(&k).cloned();
    if let Some(vm) = owner {
        match state.cloud.describe(&vm).await {
            Ok(r) if exists_on_arm(&r) => {
                return Ok(Some(match stored {
                    Some(mut body) => {
                        what.attach(&mut body, &r);
                        body
                    }
                    None => (what.generated)(&r),
                }))
            }
            Ok(_) | Err(provisioner_fake::CloudError::NotFound { .. }) => {}
            Err(e) => return Err(mapping::error(&e, &vm, "")),
        }
    }
    Ok(stored)
}

async fn get_resource(
    state: &AppState,
    (sub, group, name): (String, String, String),
    q: Params,
    headers: HeaderMap,
    what: &Kind,
) -> Response {
    answer(
        async {
            check_in_group(state, &headers, &q, what.versions, (&sub, &group))?;
            let id = resource_id(&sub, &group, what.kind, &name);
            match resolve(state, &id, what).await? {
                Some(body) => Ok(Json(body).into_response()),
                None => Err(ArmError::not_found(what.kind, &name, &group)),
            }
        }
        .await,
    )
}

pub(super) async fn get_nic(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    get_resource(&state, path, q, headers, &NIC).await
}

pub(super) async fn get_pip(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    get_resource(&state, path, q, headers, &PIP).await
}

pub(super) async fn get_disk(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    get_resource(&state, path, q, headers, &DISK).await
}

/// Every resource of one kind in the group: one page, in id order.
async fn list_kind(
    state: &AppState,
    (sub, group): (String, String),
    q: Params,
    headers: HeaderMap,
    what: &Kind,
) -> Response {
    answer(
        async {
            check_in_group(state, &headers, &q, what.versions, (&sub, &group))?;
            let records = state
                .cloud
                .list_all(&InstanceFilter::default().in_states(CloudInstanceState::ALL))
                .await
                .map_err(|e| mapping::error(&e, "", &group))?;
            let live: HashMap<&str, &InstanceRecord> = records
                .iter()
                .filter(|r| exists_on_arm(r))
                .map(|r| (&*r.id, r))
                .collect();
            let prefix = key(&resource_id(&sub, &group, what.kind, ""));
            let mut found: Vec<(String, Value)> = Vec::new();
            for r in live.values() {
                if let Some((id, false)) = (what.of_vm)(r) {
                    if key(&id).starts_with(&prefix) {
                        found.push((key(&id), (what.generated)(r)));
                    }
                }
            }
            let owners = lock(&state.arm().owners);
            for (k, body) in lock(&state.arm().resources).iter() {
                if k.starts_with(&prefix) {
                    let mut body = body.clone();
                    if let Some(r) = owners.get(k).and_then(|vm| live.get(vm.as_str())) {
                        what.attach(&mut body, r);
                    }
                    found.push((k.clone(), body));
                }
            }
            drop(owners);
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let value: Vec<Value> = found.into_iter().map(|(_, body)| body).collect();
            Ok(Json(json!({ "value": value })).into_response())
        }
        .await,
    )
}

pub(super) async fn list_nics(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    list_kind(&state, path, q, headers, &NIC).await
}

pub(super) async fn list_pips(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    list_kind(&state, path, q, headers, &PIP).await
}

/// Network's name rules: 1 to 80 letters, digits, `_`, `-` and `.`,
/// starting with a letter or digit, ending with one or `_`.
pub(super) fn check_network_name(name: &str) -> Result<(), ArmError> {
    let b = name.as_bytes();
    let ok = (1..=80).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && (b[b.len() - 1].is_ascii_alphanumeric() || b[b.len() - 1] == b'_');
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'."),
        ))
    }
}

/// What every network PUT shares: checks, the body, its location and tags.
pub(super) fn network_put(
    state: &AppState,
    (sub, group, name): (&str, &str, &str),
    q: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Value, String, Value), ArmError> {
    check_in_group(state, headers, q, versions::NETWORK, (sub, group))?;
    check_network_name(name)?;
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ArmError::invalid(format!("The request content was invalid: {e}")))?;
    let location = str_at(&body, "/location")
        .ok_or_else(|| {
            ArmError::new(
                StatusCode::BAD_REQUEST,
                "LocationRequired",
                "The location property is required for this definition.",
            )
        })?
        .to_owned();
    let tags = body.get("tags").cloned().unwrap_or_else(|| json!({}));
    Ok((body, location, tags))
}

/// The answer to a network PUT or DELETE: Network's long-running headers
/// over an operation that is already done.
pub(super) fn network_accepted(
    state: &AppState,
    headers: &HeaderMap,
    (sub, location, version): (&str, &str, &str),
    status: StatusCode,
    body: Option<Value>,
    action: &str,
) -> Response {
    accepted(
        &Request {
            state,
            headers,
            sub,
            location,
            version,
            namespace: "Microsoft.Network",
        },
        "",
        OpKind::Create,
        status,
        body,
        action,
    )
}

pub(super) async fn put_pip(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer((|| {
        let (body, location, tags) =
            network_put(&state, (&sub, &group, &name), &q, &headers, &body)?;
        let sku = str_at(&body, "/sku/name").unwrap_or("Standard");
        let method = str_at(&body, "/properties/publicIPAllocationMethod").unwrap_or("Static");
        if sku.eq_ignore_ascii_case("Standard") && !method.eq_ignore_ascii_case("Static") {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "StandardSkuPublicIPAddressesMustBeStatic",
                format!("Standard sku publicIp /subscriptions/{sub}/resourceGroups/{group}/providers/{PIP_KIND}/{name} must have AllocationMethod set to Static."),
            ));
        }
        let id = resource_id(&sub, &group, PIP_KIND, &name);
        let mut resources = lock(&state.arm().resources);
        let previous = resources.get(&key(&id));
        let mut pip = json!({
            "name": name,
            "id": id,
            "location": location,
            "type": PIP_KIND,
            "tags": tags,
            "sku": {"name": sku, "tier": "Regional"},
            "properties": {
                "provisioningState": "Succeeded",
                "publicIPAddressVersion": "IPv4",
                "publicIPAllocationMethod": method,
                "idleTimeoutInMinutes": body.pointer("/properties/idleTimeoutInMinutes").cloned().unwrap_or_else(|| 4.into()),
            },
        });
        // A PUT keeps the address's association.
        if let Some(config) = previous.and_then(|p| p.pointer("/properties/ipConfiguration")) {
            pip["properties"]["ipConfiguration"] = config.clone();
        }
        // A static address is assigned at creation and kept until the
        // resource is deleted (Learn, "Public IP addresses"); a dynamic one
        // only while it is associated with a running resource.
        if method.eq_ignore_ascii_case("Static") {
            if let Some(ip) = state.arm().hold_address(&state.cloud, &id, true) {
                pip["properties"]["ipAddress"] = ip.to_string().into();
            }
        }
        let status = if previous.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        resources.insert(key(&id), pip.clone());
        drop(resources);
        Ok(network_accepted(
            &state,
            &headers,
            (&sub, &location, q.version()),
            status,
            Some(pip),
            "Microsoft.Network/publicIPAddresses/write",
        ))
    })())
}

pub(super) async fn put_nic(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer((|| {
        let (body, location, tags) =
            network_put(&state, (&sub, &group, &name), &q, &headers, &body)?;
        let configs = body
            .pointer("/properties/ipConfigurations")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
                    format!("Network interface {name} must have at least one IP configuration."),
                )
            })?;
        if configs.len() > 1 {
            return Err(ArmError::invalid(
                "This emulator serves network interfaces with one IP configuration.",
            ));
        }
        let config = &configs[0];
        let config_name = str_at(config, "/name").unwrap_or("ipconfig1");
        let subnet = str_at(config, "/properties/subnet/id").ok_or_else(|| {
            ArmError::new(
                StatusCode::BAD_REQUEST,
                "SubnetIsRequired",
                format!("Subnet is required for IP configuration {config_name} of network interface {name}."),
            )
        })?;
        let id = resource_id(&sub, &group, NIC_KIND, &name);
        require_subnet(&state, subnet, &id)?;
        let config_id = format!("{id}/ipConfigurations/{config_name}");
        let mut resources = lock(&state.arm().resources);
        let previous_pip = resources
            .get(&key(&id))
            .and_then(|nic| {
                str_at(
                    nic,
                    "/properties/ipConfigurations/0/properties/publicIPAddress/id",
                )
            })
            .map(str::to_owned);
        let pip = str_at(config, "/properties/publicIPAddress/id");
        if let Some(pip) = pip {
            let target = resources.get(&key(pip)).ok_or_else(|| {
                ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidResourceReference",
                    format!("Resource {pip} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
                )
            })?;
            if let Some(user) = str_at(target, "/properties/ipConfiguration/id") {
                if !key(user).starts_with(&key(&format!("{id}/"))) {
                    return Err(ArmError::new(
                        StatusCode::BAD_REQUEST,
                        "PublicIPAddressInUse",
                        format!(
                            "Resource {pip} is referenced by {user}, which is not {config_id}."
                        ),
                    ));
                }
            }
        }
        let mut ip_config = json!({
            "name": config_name,
            "id": config_id,
            "properties": {
                "privateIPAllocationMethod": str_at(config, "/properties/privateIPAllocationMethod").unwrap_or("Dynamic"),
                "subnet": {"id": subnet},
                "primary": true,
                "privateIPAddressVersion": "IPv4",
                "provisioningState": "Succeeded",
            },
        });
        // The interface's address, from the subnet at its creation, is its
        // own until it is deleted (Learn, "Private IP addresses"), whatever
        // the VM using it does: one asked for, else one from the pool.
        let private = match str_at(config, "/properties/privateIPAddress") {
            Some(asked) => Some(asked.to_owned()),
            None => state
                .arm()
                .hold_address(&state.cloud, &id, false)
                .map(|ip| ip.to_string()),
        };
        if let Some(private) = private {
            ip_config["properties"]["privateIPAddress"] = private.into();
        }
        if let Some(pip) = pip {
            ip_config["properties"]["publicIPAddress"] = json!({ "id": pip });
        }
        let mut nic = json!({
            "name": name,
            "id": id,
            "location": location,
            "type": NIC_KIND,
            "tags": tags,
            "properties": {
                "provisioningState": "Succeeded",
                "ipConfigurations": [ip_config],
                "enableAcceleratedNetworking": false,
                "enableIPForwarding": false,
            },
        });
        if let Some(nsg) = str_at(&body, "/properties/networkSecurityGroup/id") {
            nic["properties"]["networkSecurityGroup"] = json!({ "id": nsg });
        }
        // The public address now points at this NIC, and no longer at it
        // when the PUT took it away.
        if let Some(old) = previous_pip.filter(|old| Some(old.as_str()) != pip) {
            if let Some(old) = resources
                .get_mut(&key(&old))
                .and_then(|p| p["properties"].as_object_mut())
            {
                old.remove("ipConfiguration");
            }
        }
        if let Some(target) = pip.and_then(|pip| resources.get_mut(&key(pip))) {
            target["properties"]["ipConfiguration"] = json!({ "id": config_id });
        }
        let status = if resources.insert(key(&id), nic.clone()).is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        drop(resources);
        Ok(network_accepted(
            &state,
            &headers,
            (&sub, &location, q.version()),
            status,
            Some(nic),
            "Microsoft.Network/networkInterfaces/write",
        ))
    })())
}

/// Deletes a network resource that exists on its own: refused while it is
/// in use, 204 when there is none.
async fn delete_network(
    state: &AppState,
    (sub, group, name): (String, String, String),
    q: Params,
    headers: HeaderMap,
    what: &Kind,
) -> Response {
    answer(
        async {
            check_in_group(state, &headers, &q, what.versions, (&sub, &group))?;
            let id = resource_id(&sub, &group, what.kind, &name);
            let body = resolve(state, &id, what).await?;
            let Some(body) = body else {
                return Ok(StatusCode::NO_CONTENT.into_response());
            };
            if let Some(vm) = body.pointer("/properties/virtualMachine/id").and_then(Value::as_str) {
                return Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "NicInUse",
                    format!("Network Interface {id} is used by existing resource {vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic."),
                ));
            }
            // Owners before resources, as every path that holds both.
            let owners = lock(&state.arm().owners);
            let mut resources = lock(&state.arm().resources);
            if what.kind == PIP_KIND {
                if let Some(user) = str_at(&body, "/properties/ipConfiguration/id") {
                    let nic = user.split("/ipConfigurations/").next().unwrap_or_default();
                    if resources.contains_key(&key(nic)) || owners.contains_key(&key(nic)) {
                        return Err(ArmError::new(
                            StatusCode::BAD_REQUEST,
                            "PublicIPAddressCannotBeDeleted",
                            format!("Public IP address {id} can not be deleted since it is still allocated to resource {user}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.  To learn how to do this, see aka.ms/deletepublicip."),
                        ));
                    }
                }
            }
            if resources.remove(&key(&id)).is_none() {
                // Created with a live VM, which a GET showed: in use.
                return Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "InUseByVirtualMachine",
                    format!("Resource {id} is in use by a virtual machine."),
                ));
            }
            state.arm().free_address(&state.cloud, &id);
            if what.kind == NIC_KIND {
                if let Some(pip) = str_at(&body, "/properties/ipConfigurations/0/properties/publicIPAddress/id") {
                    if let Some(p) = resources.get_mut(&key(pip)).and_then(|p| p["properties"].as_object_mut()) {
                        p.remove("ipConfiguration");
                    }
                }
            }
            drop((owners, resources));
            let location = str_at(&body, "/location").unwrap_or_default().to_owned();
            let action = format!("{}/delete", what.kind);
            Ok(network_accepted(
                state,
                &headers,
                (&sub, &location, q.version()),
                StatusCode::ACCEPTED,
                None,
                &action,
            ))
        }
        .await,
    )
}

pub(super) async fn delete_nic(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    delete_network(&state, path, q, headers, &NIC).await
}

pub(super) async fn delete_pip(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    delete_network(&state, path, q, headers, &PIP).await
}

impl ArmState {
    /// The address the resource `id` (made by a PUT) holds: the one it has,
    /// else one taken from the model's pool now; `None` when the pool is
    /// empty. Locks `addresses` after `resources` where both are held.
    pub(super) fn hold_address(
        &self,
        cloud: &provisioner_fake::FakeCloud,
        id: &str,
        public: bool,
    ) -> Option<std::net::Ipv4Addr> {
        let mut held = lock(&self.addresses);
        if let Some((ip, _)) = held.get(&key(id)) {
            return Some(*ip);
        }
        let ip = cloud.allocate_address(public)?;
        held.insert(key(id), (ip, public));
        Some(ip)
    }

    /// Gives back the address of a deleted resource, if it held one.
    pub(super) fn free_address(&self, cloud: &provisioner_fake::FakeCloud, id: &str) {
        if let Some((ip, public)) = lock(&self.addresses).remove(&key(id)) {
            cloud.release_address(ip, public);
        }
    }

    /// The network interfaces, public addresses and disks that exist on
    /// their own and that no VM holds: what a launch left behind (or a
    /// caller made and has not used yet).
    pub(crate) fn unattached(&self) -> crate::UnattachedResources {
        // The documented order: `owners`, then `resources`.
        let owners = lock(&self.owners);
        let resources = lock(&self.resources);
        let mut counts = crate::UnattachedResources::default();
        for id in resources.keys().filter(|id| !owners.contains_key(*id)) {
            if id.contains("/microsoft.network/networkinterfaces/") {
                counts.network_interfaces += 1;
            } else if id.contains("/microsoft.network/publicipaddresses/") {
                counts.public_addresses += 1;
            } else if id.contains("/microsoft.compute/disks/") {
                counts.disks += 1;
            }
        }
        counts
    }
}
