//! Rate limits, by the `tower_governor` middleware (a token bucket per key): sign-in
//! routes per client address; the feed per credential and, above that, per client
//! address. Over a limit, a request is answered 429 with `Retry-After` before it
//! reaches any handler or the database: a sign-in page saying to wait, or on the feed
//! an OperationOutcome with the code `throttled`. The limits are settings
//! (`PORTAL_SIGN_IN_LIMIT`, `PORTAL_FEED_LIMIT`, `PORTAL_FEED_ADDRESS_LIMIT`).
//!
//! The feed's key is the credential a request presents, before anything checks it, so a
//! client inventing a new credential for every request would get a fresh allowance each
//! time: the per-address limit is what holds such a client. And every key the limiter
//! meets is remembered until its bucket has refilled; a task forgets those every minute,
//! so keys that come and go (made-up credentials above all) cannot grow its memory
//! without bound.
//!
//! The client address is the TCP peer's. Behind a reverse proxy every request comes
//! from the proxy's address, so the proxy should apply its own per-client limit (the
//! portal does not trust `X-Forwarded-For`, which any client can write).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use governor::middleware::NoOpMiddleware;
use sha2::{Digest, Sha256};
use tower_governor::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder, SharedRateLimiter};
use tower_governor::key_extractor::KeyExtractor;

/// A limit: a burst of `burst` requests, refilled at `per_second` a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: u32,
}

impl RateLimit {
    /// Sign-in routes, per client address: generous for a household or a small office
    /// behind one address, far below what a script would send.
    pub const SIGN_IN: RateLimit = RateLimit {
        burst: 60,
        per_second: 1,
    };
    /// The feed, per credential: well above a sender's steady deliveries and bursts.
    pub const FEED: RateLimit = RateLimit {
        burst: 1000,
        per_second: 200,
    };
    /// The feed, per client address, whatever credentials it presents: room for two
    /// credentials' full allowance behind one address (a trust's gateway), and a
    /// ceiling on a client that makes up a new credential for every request.
    pub const FEED_ADDRESS: RateLimit = RateLimit {
        burst: 2000,
        per_second: 400,
    };

    /// From a setting's text, `BURST/PER_SECOND` (e.g. `60/1`).
    pub fn parse(text: &str) -> Option<Self> {
        let (burst, per_second) = text.trim().split_once('/')?;
        let limit = RateLimit {
            burst: burst.trim().parse().ok()?,
            per_second: per_second.trim().parse().ok()?,
        };
        (limit.burst > 0 && limit.per_second > 0).then_some(limit)
    }
}

/// The client's address, from the connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress;

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The feed credential a request presents (by its hash: the secret itself is not
/// kept), or the client's address when it presents none.
#[derive(Debug, Clone, Copy)]
pub struct FeedCredential;

impl KeyExtractor for FeedCredential {
    type Key = String;

    fn extract<T>(&self, request: &Request<T>) -> Result<String, GovernorError> {
        match request.headers().get(header::AUTHORIZATION) {
            Some(value) => Ok(hex::encode(Sha256::digest(value.as_bytes()))),
            None => ClientAddress.extract(request).map(|ip| format!("ip:{ip}")),
        }
    }
}

/// How often the keys whose buckets have refilled are forgotten.
const FORGET_INTERVAL: Duration = Duration::from_secs(60);

/// The middleware's configuration for a limit and a key, with a task that forgets, every
/// [`FORGET_INTERVAL`], the keys whose buckets have refilled (it ends when the
/// configuration is dropped). Must be called inside the Tokio runtime.
pub fn config<K>(limit: RateLimit, key: K) -> Arc<GovernorConfig<K, NoOpMiddleware>>
where
    K: KeyExtractor,
    K::Key: Send + Sync + 'static,
{
    let period_ms = u64::from((1000 / limit.per_second).max(1));
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .per_millisecond(period_ms)
            .burst_size(limit.burst)
            .key_extractor(key)
            .finish()
            .unwrap_or_else(|| unreachable!("a positive period and burst")),
    );
    let limiter = Arc::downgrade(config.limiter());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(FORGET_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(limiter) = limiter.upgrade() else {
                break;
            };
            forget_refilled(&limiter);
        }
    });
    config
}

