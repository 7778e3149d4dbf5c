//! Persistent disks: the boot disk each instance is inserted with, as
//! `disks.get`, `disks.list` and the instance's `disks[]` show it.
//!
//! A boot disk is named by `disks[0].initializeParams.diskName`, else after
//! its instance, and is used by the instance while it lives. When the
//! instance is deleted, Compute Engine deletes the disk if the instance
//! marked it `autoDelete` ("Specifies whether the disk will be auto-deleted
//! when the instance is deleted", the `AttachedDisk` schema of the discovery
//! document) and otherwise keeps it `READY` with no `users`, billed, until
//! someone deletes it. `autoDelete` is a plain boolean there with no
//! default: absent is false, so a request that leaves it out keeps its
//! disk. A disk name is unique in its zone: an insert whose boot disk would
//! take a kept disk's name is refused (`alreadyExists`). An insert that
//! fails after acceptance takes its disk with it. Disks are not deleted
//! through this face (no `disks.delete`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use provisioner_fake::FakeCloud;
use time::OffsetDateTime;

use super::*;

/// Attribute keys of an instance's boot disk.
pub(super) const DISK_NAME: &str = "disk.name";
pub(super) const AUTO_DELETE: &str = "disk.autoDelete";

/// The size of a boot disk whose insert named none: the image's.
const IMAGE_GB: u32 = 10;

/// The disks of the Compute Engine face, by resource path
/// (`projects/P/zones/Z/disks/NAME`).
#[derive(Debug, Default)]
pub(crate) struct Disks {
    table: Mutex<BTreeMap<String, Disk>>,
}

#[derive(Debug, Clone)]
struct Disk {
    path: String,
    /// The model's id of the instance it was inserted with.
    instance: String,
    size_gb: u32,
    auto_delete: bool,
    image: String,
    created: OffsetDateTime,
}

/// How often (in inserts) the table forgets the disks that are gone.
const PRUNE_EVERY: usize = 1024;

impl Disk {
    /// Whether the disk exists and, if so, whether its instance uses it:
    /// a disk goes with its instance when it was `autoDelete`, or when the
    /// insert failed after acceptance.
    fn state(&self, cloud: &FakeCloud) -> Option<bool> {
        if cloud.holds_live(&self.instance) {
            return Some(true);
        }
        let failed = cloud.vanished_launch_failure(&self.instance).is_some();
        (!self.auto_delete && !failed).then_some(false)
    }
}

/// The resource path of disk `name` in `zone`.
pub(super) fn disk_path(project: &str, zone: &str, name: &str) -> String {
    format!("projects/{project}/zones/{zone}/disks/{name}")
}

/// The boot disk's name and `autoDelete` an insert body asks for, as the
/// instance's attributes.
pub(super) fn boot_disk(body: &Value, instance: &str) -> Result<Attributes, GceError> {
    let name = string_at(body, "/disks/0/initializeParams/diskName").unwrap_or(instance);
    check_name("resource.disks[0].initializeParams.diskName", name)?;
    let auto_delete = match body.pointer("/disks/0/autoDelete") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(GceError::invalid(
                "Invalid value for field 'resource.disks[0].autoDelete'",
            ))
        }
    };
    Ok(Attributes::from([
        (DISK_NAME.to_owned(), name.to_owned()),
        (AUTO_DELETE.to_owned(), auto_delete.to_string()),
    ]))
}

/// The name of `r`'s boot disk.
pub(super) fn disk_name(r: &InstanceRecord) -> &str {
    r.attributes
        .get(DISK_NAME)
        .map_or_else(|| last_segment(&r.id), String::as_str)
}

/// Whether `r`'s boot disk goes with it.
pub(super) fn auto_deleted(r: &InstanceRecord) -> bool {
    r.attributes.get(AUTO_DELETE).map(String::as_str) == Some("true")
}

impl Disks {
    /// Refuses an insert whose boot disk would take the name of a disk
    /// that exists.
    pub(super) fn check_free(&self, cloud: &FakeCloud, path: &str) -> Result<(), GceError> {
        if self.find(cloud, path).is_some() {
            return Err(GceError::new(
                StatusCode::CONFLICT,
                "alreadyExists",
                format!("The resource '{path}' already exists"),
            ));
        }
        Ok(())
    }

