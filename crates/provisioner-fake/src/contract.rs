//! The contract suite's [`FaultInjector`] for a [`FakeCloud`]: failures
//! made the way the cloud of its [`Personality`](crate::Personality) makes
//! them, so the same injector serves the fake and every emulator face.

use std::time::Duration;

use async_trait::async_trait;
use provisioner_core::contract::{FaultInjector, Support};
use provisioner_core::{InstanceConfig, LaunchFailureKind, Tags};

use crate::{FakeCloud, Fault, Operation, FAILURE_AFTER_ACCEPTANCE};

#[async_trait]
impl FaultInjector for FakeCloud {
    async fn fail_next_launch(&self, kind: LaunchFailureKind) {
        let personality = self.personality();
        let later = match kind {
            LaunchFailureKind::QuotaExceeded => personality.quota_failures_after_acceptance,
            _ => personality.capacity_failures_after_acceptance,
        };
        if later {
            self.fail_after_acceptance(1, kind, FAILURE_AFTER_ACCEPTANCE);
        } else {
            self.fail_next(Operation::Launch, 1, Fault::refusing(kind));
        }
    }

    async fn throttle_describes(&self, count: u32, retry_after: Duration) {
        let fault = Fault::Throttled {
            retry_after: Some(retry_after),
        };
        self.fail_next(Operation::Describe, count, fault);
    }

    async fn clear(&self) {
        self.clear_faults();
    }

    async fn reclaim(&self, instance_id: &str) -> bool {
        FakeCloud::reclaim(self, instance_id).is_ok()
    }

    fn start_failures(&self) -> Support {
        Support::Yes
    }

    /// Refused at once, or accepted and failed after
    /// [`FAILURE_AFTER_ACCEPTANCE`], as the personality says.
    async fn fail_next_start(&self, kind: LaunchFailureKind) {
        self.fail_starts(1, kind);
    }

    fn planting(&self) -> Support {
        Support::Yes
    }

    /// One model, one place: `beside` says nothing more here.
    async fn plant_failed_launch(&self, tags: &Tags, _beside: &str) -> Option<String> {
        let mut config = InstanceConfig::new("image-of-another-team", "type-of-another-team");
        config.tags = tags.clone();
        self.fail_after_acceptance(1, LaunchFailureKind::InsufficientCapacity, Duration::ZERO);
        let planted = self.launch(&config).await;
        Some(planted.ok()?.id.to_string())
    }

    async fn deletions(&self, instance_id: &str) -> Option<u64> {
        Some(self.calls_naming(Operation::Terminate, |id| id == instance_id))
    }

    /// The model's calls: the fake's wire.
    async fn requests(&self) -> Option<u64> {
        Some(Operation::ALL.iter().map(|op| self.call_count(*op)).sum())
    }
}
