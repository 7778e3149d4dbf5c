"""azure-mgmt-compute and azure-mgmt-network against the emulator's Azure
Resource Manager face: the phases of `cargo xtask bench --wire`, each as
the provider crate does it (a launch is one VM PUT that creates its own
interface and address; a describe reads the VM with its instance view, its
interface and its address; a batch describe or a list reads the group's
VMs, the subscription's run-time statuses, the group's interfaces and
addresses once). Over plain http, as the provider
crate's side of the bench (`enforce_https=False` on each call)."""

import os
import time

from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from bench_common import check, load_input, measure

PLAIN = {"enforce_https": False}


class EmulatorToken:
    """A credential: the emulator checks that a bearer token is sent."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("emulator-token", int(time.time()) + 3600)


def vm_body(name, location, subnet):
    ip_config = {"name": "ipconfig1", "properties": {"primary": True, "subnet": {"id": subnet}}}
    return {
        "location": location,
        "tags": {"bench": "launched"},
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                "osDisk": {"createOption": "FromImage", "deleteOption": "Delete", "managedDisk": {"storageAccountType": "StandardSSD_LRS"}},
            },
            "osProfile": {
                "computerName": name,
                "adminUsername": "fleet",
                "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {"publicKeys": [{"path": "/home/fleet/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAAC3Nza bench"}]},
                },
            },
            "networkProfile": {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [
                    {"name": f"{name}-nic", "properties": {"primary": True, "deleteOption": "Delete", "ipConfigurations": [ip_config]}}
                ],
            },
        },
    }


def group_addresses(network, group):
    """Every interface's private address and public address id, and every
    public address, keyed by lowercased id: one paged list each."""
    nics = {}
    for nic in network.network_interfaces.list(group, **PLAIN):
        config = nic.ip_configurations[0]
        pip = config.public_ip_address.id.lower() if config.public_ip_address else None
        nics[nic.id.lower()] = (config.private_ip_address, pip)
    pips = {p.id.lower(): p.ip_address for p in network.public_ip_addresses.list(group, **PLAIN)}
    return nics, pips


def joined(compute, network, group, keep):
    """As the provider crate lists: the group's VMs (ARM gives no instance
    view on a list without a $filter), the subscription's run-time statuses
    (statusOnly=true), and the group's interfaces and addresses."""
    vms = [vm for vm in compute.virtual_machines.list(group, **PLAIN) if keep(vm)]
    statuses = {vm.id.lower(): vm.instance_view for vm in compute.virtual_machines.list_all(status_only="true", **PLAIN)}
    for vm in vms:
        vm.instance_view = statuses.get(vm.id.lower())
    nics, pips = group_addresses(network, group)
    out = []
    for vm in vms:
        nic_id = vm.network_profile.network_interfaces[0].id.lower()
        private, pip = nics.get(nic_id, (None, None))
        out.append((vm.name, private, pips.get(pip)))
    return out


def main():
    given = load_input()
    sub, group, location, subnet = given["subscription"], given["group"], given["location"], given["subnet"]
    options = dict(base_url=os.environ["EMULATOR_ENDPOINT"], credential_scopes=["https://management.azure.com/.default"])
    compute = ComputeManagementClient(EmulatorToken(), sub, **options)
    network = NetworkManagementClient(EmulatorToken(), sub, **options)

    def launch():
        names = [f"py-bench-{n:05d}" for n in range(given["launches"])]
        for name in names:
            compute.virtual_machines.begin_create_or_update(group, name, vm_body(name, location, subnet), **PLAIN)
        return names

    launched = measure("arm", "launch", launch)
    names = given["describe_ids"]

    def describe():
        for name in names:
            vm = compute.virtual_machines.get(group, name, expand="instanceView", **PLAIN)
            nic_name = vm.network_profile.network_interfaces[0].id.rsplit("/", 1)[1]
            nic = network.network_interfaces.get(group, nic_name, **PLAIN)
            pip = nic.ip_configurations[0].public_ip_address
            if pip is not None:
                network.public_ip_addresses.get(group, pip.id.rsplit("/", 1)[1], **PLAIN)

    measure("arm", "describe", describe)

    wanted = {n.lower() for n in names}
    found = measure("arm", "describe_batch", lambda: len(joined(compute, network, group, lambda vm: vm.name.lower() in wanted)))
    check(found == len(names), f"batch describe found {found}")

    tagged = lambda vm: (vm.tags or {}).get("bench") == "wire"
    listed = measure("arm", "list", lambda: len(joined(compute, network, group, tagged)))
    check(listed == given["list_expected"], f"listed {listed}")

    def terminate():
        for name in launched:
            compute.virtual_machines.begin_delete(group, name, **PLAIN)

    measure("arm", "terminate", terminate)


if __name__ == "__main__":
    main()
