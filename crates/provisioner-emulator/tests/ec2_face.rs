//! The EC2 face on the wire: envelopes, status codes, idempotency, paging and
//! the fault controls, spoken as raw HTTP like any client would.

mod common;

use common::{control, http};
use provisioner_emulator::{Emulator, EmulatorHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn ec2(emulator: &EmulatorHandle, form: &str) -> (u16, String) {
    http(
        emulator,
        "POST",
        "/",
        "application/x-www-form-urlencoded",
        form,
    )
    .await
    .expect("an answer")
}

fn between<'a>(xml: &'a str, open: &str, close: &str) -> &'a str {
    let start = xml.find(open).unwrap_or_else(|| panic!("{open} in {xml}")) + open.len();
    &xml[start..start + xml[start..].find(close).unwrap()]
}

const RUN: &str = "Action=RunInstances&Version=2016-11-15&ImageId=ami-0abc1234&InstanceType=t3.micro&MinCount=1&MaxCount=1";

#[tokio::test]
async fn errors_use_ec2s_envelope_and_status_codes() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (status, body) = ec2(&emulator, "Action=Reboot").await;
    assert_eq!(status, 400);
    assert_eq!(between(&body, "<Code>", "</Code>"), "InvalidAction");
    assert!(
        body.contains("<Response><Errors><Error>") && body.contains("<RequestID>"),
        "{body}"
    );

    let (status, body) = ec2(
        &emulator,
        "Action=DescribeInstances&InstanceId.1=i-0123456789abcdef0",
    )
    .await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidInstanceID.NotFound")
    );
    let (status, body) = ec2(
        &emulator,
        "Action=TerminateInstances&InstanceId.1=i-01/../x",
    )
    .await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidInstanceID.Malformed")
    );
    let (status, body) = ec2(&emulator, &RUN.replace("ami-0abc1234", "ami-XYZ")).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidAMIID.Malformed")
    );
    let (status, body) = ec2(&emulator, &format!("{RUN}&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=aws%3Ax&TagSpecification.1.Tag.1.Value=v")).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidParameterValue")
    );
    assert_eq!(emulator.cloud().live_instances(), 0);

    // Unsigned requests are refused like EC2 refuses them.
    let mut stream = TcpStream::connect(emulator.addr()).await.unwrap();
    let body = "Action=DescribeInstances";
    let req = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 401") && response.contains("<Code>AuthFailure</Code>"),
        "{response}"
    );
}

#[tokio::test]
async fn client_tokens_are_idempotent_as_ec2_documents() {
    let emulator = Emulator::builder().start().await.unwrap();
    let with_token = format!("{RUN}&ClientToken=tok-1");
    let (_, first) = ec2(&emulator, &with_token).await;
    let (_, second) = ec2(&emulator, &with_token).await;
    let id = between(&first, "<instanceId>", "</instanceId>");
    assert_eq!(id, between(&second, "<instanceId>", "</instanceId>"));
    assert_eq!(between(&first, "<clientToken>", "</clientToken>"), "tok-1");
    assert_eq!(emulator.cloud().live_instances(), 1);
    let (status, body) = ec2(&emulator, &with_token.replace("t3.micro", "m5.large")).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "IdempotentParameterMismatch")
    );
    // Once its instance is terminated, the token launches nothing again
    // (EC2 keeps refusing it for at least a day, long after the instance
    // vanished from DescribeInstances).
    let (status, _) = ec2(
        &emulator,
        &format!("Action=TerminateInstances&Version=2016-11-15&InstanceId.1={id}"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = ec2(&emulator, &with_token).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "IdempotentInstanceTerminated")
    );
    assert_eq!(emulator.cloud().live_instances(), 0);
}

