//! The control face: fault injection over HTTP, for clients that are not
//! Rust (JSON under `/_emulator/`).
//!
//! - `POST /_emulator/faults`  `{"op": "launch", "count": 2, "fault": "throttled", "retry_after_secs": 1}`
//! - `POST /_emulator/random`  `{"ops": ["describe"], "probability": 0.1, "fault": "unavailable"}`
//! - `POST /_emulator/latency` `{"op": "launch", "millis": 250}`
//! - `POST /_emulator/visibility` `{"millis": 2000}`
//! - `POST /_emulator/drop-after-commit` `{"action": "RunInstances", "count": 1}`
//! - `POST /_emulator/launch-failures` `{"count": 1, "failure": "insufficient_capacity", "after_millis": 300}`
//!   (the next launches are accepted, then fail; `quota_exceeded` too)
//! - `POST /_emulator/start-failures` `{"count": 1, "failure": "insufficient_capacity"}`
//!   the next starts of stopped instances cannot be placed, as the
//!   personality's cloud says so: refused at once (EC2), or accepted and
//!   failed after `after_millis` (optional; 300 by default) on Compute
//!   Engine and Azure
//! - `POST /_emulator/reclaim` `{"id": "i-0123…"}` (a provider's id or the
//!   model's) the cloud reclaims that
//!   spot instance now (204; 409 for an on-demand or ending one, 404 for
//!   an unknown one), with the face's own signs of it
//! - `POST /_emulator/clear`
//! - `GET  /_emulator/state` what the emulator holds now:
//!   `{"instances": 3, "unattached": {"network_interfaces": 0, "public_addresses": 0, "disks": 0}}`
//!   (live instances; network and disk resources no instance holds)
//! - `GET  /_emulator/calls` the model's call counts per operation
//! - `GET  /_emulator/requests` the requests each face received on the wire
//!   (`{"ec2": 12, "gce": 0, "arm": 0}`), for a client counting its own

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use provisioner_core::LaunchFailureKind;
use provisioner_fake::{Fault, Operation};
use serde::Deserialize;

use crate::wire::Face;
use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/faults", post(fail_next))
        .route("/_emulator/random", post(fail_randomly))
        .route("/_emulator/latency", post(latency))
        .route("/_emulator/visibility", post(visibility))
        .route("/_emulator/drop-after-commit", post(drop_after_commit))
        .route("/_emulator/launch-failures", post(launch_failures))
        .route("/_emulator/start-failures", post(start_failures))
        .route("/_emulator/clear", post(clear))
        .route("/_emulator/reclaim", post(reclaim))
        .route("/_emulator/state", get(held))
        .route("/_emulator/calls", get(calls))
        .route("/_emulator/requests", get(requests))
}

/// An operation named in a control request, parsed with the model's own
/// names (`launch`, `terminate`, `stop`, `start`, `describe`, `list`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct Op(Operation);

impl TryFrom<String> for Op {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse().map(Op)
    }
}

