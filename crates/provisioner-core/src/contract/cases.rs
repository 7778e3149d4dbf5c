//! The bodies of the contract cases. Each reads as the rule it checks.

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

/// a. Launch returns at once with a non-empty id, state pending or running,
/// and the tags exactly as given.
pub(super) async fn launch_returns_valid_info(run: SharedRun) -> Check {
    let config = run
        .config()
        .with_tag("ManagedBy", "contract-suite")
        .with_tag("role", "worker");
    let info = run.launch(&config).await?;
    ensure!(!info.instance_id.is_empty(), "launch returned an empty id");
    ensure!(
        BOOTING.contains(&info.state),
        "launch returned state {}, want pending or running",
        info.state
    );
    ensure!(
        info.tags == config.tags,
        "launch returned tags {:?}, want exactly {:?}",
        info.tags,
        config.tags
    );
    Ok(())
}

/// b. Two launches with the same idempotency key return the same instance
/// and create one.
pub(super) async fn launch_is_idempotent(run: SharedRun) -> Check {
    let config = run
        .config()
        .with_idempotency_key(format!("contract-{}", run.run_id));
    let first = run.launch(&config).await?;
    let second = run.launch(&config).await?;
    ensure!(
        first.instance_id == second.instance_id,
        "two launches with one key returned {} and {}",
        first.instance_id,
        second.instance_id
    );
    run.wait_for_listing(&run.filter(&[]), &[&first.instance_id])
        .await?;
    Ok(())
}

/// c. An invalid config returns InvalidArgument naming the field, before
/// any API call; no instance exists afterwards.
pub(super) async fn invalid_config_is_rejected(run: SharedRun) -> Check {
    let valid = run.config();
    let mut no_image = valid.clone();
    no_image.image.clear();
    let mut no_type = valid.clone();
    no_type.instance_type = " ".to_owned();
    let cases: [(&str, InstanceConfig, &str); 5] = [
        ("empty image", no_image, field::IMAGE),
        ("blank instance type", no_type, field::INSTANCE_TYPE),
        (
            "empty tag key",
            valid.clone().with_tag("", "x"),
            field::TAGS,
        ),
        (
            "control character in a tag key",
            valid.clone().with_tag("bad\u{1}key", "x"),
            field::TAGS,
        ),
        (
            "the ownership marker's key among the caller's tags",
            valid.clone().with_tag(OWNER_TAG, "someone"),
            field::TAGS,
        ),
    ];
    for (what, config, want) in cases {
        let result = run.provisioner().launch_instance(&config).await;
        if let Ok(info) = &result {
            run.remember(&info.instance_id);
        }
        match field_of(result) {
            Ok(got) if got == want => {}
            Ok(got) => fail!("{what}: InvalidArgument named {got:?}, want {want:?}"),
            Err(got) => fail!("{what}: got {got}, want InvalidArgument naming {want:?}"),
        }
    }
    let all = run.filter(&[]).in_states(CloudInstanceState::ALL);
    let listed = run.provisioner().list_instances(&all).await.doing("list")?;
    ensure!(
        listed.is_empty(),
        "rejected launches left instances behind: {:?}",
        ids(&listed)
    );
    Ok(())
}

/// d. Describe of a live instance returns its status, consistent with list.
pub(super) async fn describe_consistent_state(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    let id = info.instance_id.as_str();
    let status = run
        .provisioner()
        .describe_instance(id)
        .await
        .doing("describe right after launch")?;
    ensure!(
        status.instance_id == id,
        "describe returned id {}",
        status.instance_id
    );
    ensure!(
        BOOTING.contains(&status.state),
        "describe right after launch says {}, want pending or running",
        status.state
    );
    let running = run.wait_for(id, &[Running]).await?;
    ensure!(
        running.private_ip.is_some(),
        "a running instance has no private address"
    );
    let filter = run.filter(&[]).in_states([Running]);
    let listed = run.wait_for_listing(&filter, &[id]).await?;
    ensure!(
        listed[0].private_ip == running.private_ip && listed[0].public_ip == running.public_ip,
        "list and describe disagree on addresses: {:?}/{:?} vs {:?}/{:?}",
        listed[0].private_ip,
        listed[0].public_ip,
        running.private_ip,
        running.public_ip
    );
    Ok(())
}

