//! `cargo xtask`: the project's development tasks, as one Rust program.
//!
//! - `cargo xtask contract [--provider fake|ec2|gcp|azure|all] [--against emulator|moto|live]`
//!   runs the contract suite and prints the provider × case matrix.
//! - `cargo xtask bench` runs the criterion benchmarks; `cargo xtask bench
//!   --wire` measures the provider crates and the clouds' official Python
//!   clients side by side against the emulator.
//! - `cargo xtask clients [--face ec2|gce|arm|all]` runs each cloud's
//!   official Python client through a lifecycle against the emulator.
//! - `cargo xtask soak [--provider …] [--launches N] [--faults P] [--seed S] [--spot P] [--reclaims P]`
//!   runs launch cycles under faults on every provider and counts
//!   duplicates and leaks at the emulator.
//! - `cargo xtask tidy` checks what needs no build: no source file over 700
//!   lines (but the listed debts), ARCHITECTURE.md's code map true to the
//!   crates, the contract's clause letters the suite's.

#![allow(clippy::print_stdout)]

mod clients;
mod contract;
mod moto;
mod soak;
mod subjects;
mod tidy;
mod venv;
mod wire_bench;

use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

/// The project's development tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Runs the contract suite on every provider and prints the matrix.
    Contract(contract::Options),
    /// Runs the criterion benchmarks (arguments go to criterion), or with
    /// `--wire` the provider crates and the official clients against the
    /// emulator.
    Bench {
        /// Requests, wall time and client CPU per phase, each provider crate
        /// beside its cloud's official Python client, on the emulator.
        #[arg(long)]
        wire: bool,
        /// The wire bench's settings.
        #[command(flatten)]
        wire_options: wire_bench::Options,
        /// Criterion's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        criterion: Vec<String>,
    },
    /// Launch cycles under faults on every provider; counts duplicates and
    /// leaks at the emulator.
    Soak(soak::Options),
    /// Each cloud's official Python client through a lifecycle against the
    /// emulator.
    Clients(clients::Options),
    /// Checks that need no build: file sizes, ARCHITECTURE.md's code map
    /// against the crates, the contract's clauses against the suite's.
    Tidy,
}

/// A provider of the workspace, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Which {
    Fake,
    Ec2,
    Gcp,
    Azure,
    All,
}

impl Which {
    /// The providers it names, in the matrix's order.
    pub(crate) fn names(self) -> Vec<&'static str> {
        match self {
            Self::Fake => vec!["fake"],
            Self::Ec2 => vec!["ec2"],
            Self::Gcp => vec!["gcp"],
            Self::Azure => vec!["azure"],
            Self::All => vec!["fake", "ec2", "gcp", "azure"],
        }
    }
}

fn main() -> ExitCode {
    // `cargo xtask TASK`: cargo passes the task as the first argument.
    let result = match Xtask::parse().task {
        Task::Contract(options) => contract::run(options),
        Task::Bench {
            wire: true,
            wire_options,
            ..
        } => {
            let forwarded: Vec<String> = std::env::args().skip(1).collect();
            wire_bench::run(&wire_options, &forwarded)
        }
        Task::Bench { criterion, .. } => bench(&criterion),
        Task::Soak(options) => soak::run(options),
        Task::Clients(options) => clients::run(options),
        Task::Tidy => tidy::run(),
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

/// A task's options as its command line gives them, for the tasks' tests.
#[cfg(test)]
pub(crate) fn parse_options<O: clap::Args>(task: &str, args: &[&str]) -> Result<O, clap::Error> {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Line<O: clap::Args> {
        #[command(flatten)]
        options: O,
    }
    Line::<O>::try_parse_from(std::iter::once(task).chain(args.iter().copied())).map(|l| l.options)
}
