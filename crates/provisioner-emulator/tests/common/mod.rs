//! A raw HTTP/1.1 client for the face tests: the faces are spoken to as any
//! client in any language would.

use provisioner_emulator::EmulatorHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An EC2-style SigV4 header (the EC2 face checks that one is present).
pub(crate) const SIGNED: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEMULATOR/20261125/us-east-1/ec2/aws4_request";

/// One request; the status and body, or `None` when the server closed the
/// connection without answering.
pub(crate) async fn http(
    emulator: &EmulatorHandle,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(emulator.addr()).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {SIGNED}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    if response.is_empty() {
        return None;
    }
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A JSON control request that must answer 204.
#[allow(dead_code)] // not every test file controls faults
pub(crate) async fn control(emulator: &EmulatorHandle, path: &str, json: &str) {
    let (status, _) = http(emulator, "POST", path, "application/json", json)
        .await
        .unwrap();
    assert_eq!(status, 204, "{path}");
}
