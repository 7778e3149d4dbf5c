//! RunInstances: the request one launch sends, built from its config and
//! the provisioner's launch settings.

use std::collections::HashMap;

use aws_sdk_ec2::operation::RequestId as _;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, IamInstanceProfileSpecification,
    InstanceNetworkInterfaceSpecification, Placement, ResourceType, TagSpecification,
};
use base64::Engine as _;
use provisioner_core::provider::naming;
use provisioner_core::provider::validate::field;
use provisioner_core::{Error, ErrorContext, InstanceConfig, InstanceInfo, Result};

use crate::convert::{ec2_tags, info_of};
use crate::errors::from_sdk;
use crate::launch::IamInstanceProfile;
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

    /// Sends the RunInstances of a checked `config`: the caller's tags and
    /// the ownership marker on the instance and its volumes, the root
    /// volume always deleted with the instance, the launch settings.
    pub(crate) async fn run_instances(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
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
}
