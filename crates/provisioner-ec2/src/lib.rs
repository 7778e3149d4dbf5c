//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on AWS EC2,
//! through `aws-sdk-ec2`.
//!
//! - Launch is one `RunInstances` call for one instance: tags on the
//!   instance and its volumes, user data base64-encoded, the root volume
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
//! - The mapping tables, one module each: states in `states.rs`, errors in
//!   `errors.rs`, input rules ([`EC2_RULES`]) in `rules.rs`.
//!
//! # Retries
//!
//! The SDK retries (standard mode: 3 attempts, exponential backoff with
//! jitter) throttling (`RequestLimitExceeded`, `Throttling`), HTTP 5xx (so
//! also `InsufficientInstanceCapacity`) and transport errors. What still
//! fails arrives as the core error class; `Error::is_retryable` tells the
//! caller whether trying later can help. Pass a client with another
//! `RetryConfig` to [`Ec2Provisioner::from_client`] to change this.
//!
//! # IAM permissions
//!
//! `ec2:RunInstances`, `ec2:CreateTags` (tags at launch),
//! `ec2:DescribeInstances`, `ec2:DescribeImages`, `ec2:StartInstances`,
//! `ec2:StopInstances`, `ec2:TerminateInstances`, and `iam:PassRole` for an
//! instance profile.
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

mod errors;
mod launch;
mod provisioner;
mod rules;
mod states;

use std::time::Duration;

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};

pub use launch::{Ec2LaunchConfig, IamInstanceProfile};
pub use provisioner::Ec2Provisioner;
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
