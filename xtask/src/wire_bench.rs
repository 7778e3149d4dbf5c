//! `cargo xtask bench --wire`: the provider crates and the clouds' official
//! Python clients side by side, on the same emulator, doing the same work:
//! launch, describe one by one, describe in one batch, list, terminate.
//!
//! For each phase: the requests the emulator's face received, the wall
//! time, and the client's CPU time (the Rust client runs alone on this
//! thread, the emulator on its own, and this thread's CPU time is read from
//! `/proc/thread-self/schedstat`; a Python client measures its own
//! `time.process_time()`). The instances listed and described are
//! launched first, unmeasured, by the provider crate.
//!
//! Always in release: from a debug build, the task runs itself again with
//! `cargo run --release`. A table on stdout, and the figures as JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioner_core::{InstanceFilter, InstanceProvisioner, InstanceProvisionerExt};
use provisioner_emulator::{Emulator, EmulatorHandle, Face};
use provisioner_fake::Personality;

use crate::subjects::{self, AZURE_SCOPE, AZURE_SUBNET, GCP_PROJECT};
use crate::{clients, venv};

/// `cargo xtask bench --wire`'s settings.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Options {
    /// Instances in the cloud, all listed by one tag (launched first,
    /// unmeasured).
    #[arg(long, default_value_t = 10_000)]
    list_size: usize,
    /// Instances launched, then terminated, one by one.
    #[arg(long, default_value_t = 100)]
    launches: usize,
    /// Instances described one by one, then in one batch.
    #[arg(long, default_value_t = 1_000)]
    describes: usize,
    /// The faces to measure.
    #[arg(long, value_enum, default_value = "all")]
    face: clients::FaceChoice,
    /// Where the figures go, as JSON.
    #[arg(long, default_value = "target/wire-bench.json")]
    json: PathBuf,
}

/// The phases, in the order they run.
const PHASES: [&str; 5] = ["launch", "describe", "describe_batch", "list", "terminate"];

/// One phase's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    requests: u64,
    wall_ms: f64,
    cpu_ms: f64,
}

/// The figures of one client on one face, by phase.
type Run = BTreeMap<&'static str, Figures>;

