//! The virtual machine handlers: PUT, GET, DELETE, the power actions,
//! instanceView and list.

use super::*;

pub(super) async fn put_vm(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(versions::VMS)?;
            check_vm_name(&name)?;
            let create_only = headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == b"*");
            let body: Value = serde_json::from_slice(&body)
                .map_err(|e| ArmError::invalid(format!("The request content was invalid: {e}")))?;
            versions::check_vm_fields(q.version(), &body)?;
            require_group(&state, &sub, &group)?;
            let (config, mut attributes) = parse_vm(&sub, &group, &name, &body)?;
            // The interface it creates joins an existing subnet.
            if let Some(subnet) = attributes.get(attr::SUBNET) {
                require_subnet(&state, subnet, &attributes[attr::NIC_ID])?;
            }
            let location = attributes[attr::LOCATION].clone();
            let claimed = claim_network(&state, &name, &mut attributes)?;
            let launched = state
                .cloud
                .launch_named(&name, &config, attributes.clone())
                .await;
            if launched.is_err() {
                release_claims(&state, &name, &claimed);
            }
            match launched {
                Ok(record) => {
                    // Resources created with this VM replace any left behind
                    // under the same id; the VM now uses them.
                    let mut owners = lock(&state.arm().owners);
                    let mut resources = lock(&state.arm().resources);
                    for what in [&NIC, &PIP, &DISK] {
                        if let Some((id, given)) = (what.of_vm)(&record) {
                            if !given {
                                resources.remove(&key(&id));
                            }
                            owners.insert(key(&id), name.clone());
                        }
                    }
                    drop((owners, resources));
                    let body = for_version(vm_json(&state, &record, false), q.version());
                    let action = "Microsoft.Compute/virtualMachines/write";
                    Ok(accepted(
                        &Request {
                            state: &state,
                            headers: &headers,
                            sub: &sub,
                            location: &location,
                            version: q.version(),
                            namespace: "Microsoft.Compute",
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
                    let body = for_version(vm_json(&state, &record, false), q.version());
                    Ok((StatusCode::OK, Json(body)).into_response())
                }
                Err(e) => Err(mapping::error(&e, &name, &group)),
            }
        }
        .await,
    )
}

pub(super) async fn get_vm(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(versions::VMS)?;
            let record = find_vm(&state, &sub, &group, &name).await?;
            let body = vm_json(&state, &record, q.wants_instance_view());
            Ok(Json(for_version(body, q.version())).into_response())
        }
        .await,
    )
}

pub(super) async fn instance_view(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(versions::VMS)?;
            let record = find_vm(&state, &sub, &group, &name).await?;
            Ok(Json(instance_view_json(&state, &record)).into_response())
        }
        .await,
    )
}

