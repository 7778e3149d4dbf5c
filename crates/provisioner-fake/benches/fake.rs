//! Throughput of the fake: launch, describe and terminate operations per
//! second through `dyn InstanceProvisioner`, and a tag-filtered list over
//! 100,000 instances. Run with `cargo xtask bench`.
//!
//! Targets: at least 1,000,000 describes per second on one core (at
//! 100,000 and at 1,000,000 instances), the list of all 100,000 matching
//! instances within 50 ms, and the one-fleet list of 100 under 5 ms. The
//! memory per instance at 1,000,000 instances is printed (resident set
//! growth, Linux).

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use provisioner_core::{InstanceConfig, InstanceFilter, InstanceProvisioner};
use provisioner_fake::{FakeCloud, FakeProvisioner};
use tokio::runtime::Runtime;

const FLEET_SIZE: usize = 100;
const INSTANCES: usize = 100_000;

fn runtime() -> Runtime {
    // One thread: the targets are per core.
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

fn quiet_cloud() -> FakeCloud {
    // No full call log in benchmarks: counts only.
    FakeCloud::builder().call_log_capacity(0).build()
}

fn fleet_config(fleet: usize) -> InstanceConfig {
    InstanceConfig::new("img-bench", "small")
        .with_tag("ManagedBy", "bench")
        .with_tag("fleet-id", format!("fleet-{fleet}"))
}

/// A provisioner over a cloud of `n` instances in fleets of `FLEET_SIZE`.
fn populated(rt: &Runtime, n: usize) -> (Arc<dyn InstanceProvisioner>, Vec<String>) {
    let p: Arc<dyn InstanceProvisioner> =
        Arc::new(FakeProvisioner::new(quiet_cloud()).with_page_size(1000));
    let ids = rt.block_on(async {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            ids.push(
                p.launch_instance(&fleet_config(i % (n / FLEET_SIZE).max(1)))
                    .await
                    .unwrap()
                    .instance_id,
            );
        }
        ids
    });
    (p, ids)
}

fn operations(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("ops");
    group.throughput(Throughput::Elements(1));

    group.bench_function("launch", |b| {
        b.iter_custom(|iters| {
            let p = FakeProvisioner::new(quiet_cloud());
            let config = fleet_config(0);
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    p.launch_instance(&config).await.unwrap();
                }
                start.elapsed()
            })
        })
    });

    let (p, ids) = populated(&rt, INSTANCES);
    group.bench_function("describe", |b| {
        let mut i = 0usize;
        b.to_async(&rt).iter(|| {
            i = (i + 7919) % ids.len();
            let (p, id) = (&p, &ids[i]);
            async move { p.describe_instance(id).await.unwrap() }
        })
    });

    group.bench_function("terminate", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let batch = left.min(INSTANCES);
                let (p, ids) = populated(&rt, batch);
                total += rt.block_on(async {
                    let start = Instant::now();
                    for id in &ids {
                        p.terminate_instance(id).await.unwrap();
                    }
                    start.elapsed()
                });
                left -= batch;
            }
            total
        })
    });
    group.finish();

    let mut group = c.benchmark_group("list_100k");
    let one_fleet = InstanceFilter::tagged([("fleet-id", "fleet-7")]);
    group.throughput(Throughput::Elements(INSTANCES as u64));
    group.bench_function("one_fleet_of_100", |b| {
        b.to_async(&rt).iter(|| async {
            let listed = p.list_instances(&one_fleet).await.unwrap();
            assert_eq!(listed.len(), FLEET_SIZE);
        })
    });
    let everything = InstanceFilter::tagged([("ManagedBy", "bench")]);
    group.sample_size(20);
    group.bench_function("all_100k_matching", |b| {
        b.to_async(&rt).iter(|| async {
            let listed = p.list_instances(&everything).await.unwrap();
            assert_eq!(listed.len(), INSTANCES);
        })
    });
    group.finish();

    // One launch costs the same whatever the fleet: bookkeeping is
    // amortised O(1) (the tag index, the expiring recent-launch window).
    let mut group = c.benchmark_group("launch_at_size");
    group.throughput(Throughput::Elements(1));
    for size in [10_000, 100_000, 1_000_000] {
        let (p, ids) = populated(&rt, size);
        drop(ids);
        let config = fleet_config(7);
        group.bench_function(format!("{size}"), |b| {
            b.to_async(&rt)
                .iter(|| async { p.launch_instance(&config).await.unwrap() })
        });
    }
    group.finish();

    // A million instances: the memory each costs, and describe among them.
    let rss_before = resident_bytes();
    let (p, ids) = populated(&rt, 1_000_000);
    if let (Some(before), Some(after)) = (rss_before, resident_bytes()) {
        let ids_bytes: usize = ids.iter().map(|id| id.capacity() + 24).sum();
        let per_instance =
            (after.saturating_sub(before) as usize).saturating_sub(ids_bytes) / ids.len();
        // The figure is the output of this benchmark.
        #[allow(clippy::print_stdout)]
        {
            println!("memory: {per_instance} bytes per instance at 1,000,000 instances (resident set growth, less the benchmark's own id list)");
        }
    }
    let mut group = c.benchmark_group("at_1m");
    group.throughput(Throughput::Elements(1));
    group.bench_function("describe", |b| {
        let mut i = 0usize;
        b.to_async(&rt).iter(|| {
            i = (i + 7919) % ids.len();
            let (p, id) = (&p, &ids[i]);
            async move { p.describe_instance(id).await.unwrap() }
        })
    });
    group.finish();
    drop((p, ids));

    let mut group = c.benchmark_group("populate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(INSTANCES as u64));
    group.bench_function("launch_100k_tagged", |b| {
        b.iter_batched(
            || (),
            |()| populated(&rt, INSTANCES),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The resident set size of this process (Linux's `/proc/self/status`).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = operations
}
criterion_main!(benches);
