//! `provisioner-emulator [--listen 127.0.0.1:PORT] [--personality ec2|gce|azure] [--tls DIR] …`
//!
//! Serves the emulator until interrupted, so that a person or a client in
//! any language can point at it. Fault injection: the `/_emulator/` JSON
//! endpoints (see the crate docs).

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use provisioner_emulator::Emulator;
use std::time::Duration;

use provisioner_fake::{FakeCloud, Personality, Transitions};

/// A local server that speaks the EC2, Compute Engine and Azure Resource
/// Manager wire APIs over one in-memory cloud.
#[derive(Debug, Parser)]
#[command(name = "provisioner-emulator", version)]
struct Options {
    /// The address to listen on (port 0: a free one, printed at start).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// What the shared model does (ids, retention, stop semantics); every
    /// face is served whatever it is.
    #[arg(long, value_enum, default_value = "ec2")]
    personality: Cloud,
    /// The most instances one DescribeInstances page holds.
    #[arg(long, default_value_t = 1000)]
    ec2_page_cap: usize,
    /// The most instances one Compute Engine list page holds.
    #[arg(long, default_value_t = 500)]
    gce_page_cap: usize,
    /// The most VMs one ARM list page holds.
    #[arg(long, default_value_t = 1000)]
    arm_page_cap: usize,
    /// Serve https with a self-signed certificate written to
    /// DIR/emulator-cert.pem.
    #[arg(long, value_name = "DIR")]
    tls: Option<PathBuf>,
    /// An Azure resource group that exists from the start,
    /// SUBSCRIPTION/GROUP/LOCATION (repeatable).
    #[arg(long, value_name = "SUBSCRIPTION/GROUP/LOCATION", value_parser = resource_group)]
    resource_group: Vec<(String, String, String)>,
    /// An Azure subnet that exists from the start, by resource id
    /// (`/subscriptions/S/resourceGroups/G/providers/Microsoft.Network/virtualNetworks/V/subnets/N`,
    /// repeatable; its group given with --resource-group): network
    /// interfaces join existing subnets only.
    #[arg(long, value_name = "ID")]
    subnet: Vec<String>,
    /// Answer Azure calls as to a principal whose role is on its resource
    /// groups only: reads at subscription scope are AuthorizationFailed.
    #[arg(long)]
    arm_group_scoped: bool,
    /// How long an instance stays pending before it runs (after a launch or
    /// a start), in milliseconds. The clouds take seconds to tens of
    /// seconds, and a client tested here must see the states in between
    /// (EC2 answers a start `pending`, a stop `stopping`, a terminate
    /// `shutting-down`); 0 makes every transition instant.
    #[arg(long, default_value_t = 5000)]
    boot_ms: u64,
    /// How long an instance stays stopping, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    stop_ms: u64,
    /// How long an instance stays terminating (shutting-down), in
    /// milliseconds.
    #[arg(long, default_value_t = 3000)]
    terminate_ms: u64,
    /// An EC2 image (`ami-` id) whose own mapping keeps the root volume when
    /// an instance terminates (repeatable); every other image deletes it.
    #[arg(long, value_name = "AMI")]
    ec2_image_keeping_root: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Cloud {
    Ec2,
    Gce,
    Azure,
}

fn resource_group(text: &str) -> Result<(String, String, String), String> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [sub, group, location] if parts.iter().all(|p| !p.is_empty()) => Ok((
            (*sub).to_owned(),
            (*group).to_owned(),
            (*location).to_owned(),
        )),
        _ => Err(format!("{text:?} is not SUBSCRIPTION/GROUP/LOCATION")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let personality = match options.personality {
        Cloud::Ec2 => Personality::ec2(),
        Cloud::Gce => Personality::gce(),
        Cloud::Azure => Personality::azure(),
    };
    let cloud = FakeCloud::builder()
        .personality(personality)
        .transitions(Transitions {
            boot: Duration::from_millis(options.boot_ms),
            stop: Duration::from_millis(options.stop_ms),
            terminate: Duration::from_millis(options.terminate_ms),
        })
        .build();
    let mut builder = Emulator::builder()
        .cloud(cloud)
        .listen(options.listen)
        .ec2_page_cap(options.ec2_page_cap)
        .gce_page_cap(options.gce_page_cap)
        .arm_page_cap(options.arm_page_cap);
    if let Some(dir) = options.tls {
        builder = builder.tls(dir);
    }
    for (sub, group, location) in options.resource_group {
        builder = builder.resource_group(sub, group, location);
    }
    if options.arm_group_scoped {
        builder = builder.arm_group_scoped();
    }
    for subnet in options.subnet {
        builder = builder.subnet(subnet);
    }
    for image in options.ec2_image_keeping_root {
        builder = builder.ec2_image_keeping_root(image);
    }
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", options.listen);
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
        let o = Options::try_parse_from([
            "provisioner-emulator",
            "--listen",
            "127.0.0.1:4566",
            "--personality",
            "gce",
            "--ec2-page-cap",
            "5",
            "--resource-group",
            "sub-1/fleet/westeurope",
            "--ec2-image-keeping-root",
            "ami-0abc1234",
        ])
        .unwrap();
        assert_eq!(o.ec2_image_keeping_root, ["ami-0abc1234"]);
        assert_eq!(
            (o.listen.port(), o.personality, o.ec2_page_cap),
            (4566, Cloud::Gce, 5)
        );
        assert_eq!(o.resource_group[0].1, "fleet");
        assert!(o.tls.is_none());
        // Transitions take seconds unless asked otherwise, as the clouds'.
        assert_eq!((o.boot_ms, o.stop_ms, o.terminate_ms), (5000, 3000, 3000));
        let instant = Options::try_parse_from([
            "provisioner-emulator",
            "--boot-ms",
            "0",
            "--stop-ms",
            "0",
            "--terminate-ms",
            "0",
        ])
        .unwrap();
        assert_eq!(
            (instant.boot_ms, instant.stop_ms, instant.terminate_ms),
            (0, 0, 0)
        );
        for bad in [
            &["provisioner-emulator", "--personality", "ibm"][..],
            &["provisioner-emulator", "--listen"],
            &["provisioner-emulator", "--resource-group", "sub/group"],
        ] {
            assert!(Options::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
