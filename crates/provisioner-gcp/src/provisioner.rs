//! [`GcpProvisioner`]: the contract on Compute Engine's API.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use google_cloud_compute_v1::client::{Instances, ZoneOperations};
use google_cloud_compute_v1::model::access_config::Type as AccessType;
use google_cloud_compute_v1::model::metadata::Items;
use google_cloud_compute_v1::model::operation::Status as OpStatus;
use google_cloud_compute_v1::model::{
    AccessConfig, AttachedDisk, AttachedDiskInitializeParams, Instance, Metadata, NetworkInterface,
    Operation, ServiceAccount,
};
use provisioner_core::consistency::RecentLaunches;
use provisioner_core::naming;
use provisioner_core::validate::{self, field};
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner,
    InstanceStatus, Result, Tags,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::errors::{self, from_gax};
use crate::ids::{self, InstanceId};
use crate::launch::GcpLaunchConfig;
use crate::states;
use crate::tags::{self, GCP_RULES, TAGS_METADATA_KEY};

/// An [`InstanceProvisioner`] on Compute Engine, for one project and one or
/// more zones. Instance ids are `ZONE/NAME`.
#[derive(Debug)]
pub struct GcpProvisioner {
    instances: Instances,
    operations: ZoneOperations,
    project: String,
    zones: Vec<String>,
    launch: GcpLaunchConfig,
    recent: RecentLaunches,
    /// Delete operations this provisioner started, by instance id: while one
    /// runs, Compute Engine shows the instance as STOPPING, and describe
    /// must say terminating.
    deleting: Mutex<HashMap<String, String>>,
    page_size: u32,
}

impl GcpProvisioner {
    /// A provisioner on Application Default Credentials.
    pub async fn new(
        project: impl Into<String>,
        zones: Vec<String>,
        launch: GcpLaunchConfig,
    ) -> Result<Self> {
        let instances = Instances::builder().build().await.map_err(builder_error)?;
        let operations = ZoneOperations::builder()
            .build()
            .await
            .map_err(builder_error)?;
        Self::from_clients(instances, operations, project, zones, launch)
    }

    /// A provisioner on an emulator at `endpoint` (this project's, for
    /// example), with anonymous credentials.
    pub async fn for_endpoint(
        endpoint: &str,
        project: impl Into<String>,
        zones: Vec<String>,
        launch: GcpLaunchConfig,
    ) -> Result<Self> {
        let anonymous = || google_cloud_auth::credentials::anonymous::Builder::new().build();
        let instances = Instances::builder()
            .with_endpoint(endpoint)
            .with_credentials(anonymous())
            .build()
            .await
            .map_err(builder_error)?;
        let operations = ZoneOperations::builder()
            .with_endpoint(endpoint)
            .with_credentials(anonymous())
            .build()
            .await
            .map_err(builder_error)?;
        Self::from_clients(instances, operations, project, zones, launch)
    }

    /// A provisioner on given clients (own credentials, retry or endpoint).
    /// Launches go to the zones in turn (by instance name); lists cover
    /// every zone given.
    pub fn from_clients(
        instances: Instances,
        operations: ZoneOperations,
        project: impl Into<String>,
        zones: Vec<String>,
        launch: GcpLaunchConfig,
    ) -> Result<Self> {
        let project = project.into();
        if project.is_empty() || project.contains('/') {
            return Err(Error::invalid_argument(
                "project",
                format!("{project:?} is not a project id"),
            ));
        }
        if zones.is_empty() || !zones.iter().all(|z| ids::is_rfc1035(z)) {
            return Err(Error::invalid_argument(
                "zones",
                format!("{zones:?}: one or more zone names"),
            ));
        }
        if launch.user_data_key.is_empty() || launch.user_data_key == TAGS_METADATA_KEY {
            return Err(Error::invalid_argument(
                "user_data_key",
                "empty or reserved",
            ));
        }
        Ok(Self {
            instances,
            operations,
            project,
            zones,
            launch,
            recent: RecentLaunches::new(Duration::from_secs(60)),
            deleting: Mutex::new(HashMap::new()),
            page_size: 500,
        })
    }

