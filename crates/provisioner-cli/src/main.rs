//! `provisioner`: one command line for every provider of this workspace.
//!
//! ```text
//! provisioner --provider ec2 --endpoint http://127.0.0.1:4566 list --json
//! provisioner --provider gcp launch --image IMAGE --type e2-small --tag fleet=a --count 10
//! provisioner --provider azure sweep --owner fleet=a            # a dry run
//! provisioner --provider azure sweep --owner fleet=a --yes      # terminates
//! provisioner --provider azure sweep --marked-by provisioner     # by the marker alone
//! ```
//!
//! Tables by default, JSON with `--json`; progress bars on stderr for bulk
//! launches and sweeps. Exit status 0 when every call succeeded, 1 when one
//! failed (each failure is printed to stderr, one line, without secrets), 2
//! for a command line clap refuses.

mod args;
mod output;
mod progress;
mod providers;

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use provisioner_core::sweep::Sweep;
use provisioner_core::{
    CloudInstanceState, InstanceConfig, InstanceFilter, InstanceProvisionerExt, UserData,
};

use args::{Cli, Command};
use progress::Progress;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("provisioner: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("provisioner: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok(false)` when a call failed (already reported).
async fn run(cli: Cli) -> Result<bool, String> {
    let provisioner = providers::build(cli.provider, cli.endpoint.as_deref()).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let json = cli.json;
    let io = |e: std::io::Error| format!("cannot write the output: {e}");
    let mut ok = true;
    let mut failed = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("provisioner: {what}: {e}");
        ok = false;
    };
    match cli.command {
        Command::List { tags, states } => {
            let filter = InstanceFilter::tagged(tags)
                .in_states(states.into_iter().map(CloudInstanceState::from));
            match provisioner.list_instances(&filter).await {
                Ok(list) => output::instances(&mut out, json, &list).map_err(io)?,
                Err(e) => failed("list", &e),
            }
        }
        Command::Describe { ids } => {
            let mut statuses = Vec::with_capacity(ids.len());
            for id in &ids {
                match provisioner.describe_instance(id).await {
                    Ok(status) => statuses.push(status),
                    Err(e) => failed(&format!("describe {id}"), &e),
                }
            }
            output::statuses(&mut out, json, &statuses).map_err(io)?;
        }
        Command::Launch {
            image,
            instance_type,
            tags,
            key,
            count,
            concurrency,
            disk_gb,
            user_data_file,
        } => {
            let mut config = InstanceConfig::new(image, instance_type);
            config.tags = tags.into_iter().collect();
            config.idempotency_key = key;
            config.disk_size_gb = disk_gb;
            if let Some(path) = user_data_file {
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                config.user_data = Some(UserData::new(bytes));
            }
            let launched = if count == 1 {
                vec![provisioner.launch_instance(&config).await]
            } else {
                let bar = progress::bar(count as u64, "launching", json);
                let counted = Progress {
                    inner: Arc::clone(&provisioner),
                    bar: bar.clone(),
                };
                let results = counted.launch_many(&config, count, concurrency).await;
                bar.finish_and_clear();
                results
            };
            let mut infos = Vec::with_capacity(launched.len());
            for result in launched {
                match result {
                    Ok(info) => infos.push(info),
                    Err(e) => failed("launch", &e),
                }
            }
            output::instances(&mut out, json, &infos).map_err(io)?;
        }
        Command::Stop { ids } => {
            let done = each(
                &ids,
                |id| provisioner.stop_instance(id),
                &mut failed,
                "stop",
            )
            .await;
            output::ids(&mut out, json, &done).map_err(io)?;
        }
        Command::Start { ids } => {
            let mut started = Vec::with_capacity(ids.len());
            for id in &ids {
                match provisioner.start_instance(id).await {
                    Ok(info) => started.push(info),
                    Err(e) => failed(&format!("start {id}"), &e),
                }
            }
            output::instances(&mut out, json, &started).map_err(io)?;
        }
        Command::Terminate { ids } => {
            let done = each(
                &ids,
                |id| provisioner.terminate_instance(id),
                &mut failed,
                "terminate",
            )
            .await;
            output::ids(&mut out, json, &done).map_err(io)?;
        }
        Command::Wait { id, state, timeout } => {
            let wanted = [CloudInstanceState::from(state)];
            match provisioner
                .wait_for_state(&id, &wanted, Duration::from_secs(timeout))
                .await
            {
                Ok(status) => output::statuses(&mut out, json, &[status]).map_err(io)?,
                Err(e) => failed(&format!("wait for {id}"), &e),
            }
        }
        Command::Sweep {
            owner,
            marked_by,
            keep,
            grace,
            yes,
        } => {
            let mut sweep =
                Sweep::new(owner.into_iter().collect()).grace(Duration::from_secs(grace));
            if let Some(id) = marked_by {
                let owner = provisioner_core::OwnerId::new(id).map_err(|e| e.to_string())?;
                sweep = sweep.owned_by(owner);
            }
            if yes {
                sweep = sweep.terminating();
            }
            let known: HashSet<String> = keep.into_iter().collect();
            let bar = progress::bar(0, "terminating", json || !yes);
            let counted = Progress {
                inner: Arc::clone(&provisioner),
                bar: bar.clone(),
            };
            let report = sweep.run(&counted, &known).await;
            bar.finish_and_clear();
            match report {
                Ok(report) => {
                    for (id, e) in &report.failed {
                        let what = if report.orphans.iter().any(|o| &o.id == id) {
                            "delete"
                        } else {
                            "terminate"
                        };
                        failed(&format!("{what} {id}"), e);
                    }
                    sweep_report(&mut out, json, yes, &report).map_err(io)?;
                }
                Err(e) => failed("sweep", &e),
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(ok)
}

/// Runs `call` on every id, reporting failures; the ids it succeeded on.
async fn each<'a, F, Fut>(
    ids: &'a [String],
    call: F,
    failed: &mut impl FnMut(&str, &dyn std::fmt::Display),
    what: &str,
) -> Vec<String>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = provisioner_core::Result<()>>,
{
    let mut done = Vec::with_capacity(ids.len());
    for id in ids {
        match call(id).await {
            Ok(()) => done.push(id.clone()),
            Err(e) => failed(&format!("{what} {id}"), &e),
        }
    }
    done
}

fn sweep_report(
    out: &mut dyn Write,
    json: bool,
    terminating: bool,
    report: &provisioner_core::sweep::SweepReport,
) -> std::io::Result<()> {
    if json {
        let failed: Vec<serde_json::Value> = report
            .failed
            .iter()
            .map(|(id, e)| serde_json::json!({"instance_id": id, "error": e.to_string()}))
            .collect();
        let value = serde_json::json!({
            "dry_run": !terminating,
            "lost": report.lost,
            "terminated": report.terminated,
            "spared": report.spared,
            "not_ours": report.not_ours,
            "orphans": report.orphans,
            "deleted_orphans": report.deleted_orphans,
            "failed": failed,
        });
        return output::write_json(out, &value);
    }
    let verb = if terminating {
        "terminated"
    } else {
        "would terminate (dry run; --yes to terminate)"
    };
    writeln!(out, "lost, {verb}: {}", report.lost.len())?;
    output::instances(out, false, &report.lost)?;
    writeln!(
        out,
        "spared (younger than the grace period, or of unknown age): {}",
        report.spared.len()
    )?;
    output::instances(out, false, &report.spared)?;
    if !report.not_ours.is_empty() {
        writeln!(
            out,
            "not ours (no marker of this owner; left alone): {}",
            report.not_ours.len()
        )?;
        output::instances(out, false, &report.not_ours)?;
    }
    if !report.orphans.is_empty() {
        let verb = if terminating {
            "deleted"
        } else {
            "would delete"
        };
        writeln!(
            out,
            "left behind by this owner's launches, {verb}: {}",
            report.orphans.len()
        )?;
        for orphan in &report.orphans {
            writeln!(out, "{:?}\t{}", orphan.kind, orphan.id)?;
        }
    }
    Ok(())
}
