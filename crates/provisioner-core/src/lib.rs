//! One provider-neutral, async way to run the whole life of cloud VMs.
//!
//! This crate holds the [`InstanceProvisioner`] trait, the data it moves
//! ([`InstanceConfig`], [`InstanceFilter`], [`InstanceInfo`],
//! [`InstanceStatus`], [`CloudInstanceState`]), the one [`Error`] every
//! provider maps into, and, behind the `contract` feature, the suite that
//! proves an implementation keeps the contract (`contract`). What only a
//! crate implementing the trait needs (the error tables' classes, the input
//! checks every provider runs before any API call, batching, paging,
//! naming) is in [`provider`], apart from what a fleet reads.
//!
//! Around the trait: [`InstanceProvisionerExt`] (waiting for states, with
//! the typed failure of a launch the cloud accepted and then failed; bulk
//! launches and terminates), [`layers`] (retry, timeout, concurrency limit,
//! tracing; stackable over any provisioner), [`Deadlines`] (how long a call
//! may take), [`fallback`] (another offering when one has no capacity),
//! [`sweep`] (finding and terminating lost launches) and [`backoff`] (the
//! pauses of every retry and poll loop).
//!
//! Implementations live in their own crates: `provisioner-fake` (in memory,
//! for fleet unit tests), `provisioner-ec2`, `provisioner-gcp` and
//! `provisioner-azure`. A fleet manager holds an `Arc<dyn InstanceProvisioner>`
//! and never touches a cloud API itself.
//!
//! ```
//! use std::sync::Arc;
//! use provisioner_core::{
//!     CloudInstanceState, InstanceConfig, InstanceFilter, InstanceProvisioner, Result,
//! };
//!
//! /// Launches one worker for `fleet` unless one is already there.
//! async fn ensure_one(p: Arc<dyn InstanceProvisioner>, fleet: &str) -> Result<String> {
//!     let filter = InstanceFilter::tagged([("fleet-id", fleet)]);
//!     if let Some(existing) = p.list_instances(&filter).await?.into_iter().next() {
//!         return Ok(existing.instance_id);
//!     }
//!     let config = InstanceConfig::new("ami-0abcdef1234567890", "m5.large")
//!         .with_tag("fleet-id", fleet)
//!         .with_idempotency_key(format!("{fleet}-worker-0"));
//!     let info = p.launch_instance(&config).await?;
//!     assert!(matches!(info.state, CloudInstanceState::Pending | CloudInstanceState::Running));
//!     Ok(info.instance_id)
//! }
//! ```

pub mod backoff;
mod capacity;
mod deadline;
mod error;
mod operation;
mod state;
mod tags;
mod types;
mod wait;

pub mod fallback;
pub mod layers;
pub mod ownership;
pub mod provider;
pub mod sweep;

#[cfg(feature = "contract")]
pub mod contract;

pub use async_trait::async_trait;
pub use capacity::{Capacity, OnReclaim, Placement, SpotOptions};
pub use deadline::Deadlines;
pub use error::{BoxError, Error, ErrorContext, ErrorKind, Result, SharedError};
pub use operation::Operation;
pub use ownership::{OwnerId, OWNER_TAG};
pub use state::{CloudInstanceState, ParseStateError};
pub use tags::Tags;
pub use types::{
    InstanceConfig, InstanceFilter, InstanceInfo, InstanceStatus, LaunchFailure, LaunchFailureKind,
    Orphan, OrphanKind, UserData,
};
pub use wait::InstanceProvisionerExt;

