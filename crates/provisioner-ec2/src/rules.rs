//! EC2's input rules, checked before any call: tags, disk, user data, ids.

use provisioner_core::provider::validate::{self, field, CapacityRules, ConfigRules, TagRules};
use provisioner_core::{Error, Result};

/// EC2's limits: 50 tags (49 for the caller: one is the ownership marker
/// [`OWNER_TAG`](provisioner_core::OWNER_TAG)), keys up to 128 characters,
/// values up to 256, no `aws:` prefix; user data up to 16 KiB before base64; gp3 root volumes of
/// 1 to 16,384 GiB; client tokens up to 64 ASCII characters.
pub const EC2_RULES: ConfigRules = ConfigRules {
    tags: TagRules {
        max_tags: 49,
        max_key_len: 128,
        max_value_len: 256,
        reserved_key_prefixes: &["aws:"],
        forbidden_key_chars: "",
    },
    disk_size_gb: 1..=16_384,
    max_user_data_bytes: 16 * 1024,
    max_idempotency_key_len: 64,
    // One-time spot requests only, which EC2 terminates on interruption
    // (it stops only persistent requests' instances); a zone or subnet per
    // launch.
    capacity: CapacityRules {
        stop_on_reclaim: false,
        ..CapacityRules::ALL
    },
};

/// Checks an instance id: `i-` and 8 or 17 lowercase hex digits.
pub(crate) fn check_instance_id(id: &str) -> Result<()> {
    validate::check_instance_id(id)?;
    let well_formed = id.strip_prefix("i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if well_formed {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            field::INSTANCE_ID,
            format!("{id:?} is not an EC2 instance id (i- and 8 or 17 lowercase hex digits)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioner_core::InstanceConfig;

    #[test]
    fn instance_ids() {
        for ok in ["i-0123456789abcdef0", "i-0123abcd"] {
            assert!(check_instance_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "i-",
            "i-0123456789ABCDEF0",
            "i-0123456789abcdef0/../x",
            "vm-0123abcd",
            "i-0123abc",
        ] {
            assert_eq!(
                check_instance_id(bad).unwrap_err().invalid_field(),
                Some("instance_id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn ec2_tag_limits() {
        let base = InstanceConfig::new("ami-0abc1234", "t3.micro");
        let cases = [
            base.clone().with_tag("aws:cloudformation", "x"),
            base.clone().with_tag("k".repeat(129), "x"),
            base.clone().with_tag("k", "v".repeat(257)),
            // 50 caller tags: with the ownership marker, 51 on the instance.
            (0..50).fold(base.clone(), |c, i| c.with_tag(format!("k{i}"), "v")),
        ];
        for config in cases {
            let err = validate::check_config(&config, &EC2_RULES).unwrap_err();
            assert_eq!(err.invalid_field(), Some("tags"), "{err}");
        }
        let at_limits = (0..48).fold(base.with_tag("k".repeat(128), "v".repeat(256)), |c, i| {
            c.with_tag(format!("k{i}"), "v")
        });
        assert!(
            validate::check_config(&at_limits, &EC2_RULES).is_ok(),
            "49 tags at the length limits, and the marker: EC2's 50"
        );
    }
}
