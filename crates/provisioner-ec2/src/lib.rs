//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on AWS EC2,
//! through `aws-sdk-ec2`.
//!
//! - Launch is one `RunInstances` call for one instance: tags on the
//!   instance and its volumes, user data base64-encoded, the root device
//!   always mapped with `DeleteOnTermination=true` (an image's own mapping
//!   may keep its root, which then bills after the instance is gone) and
//!   sized from `disk_size_gb` (the image's root device name is read once per
//!   image with `DescribeImages` and cached), and a `ClientToken` from the
//!   idempotency key, or a fresh one per call, so that the SDK's own retries
//!   never create a second instance. It returns as soon as EC2 accepts.
//! - Describe of an id EC2 does not know is `Terminated`, except within a
//!   window after this provisioner launched it (EC2's reads are eventually
//!   consistent): there it is `Pending`, and stop/start/terminate wait for
//!   the instance to appear.
//! - List filters on EC2's side (`tag:KEY`, `instance-state-name`), reads
//!   every page, and leaves terminated instances out unless asked for.
//! - A launch EC2 accepted and then terminated for capacity
//!   (`Server.InsufficientInstanceCapacity`) or a storage quota
//!   (`Client.VolumeLimitExceeded`) describes as terminated with
//!   `launch_failure` set; `wait_until_running` returns the typed error.
//! - An idempotency key is EC2's client token: a launch that repeats it
//!   returns the same instance; once that instance is terminated, EC2 refuses
//!   the token (`IdempotentInstanceTerminated`, for at least 24 hours) and the
//!   launch is `InvalidArgument` naming `idempotency_key`.
//! - The files: `builder.rs` (construction and client settings),
//!   `convert.rs` (EC2 shapes to the core's), `provisioner.rs` (EC2's
//!   calls, its `Wire`: core's `provider::wire` keeps the contract's
//!   shared rules), `run.rs` (the RunInstances request), `batches.rs`
//!   (1,000 ids a request), `orphans.rs` (kept volumes), and the mapping
//!   tables, one module each: states and state
//!   reasons in `states.rs`, errors in `errors.rs`, input rules
//!   ([`EC2_RULES`]) in `rules.rs`.
//!
//! # Retries
//!
//! The SDK retries (standard mode: 3 attempts, exponential backoff with
//! jitter, at most [`DEFAULT_MAX_RETRY_AFTER`](provisioner_core::provider::DEFAULT_MAX_RETRY_AFTER)
//! or the SDK's 20 s between two attempts) throttling
//! (`RequestLimitExceeded`, `Throttling`), HTTP 5xx and transport errors.
//! Capacity shortages (`InsufficientInstanceCapacity` and the other codes
//! the error table calls capacity, which EC2 sends as 500) are not retried
//! in place: they reach the caller at once, to try another type or zone.
//! What still fails arrives as the core error class; `Error::is_retryable`
//! tells the caller whether trying later can help. Pass a client with
//! another `RetryConfig` to [`Ec2Provisioner::from_client`] to change this.
//!
//! # IAM permissions
//!
//! `ec2:RunInstances`, `ec2:CreateTags` (tags at launch),
//! `ec2:DescribeInstances`, `ec2:DescribeImages`, `ec2:StartInstances`,
//! `ec2:StopInstances`, `ec2:TerminateInstances`, and `iam:PassRole` for an
//! instance profile; for orphans (a marked sweep), `ec2:DescribeVolumes` and
//! `ec2:DeleteVolume`.
//!
//! # Example (against this project's emulator)
//!
//! ```
//! use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceProvisioner};
//! use provisioner_ec2::{emulator_client, Ec2LaunchConfig, Ec2Provisioner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = provisioner_emulator::Emulator::builder().start().await?;
//! let ec2 = Ec2Provisioner::from_client(
//!     emulator_client(&emulator.endpoint()),
//!     Ec2LaunchConfig::default().with_subnet("subnet-0abc1234").with_public_ip(true),
//! );
//! let config = InstanceConfig::new("ami-0abcdef1234567890", "t3.micro")
//!     .with_tag("fleet-id", "blue")
//!     .with_disk_size_gb(20)
//!     .with_user_data("#cloud-config\n");
//! let info = ec2.launch_instance(&config).await?;
//! assert!(info.instance_id.starts_with("i-"));
//! assert_eq!(ec2.describe_instance(&info.instance_id).await?.state, CloudInstanceState::Running);
//! # Ok(())
//! # }
//! ```

mod batches;
mod builder;
mod convert;
mod errors;
mod launch;
mod orphans;
mod provisioner;
mod rules;
mod run;
mod spot;
mod states;

/// The provider name, in errors and in layers' labels.
const PROVIDER: &str = "ec2";

use std::time::Duration;

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};

pub use builder::Ec2Provisioner;
pub use launch::{Ec2LaunchConfig, IamInstanceProfile};
pub use rules::EC2_RULES;

/// An EC2 client for an emulator at `endpoint` (this project's, moto,
/// LocalStack): static dummy credentials, region `us-east-1`, and the
/// standard retry mode with a 10 ms first backoff so that tests of
/// throttling stay fast.
pub fn emulator_client(endpoint: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "AKIDEMULATOR",
            "emulator-secret",
            None,
            None,
            "emulator",
        ))
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(10)))
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}