/// d. Describe of a well-formed id that no longer exists returns terminated.
pub(super) async fn describe_unknown_is_terminated(run: SharedRun) -> Check {
    let unknown = run.subject.unknown_id.clone();
    let status = run
        .provisioner()
        .describe_instance(&unknown)
        .await
        .doing("describe of an unknown id")?;
    ensure!(
        status.state == Terminated,
        "describe of unknown {unknown} says {}, want terminated",
        status.state
    );
    ensure!(
        status.instance_id == unknown,
        "describe returned id {}",
        status.instance_id
    );
    Ok(())
}

/// d, e. The batch calls answer each id as the single calls do, in order:
/// live instances as describe sees them, an unknown id terminated, a
/// malformed id its own InvalidArgument failing no other; a batch
/// terminate ends every instance it names.
pub(super) async fn batch_calls_answer_each_id(run: SharedRun) -> Check {
    let p = run.provisioner();
    let a = run.launch(&run.config()).await?;
    let b = run.launch(&run.config()).await?;
    let unknown = run.subject.unknown_id.as_str();
    let bad = run.subject.malformed_id.as_str();
    run.wait_for(&a.instance_id, BOOTING).await?;
    run.wait_for(&b.instance_id, BOOTING).await?;
    let ids = [a.instance_id.as_str(), bad, unknown, b.instance_id.as_str()];
    let results = p
        .describe_instances(&ids)
        .await
        .doing("describe_instances")?;
    ensure!(
        results.len() == ids.len(),
        "describe_instances of {} ids gave {} results",
        ids.len(),
        results.len()
    );
    for (id, result) in ids.iter().zip(&results) {
        match result {
            Ok(status) if *id == bad => fail!("the malformed id {bad:?} was described: {status:?}"),
            Err(e) if *id == bad => ensure!(
                e.invalid_field() == Some(field::INSTANCE_ID),
                "the malformed id gave {e}, want InvalidArgument naming instance_id"
            ),
            Err(e) => fail!("describe_instances failed {id}: {e}"),
            Ok(status) => {
                ensure!(
                    status.instance_id == *id,
                    "the answer for {id} names {}",
                    status.instance_id
                );
                let want_gone = *id == unknown;
                ensure!(
                    (status.state == Terminated) == want_gone,
                    "describe_instances says {id} is {}",
                    status.state
                );
            }
        }
    }
    let ids = [a.instance_id.as_str(), unknown, b.instance_id.as_str()];
    let results = p
        .terminate_instances(&ids)
        .await
        .doing("terminate_instances")?;
    ensure!(
        results.len() == ids.len() && results.iter().all(Result::is_ok),
        "terminate_instances gave {results:?}"
    );
    run.wait_for(&a.instance_id, GOING).await?;
    run.wait_for(&b.instance_id, GOING).await?;
    Ok(())
}

/// d. A malformed id is InvalidArgument naming `instance_id`, for every operation.
pub(super) async fn malformed_id_is_invalid_argument(run: SharedRun) -> Check {
    let p = run.provisioner();
    let bad = run.subject.malformed_id.as_str();
    let results = [
        ("describe", field_of(p.describe_instance(bad).await)),
        ("stop", field_of(p.stop_instance(bad).await)),
        ("start", field_of(p.start_instance(bad).await)),
        ("terminate", field_of(p.terminate_instance(bad).await)),
        ("empty id", field_of(p.describe_instance("").await)),
    ];
    for (op, result) in results {
        match result {
            Ok(got) if got == field::INSTANCE_ID => {}
            Ok(got) => fail!("{op} of {bad:?}: InvalidArgument named {got:?}"),
            Err(got) => fail!("{op} of {bad:?}: got {got}, want InvalidArgument"),
        }
    }
    Ok(())
}

/// e. Terminate leads to terminating, then terminated.
pub(super) async fn terminate_makes_terminated(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    let id = info.instance_id.as_str();
    run.provisioner()
        .terminate_instance(id)
        .await
        .doing("terminate")?;
    let status = run
        .provisioner()
        .describe_instance(id)
        .await
        .doing("describe after terminate")?;
    ensure!(
        GOING.contains(&status.state),
        "describe right after terminate says {}, want terminating or terminated",
        status.state
    );
    run.wait_for(id, &[Terminated]).await?;
    Ok(())
}