/// Forgets the keys whose buckets are full again. Nothing is lost by it: a key the
/// limiter does not know starts with a full bucket, which is what a refilled one holds.
pub fn forget_refilled<Key>(limiter: &SharedRateLimiter<Key, NoOpMiddleware>)
where
    Key: Clone + std::hash::Hash + Eq,
{
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

/// Seconds to wait, from the middleware's answer: at least one.
fn retry_after(error: &GovernorError) -> u64 {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => (*wait_time).max(1),
        _ => 1,
    }
}

fn with_retry_after(mut response: Response<Body>, seconds: u64) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The answer to a sign-in request over its limit: a plain page, 429.
pub fn sign_in_refusal(error: GovernorError) -> Response<Body> {
    if !matches!(error, GovernorError::TooManyRequests { .. }) {
        return opaque_error();
    }
    let seconds = retry_after(&error);
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Too many attempts - Your health record</title>\
         <link rel=\"stylesheet\" href=\"/pkg/portal.css\"></head><body>\
         <div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" id=\"maincontent\">\
         <h1>Too many attempts to sign in</h1><p>Wait {seconds} seconds, then try again.</p>\
         <p><a href=\"/\">Go to the home page</a></p></main></div></body></html>"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    with_retry_after(response, seconds)
}

/// The answer to a feed request over its limit per credential: an OperationOutcome,
/// code `throttled`.
pub fn feed_refusal(error: GovernorError) -> Response<Body> {
    feed_throttled(error, "with this credential")
}

/// The answer to a feed request over its limit per client address.
pub fn feed_address_refusal(error: GovernorError) -> Response<Body> {
    feed_throttled(error, "from this address")
}

fn feed_throttled(error: GovernorError, whose: &str) -> Response<Body> {
    if !matches!(error, GovernorError::TooManyRequests { .. }) {
        return opaque_error();
    }
    let seconds = retry_after(&error);
    let problem = crate::feed::outcome::Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "throttled",
        format!("Too many requests {whose}: try again in {seconds} seconds."),
    );
    with_retry_after(
        axum::response::IntoResponse::into_response(problem),
        seconds,
    )
}

/// No key could be found (no connection address): a server fault, said opaquely.
fn opaque_error() -> Response<Body> {
    let mut response = Response::new(Body::from("Sorry, there is a problem with the service."));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_as_burst_and_rate() {
        assert_eq!(
            RateLimit::parse(" 60 / 1 "),
            Some(RateLimit {
                burst: 60,
                per_second: 1
            })
        );
        for bad in ["60", "0/1", "1/0", "a/b", ""] {
            assert_eq!(RateLimit::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn keys_are_forgotten_once_their_buckets_have_refilled() {
        // A bucket of 5 refilled every millisecond: 1,000 made-up credentials, one
        // request each, are all fresh again well within 100 ms.
        let fast = config(
            RateLimit {
                burst: 5,
                per_second: 1000,
            },
            FeedCredential,
        );
        let limiter = fast.limiter();
        for n in 0..1000 {
            assert!(limiter.check_key(&format!("made-up-{n}")).is_ok());
        }
        // One key used up: its bucket is empty.
        while limiter.check_key(&"busy".to_owned()).is_ok() {}
        assert_eq!(limiter.len(), 1001);
        tokio::time::sleep(Duration::from_millis(100)).await;
        forget_refilled(limiter);
        assert_eq!(limiter.len(), 0, "every bucket has refilled by now");

        // A bucket that takes seconds to refill is kept while it does.
        let slow = config(
            RateLimit {
                burst: 5,
                per_second: 1,
            },
            ClientAddress,
        );
        let address = IpAddr::from([192, 0, 2, 1]);
        while slow.limiter().check_key(&address).is_ok() {}
        forget_refilled(slow.limiter());
        assert_eq!(slow.limiter().len(), 1, "an empty bucket is remembered");
    }
}
