//! Clause j: an idempotency key used again.

use super::*;

/// j. A key reused after its instance was terminated never returns that
/// instance as a launch: either a new instance (which describe and list show
/// as booting, never the old one's terminating state) or InvalidArgument
/// naming `idempotency_key`.
pub(in crate::contract) async fn key_reused_after_terminate_never_returns_the_old_instance(
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
pub(in crate::contract) async fn key_reused_with_other_parameters_is_rejected(
    run: SharedRun,
) -> Check {
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
