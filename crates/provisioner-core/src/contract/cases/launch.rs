//! Clauses a, b and c: launch, its idempotency key, its input checks.

use super::*;

/// a. Launch returns at once with a non-empty id, state pending or running,
/// and the tags exactly as given.
pub(in crate::contract) async fn launch_returns_valid_info(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn launch_is_idempotent(run: SharedRun) -> Check {
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
pub(in crate::contract) async fn invalid_config_is_rejected(run: SharedRun) -> Check {
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

pub(in crate::contract) async fn bad_inputs_never_reach_the_cloud(run: SharedRun) -> Check {
    // Counted where the subject can count the cloud's requests (an
    // emulator, the fake); against a real cloud the refusals alone.
    let counted = run.subject.faults.clone();
    let before = match &counted {
        Some(faults) => faults.requests().await,
        None => None,
    };
    let (tried, problems) =
        crate::contract::check_bad_inputs(run.provisioner(), &run.config()).await;
    ensure!(tried >= 30, "the table tried only {tried} inputs");
    ensure!(
        problems.is_empty(),
        "inputs not refused as InvalidArgument naming their field: {problems:#?}"
    );
    if let (Some(faults), Some(before)) = (&counted, before) {
        let after = faults.requests().await.unwrap_or(before);
        ensure!(
            after == before,
            "{} requests reached the cloud for {tried} bad inputs",
            after - before
        );
    }
    Ok(())
}
