//! EC2's shapes to and from the core's: an `Instance` as `InstanceInfo` or
//! `InstanceStatus`, tags both ways.

use std::net::IpAddr;

use aws_sdk_ec2::types::{Instance, Tag};
use provisioner_core::{CloudInstanceState, InstanceInfo, InstanceStatus, Tags, OWNER_TAG};
use time::OffsetDateTime;

use crate::states;

/// The caller's tags of an instance: all but the ownership marker.
pub(crate) fn tags_of(instance: &Instance) -> Tags {
    instance
        .tags()
        .iter()
        .filter(|t| t.key() != Some(OWNER_TAG))
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// An EC2 time as a wall-clock time.
pub(crate) fn wall_time(t: &aws_sdk_ec2::primitives::DateTime) -> Option<OffsetDateTime> {
    let nanos = i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The owner in an instance's ownership marker, if it carries one (EC2 tag
/// keys are case-sensitive).
pub(crate) fn owner_of(instance: &Instance) -> Option<String> {
    marker_in(instance.tags())
}

/// The owner in the ownership marker among `tags` (an instance's, a
/// volume's), if they carry one (EC2 tag keys are case-sensitive).
pub(crate) fn marker_in(tags: &[Tag]) -> Option<String> {
    let marker = tags.iter().find(|t| t.key() == Some(OWNER_TAG))?;
    marker.value().map(str::to_owned)
}

pub(crate) fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn ip(text: Option<&str>) -> Option<IpAddr> {
    text.and_then(|t| t.parse().ok())
}

fn state_of(instance: &Instance) -> (CloudInstanceState, Option<String>) {
    match instance.state().and_then(|s| s.name()) {
        Some(name) => states::from_ec2(name),
        None => (
            CloudInstanceState::Pending,
            Some("EC2 sent no state".to_owned()),
        ),
    }
}

pub(crate) fn info_of(instance: &Instance) -> InstanceInfo {
    InstanceInfo::new(
        instance.instance_id().unwrap_or_default(),
        state_of(instance).0,
    )
    .with_addresses(
        ip(instance.private_ip_address()),
        ip(instance.public_ip_address()),
    )
    .with_launch_time(instance.launch_time().and_then(wall_time))
    .with_tags(tags_of(instance))
    .with_reclaimed(reclaimed(instance))
    .with_owner(owner_of(instance))
}

pub(crate) fn status_of(instance: &Instance) -> InstanceStatus {
    let (state, unknown) = state_of(instance);
    let id = instance.instance_id().unwrap_or_default();
    let reason = instance.state_reason();
    if state == CloudInstanceState::Terminated {
        let failure =
            reason.and_then(|r| states::launch_failure(r.code()?, r.message().unwrap_or_default()));
        if let Some(failure) = failure {
            return InstanceStatus::failed_launch(id, failure).with_owner(owner_of(instance));
        }
    }
    let reason = reason
        .and_then(|r| r.message().or(r.code()))
        .map(str::to_owned)
        .or_else(|| {
            instance
                .state_transition_reason()
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        });
    InstanceStatus::new(id, state)
        .with_state_reason(unknown.or(reason))
        .with_addresses(
            ip(instance.private_ip_address()),
            ip(instance.public_ip_address()),
        )
        .with_reclaimed(reclaimed(instance))
        .with_owner(owner_of(instance))
}

/// True when EC2 says it reclaimed the (spot) instance.
fn reclaimed(instance: &Instance) -> bool {
    crate::spot::is_reclaim(instance.state_reason().and_then(|r| r.code()))
}
