//! `cargo xtask soak`: many launch → describe → (stop/start) → terminate
//! cycles per provider, through its SDK against the emulator (the fake in
//! memory), under random throttling, 5xx, latency, connections dropped after
//! the create committed, launches that fail after acceptance, callers
//! that give up on a launch at a random moment, and spot instances the cloud
//! reclaims while they run. It counts at the emulator: instances created,
//! duplicates of keyed slots, what is left after terminate-all and one
//! sweep, reclaims that describe did not report, and the errors that
//! reached the caller.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use provisioner_core::contract::FaultInjector;
use provisioner_core::sweep::Sweep;
use provisioner_core::{
    Capacity, CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceProvisioner,
    InstanceProvisionerExt, LaunchFailureKind, OnReclaim, Result as CoreResult, SpotOptions, Tags,
};
use provisioner_emulator::{Emulator, EmulatorHandle};
use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation, Personality, SplitMix64};
use tokio::sync::Semaphore;

use crate::subjects::{self, AZURE_SCOPE};
use crate::Which;

/// Launches in flight at once.
const CONCURRENCY: usize = 50;
/// How often a caller tries one call before it counts as an error that
/// reached it.
const ATTEMPTS: u32 = 20;

/// What `cargo xtask soak` was asked for.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub(crate) struct Options {
    /// The provider to soak, or all of them.
    #[arg(long = "provider", value_enum, default_value = "all")]
    which: Which,
    /// Launch cycles per provider.
    #[arg(long, default_value_t = 1000)]
    launches: usize,
    /// Percent of calls that fail at random (half throttled, half 5xx), 0 to 90.
    #[arg(long, default_value_t = 20.0, value_parser = percent)]
    faults: f64,
    /// The seed of every random choice, so a run repeats.
    #[arg(long, default_value_t = 0x50a6)]
    seed: u64,
    /// Percent of slots that launch spot capacity, 0 to 90.
    #[arg(long, default_value_t = 20.0, value_parser = percent)]
    spot: f64,
    /// Percent of running spot instances the cloud reclaims, 0 to 90.
    #[arg(long, default_value_t = 30.0, value_parser = percent)]
    reclaims: f64,
}

fn percent(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=90.0).contains(p))
        .ok_or_else(|| format!("{text:?} is not a percentage from 0 to 90"))
}

/// What one provider's soak counted.
#[derive(Debug, Default)]
struct Tally {
    launches: usize,
    created: usize,
    duplicates: usize,
    unkeyed_extras: usize,
    cancelled: usize,
    failed_after_acceptance: usize,
    /// Slots whose launch failed after acceptance and whose retry then
    /// created a new instance (a vanished failure frees the name).
    relaunched_after_failure: usize,
    errors_to_caller: usize,
    swept: usize,
    leaked: usize,
    /// Spot instances the cloud reclaimed while they ran.
    reclaimed: usize,
    /// Reclaims that describe did not report as such.
    reclaims_unseen: usize,
}

impl Tally {
    fn clean(&self) -> bool {
        self.duplicates == 0 && self.leaked == 0 && self.reclaims_unseen == 0
    }
}

/// Runs the soak on every provider asked for; false when any leaked or
/// duplicated an instance.
pub(crate) fn run(options: Options) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut clean = true;
    for provider in &options.which.names() {
        let tally = runtime.block_on(soak(provider, &options))?;
        println!(
            "soak {provider}: {} launches, {} duplicates, {} leaked, {} reclaims ({} not seen by describe), {} created, {} unkeyed extras and cancelled launches swept, {} cancelled by the caller, {} failed after acceptance ({} relaunched), {} errors reached the caller",
            tally.launches,
            tally.duplicates,
            tally.leaked,
            tally.reclaimed,
            tally.reclaims_unseen,
            tally.created,
            tally.swept,
            tally.cancelled,
            tally.failed_after_acceptance,
            tally.relaunched_after_failure,
            tally.errors_to_caller,
        );
        clean &= tally.clean();
    }
    Ok(clean)
}

