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
//!   from the idempotency key, and the PUT is create-only (`If-None-Match:
//!   *`): a PUT of an existing VM would update it (tags, user data; a new
//!   size resizes and reboots). A retried launch meets 412 and returns the
//!   VM if it was launched with the same parameters (their fingerprint is
//!   the reserved tag [`LAUNCH_TAG`]); other parameters are
//!   `InvalidArgument` naming `idempotency_key`. Once the old VM is deleted,
//!   the same key creates a new VM under the same name.
//! - User data goes to `osProfile.customData`, which cloud-init runs at first
//!   boot (`userData` is only served by the metadata service).
//! - A create that Azure accepted and then failed (`AllocationFailed`,
//!   `ZonalAllocationFailed`, `OverconstrainedAllocationRequest`, …) leaves
//!   the VM provisioning-failed with its NIC, disk and address, all billed.
//!   Describe and list report it `Terminated` with `launch_failure` set and
//!   delete it, and what was created with it.
//! - Stop is deallocate (the VM stops costing compute); start; terminate is
//!   delete; describe reads the instance view (`states.rs` maps it) and the
//!   interface and public address for the addresses. A VM stopped from
//!   inside the guest (`PowerState/stopped`) is still allocated and billed:
//!   it reads `Stopped` with a reason that says so, and stop deallocates it.
//! - List reads the group's VMs in one paged call, the run-time status of
//!   the subscription's VMs in another (`statusOnly=true`: ARM returns no
//!   instance view on a VM list without a scale-set `$filter`), and the
//!   group's interfaces and public addresses in one paged call each: never
//!   one call per VM, except for a principal whose role is on the group
//!   only (the subscription's list is then `AuthorizationFailed`), whose
//!   list reads the instance view of each VM the filter's tags admit. Tags
//!   are matched exactly.
//! - Spot: `priority: Spot`, `evictionPolicy` `Deallocate`
//!   ([`OnReclaim::Stop`](provisioner_core::OnReclaim::Stop)) or `Delete`,
//!   `billingProfile.maxPrice`; a zone (`1`–`3`) and a subnet per launch.
//!   An evicted VM is deallocated (or gone) like any other: describe and
//!   list read the VM's activity log for an `evictSpotVM` later than its
//!   last start, for deallocated Spot VMs and VMs gone that this
//!   provisioner did not delete (one call per such VM). A provisioner on
//!   given clients cannot read the log and refuses spot.
//! - The files: `builder.rs` (construction), `transport.rs` (how requests
//!   are sent and retried), `convert.rs` (Azure shapes to the core's),
//!   `provisioner.rs` (ARM's calls, its `Wire`: core's `provider::wire`
//!   keeps the contract's shared rules), `create.rs`, `reads.rs`,
//!   `addresses.rs`, `describe.rs`, `activity.rs` (the activity-log
//!   call), `failures.rs` (a failed create or a failed start: the same
//!   instance view, told apart by what this provisioner did and the
//!   activity log; only a failed create of this owner's launches is ever
//!   deleted), and the mapping tables, one module each: `states.rs`,
//!   `errors.rs`, `rules.rs` ([`AZURE_RULES`]), `spot.rs`.
//!
//! Retries are this crate's transport's (408, 429, 5xx and I/O errors, three
//! retries), honouring Retry-After up to a cap
//! ([`AzureProvisioner::with_max_retry_after`], 60 s by default): a longer
//! wait (Compute asks for 1,200 s when it throttles) reaches the caller at
//! once as `Throttled` with that wait. Errors keep Compute's `details[]`, so
//! throttling (429 `OperationNotAllowed`, detail `TooManyRequests`), a vCPU
//! quota (409 `OperationNotAllowed` naming the quota) and a wrong state (409
//! `OperationNotAllowed`) are told apart.
//!
//! # Role
//!
//! `Virtual Machine Contributor` on the resource group, plus
//! `Microsoft.Network/virtualNetworks/subnets/join/action` on the subnet
//! (for example `Network Contributor` there); for spot launches,
//! `Microsoft.Insights/eventtypes/values/read` (`Monitoring Reader`) to
//! read evictions in the activity log. The same right lets any provisioner
//! tell a failed create (deleted) from a failed start (kept) of a VM it did
//! not itself start; without it, only its own recent launches are deleted
//! when their create fails.
//!
//! # Example (against this project's emulator)
//!
//! ```
//! use provisioner_azure::{AzureLaunchConfig, AzureProvisioner, AzureScope};
//! use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceProvisioner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let subnet = "/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default";
//! let emulator = provisioner_emulator::Emulator::builder()
//!     .personality(provisioner_fake::Personality::azure())
//!     .resource_group("sub-1", "fleet", "westeurope")
//!     .subnet(subnet)
//!     .start()
//!     .await?;
//! let azure = AzureProvisioner::for_endpoint(
//!     &emulator.endpoint(),
//!     AzureScope::new("sub-1", "fleet", "westeurope"),
//!     AzureLaunchConfig::new(subnet, "fleet", "ssh-ed25519 AAAAC3Nza… fleet").with_public_ip(true),
//! ).await?;
//! let config = InstanceConfig::new("Canonical:ubuntu-24_04-lts:server:latest", "Standard_B2s")
//!     .with_tag("ManagedBy", "Fleet A")
//!     .with_disk_size_gb(64);
//! let info = azure.launch_instance(&config).await?;
//! assert_eq!(azure.describe_instance(&info.instance_id).await?.state, CloudInstanceState::Running);
//! # Ok(())
//! # }
//! ```

mod activity;
mod addresses;
mod builder;
mod convert;
mod create;
mod describe;
mod errors;
mod failures;
mod launch;
mod provisioner;
mod reads;
mod rules;
mod spot;
mod states;
mod transport;

/// The provider name, in errors and in layers' labels.
const PROVIDER: &str = "azure";

pub use builder::{AzureProvisioner, AzureScope};
pub use launch::AzureLaunchConfig;
pub use rules::{AZURE_RULES, LAUNCH_TAG};