#[tokio::test]
async fn a_launch_accepted_then_failed_for_capacity_is_terminated_with_its_state_reason() {
    let emulator = Emulator::builder().start().await.unwrap();
    // Planned over the control face, as a client in any language would.
    control(
        &emulator,
        "/_emulator/launch-failures",
        r#"{"count": 1, "failure": "insufficient_capacity", "after_millis": 100}"#,
    )
    .await;
    let (status, body) = ec2(&emulator, RUN).await;
    assert_eq!(status, 200);
    assert_eq!(between(&body, "<name>", "</name>"), "pending");
    let id = between(&body, "<instanceId>", "</instanceId>").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, body) = ec2(
        &emulator,
        &format!("Action=DescribeInstances&Version=2016-11-15&InstanceId.1={id}"),
    )
    .await;
    assert_eq!(between(&body, "<name>", "</name>"), "terminated");
    let reason = between(&body, "<stateReason>", "</stateReason>");
    assert_eq!(
        between(reason, "<code>", "</code>"),
        "Server.InsufficientInstanceCapacity"
    );
}

/// EC2 refuses a start it cannot place at once
/// (`InsufficientInstanceCapacity`, HTTP 500), planned over the control
/// face; the instance stays stopped and starts once capacity is back.
#[tokio::test]
async fn a_start_without_capacity_is_refused_and_the_instance_kept() {
    // Transitions are instant by default: no waiting between calls.
    let emulator = Emulator::builder().start().await.unwrap();
    let (_, body) = ec2(&emulator, RUN).await;
    let id = between(&body, "<instanceId>", "</instanceId>").to_owned();
    let call = |action: &str| format!("Action={action}&Version=2016-11-15&InstanceId.1={id}");
    assert_eq!(ec2(&emulator, &call("StopInstances")).await.0, 200);
    control(
        &emulator,
        "/_emulator/start-failures",
        r#"{"count": 1, "failure": "insufficient_capacity"}"#,
    )
    .await;
    let (status, body) = ec2(&emulator, &call("StartInstances")).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (500, "InsufficientInstanceCapacity")
    );
    let (_, body) = ec2(&emulator, &call("DescribeInstances")).await;
    assert_eq!(between(&body, "<name>", "</name>"), "stopped");
    assert_eq!(ec2(&emulator, &call("StartInstances")).await.0, 200);
}

/// The User Guide: only Spot Instances of persistent requests that stop on
/// interruption can be stopped; a one-time one is refused with EC2's
/// `UnsupportedOperation`, and keeps running.
#[tokio::test]
async fn a_one_time_spot_instance_cannot_be_stopped() {
    let emulator = Emulator::builder().start().await.unwrap();
    let spot = "&InstanceMarketOptions.MarketType=spot";
    let persistent = "&InstanceMarketOptions.SpotOptions.SpotInstanceType=persistent&InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior=stop";
    let launch = |extra: &str| format!("{RUN}{extra}");
    let (_, one_time) = ec2(&emulator, &launch(spot)).await;
    let one_time = between(&one_time, "<instanceId>", "</instanceId>").to_owned();
    let (_, kept) = ec2(&emulator, &launch(&format!("{spot}{persistent}"))).await;
    let kept = between(&kept, "<instanceId>", "</instanceId>").to_owned();
    let stop = |id: &str| format!("Action=StopInstances&Version=2016-11-15&InstanceId.1={id}");

    let (status, body) = ec2(&emulator, &stop(&one_time)).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "UnsupportedOperation")
    );
    assert!(
        body.contains("associated with a one-time Spot Instance request"),
        "{body}"
    );
    let running = emulator.cloud().peek(&one_time).unwrap().state;
    assert_eq!(running, provisioner_core::CloudInstanceState::Running);
    assert_eq!(ec2(&emulator, &stop(&kept)).await.0, 200);
}

