//! The field names used in [`Error::InvalidArgument`](crate::Error::InvalidArgument).

/// [`InstanceConfig::image`](crate::InstanceConfig::image).
pub const IMAGE: &str = "image";
/// [`InstanceConfig::instance_type`](crate::InstanceConfig::instance_type).
pub const INSTANCE_TYPE: &str = "instance_type";
/// [`InstanceConfig::user_data`](crate::InstanceConfig::user_data).
pub const USER_DATA: &str = "user_data";
/// [`InstanceConfig::tags`](crate::InstanceConfig::tags) and filter tags.
pub const TAGS: &str = "tags";
/// [`InstanceConfig::disk_size_gb`](crate::InstanceConfig::disk_size_gb).
pub const DISK_SIZE_GB: &str = "disk_size_gb";
/// [`InstanceConfig::idempotency_key`](crate::InstanceConfig::idempotency_key).
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
/// An instance id argument.
pub const INSTANCE_ID: &str = "instance_id";
/// [`InstanceConfig::capacity`](crate::InstanceConfig::capacity).
pub const CAPACITY: &str = "capacity";
/// [`InstanceConfig::placement`](crate::InstanceConfig::placement).
pub const PLACEMENT: &str = "placement";
/// A provisioner's [`OwnerId`](crate::OwnerId), given to its builder.
pub const OWNER: &str = "owner";
