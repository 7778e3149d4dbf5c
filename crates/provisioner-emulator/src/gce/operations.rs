//! Compute Engine's zone operations: the records this face keeps of the
//! calls it started (kept an hour), their JSON, `requestId` replay, and the
//! `get`, `wait` and `list` methods.

use super::*;

/// How long a `requestId` names the operation it started.
const REQUEST_ID_LIFETIME: Duration = Duration::from_secs(3600);

/// The records of this face: the operations it started, the instances it
/// suspended, the disks.
#[derive(Debug)]
pub(crate) struct Operations {
    by_name: Registry<OpRecord>,
    /// `requestId` → operation name, each kept [`REQUEST_ID_LIFETIME`].
    by_request_id: Mutex<Expiring<String>>,
    /// Instances suspended (not stopped): the model's stop, shown as
    /// `SUSPENDING`/`SUSPENDED`, left by `resume` only.
    pub(super) suspended: Mutex<std::collections::HashSet<String>>,
    /// Boot disks, in use or kept after their instance.
    pub(crate) disks: super::disks::Disks,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            by_name: Registry::default(),
            by_request_id: Mutex::new(Expiring::new(REQUEST_ID_LIFETIME)),
            suspended: Mutex::default(),
            disks: super::disks::Disks::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct OpRecord {
    name: String,
    id: u64,
    project: String,
    zone: String,
    kind: OpKind,
    /// The method when [`OpKind`] does not name it (`setLabels`,
    /// `setMetadata`, `suspend`, `resume`); empty otherwise.
    pub(super) update: &'static str,
    /// The instance's model id: its resource path.
    target: String,
    inserted: String,
    /// An error known when the call was answered.
    pub(super) error: Option<OpError>,
    /// When it was first seen done (`endTime`), on the model's clock.
    ended: Option<String>,
    /// For a start, the model's number of it ([`InstanceRecord::starts`]
    /// of the answer), by which a start that failed after acceptance is
    /// found.
    ///
    /// [`InstanceRecord::starts`]: provisioner_fake::InstanceRecord::starts
    pub(super) start: u32,
}

/// An operation's error: code, message, and the HTTP status Compute Engine
/// gives it (`httpErrorStatusCode`).
type OpError = (&'static str, String, StatusCode);

/// Compute Engine's `operationType` of a change.
fn operation_type(op: &OpRecord) -> &'static str {
    if !op.update.is_empty() {
        return op.update;
    }
    match op.kind {
        OpKind::Create => "insert",
        OpKind::Delete => "delete",
        OpKind::Start => "start",
        OpKind::Stop => "stop",
        OpKind::Update => "update",
    }
}

impl AppState {
    pub(super) fn operation_json(&self, op: &OpRecord, first: bool) -> Value {
        // The face's bookkeeping, not a cloud call: not logged, never faulted.
        let now = self.cloud.peek_state(&op.target);
        // An insert the model accepted and then failed: its instance is
        // gone, and the operation reports why. A start the model accepted
        // and could not place: the instance is TERMINATED (stopped) again,
        // and the operation reports why, with the codes of an insert (the
        // resource-availability errors are the same for create and
        // restart: "Troubleshoot resource availability errors").
        let failed = |kind| Some(mapping::launch_failure(kind, &op.project, &op.zone));
        let error = match (&op.error, op.kind) {
            (Some(error), _) => Some(error.clone()),
            (None, OpKind::Create) if now.is_none() => self
                .cloud
                .vanished_launch_failure(&op.target)
                .and_then(failed),
            (None, OpKind::Start) => self
                .cloud
                .failed_start(&op.target, op.start)
                .and_then(failed),
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
            "operationType": operation_type(op),
            "targetLink": format!("{BASE}/{}", op.target),
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
            value["endTime"] = self.ended(op).into();
        }
        value
    }

    /// When `op` ended: the first time it was seen done (now, when this is
    /// that time; kept from then on), so an operation that ran shows the
    /// time it ran between `insertTime` and `endTime`.
    fn ended(&self, op: &OpRecord) -> String {
        // Most reads pass the registry's own record, which knows its end.
        if let Some(ended) = &op.ended {
            return ended.clone();
        }
        let registered = self.gce().by_name.get(&op.name);
        if let Some(ended) = registered.as_ref().and_then(|r| r.ended.clone()) {
            return ended;
        }
        let now = self.cloud.now_wall().format(&Rfc3339).unwrap_or_default();
        // Not registered yet while the call is being answered: `started`
        // keeps it then. (Kept again, the record lasts an hour from its end.)
        if let Some(registered) = registered {
            let ended = OpRecord {
                ended: Some(now.clone()),
                ..registered
            };
            self.gce().by_name.insert(&op.name, ended);
        }
        now
    }

    pub(super) fn gce(&self) -> &Operations {
        &self.gce_operations
    }
}

pub(super) fn new_operation(
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
        update: "",
        target: resource(project, zone, target),
        inserted: state.cloud.now_wall().format(&Rfc3339).unwrap_or_default(),
        error: None,
        start: 0,
        ended: None,
    }
}

