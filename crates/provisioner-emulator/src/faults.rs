//! Faults by the ids the providers see: a face may name an instance
//! otherwise than the model (Compute Engine's provider says `ZONE/NAME` for
//! the model's `projects/P/zones/ZONE/instances/NAME`; EC2's `i-…` and
//! Azure's VM names are the model's ids), and a test or the control face
//! reclaims by the provider's id.

#[cfg(feature = "contract")]
use provisioner_core::contract::FaultInjector;
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
/// with instances named by the providers' ids.
#[cfg(feature = "contract")]
#[derive(Debug, Clone)]
pub struct EmulatorFaults {
    cloud: FakeCloud,
}

#[cfg(feature = "contract")]
impl EmulatorFaults {
    /// The faults of `cloud`, as an emulator serving it names instances.
    pub fn new(cloud: FakeCloud) -> Self {
        Self { cloud }
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
}
