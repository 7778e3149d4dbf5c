//! Names and tokens the providers derive: stable for an idempotency key,
//! fresh otherwise.

use std::sync::atomic::{AtomicU64, Ordering};

/// FNV-1a: a small hash whose values never change between versions, so a
/// name derived from a key today is the same name tomorrow.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A seed unique to this call: time, process and a counter.
fn fresh_seed() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A token unique to this call, such as an EC2 client token: `PREFIX-…`.
pub fn fresh_token(prefix: &str) -> String {
    format!("{prefix}-{}", fresh_seed())
}

/// The name of a launched instance on clouds where the caller names it:
/// `PREFIX-` and 24 lowercase hex digits, derived from the idempotency key
/// (so a retried launch names the same instance) or fresh. With a prefix
/// that starts with a lowercase letter, the name is a valid RFC 1035 label
/// and a valid Azure VM name.
pub fn launch_name(prefix: &str, idempotency_key: Option<&str>) -> String {
    let seed = match idempotency_key {
        Some(key) => format!("key:{key}"),
        None => fresh_seed(),
    };
    let low = stable_hash(format!("2{seed}").as_bytes()) as u32;
    format!("{prefix}-{:016x}{low:08x}", stable_hash(seed.as_bytes()))
}

/// A fingerprint of everything a launch asks for (image, type, tags, user
/// data, disk size; not the key), as 16 lowercase hex digits. Clouds where
/// the key names the instance store it on the instance, so that a key reused
/// with other parameters is told apart from a retry.
pub fn launch_fingerprint(config: &crate::InstanceConfig) -> String {
    let mut bytes = Vec::new();
    let mut push = |part: &[u8]| {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    };
    push(config.image.as_bytes());
    push(config.instance_type.as_bytes());
    for (key, value) in &config.tags {
        push(key.as_bytes());
        push(value.as_bytes());
    }
    push(b"user-data");
    push(config.user_data.as_ref().map_or(&[][..], |u| u.as_bytes()));
    push(&config.disk_size_gb.map_or(0, u64::from).to_le_bytes());
    // Spot and placement count only when set, so that the fingerprint of
    // an on-demand launch placed by the provisioner is what it always was.
    if let crate::Capacity::Spot(spot) = &config.capacity {
        push(b"spot");
        push(
            spot.max_price_per_hour
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        push(format!("{:?}", spot.on_reclaim).as_bytes());
    }
    if !config.placement.is_default() {
        push(b"placement");
        push(
            config
                .placement
                .zone
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        push(
            config
                .placement
                .subnet
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    format!("{:016x}", stable_hash(&bytes))
}

/// Checks that the instance `id`, which a keyed launch met under the name
/// its key derives, is this launch again: made with the same parameters
/// (its stored `fingerprint`, as [`launch_fingerprint`] of `config`) by the
/// owner `ours` (its `owner` marker), and not being deleted. Anything else
/// is a reuse of the key, refused as `InvalidArgument` naming
/// `idempotency_key`: another launch's instance, or another fleet's, is
/// never returned as this one's (clauses b and o).
pub fn check_same_launch(
    id: &str,
    config: &crate::InstanceConfig,
    fingerprint: Option<&str>,
    owner: Option<&str>,
    ours: &crate::OwnerId,
    being_deleted: bool,
) -> crate::Result<()> {
    let reused = |why: String| {
        Err(crate::Error::invalid_argument(
            super::validate::field::IDEMPOTENCY_KEY,
            why,
        ))
    };
    if fingerprint != Some(launch_fingerprint(config).as_str()) {
        return reused(format!(
            "already used for a launch of {id} with other parameters"
        ));
    }
    // The same launch by another owner (two fleets, one key) is theirs.
    if !ours.owns(owner) {
        return reused(format!(
            "already used for a launch of {id} by another owner"
        ));
    }
    if being_deleted {
        return reused(format!(
            "it names {id}, which is being deleted: wait until it is gone, or use a new key"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_keys_are_stable_and_fresh_ones_distinct() {
        let a = launch_name("p", Some("blue-slot-0"));
        assert_eq!(a, launch_name("p", Some("blue-slot-0")));
        assert_ne!(a, launch_name("p", Some("blue-slot-1")));
        assert_eq!(a.len(), 26);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert_ne!(launch_name("p", None), launch_name("p", None));
        assert_ne!(fresh_token("t"), fresh_token("t"));
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn fingerprints_see_every_launch_parameter_but_the_key() {
        let base = crate::InstanceConfig::new("img", "small").with_tag("a", "b");
        let print = launch_fingerprint(&base);
        assert_eq!(
            print,
            launch_fingerprint(&base.clone().with_idempotency_key("k"))
        );
        for other in [
            base.clone().with_tag("a", "c"),
            base.clone().with_user_data("x"),
            base.clone().with_disk_size_gb(20),
            crate::InstanceConfig::new("img", "large").with_tag("a", "b"),
            // Boundaries are part of the fingerprint: "ab"+"" differs from "a"+"b".
            crate::InstanceConfig::new("img", "small").with_tag("ab", ""),
        ] {
            assert_ne!(print, launch_fingerprint(&other), "{other:?}");
        }
    }

    #[test]
    fn a_keyed_launch_returns_only_its_own_instance() {
        let config = crate::InstanceConfig::new("img", "t");
        let same = launch_fingerprint(&config);
        let ours = crate::OwnerId::default();
        let mine = Some(ours.as_str());
        let check = |fingerprint: &str, owner, deleting| {
            check_same_launch("vm-1", &config, Some(fingerprint), owner, &ours, deleting)
        };
        assert!(check(&same, mine, false).is_ok());
        for (fingerprint, owner, deleting) in [
            ("0000000000000000", mine, false),
            (same.as_str(), Some("another-fleet"), false),
            (same.as_str(), mine, true),
        ] {
            let refused = check(fingerprint, owner, deleting).unwrap_err();
            assert_eq!(
                refused.invalid_field(),
                Some("idempotency_key"),
                "{refused}"
            );
        }
    }
}