pub(crate) fn run(options: &Options, forwarded: &[String]) -> Result<bool, String> {
    if cfg!(debug_assertions) {
        eprintln!("xtask: the wire bench measures release builds; running itself with --release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["run", "--release", "--quiet", "--package", "xtask", "--"])
            .args(forwarded)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        return Ok(status.success());
    }
    let python = clients::python()?;
    let mut results = Vec::new();
    for (face, provider) in [("ec2", "ec2"), ("gce", "gcp"), ("arm", "azure")] {
        if !options.face.includes(face) {
            continue;
        }
        eprintln!(
            "xtask: {face}: {} instances, {} launches, {} describes",
            options.list_size, options.launches, options.describes
        );
        let (rust, py) = measure_face(options, face, provider, &python)?;
        results.push((face, provider, rust, py));
    }
    print_table(&results);
    write_json(&options.json, options, &results)?;
    println!("\nfigures as JSON: {}", options.json.display());
    Ok(true)
}

/// Both clients on a fresh emulator for `face`.
fn measure_face(
    options: &Options,
    face: &'static str,
    provider: &'static str,
    python: &std::path::Path,
) -> Result<(Run, Run), String> {
    // The emulator on a thread of its own; the Rust client on this one.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let personality = match face {
        "ec2" => Personality::ec2(),
        "gce" => Personality::gce(),
        _ => Personality::azure(),
    };
    let emulator = server
        .block_on(
            Emulator::builder()
                .personality(personality)
                .resource_group(AZURE_SCOPE.0, AZURE_SCOPE.1, AZURE_SCOPE.2)
                .subnet(AZURE_SUBNET)
                .start(),
        )
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let endpoint = emulator.endpoint();
    let (rust, ids) = client.block_on(async {
        let (provisioner, base) = subjects::on_emulator(provider, &endpoint).await?;
        let populated = provisioner
            .launch_many(
                &base.clone().with_tag("bench", "wire"),
                options.list_size,
                64,
            )
            .await;
        let ids = populated
            .into_iter()
            .map(|r| r.map(|i| i.instance_id).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let described: Vec<String> = ids.iter().take(options.describes).cloned().collect();
        let rust = rust_phases(
            &emulator,
            face_of(face),
            provisioner,
            &base,
            options,
            &described,
        )
        .await?;
        Ok::<_, String>((rust, described))
    })?;
    let py = python_phases(python, face, &emulator, options, &ids)?;
    server.block_on(emulator.shutdown());
    Ok((rust, py))
}

fn face_of(face: &str) -> Face {
    match face {
        "ec2" => Face::Ec2,
        "gce" => Face::ComputeEngine,
        _ => Face::ResourceManager,
    }
}

/// The provider crate's phases, each measured.
async fn rust_phases(
    emulator: &EmulatorHandle,
    face: Face,
    provisioner: Arc<dyn InstanceProvisioner>,
    base: &provisioner_core::InstanceConfig,
    options: &Options,
    described: &[String],
) -> Result<Run, String> {
    let mut run = Run::new();
    let meter = Meter { emulator, face };
    let p = provisioner.as_ref();
    let launched = meter
        .phase(&mut run, "launch", async {
            let config = base.clone().with_tag("bench", "launched");
            let mut ids = Vec::with_capacity(options.launches);
            for _ in 0..options.launches {
                ids.push(p.launch_instance(&config).await?.instance_id);
            }
            Ok(ids)
        })
        .await?;
    meter
        .phase(&mut run, "describe", async {
            for id in described {
                p.describe_instance(id).await?;
            }
            Ok(())
        })
        .await?;
    let refs: Vec<&str> = described.iter().map(String::as_str).collect();
    let found = meter
        .phase(&mut run, "describe_batch", async {
            p.describe_instances(&refs).await
        })
        .await?;
    if let Some(failed) = found.iter().find_map(|r| r.as_ref().err()) {
        return Err(format!("batch describe: {failed}"));
    }
    let listed = meter
        .phase(&mut run, "list", async {
            p.list_instances(&InstanceFilter::tagged([("bench", "wire")]))
                .await
        })
        .await?;
    if listed.len() != options.list_size {
        return Err(format!("listed {} of {}", listed.len(), options.list_size));
    }
    meter
        .phase(&mut run, "terminate", async {
            for id in &launched {
                p.terminate_instance(id).await?;
            }
            Ok(())
        })
        .await?;
    Ok(run)
}

/// Measures phases of the Rust client on this thread.
struct Meter<'a> {
    emulator: &'a EmulatorHandle,
    face: Face,
}

impl Meter<'_> {
    async fn phase<T>(
        &self,
        run: &mut Run,
        name: &'static str,
        body: impl std::future::Future<Output = provisioner_core::Result<T>>,
    ) -> Result<T, String> {
        let requests = self.emulator.requests_received(self.face);
        let cpu = thread_cpu()?;
        let wall = Instant::now();
        let result = body.await.map_err(|e| format!("{name}: {e}"))?;
        let wall = wall.elapsed();
        let cpu = thread_cpu()?.saturating_sub(cpu);
        run.insert(
            name,
            Figures {
                requests: self.emulator.requests_received(self.face) - requests,
                wall_ms: millis(wall),
                cpu_ms: millis(cpu),
            },
        );
        Ok(result)
    }
}

