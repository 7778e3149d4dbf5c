//! Long-running operations: the answer that starts one (201/202 with
//! `Azure-AsyncOperation`, `Location` and `Retry-After`) and the operation
//! status resource.

use super::*;

/// What a long-running answer needs to know about its request.
pub(super) struct Request<'a> {
    pub(super) state: &'a AppState,
    pub(super) headers: &'a HeaderMap,
    pub(super) sub: &'a str,
    pub(super) location: &'a str,
    /// The api-version of the request, which the operation URL carries on.
    pub(super) version: &'a str,
    /// The resource provider whose operation it is: `Microsoft.Compute` or
    /// `Microsoft.Network`.
    pub(super) namespace: &'a str,
}

/// Records an operation and answers with ARM's long-running headers.
pub(super) fn accepted(
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
        version,
        namespace,
    } = *request;
    let n = state.arm().operations.next_number();
    let id = format!("{n:08x}-0000-4000-8000-{n:012x}");
    let started = state.cloud.now_wall().format(&Rfc3339).unwrap_or_default();
    state.arm().operations.insert(
        &id,
        ArmOp {
            vm: vm.to_owned(),
            kind,
            started,
            // A start's own number (the face's bookkeeping, not a cloud
            // call); no other operation reads it.
            start: match kind {
                OpKind::Start => state.cloud.peek(vm).map_or(0, |r| r.starts),
                _ => 0,
            },
        },
    );
    let url = format!(
        "{}/subscriptions/{sub}/providers/{namespace}/locations/{location}/operations/{id}?api-version={version}",
        base_url(state, headers),
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

pub(super) async fn operation_status(
    State(state): State<AppState>,
    Path((_sub, namespace, _location, id)): Path<(String, String, String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    answer(
        async {
            check_auth(&headers)?;
            q.check(if namespace == "Microsoft.Network" {
                versions::NETWORK
            } else {
                versions::VMS
            })?;
            let op = state.arm().operations.get(&id).ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("Operation '{id}' was not found."),
                )
            })?;
            // The face's bookkeeping, not a cloud call: not logged, never faulted.
            let now = state.cloud.peek(&op.vm);
            // A create the model accepted and could not place; a start of a
            // deallocated VM it accepted and could not place (Azure fails
            // the start's operation with AllocationFailed: "Troubleshoot
            // allocation failures when you create, restart, or resize VMs").
            let failure = match op.kind {
                OpKind::Create => now.as_ref().and_then(|r| r.failure),
                OpKind::Start => state.cloud.failed_start(&op.vm, op.start),
                _ => None,
            };
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
