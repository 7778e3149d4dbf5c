//! `cargo xtask soak`: many launch → describe → (stop/start) → terminate
//! cycles per provider, through its SDK against the emulator (the fake in
//! memory), under random throttling, 5xx, latency, connections dropped after
//! the create committed, launches that fail after acceptance, callers
//! that give up on a launch at a random moment, and spot instances the cloud
//! reclaims while they run. It counts at the emulator: instances created,
//! duplicates of keyed slots, what is left after terminate-all and one
//! sweep, reclaims that describe did not report, and the errors that
//! reached the caller.
//!
//! A duplicate or a leak prints each instance concerned with its slot, its
//! state, its failure, what the caller did and saw, what the sweep made of
//! it, and the cloud's calls that named it: one CI failure is enough to
//! find the cause. `--repeat N` hunts rare failures: N rounds (a new seed
//! each, or `--same-seed`), stopping at the first failure with the command
//! that runs its seed again.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioner_core::backoff::Backoff;
use provisioner_core::contract::FaultInjector;
use provisioner_core::sweep::{Sweep, SweepReport};
use provisioner_core::{
    Capacity, CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceProvisioner,
    InstanceProvisionerExt, LaunchFailureKind, OnReclaim, Result as CoreResult, SpotOptions, Tags,
};
use provisioner_emulator::{Emulator, EmulatorHandle};
use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation, Personality, SplitMix64};
use tokio::sync::Semaphore;

use crate::subjects::{self, AZURE_SCOPE};
use crate::Which;

mod cycle;
mod history;

use cycle::{cycle, Cycle, Dice, Reclaimer};
use history::History;

/// Launches in flight at once.
const CONCURRENCY: usize = 50;
/// How often a caller tries one call before it counts as an error that
/// reached it.
const ATTEMPTS: u32 = 20;
/// Calls the cloud's log keeps in full, so that a leak or duplicate can be
/// told with every call that named it (a soak of 1,000 launches makes some
/// tens of thousands).
const CALL_LOG: usize = 1 << 19;

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
    /// Rounds to run, stopping at the first that fails; each round's seed is
    /// the one before plus one, unless `--same-seed`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Every round runs `--seed` (a replay of one timing-dependent failure).
    #[arg(long)]
    same_seed: bool,
}

impl Options {
    /// The command that runs one round of `provider` with `seed` again.
    fn replay(&self, provider: &str, seed: u64) -> String {
        format!(
            "cargo xtask soak --provider {provider} --seed {seed} --launches {} --faults {} --spot {} --reclaims {}",
            self.launches, self.faults, self.spot, self.reclaims
        )
    }
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
    /// Starts the cloud could not place, reported as such (at once, or by
    /// `wait_until_running`).
    start_failures: usize,
    /// Starts that failed otherwise: a wait that ran to its deadline, an
    /// instance gone.
    start_failures_untyped: usize,
    /// Network interfaces, public addresses and disks left at the end that
    /// no instance holds (only the ARM face keeps them apart).
    leaked_attached: provisioner_emulator::UnattachedResources,
}

impl Tally {
    fn clean(&self) -> bool {
        self.duplicates == 0
            && self.leaked == 0
            && self.leaked_attached.total() == 0
            && self.reclaims_unseen == 0
            && self.start_failures_untyped == 0
    }
}

/// Runs the soak on every provider asked for, `--repeat` times; false when
/// any leaked or duplicated an instance, or missed a reclaim. A round that
/// fails ends the run (with `--repeat`, the rounds after it are not run).
pub(crate) fn run(options: Options) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let started = Instant::now();
    for round in 0..options.repeat {
        let seed = if options.same_seed {
            options.seed
        } else {
            options.seed.wrapping_add(round)
        };
        let mut clean = true;
        for provider in &options.which.names() {
            let tally = runtime.block_on(soak(provider, &options, seed))?;
            if options.repeat > 1 {
                print!("round {}/{} seed {seed}: ", round + 1, options.repeat);
            }
            print_tally(provider, &tally);
            if !tally.clean() {
                println!(
                    "soak {provider} failed; run this round again with: {}",
                    options.replay(provider, seed)
                );
                clean = false;
            }
        }
        if !clean {
            return Ok(false);
        }
    }
    if options.repeat > 1 {
        println!(
            "soak: {} rounds passed in {:.0?}",
            options.repeat,
            started.elapsed()
        );
    }
    Ok(true)
}

