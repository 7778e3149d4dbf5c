//! Azure's shapes to and from the core's: the VM body of a launch, a VM's
//! state, tags and interface.

use std::net::IpAddr;

use azure_mgmt_compute::package_2024_07_01::models::VirtualMachine;
use azure_mgmt_network::package_2024_03 as network;
use base64::Engine as _;
use provisioner_core::provider::naming;
use provisioner_core::{
    ownership, CloudInstanceState, Error, ErrorContext, InstanceConfig, InstanceInfo,
    LaunchFailure, Result, Tags,
};
use serde_json::json;

use crate::rules::{image_reference, LAUNCH_TAG};
use crate::states;
use crate::{AzureProvisioner, PROVIDER};

impl AzureProvisioner {
    /// The VM body of one launch: the NIC, OS disk and public address are
    /// created with the VM and deleted with it.
    pub(crate) fn body(&self, name: &str, config: &InstanceConfig) -> Result<VirtualMachine> {
        let image = image_reference(&config.image)?;
        let mut os_disk = json!({
            "name": format!("{name}-osdisk"),
            "createOption": "FromImage",
            "caching": "ReadWrite",
            "deleteOption": "Delete",
            "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
        });
        if let Some(gb) = config.disk_size_gb {
            os_disk["diskSizeGB"] = gb.into();
        }
        // A subnet per launch wins over the provisioner's.
        let subnet = config
            .placement
            .subnet
            .as_deref()
            .unwrap_or(&self.launch.subnet_id);
        let mut ip_config = json!({
            "name": "ipconfig1",
            "properties": {"primary": true, "subnet": {"id": subnet}},
        });
        if self.launch.public_ip {
            ip_config["properties"]["publicIPAddressConfiguration"] = json!({
                "name": format!("{name}-pip"),
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {"deleteOption": "Delete", "publicIPAllocationMethod": "Static"},
            });
        }
        let mut nic = json!({
            "name": format!("{name}-nic"),
            "properties": {"primary": true, "deleteOption": "Delete", "ipConfigurations": [ip_config]},
        });
        if let Some(nsg) = &self.launch.network_security_group_id {
            nic["properties"]["networkSecurityGroup"] = json!({"id": nsg});
        }
        let admin = &self.launch.admin_username;
        // The caller's tags, the ownership marker, and the fingerprint of
        // this launch, so that a key reused with other parameters is told
        // apart from a retry.
        let mut tags = self.owner.mark(&config.tags);
        tags.insert(LAUNCH_TAG.to_owned(), naming::launch_fingerprint(config));
        let mut body = json!({
            "location": self.location,
            "tags": &*tags,
            "properties": {
                "hardwareProfile": {"vmSize": config.instance_type},
                "storageProfile": {"imageReference": image, "osDisk": os_disk},
                "osProfile": {
                    "computerName": name,
                    "adminUsername": admin,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": true,
                        "ssh": {"publicKeys": [{"path": format!("/home/{admin}/.ssh/authorized_keys"), "keyData": self.launch.ssh_public_key}]},
                    },
                },
                "networkProfile": {"networkApiVersion": "2020-11-01", "networkInterfaceConfigurations": [nic]},
            },
        });
        crate::spot::apply(&mut body, config)?;
        if config.capacity != provisioner_core::Capacity::OnDemand && self.activity.is_none() {
            return Err(Error::invalid_argument(
                provisioner_core::provider::validate::field::CAPACITY,
                "this provisioner, built on given clients, cannot read the activity log where evictions show: build it with with_credential, from_env or for_endpoint",
            ));
        }
        // customData is what cloud-init runs at first boot (userData is
        // only served to the guest by the metadata service).
        if let Some(user_data) = &config.user_data {
            body["properties"]["osProfile"]["customData"] =
                base64::engine::general_purpose::STANDARD
                    .encode(user_data.as_bytes())
                    .into();
        }
        // serde_json's message quotes the value it refused, which may be
        // the user data: neither it nor the error is kept.
        serde_json::from_value(body).map_err(|_| {
            Error::provider(
                ErrorContext::new(PROVIDER),
                "cannot build the VM model from the launch settings",
            )
        })
    }
}

