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

pub(super) async fn get_vm(
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

pub(super) async fn instance_view(
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

pub(super) async fn delete_vm(
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
            action: "Microsoft.Compute/virtualMachines/start/action",
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
