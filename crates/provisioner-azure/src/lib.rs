//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on Azure
//! virtual machines, through `azure_mgmt_compute` and `azure_identity` of the
//! 0.21 line (one shared `azure_core`), with `azure_mgmt_network` of the
//! same line for addresses.
//!
//! - Ids are VM names within the configured resource group, checked before
//!   they go into a URL (no `/` can pass).
//! - Launch is one PUT of the VM, sent and returned once Azure accepts it
//!   (the crate's awaited create would poll for minutes). The network
//!   interface, OS disk and public address are created with the VM and
//!   marked `deleteOption: Delete`, so terminate leaves nothing behind. The
//!   image is an image or gallery image version resource id, or a
//!   marketplace URN `publisher:offer:sku:version`. The VM name is derived
//!   from the idempotency key, so a repeated PUT is the same VM.
//! - Stop is deallocate (the VM stops costing compute); start; terminate is
//!   delete; describe reads the instance view (`states.rs` maps it) and the
//!   interface and public address for the addresses.
//! - List reads the group's VMs with their instance view in one paged call
//!   per page, and the group's interfaces and public addresses in one paged
//!   call each: never one call per VM. Tags are matched exactly.
//! - The mapping tables, one module each: `states.rs`, `errors.rs`,
//!   `rules.rs` ([`AZURE_RULES`]).
//!
//! Retries are azure_core's (429, 5xx and I/O errors, honouring
//! `Retry-After`).
//!
//! # Role
//!
//! `Virtual Machine Contributor` on the resource group, plus
//! `Microsoft.Network/virtualNetworks/subnets/join/action` on the subnet
//! (for example `Network Contributor` there).
//!
//! # Example (against this project's emulator)
//!
//! ```
//! use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
//! use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceProvisioner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = provisioner_emulator::Emulator::builder()
//!     .personality(provisioner_fake::Personality::azure())
//!     .start()
//!     .await?;
//! let subnet = "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default";
//! let azure = AzureProvisioner::for_endpoint(
//!     &emulator.endpoint(),
//!     AzureScope::new("sub-1", "fleet", "westeurope"),
//!     AzureLaunchConfig::new(subnet, "fleet", "ssh-ed25519 AAAAC3Nza… fleet").with_public_ip(true),
//! )?;
//! let config = InstanceConfig::new("Canonical:ubuntu-24_04-lts:server:latest", "Standard_B2s")
//!     .with_tag("ManagedBy", "Fleet A")
//!     .with_disk_size_gb(64);
//! let info = azure.launch_instance(&config).await?;
//! assert_eq!(azure.describe_instance(&info.instance_id).await?.state, CloudInstanceState::Running);
//! # Ok(())
//! # }
//! ```

mod builder;
mod convert;
mod errors;
mod launch;
mod provisioner;
mod rules;
mod states;
mod transport;

pub use builder::{AzureProvisioner, AzureScope};
pub use launch::AzureLaunchConfig;
pub use rules::{AZURE_RULES, LAUNCH_TAG};
