//! Clauses k, l, m, n and p: what the cloud fails or takes back, and how each reaches the caller.

use super::*;

/// k. A launch that the cloud accepted and then failed for capacity:
/// `wait_until_running` returns InsufficientCapacity, describe says
/// terminated with a reason naming the cloud's code, and nothing stays.
pub(in crate::contract) async fn accepted_launch_failure_is_seen(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn quota_failure_is_seen(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn throttling_carries_retry_after_unwaited(run: SharedRun) -> Check {
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
            if run.subject.capabilities.sends_retry_after == crate::contract::Support::Yes {
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

/// m. A spot instance the cloud reclaims ends as its launch asked
/// (terminated, or stopped, where the cloud stops them), and describe and
/// list both say it was reclaimed.
pub(in crate::contract) async fn spot_reclaim_is_seen(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn fallback_moves_on_without_capacity(run: SharedRun) -> Check {
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

/// p. A start the cloud cannot place is `InsufficientCapacity` carrying the
/// cloud's code, from `start_instance` (refused at once) or from
/// `wait_until_running` (accepted, then failed); the instance stays
/// `Stopped` (describing the failure in `start_failure` when the start was
/// accepted), no list, describe or sweep of a fleet that knows it deletes
/// it or reports it lost (the warm-pool case of clause o: our own
/// instance whose last operation failed for capacity), and it starts once
/// capacity is back.
pub(in crate::contract) async fn start_without_capacity_keeps_the_instance(
    run: SharedRun,
) -> Check {
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
