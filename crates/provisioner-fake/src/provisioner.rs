//! [`FakeProvisioner`]: the [`InstanceProvisioner`] over a [`FakeCloud`],
//! behaving as a real provider crate does (input checks first, the contract's
//! mapping of "not found", masking of eventual consistency).

use std::time::Duration;

use async_trait::async_trait;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::in_operation;
use provisioner_core::provider::validate::{self, field, ConfigRules};
use provisioner_core::{
    Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner, InstanceStatus,
    Operation, OwnerId, Result,
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

/// An [`InstanceProvisioner`] over a shared [`FakeCloud`].
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

    fn check_id(&self, id: &str) -> Result<()> {
        validate::check_instance_id(id)?;
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
}

/// The fake's provider name, in its errors and in layers' labels.
pub(crate) const PROVIDER: &str = "fake";

#[async_trait]
impl InstanceProvisioner for FakeProvisioner {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        in_operation(self.name(), Operation::Launch, async {
            validate::check_config(config, &self.rules)?;
            let mut marked = config.clone();
            marked.tags = self.owner.mark(&config.tags);
            let record = self.cloud.launch(&marked).await?;
            self.recent.record(&record.id);
            Ok(record.to_info())
        })
        .await
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        in_operation(self.name(), Operation::Terminate, async {
            self.check_id(instance_id)?;
            self.recent
                .terminate(instance_id, || async {
                    Ok(self.cloud.terminate(instance_id).await?)
                })
                .await
        })
        .await
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        in_operation(self.name(), Operation::Stop, async {
            self.check_id(instance_id)?;
            self.recent
                .retry_while_unseen(instance_id, || async {
                    Ok(self.cloud.stop(instance_id).await?)
                })
                .await?;
            Ok(())
        })
        .await
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        in_operation(self.name(), Operation::Start, async {
            self.check_id(instance_id)?;
            let record = self
                .recent
                .retry_while_unseen(instance_id, || async {
                    Ok(self.cloud.start(instance_id).await?)
                })
                .await?;
            Ok(record.to_info())
        })
        .await
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        in_operation(self.name(), Operation::Describe, async {
            self.check_id(instance_id)?;
            match self.cloud.describe_status(instance_id).await {
                Ok(status) => Ok(status),
                Err(CloudError::NotFound { .. }) => {
                    // A launch that failed after acceptance and vanished (as on
                    // Compute Engine) is reported from the cloud's record of it.
                    if self.cloud.vanished_reclaim(instance_id) {
                        self.recent.forget(instance_id);
                        return Ok(InstanceStatus::gone(instance_id)
                            .with_state_reason("reclaimed".to_owned())
                            .with_reclaimed(true));
                    }
                    if let Some(kind) = self.cloud.vanished_launch_failure(instance_id) {
                        self.recent.forget(instance_id);
                        return Ok(InstanceStatus::failed_launch(
                            instance_id,
                            crate::cloud::launch_failure(kind),
                        ));
                    }
                    if self.recent.contains(instance_id) {
                        return Ok(InstanceStatus::new(
                            instance_id,
                            provisioner_core::CloudInstanceState::Pending,
                        )
                        .with_state_reason(
                            "launched; not yet visible to the cloud's reads".to_owned(),
                        ));
                    }
                    Ok(InstanceStatus::gone(instance_id))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        in_operation(self.name(), Operation::List, async {
            validate::check_filter_tags(&filter.tags, &self.rules.tags)?;
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
        })
        .await
    }
}
