//! An in-memory cloud and an [`InstanceProvisioner`](provisioner_core::InstanceProvisioner)
//! over it, for fleet unit tests.
//!
//! [`FakeCloud`] is a first-class implementation, not a test double: it has
//! a clock (tokio's, so tests pause and advance it), a state machine with
//! transition delays, address pools (private from 10.0.0.0/8, public from the
//! documentation ranges, a new public address on every start), quotas, fault
//! injection (fail the next N calls, fail at random from a seed, latency, an
//! invisibility window after launch) and a call log. [`FakeProvisioner`]
//! drives it exactly as a provider crate drives its cloud, and passes the
//! whole contract suite. The emulator crate serves the same model over the
//! EC2, Compute Engine and Azure wire APIs; [`Personality`] holds what differs
//! between those clouds.
//!
//! ```
//! use std::sync::Arc;
//! use provisioner_core::{CloudInstanceState, InstanceConfig, InstanceFilter, InstanceProvisioner};
//! use provisioner_fake::{FakeCloud, FakeProvisioner, Fault, Operation};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> provisioner_core::Result<()> {
//! let cloud = FakeCloud::new();
//! let fleet: Arc<dyn InstanceProvisioner> = Arc::new(FakeProvisioner::new(cloud.clone()));
//!
//! let config = InstanceConfig::new("img-1", "small").with_tag("fleet-id", "blue");
//! let info = fleet.launch_instance(&config).await?;
//! assert_eq!(fleet.describe_instance(&info.instance_id).await?.state, CloudInstanceState::Running);
//!
//! // The next launch is throttled: the error says a retry can fix it.
//! cloud.fail_next(Operation::Launch, 1, Fault::Throttled { retry_after: None });
//! let err = fleet.launch_instance(&config).await.unwrap_err();
//! assert!(err.is_retryable());
//!
//! // A fresh provisioner over the same cloud (a restarted fleet manager)
//! // finds the instance by its tags.
//! let recovered = FakeProvisioner::new(cloud.clone())
//!     .list_instances(&InstanceFilter::tagged([("fleet-id", "blue")]))
//!     .await?;
//! assert_eq!(recovered[0].instance_id, info.instance_id);
//! assert_eq!(cloud.call_count(Operation::Launch), 2);
//! # Ok(())
//! # }
//! ```

mod addresses;
mod call_log;
mod cloud;
#[cfg(feature = "contract")]
mod contract;
mod error;
mod faults;
mod personality;
mod provisioner;

pub use call_log::CallRecord;
pub use cloud::{Attributes, Creation, FakeCloud, FakeCloudBuilder, InstanceRecord, Page, Reclaim};
pub use error::{retry_after, CloudError};
pub use faults::{Fault, Operation, SplitMix64, FAILURE_AFTER_ACCEPTANCE};
pub use personality::{Personality, Transitions};
pub use provisioner::{FakeProvisioner, FAKE_RULES};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
