//! The `xtask` binary as `cargo xtask` runs it. Having a test here also makes
//! `cargo test --workspace --all-features` build `target/debug/xtask` with the
//! test build's features, so CI runs the tasks without building the SDKs a
//! second time (`.ci/run`).

use std::process::Command;

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn help_names_every_task() {
    let output = xtask(&["--help"]);
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for task in ["contract", "bench", "soak", "clients"] {
        assert!(help.contains(task), "`{task}` missing from:\n{help}");
    }
}

#[test]
fn an_unknown_provider_is_refused_before_any_work() {
    let output = xtask(&["contract", "--provider", "nimbus"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("nimbus"), "{error}");
    for provider in ["fake", "ec2", "gcp", "azure", "all"] {
        assert!(
            error.contains(provider),
            "`{provider}` missing from:\n{error}"
        );
    }
}
