//! The bodies of the contract cases. Each reads as the rule it checks.

mod describe;
mod failures;
mod keys;
mod launch;
mod lifecycle;
mod list;
mod ownership;

pub(super) use describe::*;
pub(super) use failures::*;
pub(super) use keys::*;
pub(super) use launch::*;
pub(super) use lifecycle::*;
pub(super) use list::*;
pub(super) use ownership::*;

use std::collections::BTreeSet;

use super::run::{ensure, fail, Check, Doing, Seen, SharedRun};
use super::RUN_TAG;
use crate::fallback::{Fallback, Offering};
use crate::provider::validate::field;
use crate::CloudInstanceState::{self, *};
use crate::{
    Capacity, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisionerExt,
    LaunchFailureKind, OnReclaim, Operation, SpotOptions, Tags, OWNER_TAG,
};

const BOOTING: &[CloudInstanceState] = &[Pending, Running];
const GOING: &[CloudInstanceState] = &[Terminating, Terminated];

fn is_state_error(result: &Result<impl Sized, Error>) -> bool {
    matches!(
        result,
        Err(Error::InvalidState { .. } | Error::NotFound { .. })
    )
}

fn field_of(result: Result<impl Sized, Error>) -> Result<String, String> {
    match result {
        Err(Error::InvalidArgument { field, .. }) => Ok(field),
        Err(other) => Err(format!("error {other}")),
        Ok(_) => Err("success".to_owned()),
    }
}

/// Waits until this run has nothing that is not terminated (nothing billed).
async fn nothing_left(run: &SharedRun) -> Check {
    let live = run
        .filter(&[])
        .in_states([Pending, Running, Stopping, Stopped, Terminating]);
    run.wait_for_listing(&live, &[]).await?;
    Ok(())
}

/// `wait_until_running` of `id` fails with the error of `kind`.
async fn waiting_fails_with(run: &SharedRun, id: &str, kind: LaunchFailureKind) -> Check {
    let deadline = run.subject.timing.deadline;
    let result = run.provisioner().wait_until_running(id, deadline).await;
    let got = match &result {
        Err(Error::InsufficientCapacity { .. }) => LaunchFailureKind::InsufficientCapacity,
        Err(Error::QuotaExceeded { .. }) => LaunchFailureKind::QuotaExceeded,
        _ => fail!("wait_until_running gave {result:?}, want the error of {kind:?}"),
    };
    ensure!(
        got == kind,
        "wait_until_running gave {result:?}, want the error of {kind:?}"
    );
    Ok(())
}

fn ids(listed: &[InstanceInfo]) -> Vec<&str> {
    listed.iter().map(|i| i.instance_id.as_str()).collect()
}
