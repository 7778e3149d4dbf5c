//! The EC2 face: the Query API (`POST /`, form-encoded `Action=…`) over the
//! shared model, answering in EC2's XML shapes.
//!
//! Supported actions: RunInstances, DescribeInstances,
//! DescribeInstanceStatus, TerminateInstances, StopInstances,
//! StartInstances, CreateTags, DeleteTags, DescribeImages, DescribeVolumes,
//! DeleteVolume, each with `DryRun`. RunInstances launches MinCount to
//! MaxCount instances in one reservation, each with its root volume (see
//! [`volumes`]). Images are not stored: every well-formed `ami-` id names an
//! available x86_64 EBS image whose root device is `/dev/xvda` (8 GiB), and
//! a small catalog of public images (Amazon's, Canonical's) answers
//! lookups by owner and name ([`images`]).
//! Calls naming several
//! instances are applied one by one, so an error part-way leaves the earlier
//! ones applied (EC2 itself checks every id first).

mod checks;
mod filters;
mod images;
mod mapping;
mod params;
mod status;
mod tags;
mod volumes;
mod xml;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use provisioner_core::{
    Capacity, CloudInstanceState, InstanceConfig, InstanceFilter, OnReclaim, SpotOptions, Tags,
    UserData,
};
use provisioner_fake::InstanceRecord;
use time::format_description::well_known::Rfc3339;

use crate::wire::{request_id, DropConnection};
use crate::AppState;
use checks::{
    check_image_id, check_instance_id, check_tag, check_tag_count, instance_tags, invalid,
    required, resource_tags,
};
use filters::filters;
use mapping::WireError;
use params::Params;
use xml::Xml;

pub(crate) use volumes::Volumes;

/// The root device of every emulated image.
const ROOT_DEVICE: &str = "/dev/xvda";
/// The account that owns everything here.
const OWNER: &str = "123456789012";
const ZONE: &str = "us-east-1a";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/", post(handle))
}

type Outcome = Result<String, WireError>;

async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = request_id();
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(message) => {
            return error_response(
                &WireError::bad_request("MalformedQueryString", message),
                &request_id,
            )
        }
    };
    let action = params.get("Action").unwrap_or_default().to_owned();
    if !signed {
        let e = WireError {
            status: StatusCode::UNAUTHORIZED,
            code: "AuthFailure",
            message: "AWS was not able to validate the provided access credentials".into(),
        };
        return error_response(&e, &request_id);
    }
    let outcome = match action.as_str() {
        _ if params.get("DryRun") == Some("true") => dry_run(&action, &params),
        "RunInstances" => run_instances(&state, &params, &request_id).await,
        "DescribeInstances" => describe_instances(&state, &params, &request_id).await,
        "TerminateInstances" => {
            change_states(&state, &params, &request_id, Change::Terminate).await
        }
        "StopInstances" => change_states(&state, &params, &request_id, Change::Stop).await,
        "StartInstances" => change_states(&state, &params, &request_id, Change::Start).await,
        "DescribeImages" => images::describe_images(&state, &params, &request_id),
        "DescribeInstanceStatus" => {
            status::describe_instance_status(&state, &params, &request_id).await
        }
        "CreateTags" => tags::create_tags(&state, &params, &request_id).await,
        "DeleteTags" => tags::delete_tags(&state, &params, &request_id).await,
        "DescribeVolumes" => volumes::describe_volumes(&state, &params, &request_id),
        "DeleteVolume" => volumes::delete_volume(&state, &params, &request_id),
        other => Err(WireError::bad_request(
            "InvalidAction",
            format!("The action {other:?} is not valid for this web service"),
        )),
    };
    let mut response = match outcome {
        Ok(xml) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
            xml,
        )
            .into_response(),
        Err(e) => error_response(&e, &request_id),
    };
    if response.status().is_success() && state.wire.take_drop(&action) {
        response.extensions_mut().insert(DropConnection);
    }
    response
}

