//! The whole contract suite on the fake, under several personalities and
//! timings, with no leniency the real providers do not have.

use std::sync::Arc;
use std::time::Duration;

use provisioner_core::contract::{Capabilities, ContractSubject, Support};
use provisioner_core::InstanceConfig;
use provisioner_fake::{FakeCloud, FakeProvisioner, Personality, Transitions};

fn subject(cloud: FakeCloud) -> ContractSubject {
    let prefix = cloud.personality().id_prefix;
    let faults = Arc::new(cloud.clone());
    let provisioner = FakeProvisioner::new(cloud).with_page_size(2);
    ContractSubject::new(
        Arc::new(provisioner),
        InstanceConfig::new("img-contract", "small"),
        format!("{prefix}0000000000000dead"),
        format!("{prefix}../../x"),
    )
    .with_faults(faults)
    .with_small_pages()
    .with_capabilities(Capabilities {
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_second_instance_type("medium")
}

/// Instant transitions, terminated instances visible for an hour.
mod instant {
    async fn subject() -> provisioner_core::contract::ContractSubject {
        super::subject(provisioner_fake::FakeCloud::new())
    }
    provisioner_core::contract_tests!(subject);
}

/// Every transition takes 30 ms, so the suite sees pending, stopping and
/// terminating; deleted instances vanish at once (Compute Engine).
mod slow_transitions_vanishing {
    use super::*;
    async fn subject() -> ContractSubject {
        super::subject(
            FakeCloud::builder()
                .personality(Personality::gce())
                .transitions(Transitions::uniform(Duration::from_millis(30)))
                .build(),
        )
    }
    provisioner_core::contract_tests!(subject);
}

/// New instances stay invisible to reads for 50 ms (EC2's eventual
/// consistency), and stop gives up the private address (Azure).
mod eventually_consistent {
    use super::*;
    async fn subject() -> ContractSubject {
        super::subject(
            FakeCloud::builder()
                .personality(Personality::azure())
                .visibility_delay(Duration::from_millis(50))
                .transitions(Transitions::uniform(Duration::from_millis(10)))
                .build(),
        )
    }
    provisioner_core::contract_tests!(subject);
}

/// The whole suite through every layer, stacked: what a fleet would run.
mod layered {
    use super::*;
    use provisioner_core::layers::{RateLimitPolicy, Stack};
    use provisioner_core::InstanceProvisioner;

    async fn subject() -> ContractSubject {
        let cloud = FakeCloud::builder()
            .personality(Personality::ec2())
            .transitions(Transitions::uniform(Duration::from_millis(10)))
            .build();
        let faults = Arc::new(cloud.clone());
        let fake: Arc<dyn InstanceProvisioner> =
            Arc::new(FakeProvisioner::new(cloud).with_page_size(2));
        let stack = Stack::new(fake)
            .batching()
            .concurrency_limit(8)
            .timeout(Duration::from_secs(30))
            .rate_limit(RateLimitPolicy::ec2())
            .retry()
            .metrics()
            .traced()
            .build();
        ContractSubject::new(
            stack,
            InstanceConfig::new("img-contract", "small"),
            "i-0000000000000dead",
            "i-../../x",
        )
        .with_faults(faults)
        .with_small_pages()
        .with_capabilities(Capabilities {
            spot: Support::Yes,
            ..Capabilities::default()
        })
        .with_second_instance_type("medium")
    }
    provisioner_core::contract_tests!(subject);
}
