//! [`Ec2Provisioner`]: what it holds and how it is built.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::Client;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::DEFAULT_MAX_RETRY_AFTER;
use provisioner_core::{Deadlines, Error, OwnerId, Result};

use crate::errors::CapacityIsNotRetriedInPlace;
use crate::launch::Ec2LaunchConfig;

/// An [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on EC2.
///
/// Built from the standard AWS configuration ([`from_env`](Self::from_env):
/// environment, shared config and credential files, web identity, ECS and
/// IMDS credentials, region) or from a given client
/// ([`from_client`](Self::from_client)), with the EC2-specific launch
/// settings ([`Ec2LaunchConfig`]).
#[derive(Debug)]
pub struct Ec2Provisioner {
    /// The client as given, before this crate's settings.
    base: Client,
    /// The client every call goes through: `base` with this crate's settings.
    pub(crate) client: Client,
    pub(crate) launch: Ec2LaunchConfig,
    /// The owner in the ownership marker every launch tags its instance and
    /// volumes with.
    pub(crate) owner: OwnerId,
    pub(crate) recent: RecentLaunches,
    /// Root device name per image: images do not change, so ask once.
    pub(crate) root_devices: Mutex<HashMap<String, String>>,
    pub(crate) page_size: u32,
    pub(crate) max_retry_after: Duration,
    pub(crate) deadlines: Deadlines,
}

impl Ec2Provisioner {
    /// A provisioner on the standard AWS configuration (credentials chain
    /// and region from the environment). Fails when no region is set.
    pub async fn from_env(launch: Ec2LaunchConfig) -> Result<Self> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if config.region().is_none() {
            return Err(Error::invalid_argument(
                "region",
                "no AWS region is configured (AWS_REGION or a profile's region)",
            ));
        }
        Ok(Self::from_sdk_config(&config, launch))
    }

    /// A provisioner on an emulator at `endpoint` (this project's, or
    /// moto), with fixed credentials, region us-east-1 and quick retries.
    pub async fn for_endpoint(endpoint: &str, launch: Ec2LaunchConfig) -> Result<Self> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(Error::invalid_argument(
                "endpoint",
                format!("{endpoint:?} is not an http(s) URL"),
            ));
        }
        Ok(Self::from_client(crate::emulator_client(endpoint), launch))
    }

    /// A provisioner on an already loaded AWS configuration.
    pub fn from_sdk_config(config: &aws_config::SdkConfig, launch: Ec2LaunchConfig) -> Self {
        Self::from_client(Client::new(config), launch)
    }

    /// A provisioner on a given client (own retry or endpoint settings).
    /// Three things are added to its configuration: capacity shortages are
    /// never retried in place (they reach the caller at once, so that it
    /// can try another type or zone), no retry waits longer than
    /// [`DEFAULT_MAX_RETRY_AFTER`] (see
    /// [`with_max_retry_after`](Self::with_max_retry_after)), and every call
    /// has the default [`Deadlines`] (see [`with_deadlines`](Self::with_deadlines)).
    pub fn from_client(client: Client, launch: Ec2LaunchConfig) -> Self {
        let mut provisioner = Self {
            base: client.clone(),
            client,
            launch,
            owner: OwnerId::default(),
            recent: RecentLaunches::new(Duration::from_secs(60)),
            root_devices: Mutex::new(HashMap::new()),
            page_size: 1000,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            deadlines: Deadlines::default(),
        };
        provisioner.reconfigure();
        provisioner
    }

    /// Tags every launch's instance and volumes as `owner`'s (tag
    /// [`OWNER_TAG`](provisioner_core::OWNER_TAG)) instead of
    /// [`OwnerId::DEFAULT`]. Give each fleet sharing an account its own.
    pub fn with_owner(mut self, owner: OwnerId) -> Self {
        self.owner = owner;
        self
    }

    /// Lists with `MaxResults` of `size` (EC2 accepts 5 to 1000; default 1000).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(5, 1000);
        self
    }

    /// How long after launching an instance this provisioner treats EC2's
    /// "not found" for it as eventual consistency (default 60 s): describe
    /// says pending, stop/start/terminate wait for it to appear.
    pub fn with_consistency_window(mut self, window: Duration) -> Self {
        self.recent = RecentLaunches::new(window);
        self
    }

    /// The longest the SDK waits between two attempts of one call, whatever
    /// EC2 asks in `x-amz-retry-after` (default
    /// [`DEFAULT_MAX_RETRY_AFTER`]; the SDK itself never waits more than
    /// 20 s).
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self.reconfigure();
        self
    }

    /// How long one attempt and one whole call may take (default
    /// [`Deadlines::default`]): the SDK's operation attempt timeout and
    /// operation timeout. A call past either fails as `Unavailable`; a
    /// launch retried after that keeps its client token, so it never
    /// creates a second instance.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self.reconfigure();
        self
    }

    fn reconfigure(&mut self) {
        self.client = configured(&self.base, self.max_retry_after, self.deadlines);
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// `client` with the capacity classifier, a backoff capped at `cap`, and
/// `deadlines` as its timeouts.
fn configured(client: &Client, cap: Duration, deadlines: Deadlines) -> Client {
    let config = client.config();
    let retry = config
        .retry_config()
        .cloned()
        .unwrap_or_else(RetryConfig::standard);
    // The SDK's own ceiling is 20 s; a lower cap lowers it.
    let ceiling = cap.clamp(Duration::from_millis(1), Duration::from_secs(20));
    let retry = retry.with_max_backoff(ceiling);
    let timeouts = config
        .timeout_config()
        .cloned()
        .unwrap_or_else(TimeoutConfig::disabled)
        .to_builder()
        .operation_attempt_timeout(deadlines.attempt)
        .operation_timeout(deadlines.total)
        .build();
    let builder = config
        .to_builder()
        .timeout_config(timeouts)
        .retry_config(retry)
        .retry_classifier(CapacityIsNotRetriedInPlace);
    Client::from_conf(builder.build())
}