#[tokio::test]
async fn describe_pages_and_filters() {
    let emulator = Emulator::builder().ec2_page_cap(2).start().await.unwrap();
    for pool in ["a", "a", "a", "b"] {
        let tagged = format!("{RUN}&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=pool&TagSpecification.1.Tag.1.Value={pool}");
        assert_eq!(ec2(&emulator, &tagged).await.0, 200);
    }
    let query = "Action=DescribeInstances&MaxResults=5&Filter.1.Name=tag%3Apool&Filter.1.Value.1=a&Filter.2.Name=instance-state-name&Filter.2.Value.1=running";
    let (_, page1) = ec2(&emulator, query).await;
    assert_eq!(page1.matches("<instanceId>").count(), 2);
    let token = between(&page1, "<nextToken>", "</nextToken>").to_owned();
    let (_, page2) = ec2(&emulator, &format!("{query}&NextToken={token}")).await;
    assert_eq!(page2.matches("<instanceId>").count(), 1);
    assert!(!page2.contains("<nextToken>"));
    assert!(page2.contains("<name>running</name>") && page2.contains("<code>16</code>"));

    let any_pool = "Action=DescribeInstances&Filter.1.Name=tag%3Apool&Filter.1.Value.1=a&Filter.1.Value.2=b&Filter.2.Name=tag-key&Filter.2.Value.1=pool";
    let (mut seen, mut token) = (0, None::<String>);
    loop {
        let q = token
            .as_ref()
            .map_or(any_pool.to_owned(), |t| format!("{any_pool}&NextToken={t}"));
        let (_, page) = ec2(&emulator, &q).await;
        seen += page.matches("<instanceId>").count();
        match page.contains("<nextToken>") {
            true => token = Some(between(&page, "<nextToken>", "</nextToken>").to_owned()),
            false => break,
        }
    }
    assert_eq!(seen, 4);

    let (status, body) = ec2(&emulator, "Action=DescribeInstances&MaxResults=4").await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidParameterValue")
    );
    let (status, body) = ec2(
        &emulator,
        "Action=DescribeInstances&Filter.1.Name=vpc-id&Filter.1.Value.1=x",
    )
    .await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidParameterValue")
    );
}

#[tokio::test]
async fn faults_are_controlled_over_http() {
    let emulator = Emulator::builder().start().await.unwrap();
    control(
        &emulator,
        "/_emulator/faults",
        r#"{"op": "launch", "count": 1, "fault": "throttled"}"#,
    )
    .await;
    let (status, body) = ec2(&emulator, RUN).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (503, "RequestLimitExceeded")
    );
    control(
        &emulator,
        "/_emulator/faults",
        r#"{"op": "describe", "count": 1, "fault": "internal"}"#,
    )
    .await;
    control(
        &emulator,
        "/_emulator/faults",
        r#"{"op": "list", "count": 1, "fault": "unavailable"}"#,
    )
    .await;
    assert_eq!(ec2(&emulator, "Action=DescribeInstances").await.0, 503);

    // Drop after commit: the instance exists, the client heard nothing.
    control(
        &emulator,
        "/_emulator/drop-after-commit",
        r#"{"action": "RunInstances", "count": 1}"#,
    )
    .await;
    let answer = http(
        &emulator,
        "POST",
        "/",
        "application/x-www-form-urlencoded",
        RUN,
    )
    .await;
    assert!(answer.is_none(), "{answer:?}");
    assert_eq!(emulator.cloud().live_instances(), 1);
    assert_eq!(
        ec2(&emulator, RUN).await.0,
        200,
        "only the planned call is dropped"
    );

    control(&emulator, "/_emulator/clear", "").await;
    let (status, counts) = http(&emulator, "GET", "/_emulator/calls", "application/json", "")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let counts: serde_json::Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts["launch"], 3);
    assert_eq!(counts["list"], 1);
}

#[tokio::test]
async fn state_changes_report_current_and_previous_states() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (_, run) = ec2(&emulator, RUN).await;
    let id = between(&run, "<instanceId>", "</instanceId>").to_owned();
    let (status, stop) = ec2(
        &emulator,
        &format!("Action=StopInstances&InstanceId.1={id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(stop.contains("<currentState><code>80</code><name>stopped</name></currentState><previousState><code>16</code><name>running</name></previousState>"), "{stop}");
    let (_, term) = ec2(
        &emulator,
        &format!("Action=TerminateInstances&InstanceId.1={id}"),
    )
    .await;
    assert!(term.contains("<currentState><code>48</code><name>terminated</name></currentState><previousState><code>80</code>"), "{term}");
    let (status, body) = ec2(
        &emulator,
        &format!("Action=StartInstances&InstanceId.1={id}"),
    )
    .await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "IncorrectInstanceState")
    );
    let (_, images) = ec2(&emulator, "Action=DescribeImages&ImageId.1=ami-0abc1234").await;
    assert_eq!(
        between(&images, "<rootDeviceName>", "</rootDeviceName>"),
        "/dev/xvda"
    );
}

