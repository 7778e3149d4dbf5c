//! No request can crash the emulator, and every answer is its cloud's: a
//! seeded generator sends 100,000 requests to each face (EC2 Query, Compute
//! Engine JSON and filters, ARM JSON and paths), mixing valid shapes with
//! garbage in every field, and checks that each answer is a success or a
//! well-formed error of that cloud. The seed is fixed so a failure repeats;
//! `PROVISIONER_FUZZ_SEED` picks another.

use axum::body::Body;
use axum::http::{Request, Response};
use provisioner_emulator::{Emulator, EmulatorHandle, Face};
use provisioner_fake::{FakeCloud, Personality};
use serde_json::Value;

/// Requests per face per run.
const REQUESTS: usize = 100_000;

/// xorshift64*: small, seeded, the same sequence forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A value short enough for a URL (the `http` crate refuses URIs over
    /// 64 KiB before any server could see them).
    fn url_value(&mut self) -> String {
        self.value().chars().take(2000).collect()
    }

    /// A value that is sometimes valid and sometimes hostile.
    fn value(&mut self) -> String {
        match self.below(12) {
            0 => String::new(),
            // Now and then far beyond any limit; usually just long.
            1 if self.chance(2) => "x".repeat(70_000),
            1 => "x".repeat(self.below(300)),
            2 => "%00%0a%0d%ff..%2F..%2f".to_owned(),
            3 => "((((((((((".repeat(self.below(50)),
            4 => (self.next() as i64).to_string(),
            5 => "-1".to_owned(),
            6 => "\u{1F4A5}ünï\u{0}code\u{202E}".to_owned(),
            7 => "i-0123456789abcdef0".to_owned(),
            8 => "p-0123456789abcdef01234567".to_owned(),
            9 => "us-central1-a".to_owned(),
            10 => "\"quoted\\\" value\"".to_owned(),
            _ => format!("v{}", self.next() % 1000),
        }
    }
}

fn seed() -> u64 {
    std::env::var("PROVISIONER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d_dead_beef)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How the answers of one run were spread: successes and errors, so that a
/// generator that only ever produced one kind of request is noticed.
#[derive(Default)]
struct Spread {
    ok: usize,
    errors: usize,
}

impl Spread {
    fn count(&mut self, status: u16) {
        if status < 400 {
            self.ok += 1;
        } else {
            self.errors += 1;
        }
    }

    fn check(&self, face: &str) {
        eprintln!("{face}: {} successes, {} errors", self.ok, self.errors);
        assert!(
            self.ok >= 500 && self.errors >= 500,
            "{face}: {} ok, {} errors",
            self.ok,
            self.errors
        );
    }
}

async fn body_of(response: Response<Body>) -> (u16, String, Vec<u8>) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, content_type, bytes)
}

fn ec2_request(rng: &mut Rng) -> Request<Body> {
    const ACTIONS: &[&str] = &[
        "RunInstances",
        "DescribeInstances",
        "TerminateInstances",
        "StopInstances",
        "StartInstances",
        "DescribeImages",
        "Reboot",
        "",
    ];
    const PARAMS: &[&str] = &[
        "ImageId",
        "InstanceType",
        "MinCount",
        "MaxCount",
        "ClientToken",
        "InstanceId.1",
        "InstanceId.2",
        "Filter.1.Name",
        "Filter.1.Value.1",
        "Filter.2.Name",
        "Filter.2.Value.1",
        "MaxResults",
        "NextToken",
        "UserData",
        "TagSpecification.1.ResourceType",
        "TagSpecification.1.Tag.1.Key",
        "TagSpecification.1.Tag.1.Value",
        "BlockDeviceMapping.1.DeviceName",
        "BlockDeviceMapping.1.Ebs.VolumeSize",
        "Version",
    ];
    let mut form = format!("Action={}", encode(rng.pick(ACTIONS)));
    for _ in 0..rng.below(8) {
        let value = rng.value();
        form.push_str(&format!("&{}={}", rng.pick(PARAMS), encode(&value)));
    }
    if rng.chance(5) {
        form.push_str("&%%%=&&==");
    }
    let mut request =
        Request::post("/").header("content-type", "application/x-www-form-urlencoded");
    if rng.chance(95) {
        request = request.header("authorization", "AWS4-HMAC-SHA256 Credential=fuzz");
    }
    request.body(Body::from(form)).unwrap()
}

