//! Azure's input rules, checked before any call: tags, disk, user data, VM
//! names, images.

use provisioner_core::provider::validate::{field, CapacityRules, ConfigRules, TagRules};
use provisioner_core::{Error, Result};
use serde_json::{json, Value};

/// The tag that holds the fingerprint of the launch that created a VM
/// ([`naming::launch_fingerprint`](provisioner_core::provider::naming::launch_fingerprint)),
/// so that a key reused with other parameters is refused. It is reserved:
/// callers' tags may not use it, and it is never reported among theirs.
pub const LAUNCH_TAG: &str = "provisioner-launch";

/// Azure's limits: 50 tags (48 for the caller: one is [`LAUNCH_TAG`], one
/// the ownership marker [`OWNER_TAG`](provisioner_core::OWNER_TAG)), names
/// up to 512 characters without `<>%&\?/`, values up to 256; OS disks of 1
/// to 4,095 GB; user data (sent as `customData`) up to 48 KiB (64 KB once
/// base64-encoded); idempotency keys up to 64 characters.
pub const AZURE_RULES: ConfigRules = ConfigRules {
    tags: TagRules {
        max_tags: 48,
        max_key_len: 512,
        max_value_len: 256,
        reserved_key_prefixes: &[LAUNCH_TAG],
        forbidden_key_chars: "<>%&\\?/",
    },
    disk_size_gb: 1..=4_095,
    max_user_data_bytes: 48 * 1024,
    max_idempotency_key_len: 64,
    // Spot with a maximum price and either eviction policy, a zone and a
    // subnet per launch (spot.rs).
    capacity: CapacityRules::ALL,
};

/// Checks a VM name (the instance id within the configured group): 1 to 64
/// letters, digits, `-`, `_` and `.`, starting with a letter or digit and
/// not ending in `.` or `-`. No `/` can pass, so no path segment can be
/// smuggled into a URL.
pub(crate) fn check_vm_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && !matches!(b[b.len() - 1], b'.' | b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            field::INSTANCE_ID,
            format!("{name:?} is not an Azure VM name (1-64 letters, digits, '-', '_', '.')"),
        ))
    }
}

/// The `imageReference` of an image: a resource id (an image or a gallery
/// image version) or a marketplace URN `publisher:offer:sku:version`.
pub(crate) fn image_reference(image: &str) -> Result<Value> {
    if image.starts_with("/subscriptions/")
        && !image.contains("..")
        && !image.contains(['?', '#', ' '])
    {
        return Ok(json!({"id": image}));
    }
    let parts: Vec<&str> = image.split(':').collect();
    match parts.as_slice() {
        [publisher, offer, sku, version]
            if parts
                .iter()
                .all(|p| !p.is_empty() && !p.contains(['/', ' '])) =>
        {
            Ok(json!({"publisher": publisher, "offer": offer, "sku": sku, "version": version}))
        }
        _ => Err(Error::invalid_argument(
            field::IMAGE,
            format!(
                "{image:?} is neither an image resource id nor a URN publisher:offer:sku:version"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioner_core::provider::validate::check_config;
    use provisioner_core::InstanceConfig;

    #[test]
    fn vm_names() {
        for ok in ["p-0123abcd", "web.1", "A_b-c"] {
            assert!(check_vm_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a.", "a/b", "../x", &"a".repeat(65)] {
            assert_eq!(
                check_vm_name(bad).unwrap_err().invalid_field(),
                Some("instance_id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn images() {
        assert_eq!(
            image_reference("Canonical:ubuntu-24_04-lts:server:latest").unwrap()["offer"],
            "ubuntu-24_04-lts"
        );
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/y/versions/1.0.0";
        assert_eq!(image_reference(id).unwrap()["id"], id);
        for bad in [
            "ubuntu",
            "a:b:c",
            "a:b:c:d:e",
            "/subscriptions/../x",
            "a/b:c:d:e",
        ] {
            assert_eq!(
                image_reference(bad).unwrap_err().invalid_field(),
                Some("image"),
                "{bad}"
            );
        }
    }

    #[test]
    fn azure_tag_limits() {
        let base = InstanceConfig::new("a:b:c:d", "Standard_B1s");
        for bad in [
            base.clone().with_tag("a/b", "v"),
            base.clone().with_tag("a%b", "v"),
            base.clone().with_tag("k", "v".repeat(257)),
            base.clone().with_tag("k".repeat(513), "v"),
            (0..51).fold(base.clone(), |c, i| c.with_tag(format!("k{i}"), "v")),
        ] {
            assert_eq!(
                check_config(&bad, &AZURE_RULES)
                    .unwrap_err()
                    .invalid_field(),
                Some("tags")
            );
        }
        assert!(check_config(&base.with_tag("ManagedBy", "Fleet A"), &AZURE_RULES).is_ok());
    }
}
