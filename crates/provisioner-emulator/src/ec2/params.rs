//! EC2 Query API parameters: a flat form body whose keys encode lists and
//! structures (`TagSpecification.1.Tag.2.Key`).

use std::collections::BTreeMap;

/// The parameters of one request, or a part of them under a prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|e| format!("malformed form body: {e}"))?;
        Ok(Self(pairs.into_iter().collect()))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The members of a list `PREFIX.1`, `PREFIX.2`, … in index order, each
    /// as the parameters under `PREFIX.N.` (for lists of structures) with
    /// the plain value under the key `""` (for lists of strings).
    pub(crate) fn members(&self, prefix: &str) -> Vec<Params> {
        let mut by_index: BTreeMap<u32, Params> = BTreeMap::new();
        let head = format!("{prefix}.");
        for (key, value) in self.0.range(head.clone()..) {
            let Some(rest) = key.strip_prefix(&head) else {
                break;
            };
            let (index, field) = match rest.split_once('.') {
                Some((index, field)) => (index, field),
                None => (rest, ""),
            };
            if let Ok(index) = index.parse::<u32>() {
                by_index
                    .entry(index)
                    .or_default()
                    .0
                    .insert(field.to_owned(), value.clone());
            }
        }
        by_index.into_values().collect()
    }

    /// The plain values of a list of strings `PREFIX.N`.
    pub(crate) fn strings(&self, prefix: &str) -> Vec<String> {
        self.members(prefix)
            .into_iter()
            .filter_map(|m| m.get("").map(str::to_owned))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_structures_and_strings_come_in_index_order() {
        let body = "Action=DescribeInstances&Filter.10.Name=tag%3Aa&Filter.2.Name=tag-key\
                    &Filter.2.Value.1=x&Filter.2.Value.2=y&InstanceId.1=i-1";
        let p = Params::parse(body.as_bytes()).unwrap();
        assert_eq!(p.get("Action"), Some("DescribeInstances"));
        let filters = p.members("Filter");
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0].get("Name"), Some("tag-key"));
        assert_eq!(filters[0].strings("Value"), ["x", "y"]);
        assert_eq!(filters[1].get("Name"), Some("tag:a"));
        assert_eq!(p.strings("InstanceId"), ["i-1"]);
    }
}
