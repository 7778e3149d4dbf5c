//! Python tools the tasks use (moto, the clouds' official clients), each set
//! installed pinned with pip into its own virtual environment under
//! `target/`, and reinstalled only when its pins change.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Creates `target/NAME` and installs `packages` (pinned requirement
/// strings) into it, unless exactly these pins are already there.
pub(crate) fn install(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    let venv = workspace_root().join("target").join(name);
    let marker = venv.join(".installed");
    let pins = packages.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == pins) {
        return Ok(venv);
    }
    let run = |program: &Path, args: &[&str]| -> Result<(), String> {
        let status = Command::new(program)
            .args(args)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{} {args:?} failed: {status}", program.display()))
        }
    };
    eprintln!(
        "xtask: installing {} pinned packages into {}",
        packages.len(),
        venv.display()
    );
    run(
        Path::new("python3"),
        &["-m", "venv", &venv.to_string_lossy()],
    )?;
    let pip = venv.join("bin").join("pip");
    let mut args = vec!["install", "--quiet", "--disable-pip-version-check"];
    args.extend_from_slice(packages);
    run(&pip, &args)?;
    std::fs::write(&marker, pins).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(venv)
}

/// A free loopback port.
pub(crate) fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