/// e. A second terminate succeeds; terminate of an unknown id succeeds.
pub(super) async fn terminate_is_idempotent(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    let p = run.provisioner();
    p.terminate_instance(&info.instance_id)
        .await
        .doing("first terminate")?;
    p.terminate_instance(&info.instance_id)
        .await
        .doing("second terminate, right after the first")?;
    run.wait_for(&info.instance_id, &[Terminated]).await?;
    p.terminate_instance(&info.instance_id)
        .await
        .doing("terminate of a terminated instance")?;
    p.terminate_instance(&run.subject.unknown_id)
        .await
        .doing("terminate of an unknown id")?;
    Ok(())
}

/// f. Stop leads to stopped; start returns the same id with the addresses
/// the provider reports now.
pub(super) async fn stop_start_lifecycle(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    let id = info.instance_id.as_str();
    let p = run.provisioner();
    run.wait_for(id, &[Running]).await?;
    p.stop_instance(id).await.doing("stop")?;
    let status = p.describe_instance(id).await.doing("describe after stop")?;
    ensure!(
        matches!(status.state, Stopping | Stopped),
        "describe right after stop says {}, want stopping or stopped",
        status.state
    );
    run.wait_for(id, &[Stopped]).await?;
    let started = p.start_instance(id).await.doing("start")?;
    ensure!(
        started.instance_id == id,
        "start returned id {}",
        started.instance_id
    );
    ensure!(
        BOOTING.contains(&started.state),
        "start returned state {}, want pending or running",
        started.state
    );
    check_addresses_are_current(&run, &started).await?;
    run.wait_for(id, &[Running]).await?;
    Ok(())
}

/// The addresses start returned are the ones describe reports right after,
/// where start reported any: never values cached from before the stop.
async fn check_addresses_are_current(run: &SharedRun, started: &InstanceInfo) -> Check {
    let now = run
        .provisioner()
        .describe_instance(&started.instance_id)
        .await
        .doing("describe after start")?;
    for (which, returned, reported) in [
        ("private", started.private_ip, now.private_ip),
        ("public", started.public_ip, now.public_ip),
    ] {
        if let Some(returned) = returned {
            ensure!(
                Some(returned) == reported,
                "start returned {which} address {returned}, but the provider reports {reported:?}"
            );
        }
    }
    Ok(())
}

/// f. Start of a running instance and stop of a stopped one succeed.
pub(super) async fn stop_start_are_idempotent(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    let id = info.instance_id.as_str();
    let p = run.provisioner();
    run.wait_for(id, &[Running]).await?;
    let again = p
        .start_instance(id)
        .await
        .doing("start of a running instance")?;
    ensure!(
        again.instance_id == id,
        "start returned id {}",
        again.instance_id
    );
    ensure!(
        again.state == Running,
        "start of a running instance says {}",
        again.state
    );
    p.stop_instance(id).await.doing("stop")?;
    p.stop_instance(id)
        .await
        .doing("stop of a stopping instance")?;
    run.wait_for(id, &[Stopped]).await?;
    p.stop_instance(id)
        .await
        .doing("stop of a stopped instance")?;
    let status = p.describe_instance(id).await.doing("describe")?;
    ensure!(
        status.state == Stopped,
        "a second stop moved the instance to {}",
        status.state
    );
    Ok(())
}

/// g. Stop or start of a terminated instance is InvalidState (or NotFound).
pub(super) async fn terminated_cannot_stop_or_start(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    let id = info.instance_id.as_str();
    let p = run.provisioner();
    p.terminate_instance(id).await.doing("terminate")?;
    run.wait_for(id, &[Terminated]).await?;
    let stop = p.stop_instance(id).await;
    ensure!(
        is_state_error(&stop),
        "stop of a terminated instance gave {stop:?}, want InvalidState or NotFound"
    );
    let start = p.start_instance(id).await;
    ensure!(
        is_state_error(&start),
        "start of a terminated instance gave {start:?}, want InvalidState or NotFound"
    );
    // Each refusal says where it came from.
    for (op, result) in [
        (Operation::Stop, stop),
        (Operation::Start, start.map(|_| ())),
    ] {
        let Err(e) = result else { continue };
        let context = e.context();
        ensure!(
            context.map(|c| (c.provider, c.operation)) == Some((p.name(), Some(op))),
            "the {op} refusal {e} names {context:?}, want provider {} and operation {op}",
            p.name()
        );
    }
    Ok(())
}

