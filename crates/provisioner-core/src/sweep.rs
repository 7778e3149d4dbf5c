//! [`Sweep`]: find and terminate the instances a fleet lost track of.
//!
//! A launch whose answer never arrived (a dropped connection, a caller that
//! gave up at its deadline, a crash) may have created an instance the fleet
//! does not know. Every instance a fleet launches carries its owner tags
//! (`ManagedBy`, `fleet-id`, …), so a sweep lists them, keeps what the fleet
//! knows, spares what is younger than a grace period (a launch still in
//! flight), and terminates the rest. It is a dry run unless told otherwise,
//! and works over any [`InstanceProvisioner`].
//!
//! [`Sweep::owned_by`] adds the proof that an instance is the fleet's: its
//! ownership marker ([`OwnerId`]). The sweep then terminates only instances
//! carrying it, and [`Sweep::marked`] finds them by the marker alone, a
//! launch without tags (and without a key) included. With the marker the
//! sweep also finds what launches left beside their instances
//! ([`InstanceProvisioner::list_orphans`]: a volume kept after its instance,
//! an interface of a create that failed half way) and deletes those that
//! carry it; without the marker it touches no orphan, since tags alone
//! prove nothing of a disk.

use std::collections::HashSet;
use std::time::Duration;

use time::OffsetDateTime;

use crate::backoff::Backoff;

use crate::{
    CloudInstanceState, Error, InstanceFilter, InstanceInfo, InstanceProvisioner, Orphan, OwnerId,
    Result, Tags,
};

/// A sweep over the instances carrying some owner tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    owner: Tags,
    marker: Option<OwnerId>,
    grace: Duration,
    dry_run: bool,
    attempts: u32,
}

/// What a sweep found and did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Instances with the owner tags that the caller does not know, old
    /// enough to be lost: terminated, or to be terminated in a dry run.
    pub lost: Vec<InstanceInfo>,
    /// Ids of the lost instances this sweep terminated (empty in a dry run).
    pub terminated: Vec<String>,
    /// Unknown instances spared: younger than the grace period, or of
    /// unknown age.
    pub spared: Vec<InstanceInfo>,
    /// Lost instances whose terminate failed, with the error.
    pub failed: Vec<(String, Error)>,
    /// Unknown instances with the owner tags but without the marker of the
    /// sweep's [`owned_by`](Sweep::owned_by) owner (launched by hand, by
    /// another tool, by another owner): never terminated.
    pub not_ours: Vec<InstanceInfo>,
    /// Resources launches left beside their instances that carry the
    /// sweep's owner's marker, old enough to be lost: deleted, or to be
    /// deleted in a dry run. Empty without [`owned_by`](Sweep::owned_by).
    pub orphans: Vec<Orphan>,
    /// Ids of the orphans this sweep deleted (empty in a dry run); an
    /// orphan whose delete failed is in [`failed`](Self::failed).
    pub deleted_orphans: Vec<String>,
}

impl Sweep {
    /// A dry run over the instances carrying all of `owner`'s tags, with a
    /// grace period of ten minutes.
    pub fn new(owner: Tags) -> Self {
        Self {
            owner,
            marker: None,
            grace: Duration::from_secs(600),
            dry_run: true,
            attempts: 5,
        }
    }

    /// A dry run over every instance carrying `owner`'s ownership marker,
    /// whatever its tags: what this owner's provisioners launched, an
    /// untagged, unkeyed launch whose answer was lost included. It lists
    /// every instance the provisioner sees and keeps those marked.
    pub fn marked(owner: OwnerId) -> Self {
        Self::new(Tags::new()).owned_by(owner)
    }

    /// Only instances carrying `owner`'s ownership marker are lost; the
    /// others with the owner tags are reported as
    /// [`not_ours`](SweepReport::not_ours) and left alone.
    pub fn owned_by(mut self, owner: OwnerId) -> Self {
        self.marker = Some(owner);
        self
    }

    /// Spares unknown instances launched less than `grace` ago.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Terminates what it finds, instead of only reporting it.
    pub fn terminating(mut self) -> Self {
        self.dry_run = false;
        self
    }

    /// How often a retryable error of the listing or of one terminate is
    /// tried again (with backoff) before the sweep gives up on it (default 5).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Runs the sweep now: `known` holds the ids the fleet knows.
    pub async fn run(
        &self,
        provisioner: &dyn InstanceProvisioner,
        known: &HashSet<String>,
    ) -> Result<SweepReport> {
        self.run_at(provisioner, known, OffsetDateTime::now_utc())
            .await
    }

    /// [`run`](Self::run) with the time of day given (for a fake's clock).
    pub async fn run_at(
        &self,
        provisioner: &dyn InstanceProvisioner,
        known: &HashSet<String>,
        now: OffsetDateTime,
    ) -> Result<SweepReport> {
        let filter = InstanceFilter::tagged(&self.owner).in_states([
            CloudInstanceState::Pending,
            CloudInstanceState::Running,
            CloudInstanceState::Stopping,
            CloudInstanceState::Stopped,
        ]);
        let listed = self
            .retrying(|| provisioner.list_instances(&filter))
            .await?;
        let mut report = SweepReport::default();
        for info in listed {
            if known.contains(&info.instance_id) {
                continue;
            }
            if let Some(marker) = &self.marker {
                if !marker.owns(info.owner.as_deref()) {
                    report.not_ours.push(info);
                    continue;
                }
            }
            let old_enough = info.launch_time.is_some_and(|at| now - at >= self.grace);
            if old_enough {
                report.lost.push(info);
            } else {
                report.spared.push(info);
            }
        }
        if let Some(marker) = &self.marker {
            let orphans = self.retrying(|| provisioner.list_orphans()).await?;
            report.orphans = orphans
                .into_iter()
                .filter(|o| marker.owns(o.owner.as_deref()))
                // One of unknown age is as old as the grace: an orphan is
                // never a launch in flight, whose resources its instance
                // holds.
                .filter(|o| o.created.is_none_or(|at| now - at >= self.grace))
                .collect();
        }
        if self.dry_run {
            return Ok(report);
        }
        for info in &report.lost {
            let id = info.instance_id.as_str();
            match self.retrying(|| provisioner.terminate_instance(id)).await {
                Ok(()) => report.terminated.push(id.to_owned()),
                Err(e) => report.failed.push((id.to_owned(), e)),
            }
        }
        for orphan in &report.orphans {
            match self.retrying(|| provisioner.delete_orphan(orphan)).await {
                Ok(()) => report.deleted_orphans.push(orphan.id.clone()),
                Err(e) => report.failed.push((orphan.id.clone(), e)),
            }
        }
        Ok(report)
    }

    async fn retrying<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if e.is_retryable() && attempt < self.attempts => {
                    tokio::time::sleep(backoff.after(&e, Duration::from_secs(30))).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
