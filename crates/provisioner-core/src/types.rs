//! The plain data that crosses the [`InstanceProvisioner`](crate::InstanceProvisioner) trait.

use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;

use crate::{Capacity, CloudInstanceState, Placement, Tags};

/// Cloud-init or startup-script content handed to a new instance.
///
/// User data routinely carries secrets (bootstrap tokens, keys), so this type
/// never shows its bytes: its `Debug` prints only the length and it has no
/// `Display`.
#[derive(Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct UserData(Vec<u8>);

impl UserData {
    /// Wraps raw user data.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw bytes, to hand to the cloud API.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for UserData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserData(<{} bytes>)", self.0.len())
    }
}

impl From<&str> for UserData {
    fn from(value: &str) -> Self {
        Self(value.as_bytes().to_vec())
    }
}

impl From<String> for UserData {
    fn from(value: String) -> Self {
        Self(value.into_bytes())
    }
}

impl From<Vec<u8>> for UserData {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

/// How to launch one instance.
///
/// Only provider-neutral settings live here. Provider-specific settings
/// (subnets, security groups, key pairs, roles, …) are given to each
/// provisioner's constructor.
///
/// Built with [`new`](Self::new) and the `with_` methods; the fields are
/// public to read and change, and the struct is `#[non_exhaustive]` so that
/// a setting can be added without breaking callers.
#[derive(Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct InstanceConfig {
    /// The machine image: an AMI id on EC2, an image URL or family on
    /// Compute Engine, an image resource id or marketplace URN on Azure.
    pub image: String,
    /// The provider's instance size, such as `m5.xlarge` or `n2-standard-4`.
    pub instance_type: String,
    /// Cloud-init or startup-script content; optional. Never printed.
    pub user_data: Option<UserData>,
    /// Tags applied to the instance, used for fleet discovery and crash
    /// recovery (see [`InstanceFilter`]).
    pub tags: Tags,
    /// The root volume size in GB; `None` keeps the image's own size.
    pub disk_size_gb: Option<u32>,
    /// A caller-chosen key that makes the launch idempotent: two launches
    /// with the same key create one instance and both return it. `None`
    /// makes every launch create a new instance.
    pub idempotency_key: Option<String>,
    /// On-demand (the default) or spot. A provider that cannot launch what
    /// is asked refuses it as [`InvalidArgument`](crate::Error::InvalidArgument)
    /// naming `capacity`, before any call.
    #[cfg_attr(feature = "serde", serde(default))]
    pub capacity: Capacity,
    /// Where this launch goes, overriding the provisioner's own zone or
    /// subnet; empty by default. Refused as `placement` where the provider
    /// cannot place one launch.
    #[cfg_attr(feature = "serde", serde(default))]
    pub placement: Placement,
}

impl InstanceConfig {
    /// A config with the given image and instance type and nothing else.
    pub fn new(image: impl Into<String>, instance_type: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            instance_type: instance_type.into(),
            ..Self::default()
        }
    }

    /// Adds (or replaces) one tag.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Sets the user data.
    pub fn with_user_data(mut self, user_data: impl Into<UserData>) -> Self {
        self.user_data = Some(user_data.into());
        self
    }

    /// Sets the root volume size in GB.
    pub fn with_disk_size_gb(mut self, gb: u32) -> Self {
        self.disk_size_gb = Some(gb);
        self
    }

    /// Sets the idempotency key.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets the capacity (on-demand or spot).
    pub fn with_capacity(mut self, capacity: Capacity) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets where this launch goes.
    pub fn with_placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }
}

impl fmt::Debug for InstanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceConfig")
            .field("image", &self.image)
            .field("instance_type", &self.instance_type)
            // `UserData`'s own Debug prints only its length.
            .field("user_data", &self.user_data)
            .field("tags", &self.tags)
            .field("disk_size_gb", &self.disk_size_gb)
            .field("idempotency_key", &self.idempotency_key)
            .field("capacity", &self.capacity)
            .field("placement", &self.placement)
            .finish()
    }
}

/// Which instances [`list_instances`](crate::InstanceProvisioner::list_instances) returns.
///
/// Built with [`tagged`](Self::tagged) (or `default()`, every instance) and
/// [`in_states`](Self::in_states); `#[non_exhaustive]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct InstanceFilter {
    /// Instances must carry every one of these tags with exactly this value
    /// (they may carry more). Empty matches every instance.
    pub tags: Tags,
    /// Instances must be in one of these states. Empty means every state
    /// but [`Terminated`](CloudInstanceState::Terminated).
    pub states: Vec<CloudInstanceState>,
}