/// `DryRun=true`: the request is checked as it would be, then refused
/// with 412 `DryRunOperation` ("would have succeeded"); nothing changes.
/// (Every caller here holds every permission, so `UnauthorizedOperation`
/// never comes.)
fn dry_run(action: &str, params: &Params) -> Outcome {
    match action {
        "RunInstances" => {
            check_image_id(required(params, "ImageId")?)?;
            required(params, "InstanceType")?;
            instance_tags(params)?;
        }
        "DescribeInstances" | "DescribeInstanceStatus" => {
            filters(params)?;
            params
                .strings("InstanceId")
                .iter()
                .try_for_each(|id| check_instance_id(id))?;
        }
        "TerminateInstances" | "StopInstances" | "StartInstances" => {
            let ids = params.strings("InstanceId");
            if ids.is_empty() {
                required(params, "InstanceId.1")?;
            }
            ids.iter().try_for_each(|id| check_instance_id(id))?;
        }
        "CreateTags" | "DeleteTags" | "DescribeImages" | "DescribeVolumes" => {}
        "DeleteVolume" => {
            required(params, "VolumeId")?;
        }
        other => {
            return Err(WireError::bad_request(
                "InvalidAction",
                format!("The action {other:?} is not valid for this web service"),
            ))
        }
    }
    Err(WireError {
        status: StatusCode::PRECONDITION_FAILED,
        code: "DryRunOperation",
        message: "Request would have succeeded, but DryRun flag is set.".into(),
    })
}

/// An error this face's handlers never produced (no such route, a refused
/// extractor), in EC2's envelope.
pub(crate) fn wire_error(status: StatusCode, message: &str) -> Response {
    let code = match status.as_u16() {
        404 | 405 => "InvalidAction",
        500..=599 => "InternalError",
        _ => "InvalidParameterValue",
    };
    let e = WireError {
        status,
        code,
        message: message.to_owned(),
    };
    error_response(&e, &request_id())
}

fn error_response(e: &WireError, request_id: &str) -> Response {
    (
        e.status,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        Xml::error(e.code, &e.message, request_id),
    )
        .into_response()
}

async fn run_instances(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let image = required(params, "ImageId")?;
    check_image_id(image)?;
    let instance_type = required(params, "InstanceType")?;
    let count = |name: &str| -> Result<usize, WireError> {
        required(params, name)?
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PER_REQUEST).contains(n))
            .ok_or_else(|| invalid(format!("{name} must be between 1 and {MAX_PER_REQUEST}")))
    };
    let (min, max) = (count("MinCount")?, count("MaxCount")?);
    if min > max {
        return Err(invalid("MinCount must be less than or equal to MaxCount"));
    }
    let mut config = InstanceConfig::new(image, instance_type);
    config.tags = instance_tags(params)?;
    if let Some(encoded) = params.get("UserData") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| invalid("Invalid BASE64 encoding of user data"))?;
        if bytes.len() > 16 * 1024 {
            return Err(invalid("User data is limited to 16384 bytes"));
        }
        config.user_data = Some(UserData::new(bytes));
    }
    for mapping in params.members("BlockDeviceMapping") {
        if mapping.get("DeviceName") != Some(ROOT_DEVICE) {
            continue;
        }
        if let Some(size) = mapping.get("Ebs.VolumeSize") {
            let gb: u32 = size
                .parse()
                .ok()
                .filter(|gb| (8..=16_384).contains(gb))
                .ok_or_else(|| {
                    invalid(format!(
                        "Volume of {size} GiB is outside 8..=16384 for this image"
                    ))
                })?;
            config.disk_size_gb = Some(gb);
        }
    }
    if let Some(token) = params.get("ClientToken") {
        if token.is_empty() || token.len() > 64 || !token.is_ascii() {
            return Err(invalid("ClientToken must be 1 to 64 ASCII characters"));
        }
        config.idempotency_key = Some(token.to_owned());
    }
    config.capacity = market(params)?;
    if let Some(zone) = params.get("Placement.AvailabilityZone") {
        if !ZONES.contains(&zone) {
            return Err(invalid(format!("Invalid availability zone: [{zone}]")));
        }
        config.placement.zone = Some(zone.to_owned());
    }
    let volume_tags = resource_tags(params, "volume")?;
    let mut attributes = provisioner_fake::Attributes::new();
    let deletes_root = volumes::root_delete_asked(&state.ec2_volumes, image, params)?;
    attributes.insert(volumes::ROOT_DELETE.to_owned(), deletes_root.to_string());
    let launched = launch_reservation(state, &config, &attributes, min, max).await?;
    for record in &launched {
        state
            .ec2_volumes
            .launched(&state.cloud, record, &volume_tags);
    }
    Ok(Xml::response("RunInstancesResponse", request_id, |x| {
        x.leaf("reservationId", reservation_id(&launched[0]));
        x.leaf("ownerId", OWNER);
        x.elem("groupSet", |_| {});
        x.items("instancesSet", &launched, instance);
    }))
}

