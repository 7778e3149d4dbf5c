//! The HTTP server: an accept loop over hyper's HTTP/1 connections, serving
//! one axum router, that honours [`DropConnection`] markers.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::wire::DropConnection;

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct DroppedAfterCommit;

impl std::fmt::Display for DroppedAfterCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped after commit (injected fault)")
    }
}

impl std::error::Error for DroppedAfterCommit {}

/// Serves `app` on `listener` until `shutdown` fires (or its sender drops).
pub(crate) async fn serve(listener: TcpListener, app: Router, mut shutdown: oneshot::Receiver<()>) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = &mut shutdown => return,
        };
        tokio::spawn(serve_connection(stream, peer, app.clone()));
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, app: Router) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(request.map(axum::body::Body::new))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            if response.extensions().get::<DropConnection>().is_some() {
                return Err(DroppedAfterCommit);
            }
            Ok(response)
        }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}
