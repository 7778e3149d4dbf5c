//! Faults by the ids the providers see: a face may name an instance
//! otherwise than the model (Compute Engine's provider says `ZONE/NAME` for
//! the model's `projects/P/zones/ZONE/instances/NAME`; EC2's `i-…` and
//! Azure's VM names are the model's ids), and a test or the control face
//! reclaims by the provider's id.

#[cfg(feature = "contract")]
use std::time::Duration;

#[cfg(feature = "contract")]
use provisioner_core::contract::{FaultInjector, Support};
#[cfg(feature = "contract")]
use provisioner_core::{LaunchFailureKind, Tags};
use provisioner_fake::{CloudError, FakeCloud, InstanceRecord};

/// The model's id of the instance a provider calls `id`, if it is visible.
pub(crate) fn model_id(cloud: &FakeCloud, id: &str) -> Option<String> {
    if cloud.peek(id).is_some() {
        return Some(id.to_owned());
    }
    let (zone, name) = id.split_once('/')?;
    let suffix = format!("/zones/{zone}/instances/{name}");
    cloud.find_id(|model| model.starts_with("projects/") && model.ends_with(&suffix))
}

/// [`FakeCloud::reclaim`] by a provider's id.
pub(crate) fn reclaim(cloud: &FakeCloud, id: &str) -> Result<InstanceRecord, CloudError> {
    match model_id(cloud, id) {
        Some(model) => cloud.reclaim(&model),
        None => Err(CloudError::NotFound { id: id.to_owned() }),
    }
}

/// The contract suite's fault injector on an emulator: the model's faults,
/// with instances named by the providers' ids. Another party's instance is
/// planted the way that party would make it: with a create request through
/// the emulator's own router on the Compute Engine and Azure faces (so the
/// instance has everything the face gives one), in the model on the EC2
/// face, whose records the face shows as they are.
#[cfg(feature = "contract")]
#[derive(Debug, Clone)]
pub struct EmulatorFaults {
    cloud: FakeCloud,
    /// The emulator's router, for planting through a face.
    app: Option<axum::Router>,
    /// The first resource group's id (`/subscriptions/S/resourceGroups/G`),
    /// where Azure VMs are planted.
    arm_group: Option<String>,
    /// The faces' request counts, when this injector is an emulator's.
    counts: Option<std::sync::Arc<crate::wire::WireCounts>>,
}

#[cfg(feature = "contract")]
impl EmulatorFaults {
    /// The faults of `cloud`, as an emulator serving it names instances.
    /// It plants another party's instances only on the EC2 face; an
    /// emulator's own [`faults`](crate::EmulatorHandle::faults) plants on
    /// every face.
    pub fn new(cloud: FakeCloud) -> Self {
        Self {
            cloud,
            app: None,
            arm_group: None,
            counts: None,
        }
    }

    /// Counts requests with the emulator's own counts.
    pub(crate) fn counting(mut self, counts: std::sync::Arc<crate::wire::WireCounts>) -> Self {
        self.counts = Some(counts);
        self
    }

    /// Also plants through `app`: Compute Engine instances, and Azure VMs in
    /// the resource group whose id is `arm_group`.
    pub(crate) fn planting_through(mut self, app: axum::Router, arm_group: Option<String>) -> Self {
        self.app = Some(app);
        self.arm_group = arm_group;
        self
    }

    /// Sends `body` to `path` through the emulator's router, as another
    /// client would, after arming the model to fail the create it makes.
    async fn plant_through(&self, method: &str, path: String, body: serde_json::Value) -> bool {
        use tower::ServiceExt as _;
        let Some(app) = &self.app else {
            return false;
        };
        let Ok(request) = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", "Bearer planted")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
        else {
            return false;
        };
        self.cloud.fail_after_acceptance(
            1,
            LaunchFailureKind::InsufficientCapacity,
            Duration::ZERO,
        );
        let planted = match app.clone().oneshot(request).await {
            Ok(answer) => answer.status().is_success(),
            Err(never) => match never {},
        };
        if !planted {
            self.cloud.clear_faults();
        }
        planted
    }

