//! EBS volumes: the root volume each instance is launched with, as
//! DescribeVolumes, DeleteVolume and DescribeInstances' `blockDeviceMapping`
//! show it.
//!
//! A volume launched with an instance is `in-use` while the instance lives.
//! When the instance terminates (TerminateInstances, a launch that failed
//! after acceptance, a spot reclaim), EC2 deletes the volume if its
//! `DeleteOnTermination` is true and otherwise keeps it `available`, billed,
//! until someone deletes it (EC2 User Guide, "Preserve data when an instance
//! is terminated"). The attribute comes from the launch's block device
//! mapping for the root device, else from the image's own mapping: "the
//! DeleteOnTermination attribute can be set by the creator of an AMI as well
//! as by the person who launches an instance" (same page). Every image here
//! deletes its root on termination but those registered with
//! [`EmulatorBuilder::ec2_image_keeping_root`](crate::EmulatorBuilder::ec2_image_keeping_root).
//!
//! The model holds instances only; this table holds what a volume has of
//! its own (size, tags, the attribute) and reads its instance's state from
//! the model, so a volume follows its instance whatever ended it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use provisioner_fake::FakeCloud;
use time::OffsetDateTime;

use super::checks::check_hex_id;
use super::filters::{any, Pattern};
use super::*;

/// The attribute of an instance record saying whether its root volume is
/// deleted on termination (`true` or `false`).
pub(super) const ROOT_DELETE: &str = "root.deleteOnTermination";

/// The size of every image's root snapshot.
pub(super) const IMAGE_ROOT_GB: u32 = 8;

/// The volumes of the EC2 face, and the images that keep their root.
#[derive(Debug, Default)]
pub(crate) struct Volumes {
    table: Mutex<BTreeMap<String, Volume>>,
    keeping_root: HashSet<String>,
}

#[derive(Debug, Clone)]
struct Volume {
    id: String,
    instance: String,
    size_gb: u32,
    delete_on_termination: bool,
    tags: Tags,
    created: OffsetDateTime,
    zone: String,
}

/// Where a volume is, read from its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Attached to a live (or stopped) instance.
    InUse,
    /// On its own: its instance terminated and did not delete it.
    Available,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Self::InUse => "in-use",
            Self::Available => "available",
        }
    }
}

/// How often (in launches) the table forgets the volumes that are gone.
const PRUNE_EVERY: usize = 1024;

impl Volume {
    /// Where the volume is, or `None` once its instance's termination
    /// deleted it.
    fn status(&self, cloud: &FakeCloud) -> Option<Status> {
        match (cloud.holds_live(&self.instance), self.delete_on_termination) {
            (true, _) => Some(Status::InUse),
            (false, false) => Some(Status::Available),
            (false, true) => None,
        }
    }
}

/// The volume id of an instance's root volume: its instance's digits.
pub(super) fn root_volume_id(instance: &str) -> String {
    format!("vol-{}", instance.trim_start_matches("i-"))
}

