//! The implementor's kit: what a provider crate uses to keep the contract,
//! and a fleet never needs.
//!
//! A fleet holds an [`InstanceProvisioner`](crate::InstanceProvisioner) and
//! reads this crate's root; a crate that implements the trait for a cloud
//! also uses:
//!
//! - errors: its table from the cloud's codes to an [`ErrorClass`], turned
//!   into the one [`Error`](crate::Error) by [`ErrorClass::into_error`] from
//!   a [`ProviderFailure`]; every trait method's body runs in
//!   [`in_operation`], which names the provider and the operation on its
//!   error; [`DEFAULT_MAX_RETRY_AFTER`] bounds a cloud's Retry-After inside
//!   one call;
//! - [`validate`]: the input checks every provider runs before any call
//!   (clause c), and the field names its `InvalidArgument`s use;
//! - [`batch`]: the one-by-one fallback of the batch methods and the ids a
//!   batch request names;
//! - [`consistency`]: the memory of recent launches for clouds whose reads
//!   lag behind their writes;
//! - [`naming`]: launch names and tokens, stable for an idempotency key;
//! - [`paging`]: the loop over a cloud's pages;
//! - [`wire`]: the contract's shared rules written once, for a provider
//!   that speaks its cloud through the [`Wire`] trait.

pub mod batch;
pub mod consistency;
pub mod naming;
pub mod paging;
pub mod validate;
pub mod wire;

pub use crate::error::{in_operation, ErrorClass, ProviderFailure, DEFAULT_MAX_RETRY_AFTER};
pub use wire::Wire;
