//! Clauses h and i: list by tags and states; concurrent launches.

use super::*;

/// h. List returns exactly the instances carrying all the filter's tags,
/// across every page.
pub(in crate::contract) async fn list_matches_by_tags(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn list_non_matching_tags_is_empty(run: SharedRun) -> Check {
    let info = run.launch(&run.config().with_tag("pool", "a")).await?;
    run.wait_for_listing(&run.filter(&[]), &[&info.instance_id])
        .await?;
    let p = run.provisioner();
    for filter in [
        run.filter(&[("pool", "no-such-pool")]),
        run.filter(&[("no-such-key", "a")]),
        InstanceFilter::tagged([(RUN_TAG, format!("{}-other", run.run_id))]),
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
pub(in crate::contract) async fn list_filters_states(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn concurrent_launches_are_distinct(run: SharedRun) -> Check {
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
