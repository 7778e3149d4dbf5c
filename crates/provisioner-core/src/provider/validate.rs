//! Input checks every provisioner runs before any API call.
//!
//! The limits differ per provider, so they are data ([`ConfigRules`],
//! [`TagRules`]); the checking code is one. A provider crate declares its
//! rules as a `const` and calls [`check_config`] first thing in its launch.

use std::ops::RangeInclusive;

use crate::{Error, InstanceConfig, Result, Tags};

pub use crate::error::field;

/// A provider's limits on tags. Lengths count characters (Unicode scalar values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRules {
    /// The most tags one instance may carry.
    pub max_tags: usize,
    /// The longest key.
    pub max_key_len: usize,
    /// The longest value.
    pub max_value_len: usize,
    /// Key prefixes the provider reserves (case-insensitive), such as `aws:`.
    pub reserved_key_prefixes: &'static [&'static str],
    /// Characters a key may not contain, beyond control characters.
    pub forbidden_key_chars: &'static str,
}

impl TagRules {
    /// The rules every provider shares: non-empty keys, no control
    /// characters, and generous bounds that providers tighten.
    pub const BASE: TagRules = TagRules {
        max_tags: 64,
        max_key_len: 512,
        max_value_len: 512,
        reserved_key_prefixes: &[],
        forbidden_key_chars: "",
    };
}

/// A provider's limits on a launch config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRules {
    /// Tag limits.
    pub tags: TagRules,
    /// Allowed root disk sizes in GB.
    pub disk_size_gb: RangeInclusive<u32>,
    /// The largest user data in bytes, before any encoding.
    pub max_user_data_bytes: usize,
    /// The longest idempotency key, in ASCII characters.
    pub max_idempotency_key_len: usize,
    /// What the provider takes of spot capacity and placement per launch.
    pub capacity: CapacityRules,
}

/// What a provider takes of [`Capacity`](crate::Capacity) and
/// [`Placement`](crate::Placement); the rest is refused before any call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityRules {
    /// Spot launches.
    pub spot: bool,
    /// A spot instance stopped (not terminated) on reclaim.
    pub stop_on_reclaim: bool,
    /// A maximum spot price.
    pub max_price: bool,
    /// A zone chosen per launch.
    pub zone: bool,
    /// A subnet chosen per launch.
    pub subnet: bool,
}

impl CapacityRules {
    /// On-demand only, placed by the provisioner's own settings.
    pub const ON_DEMAND_ONLY: CapacityRules = CapacityRules {
        spot: false,
        stop_on_reclaim: false,
        max_price: false,
        zone: false,
        subnet: false,
    };
    /// Everything.
    pub const ALL: CapacityRules = CapacityRules {
        spot: true,
        stop_on_reclaim: true,
        max_price: true,
        zone: true,
        subnet: true,
    };
}

impl ConfigRules {
    /// The rules every provider shares; providers narrow them.
    pub const BASE: ConfigRules = ConfigRules {
        tags: TagRules::BASE,
        disk_size_gb: 1..=65_536,
        max_user_data_bytes: 256 * 1024,
        max_idempotency_key_len: 64,
        capacity: CapacityRules::ON_DEMAND_ONLY,
    };
}

/// Checks a launch config against `rules`. The first problem found is
/// returned as [`Error::InvalidArgument`] naming its field.
pub fn check_config(config: &InstanceConfig, rules: &ConfigRules) -> Result<()> {
    check_token(field::IMAGE, &config.image)?;
    check_token(field::INSTANCE_TYPE, &config.instance_type)?;
    if let Some(gb) = config.disk_size_gb {
        if !rules.disk_size_gb.contains(&gb) {
            return Err(Error::invalid_argument(
                field::DISK_SIZE_GB,
                format!(
                    "{gb} GB is outside {}..={} GB",
                    rules.disk_size_gb.start(),
                    rules.disk_size_gb.end()
                ),
            ));
        }
    }
    if let Some(user_data) = &config.user_data {
        if user_data.len() > rules.max_user_data_bytes {
            return Err(Error::invalid_argument(
                field::USER_DATA,
                format!(
                    "{} bytes is more than the {} allowed",
                    user_data.len(),
                    rules.max_user_data_bytes
                ),
            ));
        }
    }
    if let Some(key) = &config.idempotency_key {
        check_idempotency_key(key, rules.max_idempotency_key_len)?;
    }
    check_capacity(config, &rules.capacity)?;
    check_tags(&config.tags, &rules.tags)
}

