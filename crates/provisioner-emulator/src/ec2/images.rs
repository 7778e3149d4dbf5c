//! DescribeImages: any well-formed `ami-` id named by `ImageId.N` is an
//! image of this account (`emulated-…`, x86_64, EBS root `/dev/xvda` of
//! 8 GiB), and a small catalog of public images stands for what EC2 lists
//! to every account, so that the usual lookup of the latest image works:
//! `Owner.N=amazon` (or an owner id) with a `name` filter such as
//! `al2023-ami-*-x86_64`. Owners and filters apply to both. Without an
//! id, an owner or a filter EC2 lists every image the account may launch;
//! here that is the catalog.

use super::filters::{any, Pattern};
use super::*;

/// Amazon's account, the owner of Amazon Linux images (alias `amazon`).
const AMAZON: &str = "137112412989";
/// Canonical's account, the owner of Ubuntu images (no alias).
const CANONICAL: &str = "099720109477";

/// One image as DescribeImages shows it.
struct Image<'a> {
    id: &'a str,
    name: String,
    owner_id: &'a str,
    owner_alias: Option<&'static str>,
    architecture: &'static str,
    public: bool,
    created: &'static str,
}

/// The public images every account sees: (id, name, owner, architecture,
/// creation date).
const CATALOG: &[(&str, &str, &str, &str, &str)] = &[
    (
        "ami-0a1b2c3d4e5f60001",
        "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64",
        AMAZON,
        "x86_64",
        "2024-11-21T18:29:54.000Z",
    ),
    (
        "ami-0a1b2c3d4e5f60002",
        "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64",
        AMAZON,
        "x86_64",
        "2024-12-12T20:05:35.000Z",
    ),
    (
        "ami-0a1b2c3d4e5f60003",
        "al2023-ami-2023.6.20241212.0-kernel-6.1-arm64",
        AMAZON,
        "arm64",
        "2024-12-12T20:05:41.000Z",
    ),
    (
        "ami-0a1b2c3d4e5f60004",
        "amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2",
        AMAZON,
        "x86_64",
        "2024-12-17T22:41:08.000Z",
    ),
    (
        "ami-0a1b2c3d4e5f60005",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241206",
        CANONICAL,
        "x86_64",
        "2024-12-06T07:13:22.000Z",
    ),
];

fn catalog() -> impl Iterator<Item = Image<'static>> {
    CATALOG
        .iter()
        .map(|(id, name, owner, architecture, created)| Image {
            id,
            name: (*name).to_owned(),
            owner_id: owner,
            owner_alias: (*owner == AMAZON).then_some("amazon"),
            architecture,
            public: true,
            created,
        })
}

/// The image `id` names: the catalog's, else one of this account.
fn named(id: &str) -> Image<'_> {
    catalog().find(|i| i.id == id).unwrap_or(Image {
        id,
        name: format!("emulated-{id}"),
        owner_id: OWNER,
        owner_alias: None,
        architecture: "x86_64",
        public: false,
        created: "2024-01-01T00:00:00.000Z",
    })
}

/// One DescribeImages filter.
enum ImageFilter {
    Name(Vec<Pattern>),
    Architecture(Vec<Pattern>),
    State(Vec<Pattern>),
    OwnerAlias(Vec<Pattern>),
    OwnerId(Vec<Pattern>),
    ImageId(Vec<Pattern>),
    IsPublic(Vec<Pattern>),
}

impl ImageFilter {
    fn parse(params: &Params) -> Result<Vec<Self>, WireError> {
        let mut out = Vec::new();
        for f in params.members("Filter") {
            let values: Vec<Pattern> = f.strings("Value").iter().map(|v| Pattern::new(v)).collect();
            out.push(match f.get("Name").unwrap_or_default() {
                "name" => Self::Name(values),
                "architecture" => Self::Architecture(values),
                "state" => Self::State(values),
                "owner-alias" => Self::OwnerAlias(values),
                "owner-id" => Self::OwnerId(values),
                "image-id" => Self::ImageId(values),
                "is-public" => Self::IsPublic(values),
                other => return Err(invalid(format!("The filter '{other}' is invalid"))),
            });
        }
        Ok(out)
    }

    fn admits(&self, i: &Image<'_>) -> bool {
        match self {
            Self::Name(p) => any(p, &i.name),
            Self::Architecture(p) => any(p, i.architecture),
            Self::State(p) => any(p, "available"),
            Self::OwnerAlias(p) => i.owner_alias.is_some_and(|a| any(p, a)),
            Self::OwnerId(p) => any(p, i.owner_id),
            Self::ImageId(p) => any(p, i.id),
            Self::IsPublic(p) => any(p, &i.public.to_string()),
        }
    }
}

/// Whether `Owner.N` admits `i`: `self`, an alias (`amazon`), or an
/// account id.
fn owned_by(owners: &[String], i: &Image<'_>) -> bool {
    owners.is_empty()
        || owners.iter().any(|o| match o.as_str() {
            "self" => i.owner_id == OWNER,
            alias if !alias.bytes().all(|b| b.is_ascii_digit()) => i.owner_alias == Some(alias),
            id => i.owner_id == id,
        })
}

pub(super) fn describe_images(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let ids = params.strings("ImageId");
    for id in &ids {
        check_image_id(id)?;
    }
    let owners = params.strings("Owner");
    let filters = ImageFilter::parse(params)?;
    let candidates: Vec<Image<'_>> = if ids.is_empty() {
        catalog().collect()
    } else {
        ids.iter().map(|id| named(id)).collect()
    };
    let images: Vec<Image<'_>> = candidates
        .into_iter()
        .filter(|i| owned_by(&owners, i) && filters.iter().all(|f| f.admits(i)))
        .collect();
    Ok(Xml::response("DescribeImagesResponse", request_id, |x| {
        x.items("imagesSet", &images, |x, i| image(state, x, i));
    }))
}

fn image(state: &AppState, x: &mut Xml, i: &Image<'_>) {
    x.leaf("imageId", i.id);
    x.leaf("imageLocation", format!("{}/{}", i.owner_id, i.name));
    x.leaf("imageState", "available");
    x.leaf("imageOwnerId", i.owner_id);
    x.leaf("creationDate", i.created);
    x.leaf("isPublic", i.public);
    x.leaf("architecture", i.architecture);
    x.leaf("imageType", "machine");
    if let Some(alias) = i.owner_alias {
        x.leaf("imageOwnerAlias", alias);
    }
    x.leaf("name", &i.name);
    x.leaf("rootDeviceType", "ebs");
    x.leaf("rootDeviceName", ROOT_DEVICE);
    x.items("blockDeviceMapping", [ROOT_DEVICE], |x, device| {
        x.leaf("deviceName", device);
        x.elem("ebs", |x| {
            x.leaf(
                "snapshotId",
                format!("snap-{}", i.id.trim_start_matches("ami-")),
            );
            x.leaf("volumeSize", volumes::IMAGE_ROOT_GB);
            x.leaf(
                "deleteOnTermination",
                state.ec2_volumes.image_deletes_root(i.id),
            );
            x.leaf("volumeType", "gp3");
            x.leaf("encrypted", false);
        });
    });
    x.leaf("virtualizationType", "hvm");
    x.leaf("hypervisor", "xen");
}
