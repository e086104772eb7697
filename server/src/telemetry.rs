//! Logging. Human-readable by default, JSON on request. Every request gets an id (from
//! `x-request-id` if the caller sent one, else a fresh UUID) that appears on each of its
//! log lines and in its response, and is written to audit rows.
//!
//! What is never logged (docs/LOGGING.md): request and response bodies, query strings
//! (they can carry NHS numbers), headers (cookies, bearer credentials), patient names,
//! NHS numbers, emails, tokens. Only method, path, status and timing are.

use axum::http::Request;
use tower_http::request_id::RequestId;
use tracing::Span;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing),
/// which tests rely on.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// The span for one request: method, path (never the query) and request id.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
