//! Tags on Compute Engine, and its input rules.
//!
//! Labels allow only lowercase letters, digits, `_` and `-` (63 characters
//! at most, keys starting with a letter), so a tag like `ManagedBy=Fleet A`
//! cannot be a label as it is. Each instance keeps its exact tags as JSON in
//! the metadata item [`TAGS_METADATA_KEY`], and carries derived labels for
//! server-side filtering: list filters on the labels, then matches the exact
//! tags. A tag whose derived label would be too long, or two tags whose
//! labels collide, are `InvalidArgument`; nothing is changed silently.

use std::collections::HashMap;

use provisioner_core::provider::validate::{field, CapacityRules, ConfigRules, TagRules};
use provisioner_core::{Error, Result, Tags};

/// The metadata item that holds the exact tags as a JSON object.
pub const TAGS_METADATA_KEY: &str = "provisioner-tags";

/// The metadata item that holds the fingerprint of the launch
/// ([`naming::launch_fingerprint`](provisioner_core::provider::naming::launch_fingerprint)),
/// so that a key reused with other parameters is refused.
pub const LAUNCH_METADATA_KEY: &str = "provisioner-launch";

/// Compute Engine's limits: 64 labels of 63 characters (63 for the caller:
/// one is the ownership marker [`OWNER_TAG`](provisioner_core::OWNER_TAG)); boot disks of 10 to
/// 65,536 GB; user data (a metadata value) up to 256 KiB; idempotency keys
/// up to 64 printable ASCII characters (they name the instance by hash).
pub const GCP_RULES: ConfigRules = ConfigRules {
    tags: TagRules {
        max_tags: 63,
        max_key_len: 63,
        max_value_len: 63,
        reserved_key_prefixes: &[],
        forbidden_key_chars: "",
    },
    disk_size_gb: 10..=65_536,
    max_user_data_bytes: 256 * 1024,
    max_idempotency_key_len: 64,
    // Spot VMs have no maximum price on Compute Engine (see spot.rs); a
    // zone (one of the provisioner's) and a subnetwork may be chosen per
    // launch.
    capacity: CapacityRules {
        max_price: false,
        ..CapacityRules::ALL
    },
};

fn label_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

/// The label key of a tag key: lowercased, other characters as `_`, and
/// `t_` in front unless it starts with a lowercase letter.
pub(crate) fn label_key(key: &str) -> Result<String> {
    let mut label = label_text(key);
    if !label.starts_with(|c: char| c.is_ascii_lowercase()) {
        label.insert_str(0, "t_");
    }
    if label.len() > 63 {
        return Err(Error::invalid_argument(
            field::TAGS,
            format!("tag key {key:?} does not fit a Compute Engine label (63 characters)"),
        ));
    }
    Ok(label)
}

/// The label value of a tag value.
pub(crate) fn label_value(key: &str, value: &str) -> Result<String> {
    let label = label_text(value);
    if label.len() > 63 {
        return Err(Error::invalid_argument(
            field::TAGS,
            format!("the value of tag {key:?} does not fit a Compute Engine label (63 characters)"),
        ));
    }
    Ok(label)
}

/// The labels of `tags`; two tags whose labels collide are an error.
pub(crate) fn labels(tags: &Tags) -> Result<HashMap<String, String>> {
    let mut labels = HashMap::with_capacity(tags.len());
    let mut origin: HashMap<String, &str> = HashMap::new();
    for (key, value) in tags {
        let label = label_key(key)?;
        if let Some(other) = origin.insert(label.clone(), key) {
            return Err(Error::invalid_argument(
                field::TAGS,
                format!(
                    "tags {other:?} and {key:?} map to the same Compute Engine label {label:?}"
                ),
            ));
        }
        labels.insert(label, label_value(key, value)?);
    }
    Ok(labels)
}

/// A filter clause value: quoted, with `\` and `"` escaped, so that no value
/// can change the expression around it.
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The exact tags as the metadata value.
pub(crate) fn to_metadata(tags: &Tags) -> String {
    serde_json::to_string(&**tags).expect("a map of strings serializes")
}

/// The exact tags from the metadata value, if it is there and well-formed.
pub(crate) fn from_metadata(value: &str) -> Option<Tags> {
    serde_json::from_str::<std::collections::BTreeMap<String, String>>(value)
        .ok()
        .map(Tags::from)
}

/// `names`, sorted and without repeats, joined with `|` into as few groups
/// as keep each under `budget` characters once the `|` are percent-encoded
/// (`%7C`), for regular-expression filters that travel in a URL.
pub(crate) fn alternations(names: &[&str], budget: usize) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    let mut groups = Vec::new();
    let mut current = String::new();
    let mut encoded = 0;
    for name in names {
        if !current.is_empty() && encoded + name.len() + 3 > budget {
            groups.push(std::mem::take(&mut current));
            encoded = 0;
        }
        if !current.is_empty() {
            current.push('|');
            encoded += 3;
        }
        current.push_str(name);
        encoded += name.len();
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_are_derived_and_exact_tags_round_trip() {
        let t = tags(&[
            ("ManagedBy", "Fleet A/1"),
            ("fleet-id", "blue"),
            ("9lives", "x"),
        ]);
        let l = labels(&t).unwrap();
        assert_eq!(l["managedby"], "fleet_a_1");
        assert_eq!(l["fleet-id"], "blue");
        assert_eq!(l["t_9lives"], "x");
        assert_eq!(from_metadata(&to_metadata(&t)).unwrap(), t);
    }

    #[test]
    fn what_labels_cannot_express_is_invalid() {
        for bad in [
            tags(&[("ManagedBy", "a"), ("managedby", "b")]),
            tags(&[("k", &"v".repeat(64))]),
            tags(&[(&"k".repeat(64), "v")]),
        ] {
            assert_eq!(
                labels(&bad).unwrap_err().invalid_field(),
                Some("tags"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn quoting_escapes_what_could_end_the_value() {
        assert_eq!(quote(r#"a" OR name != "b\"#), r#""a\" OR name != \"b\\""#);
    }
}
