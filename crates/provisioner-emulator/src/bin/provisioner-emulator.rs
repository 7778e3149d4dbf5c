//! `provisioner-emulator --listen 127.0.0.1:PORT [--personality ec2|gce|azure] [--ec2-page-cap N] [--tls DIR]`
//!
//! Serves the emulator until interrupted, so that a person or a client in
//! any language can point at it. Fault injection: the `/_emulator/` JSON
//! endpoints (see the crate docs).

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use provisioner_emulator::Emulator;
use provisioner_fake::{FakeCloud, Personality};

const USAGE: &str =
    "usage: provisioner-emulator [--listen 127.0.0.1:PORT] [--personality ec2|gce|azure] [--ec2-page-cap N] [--tls DIR]
  --tls DIR   serve https with a self-signed certificate written to DIR/emulator-cert.pem";

/// What the command line asks for.
struct Options {
    listen: SocketAddr,
    personality: Personality,
    page_cap: usize,
    tls: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut tls = None;
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut personality = Personality::ec2();
    let mut page_cap = 1000;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--personality" => {
                personality = match value()?.as_str() {
                    "ec2" => Personality::ec2(),
                    "gce" => Personality::gce(),
                    "azure" => Personality::azure(),
                    other => return Err(format!("unknown personality {other:?}\n{USAGE}")),
                }
            }
            "--ec2-page-cap" => {
                page_cap = value()?
                    .parse()
                    .map_err(|e| format!("--ec2-page-cap: {e}"))?
            }
            "--tls" => tls = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Options {
        listen,
        personality,
        page_cap,
        tls,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Options {
        listen,
        personality,
        page_cap,
        tls,
    } = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let cloud = FakeCloud::builder().personality(personality).build();
    let mut builder = Emulator::builder()
        .cloud(cloud)
        .listen(listen)
        .ec2_page_cap(page_cap);
    if let Some(dir) = tls {
        builder = builder.tls(dir);
    }
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("provisioner-emulator listening on {}", emulator.endpoint());
    if let Some(cert) = emulator.certificate() {
        println!("certificate: {}", cert.display());
    }
    let _ = tokio::signal::ctrl_c().await;
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let args: Vec<String> = [
            "--listen",
            "127.0.0.1:4566",
            "--personality",
            "gce",
            "--ec2-page-cap",
            "5",
        ]
        .map(String::from)
        .to_vec();
        let o = parse(&args).unwrap();
        assert_eq!(
            (o.listen.port(), o.personality.name, o.page_cap),
            (4566, "gce", 5)
        );
        assert!(o.tls.is_none());
        assert!(parse(&["--personality".to_owned(), "ibm".to_owned()]).is_err());
        assert!(parse(&["--listen".to_owned()]).is_err());
    }
}