/// h. List returns exactly the instances carrying all the filter's tags,
/// across every page.
pub(super) async fn list_matches_by_tags(run: SharedRun) -> Check {
    let mut pool_a = Vec::new();
    for _ in 0..3 {
        let info = run.launch(&run.config().with_tag("pool", "a")).await?;
        pool_a.push(info.instance_id);
    }
    let b = run.launch(&run.config().with_tag("pool", "b")).await?;
    let a_ids: Vec<&str> = pool_a.iter().map(String::as_str).collect();
    let listed = run
        .wait_for_listing(&run.filter(&[("pool", "a")]), &a_ids)
        .await?;
    for info in &listed {
        ensure!(
            info.tags.get("pool").map(String::as_str) == Some("a"),
            "list for pool=a returned {} tagged {:?}",
            info.instance_id,
            info.tags
        );
    }
    let mut everything = a_ids.clone();
    everything.push(&b.instance_id);
    run.wait_for_listing(&run.filter(&[]), &everything).await?;
    Ok(())
}

/// h. Tags no instance carries list nothing.
pub(super) async fn list_non_matching_tags_is_empty(run: SharedRun) -> Check {
    let info = run.launch(&run.config().with_tag("pool", "a")).await?;
    run.wait_for_listing(&run.filter(&[]), &[&info.instance_id])
        .await?;
    let p = run.provisioner();
    for filter in [
        run.filter(&[("pool", "no-such-pool")]),
        run.filter(&[("no-such-key", "a")]),
        InstanceFilter::tagged([(super::RUN_TAG, format!("{}-other", run.run_id))]),
    ] {
        let listed = p.list_instances(&filter).await.doing("list")?;
        ensure!(
            listed.is_empty(),
            "list {:?} returned {:?}",
            filter.tags,
            ids(&listed)
        );
    }
    Ok(())
}

/// h. The states filter holds; terminated instances only when asked for.
pub(super) async fn list_filters_states(run: SharedRun) -> Check {
    let p = run.provisioner();
    let stopped = run.launch(&run.config()).await?.instance_id;
    let running = run.launch(&run.config()).await?.instance_id;
    let gone = run.launch(&run.config()).await?.instance_id;
    run.wait_for(&stopped, &[Running]).await?;
    run.wait_for(&running, &[Running]).await?;
    p.stop_instance(&stopped).await.doing("stop")?;
    p.terminate_instance(&gone).await.doing("terminate")?;
    run.wait_for(&stopped, &[Stopped]).await?;
    run.wait_for(&gone, &[Terminated]).await?;

    let only = |states: &[CloudInstanceState]| run.filter(&[]).in_states(states.iter().copied());
    run.wait_for_listing(&only(&[Stopped]), &[&stopped]).await?;
    run.wait_for_listing(&only(&[Running]), &[&running]).await?;
    run.wait_for_listing(&only(&[Running, Stopped]), &[&running, &stopped])
        .await?;
    // The default (no states) leaves terminated out.
    run.wait_for_listing(&run.filter(&[]), &[&running, &stopped])
        .await?;
    // Asked for, terminated instances appear (where the provider still
    // shows them) and nothing else does.
    let terminated = run
        .eventually("list of terminated instances", || async {
            let listed = p.list_instances(&only(&[Terminated])).await?;
            Ok(Seen::Ready(listed))
        })
        .await?;
    for info in &terminated {
        ensure!(
            info.state == Terminated && info.instance_id == gone,
            "list for terminated returned {} in state {}",
            info.instance_id,
            info.state
        );
    }
    Ok(())
}

/// i. Concurrent launches return distinct ids, all of them listed.
pub(super) async fn concurrent_launches_are_distinct(run: SharedRun) -> Check {
    const N: usize = 5;
    let config = run.config();
    let launches = (0..N).map(|_| run.launch(&config));
    let results = futures::future::join_all(launches).await;
    let mut distinct = BTreeSet::new();
    for result in results {
        distinct.insert(result?.instance_id);
    }
    ensure!(
        distinct.len() == N,
        "{N} concurrent launches returned {} distinct ids",
        distinct.len()
    );
    let want: Vec<&str> = distinct.iter().map(String::as_str).collect();
    run.wait_for_listing(&run.filter(&[]), &want).await?;
    Ok(())
}

