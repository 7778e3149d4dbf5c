"""google-cloud-compute against the emulator's Compute Engine face: the
phases of `cargo xtask bench --wire`, each as the provider crate does it."""

import os

from google.api_core.client_options import ClientOptions
from google.cloud import compute_v1
from google.oauth2.credentials import Credentials

from bench_common import check, load_input, measure

MAX_NAME_FILTER = 7500


def instance(name):
    return compute_v1.Instance(
        name=name,
        machine_type=f"zones/{ZONE}/machineTypes/e2-small",
        labels={"bench": "launched"},
        disks=[
            compute_v1.AttachedDisk(
                boot=True,
                auto_delete=True,
                initialize_params=compute_v1.AttachedDiskInitializeParams(
                    source_image="projects/debian-cloud/global/images/family/debian-12"
                ),
            )
        ],
        network_interfaces=[
            compute_v1.NetworkInterface(
                network="global/networks/default",
                access_configs=[compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")],
            )
        ],
    )


def name_filters(names):
    """`name eq "(a|b|…)"` filters of at most MAX_NAME_FILTER characters once
    encoded (each `|` as %7C), as the provider crate makes them."""
    filters, current, encoded = [], [], 30
    for name in sorted(set(names)):
        if current and encoded + len(name) + 3 > MAX_NAME_FILTER:
            filters.append(f'name eq "({"|".join(current)})"')
            current, encoded = [], 30
        encoded += len(name) + (3 if current else 0)
        current.append(name)
    if current:
        filters.append(f'name eq "({"|".join(current)})"')
    return filters


def aggregated(client, project, expression):
    request = compute_v1.AggregatedListInstancesRequest(project=project, filter=expression, max_results=500)
    return [i for _, scoped in client.aggregated_list(request=request) for i in scoped.instances]


def main():
    global ZONE
    given = load_input()
    project, ZONE = given["project"], given["zone"]
    client = compute_v1.InstancesClient(
        credentials=Credentials(token="emulator-token"),
        client_options=ClientOptions(api_endpoint=os.environ["EMULATOR_ENDPOINT"]),
        transport="rest",
    )

    def launch():
        names = [f"py-bench-{n:05d}" for n in range(given["launches"])]
        for name in names:
            client.insert(project=project, zone=ZONE, instance_resource=instance(name))
        return names

    launched = measure("gce", "launch", launch)
    located = [i.split("/", 1) for i in given["describe_ids"]]
    names = [name for _, name in located]

    def describe():
        for zone, name in located:
            client.get(project=project, zone=zone, instance=name)

    measure("gce", "describe", describe)

    def describe_batch():
        return sum(len(aggregated(client, project, f)) for f in name_filters(names))

    found = measure("gce", "describe_batch", describe_batch)
    check(found == len(names), f"batch describe found {found}")

    listed = measure("gce", "list", lambda: len(aggregated(client, project, 'labels.bench = "wire"')))
    check(listed == given["list_expected"], f"listed {listed}")

    def terminate():
        for name in launched:
            client.delete(project=project, zone=ZONE, instance=name)

    measure("gce", "terminate", terminate)


if __name__ == "__main__":
    main()
