//! How a launch is paid for and where it goes: [`Capacity`] (on-demand or
//! spot) and [`Placement`] (zone and subnet for one launch).

/// How an instance is paid for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Capacity {
    /// Paid by the hour or second; the cloud does not take it back.
    #[default]
    OnDemand,
    /// Spare capacity at a discount, which the cloud may reclaim at any
    /// time (EC2 Spot, Compute Engine Spot VMs, Azure Spot priority).
    Spot(SpotOptions),
}

impl Capacity {
    /// Spot capacity with no maximum price, terminated on reclaim.
    pub fn spot() -> Self {
        Self::Spot(SpotOptions::default())
    }

    /// True for [`Spot`](Self::Spot).
    pub fn is_spot(&self) -> bool {
        matches!(self, Self::Spot(_))
    }
}

/// The settings of a spot launch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct SpotOptions {
    /// The most to pay per hour, in the account's currency, as a decimal
    /// (`"0.0421"`); `None` pays up to the on-demand price. Compute Engine
    /// Spot VMs take no maximum price.
    pub max_price_per_hour: Option<String>,
    /// What the cloud does to the instance when it reclaims the capacity.
    pub on_reclaim: OnReclaim,
}

impl SpotOptions {
    /// With a maximum price per hour.
    pub fn with_max_price_per_hour(mut self, price: impl Into<String>) -> Self {
        self.max_price_per_hour = Some(price.into());
        self
    }

    /// With what a reclaim does.
    pub fn with_on_reclaim(mut self, on_reclaim: OnReclaim) -> Self {
        self.on_reclaim = on_reclaim;
        self
    }
}

/// What a reclaim does to a spot instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum OnReclaim {
    /// The instance is terminated (deleted).
    #[default]
    Terminate,
    /// The instance is stopped (deallocated); its disks stay, and it can be
    /// started again when capacity returns. Not for EC2's one-time spot
    /// requests.
    Stop,
}

/// Where one launch goes, overriding the provisioner's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Placement {
    /// The zone (`us-east-1a`, `europe-west1-b`, `1` on Azure).
    pub zone: Option<String>,
    /// The subnet, where the cloud places by subnet (EC2's subnet id,
    /// Compute Engine's subnetwork, Azure's subnet resource id).
    pub subnet: Option<String>,
}

impl Placement {
    /// In this zone.
    pub fn in_zone(zone: impl Into<String>) -> Self {
        Self {
            zone: Some(zone.into()),
            subnet: None,
        }
    }

    /// In this subnet too (or only in it, on a default placement).
    pub fn with_subnet(mut self, subnet: impl Into<String>) -> Self {
        self.subnet = Some(subnet.into());
        self
    }

    /// True when it sets nothing.
    pub fn is_default(&self) -> bool {
        self.zone.is_none() && self.subnet.is_none()
    }
}