impl From<Op> for Operation {
    fn from(op: Op) -> Self {
        op.0
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultName {
    Throttled,
    Unavailable,
    Internal,
    InsufficientCapacity,
    QuotaExceeded,
    PriceTooLow,
    Unauthenticated,
    PermissionDenied,
}

fn fault(name: FaultName, retry_after_secs: Option<u64>) -> Fault {
    match name {
        FaultName::Throttled => Fault::Throttled {
            retry_after: retry_after_secs.map(Duration::from_secs),
        },
        FaultName::Unavailable => Fault::Unavailable,
        FaultName::Internal => Fault::Internal,
        FaultName::InsufficientCapacity => Fault::InsufficientCapacity,
        FaultName::QuotaExceeded => Fault::QuotaExceeded,
        FaultName::PriceTooLow => Fault::PriceTooLow,
        FaultName::Unauthenticated => Fault::Unauthenticated,
        FaultName::PermissionDenied => Fault::PermissionDenied,
    }
}

#[derive(Debug, Deserialize)]
struct FailNext {
    op: Op,
    count: u32,
    fault: FaultName,
    retry_after_secs: Option<u64>,
}

async fn fail_next(State(s): State<AppState>, Json(r): Json<FailNext>) -> StatusCode {
    s.cloud
        .fail_next(r.op.into(), r.count, fault(r.fault, r.retry_after_secs));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct FailRandomly {
    ops: Vec<Op>,
    probability: f64,
    fault: FaultName,
    retry_after_secs: Option<u64>,
}

async fn fail_randomly(State(s): State<AppState>, Json(r): Json<FailRandomly>) -> StatusCode {
    let ops: Vec<Operation> = r.ops.into_iter().map(Operation::from).collect();
    s.cloud
        .fail_randomly(&ops, r.probability, fault(r.fault, r.retry_after_secs));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Latency {
    op: Op,
    millis: u64,
}

async fn latency(State(s): State<AppState>, Json(r): Json<Latency>) -> StatusCode {
    s.cloud
        .set_latency(r.op.into(), Duration::from_millis(r.millis));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Visibility {
    millis: u64,
}

async fn visibility(State(s): State<AppState>, Json(r): Json<Visibility>) -> StatusCode {
    s.cloud
        .set_visibility_delay(Duration::from_millis(r.millis));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct DropAfterCommit {
    action: String,
    count: u32,
}

async fn drop_after_commit(
    State(s): State<AppState>,
    Json(r): Json<DropAfterCommit>,
) -> StatusCode {
    s.wire.drop_after_commit(&r.action, r.count);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LaunchFailureName {
    InsufficientCapacity,
    QuotaExceeded,
}

#[derive(Debug, Deserialize)]
struct LaunchFailures {
    count: u32,
    failure: LaunchFailureName,
    after_millis: u64,
}

impl From<LaunchFailureName> for LaunchFailureKind {
    fn from(name: LaunchFailureName) -> Self {
        match name {
            LaunchFailureName::InsufficientCapacity => Self::InsufficientCapacity,
            LaunchFailureName::QuotaExceeded => Self::QuotaExceeded,
        }
    }
}

async fn launch_failures(State(s): State<AppState>, Json(r): Json<LaunchFailures>) -> StatusCode {
    s.cloud.fail_after_acceptance(
        r.count,
        r.failure.into(),
        Duration::from_millis(r.after_millis),
    );
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct StartFailures {
    count: u32,
    failure: LaunchFailureName,
    /// For clouds that accept a start and fail it later: how much later.
    after_millis: Option<u64>,
}

async fn start_failures(State(s): State<AppState>, Json(r): Json<StartFailures>) -> StatusCode {
    let kind = r.failure.into();
    match r.after_millis {
        Some(after) if s.cloud.personality().start_failures_after_acceptance => s
            .cloud
            .fail_start_after_acceptance(r.count, kind, Duration::from_millis(after)),
        _ => s.cloud.fail_starts(r.count, kind),
    }
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Reclaim {
    /// The instance, by the model's id or a provider's.
    id: String,
}

async fn reclaim(State(s): State<AppState>, Json(r): Json<Reclaim>) -> StatusCode {
    match crate::faults::reclaim(&s.cloud, &r.id) {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(provisioner_fake::CloudError::NotFound { .. }) => StatusCode::NOT_FOUND,
        Err(_) => StatusCode::CONFLICT,
    }
}

async fn clear(State(s): State<AppState>) -> StatusCode {
    s.cloud.clear_faults();
    s.cloud.set_visibility_delay(Duration::ZERO);
    s.wire.clear();
    StatusCode::NO_CONTENT
}

async fn held(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "instances": s.cloud.live_instances(),
        "unattached": s.unattached(),
    }))
}

async fn calls(State(s): State<AppState>) -> Json<serde_json::Value> {
    let counts: serde_json::Map<String, serde_json::Value> = Operation::ALL
        .iter()
        .map(|op| (op.as_str().to_owned(), s.cloud.call_count(*op).into()))
        .collect();
    Json(counts.into())
}

async fn requests(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "ec2": s.counts.received(Face::Ec2),
        "gce": s.counts.received(Face::ComputeEngine),
        "arm": s.counts.received(Face::ResourceManager),
    }))
}
