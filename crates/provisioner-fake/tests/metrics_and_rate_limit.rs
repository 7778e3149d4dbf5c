//! The Metrics and RateLimit layers over the fake: what a recorder sees per
//! provider, operation and outcome; buckets that hold calls back; a
//! throttled operation held for its Retry-After.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use provisioner_core::layers::{Bucket, Metrics, RateLimit, RateLimitPolicy};
use provisioner_core::{InstanceConfig, InstanceProvisioner};
use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation};

/// A recorder that keeps every counter and the number of histogram
/// samples, by name and labels.
#[derive(Default)]
struct Recorded {
    values: Mutex<BTreeMap<String, Arc<Value>>>,
}

#[derive(Default)]
struct Value(AtomicU64);

impl CounterFn for Value {
    fn increment(&self, by: u64) {
        self.0.fetch_add(by, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl HistogramFn for Value {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn name(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorded {
    fn value(&self, key: &Key) -> Arc<Value> {
        let mut values = self.values.lock().unwrap();
        Arc::clone(values.entry(name(key)).or_default())
    }

    fn get(&self, name: &str) -> u64 {
        self.values
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |v| v.0.load(Ordering::Relaxed))
    }
}

struct Shared(&'static Recorded);

impl Recorder for Shared {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.value(key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.value(key))
    }
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<&'static Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let recorded: &'static Recorded = Box::leak(Box::default());
        metrics::set_global_recorder(Shared(recorded))
            .expect("the only recorder of this test binary");
        recorded
    })
}

fn fake(cloud: &FakeCloud) -> Arc<dyn InstanceProvisioner> {
    Arc::new(FakeProvisioner::new(cloud.clone()))
}

#[tokio::test]
async fn metrics_count_calls_and_errors_by_class_and_time_them() {
    let recorded = recorded();
    let cloud = FakeCloud::new();
    let measured = Metrics::new(fake(&cloud));
    let config = InstanceConfig::new("img", "small").with_user_data("secret-token=abc");
    let id = measured.launch_instance(&config).await.unwrap().instance_id;
    cloud.fail_next(
        Operation::Describe,
        1,
        Fault::Throttled { retry_after: None },
    );
    assert!(measured.describe_instance(&id).await.is_err());
    measured.describe_instance(&id).await.unwrap();

    let calls = |op: &str, outcome: &str| {
        recorded.get(&format!(
            "provisioner_calls_total{{provider=fake,operation={op},outcome={outcome}}}"
        ))
    };
    assert_eq!(calls("launch", "ok"), 1);
    assert_eq!(calls("describe", "ok"), 1);
    assert_eq!(calls("describe", "throttled"), 1);
    assert_eq!(
        recorded.get("provisioner_errors_total{provider=fake,operation=describe,class=throttled}"),
        1
    );
    assert_eq!(
        recorded.get("provisioner_call_duration_seconds{provider=fake,operation=describe}"),
        2
    );
    // Labels are fixed words: no id, no user data.
    let names = recorded
        .values
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(!names.contains(&id) && !names.contains("secret"), "{names}");
}

#[tokio::test]
async fn a_bucket_lets_a_burst_through_then_holds_calls_back() {
    let cloud = FakeCloud::new();
    let id = fake(&cloud)
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap()
        .instance_id;
    // Two at once, then one every ten seconds.
    let policy = RateLimitPolicy::default().with(Operation::Describe, Bucket::new(2, 0.1));
    let paced = RateLimit::new(fake(&cloud), policy);
    paced.describe_instance(&id).await.unwrap();
    paced.describe_instance(&id).await.unwrap();
    let third =
        tokio::time::timeout(Duration::from_millis(300), paced.describe_instance(&id)).await;
    assert!(third.is_err(), "the third describe waits for a token");
    // Other operations have their own bucket (here: none).
    paced.stop_instance(&id).await.unwrap();
    // The third never reached the cloud.
    assert_eq!(cloud.call_count(Operation::Describe), 2);
}

#[tokio::test(start_paused = true)]
async fn an_operation_the_cloud_throttled_is_held_for_its_retry_after() {
    let cloud = FakeCloud::new();
    let id = fake(&cloud)
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap()
        .instance_id;
    let paced = RateLimit::new(fake(&cloud), RateLimitPolicy::default());
    cloud.fail_next(
        Operation::Describe,
        1,
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(7)),
        },
    );
    assert!(paced.describe_instance(&id).await.is_err());
    let started = tokio::time::Instant::now();
    paced.describe_instance(&id).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "held for the Retry-After"
    );
    // Launches were not throttled: not held.
    let started = tokio::time::Instant::now();
    paced
        .launch_instance(&InstanceConfig::new("img", "small"))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}