/// The private address of an interface's primary IP configuration, and the
/// resource id of its public address, if any.
pub(crate) fn nic_addresses(
    nic: &network::models::NetworkInterface,
) -> (Option<IpAddr>, Option<String>) {
    let config = nic
        .properties
        .as_ref()
        .and_then(|p| p.ip_configurations.first())
        .and_then(|c| c.properties.as_ref());
    let private = config
        .and_then(|c| c.private_ip_address.as_deref())
        .and_then(|a| a.parse().ok());
    let public = config
        .and_then(|c| c.public_ip_address.as_ref())
        .and_then(|p| p.resource.id.clone());
    (private, public)
}

pub(crate) fn nic_id(vm: &VirtualMachine) -> Option<&str> {
    vm.properties
        .as_ref()?
        .network_profile
        .as_ref()?
        .network_interfaces
        .first()?
        .sub_resource
        .id
        .as_deref()
}

/// The caller's tags of a VM: all but this crate's own launch fingerprint
/// and the ownership marker.
pub(crate) fn tags_of(vm: &VirtualMachine) -> Tags {
    vm.resource
        .tags
        .as_ref()
        .and_then(|t| t.as_object())
        .map(|o| {
            o.iter()
                .filter(|(k, _)| *k != LAUNCH_TAG && !ownership::is_marker_key(k))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// What launch, start and list say of `vm` (named `name`): its `state`,
/// addresses, creation time, the caller's `tags` and its owner.
pub(crate) fn info_of(
    name: impl Into<String>,
    vm: &VirtualMachine,
    state: CloudInstanceState,
    tags: Tags,
    (private_ip, public_ip): (Option<IpAddr>, Option<IpAddr>),
) -> InstanceInfo {
    InstanceInfo::new(name, state)
        .with_addresses(private_ip, public_ip)
        .with_launch_time(vm.properties.as_ref().and_then(|p| p.time_created))
        .with_tags(tags)
        .with_owner(owner_of(vm))
}

/// The owner in a VM's ownership marker, if it carries one.
pub(crate) fn owner_of(vm: &VirtualMachine) -> Option<String> {
    let tags = vm.resource.tags.as_ref()?.as_object()?;
    let (_, value) = tags.iter().find(|(k, _)| ownership::is_marker_key(k))?;
    value.as_str().map(str::to_owned)
}

/// The fingerprint of the launch that created a VM, if this crate made it.
pub(crate) fn launch_fingerprint_of(vm: &VirtualMachine) -> Option<&str> {
    vm.resource.tags.as_ref()?.get(LAUNCH_TAG)?.as_str()
}

/// A VM's state, the reason to report, and the failure of a create that
/// Azure accepted and then failed for capacity or quota.
pub(crate) fn state_of(
    vm: &VirtualMachine,
) -> (CloudInstanceState, Option<String>, Option<LaunchFailure>) {
    let props = vm.properties.as_ref();
    let view = props.and_then(|p| p.instance_view.as_ref());
    let mut codes: Vec<(&str, Option<&str>)> = view
        .map(|v| {
            v.statuses
                .iter()
                .filter_map(|s| {
                    let text = s.message.as_deref().or(s.display_status.as_deref());
                    Some((s.code.as_deref()?, text))
                })
                .collect()
        })
        .unwrap_or_default();
    // Without an instance view, the provisioning state still tells creating
    // and deleting apart.
    let provisioning = props
        .and_then(|p| p.provisioning_state.as_deref())
        .map(|p| format!("ProvisioningState/{p}"));
    if codes
        .iter()
        .all(|(c, _)| !c.to_ascii_lowercase().starts_with("provisioningstate/"))
    {
        if let Some(p) = provisioning.as_deref() {
            codes.push((p, None));
        }
    }
    states::from_statuses(codes)
}

pub(crate) fn name_of(vm: &VirtualMachine) -> String {
    vm.resource.name.clone().unwrap_or_default()
}