impl InstanceFilter {
    /// A filter on tags alone (every state but terminated).
    pub fn tagged<K, V>(tags: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            tags: tags.into_iter().collect(),
            states: Vec::new(),
        }
    }

    /// Restricts the filter to these states.
    pub fn in_states(mut self, states: impl IntoIterator<Item = CloudInstanceState>) -> Self {
        self.states = states.into_iter().collect();
        self
    }

    /// True when an instance in `state` passes the states part of the filter.
    pub fn admits_state(&self, state: CloudInstanceState) -> bool {
        if self.states.is_empty() {
            state != CloudInstanceState::Terminated
        } else {
            self.states.contains(&state)
        }
    }

    /// True when `tags` include every tag of the filter with the same value.
    pub fn admits_tags(&self, tags: &Tags) -> bool {
        self.tags
            .iter()
            .all(|(key, value)| tags.get(key) == Some(value))
    }

    /// True when an instance with these tags and this state passes the filter.
    pub fn matches(&self, tags: &Tags, state: CloudInstanceState) -> bool {
        self.admits_state(state) && self.admits_tags(tags)
    }
}

/// An instance as returned by launch, start and list.
///
/// Providers build it with [`new`](Self::new) and the `with_` methods
/// (`#[non_exhaustive]`: a field can be added without breaking anyone).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct InstanceInfo {
    /// The provider's identifier of the instance.
    pub instance_id: String,
    /// The private (network-internal) address, when one is assigned.
    pub private_ip: Option<IpAddr>,
    /// The public address, when one is assigned.
    pub public_ip: Option<IpAddr>,
    /// The state at the time of the call.
    pub state: CloudInstanceState,
    /// When the instance was launched; `None` when the provider has not
    /// said yet (for example in a launch response).
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub launch_time: Option<OffsetDateTime>,
    /// The instance's tags.
    pub tags: Tags,
    /// True when the cloud reclaimed this spot instance (the state is then
    /// `Terminated` or `Stopped`, as the launch asked): EC2's
    /// `Server.SpotInstanceTermination`, a Compute Engine preemption, an
    /// Azure eviction.
    #[cfg_attr(feature = "serde", serde(default))]
    pub reclaimed: bool,
    /// The [`OwnerId`](crate::OwnerId) in the instance's ownership marker
    /// ([`OWNER_TAG`](crate::OWNER_TAG)): the provisioner that launched it.
    /// `None` for an instance without a marker (launched by hand, by another
    /// tool, or by a provider that does not mark yet).
    #[cfg_attr(feature = "serde", serde(default))]
    pub owner: Option<String>,
}

impl InstanceInfo {
    /// An instance with this id in `state`, and nothing else known yet: no
    /// addresses, launch time, tags or owner, not reclaimed. The `with_`
    /// methods fill the rest.
    pub fn new(instance_id: impl Into<String>, state: CloudInstanceState) -> Self {
        Self {
            instance_id: instance_id.into(),
            private_ip: None,
            public_ip: None,
            state,
            launch_time: None,
            tags: Tags::new(),
            reclaimed: false,
            owner: None,
        }
    }

    /// Sets the private and the public address (each may be `None`).
    pub fn with_addresses(mut self, private_ip: Option<IpAddr>, public_ip: Option<IpAddr>) -> Self {
        self.private_ip = private_ip;
        self.public_ip = public_ip;
        self
    }

    /// Sets when the instance was launched.
    pub fn with_launch_time(mut self, launch_time: impl Into<Option<OffsetDateTime>>) -> Self {
        self.launch_time = launch_time.into();
        self
    }

    /// Sets the instance's tags.
    pub fn with_tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// Sets whether the cloud reclaimed this spot instance.
    pub fn with_reclaimed(mut self, reclaimed: bool) -> Self {
        self.reclaimed = reclaimed;
        self
    }

    /// Sets the owner read from the instance's ownership marker.
    pub fn with_owner(mut self, owner: impl Into<Option<String>>) -> Self {
        self.owner = owner.into();
        self
    }
}

