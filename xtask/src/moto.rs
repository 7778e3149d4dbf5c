//! moto, an independent EC2 emulator (Python), installed pinned into a
//! virtual environment under `target/` and run on a free loopback port.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
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

/// Installs (if needed) and starts moto, and waits until it accepts connections.
pub(crate) fn start() -> Result<MotoServer, String> {
    let venv = crate::venv::install("moto-venv", &[MOTO])?;
    let port = crate::venv::free_port()?;
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
