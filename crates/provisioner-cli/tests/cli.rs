//! `provisioner` end to end: the binary, against the emulator, for each
//! wire provider: launch a keyed batch, list it as JSON, describe, wait,
//! stop, start, sweep (dry run, then for real), and a bad id refused.

use std::process::{Command, Output};

use provisioner_emulator::{Emulator, EmulatorHandle};
use provisioner_fake::Personality;
use serde_json::Value;

fn provisioner(provider: &str, endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provisioner"))
        .args(["--provider", provider, "--endpoint", endpoint])
        .args(args)
        .output()
        .expect("the provisioner binary runs")
}

/// Runs a command that must succeed; its stdout.
fn ok(provider: &str, endpoint: &str, args: &[&str]) -> String {
    let out = provisioner(provider, endpoint, args);
    assert!(
        out.status.success(),
        "{provider} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(provider: &str, endpoint: &str, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    serde_json::from_str(&ok(provider, endpoint, &with_json)).unwrap()
}

async fn lifecycle(provider: &str, emulator: EmulatorHandle, image: &str, size: &str) {
    let endpoint = emulator.endpoint();
    let e = endpoint.as_str();
    let launch = [
        "launch",
        "--image",
        image,
        "--type",
        size,
        "--tag",
        "fleet=cli",
        "--count",
        "2",
        "--key",
        "cli-batch",
    ];
    let launched = json(provider, e, &launch);
    let ids: Vec<String> = launched
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{launched}");
    // The same keys again launch nothing new.
    let again = json(provider, e, &launch);
    assert_eq!(again.as_array().unwrap().len(), 2);
    let listed = json(provider, e, &["list", "--tag", "fleet=cli"]);
    let mut seen: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance_id"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(seen, want, "{provider}: list shows the batch once");

    let first = ids[0].as_str();
    let waited = json(
        provider,
        e,
        &["wait", first, "--state", "running", "--timeout", "60"],
    );
    assert_eq!(waited[0]["state"], "running");
    ok(provider, e, &["stop", first]);
    json(
        provider,
        e,
        &["wait", first, "--state", "stopped", "--timeout", "60"],
    );
    let started = json(provider, e, &["start", first]);
    assert_eq!(started[0]["instance_id"], first);
    let table = ok(provider, e, &["describe", first]);
    assert!(table.starts_with("ID") && table.contains(first), "{table}");

    // The sweep spares what the fleet keeps and terminates the rest, only
    // with --yes.
    let sweep = [
        "sweep",
        "--owner",
        "fleet=cli",
        "--grace",
        "0",
        "--keep",
        first,
    ];
    let dry = json(provider, e, &sweep);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["lost"].as_array().unwrap().len(), 1, "{dry}");
    let mut real = sweep.to_vec();
    real.push("--yes");
    let swept = json(provider, e, &real);
    assert_eq!(swept["terminated"], serde_json::json!([ids[1]]), "{swept}");
    // By the marker alone: what the CLI launched (owner `provisioner`) and
    // nothing of another owner's.
    let marked = [
        "sweep",
        "--marked-by",
        "provisioner",
        "--grace",
        "0",
        "--keep",
        first,
    ];
    let by_marker = json(provider, e, &marked);
    assert_eq!(
        by_marker["lost"].as_array().unwrap().len(),
        0,
        "{by_marker}"
    );
    let theirs = json(
        provider,
        e,
        &["sweep", "--marked-by", "fleet-green", "--grace", "0"],
    );
    assert_eq!(theirs["lost"].as_array().unwrap().len(), 0, "{theirs}");
    assert!(
        !theirs["not_ours"].as_array().unwrap().is_empty(),
        "{theirs}"
    );
    ok(provider, e, &["terminate", first]);

    // A malformed id is refused before any call; the exit status says so.
    let bad = provisioner(provider, e, &["describe", "../../x"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid instance_id"));
    drop(emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_through_the_cli() {
    let emulator = Emulator::builder().start().await.unwrap();
    lifecycle("ec2", emulator, "ami-0abcdef1234567890", "t3.micro").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcp_through_the_cli() {
    let emulator = Emulator::builder()
        .personality(Personality::gce())
        .start()
        .await
        .unwrap();
    let image = "projects/debian-cloud/global/images/family/debian-12";
    lifecycle("gcp", emulator, image, "e2-small").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_through_the_cli() {
    let emulator = Emulator::builder()
        .personality(Personality::azure())
        .resource_group("sub-1", "fleet", "westeurope")
        .subnet("/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default")
        .start()
        .await
        .unwrap();
    let image = "Canonical:ubuntu-24_04-lts:server:latest";
    lifecycle("azure", emulator, image, "Standard_B2s").await;
}