#[tokio::test]
async fn one_request_launches_between_min_and_max_count_in_one_reservation() {
    let emulator = Emulator::builder().start().await.unwrap();
    let three = RUN.replace("MaxCount=1", "MaxCount=3") + "&ClientToken=batch-1";
    let (status, first) = ec2(&emulator, &three).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first.matches("<instanceId>").count(), 3);
    // A retry with the token returns the same three.
    let (_, again) = ec2(&emulator, &three).await;
    let ids = |xml: &str| -> Vec<String> {
        xml.split("<instanceId>")
            .skip(1)
            .map(|s| s[..s.find('<').unwrap()].to_owned())
            .collect()
    };
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(emulator.cloud().live_instances(), 3);
    // DescribeInstances lists them as one reservation, with the caller's token.
    let (_, described) = ec2(&emulator, "Action=DescribeInstances").await;
    assert_eq!(
        described.matches("<reservationId>").count(),
        1,
        "{described}"
    );
    assert_eq!(
        described
            .matches("<clientToken>batch-1</clientToken>")
            .count(),
        3
    );

    // Fewer than MinCount possible: none launched.
    let capped = Emulator::builder()
        .cloud(
            provisioner_fake::FakeCloud::builder()
                .personality(provisioner_fake::Personality::ec2())
                .max_live_instances(2)
                .build(),
        )
        .start()
        .await
        .unwrap();
    let at_least_three = RUN
        .replace("MinCount=1", "MinCount=3")
        .replace("MaxCount=1", "MaxCount=3");
    let (status, error) = ec2(&capped, &at_least_three).await;
    assert_ne!(status, 200, "{error}");
    assert_eq!(capped.cloud().live_instances(), 0);
    // Up to MaxCount as capacity allows, when MinCount is met.
    let (status, some) = ec2(&capped, &RUN.replace("MaxCount=1", "MaxCount=5")).await;
    assert_eq!(status, 200);
    assert_eq!(some.matches("<instanceId>").count(), 2);
    let (status, _) = ec2(&capped, &RUN.replace("MinCount=1", "MinCount=2")).await;
    assert_eq!(status, 400, "MinCount above MaxCount");
}

#[tokio::test]
async fn instance_status_shows_running_instances_unless_all_are_asked_for() {
    let boot = std::time::Duration::from_millis(200);
    let cloud = provisioner_fake::FakeCloud::builder()
        .personality(provisioner_fake::Personality::ec2())
        .transitions(provisioner_fake::Transitions::uniform(boot))
        .build();
    let emulator = Emulator::builder().cloud(cloud).start().await.unwrap();
    let (_, run) = ec2(&emulator, RUN).await;
    let id = between(&run, "<instanceId>", "</instanceId>").to_owned();
    let by_id = format!("Action=DescribeInstanceStatus&InstanceId.1={id}");
    // Booting: not shown without IncludeAllInstances; initializing with it.
    let (_, status) = ec2(&emulator, &by_id).await;
    assert!(
        status.contains("<instanceStatusSet></instanceStatusSet>"),
        "{status}"
    );
    let (_, all) = ec2(&emulator, &format!("{by_id}&IncludeAllInstances=true")).await;
    assert!(all.contains("<status>initializing</status>"), "{all}");
    tokio::time::sleep(boot * 2).await;
    let (_, running) = ec2(&emulator, "Action=DescribeInstanceStatus").await;
    assert!(running.contains(&id), "{running}");
    assert!(
        running.contains("<systemStatus><status>ok</status>"),
        "{running}"
    );
    assert!(running.contains("<name>running</name>"), "{running}");

    // "Maximum 100 explicitly specified instance IDs": 100 are answered,
    // 101 refused as EC2 refuses them.
    let named = |n: usize| -> String {
        let mut query = "Action=DescribeInstanceStatus".to_owned();
        for i in 1..=n {
            query.push_str(&format!("&InstanceId.{i}={id}"));
        }
        query
    };
    assert_eq!(ec2(&emulator, &named(100)).await.0, 200);
    let (status, body) = ec2(&emulator, &named(101)).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidRequest")
    );
    assert!(
        body.contains("101 exceeds the maximum number of instance IDs"),
        "{body}"
    );
}

