//! The one-by-one fallback of the batch methods of
//! [`InstanceProvisioner`](crate::InstanceProvisioner).

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
