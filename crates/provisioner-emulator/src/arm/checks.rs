//! The names and tags ARM accepts, checked as the service does.

use super::*;

/// Azure's VM name rules (Linux): 1 to 64 letters, digits, `-`, `_` and
/// `.`, starting with a letter or digit, not ending in `.` or `-`.
pub(super) fn check_vm_name(name: &str) -> Result<(), ArmError> {
    let b = name.as_bytes();
    let ok = (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && !matches!(b[b.len() - 1], b'.' | b'-');
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("The resource name '{name}' is invalid."),
        ))
    }
}

/// Azure's tag rules: 50 tags, names up to 512 characters without
/// `<>%&\?/`, values up to 256.
pub(super) fn check_tags(tags: &Tags) -> Result<(), ArmError> {
    if tags.len() > 50 {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidTagNameCharacters",
            "At most 50 tags",
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 512 || k.chars().any(|c| "<>%&\\?/".contains(c)) {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidTagNameCharacters",
                format!("The tag names '{k}' have reserved characters '<,>,%,&,\\,?,/' or control characters."),
            ));
        }
        if v.chars().count() > 256 {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidTagValueLength",
                format!("The value of tag '{k}' is longer than 256 characters."),
            ));
        }
    }
    Ok(())
}

/// True when `id` is a resource id of `kind` in subscription `sub`:
/// `/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}`
/// (ARM compares ids without regard to case).
pub(super) fn is_resource_id(id: &str, sub: &str, kind: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    let kind_parts: Vec<&str> = kind.split('/').collect();
    parts.len() == 7 + kind_parts.len()
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[2].eq_ignore_ascii_case(sub)
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && !parts[4].is_empty()
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6..6 + kind_parts.len()]
            .iter()
            .zip(&kind_parts)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
        && !parts[parts.len() - 1].is_empty()
}
