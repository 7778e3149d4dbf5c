//! The network interfaces, public addresses and OS disks created with VMs:
//! GET and list, from their VM or left behind by a `Detach` delete option.

use super::*;

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

pub(super) async fn get_nic(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    owned(&state, path, q, headers, &NIC).await
}

pub(super) async fn get_pip(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    owned(&state, path, q, headers, &PIP).await
}

pub(super) async fn get_disk(
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

pub(super) async fn list_nics(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(list_network(&state, &sub, &group, &q, &headers, attr::NIC, nic_json).await)
}

pub(super) async fn list_pips(
    State(state): State<AppState>,
    Path((sub, group)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(list_network(&state, &sub, &group, &q, &headers, attr::PIP, pip_json).await)
}
