//! `cargo xtask clients`: each cloud's official Python client, at its
//! current version and unmodified, runs a lifecycle against the emulator's
//! face for that cloud: create, get, a tag or label filter across pages,
//! stop and start, delete, and the cloud's not-found error. boto3 for EC2,
//! google-cloud-compute for Compute Engine, azure-mgmt-compute (with
//! azure-mgmt-network and azure-mgmt-resource) for ARM, over https with
//! the emulator's self-signed certificate.
//!
//! The clients are pinned, with everything they pull in, in
//! `xtask/clients/requirements.txt`, installed under `target/` by
//! [`crate::venv`]; the scripts are `xtask/clients/*_smoke.py`.

use std::process::Command;

use provisioner_emulator::{Emulator, EmulatorHandle, Face};
use provisioner_fake::Personality;

use crate::venv;

/// One face and the client that drives it.
struct Client {
    face: &'static str,
    client: &'static str,
    script: &'static str,
}

const CLIENTS: &[Client] = &[
    Client {
        face: "ec2",
        client: "boto3",
        script: "ec2_smoke.py",
    },
    Client {
        face: "gce",
        client: "google-cloud-compute",
        script: "gce_smoke.py",
    },
    Client {
        face: "arm",
        client: "azure-mgmt-compute",
        script: "arm_smoke.py",
    },
];

/// `cargo xtask clients`' arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// The face to drive with its cloud's client, or all of them.
    #[arg(long, value_enum, default_value = "all")]
    face: FaceChoice,
}

/// A face of the emulator, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FaceChoice {
    Ec2,
    Gce,
    Arm,
    All,
}

impl FaceChoice {
    /// True when it names `face` (`ec2`, `gce`, `arm`).
    pub(crate) fn includes(self, face: &str) -> bool {
        match self {
            Self::All => true,
            Self::Ec2 => face == "ec2",
            Self::Gce => face == "gce",
            Self::Arm => face == "arm",
        }
    }
}

/// The emulator for one face: small list pages, so that lists cross pages;
/// https for ARM, whose client sends its token only over https.
async fn emulator(face: &str) -> std::io::Result<EmulatorHandle> {
    let builder = Emulator::builder()
        .ec2_page_cap(1)
        .gce_page_cap(1)
        .arm_page_cap(2);
    match face {
        "ec2" => builder.personality(Personality::ec2()).start().await,
        "gce" => builder.personality(Personality::gce()).start().await,
        _ => {
            let dir = venv::workspace_root().join("target").join("emulator-tls");
            builder
                .personality(Personality::azure())
                .tls(dir)
                .start()
                .await
        }
    }
}

/// The Python of the clients' virtual environment, installed (pinned) if
/// needed.
pub(crate) fn python() -> Result<std::path::PathBuf, String> {
    let scripts = venv::workspace_root().join("xtask").join("clients");
    let requirements = std::fs::read_to_string(scripts.join("requirements.txt"))
        .map_err(|e| format!("cannot read the client pins: {e}"))?;
    let pins: Vec<&str> = requirements
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    Ok(venv::install("clients-venv", &pins)?
        .join("bin")
        .join("python"))
}

pub(crate) fn run(options: Options) -> Result<bool, String> {
    let scripts = venv::workspace_root().join("xtask").join("clients");
    let python = python()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let mut all_passed = true;
    for client in CLIENTS.iter().filter(|c| options.face.includes(c.face)) {
        let emulator = runtime
            .block_on(emulator(client.face))
            .map_err(|e| format!("cannot start the emulator: {e}"))?;
        let mut command = Command::new(&python);
        command
            .arg(scripts.join(client.script))
            .env("EMULATOR_ENDPOINT", emulator.endpoint());
        if let Some(cert) = emulator.certificate() {
            command.env("EMULATOR_CA", cert);
        }
        let status = command
            .status()
            .map_err(|e| format!("cannot run {}: {e}", client.script))?;
        let face = match client.face {
            "ec2" => Face::Ec2,
            "gce" => Face::ComputeEngine,
            _ => Face::ResourceManager,
        };
        let requests = emulator.requests_received(face);
        let verdict = if status.success() { "passed" } else { "FAILED" };
        println!(
            "{:<4} {:<22} {verdict} ({requests} requests)",
            client.face, client.client
        );
        all_passed &= status.success();
        runtime.block_on(emulator.shutdown());
    }
    Ok(all_passed)
}
