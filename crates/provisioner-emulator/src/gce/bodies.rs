//! The Compute Engine face's request and resource bodies: an insert read
//! into a launch config (names, labels and metadata checked as Compute
//! Engine checks them), an instance as compute/v1 JSON.

use super::*;

/// RFC 1035 labels: what Compute Engine accepts as a name or zone.
pub(super) fn check_name(what: &str, name: &str) -> Result<(), GceError> {
    let bytes = name.as_bytes();
    let ok = (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(GceError::invalid(format!(
            "Invalid value for field '{what}': '{name}'. Must be a match of regex '[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?'"
        )))
    }
}

/// Compute Engine's label rules: keys start with a lowercase letter; keys
/// and values use lowercase letters, digits, `_` and `-`, 63 at most.
pub(super) fn check_labels(labels: &Tags) -> Result<(), GceError> {
    let allowed = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    for (key, value) in labels {
        let ok = key.len() <= 63
            && key.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && allowed(key)
            && value.len() <= 63
            && allowed(value);
        if !ok {
            return Err(GceError::invalid(format!(
                "Invalid value for field 'resource.labels': '{key}'. Label keys and values must use lowercase letters, digits, '_' and '-'"
            )));
        }
    }
    if labels.len() > 64 {
        return Err(GceError::invalid("At most 64 labels"));
    }
    Ok(())
}

pub(super) fn instance_json(state: &AppState, project: &str, r: &InstanceRecord) -> Value {
    let zone = r.attributes.get(ZONE).map_or("", String::as_str);
    let name = last_segment(&r.id);
    let mut nic = Map::new();
    nic.insert("kind".into(), "compute#networkInterface".into());
    nic.insert("name".into(), "nic0".into());
    nic.insert(
        "network".into(),
        r.attributes
            .get(NETWORK)
            .cloned()
            .unwrap_or_else(|| format!("{BASE}/projects/{project}/global/networks/default"))
            .into(),
    );
    if let Some(subnetwork) = r.attributes.get(SUBNETWORK) {
        nic.insert("subnetwork".into(), subnetwork.clone().into());
    }
    if let Some(ip) = r.private_ip {
        nic.insert("networkIP".into(), ip.to_string().into());
    }
    if r.attributes.contains_key(EXTERNAL) {
        let mut access = json!({"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT", "name": "External NAT"});
        if let Some(ip) = r.public_ip {
            access["natIP"] = ip.to_string().into();
        }
        nic.insert("accessConfigs".into(), json!([access]));
    }
    let metadata: Vec<Value> = r
        .attributes
        .iter()
        .filter_map(|(k, v)| Some(json!({"key": k.strip_prefix(METADATA)?, "value": v})))
        .collect();
    let mut disk = json!({
        "kind": "compute#attachedDisk",
        "type": "PERSISTENT",
        "mode": "READ_WRITE",
        "source": format!("{BASE}/{}", disks::disk_path(project, zone, disks::disk_name(r))),
        "deviceName": "persistent-disk-0",
        "index": 0,
        "boot": true,
        "autoDelete": disks::auto_deleted(r),
        "interface": "SCSI",
    });
    if let Some(gb) = r.config.disk_size_gb {
        disk["diskSizeGb"] = gb.to_string().into();
    }
    let mut instance = json!({
        "kind": "compute#instance",
        "id": numeric_id(&r.id).to_string(),
        "creationTimestamp": r.launch_time.format(&Rfc3339).unwrap_or_default(),
        "name": name,
        "machineType": format!("{BASE}/projects/{project}/zones/{zone}/machineTypes/{}", r.config.instance_type),
        "status": status_of(state, r),
        "zone": format!("{BASE}/projects/{project}/zones/{zone}"),
        "networkInterfaces": [Value::Object(nic)],
        "disks": [disk],
        "metadata": {"kind": "compute#metadata", "fingerprint": metadata_fingerprint(r), "items": metadata},
        "labels": &*r.config.tags,
        "labelFingerprint": label_fingerprint(r),
        "selfLink": format!("{BASE}/{}", r.id),
        "scheduling": spot::scheduling_json(&r.config.capacity),
        "lastStartTimestamp": r.last_start.format(&Rfc3339).unwrap_or_default(),
    });
    if let Some(reason) = r.state_reason {
        instance["statusMessage"] = reason.into();
    }
    if let Some(email) = r.attributes.get(SERVICE_ACCOUNT) {
        let scopes: Vec<&str> = r
            .attributes
            .get(SCOPES)
            .map_or(Vec::new(), |s| s.split(' ').collect());
        instance["serviceAccounts"] = json!([{"email": email, "scopes": scopes}]);
    }
    instance
}

