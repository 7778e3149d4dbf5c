//! `cargo xtask`: the project's development tasks, as one Rust program.
//!
//! - `cargo xtask contract [--provider fake|ec2|gcp|azure|all] [--against emulator|moto|live]`
//!   runs the contract suite and prints the provider × case matrix.
//! - `cargo xtask bench` runs the criterion benchmarks.
//! - `cargo xtask clients [--face ec2|gce|arm|all]` runs each cloud's
//!   official Python client through a lifecycle against the emulator.
//! - `cargo xtask soak [--provider …] [--launches N] [--faults P] [--seed S]`
//!   runs launch cycles under faults on every provider and counts
//!   duplicates and leaks at the emulator.

#![allow(clippy::print_stdout)]

mod clients;
mod contract;
mod moto;
mod soak;
mod subjects;
mod venv;

use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage:
  cargo xtask contract [--provider fake|ec2|gcp|azure|all] [--against emulator|moto|live]
  cargo xtask bench [criterion arguments]
  cargo xtask clients [--face ec2|gce|arm|all]
  cargo xtask soak [--provider fake|ec2|gcp|azure|all] [--launches N] [--faults PERCENT] [--seed S]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("contract") => contract::Options::parse(&args[1..]).and_then(contract::run),
        Some("bench") => bench(&args[1..]),
        Some("clients") => clients::Options::parse(&args[1..]).and_then(clients::run),
        Some("soak") => soak::Options::parse(&args[1..]).and_then(soak::run),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => Err(format!("unknown or missing task\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs every criterion benchmark of the workspace.
fn bench(extra: &[String]) -> Result<bool, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "bench",
            "--package",
            "provisioner-fake",
            "--bench",
            "fake",
            "--",
        ])
        .args(extra)
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    Ok(status.success())
}