/// Records and answers an operation; applies drop-after-commit.
pub(super) fn started(state: &AppState, mut op: OpRecord, request_id: Option<&str>) -> Response {
    let value = state.operation_json(&op, true);
    // Done when answered (an error known at once, an update applied):
    // it ended now.
    op.ended = value["endTime"].as_str().map(str::to_owned);
    let action = format!("compute.instances.{}", operation_type(&op));
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

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The answer a mutation's `requestId` decides before anything else: a
/// `requestId` that is not a UUID is refused (the insert reference: "must be
/// a valid UUID with the exception that zero UUID is not supported"); a
/// repeated one answers with the operation it started, without a new call.
pub(super) fn replayed(state: &AppState, request_id: Option<&str>) -> Option<Response> {
    let request_id = request_id?;
    if !is_request_uuid(request_id) {
        return Some(answer(Err(GceError::invalid(format!(
            "Invalid value for field 'requestId': '{request_id}'. Must be a valid UUID other than the zero UUID."
        )))));
    }
    let name = lock(&state.gce().by_request_id).get(request_id)?.clone();
    let op = state.gce().by_name.get(&name)?;
    Some((StatusCode::OK, Json(state.operation_json(&op, false))).into_response())
}

/// A UUID in its 8-4-4-4-12 hexadecimal form, other than the zero UUID.
fn is_request_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    let shaped = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    shaped && id.bytes().any(|b| b.is_ascii_hexdigit() && b != b'0')
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

pub(super) async fn get_operation(
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
pub(super) async fn wait_operation(
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OperationsQuery {
    filter: Option<String>,
    max_results: Option<u32>,
    page_token: Option<String>,
}

/// The fields a zone operations filter may name besides `name` and
/// `status`.
const OPERATION_FIELDS: [&str; 3] = ["operationType", "targetLink", "targetId"];

/// `zoneOperations.list`: the operations of the zone still kept (the face's
/// own and the preemptions it reports, see `spot.rs`) that `filter` admits,
/// by id, paged by `maxResults` (at most 500) and `pageToken`.
pub(super) async fn list_operations(
    State(state): State<AppState>,
    Path((project, zone)): Path<(String, String)>,
    Query(q): Query<OperationsQuery>,
) -> Response {
    answer((|| {
        check_name("zone", &zone)?;
        let expr =
            filter::parse_with(q.filter.as_deref().unwrap_or_default(), &OPERATION_FIELDS)
                .map_err(|e| GceError::invalid(format!("Invalid value for field 'filter': {e}")))?;
        let (limit, after) = paging(q.max_results, q.page_token.as_deref(), "op-")?;
        let mut ops: Vec<(u64, Value)> = state
            .gce()
            .by_name
            .values()
            .into_iter()
            .filter(|op| op.project == project && op.zone == zone)
            .map(|op| (op.id, state.operation_json(&op, false)))
            .chain(spot::preemptions(&state, &project, &zone))
            .filter(|(id, _)| after.is_none_or(|after| *id > after))
            .filter(|(_, op)| expr.as_ref().is_none_or(|e| admits(e, op)))
            .collect();
        ops.sort_by_key(|(id, _)| *id);
        let more = ops.len() > limit;
        ops.truncate(limit);
        let mut body = json!({
            "kind": "compute#operationList",
            "id": format!("projects/{project}/zones/{zone}/operations"),
            "selfLink": format!("{BASE}/projects/{project}/zones/{zone}/operations"),
        });
        if let (true, Some((last, _))) = (more, ops.last()) {
            body["nextPageToken"] = format!("op-{last}").into();
        }
        body["items"] = ops.into_iter().map(|(_, op)| op).collect();
        Ok(Json(body).into_response())
    })())
}

/// Whether an operation's JSON passes a filter.
fn admits(expr: &filter::Expr, op: &Value) -> bool {
    let field = |name: &str| op.get(name).and_then(Value::as_str).unwrap_or_default();
    let other = OPERATION_FIELDS.map(|name| (name, field(name)));
    expr.matches(&filter::Subject {
        name: field("name"),
        status: field("status"),
        labels: &std::collections::BTreeMap::new(),
        other: &other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuids_other_than_zero() {
        assert!(is_request_uuid("0b0c8e36-8f0a-4b7a-9c51-000000000001"));
        assert!(is_request_uuid("0B0C8E36-8F0A-4B7A-9C51-00000000000A"));
        for bad in [
            "",
            "r-1",
            "00000000-0000-0000-0000-000000000000",
            "0b0c8e368f0a4b7a9c51000000000001",
            "0b0c8e36-8f0a-4b7a-9c51-00000000000g",
            "0b0c8e36-8f0a-4b7a-9c51-0000000000001",
        ] {
            assert!(!is_request_uuid(bad), "{bad}");
        }
    }

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