/// j. A key reused after its instance was terminated never returns that
/// instance as a launch: either a new instance (which describe and list show
/// as booting, never the old one's terminating state) or InvalidArgument
/// naming `idempotency_key`.
pub(super) async fn key_reused_after_terminate_never_returns_the_old_instance(
    run: SharedRun,
) -> Check {
    let config = run
        .config()
        .with_idempotency_key(format!("contract-{}", run.run_id));
    let first = run.launch(&config).await?;
    let p = run.provisioner();
    p.terminate_instance(&first.instance_id)
        .await
        .doing("terminate")?;
    run.wait_for(&first.instance_id, &[Terminated]).await?;
    match p.launch_instance(&config).await {
        Err(Error::InvalidArgument { field, .. }) if field == field::IDEMPOTENCY_KEY => Ok(()),
        Err(e) => fail!("relaunch with a key whose instance was terminated: unexpected error {e}"),
        Ok(again) => {
            run.remember(&again.instance_id);
            ensure!(
                BOOTING.contains(&again.state),
                "relaunch with a used key returned {} in state {}",
                again.instance_id,
                again.state
            );
            let status = p
                .describe_instance(&again.instance_id)
                .await
                .doing("describe of the relaunched instance")?;
            ensure!(
                BOOTING.contains(&status.state),
                "relaunched {} reads {} (the old instance's state?), want pending or running",
                again.instance_id,
                status.state
            );
            run.wait_for(&again.instance_id, &[Running]).await?;
            run.wait_for_listing(&run.filter(&[]), &[&again.instance_id])
                .await?;
            Ok(())
        }
    }
}

