//! The operations this provisioner follows: inserts and starts Compute
//! Engine may fail after answering, and deletes under way; and the fresh
//! request id each mutating call carries.

use std::sync::Mutex;

use google_cloud_gax::options::RequestOptionsBuilder as _;
use provisioner_core::provider::naming;

use crate::convert::reported_failure;
use crate::GcpProvisioner;
use google_cloud_compute_v1::model::operation::Status as OpStatus;
use provisioner_core::provider::consistency::Expiring;
use provisioner_core::LaunchFailure;

impl GcpProvisioner {
    /// Remembers `operation`, the insert or start of `id`, in `followed`
    /// (see [`INSERT_FOLLOW_UP`](crate::builder::INSERT_FOLLOW_UP)).
    pub(crate) fn follow(followed: &Mutex<Expiring<String>>, id: &str, operation: Option<String>) {
        let mut followed = lock(followed);
        match operation {
            Some(operation) => followed.insert(id, operation),
            None => drop(followed.remove(id)),
        }
    }

    /// The failure the insert operation of `id` reports, if this provisioner
    /// launched `id` recently and the operation is done with an error.
    pub(crate) async fn insert_outcome(&self, id: &str, zone: &str) -> Option<LaunchFailure> {
        self.outcome(&self.inserts, id, zone).await
    }

    /// The failure the operation `followed` holds for `id` reports, if it is
    /// done with an error. A done operation without an error is forgotten:
    /// the insert or start succeeded.
    pub(crate) async fn outcome(
        &self,
        followed: &Mutex<Expiring<String>>,
        id: &str,
        zone: &str,
    ) -> Option<LaunchFailure> {
        let operation = lock(followed).get(id).cloned()?;
        let op = self
            .operations
            .get()
            .set_project(&self.project)
            .set_zone(zone)
            .set_operation(&operation)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await
            .ok()?;
        let failure = reported_failure(&op);
        if failure.is_none() && op.status == Some(OpStatus::Done) {
            lock(followed).remove(id);
        }
        failure
    }

    pub(crate) fn lock_deleting(&self) -> std::sync::MutexGuard<'_, Expiring<String>> {
        lock(&self.deleting)
    }

    /// True while a delete this provisioner started for `id` is under way
    /// (or done): the instance is terminating whatever status it shows.
    pub(crate) async fn being_deleted(&self, id: &str, zone: &str) -> bool {
        let Some(op) = self.lock_deleting().get(id).cloned() else {
            return false;
        };
        let result = self
            .operations
            .get()
            .set_project(&self.project)
            .set_zone(zone)
            .set_operation(&op)
            .with_attempt_timeout(self.deadlines.attempt)
            .send()
            .await;
        match result {
            Ok(op) if op.error.is_some() => {
                // The delete failed: the instance is what it says it is.
                self.lock_deleting().remove(id);
                false
            }
            Ok(_) => true,
            // The operation cannot be read now: trust that the delete we
            // started goes on.
            Err(_) => true,
        }
    }
}

/// `m`'s guard, also after a panic elsewhere (the maps hold plain data).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A UUID-shaped request id, fresh for each call. The instance name already
/// makes a keyed launch idempotent; a request id derived from it would make
/// Compute Engine answer a later launch of the same key, after a terminate,
/// with the old, finished operation (it ignores a repeated request id for
/// at least 60 minutes) and create nothing.
pub(crate) fn fresh_request_id() -> String {
    let seed = naming::fresh_token("request");
    let a = naming::stable_hash(seed.as_bytes());
    let b = naming::stable_hash(format!("uuid:{seed}").as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_shaped_and_fresh() {
        let r = fresh_request_id();
        assert_ne!(r, fresh_request_id());
        let groups: Vec<usize> = r.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{r}");
    }
}