/// Checks the capacity and placement of a launch against what the
/// provider takes.
pub fn check_capacity(config: &InstanceConfig, rules: &CapacityRules) -> Result<()> {
    let refuse = |field: &str, reason: &str| Err(Error::invalid_argument(field, reason));
    if let crate::Capacity::Spot(spot) = &config.capacity {
        if !rules.spot {
            return refuse(
                field::CAPACITY,
                "spot capacity is not supported by this provider",
            );
        }
        if spot.on_reclaim == crate::OnReclaim::Stop && !rules.stop_on_reclaim {
            return refuse(
                field::CAPACITY,
                "this provider's spot instances can only be terminated on reclaim",
            );
        }
        if let Some(price) = &spot.max_price_per_hour {
            if !rules.max_price {
                return refuse(field::CAPACITY, "this provider takes no maximum spot price");
            }
            check_price(price)?;
        }
    }
    if let Some(zone) = &config.placement.zone {
        if !rules.zone {
            return refuse(
                field::PLACEMENT,
                "this provider places launches in its own zones",
            );
        }
        let valid = (1..=63).contains(&zone.len())
            && zone
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::invalid_argument(
                field::PLACEMENT,
                format!("zone {} is not a zone name", Shown(zone)),
            ));
        }
    }
    if let Some(subnet) = &config.placement.subnet {
        if !rules.subnet {
            return refuse(
                field::PLACEMENT,
                "this provider places launches in its own subnet",
            );
        }
        check_token(field::PLACEMENT, subnet)?;
    }
    Ok(())
}

/// A price per hour: a positive decimal with at most five fraction digits
/// (Azure's precision), such as `0.0421`.
fn check_price(price: &str) -> Result<()> {
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let valid = !whole.is_empty()
        && whole.len() <= 6
        && digits(whole)
        && fraction.len() <= 5
        && digits(fraction)
        && !(price.contains('.') && fraction.is_empty())
        && price.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            field::CAPACITY,
            format!(
                "maximum price {} is not a positive decimal with at most 5 fraction digits",
                Shown(price)
            ),
        ))
    }
}

/// Checks tags against `rules`: count, key and value lengths, the
/// ownership marker's key ([`OWNER_TAG`](crate::OWNER_TAG)) and reserved
/// prefixes, forbidden characters, and no control characters anywhere.
pub fn check_tags(tags: &Tags, rules: &TagRules) -> Result<()> {
    if tags.len() > rules.max_tags {
        return Err(Error::invalid_argument(
            field::TAGS,
            format!(
                "{} tags is more than the {} allowed",
                tags.len(),
                rules.max_tags
            ),
        ));
    }
    for (key, value) in tags {
        check_tag(key, value, rules)?;
    }
    Ok(())
}

/// Checks tags used in a list filter: the same character rules as
/// [`check_tags`], without the count limit (a filter may name fewer tags, and
/// a value that cannot exist simply matches nothing).
pub fn check_filter_tags(tags: &Tags, rules: &TagRules) -> Result<()> {
    tags.iter().try_for_each(|(k, v)| check_tag(k, v, rules))
}