/// The CPU time this thread has run, in nanoseconds resolution (the first
/// field of `/proc/thread-self/schedstat`).
fn thread_cpu() -> Result<Duration, String> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| format!("cannot read this thread's CPU time (Linux only): {e}"))?;
    let nanos: u64 = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("unreadable /proc/thread-self/schedstat")?;
    Ok(Duration::from_nanos(nanos))
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The Python client's phases: its script prints one JSON line per phase.
fn python_phases(
    python: &std::path::Path,
    face: &str,
    emulator: &EmulatorHandle,
    options: &Options,
    ids: &[String],
) -> Result<Run, String> {
    let root = venv::workspace_root();
    let input = root
        .join("target")
        .join(format!("wire-bench-input-{face}.json"));
    // Compute Engine ids are ZONE/NAME: the client launches in the zone of
    // the first.
    let zone = match face {
        "gce" => ids
            .first()
            .and_then(|i| i.split_once('/'))
            .map_or("", |(z, _)| z),
        _ => "",
    };
    let given = serde_json::json!({
        "launches": options.launches,
        "list_expected": options.list_size,
        "project": GCP_PROJECT,
        "zone": zone,
        "subscription": AZURE_SCOPE.0,
        "group": AZURE_SCOPE.1,
        "location": AZURE_SCOPE.2,
        "subnet": AZURE_SUBNET,
        "describe_ids": ids,
    })
    .to_string();
    std::fs::write(&input, given).map_err(|e| format!("cannot write {}: {e}", input.display()))?;
    let script = root
        .join("xtask")
        .join("clients")
        .join(format!("{face}_bench.py"));
    let output = Command::new(python)
        .arg(&script)
        .env("EMULATOR_ENDPOINT", emulator.endpoint())
        .env("EMULATOR_CONTROL", emulator.endpoint())
        .env("BENCH_INPUT", &input)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut run = Run::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(figures) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(phase) = PHASES.iter().find(|p| figures["phase"] == **p) else {
            continue;
        };
        run.insert(
            phase,
            Figures {
                requests: figures["requests"].as_u64().unwrap_or(0),
                wall_ms: figures["wall_ms"].as_f64().unwrap_or(0.0),
                cpu_ms: figures["cpu_ms"].as_f64().unwrap_or(0.0),
            },
        );
    }
    Ok(run)
}

fn print_table(results: &[(&str, &str, Run, Run)]) {
    println!(
        "\n| face | phase | requests (crate / Python) | wall ms (crate / Python) | client CPU ms (crate / Python) | CPU ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for (face, _, rust, py) in results {
        for phase in PHASES {
            let (r, p) = (
                rust.get(phase).copied().unwrap_or_default(),
                py.get(phase).copied().unwrap_or_default(),
            );
            let ratio = if r.cpu_ms > 0.0 {
                format!("{:.0}x", p.cpu_ms / r.cpu_ms)
            } else {
                "-".to_owned()
            };
            println!(
                "| {face} | {phase} | {} / {} | {:.1} / {:.1} | {:.1} / {:.1} | {ratio} |",
                r.requests, p.requests, r.wall_ms, p.wall_ms, r.cpu_ms, p.cpu_ms
            );
        }
    }
}

fn write_json(
    path: &std::path::Path,
    options: &Options,
    results: &[(&str, &str, Run, Run)],
) -> Result<(), String> {
    let run = |r: &Run| -> serde_json::Value {
        r.iter()
            .map(|(phase, f)| {
                (
                    (*phase).to_owned(),
                    serde_json::json!({"requests": f.requests, "wall_ms": f.wall_ms, "cpu_ms": f.cpu_ms}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let faces: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|(face, provider, rust, py)| {
            (
                (*face).to_owned(),
                serde_json::json!({
                    "provider_crate": format!("provisioner-{provider}"),
                    "crate": run(rust),
                    "python": run(py),
                }),
            )
        })
        .collect();
    let document = serde_json::json!({
        "list_size": options.list_size,
        "launches": options.launches,
        "describes": options.describes,
        "machine": format!(
            "{} cores, {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::env::consts::ARCH
        ),
        "faces": faces,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
