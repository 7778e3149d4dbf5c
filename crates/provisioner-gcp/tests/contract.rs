//! The whole contract suite on `provisioner-gcp`, through the real client
//! library, against the emulator's Compute Engine face.

use std::sync::Arc;

use provisioner_core::contract::{Capabilities, ContractSubject, Support};
use provisioner_core::InstanceConfig;
use provisioner_emulator::Emulator;
use provisioner_fake::Personality;
use provisioner_gcp::{GcpLaunchConfig, GcpProvisioner};

async fn subject() -> ContractSubject {
    // Pages of 2 make the listing cases cross pages; two zones make launches
    // and lists span zones.
    let emulator = Emulator::builder()
        .personality(Personality::gce())
        .gce_page_cap(2)
        .start()
        .await
        .expect("emulator starts");
    let gcp = GcpProvisioner::for_endpoint(
        &emulator.endpoint(),
        "contract-project",
        vec!["us-central1-a".into(), "us-central1-b".into()],
        GcpLaunchConfig::default(),
    )
    .await
    .expect("client builds");
    ContractSubject::new(
        Arc::new(gcp),
        InstanceConfig::new(
            "projects/debian-cloud/global/images/family/debian-12",
            "e2-small",
        )
        .with_disk_size_gb(20),
        "us-central1-a/p-00000000000000000dead",
        "us-central1-a/../x",
    )
    .with_capabilities(Capabilities {
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_small_pages()
    .with_second_instance_type("e2-medium")
    .with_faults(Arc::new(emulator.faults()))
    .holding(emulator)
}

provisioner_core::contract_tests!(subject);