fn check_tag(key: &str, value: &str, rules: &TagRules) -> Result<()> {
    let bad = |reason: String| Err(Error::invalid_argument(field::TAGS, reason));
    let shown = Shown(key);
    if key.is_empty() {
        return bad("a tag key is empty".to_owned());
    }
    if key.chars().count() > rules.max_key_len {
        return bad(format!(
            "key {shown} is longer than {} characters",
            rules.max_key_len
        ));
    }
    if value.chars().count() > rules.max_value_len {
        return bad(format!(
            "the value of {shown} is longer than {} characters",
            rules.max_value_len
        ));
    }
    if key.chars().any(char::is_control) {
        return bad(format!("key {shown} contains a control character"));
    }
    if value.chars().any(char::is_control) {
        return bad(format!("the value of {shown} contains a control character"));
    }
    if let Some(c) = key.chars().find(|c| rules.forbidden_key_chars.contains(*c)) {
        return bad(format!(
            "key {shown} contains the forbidden character {c:?}"
        ));
    }
    if crate::ownership::is_marker_key(key) {
        return bad(format!(
            "key {shown} is reserved for the ownership marker that every launch writes"
        ));
    }
    let lower = key.to_ascii_lowercase();
    if let Some(prefix) = rules
        .reserved_key_prefixes
        .iter()
        .find(|p| lower.starts_with(&p.to_ascii_lowercase()))
    {
        return bad(format!("key {shown} uses the reserved prefix {prefix:?}"));
    }
    Ok(())
}

/// Checks an idempotency key: 1 to `max_len` printable ASCII characters
/// without spaces (what every provider can carry in a client token or a name).
pub fn check_idempotency_key(key: &str, max_len: usize) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid_argument(field::IDEMPOTENCY_KEY, reason));
    if key.is_empty() {
        return bad("must not be empty");
    }
    if key.len() > max_len {
        return bad(&format!("must be at most {max_len} characters"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("must be printable ASCII without spaces");
    }
    Ok(())
}

/// Checks that an instance id is non-empty and has no control characters or
/// whitespace. Providers parse ids further with their own grammar.
pub fn check_instance_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument(
            field::INSTANCE_ID,
            "must not be empty",
        ));
    }
    // Ids are ASCII almost always: a byte scan, then chars only otherwise.
    let bad = if id.is_ascii() {
        id.bytes()
            .any(|b| b.is_ascii_control() || b.is_ascii_whitespace())
    } else {
        id.chars().any(|c| c.is_control() || c.is_whitespace())
    };
    if bad {
        return Err(Error::invalid_argument(
            field::INSTANCE_ID,
            format!("{} contains whitespace or a control character", Shown(id)),
        ));
    }
    Ok(())
}

fn check_token(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_argument(field, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_argument(
            field,
            "contains a control character",
        ));
    }
    Ok(())
}