/// A provider under soak, and the cloud behind it.
struct Target {
    provisioner: Arc<dyn InstanceProvisioner>,
    base: InstanceConfig,
    cloud: FakeCloud,
    /// The emulator serving `cloud` (none for the fake), and the action name
    /// of its create request.
    emulator: Option<(EmulatorHandle, &'static str)>,
    /// Reclaims instances by the provider's ids.
    faults: Arc<dyn FaultInjector>,
    /// What a reclaim does to this provider's spot instances: stop where
    /// the provider can ask for it (EC2's one-time requests terminate).
    on_reclaim: OnReclaim,
}

async fn target(provider: &str, seed: u64) -> Result<Target, String> {
    let personality = match provider {
        "ec2" => Personality::ec2(),
        "gcp" => Personality::gce(),
        "azure" => Personality::azure(),
        _ => Personality::generic(),
    };
    let cloud = FakeCloud::builder()
        .personality(personality)
        .seed(seed)
        .call_log_capacity(0)
        .record_creations()
        .build();
    if provider == "fake" {
        return Ok(Target {
            provisioner: Arc::new(FakeProvisioner::new(cloud.clone())),
            base: InstanceConfig::new("img-soak", "small"),
            faults: Arc::new(cloud.clone()),
            cloud,
            emulator: None,
            on_reclaim: OnReclaim::Stop,
        });
    }
    let emulator = Emulator::builder()
        .cloud(cloud.clone())
        .resource_group(AZURE_SCOPE.0, AZURE_SCOPE.1, AZURE_SCOPE.2)
        .start()
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let (provisioner, base) = subjects::on_emulator(provider, &emulator.endpoint()).await?;
    let action = match provider {
        "ec2" => "RunInstances",
        "gcp" => "compute.instances.insert",
        _ => "Microsoft.Compute/virtualMachines/write",
    };
    let on_reclaim = match provider {
        "ec2" => OnReclaim::Terminate,
        _ => OnReclaim::Stop,
    };
    Ok(Target {
        provisioner,
        base,
        cloud,
        faults: Arc::new(emulator.faults()),
        emulator: Some((emulator, action)),
        on_reclaim,
    })
}

/// The soak's own choices, from the fake's seeded generator.
struct Dice(SplitMix64);

impl Dice {
    fn roll(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn percent(&mut self, p: u64) -> bool {
        self.roll() % 100 < p
    }
}

/// What one slot's cycle ended with.
#[derive(Debug, Default)]
struct Cycle {
    /// The caller gave up on the launch and never learned its id.
    cancelled: bool,
    failed_after_acceptance: bool,
    errors_to_caller: usize,
    reclaimed: bool,
    /// Reclaimed, and describe did not say so.
    reclaim_unseen: bool,
}

/// The cloud's part in one slot's cycle: whether it reclaims the instance
/// once it runs, and how.
struct Reclaimer {
    faults: Arc<dyn FaultInjector>,
    reclaim: bool,
}

/// Calls `call` until it succeeds, fails for good, or `ATTEMPTS` pass;
/// counts each error that reached the caller.
async fn retried<T, F, Fut>(errors: &mut usize, mut call: F) -> CoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = CoreResult<T>>,
{
    let mut pause = Duration::from_millis(5);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                *errors += 1;
                let wait = e.retry_after().unwrap_or(pause).min(Duration::from_secs(2));
                tokio::time::sleep(wait).await;
                pause = (pause * 2).min(Duration::from_millis(500));
                attempt += 1;
            }
            Err(e) => {
                *errors += 1;
                return Err(e);
            }
            ok => return ok,
        }
    }
}

