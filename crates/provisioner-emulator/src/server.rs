//! The HTTP server: an accept loop over hyper's HTTP/1 connections, serving
//! one axum router, that honours [`DropConnection`] markers.

use provisioner_core::backoff::Backoff;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::wire::{DropConnection, WireCounts};

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct DroppedAfterCommit;

impl std::fmt::Display for DroppedAfterCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped after commit (injected fault)")
    }
}

impl std::error::Error for DroppedAfterCommit {}

/// The most connections served at once; further clients wait in the
/// listen backlog.
const MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` (over TLS when `tls` is given) until
/// `shutdown` fires (or its sender drops).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    counts: Arc<WireCounts>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // After a failed accept (out of file descriptors, say), wait before the
    // next one instead of spinning; the wait doubles up to a second.
    let calm = || Backoff::new(Duration::from_millis(5), Duration::from_secs(1));
    let mut pauses = calm();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = &mut shutdown => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(pauses.next_pause()).await;
                    continue;
                }
            },
            _ = &mut shutdown => return,
        };
        pauses = calm();
        let (app, counts) = (app.clone(), Arc::clone(&counts));
        match tls.clone() {
            None => {
                tokio::spawn(serve_connection(stream, peer, app, counts, permit));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    // The handshake counts against the header timeout, so a
                    // silent client cannot hold a slot.
                    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, peer, app, counts, permit).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    counts: Arc<WireCounts>,
    _slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let app = app.clone();
        counts.record(request.uri().path());
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
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}
