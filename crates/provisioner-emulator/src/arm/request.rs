//! What a VM PUT body asks for, as the model's launch config and the wire
//! attributes this face keeps.

use super::*;

pub(super) fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The model launch a PUT body asks for.
pub(super) fn parse_vm(
    sub: &str,
    group: &str,
    name: &str,
    body: &Value,
) -> Result<(InstanceConfig, Attributes), ArmError> {
    let location = str_at(body, "/location")
        .ok_or_else(|| ArmError::invalid("The 'location' property is required."))?;
    let size = str_at(body, "/properties/hardwareProfile/vmSize")
        .ok_or_else(|| ArmError::invalid("The 'hardwareProfile.vmSize' property is required."))?;
    let image = body
        .pointer("/properties/storageProfile/imageReference")
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            ArmError::invalid("The 'storageProfile.imageReference' property is required.")
        })?;
    let image_text = match (
        str_at(image, "/id"),
        str_at(image, "/publisher"),
        str_at(image, "/offer"),
        str_at(image, "/sku"),
    ) {
        (Some(id), ..) => id.to_owned(),
        (None, Some(p), Some(o), Some(s)) => format!(
            "{p}:{o}:{s}:{}",
            str_at(image, "/version").unwrap_or("latest")
        ),
        _ => {
            return Err(ArmError::invalid(
                "imageReference needs an id, or publisher, offer and sku.",
            ))
        }
    };
    let mut config = InstanceConfig::new(image_text, size);
    if let Some(tags) = body.get("tags").and_then(Value::as_object) {
        config.tags = tags
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
    }
    check_tags(&config.tags)?;
    config.capacity = spot::capacity(body)?;
    if let Some(gb) = body.pointer("/properties/storageProfile/osDisk/diskSizeGB") {
        let gb = gb
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=4095).contains(n))
            .ok_or_else(|| ArmError::invalid("The 'osDisk.diskSizeGB' property is invalid."))?;
        config.disk_size_gb = Some(gb);
    }
    // customData is what cloud-init runs at first boot: the model's user
    // data. userData (read by the guest from the metadata service) is kept
    // as a wire attribute.
    if let Some(custom) = str_at(body, "/properties/osProfile/customData") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(custom)
            .map_err(|_| ArmError::invalid("The 'customData' property must be base64."))?;
        if bytes.len() > 65_535 {
            return Err(ArmError::invalid(
                "The 'customData' property is limited to 65535 bytes once decoded.",
            ));
        }
        config.user_data = Some(UserData::new(bytes));
    }
    let user_data = str_at(body, "/properties/userData");
    if let Some(user_data) = user_data {
        base64::engine::general_purpose::STANDARD
            .decode(user_data)
            .map_err(|_| ArmError::invalid("The 'userData' property must be base64."))?;
        if user_data.len() > 64 * 1024 {
            return Err(ArmError::invalid(
                "The 'userData' property is limited to 64 KB.",
            ));
        }
    }
    let mut a = Attributes::new();
    let mut set = |k: &str, v: &str| {
        a.insert(k.to_owned(), v.to_owned());
    };
    set(attr::SUBSCRIPTION, sub);
    set(attr::GROUP, group);
    set(attr::LOCATION, location);
    set(attr::IMAGE_REFERENCE, &image.to_string());
    if let Some(zone) = spot::zone(body)? {
        set(spot::ZONE, &zone);
    }
    if let Some(user_data) = user_data {
        set(attr::USER_DATA, user_data);
    }
    let mut os_profile = body
        .pointer("/properties/osProfile")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(profile) = os_profile.as_object_mut() {
        profile.remove("adminPassword");
        profile.remove("customData");
        profile.entry("secrets").or_insert_with(|| json!([]));
    }
    set(attr::OS_PROFILE, &os_profile.to_string());
    let network = body.pointer("/properties/networkProfile");
    let given = network.and_then(|n| n.pointer("/networkInterfaces/0"));
    let created = network.and_then(|n| n.pointer("/networkInterfaceConfigurations/0"));
    match (given, created) {
        // An existing NIC, named by id (the shape most tools send).
        (Some(nic), None) => {
            let id = str_at(nic, "/id")
                .filter(|id| is_resource_id(id, sub, NIC_KIND))
                .ok_or_else(|| {
                    ArmError::new(
                        StatusCode::BAD_REQUEST,
                        "LinkedInvalidPropertyId",
                        format!(
                            "Property id '{}' at path 'properties.networkProfile.networkInterfaces[0].id' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'.",
                            str_at(nic, "/id").unwrap_or_default()
                        ),
                    )
                })?;
            set(attr::NIC_ID, id);
            set(attr::NIC_GIVEN, "true");
            set(
                attr::NIC_DELETE,
                str_at(nic, "/properties/deleteOption").unwrap_or("Detach"),
            );
        }
        // A NIC created with the VM (2021-03-01 on).
        (None, Some(nic)) => {
            let subnet = str_at(nic, "/properties/ipConfigurations/0/properties/subnet/id")
                .ok_or_else(|| ArmError::invalid("The ipConfiguration's 'subnet.id' is required."))?;
            let nic_name = str_at(nic, "/name").map_or_else(|| format!("{name}-nic"), str::to_owned);
            set(attr::NIC_ID, &resource_id(sub, group, NIC_KIND, &nic_name));
            set(
                attr::NIC_DELETE,
                str_at(nic, "/properties/deleteOption").unwrap_or("Detach"),
            );
            set(attr::SUBNET, subnet);
            if let Some(nsg) = str_at(nic, "/properties/networkSecurityGroup/id") {
                set(attr::NSG, nsg);
            }
            if let Some(pip) = nic
                .pointer("/properties/ipConfigurations/0/properties/publicIPAddressConfiguration")
            {
                let pip_name =
                    str_at(pip, "/name").map_or_else(|| format!("{name}-pip"), str::to_owned);
                set(attr::PIP_ID, &resource_id(sub, group, PIP_KIND, &pip_name));
                set(
                    attr::PIP_DELETE,
                    str_at(pip, "/properties/deleteOption").unwrap_or("Detach"),
                );
            }
        }
        (Some(_), Some(_)) => {
            return Err(ArmError::invalid(
                "networkProfile has both networkInterfaces and networkInterfaceConfigurations; use one.",
            ))
        }
        (None, None) => {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                "Required parameter 'networkProfile' is missing (null).",
            ))
        }
    }
    let os_disk = body.pointer("/properties/storageProfile/osDisk");
    set(
        attr::DISK,
        os_disk
            .and_then(|d| str_at(d, "/name"))
            .unwrap_or(&format!("{name}-osdisk")),
    );
    set(
        attr::DISK_DELETE,
        os_disk
            .and_then(|d| str_at(d, "/deleteOption"))
            .unwrap_or("Detach"),
    );
    Ok((config, a))
}
