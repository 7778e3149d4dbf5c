//! EC2's calls for the contract: [`Ec2Provisioner`]'s [`Wire`], which
//! core's one implementation of the contract over a `Wire` makes an
//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::operation::RequestId as _;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, IamInstanceProfileSpecification, Instance,
    InstanceNetworkInterfaceSpecification, Placement, ResourceType, TagSpecification,
};
use base64::Engine as _;
use provisioner_core::provider::consistency::RecentLaunches;
use provisioner_core::provider::naming;
use provisioner_core::provider::paging::all_pages;
use provisioner_core::provider::validate::{field, ConfigRules};
use provisioner_core::provider::Wire;
use provisioner_core::{
    CloudInstanceState, Error, ErrorContext, InstanceConfig, InstanceFilter, InstanceInfo,
    InstanceStatus, Orphan, Result,
};

use crate::convert::{ec2_tags, info_of, status_of};
use crate::errors::{from_sdk, unknown_ids};
use crate::launch::IamInstanceProfile;
use crate::rules::{check_instance_id, EC2_RULES};
use crate::states;
use crate::Ec2Provisioner;
use crate::PROVIDER;

impl Ec2Provisioner {
    /// The root device name of `image`, from DescribeImages, cached.
    async fn root_device(&self, image: &str) -> Result<String> {
        if let Some(known) = self.lock_devices().get(image) {
            return Ok(known.clone());
        }
        let out = self
            .client
            .describe_images()
            .image_ids(image)
            .send()
            .await
            .map_err(|e| from_sdk(e, None))?;
        let device = out
            .images()
            .first()
            .and_then(|i| i.root_device_name())
            .ok_or_else(|| {
                Error::invalid_argument(field::IMAGE, format!("image {image:?} not found"))
            })?
            .to_owned();
        self.lock_devices().insert(image.to_owned(), device.clone());
        Ok(device)
    }

    fn lock_devices(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.root_devices.lock().unwrap_or_else(|p| p.into_inner())
    }

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

/// The most ids one DescribeInstances or TerminateInstances names (EC2's
/// documented limit for TerminateInstances, used for both).
const MAX_IDS_PER_REQUEST: usize = 1000;

/// Sends one request per [`MAX_IDS_PER_REQUEST`] of `ids` with `send`.
/// EC2 refuses a request naming an id it does not know as a whole, listing
/// the unknown ones: they are dropped and the rest sent again. The answers,
/// and the ids EC2 did not know.
async fn send_known<O, E, F, Fut>(ids: &[&str], mut send: F) -> Result<(Vec<O>, Vec<String>)>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<
        Output = std::result::Result<
            O,
            aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
        >,
    >,
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut answers = Vec::new();
    let mut unknown = Vec::new();
    for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
        let mut asked: Vec<String> = chunk.iter().map(|id| (*id).to_owned()).collect();
        while !asked.is_empty() {
            match send(asked.clone()).await {
                Ok(answer) => {
                    answers.push(answer);
                    break;
                }
                Err(e) => {
                    let rest = without_unknown(asked.clone(), e)?;
                    unknown.extend(asked.into_iter().filter(|id| !rest.contains(id)));
                    asked = rest;
                }
            }
        }
    }
    Ok((answers, unknown))
}

/// `asked` without the ids EC2 said it does not know, when that is what
/// `err` says; else the error (of the whole request).
fn without_unknown<E>(
    asked: Vec<String>,
    err: aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
) -> Result<Vec<String>>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let unknown = unknown_ids(&err);
    let rest: Vec<String> = asked
        .iter()
        .filter(|id| !unknown.contains(&id.as_str()))
        .cloned()
        .collect();
    if unknown.is_empty() || rest.len() == asked.len() {
        return Err(from_sdk(err, None));
    }
    Ok(rest)
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
        let mut request = self
            .client
            .run_instances()
            .image_id(&config.image)
            .instance_type(config.instance_type.as_str().into())
            .min_count(1)
            .max_count(1)
            // A token per call: the SDK retries with it, so its own retries
            // can never create a second instance.
            .client_token(
                config
                    .idempotency_key
                    .clone()
                    .unwrap_or_else(|| naming::fresh_token("prov")),
            )
            .set_key_name(self.launch.key_name.clone());
        // The caller's tags and the ownership marker, on the instance
        // and on the volumes launched with it.
        let tags = ec2_tags(&self.owner.mark(&config.tags));
        for resource in [ResourceType::Instance, ResourceType::Volume] {
            request = request.tag_specifications(
                TagSpecification::builder()
                    .resource_type(resource)
                    .set_tags(Some(tags.clone()))
                    .build(),
            );
        }
        if let Some(user_data) = &config.user_data {
            request = request
                .user_data(base64::engine::general_purpose::STANDARD.encode(user_data.as_bytes()));
        }
        // The root volume is always mapped, so that it leaves with the
        // instance: an image's own mapping may keep it
        // (`DeleteOnTermination` is set "by the creator of an AMI as
        // well as by the person who launches an instance", EC2 User
        // Guide, "Preserve data when an instance is terminated"), and a
        // kept volume bills until someone deletes it.
        let device = self.root_device(&config.image).await?;
        let size = config
            .disk_size_gb
            .map(|gb| {
                i32::try_from(gb)
                    .map_err(|_| Error::invalid_argument(field::DISK_SIZE_GB, "too large"))
            })
            .transpose()?;
        request = request.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(device)
                .ebs(
                    EbsBlockDevice::builder()
                        .set_volume_size(size)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        );
        let groups = (!self.launch.security_group_ids.is_empty())
            .then(|| self.launch.security_group_ids.clone());
        // A subnet of the launch's own replaces the provisioner's.
        let subnet = config
            .placement
            .subnet
            .clone()
            .or_else(|| self.launch.subnet_id.clone());
        if let Some(zone) = &config.placement.zone {
            request = request.placement(Placement::builder().availability_zone(zone).build());
        }
        if let Some(market) = crate::spot::market_options(&config.capacity) {
            request = request.instance_market_options(market);
        }
        request = match self.launch.associate_public_ip {
            // A public address choice needs an explicit primary interface,
            // which then carries the subnet and groups.
            Some(associate) => request.network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .associate_public_ip_address(associate)
                    .delete_on_termination(true)
                    .set_subnet_id(subnet)
                    .set_groups(groups)
                    .build(),
            ),
            None => request.set_subnet_id(subnet).set_security_group_ids(groups),
        };
        if let Some(profile) = &self.launch.iam_instance_profile {
            let spec = match profile {
                IamInstanceProfile::Arn(arn) => IamInstanceProfileSpecification::builder().arn(arn),
                IamInstanceProfile::Name(name) => {
                    IamInstanceProfileSpecification::builder().name(name)
                }
            };
            request = request.iam_instance_profile(spec.build());
        }
        let out = request.send().await.map_err(|e| from_sdk(e, None))?;
        let instance = out.instances().first().ok_or_else(|| {
            let context =
                ErrorContext::new(PROVIDER).with_request_id(out.request_id().unwrap_or_default());
            Error::provider(context, "RunInstances returned no instance")
        })?;
        Ok(info_of(instance))
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
