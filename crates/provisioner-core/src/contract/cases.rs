//! The bodies of the contract cases. Each reads as the rule it checks.

use std::collections::BTreeSet;

use super::run::{ensure, fail, Check, Doing, Seen, SharedRun};
use crate::validate::field;
use crate::CloudInstanceState::{self, *};
use crate::{Error, InstanceConfig, InstanceFilter, InstanceInfo};

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
    let cases: [(&str, InstanceConfig, &str); 4] = [
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

fn ids(listed: &[InstanceInfo]) -> Vec<&str> {
    listed.iter().map(|i| i.instance_id.as_str()).collect()
}
