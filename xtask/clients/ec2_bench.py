"""boto3 against the emulator's EC2 face: the phases of `cargo xtask bench
--wire`, each as the provider crate does it."""

import os

import boto3

from bench_common import check, load_input, measure

IMAGE = "ami-0abcdef1234567890"


def main():
    given = load_input()
    ec2 = boto3.client(
        "ec2",
        endpoint_url=os.environ["EMULATOR_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="AKIAEMULATOR",
        aws_secret_access_key="emulator-secret",
    )
    tag = [{"ResourceType": "instance", "Tags": [{"Key": "bench", "Value": "launched"}]}]

    def launch():
        return [
            ec2.run_instances(ImageId=IMAGE, InstanceType="t3.micro", MinCount=1, MaxCount=1, TagSpecifications=tag)[
                "Instances"
            ][0]["InstanceId"]
            for _ in range(given["launches"])
        ]

    launched = measure("ec2", "launch", launch)
    ids = given["describe_ids"]

    def describe():
        for i in ids:
            ec2.describe_instances(InstanceIds=[i])

    measure("ec2", "describe", describe)

    def describe_batch():
        found = 0
        for start in range(0, len(ids), 1000):
            answer = ec2.describe_instances(InstanceIds=ids[start : start + 1000])
            found += sum(len(r["Instances"]) for r in answer["Reservations"])
        return found

    check(measure("ec2", "describe_batch", describe_batch) == len(ids), "batch describe")

    def listing():
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag:bench", "Values": ["wire"]}], PaginationConfig={"PageSize": 1000}
        )
        return sum(len(r["Instances"]) for page in pages for r in page["Reservations"])

    listed = measure("ec2", "list", listing)
    check(listed == given["list_expected"], f"listed {listed}")

    def terminate():
        for i in launched:
            ec2.terminate_instances(InstanceIds=[i])

    measure("ec2", "terminate", terminate)


if __name__ == "__main__":
    main()
