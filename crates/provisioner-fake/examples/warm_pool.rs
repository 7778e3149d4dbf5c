//! A small fleet loop against the fake: keep N instances warm, stop the idle
//! ones, restart one and use its new address, replace a broken one under a
//! new idempotency key, then recover the whole fleet from a fresh
//! provisioner by listing tags, as a restarted fleet manager would.
//!
//! Idempotency keys name one launch intent, never a slot: `fleet-slot-N-gen-G`.
//! A retry of the same intent (a crash, a lost answer) reuses the key and
//! gets the same instance; a replacement is a new intent with the next
//! generation. Reusing a key after its instance was terminated is refused
//! on EC2 and the fake (`InvalidArgument` naming `idempotency_key`) and
//! creates a new instance under the same name on Compute Engine and Azure,
//! so the loop below never relies on either.
//!
//! Run it with `cargo run -p provisioner-fake --example warm_pool`; `cargo
//! test` runs it too.

#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use provisioner_core::CloudInstanceState::{self, *};
use provisioner_core::{
    Error, InstanceConfig, InstanceFilter, InstanceProvisioner, InstanceProvisionerExt, Result,
};
use provisioner_fake::{FakeCloud, FakeProvisioner, Transitions};

const FLEET: &str = "fleet-7";
const WARM: usize = 3;
/// How long the loop waits for one instance to boot or stop.
const DEADLINE: Duration = Duration::from_secs(600);

/// The part of a fleet manager this example shows.
struct WarmPool {
    provisioner: Arc<dyn InstanceProvisioner>,
}

impl WarmPool {
    fn filter(&self) -> InstanceFilter {
        InstanceFilter::tagged([("ManagedBy", "warm-pool-example"), ("fleet-id", FLEET)])
    }

    /// The key of one launch intent: a slot's `generation`-th instance.
    fn key(slot: usize, generation: u32) -> String {
        format!("{FLEET}-slot-{slot}-gen-{generation}")
    }

    /// Fills every slot that has no instance (booting, running or stopped).
    /// A slot's next instance gets the generation after the highest one its
    /// instances carry; if the cloud refuses that key (its instance was
    /// terminated and is no longer listed), the next one is tried.
    async fn keep_warm(&self) -> Result<Vec<String>> {
        let all = self
            .provisioner
            .list_instances(&self.filter().in_states(CloudInstanceState::ALL))
            .await?;
        let mut filled = BTreeMap::new();
        let mut next_generation = BTreeMap::new();
        for info in &all {
            let (Some(slot), Some(generation)) = (
                info.tags.get("slot").and_then(|s| s.parse::<usize>().ok()),
                info.tags
                    .get("generation")
                    .and_then(|g| g.parse::<u32>().ok()),
            ) else {
                continue;
            };
            let next = next_generation.entry(slot).or_insert(0);
            *next = (*next).max(generation + 1);
            if !info.state.is_terminal() {
                filled.insert(slot, info.instance_id.clone());
            }
        }
        for slot in 0..WARM {
            if filled.contains_key(&slot) {
                continue;
            }
            let mut generation = next_generation.get(&slot).copied().unwrap_or(0);
            let id = loop {
                let config = InstanceConfig::new("img-warm", "small")
                    .with_tag("ManagedBy", "warm-pool-example")
                    .with_tag("fleet-id", FLEET)
                    .with_tag("slot", slot.to_string())
                    .with_tag("generation", generation.to_string())
                    .with_idempotency_key(Self::key(slot, generation));
                match self.provisioner.launch_instance(&config).await {
                    Ok(info) => break info.instance_id,
                    Err(Error::InvalidArgument { field, .. })
                        if field == "idempotency_key" && generation < 100 =>
                    {
                        generation += 1;
                    }
                    Err(e) => return Err(e),
                }
            };
            filled.insert(slot, id);
        }
        Ok(filled.into_values().collect())
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
        // A launch the cloud accepted may still fail (no capacity): this
        // says so with a typed error instead of waiting forever.
        pool.provisioner.wait_until_running(id, DEADLINE).await?;
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
        pool.provisioner
            .wait_for_state(id, &[Stopped], DEADLINE)
            .await?;
    }

    // Demand is back: restart one and use the address start returns, never
    // the cached one.
    let restarted = pool.provisioner.start_instance(&warm[1]).await?;
    let new_public = restarted.public_ip;
    println!(
        "restarted {} at {:?} (public address was {:?} before it stopped)",
        restarted.instance_id, new_public, before.public_ip
    );
    pool.provisioner
        .wait_until_running(&warm[1], DEADLINE)
        .await?;

    // The first instance is broken: replace it. Its slot's next launch is a
    // new intent, with the next generation's key.
    pool.provisioner.terminate_instance(&warm[0]).await?;
    pool.provisioner
        .wait_for_state(&warm[0], &[Terminated], DEADLINE)
        .await?;
    let refilled = pool.keep_warm().await?;
    let replacement = refilled[0].clone();
    assert_ne!(replacement, warm[0], "a replacement is a new instance");
    pool.provisioner
        .wait_until_running(&replacement, DEADLINE)
        .await?;
    println!("replaced {} with {replacement}", warm[0]);

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
        replacement,
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
    replacement: String,
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
            (self.replacement.clone(), Running),
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
