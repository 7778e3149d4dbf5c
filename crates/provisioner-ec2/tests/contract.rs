//! The whole contract suite on `provisioner-ec2`, through the real SDK,
//! against the emulator's EC2 face (no Python, no network).

use std::sync::Arc;

use provisioner_core::contract::{Capabilities, ContractSubject, Support};
use provisioner_core::InstanceConfig;
use provisioner_ec2::{emulator_client, Ec2LaunchConfig, Ec2Provisioner};
use provisioner_emulator::Emulator;

async fn subject() -> ContractSubject {
    // Pages of 2 make the listing cases cross pages.
    let emulator = Emulator::builder()
        .ec2_page_cap(2)
        .start()
        .await
        .expect("emulator starts");
    let ec2 = Ec2Provisioner::from_client(
        emulator_client(&emulator.endpoint()),
        Ec2LaunchConfig::default(),
    );
    ContractSubject::new(
        Arc::new(ec2),
        InstanceConfig::new("ami-0abcdef1234567890", "t3.micro").with_disk_size_gb(16),
        "i-0000000000000dead",
        "i-0123/../../x",
    )
    .with_capabilities(Capabilities {
        sends_retry_after: Support::No("EC2 sends no Retry-After".into()),
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_small_pages()
    .with_second_instance_type("t3.small")
    .with_faults(Arc::new(emulator.faults()))
    .holding(emulator)
}

provisioner_core::contract_tests!(subject);

/// The whole suite through every layer over the real SDK: the stack a fleet
/// would run, on one wire provider, with single describes and terminates
/// coalesced into EC2's batch requests (`Batching`, next to the cloud).
mod layered {
    use super::*;
    use provisioner_core::layers::{RateLimitPolicy, Stack};

    async fn subject() -> ContractSubject {
        super::subject().await.wrapped(|ec2| {
            Stack::new(ec2)
                .batching()
                .concurrency_limit(8)
                .timeout(std::time::Duration::from_secs(60))
                .rate_limit(RateLimitPolicy::ec2())
                .retry()
                .metrics()
                .traced()
                .build()
        })
    }
    provisioner_core::contract_tests!(subject);
}
