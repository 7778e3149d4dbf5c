//! Instance ids: `ZONE/NAME`, both RFC 1035 labels, checked before they go
//! into any URL.

use provisioner_core::provider::validate::field;
use provisioner_core::{Error, Result};

/// True for an RFC 1035 label: a lowercase letter, then lowercase letters,
/// digits and `-`, not ending in `-`, 63 characters at most.
pub(crate) fn is_rfc1035(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// A parsed instance id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InstanceId<'a> {
    pub(crate) zone: &'a str,
    pub(crate) name: &'a str,
}

/// Parses `ZONE/NAME`.
pub(crate) fn parse(id: &str) -> Result<InstanceId<'_>> {
    let bad = || {
        Error::invalid_argument(
            field::INSTANCE_ID,
            format!("{id:?} is not a Compute Engine instance id (ZONE/NAME, both RFC 1035 names)"),
        )
    };
    let (zone, name) = id.split_once('/').ok_or_else(bad)?;
    if is_rfc1035(zone) && is_rfc1035(name) {
        Ok(InstanceId { zone, name })
    } else {
        Err(bad())
    }
}

/// The id of `name` in `zone`.
pub(crate) fn format(zone: &str, name: &str) -> String {
    format!("{zone}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            parse("us-central1-a/web-1").unwrap(),
            InstanceId {
                zone: "us-central1-a",
                name: "web-1"
            }
        );
        for bad in [
            "",
            "web-1",
            "us-central1-a/../x",
            "us-central1-a/web-1/extra",
            "us-central1-a/Web-1",
            "us-central1-a/1web",
            "us-central1-a/web-",
            "us-central1-a/web%2F1",
            "/web-1",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().invalid_field(),
                Some("instance_id"),
                "{bad}"
            );
        }
        assert!(parse(&format!("z/{}", "a".repeat(64))).is_err());
    }
}
