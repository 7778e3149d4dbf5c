//! [`InstanceProvisioner`](provisioner_core::InstanceProvisioner) on Google
//! Compute Engine, through `google-cloud-compute-v1`.
//!
//! - Ids are `ZONE/NAME`, both RFC 1035 names, checked before they go into
//!   any URL (`us-central1-a/../x` is `InvalidArgument`).
//! - Launch is one `instances.insert` that returns once the operation is
//!   accepted (an operation already `DONE` with an error is that error). The
//!   instance name is derived from the idempotency key, so a retry meets
//!   `alreadyExists` and returns the existing instance, if it was launched
//!   with the same parameters (their fingerprint is the metadata item
//!   `provisioner-launch`; other parameters are `InvalidArgument` naming
//!   `idempotency_key`). The `requestId` is fresh per call: one derived from
//!   the name would make Compute Engine answer a launch of the same key after
//!   a terminate with the old, finished operation, for an hour. Once the
//!   old instance is gone, the same key creates a new instance under the
//!   same name. The boot disk comes from `image` (a source image or image
//!   family URL), sized by `disk_size_gb` and deleted with the instance;
//!   user data goes to metadata under `user-data` (configurable).
//! - A stock-out (`ZONE_RESOURCE_POOL_EXHAUSTED`) or a quota
//!   (`QUOTA_EXCEEDED`) arrives in the insert operation seconds after the
//!   launch was accepted, while the instance is briefly visible, and nowhere
//!   else. The provisioner follows the insert operations it started for an
//!   hour: describe of such an instance says `Terminated` with
//!   `launch_failure` set, and `wait_until_running` returns the typed error.
//! - Tags: labels cannot hold most tags as they are, so the exact tags live
//!   in the metadata item `provisioner-tags` and derived labels serve
//!   server-side filtering (see `tags.rs`); list filters by labels (values
//!   quoted and escaped), then matches the exact tags.
//! - List is `aggregatedList` over the configured zones, every page; an
//!   unreachable zone is an error, never a silently short list.
//! - After this provisioner terminates an instance, describe says
//!   terminating while the delete operation runs, although Compute Engine
//!   shows `STOPPING` meanwhile; a deleted instance is terminated.
//! - Spot: a Spot VM (`scheduling.provisioningModel = SPOT`,
//!   `instanceTerminationAction` `STOP` or `DELETE`; Compute Engine has no
//!   maximum price); a zone (one of the provisioner's) and a subnetwork per
//!   launch. A preemption is a `compute.instances.preempted` zone
//!   operation: describe and list read them for stopped Spot VMs (a
//!   preemption since the last start is a reclaim) and for instances gone
//!   that this provisioner did not delete.
//! - The files: `builder.rs` (construction), `convert.rs` (Compute Engine
//!   shapes to the core's: insert body, filter, instances, operation
//!   errors), `provisioner.rs` (Compute Engine's calls, its `Wire`: core's
//!   `provider::wire` keeps the contract's shared rules), `operations.rs`
//!   (the operations it follows), `describe.rs`, `list.rs`, `ids.rs`, and
//!   the mapping
//!   tables, one module each: `states.rs` (all twelve documented statuses),
//!   `errors.rs`, `tags.rs` ([`GCP_RULES`]), `spot.rs`.
//!
//! Retries are the client library's (its default policy does not retry, so
//! no call ever waits on a Retry-After); errors that reach the caller carry
//! the core class, and `Throttled` carries Retry-After.
//!
//! # IAM
//!
//! `roles/compute.instanceAdmin.v1` on the project (instances get, list,
//! create, delete, start, stop, set metadata and labels; zone operations
//! get and list, where preemptions show), and `roles/iam.serviceAccountUser` on a service account instances
//! run as.
//!
//! # Example (against this project's emulator)
//!
//! ```
//! use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceProvisioner};
//! use provisioner_gcp::{GcpLaunchConfig, GcpProvisioner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = provisioner_emulator::Emulator::builder().start().await?;
//! let gcp = GcpProvisioner::for_endpoint(
//!     &emulator.endpoint(),
//!     "my-project",
//!     vec!["us-central1-a".into()],
//!     GcpLaunchConfig::default().with_user_data_key("startup-script"),
//! )
//! .await?;
//! let config = InstanceConfig::new("projects/debian-cloud/global/images/family/debian-12", "e2-small")
//!     .with_tag("ManagedBy", "Fleet A")
//!     .with_disk_size_gb(20);
//! let info = gcp.launch_instance(&config).await?;
//! assert!(info.instance_id.starts_with("us-central1-a/"));
//! assert_eq!(gcp.describe_instance(&info.instance_id).await?.state, CloudInstanceState::Running);
//! # Ok(())
//! # }
//! ```

mod builder;
mod convert;
mod describe;
mod errors;
mod ids;
mod launch;
mod list;
mod operations;
mod provisioner;
mod spot;
mod states;
mod tags;

/// The provider name, in errors and in layers' labels.
const PROVIDER: &str = "gcp";

pub use builder::GcpProvisioner;
pub use launch::{GcpLaunchConfig, ServiceAccount};
pub use tags::{GCP_RULES, LAUNCH_METADATA_KEY, TAGS_METADATA_KEY};
