//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use provisioner_core::CloudInstanceState;

/// List, describe, launch, stop, start, terminate, wait for and sweep cloud
/// instances, on EC2, Compute Engine, Azure or the in-memory fake.
///
/// Each provider is configured from the environment, with the variables the
/// live contract run reads (`PROVISIONER_EC2_*`, `PROVISIONER_GCP_*`,
/// `PROVISIONER_AZURE_*` and each cloud's own credentials), or pointed at
/// this project's emulator with `--endpoint`.
#[derive(Debug, Parser)]
#[command(name = "provisioner", version)]
pub(crate) struct Cli {
    /// The cloud to talk to.
    #[arg(long, value_enum)]
    pub(crate) provider: Provider,
    /// The base URL of a provisioner-emulator (instead of the cloud).
    #[arg(long, global = true)]
    pub(crate) endpoint: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Provider {
    /// An in-memory cloud, fresh for each run: to try the commands.
    Fake,
    /// AWS EC2.
    Ec2,
    /// Google Compute Engine.
    Gcp,
    /// Azure virtual machines.
    Azure,
}

/// A state on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum State {
    Pending,
    Running,
    Stopping,
    Stopped,
    Terminating,
    Terminated,
}

impl From<State> for CloudInstanceState {
    fn from(s: State) -> Self {
        match s {
            State::Pending => Self::Pending,
            State::Running => Self::Running,
            State::Stopping => Self::Stopping,
            State::Stopped => Self::Stopped,
            State::Terminating => Self::Terminating,
            State::Terminated => Self::Terminated,
        }
    }
}

/// `KEY=VALUE`.
pub(crate) fn tag(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The instances carrying every tag given (all, without tags), in the
    /// states given (live ones, without states).
    List {
        /// A tag the instances must carry, KEY=VALUE (repeatable).
        #[arg(long = "tag", value_parser = tag)]
        tags: Vec<(String, String)>,
        /// A state to include (repeatable).
        #[arg(long = "state", value_enum)]
        states: Vec<State>,
    },
    /// The current state of instances; an unknown id reads as terminated.
    Describe {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Launches instances: one, or `--count` with a key per slot.
    Launch {
        /// The image (AMI id, image URL or Azure image reference).
        #[arg(long)]
        image: String,
        /// The instance type (machine type, VM size).
        #[arg(long = "type")]
        instance_type: String,
        /// A tag, KEY=VALUE (repeatable).
        #[arg(long = "tag", value_parser = tag)]
        tags: Vec<(String, String)>,
        /// The idempotency key: a retry with the same key launches nothing
        /// new (with --count, slot N gets KEY-N).
        #[arg(long)]
        key: Option<String>,
        /// How many instances.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// How many launches at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The root disk size in GiB.
        #[arg(long)]
        disk_gb: Option<u32>,
        /// A file whose bytes are the user data (never printed).
        #[arg(long)]
        user_data_file: Option<PathBuf>,
    },
    /// Stops instances.
    Stop {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Starts stopped instances.
    Start {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Terminates instances (a terminated or unknown one is fine).
    Terminate {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Waits until an instance reaches a state.
    Wait {
        /// The instance id.
        id: String,
        /// The state to wait for.
        #[arg(long, value_enum, default_value = "running")]
        state: State,
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Finds instances carrying the owner tags that nobody knows, older than
    /// the grace period, and terminates them; a dry run unless --yes.
    Sweep {
        /// An owner tag, KEY=VALUE (repeatable; at least one, or
        /// --marked-by).
        #[arg(long = "owner", value_parser = tag, required_unless_present = "marked_by")]
        owner: Vec<(String, String)>,
        /// Only instances carrying this owner id's ownership marker (what
        /// provisioners built with that owner launched; `provisioner` is
        /// the default owner); with no --owner, all of them, untagged
        /// launches included. The others are reported as not ours and left
        /// alone. Also deletes what this owner's launches left beside their
        /// instances (an EC2 volume kept after its instance).
        #[arg(long)]
        marked_by: Option<String>,
        /// An instance the fleet knows, spared (repeatable).
        #[arg(long)]
        keep: Vec<String>,
        /// Instances younger than this many seconds are spared.
        #[arg(long, default_value_t = 600)]
        grace: u64,
        /// Terminate, instead of only reporting.
        #[arg(long)]
        yes: bool,
    },
}
