//! Raw requests on the emulator, as any client sends them, for the Azure
//! tests.

use provisioner_emulator::EmulatorHandle;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path` with a bearer token: the HTTP status and the JSON body
/// (`Null` when there is none).
pub(crate) async fn get_json(emulator: &EmulatorHandle, path: &str) -> (u16, Value) {
    request_json(emulator, "GET", path, None).await
}

/// `method` on `path` with a bearer token and `body` as JSON: the HTTP
/// status and the JSON body (`Null` when there is none).
pub(crate) async fn request_json(
    emulator: &EmulatorHandle,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}
