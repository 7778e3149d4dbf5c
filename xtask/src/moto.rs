//! moto, an independent EC2 emulator (Python), installed pinned into a
//! virtual environment under `target/` and run on a free loopback port.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pinned moto release (with its `server` extra).
pub(crate) const MOTO: &str = "moto[server]==5.2.5";

/// A running moto server; killed on drop.
pub(crate) struct MotoServer {
    child: Child,
    pub(crate) endpoint: String,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Creates the virtual environment and installs moto, unless the pinned
/// version is already there.
fn install() -> Result<PathBuf, String> {
    let venv = workspace_root().join("target").join("moto-venv");
    let marker = venv.join(".installed");
    if std::fs::read_to_string(&marker).is_ok_and(|pinned| pinned == MOTO) {
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
    eprintln!("xtask: installing {MOTO} into {}", venv.display());
    run(
        Path::new("python3"),
        &["-m", "venv", &venv.to_string_lossy()],
    )?;
    let pip = venv.join("bin").join("pip");
    run(
        &pip,
        &["install", "--quiet", "--disable-pip-version-check", MOTO],
    )?;
    std::fs::write(&marker, MOTO).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(venv)
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Installs (if needed) and starts moto, and waits until it accepts connections.
pub(crate) fn start() -> Result<MotoServer, String> {
    let venv = install()?;
    let port = free_port()?;
    let child = Command::new(venv.join("bin").join("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start moto_server: {e}"))?;
    let server = MotoServer {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err("moto_server did not start listening within 60 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}