/// Each instance launches with its root volume, `in-use` while the
/// instance lives. On termination EC2 deletes the volume when its
/// `DeleteOnTermination` says so and keeps it `available` otherwise; the
/// attribute is the launch's mapping of the root device, else the image's
/// (EC2 User Guide, "Preserve data when an instance is terminated"). A kept
/// volume counts as unattached until DeleteVolume removes it; an attached
/// one cannot be deleted.
#[tokio::test]
async fn root_volumes_follow_delete_on_termination_from_the_launch_or_the_image() {
    const KEEPING: &str = "ami-0bbb2222";
    let emulator = Emulator::builder()
        .ec2_image_keeping_root(KEEPING)
        .start()
        .await
        .unwrap();
    let (_, images) = ec2(
        &emulator,
        &format!("Action=DescribeImages&Version=2016-11-15&ImageId.1={KEEPING}"),
    )
    .await;
    assert_eq!(
        between(&images, "<deleteOnTermination>", "</deleteOnTermination>"),
        "false"
    );
    let run = |image: &str, extra: &str| {
        format!(
            "{}{extra}&TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=owner&TagSpecification.1.Tag.1.Value=fleet-a",
            RUN.replace("ami-0abc1234", image)
        )
    };
    let root = "&BlockDeviceMapping.1.DeviceName=/dev/xvda&BlockDeviceMapping.1.Ebs.DeleteOnTermination=true";
    let mut launched = Vec::new();
    for form in [
        run("ami-0abc1234", ""),
        run(KEEPING, ""),
        run(KEEPING, root),
    ] {
        let (status, body) = ec2(&emulator, &form).await;
        assert_eq!(status, 200, "{body}");
        launched.push(between(&body, "<instanceId>", "</instanceId>").to_owned());
    }
    let volume = |id: &str| format!("vol-{}", id.trim_start_matches("i-"));
    // Described with its instance, attached, with the attribute asked.
    let (_, body) = ec2(
        &emulator,
        &format!(
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.1={}",
            launched[1]
        ),
    )
    .await;
    let mapping = between(&body, "<blockDeviceMapping>", "</blockDeviceMapping>");
    assert_eq!(
        between(mapping, "<volumeId>", "</volumeId>"),
        volume(&launched[1])
    );
    assert_eq!(
        between(mapping, "<deleteOnTermination>", "</deleteOnTermination>"),
        "false"
    );
    let describe_volumes = "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag:owner&Filter.1.Value.1=fleet-a";
    let (status, body) = ec2(&emulator, describe_volumes).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.matches("<status>in-use</status>").count(), 3, "{body}");
    assert_eq!(emulator.unattached_resources().disks, 0);
    let delete = format!(
        "Action=DeleteVolume&Version=2016-11-15&VolumeId={}",
        volume(&launched[1])
    );
    let (status, body) = ec2(&emulator, &delete).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "VolumeInUse")
    );

    let mut terminate = "Action=TerminateInstances&Version=2016-11-15".to_owned();
    for (n, id) in launched.iter().enumerate() {
        terminate += &format!("&InstanceId.{}={id}", n + 1);
    }
    assert_eq!(ec2(&emulator, &terminate).await.0, 200);
    // Only the volume of the image that keeps it, launched without a
    // mapping of its own, stays: available, no attachment, still tagged.
    let (_, body) = ec2(&emulator, describe_volumes).await;
    assert_eq!(body.matches("<volumeId>").count(), 1, "{body}");
    assert_eq!(
        between(&body, "<volumeId>", "</volumeId>"),
        volume(&launched[1])
    );
    assert_eq!(between(&body, "<status>", "</status>"), "available");
    assert_eq!(between(&body, "<attachmentSet>", "</attachmentSet>"), "");
    assert_eq!(emulator.unattached_resources().disks, 1);
    let (status, body) = ec2(
        &emulator,
        &format!(
            "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1={}",
            volume(&launched[0])
        ),
    )
    .await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidVolume.NotFound")
    );
    let (status, body) = ec2(&emulator, &delete).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(emulator.unattached_resources().disks, 0);
}