/// The zones of the emulated region.
const ZONES: [&str; 6] = [
    "us-east-1a",
    "us-east-1b",
    "us-east-1c",
    "us-east-1d",
    "us-east-1e",
    "us-east-1f",
];

/// The capacity `InstanceMarketOptions` asks for. A one-time spot request
/// is interrupted by termination only: EC2 stops or hibernates the
/// instances of persistent requests alone.
fn market(params: &Params) -> Result<Capacity, WireError> {
    match params.get("InstanceMarketOptions.MarketType") {
        None => return Ok(Capacity::OnDemand),
        Some("spot") => {}
        Some(other) => {
            return Err(invalid(format!(
                "Value ({other}) for parameter marketType is invalid"
            )))
        }
    }
    let spot = |key: &str| params.get(&format!("InstanceMarketOptions.SpotOptions.{key}"));
    let one_time = match spot("SpotInstanceType") {
        None | Some("one-time") => true,
        Some("persistent") => false,
        Some(other) => {
            return Err(invalid(format!(
                "Value ({other}) for parameter spotInstanceType is invalid"
            )))
        }
    };
    let on_reclaim = match spot("InstanceInterruptionBehavior") {
        None | Some("terminate") => OnReclaim::Terminate,
        Some("stop") if !one_time => OnReclaim::Stop,
        Some(behavior @ ("stop" | "hibernate")) => {
            // EC2's words (quoted by Terraform, boto and SDK users).
            return Err(WireError::bad_request(
                "InvalidParameterCombination",
                format!("The request with type 'one-time' is not supported when instanceInterruptionBehavior is set to '{behavior}'."),
            ));
        }
        Some(other) => {
            return Err(invalid(format!(
                "Value ({other}) for parameter instanceInterruptionBehavior is invalid"
            )))
        }
    };
    let mut options = SpotOptions::default().with_on_reclaim(on_reclaim);
    if let Some(price) = spot("MaxPrice") {
        if price.parse::<f64>().map_or(true, |p| p <= 0.0) {
            return Err(invalid(format!("Invalid max price: {price}")));
        }
        options = options.with_max_price_per_hour(price);
    }
    Ok(Capacity::Spot(options))
}

/// The most instances one RunInstances asks for here.
const MAX_PER_REQUEST: usize = 1000;
/// Between a ClientToken and an instance's index in a multi-instance
/// request: not ASCII, so no caller's token contains it.
const TOKEN_INDEX: char = '\u{b7}';
/// The attribute naming an instance's reservation, when it is not the
/// instance's own (the second and later instances of one request).
const RESERVATION: &str = "reservation";

