"""azure-mgmt-compute, azure-mgmt-network and azure-mgmt-resource, unmodified,
against the emulator's Azure Resource Manager face over https.

Environment: EMULATOR_ENDPOINT (https://127.0.0.1:PORT), EMULATOR_CA (the
emulator's self-signed certificate, PEM). The emulator serves ARM list pages
of 2 VMs, so the list below crosses pages.
"""

import os
import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

SUB = "00000000-0000-4000-8000-000000000001"
GROUP = "smoke"
LOCATION = "westeurope"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"


class EmulatorToken:
    """A credential: the emulator checks that a bearer token is sent."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("emulator-token", int(time.time()) + 3600)


def check(condition, message):
    if not condition:
        sys.exit(f"arm smoke: {message}")


def expect_error(call, status, code):
    try:
        call()
    except HttpResponseError as e:
        check(e.status_code == status, f"expected {status}, got {e.status_code}: {e}")
        check(e.error is not None and e.error.code == code, f"expected {code}, got {e.error and e.error.code}")
        return e
    sys.exit(f"arm smoke: expected {code}, the call succeeded")


def vm_body(name, network_profile, tags):
    return {
        "location": LOCATION,
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"},
            },
            "osProfile": {
                "computerName": name,
                "adminUsername": "fleet",
                "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {"publicKeys": [{"path": "/home/fleet/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAAC3Nza smoke"}]},
                },
            },
            "networkProfile": network_profile,
        },
    }


def power_state(compute, name):
    view = compute.virtual_machines.instance_view(GROUP, name)
    codes = [s.code for s in view.statuses or [] if s.code.startswith("PowerState/")]
    return codes[0] if codes else None


def main():
    endpoint = os.environ["EMULATOR_ENDPOINT"]
    ca = os.environ["EMULATOR_CA"]
    options = dict(base_url=endpoint, connection_verify=ca, credential_scopes=["https://management.azure.com/.default"])
    credential = EmulatorToken()
    resources = ResourceManagementClient(credential, SUB, **options)
    network = NetworkManagementClient(credential, SUB, **options)
    compute = ComputeManagementClient(credential, SUB, **options)

    # Resource group, then a public address and a NIC that uses it.
    group = resources.resource_groups.create_or_update(GROUP, {"location": LOCATION})
    check(group.name == GROUP and resources.resource_groups.check_existence(GROUP), "resource group")
    # A virtual network and its subnet: an interface joins an existing subnet only.
    vnet = network.virtual_networks.begin_create_or_update(
        GROUP,
        "vnet",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}],
            },
        },
    ).result()
    check(vnet.subnets[0].id.lower() == SUBNET.lower(), f"subnet id: {vnet.subnets[0].id}")
    expect_error(
        lambda: network.network_interfaces.begin_create_or_update(
            GROUP,
            "nic-nowhere",
            {"location": LOCATION, "properties": {"ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": SUBNET.replace("/default", "/missing")}}}]}},
        ).result(),
        400,
        "InvalidResourceReference",
    )
    pip = network.public_ip_addresses.begin_create_or_update(
        GROUP, "pip-a", {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}
    ).result()
    check(pip.provisioning_state == "Succeeded", f"public address: {pip.provisioning_state}")
    nics = []
    for name, with_pip in (("nic-a", True), ("nic-b", False)):
        config = {"name": "ipconfig1", "properties": {"subnet": {"id": SUBNET}}}
        if with_pip:
            config["properties"]["publicIPAddress"] = {"id": pip.id}
        nic = network.network_interfaces.begin_create_or_update(
            GROUP, name, {"location": LOCATION, "properties": {"ipConfigurations": [config]}}
        ).result()
        nics.append(nic)

    # Three VMs: two naming an existing NIC (the shape most tools send),
    # one creating its NIC with the VM; two carry the smoke tag.
    by_id = lambda nic: {"networkInterfaces": [{"id": nic.id, "properties": {"primary": True}}]}
    created = {
        "vm-a": vm_body("vm-a", by_id(nics[0]), {"fleet": "smoke"}),
        "vm-b": vm_body("vm-b", by_id(nics[1]), {"fleet": "smoke"}),
        "vm-c": vm_body(
            "vm-c",
            {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [
                    {"name": "vm-c-nic", "properties": {"primary": True, "deleteOption": "Delete", "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": SUBNET}}}]}}
                ],
            },
            {"fleet": "other"},
        ),
    }
    for name, body in created.items():
        vm = compute.virtual_machines.begin_create_or_update(GROUP, name, body, polling_interval=0).result()
        check(vm.provisioning_state == "Succeeded", f"{name}: provisioningState {vm.provisioning_state}")

    # Get, with the instance view.
    vm = compute.virtual_machines.get(GROUP, "vm-a", expand="instanceView")
    check(vm.tags == {"fleet": "smoke"}, f"vm-a tags {vm.tags}")
    check(any(s.code == "PowerState/running" for s in vm.instance_view.statuses), "vm-a is not running")
    nic = network.network_interfaces.get(GROUP, "nic-a")
    check(nic.virtual_machine is not None and nic.virtual_machine.id.endswith("/vm-a"), "nic-a does not name vm-a")
    check(nic.ip_configurations[0].private_ip_address, "nic-a has no private address")
    check(network.public_ip_addresses.get(GROUP, "pip-a").ip_address, "pip-a has no address")

    # The subscription-wide list, across pages, filtered by tag.
    listed = list(compute.virtual_machines.list_all())
    check(len(listed) == 3, f"list_all gave {len(listed)} VMs")
    tagged = sorted(v.name for v in listed if (v.tags or {}).get("fleet") == "smoke")
    check(tagged == ["vm-a", "vm-b"], f"tagged {tagged}")
    check(len(list(compute.virtual_machines.list(GROUP))) == 3, "list by group")

    # Stop (deallocate) and start.
    compute.virtual_machines.begin_deallocate(GROUP, "vm-a", polling_interval=0).result()
    check(power_state(compute, "vm-a") == "PowerState/deallocated", "vm-a not deallocated")
    compute.virtual_machines.begin_start(GROUP, "vm-a", polling_interval=0).result()
    check(power_state(compute, "vm-a") == "PowerState/running", "vm-a not running again")

    # A NIC in use cannot be deleted; after the VM is gone it can.
    expect_error(lambda: network.network_interfaces.begin_delete(GROUP, "nic-a").result(), 400, "NicInUse")
    for name in created:
        compute.virtual_machines.begin_delete(GROUP, name, polling_interval=0).result()
    network.network_interfaces.begin_delete(GROUP, "nic-a", polling_interval=0).result()
    network.public_ip_addresses.begin_delete(GROUP, "pip-a", polling_interval=0).result()

    # The cloud's not-found error.
    error = expect_error(lambda: compute.virtual_machines.get(GROUP, "vm-a"), 404, "ResourceNotFound")
    check(isinstance(error, ResourceNotFoundError), f"not-found is {type(error).__name__}")
    check(list(compute.virtual_machines.list_all()) == [], "VMs left after delete")
    print("arm: azure-mgmt-compute lifecycle ok")


if __name__ == "__main__":
    main()
