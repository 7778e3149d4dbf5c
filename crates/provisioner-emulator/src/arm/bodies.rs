//! The JSON ARM answers with: VMs, their instance view, and the network
//! interface, public address and disk created with them.

use super::*;

pub(super) fn instance_view_json(state: &AppState, r: &InstanceRecord) -> Value {
    if let Some(kind) = r.failure.or(r.start_failure) {
        // A failed allocation: the provisioning state says why (it is the
        // most recent one: Learn, "States and billing status"). A create
        // never got a power state; a start leaves the VM deallocated.
        let (code, message) = mapping::launch_failure(kind);
        let mut statuses = vec![json!({
            "code": format!("ProvisioningState/failed/{code}"),
            "level": "Error",
            "displayStatus": "Provisioning failed",
            "message": message,
            "time": state.cloud.now_wall().format(&Rfc3339).unwrap_or_default(),
        })];
        if r.failure.is_none() {
            statuses.push(json!({"code": "PowerState/deallocated", "level": "Info", "displayStatus": "VM deallocated"}));
        }
        return json!({"computerName": &*r.id, "statuses": statuses});
    }
    let first_boot = r.state == CloudInstanceState::Pending
        && r.previous_state == CloudInstanceState::Pending
        && !lock(&state.arm().stop_modes).contains_key(&*r.id);
    let (provisioning, power, display) =
        mapping::states(r.state, state.stop_mode(&r.id), first_boot);
    let time = r.launch_time.format(&Rfc3339).unwrap_or_default();
    json!({
        "computerName": &*r.id,
        "osName": "ubuntu",
        "osVersion": "22.04",
        "statuses": [
            {"code": format!("ProvisioningState/{}", provisioning.to_ascii_lowercase()), "level": "Info",
             "displayStatus": format!("Provisioning {}", provisioning.to_ascii_lowercase()), "time": time},
            {"code": format!("PowerState/{power}"), "level": "Info", "displayStatus": display},
        ],
    })
}

pub(super) fn vm_json(state: &AppState, r: &InstanceRecord, with_view: bool) -> Value {
    let a = &r.attributes;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let (sub, group) = (get(attr::SUBSCRIPTION), get(attr::GROUP));
    let first_boot = r.state == CloudInstanceState::Pending
        && !lock(&state.arm().stop_modes).contains_key(&*r.id);
    let (mut provisioning, _, _) = mapping::states(r.state, state.stop_mode(&r.id), first_boot);
    if r.failure.is_some() || r.start_failure.is_some() {
        provisioning = "Failed";
    }
    let image: Value = serde_json::from_str(&get(attr::IMAGE_REFERENCE)).unwrap_or(Value::Null);
    let os_profile: Value =
        serde_json::from_str(&get(attr::OS_PROFILE)).unwrap_or_else(|_| json!({}));
    let mut os_disk = json!({
        "osType": "Linux",
        "name": get(attr::DISK),
        "createOption": "FromImage",
        "caching": "ReadWrite",
        "managedDisk": {
            "storageAccountType": "Standard_LRS",
            "id": disk_id(r),
        },
        "deleteOption": get(attr::DISK_DELETE),
    });
    if let Some(gb) = r.config.disk_size_gb {
        os_disk["diskSizeGB"] = gb.into();
    }
    let mut vm = json!({
        "id": resource_id(&sub, &group, VMS, &r.id),
        "name": &*r.id,
        "type": VMS,
        "location": get(attr::LOCATION),
        "tags": &*r.config.tags,
        "properties": {
            "vmId": format!("{:08x}-0000-4000-8000-{:012x}", r.seq, r.seq),
            "hardwareProfile": {"vmSize": r.config.instance_type},
            "storageProfile": {"imageReference": image, "osDisk": os_disk, "dataDisks": []},
            "osProfile": os_profile,
            "networkProfile": {
                "networkInterfaces": [{
                    "id": get(attr::NIC_ID),
                    "properties": {"primary": true, "deleteOption": get(attr::NIC_DELETE)},
                }],
            },
            "provisioningState": provisioning,
            "timeCreated": r.launch_time.format(&Rfc3339).unwrap_or_default(),
        },
    });
    spot::show(&mut vm, r);
    if with_view {
        vm["properties"]["instanceView"] = instance_view_json(state, r);
    }
    vm
}

/// The id of the one IP configuration of a NIC created with a VM.
pub(super) fn ip_config_id(nic_id: &str) -> String {
    format!("{nic_id}/ipConfigurations/ipconfig1")
}

pub(super) fn nic_json(r: &InstanceRecord) -> Value {
    let a = &r.attributes;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let (sub, group, id) = (get(attr::SUBSCRIPTION), get(attr::GROUP), get(attr::NIC_ID));
    let name = last_segment(&id).to_owned();
    let mut ip_config = json!({
        "name": "ipconfig1",
        "id": ip_config_id(&id),
        "properties": {
            "privateIPAllocationMethod": "Dynamic",
            "subnet": {"id": get(attr::SUBNET)},
            "primary": true,
            "privateIPAddressVersion": "IPv4",
            "provisioningState": "Succeeded",
        },
    });
    if let Some(ip) = r.private_ip {
        ip_config["properties"]["privateIPAddress"] = ip.to_string().into();
    }
    if let Some(pip) = a.get(attr::PIP_ID) {
        ip_config["properties"]["publicIPAddress"] = json!({ "id": pip });
    }
    let mut nic = json!({
        "name": name,
        "id": id,
        "location": get(attr::LOCATION),
        "type": NIC_KIND,
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [ip_config],
            "primary": true,
            "virtualMachine": {"id": resource_id(&sub, &group, VMS, &r.id)},
        },
    });
    if let Some(nsg) = a.get(attr::NSG) {
        nic["properties"]["networkSecurityGroup"] = json!({"id": nsg});
    }
    nic
}

pub(super) fn pip_json(r: &InstanceRecord) -> Value {
    let a = &r.attributes;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    let (id, nic_id) = (get(attr::PIP_ID), get(attr::NIC_ID));
    let mut pip = json!({
        "name": last_segment(&id),
        "id": id,
        "location": get(attr::LOCATION),
        "type": PIP_KIND,
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "provisioningState": "Succeeded",
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "idleTimeoutInMinutes": 4,
            "ipConfiguration": {"id": ip_config_id(&nic_id)},
        },
    });
    if let Some(ip) = r.public_ip {
        pip["properties"]["ipAddress"] = ip.to_string().into();
    }
    pip
}

/// The id of a VM's OS disk, which lives in the VM's group.
pub(super) fn disk_id(r: &InstanceRecord) -> String {
    let get = |k: &str| r.attributes.get(k).cloned().unwrap_or_default();
    resource_id(
        &get(attr::SUBSCRIPTION),
        &get(attr::GROUP),
        DISK_KIND,
        &get(attr::DISK),
    )
}

pub(super) fn disk_json(r: &InstanceRecord) -> Value {
    let get = |k: &str| r.attributes.get(k).cloned().unwrap_or_default();
    json!({
        "name": get(attr::DISK),
        "id": disk_id(r),
        "location": get(attr::LOCATION),
        "type": DISK_KIND,
        "managedBy": resource_id(&get(attr::SUBSCRIPTION), &get(attr::GROUP), VMS, &r.id),
        "properties": {"osType": "Linux", "diskSizeGB": r.config.disk_size_gb.unwrap_or(30), "diskState": "Attached", "provisioningState": "Succeeded"},
    })
}