/// One RunInstances: up to `max` instances in one reservation, at least
/// `min`, or none. With a ClientToken, instance `i` is keyed by the token
/// (the first) or `token·i`, so a retry returns the same instances; the
/// later ones carry the first one's reservation.
async fn launch_reservation(
    state: &AppState,
    config: &InstanceConfig,
    attributes: &provisioner_fake::Attributes,
    min: usize,
    max: usize,
) -> Result<Vec<InstanceRecord>, WireError> {
    let mut launched: Vec<InstanceRecord> = Vec::with_capacity(max);
    for i in 0..max {
        let mut one = config.clone();
        let mut attributes = attributes.clone();
        if i > 0 {
            if let Some(token) = &config.idempotency_key {
                one.idempotency_key = Some(format!("{token}{TOKEN_INDEX}{i}"));
            }
            attributes.insert(RESERVATION.to_owned(), reservation_id(&launched[0]));
        }
        match state.cloud.launch_with(&one, attributes).await {
            Ok(record) => launched.push(record),
            // EC2 launches as many as it can up to MaxCount, and none when
            // it cannot launch MinCount.
            Err(_) if i >= min => break,
            Err(e) => {
                for record in &launched {
                    let _ = state.cloud.terminate(&record.id).await;
                }
                return Err(mapping::error(&e));
            }
        }
    }
    Ok(launched)
}

fn reservation_id(record: &InstanceRecord) -> String {
    match record.attributes.get(RESERVATION) {
        Some(reservation) => reservation.clone(),
        None => format!("r-{}", record.id.trim_start_matches("i-")),
    }
}

/// Records grouped by reservation, in the order of each reservation's
/// first record, as DescribeInstances lists them.
fn by_reservation(records: &[InstanceRecord]) -> Vec<(String, Vec<&InstanceRecord>)> {
    let mut groups: Vec<(String, Vec<&InstanceRecord>)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for r in records {
        let id = reservation_id(r);
        match at.get(&id) {
            Some(&i) => groups[i].1.push(r),
            None => {
                at.insert(id.clone(), groups.len());
                groups.push((id, vec![r]));
            }
        }
    }
    groups
}

fn instance(x: &mut Xml, r: &InstanceRecord) {
    let (name, code) = mapping::state(r.state);
    x.leaf("instanceId", &*r.id);
    x.leaf("imageId", &r.config.image);
    x.elem("instanceState", |x| {
        x.leaf("code", code);
        x.leaf("name", name);
    });
    match r.private_ip {
        Some(ip) => x.leaf(
            "privateDnsName",
            format!("ip-{}.ec2.internal", ip.to_string().replace('.', "-")),
        ),
        None => x.leaf("privateDnsName", ""),
    }
    x.leaf("dnsName", "");
    x.leaf(
        "reason",
        mapping::state_reason(r)
            .map(|(_, message)| message)
            .unwrap_or_default(),
    );
    x.leaf("amiLaunchIndex", 0);
    x.leaf("instanceType", &r.config.instance_type);
    let launched = r.launch_time.format(&Rfc3339).unwrap_or_default();
    x.leaf("launchTime", launched);
    x.elem("placement", |x| {
        x.leaf(
            "availabilityZone",
            r.config.placement.zone.as_deref().unwrap_or(ZONE),
        );
        x.leaf("tenancy", "default");
    });
    if r.config.capacity.is_spot() {
        x.leaf("instanceLifecycle", "spot");
        x.leaf("spotInstanceRequestId", spot_request_id(r));
    }
    x.elem("monitoring", |x| x.leaf("state", "disabled"));
    if let Some(ip) = r.private_ip {
        x.leaf("privateIpAddress", ip);
    }
    if let Some(ip) = r.public_ip {
        x.leaf("ipAddress", ip);
    }
    x.leaf("architecture", "x86_64");
    x.leaf("rootDeviceType", "ebs");
    x.leaf("rootDeviceName", ROOT_DEVICE);
    volumes::block_device_mapping(x, r);
    x.leaf("virtualizationType", "hvm");
    if let Some(token) = &r.config.idempotency_key {
        // The caller's token, without the index of a multi-instance request.
        x.leaf(
            "clientToken",
            token.split(TOKEN_INDEX).next().unwrap_or(token),
        );
    }
    x.items("tagSet", &r.config.tags, |x, (k, v)| {
        x.leaf("key", k);
        x.leaf("value", v);
    });
    if let Some((code, message)) = mapping::state_reason(r) {
        x.elem("stateReason", |x| {
            x.leaf("code", code);
            x.leaf("message", message);
        });
    }
    x.leaf("hypervisor", "xen");
}

