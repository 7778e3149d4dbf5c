//! Compute Engine's shapes to and from the core's: the insert body, the
//! list filter, an `Instance` as `InstanceInfo`, an operation's error.

use std::net::IpAddr;

use google_cloud_compute_v1::model::access_config::Type as AccessType;
use google_cloud_compute_v1::model::metadata::Items;
use google_cloud_compute_v1::model::operation::Status as OpStatus;
use google_cloud_compute_v1::model::{
    AccessConfig, AttachedDisk, AttachedDiskInitializeParams, Instance, Metadata, NetworkInterface,
    Operation, ServiceAccount,
};
use provisioner_core::provider::naming;
use provisioner_core::provider::validate::field;
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, LaunchFailure,
    LaunchFailureKind, Result, Tags, OWNER_TAG,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::errors;
use crate::ids;
use crate::states;
use crate::tags::{self, LAUNCH_METADATA_KEY, TAGS_METADATA_KEY};
use crate::GcpProvisioner;

impl GcpProvisioner {
    pub(crate) fn info_of(&self, instance: &Instance, deleting: bool) -> InstanceInfo {
        let (state, _) = state_of(instance, deleting);
        let launch_time = instance
            .creation_timestamp
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        InstanceInfo::new(id_of(instance), state)
            .with_addresses(private_ip(instance), public_ip(instance))
            .with_launch_time(launch_time)
            .with_tags(tags_of(instance))
            .with_owner(owner_of(instance))
    }

    pub(crate) fn body(&self, name: &str, zone: &str, config: &InstanceConfig) -> Result<Instance> {
        let mut labels = tags::labels(&config.tags)?;
        // The ownership marker is a label: the one place Compute Engine lets
        // a list filter on it. No caller tag maps to its key (refused).
        labels.insert(OWNER_TAG.to_owned(), self.owner.to_string());
        let mut items = vec![
            Items::new()
                .set_key(TAGS_METADATA_KEY)
                .set_value(tags::to_metadata(&config.tags)),
            // What this launch asked for, so that a key reused with other
            // parameters is told apart from a retry.
            Items::new()
                .set_key(LAUNCH_METADATA_KEY)
                .set_value(naming::launch_fingerprint(config)),
        ];
        if let Some(user_data) = &config.user_data {
            let text = std::str::from_utf8(user_data.as_bytes()).map_err(|_| {
                Error::invalid_argument(
                    field::USER_DATA,
                    "Compute Engine metadata must be UTF-8 text",
                )
            })?;
            items.push(
                Items::new()
                    .set_key(&self.launch.user_data_key)
                    .set_value(text),
            );
        }
        let mut params = AttachedDiskInitializeParams::new().set_source_image(&config.image);
        if let Some(gb) = config.disk_size_gb {
            params = params.set_disk_size_gb(i64::from(gb));
        }
        let mut nic = NetworkInterface::new();
        if let Some(network) = &self.launch.network {
            nic = nic.set_network(network);
        }
        // A subnetwork per launch wins over the provisioner's.
        if let Some(subnetwork) = config
            .placement
            .subnet
            .as_ref()
            .or(self.launch.subnetwork.as_ref())
        {
            nic = nic.set_subnetwork(subnetwork);
        }
        if self.launch.external_ip {
            nic = nic.set_access_configs([AccessConfig::new()
                .set_name("External NAT")
                .set_type(AccessType::OneToOneNat)]);
        }
        let mut body = Instance::new()
            .set_name(name)
            .set_machine_type(format!(
                "zones/{zone}/machineTypes/{}",
                config.instance_type
            ))
            .set_disks([AttachedDisk::new()
                .set_boot(true)
                .set_auto_delete(true)
                .set_initialize_params(params)])
            .set_network_interfaces([nic])
            .set_metadata(Metadata::new().set_items(items))
            .set_labels(labels);
        if let Some(scheduling) = crate::spot::scheduling(&config.capacity) {
            body = body.set_scheduling(scheduling);
        }
        if let Some(account) = &self.launch.service_account {
            body = body.set_service_accounts([ServiceAccount::new()
                .set_email(&account.email)
                .set_scopes(account.scopes.clone())]);
        }
        Ok(body)
    }

