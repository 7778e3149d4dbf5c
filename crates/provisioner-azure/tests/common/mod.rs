//! A raw GET on the emulator, as any client sends it, for the Azure tests.

use provisioner_emulator::EmulatorHandle;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path` with a bearer token: the HTTP status and the JSON body
/// (`Null` when there is none).
pub(crate) async fn get_json(emulator: &EmulatorHandle, path: &str) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}
