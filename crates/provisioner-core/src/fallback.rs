//! [`Fallback`]: a launch that walks an ordered list of offerings (instance
//! type, zone, capacity) and moves on when one has no capacity, remembering
//! exhausted offerings for a while, as Karpenter's unavailable-offerings
//! cache does.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::provider::consistency::Expiring;
use crate::{
    provider::naming, Capacity, Error, InstanceConfig, InstanceInfo, InstanceProvisioner,
    InstanceProvisionerExt, Result,
};

/// How long an offering that had no capacity is skipped (Karpenter's
/// default for its unavailable-offerings cache: 3 minutes).
pub const DEFAULT_UNAVAILABLE_FOR: Duration = Duration::from_secs(180);

/// One way to launch: an instance type, and optionally a zone and a
/// capacity (on-demand when not given).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Offering {
    /// The instance type.
    pub instance_type: String,
    /// The zone; `None` leaves it to the provisioner.
    pub zone: Option<String>,
    /// On-demand or spot.
    pub capacity: Capacity,
}

impl Offering {
    /// This instance type, anywhere the provisioner places it, on-demand.
    pub fn new(instance_type: impl Into<String>) -> Self {
        Self {
            instance_type: instance_type.into(),
            zone: None,
            capacity: Capacity::OnDemand,
        }
    }

    /// In this zone.
    pub fn in_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// With this capacity.
    pub fn with_capacity(mut self, capacity: Capacity) -> Self {
        self.capacity = capacity;
        self
    }

    /// The key the unavailable-offerings cache knows it by.
    fn key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.instance_type,
            self.zone.as_deref().unwrap_or("*"),
            if self.capacity.is_spot() {
                "spot"
            } else {
                "on-demand"
            }
        )
    }

    /// `config` for this offering. A keyed launch gets a key of its own
    /// per offering (derived, stable), so that a retry of the whole
    /// fallback finds the instance each offering made, and no offering
    /// meets another's.
    fn apply(&self, config: &InstanceConfig) -> InstanceConfig {
        let mut config = config.clone();
        config.instance_type = self.instance_type.clone();
        config.capacity = self.capacity.clone();
        if let Some(zone) = &self.zone {
            config.placement.zone = Some(zone.clone());
        }
        if let Some(key) = &config.idempotency_key {
            let suffix = naming::stable_hash(self.key().as_bytes()) & 0xffff_ffff;
            let head: String = key.chars().take(55).collect();
            config.idempotency_key = Some(format!("{head}-{suffix:08x}"));
        }
        config
    }
}

impl fmt::Display for Offering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Offerings that had no capacity (or hit a quota) lately: shared between
/// the fallbacks of a fleet, so that one launch's discovery spares the
/// others the same failed call.
pub struct UnavailableOfferings {
    ttl: Duration,
    entries: Mutex<Expiring<()>>,
}

impl fmt::Debug for UnavailableOfferings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnavailableOfferings")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for UnavailableOfferings {
    fn default() -> Self {
        Self::new(DEFAULT_UNAVAILABLE_FOR)
    }
}

impl UnavailableOfferings {
    /// Offerings are remembered as unavailable for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(Expiring::new(ttl)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Expiring<()>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks `offering` unavailable for the cache's time.
    pub fn mark(&self, offering: &Offering) {
        self.lock().insert(offering.key(), ());
    }

    /// True while `offering` is remembered as unavailable.
    pub fn contains(&self, offering: &Offering) -> bool {
        self.lock().contains(&offering.key())
    }
}

/// A launch over an ordered list of offerings: the first that launches
/// wins. An offering that fails with [`Error::InsufficientCapacity`],
/// [`Error::QuotaExceeded`] or [`Error::PriceTooLow`] (a spot price below
/// the current one) is marked
/// unavailable and the next is tried;
/// any other error ends the walk. Offerings marked unavailable are
/// skipped.
///
/// A cloud may accept a launch and fail it afterwards (Compute Engine and
/// Azure report a stock-out in the operation): with
/// [`confirming_within`](Self::confirming_within), each launch is followed
/// until it runs, and a failure after acceptance moves on as well.
///
/// ```
/// # async fn doc(cloud: &dyn provisioner_core::InstanceProvisioner) -> provisioner_core::Result<()> {
/// use std::time::Duration;
/// use provisioner_core::fallback::{Fallback, Offering};
/// use provisioner_core::{Capacity, InstanceConfig};
///
/// let fallback = Fallback::new(vec![
///     Offering::new("m7i.large").with_capacity(Capacity::spot()),
///     Offering::new("m6i.large").with_capacity(Capacity::spot()),
///     Offering::new("m7i.large"),
/// ])
/// .confirming_within(Duration::from_secs(300));
/// let config = InstanceConfig::new("ami-0abcdef1234567890", "m7i.large");
/// let (info, offering) = fallback.launch(cloud, &config).await?;
/// println!("{} runs as {offering}", info.instance_id);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Fallback {
    offerings: Vec<Offering>,
    unavailable: std::sync::Arc<UnavailableOfferings>,
    confirm: Option<Duration>,
}

impl Fallback {
    /// Walks `offerings` in order, with a cache of its own.
    pub fn new(offerings: Vec<Offering>) -> Self {
        Self {
            offerings,
            unavailable: std::sync::Arc::default(),
            confirm: None,
        }
    }

    /// Shares `cache` with other fallbacks.
    pub fn with_cache(mut self, cache: std::sync::Arc<UnavailableOfferings>) -> Self {
        self.unavailable = cache;
        self
    }

    /// Follows each launch until it runs, for at most `deadline`, so that
    /// a failure after acceptance moves on too.
    pub fn confirming_within(mut self, deadline: Duration) -> Self {
        self.confirm = Some(deadline);
        self
    }

    /// The cache of unavailable offerings.
    pub fn unavailable(&self) -> &UnavailableOfferings {
        &self.unavailable
    }

    /// Launches `config` on the first offering that has capacity; the
    /// instance and the offering it runs as.
    pub async fn launch(
        &self,
        provisioner: &dyn InstanceProvisioner,
        config: &InstanceConfig,
    ) -> Result<(InstanceInfo, Offering)> {
        let mut tried = Vec::new();
        for offering in &self.offerings {
            if self.unavailable.contains(offering) {
                tried.push(format!("{offering} (remembered unavailable)"));
                continue;
            }
            let attempt = async {
                let info = provisioner.launch_instance(&offering.apply(config)).await?;
                if let Some(deadline) = self.confirm {
                    provisioner
                        .wait_until_running(&info.instance_id, deadline)
                        .await?;
                }
                Ok::<_, Error>(info)
            };
            match attempt.await {
                Ok(info) => return Ok((info, offering.clone())),
                Err(
                    e @ (Error::InsufficientCapacity { .. }
                    | Error::QuotaExceeded { .. }
                    | Error::PriceTooLow { .. }),
                ) => {
                    self.unavailable.mark(offering);
                    tried.push(format!("{offering} ({e})"));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::InsufficientCapacity {
            message: format!("no offering could launch: {}", tried.join("; ")),
            context: None,
        })
    }
}