/// The lifecycle of cloud instances, behind one provider-neutral API.
///
/// The fleet control loop calls these methods; it never touches a cloud API
/// directly. Implementations are `Send + Sync` and are used as
/// `Arc<dyn InstanceProvisioner>`.
///
/// # The contract
///
/// Every implementation keeps these rules; the `contract` suite of this crate
/// tests each of them on every provider.
///
/// - **a.** [`launch_instance`](Self::launch_instance) returns at once,
///   without waiting for the instance to run, with a non-empty id, state
///   `Pending` or `Running`, and the tags exactly as given.
/// - **b.** Two launches with the same
///   [`idempotency_key`](InstanceConfig::idempotency_key) return the same
///   instance and create one.
/// - **c.** An invalid config (empty image or type, bad tag, …) returns
///   [`Error::InvalidArgument`] naming the field, before any API call; no
///   instance exists afterwards.
/// - **d.** [`describe_instance`](Self::describe_instance) of a live instance
///   returns its status; of a well-formed id that no longer exists returns
///   `Terminated` (terminated means destroyed and no longer exists); of a
///   malformed id returns [`Error::InvalidArgument`].
/// - **e.** [`terminate_instance`](Self::terminate_instance) leads to
///   `Terminating` or `Terminated`; a second terminate succeeds; terminate of
///   an unknown well-formed id succeeds.
/// - **f.** [`stop_instance`](Self::stop_instance) leads to `Stopping` or
///   `Stopped`; stop of a stopped instance succeeds;
///   [`start_instance`](Self::start_instance) returns the same id with the
///   addresses the provider reports now, never cached ones; start of a
///   running instance succeeds.
/// - **g.** Stop or start of a terminated instance returns
///   [`Error::InvalidState`] (or [`Error::NotFound`] where the provider has
///   forgotten it).
/// - **h.** [`list_instances`](Self::list_instances) returns every instance
///   whose tags include all the filter's tags, across every page;
///   non-matching tags give an empty list; the states filter holds;
///   terminated instances only when asked for.
/// - **i.** Concurrent launches return distinct ids, all of them listed.
/// - **j.** A key reused after its instance was terminated never returns that
///   instance as a launch. Where the key names the instance (Compute Engine,
///   Azure) the launch creates a new instance under the same id once the old
///   one is gone, and describe and list show the new one; where the cloud
///   remembers the key itself (EC2 client tokens, the fake) the launch is
///   [`Error::InvalidArgument`] naming `idempotency_key`. A key reused with
///   other parameters (image, type, tags, user data, disk) is
///   [`Error::InvalidArgument`] naming `idempotency_key`, and the first
///   instance is unchanged. So a key names one launch intent: reuse it only
///   to retry that launch.
/// - **k.** A launch the cloud accepted and then failed (no capacity, a
///   quota) is seen as such: describe says `Terminated` with
///   [`InstanceStatus::launch_failure`] set and the cloud's code in the
///   reason, [`InstanceProvisionerExt::wait_until_running`] returns
///   [`Error::InsufficientCapacity`] or [`Error::QuotaExceeded`], and
///   nothing of it stays billed (on Azure the provider deletes the failed VM
///   and what was created with it).
/// - **l.** [`Error::Throttled`] carries the cloud's Retry-After where the
///   cloud sends one, and no call waits on a Retry-After longer than the
///   provider's cap (60 s by default).
/// - **m.** A [`Capacity::Spot`] launch the cloud reclaims ends as the
///   launch asked ([`OnReclaim`]: terminated, or stopped), and describe and
///   list say so ([`InstanceStatus::reclaimed`], [`InstanceInfo::reclaimed`]).
///   A provider that cannot launch spot refuses it as
///   [`Error::InvalidArgument`] naming `capacity`, before any call.
/// - **n.** A [`fallback::Fallback`] over offerings moves on when one has
///   no capacity, at once or after acceptance, and remembers it.
/// - **o.** Nothing is deleted that is not ours. A launch carries the
///   provider's [ownership marker](ownership) and reads report it as
///   `owner`, never among the tags; the marker's key is refused in caller
///   tags. A provider deletes on its own initiative only instances carrying
///   its own marker whose create failed: list and describe never delete
///   another party's instance, and a list never touches one outside its
///   filter.
/// - **p.** A start the cloud cannot place is
///   [`Error::InsufficientCapacity`] (or [`Error::QuotaExceeded`]) carrying
///   the cloud's code, from `start_instance` or from `wait_until_running`
///   after it; the instance stays `Stopped` (with
///   [`InstanceStatus::start_failure`] when the cloud had accepted the
///   start), is never deleted, and starts once capacity is back.
///
/// Errors are classified the same way everywhere: see [`Error`] and
/// [`Error::is_retryable`].
#[async_trait]
pub trait InstanceProvisioner: Send + Sync {
    /// Provisions a new instance from `config` and returns as soon as the
    /// provider has accepted it; the instance may still be booting
    /// (`Pending`). Poll [`describe_instance`](Self::describe_instance) for
    /// readiness. This never blocks a control loop on boot time.
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo>;

    /// Permanently destroys an instance and the resources created with it.
    /// Terminating a terminated or unknown (well-formed) instance succeeds.
    async fn terminate_instance(&self, instance_id: &str) -> Result<()>;

