//! The layers over the fake: retries that never duplicate, Retry-After and
//! its cap, the budget, timeouts and the concurrency limit.

use std::sync::Arc;
use std::time::Duration;

use provisioner_core::layers::{ConcurrencyLimit, Retry, RetryBudget, RetryPolicy, Timeout};
use provisioner_core::{Error, InstanceConfig, InstanceProvisioner};
use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation};

fn fake(cloud: &FakeCloud) -> Arc<dyn InstanceProvisioner> {
    Arc::new(FakeProvisioner::new(cloud.clone()))
}

#[tokio::test(start_paused = true)]
async fn an_unkeyed_launch_is_retried_under_one_key_and_creates_one_instance() {
    let cloud = FakeCloud::new();
    let retry = Retry::new(fake(&cloud));
    cloud.fail_next(Operation::Launch, 2, Fault::Unavailable);
    let info = retry
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap();
    assert_eq!(cloud.live_instances(), 1);
    assert_eq!(cloud.call_count(Operation::Launch), 3);
    let record = cloud.peek(&info.instance_id).unwrap();
    assert!(
        record.config.idempotency_key.is_some(),
        "the layer gave it a key"
    );
    assert_eq!(retry.name(), "fake");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_up_to_the_cap_and_no_longer() {
    let cloud = FakeCloud::new();
    let id = fake(&cloud)
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap()
        .instance_id;
    let retry = Retry::new(fake(&cloud));
    let throttled = |secs| Fault::Throttled {
        retry_after: Some(Duration::from_secs(secs)),
    };
    cloud.fail_next(Operation::Describe, 1, throttled(30));
    let started = tokio::time::Instant::now();
    retry.describe_instance(&id).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(30));

    cloud.fail_next(Operation::Describe, 1, throttled(3600));
    let started = tokio::time::Instant::now();
    let err = retry.describe_instance(&id).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(started.elapsed() < Duration::from_secs(1), "not waited");
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_stops_retries() {
    let cloud = FakeCloud::new();
    let retry = Retry::new(fake(&cloud))
        .with_budget(Arc::new(RetryBudget::new(1.0, 0.0)))
        .with_policy(RetryPolicy {
            attempts: 10,
            ..RetryPolicy::default()
        });
    cloud.fail_next(Operation::List, 5, Fault::Unavailable);
    let filter = provisioner_core::InstanceFilter::default();
    let err = retry.list_instances(&filter).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");
    assert_eq!(
        cloud.call_count(Operation::List),
        2,
        "one retry, then none left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_ends_at_the_timeout_and_the_limit_queues_calls() {
    let cloud = FakeCloud::new();
    cloud.set_latency(Operation::Launch, Duration::from_secs(10));
    let timeout = Timeout::new(fake(&cloud), Duration::from_secs(1));
    let err = timeout
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");

    let limited = Arc::new(ConcurrencyLimit::new(fake(&cloud), 2));
    let started = tokio::time::Instant::now();
    let config = InstanceConfig::new("img", "small");
    let launches = (0..4).map(|_| limited.launch_instance(&config));
    for result in futures::future::join_all(launches).await {
        result.unwrap();
    }
    // Four 10 s calls, two at a time: 20 s.
    assert!(
        started.elapsed() >= Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