pub(super) fn string_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Metadata `items` as the model's attributes (`metadata.KEY`), checked as
/// Compute Engine checks them: keys of 1 to 128 letters, digits, `-` and
/// `_`; 512 KB in all.
pub(super) fn metadata_items(items: Option<&Value>) -> Result<Vec<(String, String)>, GceError> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for item in items.and_then(Value::as_array).into_iter().flatten() {
        let key = string_at(item, "/key").unwrap_or_default();
        let value = string_at(item, "/value").unwrap_or_default();
        let key_ok = (1..=128).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !key_ok {
            return Err(GceError::invalid(format!(
                "Invalid value for field 'resource.metadata': '{key}'"
            )));
        }
        bytes += key.len() + value.len();
        out.push((format!("{METADATA}{key}"), value.to_owned()));
    }
    if bytes > 512 * 1024 {
        return Err(GceError::invalid("Metadata is limited to 512 KB in total"));
    }
    Ok(out)
}

/// The model launch an insert body asks for.
pub(super) fn parse_insert(
    zone: &str,
    body: &Value,
) -> Result<(String, InstanceConfig, Attributes), GceError> {
    let name = string_at(body, "/name")
        .ok_or_else(|| GceError::invalid("Required field 'resource.name' not specified"))?;
    check_name("resource.name", name)?;
    let machine_type = string_at(body, "/machineType")
        .ok_or_else(|| GceError::invalid("Required field 'resource.machineType' not specified"))?;
    let image = string_at(body, "/disks/0/initializeParams/sourceImage").ok_or_else(|| {
        GceError::invalid(
            "Required field 'resource.disks[0].initializeParams.sourceImage' not specified",
        )
    })?;
    let mut config = InstanceConfig::new(image, last_segment(machine_type));
    if let Some(size) = body.pointer("/disks/0/initializeParams/diskSizeGb") {
        let gb = size
            .as_str()
            .and_then(|s| s.parse::<u32>().ok())
            .or_else(|| size.as_u64().and_then(|n| u32::try_from(n).ok()))
            .filter(|gb| (10..=65_536).contains(gb))
            .ok_or_else(|| {
                GceError::invalid(
                    "Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb'",
                )
            })?;
        config.disk_size_gb = Some(gb);
    }
    if let Some(labels) = body.get("labels").and_then(Value::as_object) {
        for (k, v) in labels {
            config
                .tags
                .insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    check_labels(&config.tags)?;
    config.capacity = spot::capacity(body.get("scheduling"))?;
    let mut attributes = Attributes::new();
    attributes.insert(ZONE.to_owned(), zone.to_owned());
    attributes.extend(disks::boot_disk(body, name)?);
    attributes.extend(metadata_items(body.pointer("/metadata/items"))?);
    if let Some(network) = string_at(body, "/networkInterfaces/0/network") {
        attributes.insert(NETWORK.to_owned(), network.to_owned());
    }
    if let Some(subnetwork) = string_at(body, "/networkInterfaces/0/subnetwork") {
        attributes.insert(SUBNETWORK.to_owned(), subnetwork.to_owned());
    }
    let external = body
        .pointer("/networkInterfaces/0/accessConfigs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if external {
        attributes.insert(EXTERNAL.to_owned(), "ONE_TO_ONE_NAT".to_owned());
    }
    if let Some(email) = string_at(body, "/serviceAccounts/0/email") {
        attributes.insert(SERVICE_ACCOUNT.to_owned(), email.to_owned());
        let scopes: Vec<&str> = body
            .pointer("/serviceAccounts/0/scopes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        attributes.insert(SCOPES.to_owned(), scopes.join(" "));
    }
    Ok((name.to_owned(), config, attributes))
}