fn check_ec2((status, content_type, body): (u16, String, Vec<u8>)) {
    let text = String::from_utf8_lossy(&body);
    assert!(
        content_type.starts_with("text/xml"),
        "{status} {content_type}: {text}"
    );
    if status != 200 {
        assert!(
            text.contains("<Response><Errors><Error><Code>") && text.contains("<RequestID>"),
            "{status}: {text}"
        );
    }
}

fn gce_request(rng: &mut Rng) -> Request<Body> {
    const SEGMENTS: &[&str] = &[
        "instances",
        "operations",
        "start",
        "stop",
        "wait",
        "p-1",
        "web-1",
        "..",
        "%2F",
        "",
    ];
    let zone = if rng.chance(80) {
        "us-central1-a".to_owned()
    } else {
        encode(&rng.url_value())
    };
    let mut path = if rng.chance(15) {
        "/compute/v1/projects/p/aggregated/instances".to_owned()
    } else {
        format!("/compute/v1/projects/p/zones/{zone}/instances")
    };
    for _ in 0..rng.below(3) {
        path.push('/');
        path.push_str(&if rng.chance(70) {
            rng.pick(SEGMENTS).to_owned()
        } else {
            encode(&rng.url_value())
        });
    }
    let mut query = Vec::new();
    for key in ["filter", "maxResults", "pageToken", "requestId"] {
        if rng.chance(25) {
            let value = match (key, rng.below(3)) {
                ("filter", 0) => format!(
                    "(labels.fleet = \"{}\") AND status = RUNNING",
                    rng.url_value()
                ),
                _ => rng.url_value(),
            };
            query.push(format!("{key}={}", encode(&value)));
        }
    }
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query.join("&"));
    }
    let method = rng.pick(&["GET", "POST", "DELETE", "PUT"]);
    let body = match rng.below(4) {
        0 => String::new(),
        1 => rng.value(),
        _ => serde_json::json!({
            "name": if rng.chance(60) { format!("web-{}", rng.below(50)) } else { rng.value() },
            "machineType": if rng.chance(70) { "zones/us-central1-a/machineTypes/e2-small".to_owned() } else { rng.value() },
            "disks": [{"boot": true, "initializeParams": {
                "sourceImage": if rng.chance(70) { "projects/debian-cloud/global/images/family/debian-12".to_owned() } else { rng.value() },
                "diskSizeGb": rng.value()}}],
            "labels": {rng.value(): rng.value()},
            "metadata": {"items": [{"key": rng.value(), "value": rng.value()}]},
            "networkInterfaces": [{"accessConfigs": [{"name": "External NAT"}]}],
        })
        .to_string(),
    };
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn check_json((status, content_type, body): (u16, String, Vec<u8>), face: &str) {
    let text = String::from_utf8_lossy(&body);
    if (200..300).contains(&status) && body.is_empty() {
        return;
    }
    assert!(
        content_type.starts_with("application/json"),
        "{face} {status} {content_type}: {text}"
    );
    let value: Value =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{face} {status}: {e}: {text}"));
    if status >= 400 {
        let error = &value["error"];
        match face {
            "gce" => assert!(
                error["code"].as_u64() == Some(u64::from(status))
                    && error["message"].is_string()
                    && error["errors"][0]["reason"].is_string(),
                "{status}: {text}"
            ),
            _ => assert!(
                error["code"].as_str().is_some_and(|c| !c.is_empty())
                    && error["message"].is_string(),
                "{status}: {text}"
            ),
        }
    }
}

