//! The whole contract suite on `provisioner-azure`, through the 0.21 SDK
//! crates, against the emulator's Azure Resource Manager face.

use std::sync::Arc;

use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
use provisioner_core::contract::{Capabilities, ContractSubject, Support};
use provisioner_core::InstanceConfig;
use provisioner_emulator::Emulator;
use provisioner_fake::Personality;

const SUBNET: &str = "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default";

async fn subject() -> ContractSubject {
    // Pages of 2 make the listing cases cross pages (nextLink).
    let emulator = Emulator::builder()
        .personality(Personality::azure())
        .resource_group("sub-1", "fleet", "westeurope")
        .subnet(SUBNET)
        .arm_page_cap(2)
        .start()
        .await
        .expect("emulator starts");
    let azure = AzureProvisioner::for_endpoint(
        &emulator.endpoint(),
        AzureScope::new("sub-1", "fleet", "westeurope"),
        AzureLaunchConfig::new(
            SUBNET,
            "fleet",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulatorKey fleet",
        )
        .with_public_ip(true),
    )
    .await
    .expect("client builds");
    ContractSubject::new(
        Arc::new(azure),
        InstanceConfig::new("Canonical:ubuntu-24_04-lts:server:latest", "Standard_B2s")
            .with_disk_size_gb(64),
        "p-00000000000000000dead",
        "p-1/../../x",
    )
    .with_small_pages()
    .with_second_instance_type("Standard_B2ms")
    .with_capabilities(Capabilities {
        spot: Support::Yes,
        ..Capabilities::default()
    })
    .with_faults(Arc::new(emulator.faults()))
    .holding(emulator)
}

provisioner_core::contract_tests!(subject);