    /// The filter expression for `filter`: derived labels (quoted) and, when
    /// states are asked for, the statuses they cover.
    pub(crate) fn filter_expression(&self, filter: &InstanceFilter) -> Result<Option<String>> {
        let mut clauses = Vec::new();
        for (key, value) in &filter.tags {
            let label = tags::label_key(key)?;
            clauses.push(format!(
                "(labels.{label} = {})",
                tags::quote(&tags::label_value(key, value)?)
            ));
        }
        if !filter.states.is_empty() {
            let mut statuses: Vec<&str> = filter
                .states
                .iter()
                .flat_map(|s| states::to_gce(*s))
                .copied()
                .collect();
            statuses.sort_unstable();
            statuses.dedup();
            if statuses.is_empty() {
                return Ok(None);
            }
            let any: Vec<String> = statuses
                .iter()
                .map(|s| format!("status = {}", tags::quote(s)))
                .collect();
            clauses.push(format!("({})", any.join(" OR ")));
        }
        Ok(Some(clauses.join(" AND ")))
    }
}

pub(crate) fn zone_of(instance: &Instance) -> &str {
    instance
        .zone
        .as_deref()
        .and_then(|z| z.rsplit('/').next())
        .unwrap_or_default()
}

pub(crate) fn id_of(instance: &Instance) -> String {
    ids::format(
        zone_of(instance),
        instance.name.as_deref().unwrap_or_default(),
    )
}

pub(crate) fn private_ip(instance: &Instance) -> Option<IpAddr> {
    instance
        .network_interfaces
        .first()?
        .network_ip
        .as_deref()?
        .parse()
        .ok()
}

pub(crate) fn public_ip(instance: &Instance) -> Option<IpAddr> {
    instance
        .network_interfaces
        .first()?
        .access_configs
        .first()?
        .nat_ip
        .as_deref()?
        .parse()
        .ok()
}

/// The exact tags from metadata; the labels for an instance this crate did
/// not launch.
pub(crate) fn tags_of(instance: &Instance) -> Tags {
    instance
        .metadata
        .as_ref()
        .and_then(|m| {
            m.items
                .iter()
                .find(|i| i.key.as_deref() == Some(TAGS_METADATA_KEY))
        })
        .and_then(|i| tags::from_metadata(i.value.as_deref()?))
        .unwrap_or_else(|| {
            instance
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != OWNER_TAG)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
}

/// The owner in an instance's ownership marker (a label), if it carries one.
pub(crate) fn owner_of(instance: &Instance) -> Option<String> {
    instance.labels.get(OWNER_TAG).cloned()
}

pub(crate) fn state_of(
    instance: &Instance,
    deleting: bool,
) -> (CloudInstanceState, Option<String>) {
    if deleting {
        return (CloudInstanceState::Terminating, Some("deleting".to_owned()));
    }
    match &instance.status {
        Some(status) => states::from_gce(status),
        None => (
            CloudInstanceState::Pending,
            Some("Compute Engine sent no status".to_owned()),
        ),
    }
}

/// An operation that is already DONE with an error is that error.
pub(crate) fn operation_result(op: &Operation, id: &str) -> Result<()> {
    match operation_failure(op) {
        Some((code, message)) => Err(errors::from_operation(
            &code,
            message,
            id,
            op.name.as_deref().unwrap_or_default(),
        )),
        None => Ok(()),
    }
}

/// The failure a DONE insert or start operation reports, if any.
pub(crate) fn reported_failure(op: &Operation) -> Option<LaunchFailure> {
    let (code, message) = operation_failure(op)?;
    let kind = match errors::classify(0, &code) {
        provisioner_core::provider::ErrorClass::InsufficientCapacity => {
            LaunchFailureKind::InsufficientCapacity
        }
        provisioner_core::provider::ErrorClass::QuotaExceeded => LaunchFailureKind::QuotaExceeded,
        _ => LaunchFailureKind::Other,
    };
    Some(LaunchFailure::new(kind, code, message))
}

/// The first error of an operation that is DONE with errors.
fn operation_failure(op: &Operation) -> Option<(String, String)> {
    let error = op.error.as_ref()?;
    if op.status != Some(OpStatus::Done) {
        return None;
    }
    let first = error.errors.first();
    let code = first.and_then(|e| e.code.clone()).unwrap_or_default();
    let message = first
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| "operation failed".to_owned());
    Some((code, message))
}

/// The fingerprint of the launch an instance was created by, if it was
/// launched by this crate.
pub(crate) fn launch_fingerprint_of(instance: &Instance) -> Option<&str> {
    instance
        .metadata
        .as_ref()?
        .items
        .iter()
        .find(|i| i.key.as_deref() == Some(LAUNCH_METADATA_KEY))?
        .value
        .as_deref()
}
