//! The ownership marker: which instances a provisioner launched.
//!
//! Every launch writes one reserved tag, [`OWNER_TAG`], whose value is the
//! provisioner's [`OwnerId`] (an EC2 tag, a Compute Engine label, an Azure
//! tag, a tag in the fake's model). A provider deletes on its own initiative
//! only instances that carry its own marker: another team's instance in the
//! same account, or another fleet's, is never its to remove.
//!
//! The marker is not the caller's: it is refused in caller tags and filters
//! ([`check_tags`](crate::provider::validate::check_tags) names the key), counts
//! against the cloud's tag limit (each provider's rules leave room for it),
//! never appears in [`InstanceInfo::tags`](crate::InstanceInfo::tags), and is
//! reported as [`InstanceInfo::owner`](crate::InstanceInfo::owner) and
//! [`InstanceStatus::owner`](crate::InstanceStatus::owner).

use std::fmt;

use crate::error::field;
use crate::{Error, Result, Tags};

/// The reserved tag key of the ownership marker. Lowercase, with only
/// letters and a hyphen, so that it is a valid Compute Engine label key too.
pub const OWNER_TAG: &str = "provisioner-owner";

/// Who launched an instance: the value of its [`OWNER_TAG`].
///
/// 1 to 63 characters of lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter: what a Compute Engine label value (the strictest
/// of the clouds) and every cloud's tag value can hold. Give each fleet
/// that shares an account its own; the default, `provisioner`, suits an
/// account with one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerId(String);

impl OwnerId {
    /// The owner id of a provisioner that was given none.
    pub const DEFAULT: &'static str = "provisioner";

    /// Checks `id` and makes it an owner id; [`Error::InvalidArgument`]
    /// naming `owner` when it does not fit the rules above.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let fits = (1..=63).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if fits {
            Ok(Self(id))
        } else {
            Err(Error::invalid_argument(
                field::OWNER,
                format!(
                    "{id:?} is not 1 to 63 lowercase letters, digits, '-' or '_' starting with a letter"
                ),
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `tags` with this owner's marker added: what a launch writes.
    pub fn mark(&self, tags: &Tags) -> Tags {
        let mut marked = tags.clone();
        marked.insert(OWNER_TAG.to_owned(), self.0.clone());
        marked
    }

    /// True when `owner` (an instance's reported owner) is this one.
    pub fn owns(&self, owner: Option<&str>) -> bool {
        owner == Some(self.as_str())
    }
}

impl Default for OwnerId {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl fmt::Debug for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerId({:?})", self.0)
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Takes the marker out of `tags` (a cloud's tags as read) and returns its
/// value: the caller's tags stay, the owner is reported beside them.
pub fn take_marker(tags: &mut Tags) -> Option<String> {
    tags.remove(OWNER_TAG)
}

/// True when `key` is the marker's key, compared as the clouds that ignore
/// case in tag keys (Azure) compare it.
pub fn is_marker_key(key: &str) -> bool {
    key.eq_ignore_ascii_case(OWNER_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_fit_every_cloud() {
        for good in ["provisioner", "fleet-blue", "a", "team_data-2"] {
            assert_eq!(OwnerId::new(good).unwrap().as_str(), good);
        }
        let too_long = "a".repeat(64);
        for bad in ["", "Blue", "2fleet", "-x", "fleet blue", "flëet", &too_long] {
            match OwnerId::new(bad) {
                Err(Error::InvalidArgument { field, .. }) => assert_eq!(field, "owner"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(OwnerId::default().as_str(), OwnerId::DEFAULT);
    }

    #[test]
    fn the_marker_is_added_and_taken_out_again() {
        let owner = OwnerId::new("fleet-blue").unwrap();
        let tags = Tags::from([("role".to_owned(), "worker".to_owned())]);
        let mut marked = owner.mark(&tags);
        assert_eq!(marked.len(), 2);
        assert_eq!(take_marker(&mut marked).as_deref(), Some("fleet-blue"));
        assert_eq!(marked, tags);
        assert!(owner.owns(Some("fleet-blue")));
        assert!(!owner.owns(Some("fleet-green")));
        assert!(!owner.owns(None));
        assert!(is_marker_key("Provisioner-Owner"));
    }
}
