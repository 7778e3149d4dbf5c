//! How one cloud differs from another, as data: the model reads these
//! settings instead of growing a copy per provider.

use std::time::Duration;

/// The behaviour of one kind of cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personality {
    /// A short name, used in error messages and the call log.
    pub name: &'static str,
    /// The prefix of generated instance ids (`i-` on EC2). Generated ids are
    /// the prefix and 17 lowercase hex digits.
    pub id_prefix: &'static str,
    /// How long a terminated instance stays visible (as terminated) before it
    /// vanishes: about an hour on EC2, zero on Compute Engine and Azure, whose
    /// deleted instances are simply gone.
    pub terminated_retention: Duration,
    /// Whether stopping gives up the private address, so that start assigns a
    /// new one (no cloud modelled here does: EC2 and Compute Engine keep it,
    /// and on Azure it belongs to the network interface, kept until the
    /// interface is deleted).
    pub release_private_ip_on_stop: bool,
    /// Whether instances get a public address.
    pub public_addresses: bool,
    /// Whether a stopped instance keeps its public address. EC2's public
    /// address and Compute Engine's ephemeral external one go on stop, and
    /// start brings a new one; Azure's Standard public address is static,
    /// assigned when it is created and released only when it is deleted
    /// (Learn, "Public IP addresses"), whatever the VM's power state.
    pub keep_public_ip_on_stop: bool,
    /// How long an idempotency key (EC2's client token) keeps naming its
    /// instance after that instance was terminated: a launch with the key in
    /// that time is refused ([`CloudError::IdempotentInstanceTerminated`](crate::CloudError::IdempotentInstanceTerminated)).
    /// EC2 documents at least 24 hours. Zero: the key is forgotten with the
    /// instance.
    pub key_retention_after_terminate: Duration,
    /// How long a launch that failed after acceptance stays visible
    /// (terminated, with its failure). `None`: until it is deleted, as Azure
    /// keeps a VM whose allocation failed, with its disk, NIC and address.
    pub failed_launch_retention: Option<Duration>,
    /// The cloud reports a capacity shortage after accepting the launch
    /// (EC2's state reason, Compute Engine's operation, Azure's asynchronous
    /// operation) rather than refusing it.
    pub capacity_failures_after_acceptance: bool,
    /// The same for quotas: Compute Engine reports `QUOTA_EXCEEDED` in the
    /// insert operation; EC2 and Azure refuse the request at once.
    pub quota_failures_after_acceptance: bool,
    /// A start the cloud cannot place fails after it was accepted (Compute
    /// Engine's start operation, Azure's long-running start) rather than
    /// being refused at once (EC2's StartInstances).
    pub start_failures_after_acceptance: bool,
}

impl Personality {
    /// A neutral cloud: `fake-` ids, terminated instances visible for an
    /// hour, private addresses kept across stop/start, public ones renewed.
    pub const fn generic() -> Self {
        Self {
            name: "fake",
            id_prefix: "fake-",
            terminated_retention: Duration::from_secs(3600),
            release_private_ip_on_stop: false,
            public_addresses: true,
            keep_public_ip_on_stop: false,
            key_retention_after_terminate: Duration::from_secs(24 * 3600),
            failed_launch_retention: Some(Duration::from_secs(3600)),
            capacity_failures_after_acceptance: true,
            quota_failures_after_acceptance: true,
            start_failures_after_acceptance: false,
        }
    }

    /// EC2: `i-` ids, terminated instances visible for about an hour.
    pub const fn ec2() -> Self {
        Self {
            name: "ec2",
            id_prefix: "i-",
            quota_failures_after_acceptance: false,
            ..Self::generic()
        }
    }

    /// Compute Engine: a deleted instance vanishes at once (its `TERMINATED`
    /// status means stopped, which the faces translate).
    pub const fn gce() -> Self {
        Self {
            name: "gce",
            id_prefix: "vm-",
            terminated_retention: Duration::ZERO,
            // The key names the instance; the cloud keeps no token.
            key_retention_after_terminate: Duration::ZERO,
            failed_launch_retention: Some(Duration::ZERO),
            start_failures_after_acceptance: true,
            ..Self::generic()
        }
    }

    /// Azure: a deleted VM vanishes at once; its addresses belong to its
    /// network interface and (Standard, static) public address, so a
    /// deallocated VM keeps both (Learn, "Private IP addresses": a dynamic
    /// private address is released only when the interface is deleted;
    /// "Public IP addresses").
    pub const fn azure() -> Self {
        Self {
            name: "azure",
            id_prefix: "vm-",
            terminated_retention: Duration::ZERO,
            release_private_ip_on_stop: false,
            public_addresses: true,
            keep_public_ip_on_stop: true,
            key_retention_after_terminate: Duration::ZERO,
            failed_launch_retention: None,
            capacity_failures_after_acceptance: true,
            quota_failures_after_acceptance: false,
            start_failures_after_acceptance: true,
        }
    }

    /// True when `id` has the shape of an id this cloud generates.
    pub fn is_generated_id(&self, id: &str) -> bool {
        id.strip_prefix(self.id_prefix).is_some_and(|hex| {
            hex.len() == 17 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    }
}

impl Default for Personality {
    fn default() -> Self {
        Self::generic()
    }
}

/// How long each transition takes, on tokio's clock. All zero by default:
/// instances are running as soon as anyone looks. Tests that want to see the
/// intermediate states set delays and pause the clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transitions {
    /// Pending to running, after a launch or a start.
    pub boot: Duration,
    /// Stopping to stopped.
    pub stop: Duration,
    /// Terminating to terminated.
    pub terminate: Duration,
}

impl Transitions {
    /// Every transition takes `delay`.
    pub const fn uniform(delay: Duration) -> Self {
        Self {
            boot: delay,
            stop: delay,
            terminate: delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_id_shape() {
        let ec2 = Personality::ec2();
        assert!(ec2.is_generated_id("i-0123456789abcdef0"));
        for bad in [
            "i-0123",
            "i-0123456789ABCDEF0",
            "fake-0123456789abcdef0",
            "i-0123456789abcdef0/x",
        ] {
            assert!(!ec2.is_generated_id(bad), "{bad}");
        }
    }
}
