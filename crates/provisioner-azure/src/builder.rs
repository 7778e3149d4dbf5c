//! [`AzureProvisioner`]: what it holds and how it is built.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::auth::TokenCredential;
// The API versions this crate speaks: compute 2024-07-01, network 2024-03-01.
use azure_mgmt_compute::package_2024_07_01 as compute;
use azure_mgmt_network::package_2024_03 as network;
use provisioner_core::provider::consistency::{Expiring, RecentLaunches};
use provisioner_core::provider::DEFAULT_MAX_RETRY_AFTER;
use provisioner_core::{Error, OwnerId, Result};

use crate::activity::ActivityLog;
use crate::errors::from_azure;
use crate::launch::AzureLaunchConfig;
use crate::transport::ArmTransport;

/// How long describe keeps reporting a failed create after its VM was
/// deleted.
const FAILED_LAUNCH_MEMORY: Duration = Duration::from_secs(3600);

/// An [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on Azure virtual machines, in one subscription,
/// resource group and location. Instance ids are VM names within the group.
pub struct AzureProvisioner {
    pub(crate) compute: compute::Client,
    pub(crate) network: network::Client,
    pub(crate) subscription: String,
    pub(crate) group: String,
    pub(crate) location: String,
    pub(crate) launch: AzureLaunchConfig,
    /// The owner in the ownership marker of every VM this provisioner
    /// creates; only VMs carrying it are ever deleted on its own initiative.
    pub(crate) owner: OwnerId,
    pub(crate) recent: RecentLaunches,
    /// The transport of clients this crate built (not of given clients).
    pub(crate) transport: Option<Arc<ArmTransport>>,
    /// Creates that failed after acceptance and whose VM this provisioner
    /// deleted, kept an hour: describe goes on reporting why.
    pub(crate) failed_launches: std::sync::Mutex<Expiring<provisioner_core::LaunchFailure>>,
    /// VMs this provisioner deleted, kept an hour: gone by its own hand,
    /// so no eviction is looked for.
    pub(crate) deleted: std::sync::Mutex<Expiring<()>>,
    /// VMs this provisioner started, kept an hour: a capacity failure on
    /// one is a failed start, never a failed create (`failures.rs`).
    pub(crate) starts: std::sync::Mutex<Expiring<()>>,
    /// The activity log, where evictions show (`activity.rs`); `None` for a
    /// provisioner on given clients, which then refuses spot launches.
    pub(crate) activity: Option<ActivityLog>,
}

impl std::fmt::Debug for AzureProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The clients hold the credential: they are never printed.
        f.debug_struct("AzureProvisioner")
            .field("subscription", &self.subscription)
            .field("group", &self.group)
            .field("location", &self.location)
            .field("launch", &self.launch)
            .finish_non_exhaustive()
    }
}

/// Where the provisioner works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureScope {
    /// The subscription id.
    pub subscription: String,
    /// The resource group VMs are created in and listed from.
    pub resource_group: String,
    /// The region, such as `westeurope`.
    pub location: String,
}

impl AzureScope {
    /// A scope.
    pub fn new(
        subscription: impl Into<String>,
        resource_group: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            location: location.into(),
        }
    }
}

/// A token credential for emulators: a fixed bearer token.
#[derive(Debug)]
struct EmulatorCredential;

#[async_trait]
impl TokenCredential for EmulatorCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
    ) -> azure_core::Result<azure_core::auth::AccessToken> {
        Ok(azure_core::auth::AccessToken::new(
            "emulator-token",
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

fn check_segment(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 90
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            what,
            format!("{value:?} is not a valid {what}"),
        ))
    }
}

impl AzureProvisioner {
    /// A provisioner on azure_identity's standard credential chain
    /// (environment, workload identity, managed identity, Azure CLI).
    pub async fn from_env(scope: AzureScope, launch: AzureLaunchConfig) -> Result<Self> {
        let credential =
            azure_identity::create_credential().map_err(|e| Error::Unauthenticated {
                message: format!("no Azure credential: {e}"),
                context: None,
            })?;
        Self::with_credential(credential, scope, launch)
    }

    /// A provisioner on a given credential. Requests go through this
    /// crate's transport (see [`with_max_retry_after`](Self::with_max_retry_after)).
    pub fn with_credential(
        credential: Arc<dyn TokenCredential>,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        Self::on_transport(
            credential,
            None,
            ArmTransport::new(DEFAULT_MAX_RETRY_AFTER),
            scope,
            launch,
        )
    }