/// j. A key reused with other parameters is InvalidArgument naming
/// `idempotency_key`, and the first instance is unchanged.
pub(super) async fn key_reused_with_other_parameters_is_rejected(run: SharedRun) -> Check {
    let config = run
        .config()
        .with_tag("pool", "a")
        .with_idempotency_key(format!("contract-{}", run.run_id));
    let first = run.launch(&config).await?;
    let p = run.provisioner();
    let variants = [
        ("other tags", config.clone().with_tag("pool", "b")),
        (
            "other user data",
            config.clone().with_user_data("#!/bin/sh\necho other\n"),
        ),
    ];
    for (what, other) in variants {
        let result = p.launch_instance(&other).await;
        if let Ok(info) = &result {
            run.remember(&info.instance_id);
        }
        match field_of(result) {
            Ok(got) if got == field::IDEMPOTENCY_KEY => {}
            Ok(got) => fail!("key reused with {what}: InvalidArgument named {got:?}"),
            Err(got) => fail!(
                "key reused with {what}: got {got}, want InvalidArgument naming idempotency_key"
            ),
        }
    }
    let listed = run
        .wait_for_listing(&run.filter(&[]), &[&first.instance_id])
        .await?;
    ensure!(
        listed[0].tags == config.tags,
        "the first instance's tags changed to {:?}",
        listed[0].tags
    );
    let status = p
        .describe_instance(&first.instance_id)
        .await
        .doing("describe")?;
    ensure!(
        BOOTING.contains(&status.state),
        "the first instance is {} after the refused launches",
        status.state
    );
    Ok(())
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

/// k. A launch that the cloud accepted and then failed for capacity:
/// `wait_until_running` returns InsufficientCapacity, describe says
/// terminated with a reason naming the cloud's code, and nothing stays.
pub(super) async fn accepted_launch_failure_is_seen(run: SharedRun) -> Check {
    let faults = run.faults();
    faults
        .fail_next_launch(LaunchFailureKind::InsufficientCapacity)
        .await;
    let launched = run.provisioner().launch_instance(&run.config()).await;
    faults.clear().await;
    let info = match launched {
        Ok(info) => info,
        Err(Error::InsufficientCapacity { .. }) => {
            fail!("the cloud accepts this launch and fails it later; launch must return at once")
        }
        Err(e) => fail!("launch: unexpected error {e}"),
    };
    run.remember(&info.instance_id);
    ensure!(
        BOOTING.contains(&info.state),
        "launch returned state {}",
        info.state
    );
    waiting_fails_with(
        &run,
        &info.instance_id,
        LaunchFailureKind::InsufficientCapacity,
    )
    .await?;
    let status = run
        .provisioner()
        .describe_instance(&info.instance_id)
        .await
        .doing("describe of the failed launch")?;
    ensure!(
        status.state == Terminated,
        "a failed launch reads {}",
        status.state
    );
    let failure = status.launch_failure.as_ref();
    ensure!(
        failure.is_some_and(
            |f| f.kind == LaunchFailureKind::InsufficientCapacity && !f.code.is_empty()
        ),
        "describe of a failed launch has launch_failure {failure:?}"
    );
    let code = &failure.map(|f| f.code.clone()).unwrap_or_default();
    ensure!(
        status
            .state_reason
            .as_deref()
            .is_some_and(|r| r.contains(code.as_str())),
        "the reason {:?} does not name the cloud's code {code}",
        status.state_reason
    );
    nothing_left(&run).await
}

/// k. A launch failed for quota is QuotaExceeded, from launch (clouds that
/// refuse at once) or from `wait_until_running`, and nothing stays.
pub(super) async fn quota_failure_is_seen(run: SharedRun) -> Check {
    let faults = run.faults();
    faults
        .fail_next_launch(LaunchFailureKind::QuotaExceeded)
        .await;
    let launched = run.provisioner().launch_instance(&run.config()).await;
    faults.clear().await;
    match launched {
        Err(Error::QuotaExceeded { .. }) => {}
        Err(e) => fail!("launch: unexpected error {e}, want QuotaExceeded"),
        Ok(info) => {
            run.remember(&info.instance_id);
            waiting_fails_with(&run, &info.instance_id, LaunchFailureKind::QuotaExceeded).await?;
        }
    }
    nothing_left(&run).await
}

/// l. Throttling reaches the caller as Throttled carrying the cloud's
/// Retry-After (where the cloud sends one), and no call waits a long
/// Retry-After out.
pub(super) async fn throttling_carries_retry_after_unwaited(run: SharedRun) -> Check {
    let info = run.launch(&run.config()).await?;
    // An hour: far beyond any cap, so waiting it out would hang the case.
    let asked = std::time::Duration::from_secs(3600);
    let faults = run.faults();
    // More throttles than any stack of retries makes attempts.
    faults.throttle_describes(100, asked).await;
    let result = tokio::time::timeout(
        run.subject.timing.deadline,
        run.provisioner().describe_instance(&info.instance_id),
    )
    .await;
    faults.clear().await;
    let Ok(result) = result else {
        fail!(
            "describe under throttling did not return within {:?}",
            run.subject.timing.deadline
        );
    };
    match result {
        Err(Error::Throttled { retry_after, .. }) => {
            if run.subject.capabilities.sends_retry_after == super::Support::Yes {
                ensure!(
                    retry_after == Some(asked),
                    "Throttled carries retry_after {retry_after:?}, want the cloud's {asked:?}"
                );
            }
            Ok(())
        }
        other => fail!("describe under throttling gave {other:?}, want Throttled"),
    }
}

fn ids(listed: &[InstanceInfo]) -> Vec<&str> {
    listed.iter().map(|i| i.instance_id.as_str()).collect()
}

/// m. A spot instance the cloud reclaims ends as its launch asked
/// (terminated, or stopped, where the cloud stops them), and describe and
/// list both say it was reclaimed.
pub(super) async fn spot_reclaim_is_seen(run: SharedRun) -> Check {
    let faults = run.faults();
    for on_reclaim in [OnReclaim::Terminate, OnReclaim::Stop] {
        let spot = SpotOptions::default().with_on_reclaim(on_reclaim);
        let config = run.config().with_capacity(Capacity::Spot(spot));
        let info = match run.provisioner().launch_instance(&config).await {
            Ok(info) => {
                run.remember(&info.instance_id);
                info
            }
            // A cloud that only terminates reclaimed instances (EC2's
            // one-time requests) refuses the other before any call.
            Err(e)
                if on_reclaim == OnReclaim::Stop && e.invalid_field() == Some(field::CAPACITY) =>
            {
                continue;
            }
            Err(e) => fail!("launch of a spot instance ({on_reclaim:?} on reclaim): {e}"),
        };
        let id = info.instance_id.as_str();
        run.wait_for(id, &[Running]).await?;
        ensure!(
            faults.reclaim(id).await,
            "the fault injector could not reclaim {id}"
        );
        let ends = match on_reclaim {
            OnReclaim::Stop => Stopped,
            _ => Terminated,
        };
        let status = run.wait_for(id, &[ends]).await?;
        ensure!(
            status.reclaimed,
            "describe of {id}, reclaimed to {ends}, does not say it was reclaimed: {status:?}"
        );
        let all = run.filter(&[]).in_states(CloudInstanceState::ALL);
        let listed = run.provisioner().list_instances(&all).await.doing("list")?;
        match listed.iter().find(|i| i.instance_id == id) {
            Some(i) => ensure!(i.reclaimed, "list does not say {id} was reclaimed: {i:?}"),
            // A terminated instance may already be gone from listings.
            None => ensure!(ends == Terminated, "list lost the stopped {id}"),
        }
    }
    Ok(())
}

/// n. A fallback over two offerings moves to the second when the first has
/// no capacity (refused at once, or accepted and failed), and remembers
/// the first as unavailable.
pub(super) async fn fallback_moves_on_without_capacity(run: SharedRun) -> Check {
    let second = run
        .subject
        .second_instance_type
        .clone()
        .expect("the case is skipped without a second instance type");
    let first = run.subject.base_config.instance_type.clone();
    let offerings = vec![Offering::new(first.clone()), Offering::new(second.clone())];
    let fallback = Fallback::new(offerings.clone()).confirming_within(run.subject.timing.deadline);
    run.faults()
        .fail_next_launch(LaunchFailureKind::InsufficientCapacity)
        .await;
    let result = fallback.launch(run.provisioner(), &run.config()).await;
    run.faults().clear().await;
    let (info, offering) = match result {
        Ok(done) => done,
        Err(e) => fail!("the fallback over {first} and {second} failed: {e}"),
    };
    run.remember(&info.instance_id);
    ensure!(
        offering.instance_type == second,
        "the fallback launched {} as {offering}, want {second}",
        info.instance_id
    );
    ensure!(
        fallback.unavailable().contains(&offerings[0]),
        "{first} without capacity is not remembered as unavailable"
    );
    run.wait_for(&info.instance_id, &[Running]).await?;
    // The failed first launch left nothing live: only the second runs.
    let live = run
        .filter(&[])
        .in_states([Pending, Running, Stopping, Stopped, Terminating]);
    run.wait_for_listing(&live, &[&info.instance_id]).await?;
    Ok(())
}

/// o. Launch, describe and list report the provisioner's own owner from the
/// ownership marker; the marker never shows among the tags.
pub(super) async fn launches_carry_the_ownership_marker(run: SharedRun) -> Check {
    let config = run.config().with_tag("role", "worker");
    let info = run.launch(&config).await?;
    let id = info.instance_id.as_str();
    let Some(owner) = info.owner.clone() else {
        fail!("launch reported no owner for {id}: {info:?}");
    };
    ensure!(
        info.tags == config.tags,
        "launch returned tags {:?}, want exactly {:?} (no marker)",
        info.tags,
        config.tags
    );
    // Running: read from the cloud, not a launch not yet visible to reads.
    let status = run.wait_for(id, &[Running]).await?;
    ensure!(
        status.owner.as_deref() == Some(owner.as_str()),
        "describe of {id} reports owner {:?}, launch said {owner:?}",
        status.owner
    );
    let listed = run.wait_for_listing(&run.filter(&[]), &[id]).await?;
    let listed = &listed[0];
    ensure!(
        listed.owner.as_deref() == Some(owner.as_str()) && listed.tags == config.tags,
        "list reports owner {:?} and tags {:?}, want {owner:?} and {:?}",
        listed.owner,
        listed.tags,
        config.tags
    );
    Ok(())
}

/// o. A provider deletes on its own initiative only instances that carry
/// its own marker: a list and a describe leave another party's instances in
/// place (one without a marker, another owner's), even when their create
/// failed, and a list never touches an instance outside its filter.
pub(super) async fn others_instances_are_never_deleted(run: SharedRun) -> Check {
    let faults = run.faults();
    let inside = Tags::from([(RUN_TAG, run.run_id.as_str())]);
    let mut another_owner = inside.clone();
    another_owner.insert(OWNER_TAG.to_owned(), "another-fleet".to_owned());
    let outside = Tags::from([(RUN_TAG.to_owned(), format!("{}-outside", run.run_id))]);
    let planted = [
        ("an instance without a marker", inside, None),
        (
            "another owner's instance",
            another_owner,
            Some("another-fleet"),
        ),
        ("an instance outside the filter", outside, None),
    ];
    // Another party plants beside an instance of ours, where our list looks.
    let ours = run.launch(&run.config()).await?;
    run.wait_for(&ours.instance_id, &[Running]).await?;
    let mut ids = Vec::new();
    for (what, tags, _) in &planted {
        let Some(id) = faults.plant_failed_launch(tags, &ours.instance_id).await else {
            fail!("the fault injector could not plant {what}");
        };
        run.remember(&id);
        ids.push(id);
    }
    let all = run.filter(&[]).in_states(CloudInstanceState::ALL);
    let listed = run.provisioner().list_instances(&all).await.doing("list")?;
    for ((what, _, owner), id) in planted.iter().zip(&ids) {
        let seen = listed.iter().find(|i| &i.instance_id == id);
        if *what == "an instance outside the filter" {
            ensure!(seen.is_none(), "list returned {what} ({id})");
        } else if let Some(seen) = seen {
            ensure!(
                seen.owner.as_deref() == *owner,
                "list reports owner {:?} for {what} ({id}), want {owner:?}",
                seen.owner
            );
        }
        run.provisioner()
            .describe_instance(id)
            .await
            .doing(&format!("describe of {what} ({id})"))?;
    }
    for ((what, _, _), id) in planted.iter().zip(&ids) {
        match faults.deletions(id).await {
            Some(0) => {}
            Some(n) => fail!("{n} delete request(s) for {what} ({id}): it is not ours"),
            None => fail!("the fault injector cannot count deletions of {id}"),
        }
    }
    Ok(())
}

/// p. A start the cloud cannot place is `InsufficientCapacity` carrying the
/// cloud's code, from `start_instance` (refused at once) or from
/// `wait_until_running` (accepted, then failed); the instance stays
/// `Stopped` (describing the failure in `start_failure` when the start was
/// accepted), no list, describe or sweep of a fleet that knows it deletes
/// it or reports it lost (the warm-pool case of clause o: our own
/// instance whose last operation failed for capacity), and it starts once
/// capacity is back.
pub(super) async fn start_without_capacity_keeps_the_instance(run: SharedRun) -> Check {
    let faults = run.faults();
    let info = run.launch(&run.config()).await?;
    let id = info.instance_id.as_str();
    run.wait_for(id, &[Running]).await?;
    run.provisioner().stop_instance(id).await.doing("stop")?;
    run.wait_for(id, &[Stopped]).await?;

    faults
        .fail_next_start(LaunchFailureKind::InsufficientCapacity)
        .await;
    let (refused, accepted) = match run.provisioner().start_instance(id).await {
        Err(e) => (e, false),
        Ok(_) => match run
            .provisioner()
            .wait_until_running(id, run.subject.timing.deadline)
            .await
        {
            Err(e) => (e, true),
            Ok(status) => fail!("a start without capacity reached {}", status.state),
        },
    };
    ensure!(
        matches!(refused, Error::InsufficientCapacity { .. }),
        "a start without capacity gave {refused}, want InsufficientCapacity"
    );
    ensure!(
        refused.code().is_some(),
        "InsufficientCapacity without the cloud's code: {refused}"
    );
    let stopped = run.wait_for(id, &[Stopped]).await?;
    // Accepted and then failed: describe says so until the next start.
    if accepted {
        ensure!(
            stopped
                .start_failure
                .as_ref()
                .is_some_and(|f| f.kind == LaunchFailureKind::InsufficientCapacity),
            "the stopped {id} describes without its failed start: {stopped:?}"
        );
    }
    // Neither a list nor a describe takes it for a failed launch.
    let all = run.filter(&[]).in_states(CloudInstanceState::ALL);
    let listed = run.provisioner().list_instances(&all).await.doing("list")?;
    ensure!(
        listed
            .iter()
            .any(|i| i.instance_id == id && i.state == Stopped),
        "list lost the stopped {id}: {:?}",
        ids(&listed)
    );
    // A sweep by a fleet that knows it (a dry run: other cases' instances
    // carry the same tags) neither reports it lost nor has it deleted.
    let known = std::collections::HashSet::from([id.to_owned()]);
    let report = crate::sweep::Sweep::new(run.filter(&[]).tags)
        .grace(std::time::Duration::ZERO)
        .run(run.provisioner(), &known)
        .await
        .doing("sweep")?;
    ensure!(
        report.lost.iter().all(|i| i.instance_id != id),
        "a sweep that knows the stopped {id} reports it lost"
    );
    run.wait_for(id, &[Stopped]).await?;
    if let Some(deletes) = faults.deletions(id).await {
        ensure!(
            deletes == 0,
            "{deletes} delete request(s) for the stopped {id}"
        );
    }

    run.provisioner()
        .start_instance(id)
        .await
        .doing("start once capacity is back")?;
    run.wait_for(id, &[Running]).await?;
    Ok(())
}
