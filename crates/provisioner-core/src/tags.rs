//! [`Tags`]: an instance's key/value tags, shared between copies.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Tags: metadata key/value pairs, kept in key order so that listing,
/// comparing and printing them is deterministic.
///
/// A clone shares the pairs (a reference count, no copy): a fleet of
/// 100,000 instances listed from one cloud does not copy 100,000 maps of
/// strings. A change copies the pairs only when they are shared (copy on
/// write). Reads go through `Deref` to the [`BTreeMap`] (`get`, `iter`,
/// `len`, …).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tags(Arc<BTreeMap<String, String>>);

impl Tags {
    /// No tags.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        Arc::make_mut(&mut self.0).insert(key, value)
    }

    /// Removes `key`; the value it had, if any.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        if !self.0.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.0).remove(key)
    }

    /// Keeps the pairs `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        if self.0.iter().all(|(k, v)| keep(k, v)) {
            return;
        }
        Arc::make_mut(&mut self.0).retain(|k, v| keep(k, v));
    }

    /// The pairs as a map of their own (a copy only when shared).
    pub fn into_map(self) -> BTreeMap<String, String> {
        Arc::unwrap_or_clone(self.0)
    }
}

impl Deref for Tags {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<BTreeMap<String, String>> for Tags {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(Arc::new(map))
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for Tags {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Tags {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self(Arc::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Tags {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        let map = Arc::make_mut(&mut self.0);
        for (k, v) in pairs {
            map.insert(k.into(), v.into());
        }
    }
}

impl IntoIterator for Tags {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl PartialEq<BTreeMap<String, String>> for Tags {
    fn eq(&self, other: &BTreeMap<String, String>) -> bool {
        *self.0 == *other
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_and_changes_copy_only_what_is_shared() {
        let mut a: Tags = [("fleet", "a"), ("role", "web")].into();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0), "a clone shares");
        a.insert("role".into(), "db".into());
        assert_eq!(
            b.get("role").map(String::as_str),
            Some("web"),
            "b kept its own"
        );
        assert_eq!(a.get("role").map(String::as_str), Some("db"));
        assert_eq!(a.remove("fleet").as_deref(), Some("a"));
        assert_eq!(a.len(), 1);
        assert_eq!(format!("{b:?}"), r#"{"fleet": "a", "role": "web"}"#);
    }
}
