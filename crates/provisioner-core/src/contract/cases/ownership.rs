//! Clause o: nothing is deleted that is not ours.

use super::*;

/// o. Launch, describe and list report the provisioner's own owner from the
/// ownership marker; the marker never shows among the tags.
pub(in crate::contract) async fn launches_carry_the_ownership_marker(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn others_instances_are_never_deleted(run: SharedRun) -> Check {
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