async fn cycle(
    p: Arc<dyn InstanceProvisioner>,
    config: InstanceConfig,
    seed: u64,
    cloud: Reclaimer,
) -> Cycle {
    let mut dice = Dice(SplitMix64::new(seed));
    let mut outcome = Cycle::default();
    let errors = &mut outcome.errors_to_caller;
    // One launch in twenty is abandoned at a random moment: the caller
    // never learns whether an instance was created. One that answers in
    // time is used as any other.
    let mut first = None;
    if dice.percent(5) {
        let patience = Duration::from_millis(dice.roll() % 40);
        match tokio::time::timeout(patience, p.launch_instance(&config)).await {
            Ok(Ok(info)) => first = Some(info),
            Ok(Err(_)) => *errors += 1,
            Err(_) => {
                outcome.cancelled = true;
                return outcome;
            }
        }
    }
    let info = match first {
        Some(info) => info,
        None => match retried(errors, || p.launch_instance(&config)).await {
            Ok(info) => info,
            Err(_) => return outcome,
        },
    };
    let id = info.instance_id;
    match p.wait_until_running(&id, Duration::from_secs(120)).await {
        Err(Error::InsufficientCapacity { .. } | Error::QuotaExceeded { .. }) => {
            outcome.failed_after_acceptance = true;
        }
        Err(_) => *errors += 1,
        Ok(_) if cloud.reclaim && cloud.faults.reclaim(&id).await => {
            outcome.reclaimed = true;
            let ends = [CloudInstanceState::Stopped, CloudInstanceState::Terminated];
            let seen = p.wait_for_state(&id, &ends, Duration::from_secs(120)).await;
            outcome.reclaim_unseen = !seen.is_ok_and(|status| status.reclaimed);
        }
        Ok(_) => {
            if dice.percent(10) {
                let _ = retried(errors, || p.stop_instance(&id)).await;
                let stopped = p
                    .wait_for_state(
                        &id,
                        &[CloudInstanceState::Stopped],
                        Duration::from_secs(120),
                    )
                    .await;
                if stopped.is_ok() {
                    let _ = retried(errors, || p.start_instance(&id)).await;
                }
            }
        }
    }
    let _ = retried(errors, || p.terminate_instance(&id)).await;
    outcome
}

