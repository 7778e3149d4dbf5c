//! In-place changes of an instance: `setLabels` and `setMetadata`, each
//! guarded by the fingerprint of what it replaces (a stale one gets 412
//! `conditionNotMet`), and `suspend`/`resume`.
//!
//! A suspend is the model's stop with a mark of this face: the instance
//! shows `SUSPENDING`, then `SUSPENDED`, and only `resume` (not `start`)
//! brings it back; a `stop` or `delete` of a suspended instance drops the
//! mark.

use super::*;

/// A fingerprint of `entries` (sorted key/value pairs), as Compute Engine
/// gives one: URL-safe base64 of 8 bytes (the discovery `format: byte`,
/// which Google clients decode with the URL-safe alphabet), changing
/// whenever the entries change.
pub(super) fn fingerprint<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (k, v) in entries {
        text.push_str(k);
        text.push('\u{0}');
        text.push_str(v);
        text.push('\u{0}');
    }
    let hash = provisioner_core::provider::naming::stable_hash(text.as_bytes());
    base64::engine::general_purpose::URL_SAFE.encode(hash.to_be_bytes())
}

pub(super) fn label_fingerprint(r: &InstanceRecord) -> String {
    fingerprint(r.config.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

pub(super) fn metadata_fingerprint(r: &InstanceRecord) -> String {
    fingerprint(
        r.attributes
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(METADATA)?, v.as_str()))),
    )
}

/// True when the instance (its model id) was suspended by this face.
pub(super) fn is_suspended(state: &AppState, id: &str) -> bool {
    lock(&state.gce().suspended).contains(id)
}

/// The instance's `status`: the model's, or `SUSPENDING`/`SUSPENDED`.
pub(super) fn status_of(state: &AppState, r: &InstanceRecord) -> &'static str {
    match r.state {
        CloudInstanceState::Stopping if is_suspended(state, &r.id) => "SUSPENDING",
        CloudInstanceState::Stopped if is_suspended(state, &r.id) => "SUSPENDED",
        s => mapping::status(s),
    }
}

fn stale(what: &str) -> GceError {
    GceError::new(
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
        format!("Supplied fingerprint does not match current {what} fingerprint."),
    )
}

/// Answers a change that is applied when it is answered: an operation of
/// type `method`, `DONE`.
fn applied(
    state: &AppState,
    (project, zone, name): (&str, &str, &str),
    method: &'static str,
    kind: OpKind,
    request_id: Option<&str>,
) -> Response {
    let mut op = new_operation(state, project, zone, kind, name);
    op.update = method;
    started(state, op, request_id)
}

fn body_of(bytes: &[u8]) -> Result<Value, GceError> {
    serde_json::from_slice(bytes)
        .map_err(|e| GceError::invalid(format!("Invalid JSON payload: {e}")))
}

pub(super) async fn set_labels(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(replay) = replayed(&state, q.request_id.as_deref()) {
        return replay;
    }
    answer(
        async {
            let body = body_of(&body)?;
            let record = describe_in_zone(&state, &project, &zone, &name).await?;
            if string_at(&body, "/labelFingerprint") != Some(label_fingerprint(&record).as_str()) {
                return Err(GceError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "conditionNotMet",
                    "Labels fingerprint either invalid or resource labels have changed",
                ));
            }
            let mut config = (*record.config).clone();
            config.tags = body
                .get("labels")
                .and_then(Value::as_object)
                .map(|labels| {
                    labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            check_labels(&config.tags)?;
            let path = resource(&project, &zone, &name);
            state
                .cloud
                .update(&record.id, &config)
                .await
                .map_err(|e| mapping::error(&e, &path))?;
            Ok(applied(
                &state,
                (&project, &zone, &name),
                "setLabels",
                OpKind::Update,
                q.request_id.as_deref(),
            ))
        }
        .await,
    )
}

pub(super) async fn set_metadata(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(replay) = replayed(&state, q.request_id.as_deref()) {
        return replay;
    }
    answer(
        async {
            let body = body_of(&body)?;
            let record = describe_in_zone(&state, &project, &zone, &name).await?;
            if string_at(&body, "/fingerprint") != Some(metadata_fingerprint(&record).as_str()) {
                return Err(stale("metadata"));
            }
            let items = metadata_items(body.get("items"))?;
            let path = resource(&project, &zone, &name);
            state
                .cloud
                .update_attributes(&record.id, |attributes| {
                    attributes.retain(|k, _| !k.starts_with(METADATA));
                    attributes.extend(items);
                })
                .await
                .map_err(|e| mapping::error(&e, &path))?;
            Ok(applied(
                &state,
                (&project, &zone, &name),
                "setMetadata",
                OpKind::Update,
                q.request_id.as_deref(),
            ))
        }
        .await,
    )
}

/// `suspend`: a running instance only; the model stops it and this face
/// marks it suspended.
pub(super) async fn suspend(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
) -> Response {
    if let Some(replay) = replayed(&state, q.request_id.as_deref()) {
        return replay;
    }
    answer(
        async {
            let record = describe_in_zone(&state, &project, &zone, &name).await?;
            let path = resource(&project, &zone, &name);
            if record.state != CloudInstanceState::Running {
                return Err(GceError::new(
                    StatusCode::BAD_REQUEST,
                    "resourceNotReady",
                    format!("The resource '{path}' is not ready"),
                ));
            }
            state
                .cloud
                .stop(&record.id)
                .await
                .map_err(|e| mapping::error(&e, &path))?;
            lock(&state.gce().suspended).insert(record.id.to_string());
            let mut op = new_operation(&state, &project, &zone, OpKind::Stop, &name);
            op.update = "suspend";
            Ok(started(&state, op, q.request_id.as_deref()))
        }
        .await,
    )
}

/// `resume`: a suspended instance only; the model starts it.
pub(super) async fn resume(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(q): Query<MutationQuery>,
) -> Response {
    if let Some(replay) = replayed(&state, q.request_id.as_deref()) {
        return replay;
    }
    answer(
        async {
            let record = describe_in_zone(&state, &project, &zone, &name).await?;
            let path = resource(&project, &zone, &name);
            if !is_suspended(&state, &record.id) || record.state != CloudInstanceState::Stopped {
                return Err(GceError::new(
                    StatusCode::BAD_REQUEST,
                    "resourceNotReady",
                    format!("The resource '{path}' is not suspended"),
                ));
            }
            state
                .cloud
                .start(&record.id)
                .await
                .map_err(|e| mapping::error(&e, &path))?;
            lock(&state.gce().suspended).remove(&*record.id);
            let mut op = new_operation(&state, &project, &zone, OpKind::Start, &name);
            op.update = "resume";
            Ok(started(&state, op, q.request_id.as_deref()))
        }
        .await,
    )
}