fn arm_request(rng: &mut Rng) -> Request<Body> {
    const KINDS: &[&str] = &[
        "providers/Microsoft.Compute/virtualMachines",
        "providers/Microsoft.Network/networkInterfaces",
        "providers/Microsoft.Network/publicIPAddresses",
        "providers/Microsoft.Compute/disks",
        "providers/Microsoft.Nope/things",
    ];
    const ACTIONS: &[&str] = &[
        "",
        "/start",
        "/deallocate",
        "/powerOff",
        "/instanceView",
        "/x/y",
    ];
    let name = if rng.chance(70) {
        format!("vm-{}", rng.below(30))
    } else {
        encode(&rng.url_value())
    };
    let kind = rng.pick(KINDS);
    let mut path = format!("/subscriptions/sub-1/resourceGroups/fleet/{kind}");
    if rng.chance(85) {
        path.push('/');
        path.push_str(&name);
        path.push_str(rng.pick(ACTIONS));
    }
    if rng.chance(10) {
        path = format!(
            "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/{}",
            encode(&rng.url_value())
        );
    }
    // Mostly the version the resource type takes, so that requests get
    // past the version check and reach the model.
    let version = match (rng.chance(75), kind.contains("Network")) {
        (true, true) => "2024-03-01",
        (true, false) => "2024-07-01",
        (false, _) => rng.pick(&["2024-07-01", "2024-03-01", "2026-04-01", "", "%%"]),
    };
    if !version.is_empty() || rng.chance(50) {
        path.push_str(&format!("?api-version={version}"));
        if rng.chance(30) {
            path.push_str(&format!(
                "&$expand={}&$skiptoken={}",
                encode(&rng.url_value()),
                encode(&rng.url_value())
            ));
        }
    }
    let body = match rng.below(4) {
        0 => String::new(),
        1 => rng.value(),
        _ => serde_json::json!({
            "location": if rng.chance(80) { "westeurope".to_owned() } else { rng.value() },
            "tags": {rng.value(): rng.value()},
            "properties": {
                "hardwareProfile": {"vmSize": rng.value()},
                "storageProfile": {
                    "imageReference": {"publisher": "Canonical", "offer": rng.value(), "sku": "server"},
                    "osDisk": {"createOption": "FromImage", "diskSizeGB": rng.next() % 5000, "deleteOption": "Delete"}},
                "osProfile": {"computerName": name, "adminUsername": "fleet", "customData": rng.value()},
                "userData": rng.value(),
                "networkProfile": {"networkInterfaceConfigurations": [{"name": rng.value(), "properties": {
                    "primary": true, "deleteOption": "Delete",
                    "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": rng.value()}}}]}}]},
            },
        })
        .to_string(),
    };
    let mut request = Request::builder()
        .method(rng.pick(&["GET", "GET", "GET", "PUT", "PUT", "POST", "DELETE", "PATCH"]))
        .uri(path)
        .header("content-type", "application/json");
    if rng.chance(95) {
        request = request.header("authorization", "Bearer fuzz");
    }
    if rng.chance(20) {
        request = request.header("if-none-match", "*");
    }
    request.body(Body::from(body)).unwrap()
}

async fn emulator(personality: Personality) -> EmulatorHandle {
    Emulator::builder()
        .cloud(
            FakeCloud::builder()
                .personality(personality)
                .seed(seed())
                .build(),
        )
        .ec2_page_cap(3)
        .gce_page_cap(3)
        .arm_page_cap(3)
        .resource_group("sub-1", "fleet", "westeurope")
        .subnet("/subscriptions/sub-1/resourceGroups/fleet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default")
        .start()
        .await
        .unwrap()
}

/// Paused time: a long-running operation's `wait` or a planned latency
/// costs no real time.
#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_ec2_requests_get_ec2_answers() {
    let emulator = emulator(Personality::ec2()).await;
    let mut rng = Rng(seed());
    let mut spread = Spread::default();
    for _ in 0..REQUESTS {
        let request = ec2_request(&mut rng);
        let answer = body_of(emulator.answer(request).await).await;
        spread.count(answer.0);
        check_ec2(answer);
    }
    spread.check("ec2");
    assert_eq!(
        emulator.requests_received(Face::Ec2),
        0,
        "in process, not on the wire"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_compute_engine_requests_get_compute_engine_answers() {
    let emulator = emulator(Personality::gce()).await;
    let mut rng = Rng(seed() ^ 0x9ce);
    let mut spread = Spread::default();
    for _ in 0..REQUESTS {
        let request = gce_request(&mut rng);
        let answer = body_of(emulator.answer(request).await).await;
        spread.count(answer.0);
        check_json(answer, "gce");
    }
    spread.check("gce");
}

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_resource_manager_requests_get_arm_answers() {
    let emulator = emulator(Personality::azure()).await;
    let mut rng = Rng(seed() ^ 0xa2e);
    let mut spread = Spread::default();
    for _ in 0..REQUESTS {
        let request = arm_request(&mut rng);
        let answer = body_of(emulator.answer(request).await).await;
        spread.count(answer.0);
        check_json(answer, "arm");
    }
    spread.check("arm");
}
