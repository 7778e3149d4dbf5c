//! A small fleet loop against the fake: keep N instances warm, stop the idle
//! ones, restart one and use its new address, then recover the whole fleet
//! from a fresh provisioner by listing tags, as a restarted fleet manager
//! would.
//!
//! Run it with `cargo run -p provisioner-fake --example warm_pool`; `cargo
//! test` runs it too.

#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::{InstanceConfig, InstanceFilter, InstanceProvisioner, Result};
use provisioner_fake::{FakeCloud, FakeProvisioner, Transitions};

const FLEET: &str = "fleet-7";
const WARM: usize = 3;

/// The part of a fleet manager this example shows.
struct WarmPool {
    provisioner: Arc<dyn InstanceProvisioner>,
}

impl WarmPool {
    fn filter(&self) -> InstanceFilter {
        InstanceFilter::tagged([("ManagedBy", "warm-pool-example"), ("fleet-id", FLEET)])
    }

    /// Launches instances until `WARM` are pending or running. Each slot has
    /// its own idempotency key, so a loop that crashes and runs again never
    /// launches a slot twice.
    async fn keep_warm(&self) -> Result<Vec<String>> {
        let live = self.filter().in_states([Pending, Running]);
        let have = self.provisioner.list_instances(&live).await?;
        let mut ids: Vec<String> = have.into_iter().map(|i| i.instance_id).collect();
        for slot in ids.len()..WARM {
            let config = InstanceConfig::new("img-warm", "small")
                .with_tag("ManagedBy", "warm-pool-example")
                .with_tag("fleet-id", FLEET)
                .with_tag("slot", slot.to_string())
                .with_idempotency_key(format!("{FLEET}-slot-{slot}"));
            ids.push(self.provisioner.launch_instance(&config).await?.instance_id);
        }
        Ok(ids)
    }

    async fn wait_for(&self, id: &str, state: CloudInstanceState) -> Result<()> {
        while self.provisioner.describe_instance(id).await?.state != state {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(())
    }
}

/// The whole example; returns what it observed so its test can check it.
async fn warm_pool_demo() -> Result<Observed> {
    // Boots take 20 s and stops 10 s on the fake's clock; the test pauses
    // the clock, so this runs in no real time.
    let cloud = FakeCloud::builder()
        .transitions(Transitions {
            boot: Duration::from_secs(20),
            stop: Duration::from_secs(10),
            terminate: Duration::from_secs(5),
        })
        .build();
    let pool = WarmPool {
        provisioner: Arc::new(FakeProvisioner::new(cloud.clone())),
    };

    let warm = pool.keep_warm().await?;
    for id in &warm {
        pool.wait_for(id, Running).await?;
    }
    println!("warm: {warm:?}");
    assert_eq!(
        pool.keep_warm().await?,
        warm,
        "a warm pool launches nothing more"
    );

    // Two instances sat idle too long: stop them to save cost.
    let before = pool.provisioner.describe_instance(&warm[1]).await?;
    for id in &warm[1..] {
        pool.provisioner.stop_instance(id).await?;
    }
    for id in &warm[1..] {
        pool.wait_for(id, Stopped).await?;
    }

    // Demand is back: restart one and use the address start returns, never
    // the cached one.
    let restarted = pool.provisioner.start_instance(&warm[1]).await?;
    let new_public = restarted.public_ip;
    println!(
        "restarted {} at {:?} (public address was {:?} before it stopped)",
        restarted.instance_id, new_public, before.public_ip
    );
    pool.wait_for(&warm[1], Running).await?;

    // The fleet manager restarts: a fresh provisioner over the same cloud
    // finds every instance of the fleet by its tags.
    let recovered = WarmPool {
        provisioner: Arc::new(FakeProvisioner::new(cloud)),
    };
    let found = recovered
        .provisioner
        .list_instances(&recovered.filter())
        .await?;
    for info in &found {
        println!(
            "recovered {} {} {:?}",
            info.instance_id, info.state, info.public_ip
        );
    }
    Ok(Observed {
        warm,
        public_before_stop: before.public_ip,
        restarted_public: new_public,
        recovered: found
            .iter()
            .map(|i| (i.instance_id.clone(), i.state))
            .collect(),
    })
}

struct Observed {
    warm: Vec<String>,
    public_before_stop: Option<IpAddr>,
    restarted_public: Option<IpAddr>,
    recovered: BTreeSet<(String, CloudInstanceState)>,
}

impl Observed {
    /// What the example promises: a full pool, a new address after the
    /// restart, and the whole fleet recovered in the right states.
    fn check(&self) {
        assert_eq!(self.warm.len(), WARM);
        assert!(
            self.restarted_public.is_some(),
            "a started instance has a public address"
        );
        assert_ne!(
            self.restarted_public, self.public_before_stop,
            "start brings a new public address"
        );
        let expected: BTreeSet<(String, CloudInstanceState)> = [
            (self.warm[0].clone(), Running),
            (self.warm[1].clone(), Running),
            (self.warm[2].clone(), Stopped),
        ]
        .into();
        assert_eq!(self.recovered, expected);
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<()> {
    warm_pool_demo().await?.check();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_example_keeps_restarts_and_recovers_the_fleet() {
        warm_pool_demo().await.unwrap().check();
    }
}