async fn soak(provider: &str, options: &Options) -> Result<Tally, String> {
    let target = target(provider, options.seed).await?;
    let run = format!("soak-{:x}", options.seed);
    let owner: Tags = [
        ("ManagedBy".to_owned(), "xtask-soak".to_owned()),
        ("soak-run".to_owned(), run.clone()),
    ]
    .into();

    // The faults: random throttling and 5xx on every operation, a little
    // latency, drops after commit of the create, and 2% of launches that
    // fail after acceptance.
    let p = options.faults / 100.0;
    let ops = Operation::ALL;
    target
        .cloud
        .fail_randomly(&ops, p / 2.0, Fault::Throttled { retry_after: None });
    target
        .cloud
        .fail_randomly(&ops, p / 2.0, Fault::Unavailable);
    for op in ops {
        target.cloud.set_latency(op, Duration::from_millis(1));
    }
    target.cloud.fail_after_acceptance(
        u32::try_from(options.launches / 50).unwrap_or(u32::MAX),
        LaunchFailureKind::InsufficientCapacity,
        Duration::from_millis(50),
    );
    if let Some((emulator, action)) = &target.emulator {
        emulator.wire().drop_randomly(action, 0.05, options.seed);
    }

    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut cycles = tokio::task::JoinSet::new();
    for slot in 0..options.launches {
        let mut config = target.base.clone();
        config.tags.extend(owner.clone());
        config.tags.insert("slot".to_owned(), slot.to_string());
        // Half the slots launch with a key: a retry never duplicates them.
        if slot % 2 == 0 {
            config.idempotency_key = Some(format!("{run}-slot-{slot}-gen-0"));
        }
        let seed = options.seed ^ (slot as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Some slots launch spot; the cloud reclaims some of those.
        let mut dice = Dice(SplitMix64::new(seed ^ 0x5b07));
        let spot = dice.percent(options.spot as u64);
        if spot {
            config.capacity =
                Capacity::Spot(SpotOptions::default().with_on_reclaim(target.on_reclaim));
        }
        let reclaimer = Reclaimer {
            faults: Arc::clone(&target.faults),
            reclaim: spot && dice.percent(options.reclaims as u64),
        };
        let p = Arc::clone(&target.provisioner);
        let slots = Arc::clone(&slots);
        cycles.spawn(async move {
            let _slot = slots.acquire_owned().await;
            cycle(p, config, seed, reclaimer).await
        });
    }
    let mut tally = Tally {
        launches: options.launches,
        ..Tally::default()
    };
    while let Some(done) = cycles.join_next().await {
        let done = done.map_err(|e| format!("a cycle panicked: {e}"))?;
        tally.cancelled += usize::from(done.cancelled);
        tally.failed_after_acceptance += usize::from(done.failed_after_acceptance);
        tally.errors_to_caller += done.errors_to_caller;
        tally.reclaimed += usize::from(done.reclaimed);
        tally.reclaims_unseen += usize::from(done.reclaim_unseen);
    }

    // The fleet knows nothing live now: one sweep (faults still on) finds
    // what lost launches and unkeyed retries left behind.
    let report = Sweep::new(owner.clone())
        .grace(Duration::ZERO)
        .terminating()
        .attempts(ATTEMPTS)
        .run(&*target.provisioner, &HashSet::new())
        .await
        .map_err(|e| format!("the sweep failed: {e}"))?;
    tally.swept = report.terminated.len();

    // Count at the emulator, with the faults off: this is the harness
    // looking, not the fleet.
    target.cloud.clear_faults();
    if let Some((emulator, _)) = &target.emulator {
        emulator.wire().clear();
    }
    // A keyed slot may rightly get a second instance after its first
    // failed after acceptance and vanished (Compute Engine frees the name,
    // and a retry of the lost insert creates anew): only instances that ran
    // count towards duplicates.
    let mut per_slot: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failed_slots = Vec::new();
    for creation in target.cloud.creations() {
        if creation.tags.get("soak-run") != Some(&run) {
            continue;
        }
        tally.created += 1;
        let slot = creation.tags.get("slot").cloned().unwrap_or_default();
        if creation.fails_after_acceptance {
            failed_slots.push(slot);
        } else {
            per_slot.entry(slot).or_default().push(creation.id);
        }
    }
    for (slot, ids) in &per_slot {
        let keyed = slot.parse::<usize>().is_ok_and(|n| n % 2 == 0);
        let extra = ids.len().saturating_sub(1);
        if keyed && extra > 0 {
            eprintln!("soak {provider}: keyed slot {slot} created {ids:?}");
            tally.duplicates += extra;
        } else if !keyed {
            tally.unkeyed_extras += extra;
        }
    }
    tally.relaunched_after_failure = failed_slots
        .iter()
        .filter(|slot| per_slot.contains_key(*slot))
        .count();
    let everything = InstanceFilter {
        tags: owner,
        states: CloudInstanceState::ALL.to_vec(),
    };
    let left = target
        .cloud
        .list_all(&everything)
        .await
        .map_err(|e| format!("cannot list the emulator's instances: {e}"))?;
    // Billed: anything not terminated, and failed creates a cloud keeps
    // until they are deleted (Azure keeps the VM, its disk, NIC and address).
    let kept_until_deleted = target.cloud.personality().failed_launch_retention.is_none();
    tally.leaked = left
        .iter()
        .filter(|r| {
            r.state != CloudInstanceState::Terminated || (r.failure.is_some() && kept_until_deleted)
        })
        .count();
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Args {
        #[command(flatten)]
        options: Options,
    }

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        use clap::Parser as _;
        Args::try_parse_from(std::iter::once("soak").chain(args.iter().copied())).map(|a| a.options)
    }

    #[test]
    fn options() {
        let o = parse(&[]).unwrap();
        assert_eq!(
            (
                o.which.names().len(),
                o.launches,
                o.faults,
                o.spot,
                o.reclaims
            ),
            (4, 1000, 20.0, 20.0, 30.0)
        );
        let o = parse(&[
            "--provider",
            "gcp",
            "--launches",
            "10",
            "--faults",
            "5",
            "--seed",
            "7",
            "--spot",
            "50",
            "--reclaims",
            "0",
        ])
        .unwrap();
        assert_eq!(
            (
                o.which.names(),
                o.launches,
                o.faults,
                o.seed,
                o.spot,
                o.reclaims
            ),
            (vec!["gcp"], 10, 5.0, 7, 50.0, 0.0)
        );
        assert!(parse(&["--faults", "95"]).is_err());
    }
}
