//! The EC2 face's input checks: ids, required parameters, tags, as EC2
//! refuses them.

use provisioner_core::Tags;

use super::mapping::WireError;
use super::params::Params;

/// Checks an EC2 resource id: `prefix`, then lowercase hex digits of one of
/// the lengths EC2 issues; else `code` (such as `InvalidInstanceID.Malformed`).
pub(super) fn check_hex_id(
    id: &str,
    prefix: &str,
    lengths: &[usize],
    code: &'static str,
) -> Result<(), WireError> {
    let ok = id.strip_prefix(prefix).is_some_and(|hex| {
        lengths.contains(&hex.len()) && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(WireError::bad_request(
            code,
            format!("Invalid id: \"{id}\""),
        ))
    }
}

pub(super) fn check_instance_id(id: &str) -> Result<(), WireError> {
    check_hex_id(id, "i-", &[8, 17], "InvalidInstanceID.Malformed")
}

pub(super) fn check_image_id(id: &str) -> Result<(), WireError> {
    check_hex_id(id, "ami-", &[8, 17], "InvalidAMIID.Malformed")
}

pub(super) fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, WireError> {
    params.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        WireError::bad_request(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    })
}

pub(super) fn invalid(message: impl Into<String>) -> WireError {
    WireError::bad_request("InvalidParameterValue", message)
}

/// One tag as EC2 checks it: a key of 1 to 128 characters not starting
/// with `aws:`, a value of up to 256.
pub(super) fn check_tag(key: &str, value: &str) -> Result<(), WireError> {
    if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
        return Err(invalid(format!(
            "Tag key or value has an invalid length: {key:?}"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(invalid(
            "Tag keys starting with 'aws:' are reserved for internal use",
        ));
    }
    Ok(())
}

/// EC2's limit of 50 tags on a resource.
pub(super) fn check_tag_count(tags: &Tags) -> Result<(), WireError> {
    if tags.len() > 50 {
        return Err(WireError::bad_request(
            "TagLimitExceeded",
            "The maximum number of tags is 50",
        ));
    }
    Ok(())
}

/// The instance tags of RunInstances' `TagSpecification`s.
pub(super) fn instance_tags(params: &Params) -> Result<Tags, WireError> {
    resource_tags(params, "instance")
}

/// The tags RunInstances' `TagSpecification`s give one resource type
/// (`instance`, `volume`; those of other types are accepted and not kept).
pub(super) fn resource_tags(params: &Params, resource: &str) -> Result<Tags, WireError> {
    let mut tags = Tags::new();
    for spec in params.members("TagSpecification") {
        if spec.get("ResourceType") != Some(resource) {
            continue;
        }
        for tag in spec.members("Tag") {
            let key = tag.get("Key").unwrap_or_default();
            let value = tag.get("Value").unwrap_or_default();
            check_tag(key, value)?;
            tags.insert(key.to_owned(), value.to_owned());
        }
    }
    check_tag_count(&tags)?;
    Ok(tags)
}
