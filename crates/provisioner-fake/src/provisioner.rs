//! [`FakeProvisioner`]: the [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) over a [`FakeCloud`],
//! built as a provider crate is: its [`Wire`] speaks the fake cloud, and
//! core's one implementation of the contract over a `Wire` (input checks
//! first, the contract's mapping of "not found", masking of eventual
//! consistency) makes it a provisioner.

use std::time::Duration;

use async_trait::async_trait;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::validate::{self, field, ConfigRules};
use provisioner_core::provider::Wire;
use provisioner_core::{
    Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus, OwnerId, Result,
};

use crate::{CloudError, FakeCloud};

/// The fake's limits: the shared base rules, with EC2-like tag limits so that
/// a fleet tested against the fake is not surprised by a real cloud.
pub const FAKE_RULES: ConfigRules = ConfigRules {
    tags: validate::TagRules {
        // EC2's 50, less the ownership marker every launch adds.
        max_tags: 49,
        max_key_len: 128,
        max_value_len: 256,
        ..validate::TagRules::BASE
    },
    // The fake launches spot capacity and places by zone and subnet: fleet
    // tests can exercise reclaims and fallbacks.
    capacity: validate::CapacityRules::ALL,
    ..ConfigRules::BASE
};

/// An [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) over a shared [`FakeCloud`],
/// by its [`Wire`].
///
/// Two provisioners over one cloud model a fleet manager that restarted: the
/// second finds the first one's instances by listing tags.
///
/// Every launch carries the ownership marker
/// ([`OWNER_TAG`](provisioner_core::OWNER_TAG)) with this provisioner's
/// [`OwnerId`] as a tag in the cloud's model; reads report it as `owner`.
#[derive(Debug)]
pub struct FakeProvisioner {
    cloud: FakeCloud,
    owner: OwnerId,
    rules: ConfigRules,
    page_size: usize,
    recent: RecentLaunches,
}

impl FakeProvisioner {
    /// A provisioner over `cloud` with [`FAKE_RULES`], pages of 100 and a
    /// 30-second window of launch consistency.
    pub fn new(cloud: FakeCloud) -> Self {
        Self {
            cloud,
            owner: OwnerId::default(),
            rules: FAKE_RULES,
            page_size: 100,
            recent: RecentLaunches::new(Duration::from_secs(30)),
        }
    }

    /// Lists with pages of `size` instances (at least 1), as a provider lists
    /// its cloud's pages.
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Marks launches with `owner` instead of [`OwnerId::DEFAULT`].
    pub fn with_owner(mut self, owner: OwnerId) -> Self {
        self.owner = owner;
        self
    }

    /// The owner this provisioner marks its launches with.
    pub fn owner(&self) -> &OwnerId {
        &self.owner
    }

    /// Other input rules.
    pub fn with_rules(mut self, rules: ConfigRules) -> Self {
        self.rules = rules;
        self
    }

    /// How long after its launch an instance that the cloud cannot see yet is
    /// reported as pending rather than terminated.
    pub fn with_consistency_window(mut self, window: Duration) -> Self {
        self.recent = RecentLaunches::new(window);
        self
    }

    /// The cloud this provisioner drives.
    pub fn cloud(&self) -> &FakeCloud {
        &self.cloud
    }
}

/// The fake's provider name, in its errors and in layers' labels.
pub(crate) const PROVIDER: &str = "fake";

/// The fake cloud's calls; [`Wire`] gives [`FakeProvisioner`] the contract.
#[async_trait]
impl Wire for FakeProvisioner {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn rules(&self) -> &ConfigRules {
        &self.rules
    }

    fn recent(&self) -> &RecentLaunches {
        &self.recent
    }

    fn check_id(&self, id: &str) -> Result<()> {
        let personality = self.cloud.personality();
        if !personality.is_generated_id(id) {
            return Err(Error::invalid_argument(
                field::INSTANCE_ID,
                format!(
                    "{id:?} is not a {} instance id ({}<17 lowercase hex digits>)",
                    personality.name, personality.id_prefix
                ),
            ));
        }
        Ok(())
    }

    async fn launch(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        let mut marked = config.clone();
        marked.tags = self.owner.mark(&config.tags);
        Ok(self.cloud.launch(&marked).await?.to_info())
    }

    async fn terminate(&self, id: &str) -> Result<()> {
        self.cloud.terminate(id).await?;
        Ok(())
    }

    async fn stop(&self, id: &str) -> Result<()> {
        self.cloud.stop(id).await?;
        Ok(())
    }

    /// The model's start answers with the instance as it is now.
    async fn start(&self, id: &str) -> Result<Option<InstanceInfo>> {
        Ok(Some(self.cloud.start(id).await?.to_info()))
    }

    async fn status(&self, id: &str) -> Result<Option<InstanceStatus>> {
        match self.cloud.describe_status(id).await {
            Ok(status) => Ok(Some(status)),
            Err(CloudError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn info(&self, id: &str) -> Result<Option<InstanceInfo>> {
        match self.cloud.describe(id).await {
            Ok(record) => Ok(Some(record.to_info())),
            Err(CloudError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A launch that failed after acceptance and vanished (as on Compute
    /// Engine), or a reclaim that deleted its instance, from the cloud's
    /// record of it.
    async fn vanished(&self, id: &str) -> Option<InstanceStatus> {
        if self.cloud.vanished_reclaim(id) {
            return Some(
                InstanceStatus::gone(id)
                    .with_state_reason("reclaimed".to_owned())
                    .with_reclaimed(true),
            );
        }
        let kind = self.cloud.vanished_launch_failure(id)?;
        Some(InstanceStatus::failed_launch(
            id,
            crate::cloud::launch_failure(kind),
        ))
    }

    async fn list(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.cloud.list(filter, after, self.page_size).await?;
            all.reserve(page.items.len());
            all.extend(page.items.iter().map(|r| r.to_info()));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }
}