/// The id of the spot request behind a spot instance: `sir-` and 8
/// characters, stable for the instance.
fn spot_request_id(r: &InstanceRecord) -> String {
    format!(
        "sir-{:08x}",
        provisioner_core::provider::naming::stable_hash(r.id.as_bytes()) & 0xffff_ffff
    )
}

fn parse_token(token: &str) -> Result<u64, WireError> {
    token
        .strip_prefix("page-")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| invalid("The NextToken is invalid"))
}

/// The ids a describe names (`InstanceId.N`) and its `MaxResults` (5 to
/// 1000), which EC2 refuses together.
fn ids_or_page(params: &Params) -> Result<(Vec<String>, Option<usize>), WireError> {
    ids_or_page_of(params, ("InstanceId", "instancesSet"), 1000)
}

/// The ids a describe names (`{id}.N`) and its `MaxResults` (5 to `most`),
/// which EC2 refuses together, naming the describe's `set`.
fn ids_or_page_of(
    params: &Params,
    (id, set): (&str, &str),
    most: usize,
) -> Result<(Vec<String>, Option<usize>), WireError> {
    let ids = params.strings(id);
    let max_results = params
        .get("MaxResults")
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (5..=most).contains(n))
                .ok_or_else(|| invalid(format!("MaxResults must be between 5 and {most}")))
        })
        .transpose()?;
    if !ids.is_empty() && max_results.is_some() {
        return Err(WireError::bad_request(
            "InvalidParameterCombination",
            format!("The parameter {set} cannot be used with the parameter maxResults"),
        ));
    }
    Ok((ids, max_results))
}

/// The records a describe asks for ([`ids_or_page`]), those `keep` admits:
/// each id named (checked, then described), or else one page of the model's list under
/// `filter`, with the position the next page starts after.
async fn described(
    state: &AppState,
    params: &Params,
    (ids, max_results): (Vec<String>, Option<usize>),
    filter: &InstanceFilter,
    keep: impl Fn(&InstanceRecord) -> bool,
) -> Result<(Vec<InstanceRecord>, Option<u64>), WireError> {
    if ids.is_empty() {
        let after = params.get("NextToken").map(parse_token).transpose()?;
        let limit = max_results.unwrap_or(1000).min(state.settings.ec2_page_cap);
        let page = state
            .cloud
            .list(filter, after, limit)
            .await
            .map_err(|e| mapping::error(&e))?;
        let records = page.items.into_iter().filter(|r| keep(r)).collect();
        return Ok((records, page.next));
    }
    all_known(state, &ids)?;
    let mut records = Vec::with_capacity(ids.len());
    for id in &ids {
        let record = state
            .cloud
            .describe(id)
            .await
            .map_err(|e| mapping::error(&e))?;
        if keep(&record) {
            records.push(record);
        }
    }
    Ok((records, None))
}

async fn describe_instances(state: &AppState, params: &Params, request_id: &str) -> Outcome {
    let asked = ids_or_page(params)?;
    let (filter, residual) = filters(params)?;
    let admits = |r: &InstanceRecord| {
        filter.matches(&r.config.tags, r.state) && residual.iter().all(|f| f.admits(r))
    };
    let (records, next) = described(state, params, asked, &filter, admits).await?;
    Ok(Xml::response(
        "DescribeInstancesResponse",
        request_id,
        |x| {
            x.items(
                "reservationSet",
                by_reservation(&records),
                |x, (id, members)| {
                    x.leaf("reservationId", id);
                    x.leaf("ownerId", OWNER);
                    x.elem("groupSet", |_| {});
                    x.items("instancesSet", members, instance);
                },
            );
            if let Some(next) = next {
                x.leaf("nextToken", format!("page-{next:x}"));
            }
        },
    ))
}