    /// The disk at `path`, if it exists, with whether its instance uses it.
    fn find(&self, cloud: &FakeCloud, path: &str) -> Option<(Disk, bool)> {
        let table = lock(&self.table);
        let disk = table.get(path)?;
        Some((disk.clone(), disk.state(cloud)?))
    }

    /// Records the boot disk of an inserted instance.
    pub(super) fn inserted(
        &self,
        cloud: &FakeCloud,
        (project, zone): (&str, &str),
        r: &InstanceRecord,
    ) {
        let path = disk_path(project, zone, disk_name(r));
        let mut table = lock(&self.table);
        // The disks gone with their instances are forgotten now and then,
        // so that the table stays the size of what exists.
        if table.len() % PRUNE_EVERY == PRUNE_EVERY - 1 {
            table.retain(|_, d| d.state(cloud).is_some());
        }
        table.insert(
            path.clone(),
            Disk {
                path,
                instance: r.id.to_string(),
                size_gb: r.config.disk_size_gb.unwrap_or(IMAGE_GB),
                auto_delete: auto_deleted(r),
                image: r.config.image.clone(),
                created: r.launch_time,
            },
        );
    }

    /// Every disk that exists now, with whether its instance uses it; the
    /// disks their instance's delete (or failed insert) took are forgotten.
    fn settled(&self, cloud: &FakeCloud) -> Vec<(Disk, bool)> {
        let mut table = lock(&self.table);
        let mut out = Vec::with_capacity(table.len());
        table.retain(|_, d| match d.state(cloud) {
            Some(in_use) => {
                out.push((d.clone(), in_use));
                true
            }
            None => false,
        });
        out
    }

    /// How many disks no instance uses.
    pub(crate) fn unattached(&self, cloud: &FakeCloud) -> usize {
        self.settled(cloud).iter().filter(|(_, used)| !used).count()
    }
}

fn disk_json(d: &Disk, in_use: bool) -> Value {
    let zone = d.path.rsplit_once("/disks/").map_or("", |(zone, _)| zone);
    let created = d.created.format(&Rfc3339).unwrap_or_default();
    let mut disk = json!({
        "kind": "compute#disk",
        "id": numeric_id(&d.path).to_string(),
        "creationTimestamp": created,
        "name": last_segment(&d.path),
        "sizeGb": d.size_gb.to_string(),
        "zone": format!("{BASE}/{zone}"),
        "status": "READY",
        "selfLink": format!("{BASE}/{}", d.path),
        "sourceImage": d.image,
        "type": format!("{BASE}/{zone}/diskTypes/pd-balanced"),
        "physicalBlockSizeBytes": "4096",
    });
    if in_use {
        disk["users"] = json!([format!("{BASE}/{}", d.instance)]);
        disk["lastAttachTimestamp"] = created.into();
    }
    disk
}

pub(super) async fn get_disk(
    State(state): State<AppState>,
    Path((project, zone, name)): Path<(String, String, String)>,
) -> Response {
    answer((|| {
        check_name("zone", &zone)?;
        check_name("disk", &name)?;
        let path = disk_path(&project, &zone, &name);
        let (disk, in_use) = state
            .gce()
            .disks
            .find(&state.cloud, &path)
            .ok_or_else(|| GceError::not_found(&path))?;
        Ok(Json(disk_json(&disk, in_use)).into_response())
    })())
}

/// `disks.list` of one zone, in one page; a `filter` or `pageToken` is
/// refused rather than ignored.
pub(super) async fn list_disks(
    State(state): State<AppState>,
    Path((project, zone)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    answer((|| {
        check_name("zone", &zone)?;
        if let Some(unsupported) = ["filter", "pageToken", "orderBy"]
            .iter()
            .find(|p| q.contains_key(**p))
        {
            return Err(GceError::invalid(format!(
                "disks.list here takes no '{unsupported}'"
            )));
        }
        let prefix = disk_path(&project, &zone, "");
        let items: Vec<Value> = state
            .gce()
            .disks
            .settled(&state.cloud)
            .iter()
            .filter(|(d, _)| d.path.starts_with(&prefix))
            .map(|(d, in_use)| disk_json(d, *in_use))
            .collect();
        Ok(Json(json!({
            "kind": "compute#diskList",
            "id": format!("projects/{project}/zones/{zone}/disks"),
            "items": items,
            "selfLink": format!("{BASE}/{prefix}").trim_end_matches('/').to_owned(),
        }))
        .into_response())
    })())
}
