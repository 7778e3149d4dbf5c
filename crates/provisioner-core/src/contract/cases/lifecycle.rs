//! Clauses e, f and g: terminate, stop and start.

use super::*;

/// e. Terminate leads to terminating, then terminated.
pub(in crate::contract) async fn terminate_makes_terminated(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn terminate_is_idempotent(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn stop_start_lifecycle(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn stop_start_are_idempotent(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn terminated_cannot_stop_or_start(run: SharedRun) -> Check {
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
