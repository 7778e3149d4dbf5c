//! A progress bar over bulk work: a provisioner wrapper that ticks the bar
//! each time a launch or a terminate through it finishes, so that
//! `launch_many` and a sweep report progress without knowing of the bar.

use std::sync::Arc;

use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use provisioner_core::{
    InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner, InstanceStatus, Result,
};

/// A bar of `len` steps on stderr, hidden when `hidden` (JSON output, or a
/// single step).
pub(crate) fn bar(len: u64, what: &str, hidden: bool) -> ProgressBar {
    let target = if hidden {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Delegates every call to `inner`; ticks `bar` when a launch or a
/// terminate finishes (either way).
pub(crate) struct Progress {
    pub(crate) inner: Arc<dyn InstanceProvisioner>,
    pub(crate) bar: ProgressBar,
}

#[async_trait]
impl InstanceProvisioner for Progress {
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        let result = self.inner.launch_instance(config).await;
        self.bar.inc(1);
        result
    }

    async fn terminate_instance(&self, instance_id: &str) -> Result<()> {
        let result = self.inner.terminate_instance(instance_id).await;
        self.bar.inc(1);
        result
    }

    async fn stop_instance(&self, instance_id: &str) -> Result<()> {
        self.inner.stop_instance(instance_id).await
    }

    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo> {
        self.inner.start_instance(instance_id).await
    }

    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus> {
        self.inner.describe_instance(instance_id).await
    }

    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        self.inner.list_instances(filter).await
    }

    async fn list_orphans(&self) -> Result<Vec<provisioner_core::Orphan>> {
        self.inner.list_orphans().await
    }

    async fn delete_orphan(&self, orphan: &provisioner_core::Orphan) -> Result<()> {
        self.inner.delete_orphan(orphan).await
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
