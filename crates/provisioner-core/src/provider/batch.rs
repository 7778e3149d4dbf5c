//! Helpers of the batch methods of
//! [`InstanceProvisioner`](crate::InstanceProvisioner): the one-by-one
//! fallback, and the ids a provider's batch request names.

use std::future::Future;

use futures::stream::{self, StreamExt};

use crate::Result;

/// How many single calls the default batch methods run at once.
pub const BATCH_CONCURRENCY: usize = 16;

/// Runs `calls` (one per id), [`BATCH_CONCURRENCY`] at a time, the results
/// in their order.
pub(crate) async fn each<T, Fut>(calls: Vec<Fut>) -> Vec<Result<T>>
where
    Fut: Future<Output = Result<T>>,
{
    stream::iter(calls)
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await
}

/// The ids of `ids` that pass `check`, each once, in their first order: what
/// a provider's batch request names. The ids that fail get their own error
/// from `check` again when the results are put in order.
pub fn unique_valid<'a>(ids: &[&'a str], check: impl Fn(&str) -> Result<()>) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    ids.iter()
        .copied()
        .filter(|id| check(id).is_ok() && seen.insert(*id))
        .collect()
}