/// The usual lookup of the latest image works as on EC2: Amazon's public
/// images by owner alias and a name pattern, Canonical's by owner id; an
/// image of this account, named by id, is no one else's.
#[tokio::test]
async fn images_are_found_by_owner_and_name() {
    let emulator = Emulator::builder().start().await.unwrap();
    let images = |xml: &str| -> Vec<String> {
        xml.split("<imageId>")
            .skip(1)
            .map(|s| s[..s.find('<').unwrap()].to_owned())
            .collect()
    };
    let describe = "Action=DescribeImages&Version=2016-11-15";
    let (status, body) = ec2(
        &emulator,
        &format!("{describe}&Owner.1=amazon&Filter.1.Name=name&Filter.1.Value.1=al2023-ami-*-x86_64&Filter.2.Name=state&Filter.2.Value.1=available"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(images(&body).len(), 2, "{body}");
    assert!(body.contains("<imageOwnerAlias>amazon</imageOwnerAlias>"));
    assert!(body.contains("<creationDate>"));
    let (_, body) = ec2(&emulator, &format!("{describe}&Owner.1=099720109477")).await;
    assert_eq!(images(&body).len(), 1, "{body}");
    assert!(body.contains("ubuntu-noble-24.04-amd64"));
    // An image of this account: found by id, and by `self`, not by amazon.
    let (_, body) = ec2(&emulator, &format!("{describe}&ImageId.1=ami-0abc1234")).await;
    assert_eq!(images(&body), ["ami-0abc1234"]);
    let (_, body) = ec2(
        &emulator,
        &format!("{describe}&ImageId.1=ami-0abc1234&Owner.1=amazon"),
    )
    .await;
    assert!(images(&body).is_empty(), "{body}");
    let (_, body) = ec2(&emulator, &format!("{describe}&Owner.1=self")).await;
    assert!(images(&body).is_empty(), "the catalog is public: {body}");
    let (status, body) = ec2(
        &emulator,
        &format!("{describe}&Filter.1.Name=colour&Filter.1.Value.1=blue"),
    )
    .await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "InvalidParameterValue")
    );
}

/// A client token used again with another Availability Zone is a changed
/// parameter: `IdempotentParameterMismatch`, and no second instance (the
/// API reference, "Ensuring idempotency": "If you retry a request with the
/// same client token, but change one or more of the API parameters, the
/// IdempotentParameterMismatch error is returned"; only another Region
/// launches again).
#[tokio::test]
async fn a_client_token_used_again_in_another_zone_is_a_mismatch() {
    let emulator = Emulator::builder().start().await.unwrap();
    let in_zone =
        |zone: &str| format!("{RUN}&ClientToken=tok-az&Placement.AvailabilityZone={zone}");
    let (status, _) = ec2(&emulator, &in_zone("us-east-1a")).await;
    assert_eq!(status, 200);
    let (status, body) = ec2(&emulator, &in_zone("us-east-1b")).await;
    assert_eq!(
        (status, between(&body, "<Code>", "</Code>")),
        (400, "IdempotentParameterMismatch")
    );
    assert_eq!(emulator.cloud().live_instances(), 1);
}
