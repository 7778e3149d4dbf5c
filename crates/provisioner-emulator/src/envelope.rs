//! Every answer in its face's error shape. Handlers answer their cloud's
//! envelope themselves; what they never see (a path no route knows, a
//! method a route does not take, a query or body the extractors refuse)
//! would otherwise leave axum's plain-text answers, which no cloud client
//! can read. This layer rewrites those into the face's envelope, keeping
//! the status.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::wire::Face;
use crate::{arm, ec2, gce};

/// The most of an unshaped body kept as the message.
const MESSAGE_LIMIT: usize = 1024;

/// The middleware: see the module docs.
pub(crate) async fn shape_errors(request: Request, next: Next) -> Response {
    let face = Face::of_path(request.uri().path());
    let response = next.run(request).await;
    let Some(face) = face else {
        return response;
    };
    let status = response.status();
    if status.is_success() || status.is_informational() || is_shaped(face, &response) {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), MESSAGE_LIMIT * 4)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let mut message: String = text.chars().take(MESSAGE_LIMIT).collect();
    if message.trim().is_empty() {
        message = status
            .canonical_reason()
            .unwrap_or("The request could not be served")
            .to_owned();
    }
    let status = if status.is_redirection() {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    match face {
        Face::Ec2 => ec2::wire_error(status, &message),
        Face::ComputeEngine => gce::wire_error(status, &message),
        Face::ResourceManager => arm::wire_error(status, &message),
    }
}

/// True when a handler already answered in the face's envelope.
fn is_shaped(face: Face, response: &Response) -> bool {
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match face {
        Face::Ec2 => content_type.starts_with("text/xml"),
        Face::ComputeEngine | Face::ResourceManager => content_type.starts_with("application/json"),
    }
}