fn print_tally(provider: &str, tally: &Tally) {
    println!(
            "soak {provider}: {} launches, {} duplicates, {} leaked ({} NICs, {} public addresses, {} disks left beside), {} reclaims ({} not seen by describe), {} starts without capacity ({} not reported as such), {} created, {} unkeyed extras and cancelled launches swept, {} cancelled by the caller, {} failed after acceptance ({} relaunched), {} errors reached the caller",
            tally.launches,
            tally.duplicates,
            tally.leaked,
            tally.leaked_attached.network_interfaces,
            tally.leaked_attached.public_addresses,
            tally.leaked_attached.disks,
            tally.reclaimed,
            tally.reclaims_unseen,
            tally.start_failures,
            tally.start_failures_untyped,
            tally.created,
            tally.swept,
            tally.cancelled,
            tally.failed_after_acceptance,
            tally.relaunched_after_failure,
            tally.errors_to_caller,
        );
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
        .call_log_capacity(CALL_LOG)
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
        .subnet(subjects::AZURE_SUBNET)
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

async fn soak(provider: &str, options: &Options, seed: u64) -> Result<Tally, String> {
    let target = target(provider, seed).await?;
    let run = format!("soak-{seed:x}");
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
    // Some starts of stopped instances cannot be placed, the way each cloud
    // says so (at once, or after accepting them).
    target.cloud.fail_starts(
        u32::try_from(options.launches / 50).unwrap_or(u32::MAX),
        LaunchFailureKind::InsufficientCapacity,
    );
    if let Some((emulator, action)) = &target.emulator {
        emulator.wire().drop_randomly(action, 0.05, seed);
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
        let slot_seed = seed ^ (slot as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Some slots launch spot; the cloud reclaims some of those.
        let mut dice = Dice(SplitMix64::new(slot_seed ^ 0x5b07));
        let spot = dice.percent(options.spot as u64);
        if spot {
            config.capacity =
                Capacity::Spot(SpotOptions::default().with_on_reclaim(target.on_reclaim));
        }
        let reclaimer = Reclaimer {
            faults: Arc::clone(&target.faults),
            reclaim: spot && dice.percent(options.reclaims as u64),
            cloud: target.cloud.clone(),
        };
        let p = Arc::clone(&target.provisioner);
        let slots = Arc::clone(&slots);
        cycles.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (slot, cycle(p, config, slot_seed, reclaimer).await)
        });
    }
    let mut tally = Tally {
        launches: options.launches,
        ..Tally::default()
    };
    let mut done_cycles = BTreeMap::new();
    let mut unseen_reclaims = Vec::new();
    while let Some(done) = cycles.join_next().await {
        let (slot, done) = done.map_err(|e| format!("a cycle panicked: {e}"))?;
        tally.cancelled += usize::from(done.cancelled);
        tally.failed_after_acceptance += usize::from(done.failed_after_acceptance);
        tally.errors_to_caller += done.errors_to_caller;
        tally.reclaimed += usize::from(done.reclaimed);
        tally.reclaims_unseen += usize::from(done.reclaim_unseen);
        tally.start_failures += usize::from(done.start_failed);
        tally.start_failures_untyped += usize::from(done.start_untyped);
        if done.reclaim_unseen {
            unseen_reclaims.push((slot.to_string(), done.id.clone()));
        }
        done_cycles.insert(slot.to_string(), done);
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
    // Built only for a run with something to tell: it copies the call log.
    let history = std::cell::OnceCell::new();
    let story = |slot: &str, ids: &[String]| {
        history
            .get_or_init(|| History {
                provider,
                calls: target.cloud.calls(),
                calls_made: Operation::ALL
                    .iter()
                    .map(|op| target.cloud.call_count(*op))
                    .sum(),
                cycles: &done_cycles,
                sweep: &report,
            })
            .story(slot, ids)
    };
    for (slot, id) in &unseen_reclaims {
        eprintln!("soak {provider}: slot {slot}: a reclaim describe did not report");
        eprint!("{}", story(slot, id.as_slice()));
    }
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
            eprint!("{}", story(slot, ids));
            tally.duplicates += extra;
        } else if !keyed {
            tally.unkeyed_extras += extra;
        }
    }
    tally.relaunched_after_failure = failed_slots
        .iter()
        .filter(|slot| per_slot.contains_key(*slot))
        .count();
    let everything = InstanceFilter::tagged(owner).in_states(CloudInstanceState::ALL);
    let left = target
        .cloud
        .list_all(&everything)
        .await
        .map_err(|e| format!("cannot list the emulator's instances: {e}"))?;
    // Billed: anything not terminated, and failed creates a cloud keeps
    // until they are deleted (Azure keeps the VM, its disk, NIC and address).
    let kept_until_deleted = target.cloud.personality().failed_launch_retention.is_none();
    let leaked: Vec<_> = left
        .iter()
        .filter(|r| {
            r.state != CloudInstanceState::Terminated || (r.failure.is_some() && kept_until_deleted)
        })
        .collect();
    for record in &leaked {
        let slot = record.config.tags.get("slot").cloned().unwrap_or_default();
        eprintln!(
            "soak {provider}: leaked {} (slot {slot}): {:?}{}{}, launched {}",
            record.id,
            record.state,
            record
                .failure
                .map(|f| format!(", failed after acceptance: {f:?}"))
                .unwrap_or_default(),
            record
                .state_reason
                .map(|r| format!(", reason {r}"))
                .unwrap_or_default(),
            record.launch_time,
        );
        eprint!("{}", story(&slot, &[record.id.to_string()]));
    }
    tally.leaked = leaked.len();
    // What was created with an instance and stayed after it: the
    // emulator's network and disk resources no instance holds.
    if let Some((emulator, _)) = &target.emulator {
        tally.leaked_attached = emulator.unattached_resources();
        if tally.leaked_attached.total() > 0 {
            eprintln!(
                "soak {provider}: resources no instance holds: {:?}",
                tally.leaked_attached
            );
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        crate::parse_options("soak", args)
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
        assert_eq!((o.repeat, o.same_seed), (1, false));
        let o = parse(&["--repeat", "20", "--same-seed"]).unwrap();
        assert_eq!((o.repeat, o.same_seed), (20, true));
        assert!(parse(&["--repeat", "0"]).is_err());
        assert_eq!(
            o.replay("azure", 9),
            "cargo xtask soak --provider azure --seed 9 --launches 1000 --faults 20 --spot 20 --reclaims 30"
        );
        assert!(parse(&["--faults", "95"]).is_err());
    }
}
