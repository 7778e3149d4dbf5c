//! The batching layer over the fake: concurrent single calls become few
//! batch calls, each caller gets its own id's result, and a batch throttled
//! as a whole is retried by the layer before any caller hears of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provisioner_core::layers::{BatchPolicy, Batching};
use provisioner_core::{
    CloudInstanceState, Error, InstanceConfig, InstanceFilter, InstanceInfo, InstanceProvisioner,
    InstanceStatus, Result,
};
use provisioner_fake::{FakeCloud, FakeProvisioner};

/// The fake, counting the batch calls that reach it and their sizes.
struct Counting {
    inner: FakeProvisioner,
    batches: AtomicUsize,
    sizes: Mutex<Vec<usize>>,
    /// How many of the next batch calls fail as a whole, throttled.
    throttle_batches: AtomicUsize,
}

impl Counting {
    fn count(&self, ids: &[&str]) -> Result<()> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.sizes.lock().unwrap().push(ids.len());
        let throttled = self
            .throttle_batches
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if throttled {
            return Err(Error::Throttled {
                retry_after: Some(Duration::from_secs(2)),
                message: "RequestLimitExceeded".to_owned(),
                context: None,
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl InstanceProvisioner for Counting {
    async fn launch_instance(&self, config: &InstanceConfig) -> Result<InstanceInfo> {
        self.inner.launch_instance(config).await
    }
    async fn terminate_instance(&self, id: &str) -> Result<()> {
        self.inner.terminate_instance(id).await
    }
    async fn stop_instance(&self, id: &str) -> Result<()> {
        self.inner.stop_instance(id).await
    }
    async fn start_instance(&self, id: &str) -> Result<InstanceInfo> {
        self.inner.start_instance(id).await
    }
    async fn describe_instance(&self, id: &str) -> Result<InstanceStatus> {
        self.inner.describe_instance(id).await
    }
    async fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceInfo>> {
        self.inner.list_instances(filter).await
    }
    async fn describe_instances(&self, ids: &[&str]) -> Result<Vec<Result<InstanceStatus>>> {
        self.count(ids)?;
        self.inner.describe_instances(ids).await
    }
    async fn terminate_instances(&self, ids: &[&str]) -> Result<Vec<Result<()>>> {
        self.count(ids)?;
        self.inner.terminate_instances(ids).await
    }
}

fn counting(cloud: &FakeCloud) -> Arc<Counting> {
    Arc::new(Counting {
        inner: FakeProvisioner::new(cloud.clone()),
        batches: AtomicUsize::new(0),
        sizes: Mutex::new(Vec::new()),
        throttle_batches: AtomicUsize::new(0),
    })
}

async fn launch(cloud: &FakeCloud, n: usize) -> Vec<String> {
    let fake = FakeProvisioner::new(cloud.clone());
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let info = fake
            .launch_instance(&InstanceConfig::new("img", "small"))
            .await
            .unwrap();
        ids.push(info.instance_id);
    }
    ids
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_describes_are_two_batches_each_caller_its_own_answer() {
    let cloud = FakeCloud::new();
    let ids = launch(&cloud, 1000).await;
    let inner = counting(&cloud);
    let batching = Arc::new(Batching::new(inner.clone()));
    let calls = ids.iter().map(|id| {
        let batching = Arc::clone(&batching);
        let id = id.clone();
        tokio::spawn(async move { (batching.describe_instance(&id).await, id) })
    });
    for call in futures::future::join_all(calls).await {
        let (status, id) = call.unwrap();
        assert_eq!(
            status.unwrap().instance_id,
            id,
            "each caller gets its own id"
        );
    }
    assert_eq!(inner.batches.load(Ordering::SeqCst), 2);
    assert_eq!(*inner.sizes.lock().unwrap(), vec![500, 500]);
}

#[tokio::test(start_paused = true)]
async fn one_bad_id_fails_only_its_caller_and_repeated_ids_are_asked_once() {
    let cloud = FakeCloud::new();
    let ids = launch(&cloud, 2).await;
    let inner = counting(&cloud);
    let batching = Batching::with_policy(
        inner.clone(),
        BatchPolicy::new(Duration::from_millis(50), Duration::from_secs(1), 100),
    );
    let unknown = "fake-00000000000000000";
    let (a, again, bad, gone) = tokio::join!(
        batching.describe_instance(&ids[0]),
        batching.describe_instance(&ids[0]),
        batching.describe_instance("not an id"),
        batching.describe_instance(unknown),
    );
    assert_eq!(a.unwrap().instance_id, ids[0]);
    assert_eq!(again.unwrap().instance_id, ids[0]);
    assert_eq!(bad.unwrap_err().invalid_field(), Some("instance_id"));
    assert_eq!(gone.unwrap().state, CloudInstanceState::Terminated);
    assert_eq!(
        *inner.sizes.lock().unwrap(),
        vec![3],
        "one batch, each id once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_batch_is_retried_by_the_layer_before_any_caller_hears_of_it() {
    let cloud = FakeCloud::new();
    let ids = launch(&cloud, 20).await;
    let inner = counting(&cloud);
    let batching = Arc::new(Batching::new(inner.clone()));
    inner.throttle_batches.store(1, Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    let results = terminate_all(&batching, &ids).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        inner.batches.load(Ordering::SeqCst),
        2,
        "sent, then sent again"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "after the Retry-After"
    );
    assert_eq!(cloud.live_instances(), 0);

    // Once its retries are spent, every caller gets the throttle.
    let ids = launch(&cloud, 5).await;
    inner.throttle_batches.store(3, Ordering::SeqCst);
    let results = terminate_all(&batching, &ids).await;
    assert!(
        results.iter().all(|r| matches!(
            r,
            Err(Error::Throttled {
                retry_after: Some(_),
                ..
            })
        )),
        "{results:?}"
    );
    assert_eq!(cloud.live_instances(), 5);
}

async fn terminate_all(batching: &Arc<Batching>, ids: &[String]) -> Vec<Result<()>> {
    let calls = ids.iter().map(|id| {
        let batching = Arc::clone(batching);
        let id = id.clone();
        tokio::spawn(async move { batching.terminate_instance(&id).await })
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}
