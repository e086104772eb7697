//! Serving connections: the accept loop in place of `axum::serve`, which gives hyper no
//! timer and so no header-read timeout, leaving a client that sends its headers a byte
//! at a time (or never) holding a connection open for as long as it likes.
//!
//! Every connection is HTTP/1.1 (the portal sits behind a TLS-terminating proxy, which
//! speaks HTTP/1.1 to it; no HTTP/2 means none of its slow-client variants either), with:
//! - a **header-read timeout**: the whole request head must arrive within it, counted
//!   from when the connection starts waiting for one. That is also the **idle timeout**:
//!   a kept-alive connection with no next request is closed when it runs out;
//! - a **request timeout** (a layer of the router, `routes::build_router`): a request
//!   whose answer is not ready in time, body read included, is answered 408 or 503;
//! - a **write timeout**: a client that stops reading what it asked for (a large
//!   download left unread) is cut off once a write has waited as long as the header
//!   read may take;
//! - a cap on the size of the request head, and on the connections open at once
//!   (`PORTAL_MAX_CONNECTIONS`, [`DEFAULT_MAX_CONNECTIONS`]; past it the next connection
//!   waits in the listen queue until one closes);
//! - graceful shutdown: on a stop signal no new connection is accepted, requests in
//!   flight are finished (up to [`SHUTDOWN_GRACE`]), then the process ends.
//!
//! Each request carries the client's address (`ConnectInfo`), the key of the sign-in
//! rate limit (`limits`).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long requests in flight get to finish once the process is told to stop.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The largest request head (request line and headers) accepted; a larger one is
/// answered 431. The portal's own requests send a few kilobytes at most.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most connections served at once, unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4_096;

/// The per-connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The head of each request must arrive within this, from when the connection
    /// starts waiting for it (so it is also how long an idle connection is kept).
    pub header_read: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown`
/// completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .max_header_size(MAX_HEAD_BYTES);
    let graceful = GracefulShutdown::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = shutdown.as_mut() => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, usually: wait a moment rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        // Small responses go out at once rather than waiting to be joined with more.
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.header_read));
        let service = router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(client));
                request.map(axum::body::Body::new)
            },
        );
        let connection = http.serve_connection(
            TokioIo::new(Box::pin(stream)),
            TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(error) = connection.await {
                // A client that went away, or one timed out: routine, not an error of ours.
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still in flight at shutdown were cut off");
        }
    }
}