    /// Stops an instance without destroying it; its storage is kept and
    /// [`start_instance`](Self::start_instance) brings it back. Used to save
    /// cost on warm-pool instances idle for too long. Stopping a stopped
    /// instance succeeds.
    async fn stop_instance(&self, instance_id: &str) -> Result<()>;

    /// Starts a stopped instance and returns its info with the addresses the
    /// provider reports now. Clouds may assign new addresses on start, so
    /// callers must use the returned ones rather than cached values. Starting
    /// a running instance succeeds. Some clouds accept a start and fail it
    /// later (no capacity): the instance is then `Stopped` again, with
    /// [`InstanceStatus::start_failure`], and
    /// [`wait_until_running`](crate::InstanceProvisionerExt::wait_until_running)
    /// returns the start's error.
    async fn start_instance(&self, instance_id: &str) -> Result<InstanceInfo>;

    /// The provider's current view of an instance. A well-formed id that no
    /// longer exists is `Terminated`, not an error.
    async fn describe_instance(&self, instance_id: &str) -> Result<InstanceStatus>;

    /// Every instance matching `filter`, across all pages. This is how a
    /// restarted fleet manager rediscovers its instances (by tags such as
    /// `ManagedBy` and `fleet-id`).
    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>>;

    /// The provider's current view of several instances: one result per id,
    /// in the order given, each what
    /// [`describe_instance`](Self::describe_instance) would say (a
    /// well-formed id that no longer exists is `Terminated`).
    ///
    /// One id's failure (a malformed id) is its own inner error and fails
    /// none of the others; the outer error is a failure of the whole batch
    /// (throttled, unreachable), which a caller may retry as a whole. The
    /// default describes the ids one by one, [`BATCH_CONCURRENCY`](provider::batch::BATCH_CONCURRENCY) at a
    /// time; providers override it with one request per batch where the
    /// cloud allows it (EC2's `DescribeInstances` takes 1,000 ids).
    async fn describe_instances(
        &self,
        instance_ids: &[&str],
    ) -> Result<Vec<Result<InstanceStatus>>> {
        let calls = instance_ids.iter().map(|id| self.describe_instance(id));
        Ok(provider::batch::each(calls.collect()).await)
    }

    /// Terminates several instances: one result per id, in the order given,
    /// each what [`terminate_instance`](Self::terminate_instance) would
    /// give (an unknown well-formed id succeeds). Errors as in
    /// [`describe_instances`](Self::describe_instances); the default
    /// terminates the ids one by one, [`BATCH_CONCURRENCY`](provider::batch::BATCH_CONCURRENCY) at a time.
    async fn terminate_instances(&self, instance_ids: &[&str]) -> Result<Vec<Result<()>>> {
        let calls = instance_ids.iter().map(|id| self.terminate_instance(id));
        Ok(provider::batch::each(calls.collect()).await)
    }

    /// The resources launches created beside their instances that no
    /// instance holds any more and that carry an
    /// [ownership marker](ownership) (any owner's: the caller decides whose
    /// they are, as [`Sweep`](sweep::Sweep) does), such as an EC2 volume
    /// kept after its instance. Never a resource without a marker: what a
    /// caller brought or made by hand is not listed. The default lists
    /// none, for a provider whose cloud deletes everything with its
    /// instance.
    async fn list_orphans(&self) -> Result<Vec<Orphan>> {
        Ok(Vec::new())
    }

    /// Deletes one orphan [`list_orphans`](Self::list_orphans) returned.
    /// Deleting one that is already gone succeeds; one that an instance
    /// holds again is [`Error::InvalidState`] and is kept. The default,
    /// for a provider that lists none, refuses every orphan as
    /// [`Error::InvalidArgument`] naming `orphan`.
    async fn delete_orphan(&self, orphan: &Orphan) -> Result<()> {
        Err(Error::invalid_argument(
            "orphan",
            format!("{} lists no orphans: {} is not one", self.name(), orphan.id),
        ))
    }

    /// A short name of the implementation (`"ec2"`, `"gcp"`, `"azure"`,
    /// `"fake"`), for errors, logs and layers that label calls.
    fn name(&self) -> &'static str {
        "provisioner"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_object_safe(_: &std::sync::Arc<dyn InstanceProvisioner>) {}

    #[test]
    fn trait_is_usable_as_a_shared_object() {
        let _ = assert_object_safe;
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn InstanceProvisioner>();
    }
}
