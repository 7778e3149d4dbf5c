"""boto3, unmodified, against the emulator's EC2 face.

Environment: EMULATOR_ENDPOINT (http://127.0.0.1:PORT). The emulator serves
DescribeInstances pages of 1 instance, so the filtered list crosses pages.
"""

import os
import sys

import boto3
from botocore.exceptions import ClientError

IMAGE = "ami-0abcdef1234567890"


def check(condition, message):
    if not condition:
        sys.exit(f"ec2 smoke: {message}")


def listed(ec2, filters):
    """The ids DescribeInstances finds with these filters, over every page."""
    pages = ec2.get_paginator("describe_instances").paginate(Filters=filters)
    return [i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]]


def main():
    ec2 = boto3.client(
        "ec2",
        endpoint_url=os.environ["EMULATOR_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="AKIAEMULATOR",
        aws_secret_access_key="emulator-secret",
    )
    fast = {"Delay": 1, "MaxAttempts": 60}

    # Three launches, two tagged for the smoke fleet; a retried token
    # returns the same instance.
    ids = []
    for n, fleet in enumerate(["smoke", "smoke", "other"]):
        request = dict(
            ImageId=IMAGE,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            ClientToken=f"smoke-{n}",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "fleet", "Value": fleet}]}],
        )
        first = ec2.run_instances(**request)["Instances"][0]["InstanceId"]
        again = ec2.run_instances(**request)["Instances"][0]["InstanceId"]
        check(first == again, f"ClientToken retry made {again}, not {first}")
        ids.append(first)
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=fast)

    # Describe one; list the tagged ones across pages.
    one = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0]
    check(one["State"]["Name"] == "running", f"state {one['State']}")
    check({"Key": "fleet", "Value": "smoke"} in one["Tags"], f"tags {one['Tags']}")
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "tag:fleet", "Values": ["smoke"]}, {"Name": "instance-state-name", "Values": ["running"]}],
        PaginationConfig={"PageSize": 5},
    )
    seen, page_count = [], 0
    for page in pages:
        page_count += 1
        seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    check(sorted(seen) == sorted(ids[:2]), f"tagged list {seen}")
    check(page_count > 1, f"the list took {page_count} page")

    # DryRun checks and changes nothing.
    try:
        ec2.stop_instances(InstanceIds=[ids[0]], DryRun=True)
        sys.exit("ec2 smoke: a DryRun stop went through")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "DryRunOperation", f"DryRun code {e.response['Error']['Code']}")
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 412, "DryRun status")

    # Tags after launch, and wildcard filters.
    ec2.create_tags(Resources=ids[:2], Tags=[{"Key": "role", "Value": "web-blue"}])
    ec2.delete_tags(Resources=[ids[1]], Tags=[{"Key": "role", "Value": "not-this-value"}])
    found = sorted(listed(ec2, [{"Name": "tag:role", "Values": ["web-*"]}]))
    check(found == sorted(ids[:2]), f"tag wildcard found {found}")
    ec2.delete_tags(Resources=[ids[1]], Tags=[{"Key": "role"}])
    found = listed(ec2, [{"Name": "instance-type", "Values": ["t3.mic?o"]}, {"Name": "tag-value", "Values": ["web-*"]}])
    check(found == [ids[0]], f"type and tag-value filters found {found}")

    # Two instances in one request and one reservation; a retried token
    # returns both; their status checks pass once they run.
    batch = dict(ImageId=IMAGE, InstanceType="t3.micro", MinCount=2, MaxCount=2, ClientToken="smoke-batch")
    first = ec2.run_instances(**batch)
    batch_ids = [i["InstanceId"] for i in first["Instances"]]
    again = [i["InstanceId"] for i in ec2.run_instances(**batch)["Instances"]]
    check(len(batch_ids) == 2 and again == batch_ids, f"batch {batch_ids} then {again}")
    ec2.get_waiter("instance_status_ok").wait(InstanceIds=batch_ids, WaiterConfig=fast)
    statuses = ec2.describe_instance_status(InstanceIds=batch_ids)["InstanceStatuses"]
    check(sorted(s["InstanceId"] for s in statuses) == sorted(batch_ids), f"statuses {statuses}")
    check(all(s["SystemStatus"]["Status"] == "ok" for s in statuses), f"statuses {statuses}")
    reservations = ec2.describe_instances(InstanceIds=batch_ids)["Reservations"]
    check(len(reservations) == 1 and reservations[0]["ReservationId"] == first["ReservationId"], "one reservation")
    ids += batch_ids

    # Stop and start: a new public address after the start.
    address = one.get("PublicIpAddress")
    ec2.stop_instances(InstanceIds=[ids[0]])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[ids[0]], WaiterConfig=fast)
    ec2.start_instances(InstanceIds=[ids[0]])
    ec2.get_waiter("instance_running").wait(InstanceIds=[ids[0]], WaiterConfig=fast)
    again = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0]
    check(again.get("PublicIpAddress") and again.get("PublicIpAddress") != address, "no new public address")

    # Terminate; terminated instances stay visible for a while.
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=fast)

    # The cloud's not-found error.
    try:
        ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])
        sys.exit("ec2 smoke: an unknown id was described")
    except ClientError as e:
        code = e.response["Error"]["Code"]
        check(code == "InvalidInstanceID.NotFound", f"not-found code {code}")
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, "not-found status")
    print("ec2: boto3 lifecycle ok")


if __name__ == "__main__":
    main()