/// The provider's current view of one instance, as returned by describe.
///
/// Providers build it with [`new`](Self::new), [`gone`](Self::gone) or
/// [`failed_launch`](Self::failed_launch) and the `with_` methods
/// (`#[non_exhaustive]`: a field can be added without breaking anyone).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct InstanceStatus {
    /// The provider's identifier of the instance.
    pub instance_id: String,
    /// The current state.
    pub state: CloudInstanceState,
    /// Why the instance is in this state, when the provider says (for example
    /// `Client.UserInitiatedShutdown`, or a native state this library does
    /// not know yet).
    pub state_reason: Option<String>,
    /// The private address, when one is assigned.
    pub private_ip: Option<IpAddr>,
    /// The public address, when one is assigned.
    pub public_ip: Option<IpAddr>,
    /// Set when the cloud accepted the launch and then failed it (no
    /// capacity, a quota reached after acceptance): the state is then
    /// `Terminated` and the instance never ran.
    pub launch_failure: Option<LaunchFailure>,
    /// True when the cloud reclaimed this spot instance (see
    /// [`InstanceInfo::reclaimed`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub reclaimed: bool,
    /// The owner in the instance's ownership marker, when the provider read
    /// it (see [`InstanceInfo::owner`]); `None` for an instance that is gone.
    #[cfg_attr(feature = "serde", serde(default))]
    pub owner: Option<String>,
    /// Set when the cloud accepted the last start and then failed it (no
    /// capacity to place it, Compute Engine's start operation or Azure's
    /// long-running start): the state is then `Stopped` and the instance
    /// kept, with its storage, to be started again later.
    #[cfg_attr(feature = "serde", serde(default))]
    pub start_failure: Option<LaunchFailure>,
}

/// What kind of failure ended a launch after the cloud had accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LaunchFailureKind {
    /// No capacity for this type in this place (EC2
    /// `Server.InsufficientInstanceCapacity`, Compute Engine
    /// `ZONE_RESOURCE_POOL_EXHAUSTED`, Azure `AllocationFailed`).
    InsufficientCapacity,
    /// An account quota (Compute Engine `QUOTA_EXCEEDED`, EC2
    /// `Client.VolumeLimitExceeded`).
    QuotaExceeded,
    /// Any other failure the cloud reported for the launch.
    Other,
}

/// A launch the cloud accepted and then failed, with the cloud's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct LaunchFailure {
    /// The class of the failure.
    pub kind: LaunchFailureKind,
    /// The cloud's code, such as `ZONE_RESOURCE_POOL_EXHAUSTED`.
    pub code: String,
    /// The cloud's message.
    pub message: String,
}

impl LaunchFailure {
    /// A failure of `kind` with the cloud's `code` and `message`.
    pub fn new(
        kind: LaunchFailureKind,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    /// The error a caller waiting for this instance gets:
    /// [`InsufficientCapacity`](crate::Error::InsufficientCapacity),
    /// [`QuotaExceeded`](crate::Error::QuotaExceeded), or
    /// [`Provider`](crate::Error::Provider) for other failures.
    pub fn to_error(&self, provider: &'static str) -> crate::Error {
        self.to_error_of(provider, crate::Operation::Launch)
    }

    /// [`to_error`](Self::to_error) for a failure of `operation` (a start
    /// the cloud accepted and could not place, say).
    pub fn to_error_of(&self, provider: &'static str, operation: crate::Operation) -> crate::Error {
        let class = match self.kind {
            LaunchFailureKind::InsufficientCapacity => {
                crate::provider::ErrorClass::InsufficientCapacity
            }
            LaunchFailureKind::QuotaExceeded => crate::provider::ErrorClass::QuotaExceeded,
            LaunchFailureKind::Other => crate::provider::ErrorClass::Other,
        };
        let mut failure =
            crate::provider::ProviderFailure::new(provider, &*self.code, &*self.message);
        failure.operation = Some(operation);
        class.into_error(failure)
    }
}

impl InstanceStatus {
    /// An instance with this id in `state`, and nothing else known: no
    /// reason, addresses, failure or owner, not reclaimed. The `with_`
    /// methods fill the rest.
    pub fn new(instance_id: impl Into<String>, state: CloudInstanceState) -> Self {
        Self {
            instance_id: instance_id.into(),
            state,
            state_reason: None,
            private_ip: None,
            public_ip: None,
            launch_failure: None,
            reclaimed: false,
            owner: None,
            start_failure: None,
        }
    }

    /// The status of an instance that no longer exists: terminated, with no
    /// addresses. Providers return this for a well-formed id they cannot find.
    pub fn gone(instance_id: impl Into<String>) -> Self {
        Self::new(instance_id, CloudInstanceState::Terminated)
            .with_state_reason("instance no longer exists".to_owned())
    }