    /// A VM PUT as a person or another tool sends it: `tags` as given, a
    /// NIC in a subnet of the group.
    async fn plant_on_arm(&self, tags: &Tags) -> Option<String> {
        let group = self.arm_group.as_deref()?;
        let name = format!(
            "planted-{}",
            provisioner_core::provider::naming::fresh_token("o")
        );
        let subnet =
            format!("{group}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default");
        let body = serde_json::json!({
            "location": "westeurope",
            "tags": &**tags,
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {
                    "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                    "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"}},
                "osProfile": {"computerName": name, "adminUsername": "someone"},
                "networkProfile": {"networkInterfaceConfigurations": [{"name": format!("{name}-nic"), "properties": {
                    "primary": true, "deleteOption": "Delete",
                    "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": subnet}}}]}}]},
            },
        });
        let path = format!(
            "{group}/providers/Microsoft.Compute/virtualMachines/{name}?api-version=2024-07-01"
        );
        self.plant_through("PUT", path, body).await.then_some(name)
    }

    /// An insert as `gcloud` sends it, in the project and zone of the
    /// provider's instance `beside` (`ZONE/NAME`): `tags` as labels, no
    /// metadata of this library's.
    async fn plant_on_gce(&self, tags: &Tags, beside: &str) -> Option<String> {
        let model = model_id(&self.cloud, beside)?;
        let (project, rest) = model.strip_prefix("projects/")?.split_once("/zones/")?;
        let (zone, _) = rest.split_once("/instances/")?;
        let name = format!(
            "planted-{}",
            provisioner_core::provider::naming::fresh_token("o")
        );
        let body = serde_json::json!({
            "name": name,
            "machineType": format!("zones/{zone}/machineTypes/e2-small"),
            "labels": &**tags,
            "disks": [{"boot": true, "autoDelete": true, "initializeParams": {
                "sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
            "networkInterfaces": [{"network": "global/networks/default"}],
        });
        let path = format!("/compute/v1/projects/{project}/zones/{zone}/instances");
        self.plant_through("POST", path, body)
            .await
            .then(|| format!("{zone}/{name}"))
    }
}

#[cfg(feature = "contract")]
#[async_trait::async_trait]
impl provisioner_core::contract::FaultInjector for EmulatorFaults {
    async fn fail_next_launch(&self, kind: provisioner_core::LaunchFailureKind) {
        FaultInjector::fail_next_launch(&self.cloud, kind).await;
    }

    async fn throttle_describes(&self, count: u32, retry_after: std::time::Duration) {
        FaultInjector::throttle_describes(&self.cloud, count, retry_after).await;
    }

    async fn clear(&self) {
        FaultInjector::clear(&self.cloud).await;
    }

    async fn reclaim(&self, instance_id: &str) -> bool {
        reclaim(&self.cloud, instance_id).is_ok()
    }

    fn start_failures(&self) -> Support {
        FaultInjector::start_failures(&self.cloud)
    }

    async fn fail_next_start(&self, kind: LaunchFailureKind) {
        FaultInjector::fail_next_start(&self.cloud, kind).await;
    }

    fn planting(&self) -> Support {
        match self.cloud.personality().name {
            "azure" if self.arm_group.is_none() => {
                Support::No("the emulator serves no resource group to plant in".into())
            }
            "azure" | "gce" if self.app.is_none() => {
                Support::No("this injector has no emulator router to plant through".into())
            }
            _ => Support::Yes,
        }
    }

    async fn plant_failed_launch(&self, tags: &Tags, beside: &str) -> Option<String> {
        match self.cloud.personality().name {
            "azure" => self.plant_on_arm(tags).await,
            "gce" => self.plant_on_gce(tags, beside).await,
            _ => FaultInjector::plant_failed_launch(&self.cloud, tags, beside).await,
        }
    }

    /// Counted in the model's call log, by the model's id: Compute Engine's
    /// `ZONE/NAME` is the model's `projects/P/zones/ZONE/instances/NAME`,
    /// found by its end (the instance may be gone).
    async fn deletions(&self, instance_id: &str) -> Option<u64> {
        let suffix = instance_id
            .split_once('/')
            .map(|(zone, name)| format!("/zones/{zone}/instances/{name}"));
        let names = |id: &str| {
            id == instance_id
                || suffix
                    .as_deref()
                    .is_some_and(|s| id.starts_with("projects/") && id.ends_with(s))
        };
        Some(
            self.cloud
                .calls_naming(provisioner_fake::Operation::Terminate, names),
        )
    }

    /// Every face's requests, when this is an emulator's injector; else the
    /// model's calls.
    async fn requests(&self) -> Option<u64> {
        match &self.counts {
            Some(counts) => Some(counts.total()),
            None => FaultInjector::requests(&self.cloud).await,
        }
    }
}