    /// Lists with `maxResults` of `size` (1 to 500; default 500).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, 500);
        self
    }

    fn zone_for(&self, name: &str) -> &str {
        &self.zones[(naming::stable_hash(name.as_bytes()) % self.zones.len() as u64) as usize]
    }

    fn lock_deleting(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.deleting.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn get(&self, id: InstanceId<'_>) -> Result<Option<Instance>> {
        let result = self
            .instances
            .get()
            .set_project(&self.project)
            .set_zone(id.zone)
            .set_instance(id.name)
            .send()
            .await;
        match result {
            Ok(instance) => Ok(Some(instance)),
            Err(e) => match from_gax(e, &ids::format(id.zone, id.name)) {
                Error::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// True while a delete this provisioner started for `id` is under way
    /// (or done): the instance is terminating whatever status it shows.
    async fn being_deleted(&self, id: &str, zone: &str) -> bool {
        let Some(op) = self.lock_deleting().get(id).cloned() else {
            return false;
        };
        let result = self
            .operations
            .get()
            .set_project(&self.project)
            .set_zone(zone)
            .set_operation(&op)
            .send()
            .await;
        match result {
            Ok(op) if op.error.is_some() => {
                // The delete failed: the instance is what it says it is.
                self.lock_deleting().remove(id);
                false
            }
            Ok(_) => true,
            // The operation cannot be read now: trust that the delete we
            // started goes on.
            Err(_) => true,
        }
    }

    fn info_of(&self, instance: &Instance, deleting: bool) -> InstanceInfo {
        let (state, _) = state_of(instance, deleting);
        InstanceInfo {
            instance_id: id_of(instance),
            private_ip: private_ip(instance),
            public_ip: public_ip(instance),
            state,
            launch_time: instance
                .creation_timestamp
                .as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
            tags: tags_of(instance),
        }
    }

    fn body(&self, name: &str, zone: &str, config: &InstanceConfig) -> Result<Instance> {
        let labels = tags::labels(&config.tags)?;
        let mut items = vec![Items::new()
            .set_key(TAGS_METADATA_KEY)
            .set_value(tags::to_metadata(&config.tags))];
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
        if let Some(subnetwork) = &self.launch.subnetwork {
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
        if let Some(account) = &self.launch.service_account {
            body = body.set_service_accounts([ServiceAccount::new()
                .set_email(&account.email)
                .set_scopes(account.scopes.clone())]);
        }
        Ok(body)
    }

    /// The filter expression for `filter`: derived labels (quoted) and, when
    /// states are asked for, the statuses they cover.
    fn filter_expression(&self, filter: &InstanceFilter) -> Result<Option<String>> {
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

fn builder_error(e: google_cloud_gax::client_builder::Error) -> Error {
    Error::Unauthenticated {
        message: format!("cannot build the Compute Engine client: {e}"),
    }
}

/// A UUID-shaped request id, stable for a name (Compute Engine drops a
/// repeated requestId within an hour instead of running it twice).
fn request_id(name: &str) -> String {
    let a = naming::stable_hash(name.as_bytes());
    let b = naming::stable_hash(format!("request:{name}").as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn zone_of(instance: &Instance) -> &str {
    instance
        .zone
        .as_deref()
        .and_then(|z| z.rsplit('/').next())
        .unwrap_or_default()
}

fn id_of(instance: &Instance) -> String {
    ids::format(
        zone_of(instance),
        instance.name.as_deref().unwrap_or_default(),
    )
}

fn private_ip(instance: &Instance) -> Option<IpAddr> {
    instance
        .network_interfaces
        .first()?
        .network_ip
        .as_deref()?
        .parse()
        .ok()
}

fn public_ip(instance: &Instance) -> Option<IpAddr> {
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
fn tags_of(instance: &Instance) -> Tags {
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
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
}

fn state_of(instance: &Instance, deleting: bool) -> (CloudInstanceState, Option<String>) {
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
fn operation_result(op: &Operation, id: &str) -> Result<()> {
    let Some(error) = &op.error else {
        return Ok(());
    };
    if op.status != Some(OpStatus::Done) {
        return Ok(());
    }
    let first = error.errors.first();
    let code = first.and_then(|e| e.code.as_deref()).unwrap_or_default();
    let message = first
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| "operation failed".to_owned());
    Err(errors::from_operation(code, message, id))
}

#[async_trait]
impl InstanceProvisioner for GcpProvisioner {
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        validate::check_config(config, &GCP_RULES)?;
        let name = naming::launch_name("p", config.idempotency_key.as_deref());
        let zone = self.zone_for(&name).to_owned();
        let id = ids::format(&zone, &name);
        let body = self.body(&name, &zone, config)?;
        let result = self
            .instances
            .insert()
            .set_project(&self.project)
            .set_zone(&zone)
            .set_request_id(request_id(&name))
            .set_body(body)
            .send()
            .await;
        match result {
            Ok(op) => operation_result(&op, &id)?,
            Err(e) => {
                if config.idempotency_key.is_none() || !errors::is_already_exists(&e) {
                    return Err(from_gax(e, &id));
                }
                // A retry with the same key: the instance exists already.
                let existing = self
                    .get(InstanceId {
                        zone: &zone,
                        name: &name,
                    })
                    .await?
                    .ok_or_else(|| Error::Unavailable {
                        message: format!("{id} exists and cannot be read yet"),
                        source: None,
                    })?;
                let info = self.info_of(&existing, false);
                if info.tags != config.tags {
                    return Err(Error::invalid_argument(
                        field::IDEMPOTENCY_KEY,
                        "already used for a launch with other tags",
                    ));
                }
                self.recent.record(&id);
                return Ok(info);
            }
        }
        self.recent.record(&id);
        Ok(InstanceInfo {
            instance_id: id,
            private_ip: None,
            public_ip: None,
            state: CloudInstanceState::Pending,
            launch_time: None,
            tags: config.tags.clone(),
        })
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        let id = ids::parse(instance_id)?;
        // One request id for this terminate, kept across its retries.
        let request = request_id(&naming::fresh_token("delete"));
        let started: Mutex<Option<String>> = Mutex::new(None);
        self.recent
            .terminate(instance_id, || async {
                let op = self
                    .instances
                    .delete()
                    .set_project(&self.project)
                    .set_zone(id.zone)
                    .set_instance(id.name)
                    .set_request_id(&request)
                    .send()
                    .await
                    .map_err(|e| from_gax(e, instance_id))?;
                operation_result(&op, instance_id)?;
                *started.lock().unwrap_or_else(|p| p.into_inner()) = op.name;
                Ok(())
            })
            .await?;
        if let Some(op) = started.into_inner().unwrap_or_else(|p| p.into_inner()) {
            self.lock_deleting().insert(instance_id.to_owned(), op);
        }
        Ok(())
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        let id = ids::parse(instance_id)?;
        self.recent
            .retry_while_unseen(instance_id, || async {
                let op = self
                    .instances
                    .stop()
                    .set_project(&self.project)
                    .set_zone(id.zone)
                    .set_instance(id.name)
                    .send()
                    .await
                    .map_err(|e| from_gax(e, instance_id))?;
                operation_result(&op, instance_id)
            })
            .await
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        let id = ids::parse(instance_id)?;
        self.recent
            .retry_while_unseen(instance_id, || async {
                let op = self
                    .instances
                    .start()
                    .set_project(&self.project)
                    .set_zone(id.zone)
                    .set_instance(id.name)
                    .send()
                    .await
                    .map_err(|e| from_gax(e, instance_id))?;
                operation_result(&op, instance_id)
            })
            .await?;
        // Start answers with an operation: read the addresses now.
        match self.get(id).await? {
            Some(instance) => Ok(self.info_of(&instance, false)),
            None => Err(Error::NotFound {
                instance_id: instance_id.to_owned(),
            }),
        }
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        let id = ids::parse(instance_id)?;
        match self.get(id).await? {
            Some(instance) => {
                let deleting = self.being_deleted(instance_id, id.zone).await;
                let (state, reason) = state_of(&instance, deleting);
                Ok(InstanceStatus {
                    instance_id: instance_id.to_owned(),
                    state,
                    state_reason: reason.or_else(|| instance.status_message.clone()),
                    private_ip: private_ip(&instance),
                    public_ip: public_ip(&instance),
                })
            }
            None => {
                self.lock_deleting().remove(instance_id);
                if self.recent.contains(instance_id) {
                    Ok(InstanceStatus {
                        state: CloudInstanceState::Pending,
                        state_reason: Some("launched; not yet visible".to_owned()),
                        ..InstanceStatus::gone(instance_id)
                    })
                } else {
                    Ok(InstanceStatus::gone(instance_id))
                }
            }
        }
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        validate::check_filter_tags(&filter.tags, &GCP_RULES.tags)?;
        let Some(expression) = self.filter_expression(filter)? else {
            return Ok(Vec::new());
        };
        let deleting: HashMap<String, String> = self.lock_deleting().clone();
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .instances
                .aggregated_list()
                .set_project(&self.project)
                .set_filter(&expression)
                .set_max_results(self.page_size)
                .set_or_clear_page_token(token.take())
                .send()
                .await
                .map_err(|e| from_gax(e, ""))?;
            if let Some(zone) = self.zones.iter().find(|z| {
                page.unreachables
                    .iter()
                    .any(|u| u.ends_with(&format!("zones/{z}")))
            }) {
                return Err(Error::Unavailable {
                    message: format!("zone {zone} is unreachable: the listing would be incomplete"),
                    source: None,
                });
            }
            for (scope, list) in &page.items {
                let in_our_zones = self
                    .zones
                    .iter()
                    .any(|z| scope.ends_with(&format!("zones/{z}")));
                if !in_our_zones {
                    continue;
                }
                for instance in &list.instances {
                    let info = self.info_of(instance, deleting.contains_key(&id_of(instance)));
                    // Labels are a lossy index: the exact tags decide.
                    if filter.matches(&info.tags, info.state) {
                        found.push(info);
                    }
                }
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_names_are_rfc1035() {
        for key in [Some("blue-slot-0"), None] {
            let name = naming::launch_name("p", key);
            assert!(ids::is_rfc1035(&name), "{name}");
        }
    }

    #[test]
    fn request_ids_are_uuid_shaped_and_stable() {
        let r = request_id("p-1");
        assert_eq!(r, request_id("p-1"));
        let groups: Vec<usize> = r.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{r}");
    }
}
