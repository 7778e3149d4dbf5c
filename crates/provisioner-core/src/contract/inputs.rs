//! A table of bad inputs every provider must refuse before any request:
//! each field of a launch config, traversal and injection in ids, and
//! filters no provider can carry. Provider tests run it and count the
//! requests that reached the wire (none may).

use crate::provider::validate::field;
use crate::{InstanceConfig, InstanceFilter, Tags};

/// One bad launch config and the field the error must name.
#[derive(Debug, Clone)]
pub struct BadConfig {
    /// What is wrong, for messages.
    pub what: &'static str,
    /// The config.
    pub config: InstanceConfig,
    /// The field `InvalidArgument` must name.
    pub field: &'static str,
}

/// Launch configs every provider refuses, derived from a `valid` one: each
/// breaks one rule beyond every provider's limit (no provider takes 65
/// tags, a 1 MiB user data, a 2,000-character tag key, …).
pub fn bad_configs(valid: &InstanceConfig) -> Vec<BadConfig> {
    let with = |what, field, change: &dyn Fn(&mut InstanceConfig)| {
        let mut config = valid.clone();
        change(&mut config);
        BadConfig {
            what,
            config,
            field,
        }
    };
    let many: Tags = (0..65).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    vec![
        with("empty image", field::IMAGE, &|c| c.image.clear()),
        with("blank image", field::IMAGE, &|c| c.image = "   ".into()),
        with("image with a newline", field::IMAGE, &|c| {
            c.image.push('\n')
        }),
        with("image with a NUL", field::IMAGE, &|c| c.image.push('\0')),
        with("empty instance type", field::INSTANCE_TYPE, &|c| {
            c.instance_type.clear()
        }),
        with("blank instance type", field::INSTANCE_TYPE, &|c| {
            c.instance_type = "\t".into()
        }),
        with(
            "instance type with a control character",
            field::INSTANCE_TYPE,
            &|c| c.instance_type.push('\u{7}'),
        ),
        with("empty tag key", field::TAGS, &|c| {
            c.tags.insert(String::new(), "v".into());
        }),
        with("tag key with a control character", field::TAGS, &|c| {
            c.tags.insert("bad\u{1}key".into(), "v".into());
        }),
        with("tag value with a newline", field::TAGS, &|c| {
            c.tags.insert("k".into(), "a\nb".into());
        }),
        with(
            "tag value with a NUL (ends a filter early)",
            field::TAGS,
            &|c| {
                c.tags.insert("k".into(), "a\0 OR x".into());
            },
        ),
        with("2,000-character tag key", field::TAGS, &|c| {
            c.tags.insert("k".repeat(2000), "v".into());
        }),
        with("2,000-character tag value", field::TAGS, &|c| {
            c.tags.insert("k".into(), "v".repeat(2000));
        }),
        with("65 tags", field::TAGS, &|c| c.tags.extend(many.clone())),
        with(
            "the ownership marker's key, in another case",
            field::TAGS,
            &|c| {
                c.tags
                    .insert(crate::OWNER_TAG.to_ascii_uppercase(), "someone".into());
            },
        ),
        with("1 MiB of user data", field::USER_DATA, &|c| {
            c.user_data = Some(vec![b'x'; 1024 * 1024].into());
        }),
        with("a 0 GB disk", field::DISK_SIZE_GB, &|c| {
            c.disk_size_gb = Some(0)
        }),
        with("a 1,000,000 GB disk", field::DISK_SIZE_GB, &|c| {
            c.disk_size_gb = Some(1_000_000);
        }),
        with("a spot price that is not a number", field::CAPACITY, &|c| {
            c.capacity = crate::Capacity::Spot(
                crate::SpotOptions::default().with_max_price_per_hour("cheap"),
            );
        }),
        with("a zone that is a path", field::PLACEMENT, &|c| {
            c.placement = crate::Placement::in_zone("../../x");
        }),
        with("empty idempotency key", field::IDEMPOTENCY_KEY, &|c| {
            c.idempotency_key = Some(String::new());
        }),
        with(
            "idempotency key with a space",
            field::IDEMPOTENCY_KEY,
            &|c| {
                c.idempotency_key = Some("slot 1".into());
            },
        ),
        with("non-ASCII idempotency key", field::IDEMPOTENCY_KEY, &|c| {
            c.idempotency_key = Some("slöt-1".into());
        }),
        with(
            "200-character idempotency key",
            field::IDEMPOTENCY_KEY,
            &|c| {
                c.idempotency_key = Some("k".repeat(200));
            },
        ),
        with(
            "idempotency key with a newline",
            field::IDEMPOTENCY_KEY,
            &|c| {
                c.idempotency_key = Some("a\nb".into());
            },
        ),
    ]
}

/// Ids every provider refuses: traversal, injection into a URL or a query,
/// whitespace, control characters, absurd lengths.
pub fn bad_ids() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "../../x".into(),
        "a/../../b".into(),
        "%2e%2e%2fx".into(),
        "x?api-version=1".into(),
        "x#fragment".into(),
        "x y".into(),
        "x\n".into(),
        "x\0".into(),
        "\u{202E}x".into(),
        "x".repeat(1000),
    ]
}

/// List filters every provider refuses: tags no cloud can carry.
pub fn bad_filters() -> Vec<InstanceFilter> {
    vec![
        InstanceFilter::tagged([("", "v")]),
        InstanceFilter::tagged([("k\u{1}", "v")]),
        InstanceFilter::tagged([("k", "a\nb")]),
        InstanceFilter::tagged([("k".repeat(2000), "v".to_owned())]),
        // The marker is not a caller's tag: no filter can name it.
        InstanceFilter::tagged([(crate::OWNER_TAG, "provisioner")]),
    ]
}

/// Runs the whole table on `provisioner`: every bad config on launch, every
/// bad id on the five calls that take one, every bad filter on list. Returns
/// how many inputs were tried and a line for each one not refused with
/// `InvalidArgument` naming the right field. Counting the requests that
/// reached the cloud is the caller's part (an emulator counts them).
pub async fn check_bad_inputs(
    provisioner: &dyn crate::InstanceProvisioner,
    valid: &InstanceConfig,
) -> (usize, Vec<String>) {
    fn named(result: Result<impl Sized, crate::Error>) -> Option<String> {
        match result {
            Err(crate::Error::InvalidArgument { field, .. }) => Some(field),
            _ => None,
        }
    }
    let mut tried = 0;
    let mut problems = Vec::new();
    for bad in bad_configs(valid) {
        tried += 1;
        let got = named(provisioner.launch_instance(&bad.config).await);
        if got.as_deref() != Some(bad.field) {
            problems.push(format!(
                "launch with {}: got {got:?}, want {:?}",
                bad.what, bad.field
            ));
        }
    }
    for id in bad_ids() {
        let p = provisioner;
        let results = [
            ("describe", named(p.describe_instance(&id).await)),
            ("stop", named(p.stop_instance(&id).await)),
            ("start", named(p.start_instance(&id).await)),
            ("terminate", named(p.terminate_instance(&id).await)),
        ];
        for (op, got) in results {
            tried += 1;
            if got.as_deref() != Some(field::INSTANCE_ID) {
                problems.push(format!("{op} of {id:.40?}: got {got:?}, want instance_id"));
            }
        }
    }
    for filter in bad_filters() {
        tried += 1;
        let got = named(provisioner.list_instances(&filter).await);
        if got.as_deref() != Some(field::TAGS) {
            problems.push(format!(
                "list of {:.60?}: got {got:?}, want tags",
                filter.tags
            ));
        }
    }
    (tried, problems)
}
