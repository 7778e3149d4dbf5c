//! [`Ec2Provisioner`]: the contract on EC2's API.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, IamInstanceProfileSpecification, Instance,
    InstanceNetworkInterfaceSpecification, ResourceType, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;
use base64::Engine as _;
use provisioner_core::consistency::RecentLaunches;
use provisioner_core::naming;
use provisioner_core::validate::{self, field};
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner,
    InstanceStatus, Result, Tags,
};
use time::OffsetDateTime;

use crate::errors::from_sdk;
use crate::launch::{Ec2LaunchConfig, IamInstanceProfile};
use crate::rules::{check_instance_id, EC2_RULES};
use crate::states;

/// An [`InstanceProvisioner`] on EC2.
///
/// Built from the standard AWS configuration ([`from_env`](Self::from_env):
/// environment, shared config and credential files, web identity, ECS and
/// IMDS credentials, region) or from a given client
/// ([`from_client`](Self::from_client)), with the EC2-specific launch
/// settings ([`Ec2LaunchConfig`]).
#[derive(Debug)]
pub struct Ec2Provisioner {
    client: Client,
    launch: Ec2LaunchConfig,
    recent: RecentLaunches,
    /// Root device name per image: images do not change, so ask once.
    root_devices: Mutex<HashMap<String, String>>,
    page_size: i32,
}

impl Ec2Provisioner {
    /// A provisioner on the standard AWS configuration (credentials chain
    /// and region from the environment).
    pub async fn from_env(launch: Ec2LaunchConfig) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::from_sdk_config(&config, launch)
    }

    /// A provisioner on an already loaded AWS configuration.
    pub fn from_sdk_config(config: &aws_config::SdkConfig, launch: Ec2LaunchConfig) -> Self {
        Self::from_client(Client::new(config), launch)
    }

    /// A provisioner on a given client (own retry, timeout or endpoint
    /// settings).
    pub fn from_client(client: Client, launch: Ec2LaunchConfig) -> Self {
        Self {
            client,
            launch,
            recent: RecentLaunches::new(Duration::from_secs(60)),
            root_devices: Mutex::new(HashMap::new()),
            page_size: 1000,
        }
    }

    /// Lists with `MaxResults` of `size` (EC2 accepts 5 to 1000; default 1000).
    pub fn with_page_size(mut self, size: i32) -> Self {
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

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

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

fn tags_of(instance: &Instance) -> Tags {
    instance
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn ip(text: Option<&str>) -> Option<IpAddr> {
    text.and_then(|t| t.parse().ok())
}

fn state_of(instance: &Instance) -> (CloudInstanceState, Option<String>) {
    match instance.state().and_then(|s| s.name()) {
        Some(name) => states::from_ec2(name),
        None => (
            CloudInstanceState::Pending,
            Some("EC2 sent no state".to_owned()),
        ),
    }
}

fn info_of(instance: &Instance) -> InstanceInfo {
    InstanceInfo {
        instance_id: instance.instance_id().unwrap_or_default().to_owned(),
        private_ip: ip(instance.private_ip_address()),
        public_ip: ip(instance.public_ip_address()),
        state: state_of(instance).0,
        launch_time: instance.launch_time().and_then(|t| {
            let nanos = i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos());
            OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
        }),
        tags: tags_of(instance),
    }
}

fn status_of(instance: &Instance) -> InstanceStatus {
    let (state, unknown) = state_of(instance);
    let reason = instance
        .state_reason()
        .and_then(|r| r.message().or(r.code()))
        .map(str::to_owned)
        .or_else(|| {
            instance
                .state_transition_reason()
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        });
    InstanceStatus {
        instance_id: instance.instance_id().unwrap_or_default().to_owned(),
        state,
        state_reason: unknown.or(reason),
        private_ip: ip(instance.private_ip_address()),
        public_ip: ip(instance.public_ip_address()),
    }
}

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

#[async_trait]
impl InstanceProvisioner for Ec2Provisioner {
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        validate::check_config(config, &EC2_RULES)?;
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
        if !config.tags.is_empty() {
            for resource in [ResourceType::Instance, ResourceType::Volume] {
                request = request.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(resource)
                        .set_tags(Some(ec2_tags(&config.tags)))
                        .build(),
                );
            }
        }
        if let Some(user_data) = &config.user_data {
            request = request
                .user_data(base64::engine::general_purpose::STANDARD.encode(user_data.as_bytes()));
        }
        if let Some(gb) = config.disk_size_gb {
            let device = self.root_device(&config.image).await?;
            let size = i32::try_from(gb)
                .map_err(|_| Error::invalid_argument(field::DISK_SIZE_GB, "too large"))?;
            request = request.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(size)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            );
        }
        let groups = (!self.launch.security_group_ids.is_empty())
            .then(|| self.launch.security_group_ids.clone());
        request = match self.launch.associate_public_ip {
            // A public address choice needs an explicit primary interface,
            // which then carries the subnet and groups.
            Some(associate) => request.network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .associate_public_ip_address(associate)
                    .delete_on_termination(true)
                    .set_subnet_id(self.launch.subnet_id.clone())
                    .set_groups(groups)
                    .build(),
            ),
            None => request
                .set_subnet_id(self.launch.subnet_id.clone())
                .set_security_group_ids(groups),
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
        let instance = out.instances().first().ok_or_else(|| Error::Provider {
            provider: "ec2",
            code: None,
            message: "RunInstances returned no instance".to_owned(),
            source: None,
        })?;
        let info = info_of(instance);
        self.recent.record(&info.instance_id);
        Ok(info)
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        check_instance_id(instance_id)?;
        self.recent
            .terminate(instance_id, || async {
                self.client
                    .terminate_instances()
                    .instance_ids(instance_id)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, Some(instance_id)))
            })
            .await
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        check_instance_id(instance_id)?;
        self.recent
            .retry_while_unseen(instance_id, || async {
                self.client
                    .stop_instances()
                    .instance_ids(instance_id)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, Some(instance_id)))
            })
            .await?;
        Ok(())
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        check_instance_id(instance_id)?;
        self.recent
            .retry_while_unseen(instance_id, || async {
                self.client
                    .start_instances()
                    .instance_ids(instance_id)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, Some(instance_id)))
            })
            .await?;
        // StartInstances reports states only: ask for the addresses EC2
        // holds now, never reuse what the caller had.
        match self.fetch(instance_id).await? {
            Some(instance) => Ok(info_of(&instance)),
            None => Err(Error::NotFound {
                instance_id: instance_id.to_owned(),
            }),
        }
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        check_instance_id(instance_id)?;
        match self.fetch(instance_id).await? {
            Some(instance) => Ok(status_of(&instance)),
            None if self.recent.contains(instance_id) => Ok(InstanceStatus {
                state: CloudInstanceState::Pending,
                state_reason: Some("launched; not yet visible to DescribeInstances".to_owned()),
                ..InstanceStatus::gone(instance_id)
            }),
            None => Ok(InstanceStatus::gone(instance_id)),
        }
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        validate::check_filter_tags(&filter.tags, &EC2_RULES.tags)?;
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
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_instances()
                .set_filters(Some(filters.clone()))
                .max_results(self.page_size)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| from_sdk(e, None))?;
            for instance in out.reservations().iter().flat_map(|r| r.instances()) {
                let info = info_of(instance);
                // EC2's tag filters treat `*` and `?` as wildcards: keep
                // exact matches only.
                if filter.matches(&info.tags, info.state) {
                    found.push(info);
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(found),
            }
        }
    }
}
