//! What the model hands out: snapshots of instances (`InstanceRecord`),
//! reclaims, creations and list pages, and their core shapes.

use super::*;

/// A snapshot of one instance, as the model sees it at the time of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// The instance id (generated, or the name of a named launch).
    pub id: Arc<str>,
    /// The config it was launched with (user data included: faces that echo
    /// it must take care never to log it).
    pub config: Arc<InstanceConfig>,
    /// Wire attributes a face stored at launch and echoes back (Compute
    /// Engine metadata items, for example); the model does not read them.
    pub attributes: Arc<Attributes>,
    /// The state now.
    pub state: CloudInstanceState,
    /// The state before the call that returned this record (the same as
    /// `state` for reads), as EC2's state-change responses report it.
    pub previous_state: CloudInstanceState,
    /// Why it is in this state, when a user action put it there.
    pub state_reason: Option<&'static str>,
    /// The private address, when one is assigned.
    pub private_ip: Option<Ipv4Addr>,
    /// The public address, when one is assigned.
    pub public_ip: Option<Ipv4Addr>,
    /// When it was launched, on the model's wall clock.
    pub launch_time: OffsetDateTime,
    /// When it was last started (its launch, or the last start after a
    /// stop), on the model's wall clock.
    pub last_start: OffsetDateTime,
    /// The order of creation: a cursor for paging.
    pub seq: u64,
    /// Why the cloud failed this launch after accepting it; set once the
    /// failure happened (the state is then `Terminated`).
    pub failure: Option<LaunchFailureKind>,
    /// The cloud reclaimed this spot instance ([`FakeCloud::reclaim`]).
    pub reclaimed: bool,
    /// How many starts of a stopped instance the cloud accepted: the number
    /// of the latest start (0: never started again since its launch).
    pub starts: u32,
    /// Why the latest start failed after the cloud accepted it; set once it
    /// failed (the state is then `Stopped` again).
    pub start_failure: Option<LaunchFailureKind>,
}

impl InstanceRecord {
    /// As the core's [`InstanceInfo`].
    /// The ownership marker, if the launch wrote one, is reported as
    /// [`InstanceInfo::owner`], not among the tags.
    pub fn to_info(&self) -> InstanceInfo {
        let mut tags = self.config.tags.clone();
        let owner = ownership::take_marker(&mut tags);
        InstanceInfo::new(self.id.to_string(), self.state)
            .with_addresses(
                self.private_ip.map(IpAddr::V4),
                self.public_ip.map(IpAddr::V4),
            )
            .with_launch_time(self.launch_time)
            .with_tags(tags)
            .with_reclaimed(self.reclaimed)
            .with_owner(owner)
    }

    /// As the core's [`InstanceStatus`]; a failed launch carries the model's
    /// own failure codes (`InsufficientCapacity`, `QuotaExceeded`).
    pub fn to_status(&self) -> InstanceStatus {
        status(
            &self.id,
            Seen {
                state: self.state,
                failure: self.failure,
                reason: self.state_reason,
                reclaimed: self.reclaimed,
                start_failure: self.start_failure,
            },
            self.private_ip,
            self.public_ip,
            owner_of(&self.config),
        )
    }
}

/// The owner in a launch's ownership marker.
pub(super) fn owner_of(config: &InstanceConfig) -> Option<String> {
    config.tags.get(OWNER_TAG).cloned()
}

/// What a read sees of an instance's state at one time.
#[derive(Clone, Copy)]
pub(super) struct Seen {
    pub(super) state: CloudInstanceState,
    /// Set once a launch failed after acceptance (then terminated).
    pub(super) failure: Option<LaunchFailureKind>,
    pub(super) reason: Option<&'static str>,
    pub(super) reclaimed: bool,
    /// Set once the latest start failed after acceptance (then stopped).
    pub(super) start_failure: Option<LaunchFailureKind>,
}

/// The core's status of instance `id` as `seen`.
pub(super) fn status(
    id: &str,
    seen: Seen,
    private_ip: Option<Ipv4Addr>,
    public_ip: Option<Ipv4Addr>,
    owner: Option<String>,
) -> InstanceStatus {
    if let Some(kind) = seen.failure {
        return InstanceStatus::failed_launch(id, launch_failure(kind)).with_owner(owner);
    }
    let status = InstanceStatus::new(id, seen.state)
        .with_state_reason(seen.reason.map(str::to_owned))
        .with_addresses(private_ip.map(IpAddr::V4), public_ip.map(IpAddr::V4))
        .with_reclaimed(seen.reclaimed)
        .with_owner(owner);
    match seen.start_failure {
        Some(kind) => status.with_failed_start(launch_failure(kind)),
        None => status,
    }
}

/// A launch failure with the model's own code and message.
pub(crate) fn launch_failure(kind: LaunchFailureKind) -> LaunchFailure {
    let (code, message) = match kind {
        LaunchFailureKind::InsufficientCapacity => (
            "InsufficientCapacity",
            "no capacity for this instance type here",
        ),
        LaunchFailureKind::QuotaExceeded => ("QuotaExceeded", "an account quota is reached"),
        _ => ("LaunchFailed", "the launch failed"),
    };
    LaunchFailure::new(kind, code, message)
}

/// A reclaim the cloud did ([`FakeCloud::reclaim`]), kept an hour: what a
/// face reports as the cloud's own record of it (a Compute Engine
/// `compute.instances.preempted` operation, an Azure activity-log
/// eviction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaim {
    /// The instance reclaimed.
    pub id: Arc<str>,
    /// Its wire attributes: a face reports a reclaim in its own terms
    /// (Azure's activity log names the VM's subscription and group) after
    /// the instance is gone.
    pub attributes: Arc<Attributes>,
    /// When, on the model's wall clock.
    pub at: OffsetDateTime,
    /// What the reclaim did to it: stopped or terminated it.
    pub on_reclaim: OnReclaim,
    /// A number unique to this reclaim, increasing: a stable name and
    /// paging cursor for the record a face shows.
    pub seq: u64,
}

/// One instance the cloud created, as [`FakeCloud::creations`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// Its id.
    pub id: String,
    /// Its tags at creation.
    pub tags: provisioner_core::Tags,
    /// It was a launch planned to fail after acceptance: it never ran.
    pub fails_after_acceptance: bool,
}

/// Wire attributes of an instance that only its face interprets.
pub type Attributes = BTreeMap<String, String>;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The matching instances, in creation order.
    pub items: Vec<InstanceRecord>,
    /// Where the next page starts (pass it as `after`), or `None` when this
    /// was the last. A next page is never empty.
    pub next: Option<u64>,
}