/// Checks every id of a request before any is acted on: a malformed id is
/// `InvalidInstanceID.Malformed`, and unknown ones are one
/// `InvalidInstanceID.NotFound` naming them all. The model is read without
/// a call (as a request's validation, not an answer).
fn all_known(state: &AppState, ids: &[String]) -> Result<(), WireError> {
    for id in ids {
        check_instance_id(id)?;
    }
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| state.cloud.peek_state(id).is_none())
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(mapping::not_found(&missing))
    }
}

/// Refuses to stop a Spot Instance that a stop would not keep: the User
/// Guide lets only instances of persistent requests whose interruption
/// behavior is stop (or hibernate) be stopped. EC2's answer for a one-time
/// request, as users have quoted it; a persistent request that terminates
/// gets the same here (its exact words are not known).
fn stoppable(state: &AppState, id: &str) -> Result<(), WireError> {
    let spot = state.cloud.peek(id).and_then(|r| match &r.config.capacity {
        Capacity::Spot(spot) => Some(spot.on_reclaim),
        _ => None,
    });
    match spot {
        Some(on_reclaim) if on_reclaim != OnReclaim::Stop => Err(WireError::bad_request(
            "UnsupportedOperation",
            format!("You can't stop the Spot Instance '{id}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests."),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Terminate,
    Stop,
    Start,
}

async fn change_states(
    state: &AppState,
    params: &Params,
    request_id: &str,
    change: Change,
) -> Outcome {
    let ids = params.strings("InstanceId");
    if ids.is_empty() {
        required(params, "InstanceId.1")?;
    }
    all_known(state, &ids)?;
    if let Change::Stop = change {
        ids.iter().try_for_each(|id| stoppable(state, id))?;
    }
    let mut changed = Vec::with_capacity(ids.len());
    for id in &ids {
        let result = match change {
            Change::Terminate => state.cloud.terminate(id).await,
            Change::Stop => state.cloud.stop(id).await,
            Change::Start => state.cloud.start(id).await,
        };
        changed.push(result.map_err(|e| mapping::error(&e))?);
    }
    let root = match change {
        Change::Terminate => "TerminateInstancesResponse",
        Change::Stop => "StopInstancesResponse",
        Change::Start => "StartInstancesResponse",
    };
    Ok(Xml::response(root, request_id, |x| {
        x.items("instancesSet", &changed, |x, r| {
            x.leaf("instanceId", &*r.id);
            for (tag, s) in [
                ("currentState", r.state),
                ("previousState", r.previous_state),
            ] {
                let (name, code) = mapping::state(s);
                x.elem(tag, |x| {
                    x.leaf("code", code);
                    x.leaf("name", name);
                });
            }
        });
    }))
}

#[cfg(test)]
mod market_tests {
    use super::*;

    fn asked(body: &str) -> Result<Capacity, WireError> {
        market(&Params::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn a_one_time_request_is_interrupted_by_termination_only() {
        let base = "InstanceMarketOptions.MarketType=spot";
        assert!(matches!(asked(base), Ok(Capacity::Spot(_))));
        let stop =
            format!("{base}&InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior=stop");
        let refused = asked(&stop).unwrap_err();
        // EC2's words, as Terraform and SDK users quote them.
        assert_eq!(refused.code, "InvalidParameterCombination");
        assert_eq!(
            refused.message,
            "The request with type 'one-time' is not supported when instanceInterruptionBehavior is set to 'stop'."
        );
        let persistent =
            format!("{stop}&InstanceMarketOptions.SpotOptions.SpotInstanceType=persistent");
        assert!(asked(&persistent).is_ok());
    }
}