/// Shows user input in an error: escaped, and cut to 64 characters so that a
/// huge input cannot flood logs.
struct Shown<'a>(&'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 64;
        match self.0.char_indices().nth(MAX) {
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STRICT: TagRules = TagRules {
        max_tags: 2,
        max_key_len: 8,
        max_value_len: 4,
        reserved_key_prefixes: &["aws:"],
        forbidden_key_chars: "<>",
    };

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn field_of(r: Result<()>) -> String {
        r.unwrap_err().invalid_field().unwrap().to_owned()
    }

    #[test]
    fn each_config_problem_names_its_field() {
        let ok = InstanceConfig::new("img", "small");
        assert!(check_config(&ok, &ConfigRules::BASE).is_ok());
        let cases: [(InstanceConfig, &str); 7] = [
            (InstanceConfig::new("", "small"), field::IMAGE),
            (InstanceConfig::new("img", "  "), field::INSTANCE_TYPE),
            (ok.clone().with_disk_size_gb(0), field::DISK_SIZE_GB),
            (ok.clone().with_disk_size_gb(70_000), field::DISK_SIZE_GB),
            (
                ok.clone().with_user_data(vec![0u8; 256 * 1024 + 1]),
                field::USER_DATA,
            ),
            (
                ok.clone().with_idempotency_key("has space"),
                field::IDEMPOTENCY_KEY,
            ),
            (ok.clone().with_tag("", "v"), field::TAGS),
        ];
        for (config, want) in cases {
            assert_eq!(
                field_of(check_config(&config, &ConfigRules::BASE)),
                want,
                "{config:?}"
            );
        }
    }

    #[test]
    fn tag_rules_are_enforced() {
        assert!(check_tags(&tags(&[("k", "v"), ("k2", "v")]), &STRICT).is_ok());
        let bad = [
            tags(&[("a", "1"), ("b", "2"), ("c", "3")]),
            tags(&[("123456789", "v")]),
            tags(&[("k", "12345")]),
            tags(&[("aWs:x", "v")]),
            tags(&[("a<b", "v")]),
            tags(&[("a\nb", "v")]),
            tags(&[("k", "v\u{7}")]),
        ];
        for t in bad {
            assert_eq!(field_of(check_tags(&t, &STRICT)), field::TAGS, "{t:?}");
        }
    }

    #[test]
    fn errors_show_long_keys_cut_and_escaped() {
        let key = format!("{}\n", "k".repeat(100));
        let err = check_tags(&tags(&[(&key, "v")]), &TagRules::BASE).unwrap_err();
        let text = err.to_string();
        assert!(text.contains('…') && !text.contains('\n'), "{text}");
    }

    #[test]
    fn spot_and_placement_are_refused_where_the_provider_cannot() {
        use crate::{Capacity, OnReclaim, Placement, SpotOptions};
        let config = InstanceConfig::new("img", "small");
        let spot = |options: SpotOptions| config.clone().with_capacity(Capacity::Spot(options));
        let field = |c: &InstanceConfig, rules: &CapacityRules| {
            check_capacity(c, rules)
                .err()
                .and_then(|e| e.invalid_field().map(str::to_owned))
        };
        let on_demand_only = CapacityRules::ON_DEMAND_ONLY;
        let terminate_only = CapacityRules {
            stop_on_reclaim: false,
            max_price: false,
            ..CapacityRules::ALL
        };
        let stopping = SpotOptions::default().with_on_reclaim(OnReclaim::Stop);
        let priced = |p: &str| SpotOptions::default().with_max_price_per_hour(p);
        let cases: [(InstanceConfig, &CapacityRules, Option<&str>); 10] = [
            (config.clone(), &on_demand_only, None),
            (
                spot(SpotOptions::default()),
                &on_demand_only,
                Some(field::CAPACITY),
            ),
            (spot(SpotOptions::default()), &terminate_only, None),
            (
                spot(stopping.clone()),
                &terminate_only,
                Some(field::CAPACITY),
            ),
            (spot(stopping), &CapacityRules::ALL, None),
            (
                spot(priced("0.0421")),
                &terminate_only,
                Some(field::CAPACITY),
            ),
            (spot(priced("0.0421")), &CapacityRules::ALL, None),
            (
                spot(priced("0.000001")),
                &CapacityRules::ALL,
                Some(field::CAPACITY),
            ),
            (
                config
                    .clone()
                    .with_placement(Placement::in_zone("us-east-1a")),
                &on_demand_only,
                Some(field::PLACEMENT),
            ),
            (
                config.clone().with_placement(Placement::in_zone("US/east")),
                &CapacityRules::ALL,
                Some(field::PLACEMENT),
            ),
        ];
        for (config, rules, want) in cases {
            assert_eq!(
                field(&config, rules).as_deref(),
                want,
                "{config:?} under {rules:?}"
            );
        }
        for bad in ["", "0", "0.0", "-1", "1.", "1e3", "cheap", "1234567.5"] {
            assert!(check_price(bad).is_err(), "{bad:?}");
        }
        for good in ["1", "0.5", "0.00001", "12.34567"] {
            assert!(check_price(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn instance_ids_without_whitespace_pass() {
        assert!(check_instance_id("i-0123").is_ok());
        for bad in ["", " i-1", "i 1", "i-1\r"] {
            assert_eq!(field_of(check_instance_id(bad)), field::INSTANCE_ID);
        }
    }

    proptest! {
        #[test]
        fn printable_tags_within_bounds_always_pass(
            key in "[A-Za-z0-9_.:/=+@-]{1,128}",
            value in "[ -~]{0,256}",
        ) {
            prop_assert!(check_tags(&tags(&[(&key, &value)]), &TagRules::BASE).is_ok());
        }

        #[test]
        fn any_control_character_is_rejected(prefix in "[a-z]{0,4}", c in proptest::char::range('\0', '\u{1f}')) {
            let key = format!("{prefix}{c}");
            prop_assert!(check_tags(&tags(&[(&key, "v")]), &TagRules::BASE).is_err());
        }
    }
}