pub(super) async fn delete_vm(
    State(state): State<AppState>,
    Path((sub, group, name)): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(versions::VMS)?;
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
            let a = &record.attributes;
            release_network(&state, &record);
            let location = a.get(attr::LOCATION).cloned().unwrap_or_default();
            Ok(accepted(
                &Request {
                    state: &state,
                    headers: &headers,
                    sub: &sub,
                    location: &location,
                    version: q.version(),
                    namespace: "Microsoft.Compute",
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
            q.check(versions::VMS)?;
            let record = find_vm(&state, &sub, &group, &name).await?;
            let result = match kind {
                OpKind::Start => state.cloud.start(&name).await,
                _ => state.cloud.stop(&name).await,
            };
            let changed = result.map_err(|e| mapping::error(&e, &name, &group))?;
            state
                .arm()
                .activity
                .record(state.cloud.now_wall(), action, &changed);
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
                    version: q.version(),
                    namespace: "Microsoft.Compute",
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

pub(super) async fn deallocate(
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

pub(super) async fn power_off(
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

pub(super) async fn start(
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
            action: activity::START,
        },
    )
    .await
}

pub(super) async fn list_vms(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(list_vms_in(&state, &sub, Some(&group), &q, &headers).await)
}

/// `list_all`: every VM of the subscription.
pub(super) async fn list_all_vms(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(list_vms_in(&state, &sub, None, &q, &headers).await)
}

/// One page of the VMs of `group` (or of the whole subscription), with a
/// `nextLink` that carries the api-version and `$expand` asked for.
async fn list_vms_in(
    state: &AppState,
    sub: &str,
    group: Option<&str>,
    q: &Params,
    headers: &HeaderMap,
) -> Result<Response, ArmError> {
    check_auth(headers)?;
    q.check(versions::VMS)?;
    match group {
        Some(group) => require_group(state, sub, group)?,
        None if state.settings.arm_group_scoped => {
            return Err(ArmError::new(
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                format!("The client 'emulator-client' with object id '00000000-0000-0000-0000-000000000000' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/read' over scope '/subscriptions/{sub}' or the scope is invalid. If access was recently granted, please refresh your credentials."),
            ));
        }
        None => {}
    }
    // The spec's `$expand` on both lists: "'instanceView' enables fetching
    // run time status of all Virtual Machines, this can only be specified
    // if a valid $filter option is specified".
    if q.expand.is_some() && q.filter.is_none() {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "The $expand query option 'instanceView' can only be specified together with a valid $filter option.",
        ));
    }
    // The only $filter is a scale set's (`virtualMachineScaleSet/id eq
    // '…'`), and no VM here belongs to one.
    if let Some(filter) = &q.filter {
        if !filter.starts_with("'virtualMachineScaleSet/id' eq ")
            && !filter.starts_with("virtualMachineScaleSet/id eq ")
        {
            return Err(ArmError::invalid(format!(
                "The $filter '{filter}' is not supported: the allowed value is 'virtualMachineScaleSet/id' eq '<scale set id>'."
            )));
        }
        return Ok(Json(json!({ "value": [] })).into_response());
    }
    // `statusOnly=true` is a parameter of the subscription's list only
    // (`VirtualMachines_ListAll`); its VMs carry their run-time status and
    // not their model: no tags, no profiles.
    let status_only = group.is_none() && q.status_only.as_deref() == Some("true");
    let after = q
        .skip_token
        .as_deref()
        .map(|t| {
            t.parse::<u64>()
                .map_err(|_| ArmError::invalid("The $skiptoken is invalid."))
        })
        .transpose()?;
    let live = InstanceFilter::default().in_states(CloudInstanceState::ALL);
    let page = state
        .cloud
        .list(&live, after, state.settings.arm_page_cap)
        .await
        .map_err(|e| mapping::error(&e, "", group.unwrap_or_default()))?;
    let value: Vec<Value> = page
        .items
        .iter()
        .filter(|r| {
            r.attributes.get(attr::SUBSCRIPTION).map(String::as_str) == Some(sub)
                && group.is_none_or(|g| {
                    r.attributes
                        .get(attr::GROUP)
                        .is_some_and(|mine| mine.eq_ignore_ascii_case(g))
                })
        })
        .filter(|r| exists_on_arm(r))
        .map(|r| {
            let vm = vm_json(state, r, status_only);
            if status_only {
                json!({
                    "id": vm["id"], "name": vm["name"], "type": vm["type"], "location": vm["location"],
                    "properties": {"instanceView": vm["properties"]["instanceView"]},
                })
            } else {
                for_version(vm, q.version())
            }
        })
        .collect();
    let mut body = json!({ "value": value });
    if let Some(next) = page.next {
        let scope = match group {
            Some(group) => format!("/subscriptions/{sub}/resourceGroups/{group}"),
            None => format!("/subscriptions/{sub}"),
        };
        let mut link = format!(
            "{}{scope}/providers/{VMS}?api-version={}&$skiptoken={next}",
            base_url(state, headers),
            q.version()
        );
        if status_only {
            link.push_str("&statusOnly=true");
        }
        body["nextLink"] = link.into();
    }
    Ok(Json(body).into_response())
}

/// A VM body in the shape of `version`: `timeCreated` only from
/// 2021-11-01 on.
pub(super) fn for_version(mut vm: Value, version: &str) -> Value {
    if !versions::has_time_created(version) {
        if let Some(p) = vm["properties"].as_object_mut() {
            p.remove("timeCreated");
        }
    }
    vm
}

/// Claims the existing network interface (and its public address) a VM
/// PUT names, as Network does: it must exist, in the VM's region, and not
/// be used by another VM. Records them in `attributes`; returns the ids
/// newly claimed, to release if the launch fails.
fn claim_network(
    state: &AppState,
    vm: &str,
    attributes: &mut Attributes,
) -> Result<Vec<String>, ArmError> {
    if !attributes.contains_key(attr::NIC_GIVEN) {
        return Ok(Vec::new());
    }
    let nic_id = attributes[attr::NIC_ID].clone();
    let vm_id = resource_id(
        &attributes[attr::SUBSCRIPTION],
        &attributes[attr::GROUP],
        VMS,
        vm,
    );
    let region = |l: &str| l.replace(' ', "").to_ascii_lowercase();
    let resources = lock(&state.arm().resources);
    let nic = resources
        .get(&key(&nic_id))
        .filter(|nic| {
            str_at(nic, "/location").map(region) == Some(region(&attributes[attr::LOCATION]))
        })
        .ok_or_else(|| {
            ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidResourceReference",
                format!("Resource {nic_id} referenced by resource {vm_id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
            )
        })?;
    let pip = str_at(
        nic,
        "/properties/ipConfigurations/0/properties/publicIPAddress/id",
    )
    .map(str::to_owned);
    drop(resources);
    let mut owners = lock(&state.arm().owners);
    // An owner whose VM is gone (ended outside this face) no longer holds it.
    let used_by_other =
        |owner: &String| owner != vm && state.cloud.peek(owner).is_some_and(|r| exists_on_arm(&r));
    if let Some(other) = owners.get(&key(&nic_id)).filter(|o| used_by_other(o)) {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "NicInUse",
            format!("Network Interface {nic_id} is used by existing resource {}. In order to use this network interface with another resource, please first remove it from the existing resource.", resource_id(&attributes[attr::SUBSCRIPTION], &attributes[attr::GROUP], VMS, other)),
        ));
    }
    let mut claimed = Vec::new();
    for id in std::iter::once(nic_id).chain(pip.clone()) {
        if owners.get(&key(&id)).map(String::as_str) != Some(vm) {
            owners.insert(key(&id), vm.to_owned());
            claimed.push(key(&id));
        }
    }
    if let Some(pip) = pip {
        attributes.insert(attr::PIP_ID.to_owned(), pip);
        attributes.insert(attr::PIP_GIVEN.to_owned(), "true".to_owned());
    }
    Ok(claimed)
}

fn release_claims(state: &AppState, vm: &str, claimed: &[String]) {
    let mut owners = lock(&state.arm().owners);
    for id in claimed {
        if owners.get(id).map(String::as_str) == Some(vm) {
            owners.remove(id);
        }
    }
}

/// What a VM delete does to the resources around it: each is no longer
/// used; one created with the VM is deleted with it when its
/// `deleteOption` says `Delete` and otherwise stays on its own; a network
/// interface the VM named is deleted only when its `deleteOption` says so.
fn release_network(state: &AppState, record: &InstanceRecord) {
    let a = &record.attributes;
    let mut owners = lock(&state.arm().owners);
    let mut resources = lock(&state.arm().resources);
    for (what, option) in [
        (&NIC, attr::NIC_DELETE),
        (&PIP, attr::PIP_DELETE),
        (&DISK, attr::DISK_DELETE),
    ] {
        let Some((id, given)) = (what.of_vm)(record) else {
            continue;
        };
        owners.remove(&key(&id));
        let delete = a.get(option).map(String::as_str) == Some("Delete");
        match (given, delete) {
            (false, false) => {
                resources.insert(key(&id), what.detached(record));
            }
            (true, true) => {
                resources.remove(&key(&id));
            }
            _ => {}
        }
    }
}
