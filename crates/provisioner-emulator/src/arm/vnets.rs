//! Virtual networks and their subnets: PUT, GET and DELETE of a network
//! (its subnets inline), GET of a subnet. A network interface, on its own
//! or created with a VM, must name a subnet that exists: Network refuses
//! one that does not with 400 `InvalidResourceReference`. A network whose
//! subnet an interface still uses cannot be deleted (400
//! `InUseSubnetCannotBeDeleted`). Networks are what a caller brings: no VM
//! operation creates or deletes one.

use super::*;

pub(super) const VNET_KIND: &str = "Microsoft.Network/virtualNetworks";

/// The network id and subnet name of a subnet id
/// (`…/virtualNetworks/V/subnets/S`).
fn split_subnet(subnet: &str) -> Option<(&str, &str)> {
    let (vnet, name) = subnet.rsplit_once('/')?;
    let vnet = vnet.strip_suffix("/subnets")?;
    let vnet = vnet
        .to_ascii_lowercase()
        .contains("/providers/microsoft.network/virtualnetworks/")
        .then_some(vnet)?;
    Some((vnet, name))
}

/// The subnet `name` of a network body, if it has it.
fn subnet_of<'v>(vnet: &'v Value, name: &str) -> Option<&'v Value> {
    vnet.pointer("/properties/subnets")?
        .as_array()?
        .iter()
        .find(|s| str_at(s, "/name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

impl ArmState {
    /// Creates (or replaces) a network with these subnets, as a PUT does.
    pub(crate) fn put_vnet(&self, id: &str, location: &str, tags: &Value, subnets: &[Value]) {
        let name = last_segment(id);
        let subnets: Vec<Value> = subnets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let sname = str_at(s, "/name").unwrap_or("default");
                let prefix = str_at(s, "/properties/addressPrefix")
                    .map_or_else(|| format!("10.0.{i}.0/24"), str::to_owned);
                json!({
                    "name": sname,
                    "id": format!("{id}/subnets/{sname}"),
                    "type": format!("{VNET_KIND}/subnets"),
                    "properties": {"addressPrefix": prefix, "provisioningState": "Succeeded"},
                })
            })
            .collect();
        let body = json!({
            "name": name,
            "id": id,
            "location": location,
            "type": VNET_KIND,
            "tags": tags,
            "properties": {
                "provisioningState": "Succeeded",
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": subnets,
            },
        });
        lock(&self.resources).insert(key(id), body);
    }

    /// Creates the network of `subnet` (a subnet id) if it has none, in
    /// its resource group's region, with the subnet in it: what the
    /// builder's `subnet` declares. The group must exist.
    pub(crate) fn declare_subnet(&self, subnet: &str) -> Result<(), String> {
        let (vnet, name) =
            split_subnet(subnet).ok_or_else(|| format!("{subnet:?} is not a subnet id"))?;
        let group = vnet.split("/providers/").next().unwrap_or_default();
        let location = lock(&self.groups)
            .get(&key(group))
            .and_then(|g| str_at(g, "/location").map(str::to_owned))
            .ok_or_else(|| format!("the resource group of {subnet:?} is not declared"))?;
        let mut subnets = lock(&self.resources)
            .get(&key(vnet))
            .and_then(|v| v.pointer("/properties/subnets").cloned())
            .and_then(|s| s.as_array().cloned())
            .unwrap_or_default();
        if !subnets
            .iter()
            .any(|s| str_at(s, "/name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
        {
            subnets.push(json!({"name": name}));
        }
        self.put_vnet(vnet, &location, &json!({}), &subnets);
        Ok(())
    }
}

/// Refuses an interface (`nic`, its id) that names a subnet that does not
/// exist, as Network does.
pub(super) fn require_subnet(state: &AppState, subnet: &str, nic: &str) -> Result<(), ArmError> {
    let exists = split_subnet(subnet).is_some_and(|(vnet, name)| {
        lock(&state.arm().resources)
            .get(&key(vnet))
            .is_some_and(|v| subnet_of(v, name).is_some())
    });
    if exists {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceReference",
            format!("Resource {subnet} referenced by resource {nic} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
        ))
    }
}

/// The IP configurations in the subnets of network `vnet`, each as (its
/// id, its subnet's name): of the interfaces on their own, and of those
/// created with a VM that lives.
fn users(state: &AppState, vnet: &str) -> Vec<(String, String)> {
    let prefix = key(&format!("{vnet}/subnets/"));
    let within = |subnet: &str| key(subnet).starts_with(&prefix);
    let mut found: Vec<(String, String)> = Vec::new();
    for r in state
        .cloud
        .peek_where(|a| a.get(attr::SUBNET).is_some_and(|s| within(s)))
    {
        let a = &r.attributes;
        if exists_on_arm(&r) && !a.contains_key(attr::NIC_GIVEN) {
            if let (Some(nic), Some(subnet)) = (a.get(attr::NIC_ID), a.get(attr::SUBNET)) {
                found.push((ip_config_id(nic), last_segment(subnet).to_owned()));
            }
        }
    }
    for body in lock(&state.arm().resources).values() {
        let Some(config) = body.pointer("/properties/ipConfigurations/0") else {
            continue;
        };
        if let (Some(id), Some(subnet)) = (
            str_at(config, "/id"),
            str_at(config, "/properties/subnet/id").filter(|s| within(s)),
        ) {
            found.push((id.to_owned(), last_segment(subnet).to_owned()));
        }
    }
    found.sort();
    found
}

/// 400 `InUseSubnetCannotBeDeleted`: subnet `subnet` holds `config`.
fn in_use((config, subnet): &(String, String)) -> ArmError {
    ArmError::new(
        StatusCode::BAD_REQUEST,
        "InUseSubnetCannotBeDeleted",
        format!("Subnet {subnet} is in use by {config} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet."),
    )
}

pub(super) async fn put_vnet(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer((|| {
        let (body, location, tags) =
            network_put(&state, (&sub, &group, &name), &q, &headers, &body)?;
        let id = resource_id(&sub, &group, VNET_KIND, &name);
        let subnets = body
            .pointer("/properties/subnets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for s in &subnets {
            check_network_name(str_at(s, "/name").unwrap_or_default())?;
        }
        // A PUT replaces the subnets: one that interfaces use must stay.
        let kept: Vec<&str> = subnets.iter().filter_map(|s| str_at(s, "/name")).collect();
        if let Some(user) = users(&state, &id)
            .iter()
            .find(|(_, subnet)| !kept.iter().any(|k| k.eq_ignore_ascii_case(subnet)))
        {
            return Err(in_use(user));
        }
        let created = !lock(&state.arm().resources).contains_key(&key(&id));
        state.arm().put_vnet(&id, &location, &tags, &subnets);
        let stored = lock(&state.arm().resources).get(&key(&id)).cloned();
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(network_accepted(
            &state,
            &headers,
            (&sub, &location, q.version()),
            status,
            stored,
            "Microsoft.Network/virtualNetworks/write",
        ))
    })())
}

fn stored_vnet(
    state: &AppState,
    (sub, group, name): (&str, &str, &str),
) -> Result<Value, ArmError> {
    let id = resource_id(sub, group, VNET_KIND, name);
    lock(&state.arm().resources)
        .get(&key(&id))
        .cloned()
        .ok_or_else(|| ArmError::not_found(VNET_KIND, name, group))
}

pub(super) async fn get_vnet(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer((|| {
        check_in_group(&state, &headers, &q, versions::NETWORK, (&sub, &group))?;
        Ok(Json(stored_vnet(&state, (&sub, &group, &name))?).into_response())
    })())
}

/// A subnet, with the IP configurations in it.
pub(super) async fn get_subnet(
    State(state): State<AppState>,
    Path((sub, group, vnet, name)): Path<(String, String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer((|| {
        check_in_group(&state, &headers, &q, versions::NETWORK, (&sub, &group))?;
        let body = stored_vnet(&state, (&sub, &group, &vnet))?;
        let mut subnet = subnet_of(&body, &name).cloned().ok_or_else(|| {
            ArmError::not_found(&format!("{VNET_KIND}/{vnet}/subnets"), &name, &group)
        })?;
        let vnet_id = resource_id(&sub, &group, VNET_KIND, &vnet);
        let configs: Vec<Value> = users(&state, &vnet_id)
            .into_iter()
            .filter(|(_, subnet)| subnet.eq_ignore_ascii_case(&name))
            .map(|(config, _)| json!({ "id": config }))
            .collect();
        if !configs.is_empty() {
            subnet["properties"]["ipConfigurations"] = configs.into();
        }
        Ok(Json(subnet).into_response())
    })())
}

pub(super) async fn delete_vnet(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer((|| {
        check_in_group(&state, &headers, &q, versions::NETWORK, (&sub, &group))?;
        let id = resource_id(&sub, &group, VNET_KIND, &name);
        let Some(body) = lock(&state.arm().resources).get(&key(&id)).cloned() else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        if let Some(user) = users(&state, &id).first() {
            return Err(in_use(user));
        }
        lock(&state.arm().resources).remove(&key(&id));
        let location = str_at(&body, "/location").unwrap_or_default().to_owned();
        Ok(network_accepted(
            &state,
            &headers,
            (&sub, &location, q.version()),
            StatusCode::ACCEPTED,
            None,
            "Microsoft.Network/virtualNetworks/delete",
        ))
    })())
}