    /// Sets why the instance is in its state (`None`: the provider did not
    /// say).
    pub fn with_state_reason(mut self, reason: impl Into<Option<String>>) -> Self {
        self.state_reason = reason.into();
        self
    }

    /// Sets the private and the public address (each may be `None`).
    pub fn with_addresses(mut self, private_ip: Option<IpAddr>, public_ip: Option<IpAddr>) -> Self {
        self.private_ip = private_ip;
        self.public_ip = public_ip;
        self
    }

    /// Sets whether the cloud reclaimed this spot instance.
    pub fn with_reclaimed(mut self, reclaimed: bool) -> Self {
        self.reclaimed = reclaimed;
        self
    }

    /// Sets the owner read from the instance's ownership marker.
    pub fn with_owner(mut self, owner: impl Into<Option<String>>) -> Self {
        self.owner = owner.into();
        self
    }

    /// The status of a launch the cloud accepted and then failed: terminated,
    /// with the cloud's code as the reason.
    pub fn failed_launch(instance_id: impl Into<String>, failure: LaunchFailure) -> Self {
        Self {
            state_reason: Some(format!(
                "launch failed: {}: {}",
                failure.code, failure.message
            )),
            launch_failure: Some(failure),
            ..Self::gone(instance_id)
        }
    }

    /// This status after a start the cloud accepted and then failed:
    /// `Stopped`, with the cloud's code as the reason and in
    /// [`start_failure`](Self::start_failure).
    pub fn with_failed_start(self, failure: LaunchFailure) -> Self {
        Self {
            state: CloudInstanceState::Stopped,
            state_reason: Some(format!(
                "start failed: {}: {}",
                failure.code, failure.message
            )),
            start_failure: Some(failure),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_user_data() {
        let config = InstanceConfig::new("ami-1", "t3.micro").with_user_data("TOKEN=hunter2");
        let printed = format!("{config:?} {:?}", config.user_data);
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<13 bytes>"), "{printed}");
    }

    #[test]
    fn empty_states_mean_everything_but_terminated() {
        let filter = InstanceFilter::default();
        for state in CloudInstanceState::ALL {
            assert_eq!(
                filter.admits_state(state),
                state != CloudInstanceState::Terminated
            );
        }
        let only = InstanceFilter::default().in_states([CloudInstanceState::Terminated]);
        assert!(only.admits_state(CloudInstanceState::Terminated));
        assert!(!only.admits_state(CloudInstanceState::Running));
    }

    #[test]
    fn tags_must_all_match_exactly() {
        let tags: Tags = [("fleet", "a"), ("ManagedBy", "me")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(InstanceFilter::tagged([("fleet", "a")]).admits_tags(&tags));
        assert!(InstanceFilter::tagged([("fleet", "a"), ("ManagedBy", "me")]).admits_tags(&tags));
        assert!(!InstanceFilter::tagged([("fleet", "A")]).admits_tags(&tags));
        assert!(!InstanceFilter::tagged([("other", "a")]).admits_tags(&tags));
        assert!(InstanceFilter::default().admits_tags(&tags));
    }
}

/// What kind of resource an [`Orphan`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum OrphanKind {
    /// A disk or volume (an EC2 volume, an Azure managed disk, a Compute
    /// Engine disk).
    Disk,
    /// A network interface.
    NetworkInterface,
    /// A public IP address.
    PublicAddress,
}

/// A resource a launch created beside its instance that no instance holds
/// any more, still billed: a volume whose instance is gone, a network
/// interface or address of a create that failed half way. Listed by
/// [`list_orphans`](crate::InstanceProvisioner::list_orphans) and deleted
/// by [`delete_orphan`](crate::InstanceProvisioner::delete_orphan), which
/// [`Sweep`](crate::sweep::Sweep) does for the orphans carrying its
/// owner's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Orphan {
    /// What it is.
    pub kind: OrphanKind,
    /// The provider's id of it (`vol-…`, a resource id).
    pub id: String,
    /// The [ownership marker](crate::ownership) it carries, if any.
    pub owner: Option<String>,
    /// When it was created, when the cloud says.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub created: Option<OffsetDateTime>,
}

impl Orphan {
    /// An orphan of `kind` with the provider's `id`, no marker and no
    /// creation time.
    pub fn new(kind: OrphanKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            owner: None,
            created: None,
        }
    }

    /// Sets the ownership marker it carries.
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets when it was created.
    pub fn with_created(mut self, created: OffsetDateTime) -> Self {
        self.created = Some(created);
        self
    }
}
