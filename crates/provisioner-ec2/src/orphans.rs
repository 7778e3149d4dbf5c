//! What launches left beside their instances on EC2: volumes kept
//! `available` after their instance terminated (an image or a hand whose
//! mapping said `DeleteOnTermination=false`), carrying an ownership marker.
//! Launches tag their volumes with the marker, so a kept volume still says
//! whose it is; a volume without it (the caller's, made by hand) is never
//! listed.

use aws_sdk_ec2::types::{Filter, Volume};
use provisioner_core::provider::paging::all_pages;
use provisioner_core::{Error, Orphan, OrphanKind, Result, OWNER_TAG};

use crate::convert::{marker_in, wall_time};
use crate::errors::from_sdk;
use crate::{Ec2Provisioner, PROVIDER};

impl Ec2Provisioner {
    /// The `available` volumes carrying a marker, every page.
    pub(crate) async fn kept_volumes(&self) -> Result<Vec<Orphan>> {
        let filters = vec![
            Filter::builder().name("status").values("available").build(),
            Filter::builder().name("tag-key").values(OWNER_TAG).build(),
        ];
        all_pages(PROVIDER, |token| {
            let request = self
                .client
                .describe_volumes()
                .set_filters(Some(filters.clone()))
                .max_results(500)
                .set_next_token(token);
            async move {
                let out = request.send().await.map_err(|e| from_sdk(e, None))?;
                let found = out.volumes().iter().filter_map(orphan_of).collect();
                Ok((found, out.next_token().map(str::to_owned)))
            }
        })
        .await
    }

    /// Deletes a kept volume; one already gone is deleted.
    pub(crate) async fn delete_kept_volume(&self, orphan: &Orphan) -> Result<()> {
        if orphan.kind != OrphanKind::Disk || !orphan.id.starts_with("vol-") {
            return Err(Error::invalid_argument(
                "orphan",
                format!("{} is not an EC2 volume", orphan.id),
            ));
        }
        match self
            .client
            .delete_volume()
            .volume_id(&orphan.id)
            .send()
            .await
            .map_err(|e| from_sdk(e, None))
        {
            Err(Error::NotFound { .. }) => Ok(()),
            other => other.map(drop),
        }
    }
}

/// A kept volume as an orphan: its id, the marker it carries, when it was
/// made.
fn orphan_of(volume: &Volume) -> Option<Orphan> {
    let mut orphan = Orphan::new(OrphanKind::Disk, volume.volume_id()?);
    if let Some(owner) = marker_in(volume.tags()) {
        orphan = orphan.with_owner(owner);
    }
    if let Some(created) = volume.create_time().and_then(wall_time) {
        orphan = orphan.with_created(created);
    }
    Some(orphan)
}
