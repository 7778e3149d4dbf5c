"""google-cloud-compute, unmodified, against the emulator's Compute Engine
face.

Environment: EMULATOR_ENDPOINT (http://127.0.0.1:PORT). The emulator serves
list pages of 1 instance, so the filtered list crosses pages.
"""

import os
import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.cloud import compute_v1
from google.oauth2.credentials import Credentials

PROJECT = "smoke-project"
ZONE = "europe-west1-b"


def check(condition, message):
    if not condition:
        sys.exit(f"gce smoke: {message}")


def instance(name, fleet):
    return compute_v1.Instance(
        name=name,
        machine_type=f"zones/{ZONE}/machineTypes/e2-small",
        labels={"fleet": fleet},
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


def main():
    client = compute_v1.InstancesClient(
        credentials=Credentials(token="emulator-token"),
        client_options=ClientOptions(api_endpoint=os.environ["EMULATOR_ENDPOINT"]),
        transport="rest",
    )
    names = {"smoke-a": "smoke", "smoke-b": "smoke", "other-c": "other"}
    for name, fleet in names.items():
        client.insert(project=PROJECT, zone=ZONE, instance_resource=instance(name, fleet)).result(timeout=60)

    # A second insert of a name is refused.
    try:
        client.insert(project=PROJECT, zone=ZONE, instance_resource=instance("smoke-a", "smoke")).result(timeout=60)
        sys.exit("gce smoke: a duplicate name was inserted")
    except exceptions.Conflict:
        pass

    got = client.get(project=PROJECT, zone=ZONE, instance="smoke-a")
    check(got.status == "RUNNING", f"status {got.status}")
    check(got.labels["fleet"] == "smoke", f"labels {got.labels}")

    # The label filter, across pages; and the aggregated list.
    listed = client.list(
        request=compute_v1.ListInstancesRequest(project=PROJECT, zone=ZONE, filter="labels.fleet = smoke", max_results=1)
    )
    pages = list(listed.pages)
    tagged = sorted(i.name for page in pages for i in page.items)
    check(tagged == ["smoke-a", "smoke-b"], f"filtered list {tagged}")
    check(len(pages) > 1, f"the list took {len(pages)} page")
    everywhere = [
        i.name
        for zone, scoped in client.aggregated_list(request=compute_v1.AggregatedListInstancesRequest(project=PROJECT))
        for i in scoped.instances
    ]
    check(sorted(everywhere) == sorted(names), f"aggregated list {everywhere}")

    # Labels change with the current fingerprint; a regular-expression and a
    # has filter find them.
    fingerprint = got.label_fingerprint
    client.set_labels(
        project=PROJECT,
        zone=ZONE,
        instance="smoke-a",
        instances_set_labels_request_resource=compute_v1.InstancesSetLabelsRequest(
            labels={"fleet": "smoke", "role": "web"}, label_fingerprint=fingerprint
        ),
    ).result(timeout=60)
    try:
        client.set_labels(
            project=PROJECT,
            zone=ZONE,
            instance="smoke-a",
            instances_set_labels_request_resource=compute_v1.InstancesSetLabelsRequest(labels={}, label_fingerprint=fingerprint),
        ).result(timeout=60)
        sys.exit("gce smoke: a stale label fingerprint was accepted")
    except exceptions.PreconditionFailed:
        pass
    roles = [i.name for i in client.list(request=compute_v1.ListInstancesRequest(project=PROJECT, zone=ZONE, filter="labels.role:*"))]
    check(roles == ["smoke-a"], f"has filter {roles}")
    smoke = sorted(i.name for i in client.list(request=compute_v1.ListInstancesRequest(project=PROJECT, zone=ZONE, filter="name eq smoke-.*")))
    check(smoke == ["smoke-a", "smoke-b"], f"regular-expression filter {smoke}")

    # Suspend and resume.
    client.suspend(project=PROJECT, zone=ZONE, instance="smoke-b").result(timeout=60)
    check(client.get(project=PROJECT, zone=ZONE, instance="smoke-b").status == "SUSPENDED", "not suspended")
    client.resume(project=PROJECT, zone=ZONE, instance="smoke-b").result(timeout=60)
    check(client.get(project=PROJECT, zone=ZONE, instance="smoke-b").status == "RUNNING", "not resumed")

    # Stop and start.
    client.stop(project=PROJECT, zone=ZONE, instance="smoke-a").result(timeout=60)
    check(client.get(project=PROJECT, zone=ZONE, instance="smoke-a").status == "TERMINATED", "not stopped")
    client.start(project=PROJECT, zone=ZONE, instance="smoke-a").result(timeout=60)
    check(client.get(project=PROJECT, zone=ZONE, instance="smoke-a").status == "RUNNING", "not running again")

    # Delete; then the cloud's not-found error.
    for name in names:
        client.delete(project=PROJECT, zone=ZONE, instance=name).result(timeout=60)
    try:
        client.get(project=PROJECT, zone=ZONE, instance="smoke-a")
        sys.exit("gce smoke: a deleted instance was found")
    except exceptions.NotFound as e:
        check(e.code == 404, f"not-found status {e.code}")
    print("gce: google-cloud-compute lifecycle ok")


if __name__ == "__main__":
    main()
