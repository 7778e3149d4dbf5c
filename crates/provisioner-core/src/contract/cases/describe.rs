//! Clause d: describe, one id or many, known, unknown or malformed.

use super::*;

/// d. Describe of a live instance returns its status, consistent with list.
pub(in crate::contract) async fn describe_consistent_state(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn describe_unknown_is_terminated(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn batch_calls_answer_each_id(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn malformed_id_is_invalid_argument(run: SharedRun) -> Check {
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