impl Volumes {
    /// Volumes whose images (`ami-` ids) keep their root volume on
    /// termination.
    pub(crate) fn keeping_root(images: impl IntoIterator<Item = String>) -> Self {
        Self {
            keeping_root: images.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Whether `image`'s own block device mapping deletes its root volume
    /// on termination.
    pub(super) fn image_deletes_root(&self, image: &str) -> bool {
        !self.keeping_root.contains(image)
    }

    /// Records the root volume of a launched instance, once (a retried
    /// RunInstances returns the same instance and its volume).
    pub(super) fn launched(&self, cloud: &FakeCloud, r: &InstanceRecord, tags: &Tags) {
        let id = root_volume_id(&r.id);
        let mut table = lock(&self.table);
        // The volumes deleted with their instances are forgotten now and
        // then, so that the table stays the size of what exists.
        if table.len() % PRUNE_EVERY == PRUNE_EVERY - 1 {
            table.retain(|_, v| v.status(cloud).is_some());
        }
        table.entry(id.clone()).or_insert_with(|| Volume {
            id,
            instance: r.id.to_string(),
            size_gb: r.config.disk_size_gb.unwrap_or(IMAGE_ROOT_GB),
            delete_on_termination: deletes_root(r),
            tags: tags.clone(),
            created: r.launch_time,
            zone: r.config.placement.zone.clone().unwrap_or(ZONE.to_owned()),
        });
    }

    /// Every volume that exists now with its status, in id order; the
    /// volumes their instance's termination deleted are forgotten.
    fn settled(&self, cloud: &FakeCloud) -> Vec<(Volume, Status)> {
        let mut table = lock(&self.table);
        let mut out = Vec::with_capacity(table.len());
        table.retain(|_, v| match v.status(cloud) {
            Some(status) => {
                out.push((v.clone(), status));
                true
            }
            None => false,
        });
        out
    }

    /// How many volumes no instance holds.
    pub(crate) fn unattached(&self, cloud: &FakeCloud) -> usize {
        self.settled(cloud)
            .iter()
            .filter(|(_, s)| *s == Status::Available)
            .count()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `r`'s root volume is deleted on termination.
pub(super) fn deletes_root(r: &InstanceRecord) -> bool {
    r.attributes.get(ROOT_DELETE).map(String::as_str) != Some("false")
}

/// The root `DeleteOnTermination` a RunInstances asks for: its mapping of
/// the root device, else the image's.
pub(super) fn root_delete_asked(
    volumes: &Volumes,
    image: &str,
    params: &Params,
) -> Result<bool, WireError> {
    for mapping in params.members("BlockDeviceMapping") {
        if mapping.get("DeviceName") != Some(ROOT_DEVICE) {
            continue;
        }
        if let Some(value) = mapping.get("Ebs.DeleteOnTermination") {
            return match value {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(invalid(format!(
                    "Value ({other}) for parameter deleteOnTermination is invalid"
                ))),
            };
        }
    }
    Ok(volumes.image_deletes_root(image))
}

/// An instance's `blockDeviceMapping` while it lives: its root volume,
/// attached. A terminated instance shows none.
pub(super) fn block_device_mapping(x: &mut Xml, r: &InstanceRecord) {
    if r.state == CloudInstanceState::Terminated {
        x.elem("blockDeviceMapping", |_| {});
        return;
    }
    x.items("blockDeviceMapping", [r], |x, r| {
        x.leaf("deviceName", ROOT_DEVICE);
        x.elem("ebs", |x| {
            x.leaf("volumeId", root_volume_id(&r.id));
            x.leaf("status", "attached");
            x.leaf(
                "attachTime",
                r.launch_time.format(&Rfc3339).unwrap_or_default(),
            );
            x.leaf("deleteOnTermination", deletes_root(r));
        });
    });
}

fn check_volume_id(id: &str) -> Result<(), WireError> {
    check_hex_id(id, "vol-", &[8, 17], "InvalidVolumeID.Malformed")
}

fn not_found(id: &str) -> WireError {
    WireError::bad_request(
        "InvalidVolume.NotFound",
        format!("The volume '{id}' does not exist."),
    )
}

/// One DescribeVolumes filter, checked per volume.
enum VolumeFilter {
    Tag(String, Vec<Pattern>),
    TagKey(Vec<Pattern>),
    Status(Vec<Pattern>),
    VolumeId(Vec<Pattern>),
    Instance(Vec<Pattern>),
    DeleteOnTermination(Vec<Pattern>),
}

impl VolumeFilter {
    fn parse(params: &Params) -> Result<Vec<Self>, WireError> {
        let mut out = Vec::new();
        for f in params.members("Filter") {
            let name = f.get("Name").unwrap_or_default();
            let values: Vec<Pattern> = f.strings("Value").iter().map(|v| Pattern::new(v)).collect();
            out.push(match name {
                _ if name.starts_with("tag:") => Self::Tag(name[4..].to_owned(), values),
                "tag-key" => Self::TagKey(values),
                "status" => Self::Status(values),
                "volume-id" => Self::VolumeId(values),
                "attachment.instance-id" => Self::Instance(values),
                "attachment.delete-on-termination" => Self::DeleteOnTermination(values),
                other => return Err(invalid(format!("The filter '{other}' is invalid"))),
            });
        }
        Ok(out)
    }

    fn admits(&self, v: &Volume, status: Status) -> bool {
        let attached = status == Status::InUse;
        match self {
            Self::Tag(key, values) => v.tags.get(key).is_some_and(|t| any(values, t)),
            Self::TagKey(keys) => v.tags.keys().any(|k| any(keys, k)),
            Self::Status(values) => any(values, status.name()),
            Self::VolumeId(ids) => any(ids, &v.id),
            Self::Instance(ids) => attached && any(ids, &v.instance),
            Self::DeleteOnTermination(values) => {
                attached && any(values, &v.delete_on_termination.to_string())
            }
        }
    }
}

/// DescribeVolumes: the volumes named (`VolumeId.N`; an unknown one is
/// `InvalidVolume.NotFound`), or every volume, under `Filter.N`, in pages
/// of `MaxResults` (5 to 500) when asked.
pub(super) fn describe_volumes(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let (ids, max_results) = ids_or_page_of(params, ("VolumeId", "volumeSet"), 500)?;
    for id in &ids {
        check_volume_id(id)?;
    }
    let filters = VolumeFilter::parse(params)?;
    let all = state.ec2_volumes.settled(&state.cloud);
    if let Some(missing) = ids.iter().find(|id| !all.iter().any(|(v, _)| &v.id == *id)) {
        return Err(not_found(missing));
    }
    let after = params.get("NextToken").map(parse_token).transpose()?;
    let mut chosen: Vec<&(Volume, Status)> = all
        .iter()
        .filter(|(v, _)| ids.is_empty() || ids.contains(&v.id))
        .filter(|(v, s)| filters.iter().all(|f| f.admits(v, *s)))
        .filter(|(v, _)| after.is_none_or(|a| volume_number(&v.id) > a))
        .collect();
    let mut next = None;
    if let Some(limit) = max_results {
        if chosen.len() > limit {
            chosen.truncate(limit);
            next = chosen.last().map(|(v, _)| volume_number(&v.id));
        }
    }
    Ok(Xml::response("DescribeVolumesResponse", request_id, |x| {
        x.items("volumeSet", chosen, |x, (v, status)| volume(x, v, *status));
        if let Some(next) = next {
            x.leaf("nextToken", format!("page-{next:x}"));
        }
    }))
}

/// A volume id's digits as a number, for page tokens (ids sort as their
/// digits: every id here has the same length).
fn volume_number(id: &str) -> u64 {
    u64::from_str_radix(id.trim_start_matches("vol-"), 16).unwrap_or(0)
}

fn volume(x: &mut Xml, v: &Volume, status: Status) {
    x.leaf("volumeId", &v.id);
    x.leaf("size", v.size_gb);
    x.leaf("snapshotId", "");
    x.leaf("availabilityZone", &v.zone);
    x.leaf("status", status.name());
    let created = v.created.format(&Rfc3339).unwrap_or_default();
    x.leaf("createTime", &created);
    let attachments: &[&Volume] = match status {
        Status::InUse => &[v],
        Status::Available => &[],
    };
    x.items("attachmentSet", attachments, |x, v| {
        x.leaf("volumeId", &v.id);
        x.leaf("instanceId", &v.instance);
        x.leaf("device", ROOT_DEVICE);
        x.leaf("status", "attached");
        x.leaf("attachTime", &created);
        x.leaf("deleteOnTermination", v.delete_on_termination);
    });
    x.items("tagSet", &v.tags, |x, (k, val)| {
        x.leaf("key", k);
        x.leaf("value", val);
    });
    x.leaf("volumeType", "gp3");
    x.leaf("iops", 3000);
    x.leaf("throughput", 125);
    x.leaf("encrypted", false);
    x.leaf("multiAttachEnabled", false);
}

/// DeleteVolume: an `available` volume goes; one attached is refused with
/// `VolumeInUse`, as EC2 refuses it.
pub(super) fn delete_volume(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let id = required(params, "VolumeId")?.to_owned();
    check_volume_id(&id)?;
    // Looked up and removed under one lock: one volume, not a settle of all.
    let mut table = lock(&state.ec2_volumes.table);
    let volume = table.get(&id).ok_or_else(|| not_found(&id))?;
    match volume.status(&state.cloud) {
        None => return Err(not_found(&id)),
        Some(Status::InUse) => {
            return Err(WireError::bad_request(
                "VolumeInUse",
                format!("Volume {id} is currently attached to {}", volume.instance),
            ))
        }
        Some(Status::Available) => {}
    }
    table.remove(&id);
    drop(table);
    Ok(Xml::response("DeleteVolumeResponse", request_id, |x| {
        x.leaf("return", true);
    }))
}
