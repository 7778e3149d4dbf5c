//! EC2's calls for the contract: [`Ec2Provisioner`]'s [`Wire`], which
//! core's one implementation of the contract over a `Wire` makes an
//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Instance};
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::paging::all_pages;
use provisioner_core::provider::validate::ConfigRules;
use provisioner_core::provider::Wire;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus,
    Orphan, Result,
};

use crate::batches::send_known;
use crate::convert::{info_of, status_of};
use crate::errors::from_sdk;
use crate::rules::{check_instance_id, EC2_RULES};
use crate::states;
use crate::Ec2Provisioner;
use crate::PROVIDER;

impl Ec2Provisioner {
    /// The instance as EC2 describes it now, or `None` when EC2 does not know it.
    async fn fetch(&self, id: &str) -> Result<Option<Instance>> {
        let result = self
            .client
            .describe_instances()
            .instance_ids(id)
            .send()
            .await;
        match result.map_err(|e| from_sdk(e, Some(id))) {
            Ok(out) => Ok(out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .find(|i| i.instance_id() == Some(id))
                .cloned()),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// EC2's calls; [`Wire`] gives [`Ec2Provisioner`] the contract.
#[async_trait]
impl Wire for Ec2Provisioner {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn rules(&self) -> &ConfigRules {
        &EC2_RULES
    }

    fn recent(&self) -> &RecentLaunches {
        &self.recent
    }

    fn check_id(&self, id: &str) -> Result<()> {
        check_instance_id(id)
    }

    async fn launch(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        self.run_instances(config).await
    }

    async fn terminate(&self, id: &str) -> Result<()> {
        self.client
            .terminate_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| from_sdk(e, Some(id)))?;
        Ok(())
    }

    async fn stop(&self, id: &str) -> Result<()> {
        self.client
            .stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| from_sdk(e, Some(id)))?;
        Ok(())
    }

    /// StartInstances reports states only: the addresses are read after.
    async fn start(&self, id: &str) -> Result<Option<InstanceInfo>> {
        self.client
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| from_sdk(e, Some(id)))?;
        Ok(None)
    }

    async fn status(&self, id: &str) -> Result<Option<InstanceStatus>> {
        Ok(self.fetch(id).await?.as_ref().map(status_of))
    }

    async fn info(&self, id: &str) -> Result<Option<InstanceInfo>> {
        Ok(self.fetch(id).await?.as_ref().map(info_of))
    }

    async fn list(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        let states: Vec<String> = if filter.states.is_empty() {
            CloudInstanceState::ALL
                .into_iter()
                .filter(|s| *s != CloudInstanceState::Terminated)
                .map(|s| states::to_ec2(s).to_owned())
                .collect()
        } else {
            filter
                .states
                .iter()
                .map(|s| states::to_ec2(*s).to_owned())
                .collect()
        };
        let mut filters = vec![Filter::builder()
            .name("instance-state-name")
            .set_values(Some(states))
            .build()];
        filters.extend(
            filter
                .tags
                .iter()
                .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build()),
        );
        all_pages(PROVIDER, |token| {
            let request = self
                .client
                .describe_instances()
                .set_filters(Some(filters.clone()))
                .max_results(i32::try_from(self.page_size).unwrap_or(1000))
                .set_next_token(token);
            async move {
                let out = request.send().await.map_err(|e| from_sdk(e, None))?;
                let found = out
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .map(info_of)
                    // EC2's tag filters treat `*` and `?` as wildcards:
                    // keep exact matches only.
                    .filter(|info| filter.matches(&info.tags, info.state))
                    .collect();
                Ok((found, out.next_token().map(str::to_owned)))
            }
        })
        .await
    }

    /// DescribeInstances and TerminateInstances take 1,000 ids.
    const BATCHES: bool = true;

    /// One DescribeInstances per 1,000 ids.
    async fn statuses(&self, ids: &[&str]) -> Result<HashMap<String, InstanceStatus>> {
        let (answers, _) = send_known(ids, |asked| {
            self.client
                .describe_instances()
                .set_instance_ids(Some(asked))
                .send()
        })
        .await?;
        Ok(answers
            .iter()
            .flat_map(|out| out.reservations())
            .flat_map(|r| r.instances())
            .filter_map(|i| Some((i.instance_id()?.to_owned(), status_of(i))))
            .collect())
    }

    /// One TerminateInstances per 1,000 ids.
    async fn terminate_many(&self, ids: &[&str]) -> Result<Vec<String>> {
        let (_, unseen) = send_known(ids, |asked| {
            self.client
                .terminate_instances()
                .set_instance_ids(Some(asked))
                .send()
        })
        .await?;
        Ok(unseen)
    }

    async fn orphans(&self) -> Result<Vec<Orphan>> {
        self.kept_volumes().await
    }

    async fn delete_orphan(&self, orphan: &Orphan) -> Result<()> {
        self.delete_kept_volume(orphan).await
    }
}