    /// A provisioner on an emulator at `endpoint` (this project's), with a
    /// fixed token and quick retries (10 ms first backoff).
    pub async fn for_endpoint(
        endpoint: &str,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        let url = azure_core::Url::parse(endpoint)
            .map_err(|e| Error::invalid_argument("endpoint", e.to_string()))?;
        let mut transport = ArmTransport::new(DEFAULT_MAX_RETRY_AFTER);
        transport.first_backoff = Duration::from_millis(10);
        Self::on_transport(
            Arc::new(EmulatorCredential),
            Some(url),
            transport,
            scope,
            launch,
        )
    }

    fn on_transport(
        credential: Arc<dyn TokenCredential>,
        endpoint: Option<azure_core::Url>,
        transport: ArmTransport,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        let transport = Arc::new(transport);
        let options = || azure_core::TransportOptions::new_custom_policy(transport.clone());
        let mut compute = compute::Client::builder(credential.clone())
            .retry(azure_core::RetryOptions::none())
            .transport(options());
        let mut network = network::Client::builder(credential.clone())
            .retry(azure_core::RetryOptions::none())
            .transport(options());
        if let Some(url) = &endpoint {
            compute = compute.endpoint(url.clone());
            network = network.endpoint(url.clone());
        }
        let compute = compute.build().map_err(|e| from_azure(e, ""))?;
        let network = network.build().map_err(|e| from_azure(e, ""))?;
        let activity = ActivityLog::new(
            endpoint.unwrap_or_else(|| compute::DEFAULT_ENDPOINT.to_owned()),
            credential,
            azure_core::ClientOptions::default()
                .retry(azure_core::RetryOptions::none())
                .transport(options()),
        )
        .map_err(|e| from_azure(e, ""))?;
        let mut provisioner = Self::from_clients(compute, network, scope, launch)?;
        provisioner.transport = Some(transport);
        provisioner.activity = Some(activity);
        Ok(provisioner)
    }

    /// A provisioner on given clients. Their own pipelines apply: the
    /// Retry-After cap and the reading of error details in `details[]` work
    /// only with the constructors above. It has no activity-log client, so
    /// it cannot see Spot evictions and refuses spot launches.
    pub fn from_clients(
        compute: compute::Client,
        network: network::Client,
        scope: AzureScope,
        launch: AzureLaunchConfig,
    ) -> Result<Self> {
        check_segment("subscription", &scope.subscription)?;
        check_segment("resource_group", &scope.resource_group)?;
        check_segment("location", &scope.location)?;
        Ok(Self {
            compute,
            network,
            subscription: scope.subscription,
            group: scope.resource_group,
            location: scope.location,
            launch,
            owner: OwnerId::default(),
            recent: RecentLaunches::new(Duration::from_secs(60)),
            transport: None,
            failed_launches: std::sync::Mutex::new(Expiring::new(FAILED_LAUNCH_MEMORY)),
            deleted: std::sync::Mutex::new(Expiring::new(FAILED_LAUNCH_MEMORY)),
            starts: std::sync::Mutex::new(Expiring::new(FAILED_LAUNCH_MEMORY)),
            activity: None,
        })
    }

    /// How long one attempt and one whole call (retries included) may take
    /// (default [`Deadlines::default`](provisioner_core::Deadlines::default)).
    /// A call past either fails as `Unavailable`; a launch retried after
    /// that puts the same VM name, so it never creates a second VM. Applies
    /// to clients this crate built.
    pub fn with_deadlines(self, deadlines: provisioner_core::Deadlines) -> Self {
        if let Some(transport) = &self.transport {
            transport.set_deadlines(deadlines);
        }
        self
    }

    /// The longest one call waits on a Retry-After before it gives the
    /// throttling to the caller instead, as `Throttled` with the wait Azure
    /// asked for (default [`DEFAULT_MAX_RETRY_AFTER`]; Compute often asks
    /// for 1,200 s).
    pub fn with_max_retry_after(self, cap: Duration) -> Self {
        if let Some(transport) = &self.transport {
            transport.set_max_retry_after(cap);
        }
        self
    }

    /// Marks every VM this provisioner creates as `owner`'s (tag
    /// [`OWNER_TAG`](provisioner_core::OWNER_TAG)) instead of
    /// [`OwnerId::DEFAULT`]. Give each fleet sharing a resource group its
    /// own: a failed create is deleted only by a provisioner of its owner.
    pub fn with_owner(mut self, owner: OwnerId) -> Self {
        self.owner = owner;
        self
    }

    /// How long after launching a VM this provisioner treats ARM's "not
    /// found" for it as eventual consistency (default 60 s).
    pub fn with_consistency_window(mut self, window: Duration) -> Self {
        self.recent = RecentLaunches::new(window);
        self
    }

    pub(crate) fn vms(&self) -> compute::virtual_machines::Client {
        self.compute.virtual_machines_client()
    }
}
