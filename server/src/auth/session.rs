//! Server-side sessions and CSRF protection.
//!
//! A session is a random 256-bit id in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`
//! unless the portal runs on plain-http localhost); storage keeps only its SHA-256, so
//! any instance sharing the database can resolve it. Patients and staff have separate
//! cookies and the stored session names its audience, so one can never stand in for the
//! other. Sessions end after 30 idle minutes or 12 hours, whichever comes first
//! (`app::auth::check_session`), and the id is new at every sign-in.
//!
//! Every state-changing request (anything but GET, HEAD, OPTIONS) from a browser must
//! come from our own origin (`Origin`, else `Referer`), and when it carries a session it
//! must also carry that session's CSRF token, in the `x-csrf-token` header or a
//! `csrf_token` form field. That covers plain HTML forms without JavaScript and server
//! functions called from the hydrated page alike. The feed (`/fhir`, bearer credentials,
//! no cookies) is exempt.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use app::auth::{SessionCheck, absolute_timeout, check_session, idle_timeout};
use app::server::storage::{Account, NewSession, SessionAudience, Storage, StorageError};
use app::server::{Clock, SignedIn, Viewer};

pub const PATIENT_COOKIE: &str = "portal_session";
pub const STAFF_COOKIE: &str = "portal_staff_session";
/// Binds a sign-in in progress to the browser that started it (against login CSRF).
pub const LOGIN_STATE_COOKIE: &str = "portal_login_state";

/// Largest form body the CSRF check reads; larger forms are refused.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Only write `last_seen_at` when it has moved this much, so reading pages does not
/// write to the database on every request.
const TOUCH_GRANULARITY_SECONDS: i64 = 30;

#[derive(Clone)]
pub struct SessionLayerState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub cookies: CookiePolicy,
}

/// How cookies are named and marked, from the public URL.
#[derive(Clone, Debug)]
pub struct CookiePolicy {
    pub secure: bool,
    pub origin: String,
    /// `__Host-` when the portal is served over https: the browser then accepts the
    /// cookie only if it is `Secure`, for this host alone (no `Domain`) and for every
    /// path, so no other site or subdomain can plant or shadow it.
    pub prefix: &'static str,
}

impl CookiePolicy {
    /// `Secure` everywhere except plain http on localhost (where browsers would drop a
    /// `Secure` cookie).
    pub fn from_public_url(public_url: &str) -> Self {
        let url = url::Url::parse(public_url).ok();
        let origin = url
            .as_ref()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| public_url.trim_end_matches('/').to_owned());
        let local_http = url.as_ref().is_some_and(|u| {
            u.scheme() == "http"
                && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        });
        let https = url.as_ref().is_some_and(|u| u.scheme() == "https");
        Self {
            secure: !local_http,
            origin,
            prefix: if https { "__Host-" } else { "" },
        }
    }

    /// The name a cookie goes by in the browser: `base` with the prefix.
    pub fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    /// A browser-session cookie: the server decides when the session ends.
    pub fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((self.name(name), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .build()
    }

    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.cookie(name, String::new());
        cookie.make_removal();
        cookie
    }
}

/// The cookies that remember, per audience, that a session ended by the idle or
/// absolute limit: the next sign-in then asks the provider to authenticate the person
/// again (`prompt=login`) instead of accepting its own still-open session.
pub fn reauth_cookie_name(audience: SessionAudience) -> &'static str {
    match audience {
        SessionAudience::Patient => "portal_reauth",
        SessionAudience::Staff => "portal_staff_reauth",
    }
}

/// Which audiences presented a session cookie with no live session behind it in this
/// very request (the cookie saying so only reaches the browser with its response).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimedOut {
    pub patient: bool,
    pub staff: bool,
}

impl TimedOut {
    pub fn of(self, audience: SessionAudience) -> bool {
        match audience {
            SessionAudience::Patient => self.patient,
            SessionAudience::Staff => self.staff,
        }
    }
}

/// What a session cookie stands for now.
enum Resolved {
    SignedIn(Box<SignedIn>),
    /// No live session: it ended by the idle or absolute limit (and is deleted now), or
    /// it did and the sweeper has deleted it since, or there never was one (or it is
    /// the other audience's). The three are one case: a browser only still holds the
    /// cookie of a session that ended by the clock (signing out removes it), and asking
    /// NHS login to authenticate again costs a forged cookie nothing it should have.
    Ended,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Starts a session for an account: a new id (never reusing one from before sign-in),
/// a new CSRF token. Returns the cookie to set.
pub async fn start_session(
    storage: &dyn Storage,
    cookies: &CookiePolicy,
    account: &Account,
    audience: SessionAudience,
    now: DateTime<Utc>,
) -> Result<Cookie<'static>, StorageError> {
    let token = random_token();
    storage
        .create_session(NewSession {
            id_hash: hash_token(&token),
            account_id: account.id,
            audience,
            csrf_token: random_token(),
            created_at: now,
            absolute_expires_at: now + absolute_timeout(),
        })
        .await?;
    Ok(cookies.cookie(cookie_name(audience), token))
}

pub fn cookie_name(audience: SessionAudience) -> &'static str {
    match audience {
        SessionAudience::Patient => PATIENT_COOKIE,
        SessionAudience::Staff => STAFF_COOKIE,
    }
}

/// Resolves the session cookies into a [`Viewer`] in the request's extensions, ends
/// expired sessions, and enforces the CSRF rules above.
pub async fn session_layer(
    State(state): State<SessionLayerState>,
    jar: CookieJar,
    request: Request,
    next: Next,
) -> Response {
    let now = state.clock.now();
    let mut viewer = Viewer::default();
    let mut timed_out = TimedOut::default();
    for audience in [SessionAudience::Patient, SessionAudience::Staff] {
        let Some(cookie) = jar.get(&state.cookies.name(cookie_name(audience))) else {
            continue;
        };
        match resolve(&state, cookie.value(), audience, now).await {
            Ok(Resolved::SignedIn(signed_in)) => match audience {
                SessionAudience::Patient => viewer.patient = Some(*signed_in),
                SessionAudience::Staff => viewer.staff = Some(*signed_in),
            },
            Ok(Resolved::Ended) => match audience {
                SessionAudience::Patient => timed_out.patient = true,
                SessionAudience::Staff => timed_out.staff = true,
            },
            Err(error) => {
                let reference = app::error::AppError::internal(&error);
                tracing::error!(?reference, "session lookup failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sorry, there is a problem with the service.",
                )
                    .into_response();
            }
        }
    }

    let request = match check_csrf(&state.cookies, &viewer, request).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };

    let mut request = request;
    request.extensions_mut().insert(viewer);
    request.extensions_mut().insert(timed_out);
    let mut response = next.run(request).await;
    // A cookie for a session that is gone is removed, so the browser stops sending it.
    for audience in [SessionAudience::Patient, SessionAudience::Staff] {
        if !timed_out.of(audience) {
            continue;
        }
        if let Ok(value) = state
            .cookies
            .removal(cookie_name(audience))
            .to_string()
            .parse()
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        // Unless this response is the sign-in that already asked for it.
        if !response
            .headers()
            .get(header::LOCATION)
            .is_some_and(|l| l.to_str().is_ok_and(|l| l.contains("prompt=login")))
        {
            // Kept for as long as a session could have lasted.
            let cookie = state
                .cookies
                .cookie(reauth_cookie_name(audience), "1".to_owned());
            if let Ok(value) = format!("{cookie}; Max-Age=43200").parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

/// The signed-in account behind a cookie; or that there is no live session behind it
/// (one that has just ended by the clock is deleted).
async fn resolve(
    state: &SessionLayerState,
    token: &str,
    audience: SessionAudience,
    now: DateTime<Utc>,
) -> Result<Resolved, StorageError> {
    let id_hash = hash_token(token);
    let Some((session, account)) = state.storage.find_session(&id_hash).await? else {
        return Ok(Resolved::Ended);
    };
    if session.audience != audience {
        return Ok(Resolved::Ended);
    }
    if check_session(session.last_seen_at, session.absolute_expires_at, now) != SessionCheck::Active
    {
        state.storage.delete_session(&id_hash, None).await?;
        return Ok(Resolved::Ended);
    }
    if (now - session.last_seen_at).num_seconds() >= TOUCH_GRANULARITY_SECONDS {
        state.storage.touch_session(&id_hash, now).await?;
    }
    // Whose record the person chose to read. A grant that is not theirs is ignored
    // (whether it is in force is the access decision's, at every read).
    let acting_for = match session.acting_for {
        Some(grant) => state
            .storage
            .find_grant_by_id(grant)
            .await?
            .filter(|record| record.grant.proxy == account.id),
        None => None,
    };
    Ok(Resolved::SignedIn(Box::new(SignedIn {
        account,
        acting_for,
        session_hash: id_hash,
        csrf_token: session.csrf_token,
        expires_at: std::cmp::min(session.absolute_expires_at, now + idle_timeout()),
    })))
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths whose POSTs are not browser form posts to the portal: the feed (bearer
/// credentials) and the built-in identity provider simulator (its own protocol
/// endpoints, called by the portal's back channel).
fn exempt(path: &str) -> bool {
    path == "/fhir" || path.starts_with("/fhir/") || path.starts_with("/simulator/")
}

async fn check_csrf(
    cookies: &CookiePolicy,
    viewer: &Viewer,
    request: Request,
) -> Result<Request, Response> {
    if !is_state_changing(request.method()) || exempt(request.uri().path()) {
        return Ok(request);
    }
    if !same_origin(request.headers(), &cookies.origin) {
        return Err(refuse("This request did not come from this service."));
    }
    let expected: Vec<&str> = [viewer.patient.as_ref(), viewer.staff.as_ref()]
        .into_iter()
        .flatten()
        .map(|s| s.csrf_token.as_str())
        .collect();
    if expected.is_empty() {
        return Ok(request);
    }
    if let Some(sent) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if expected.contains(&sent) {
            Ok(request)
        } else {
            Err(refuse("Your session has changed. Go back and try again."))
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refuse("Your session has changed. Go back and try again."));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response())?;
    let sent = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.into_owned());
    match sent {
        Some(token) if expected.contains(&token.as_str()) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refuse("Your session has changed. Go back and try again.")),
    }
}

/// The request's `Origin` (or, failing that, `Referer`) is the portal's own.
fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    if let Some(sent) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return sent == origin;
    }
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.origin().ascii_serialization() == origin)
}

fn refuse(message: &'static str) -> Response {
    (StatusCode::FORBIDDEN, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_except_on_plain_http_localhost() {
        assert!(!CookiePolicy::from_public_url("http://127.0.0.1:3000").secure);
        assert!(!CookiePolicy::from_public_url("http://localhost:3000").secure);
        assert!(CookiePolicy::from_public_url("https://record.example.nhs.uk").secure);
        assert!(CookiePolicy::from_public_url("http://record.example.nhs.uk").secure);
        let cookie = CookiePolicy::from_public_url("https://record.example.nhs.uk")
            .cookie(PATIENT_COOKIE, "x".into());
        let text = cookie.to_string();
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(text.contains(part), "{text}");
        }
        // Over https the names carry `__Host-` (Secure, Path=/, no Domain), and what is
        // read back and removed goes by the same name.
        let https = CookiePolicy::from_public_url("https://record.example.nhs.uk");
        assert!(text.starts_with("__Host-portal_session=x"), "{text}");
        assert!(!text.contains("Domain"), "{text}");
        assert_eq!(https.name(PATIENT_COOKIE), "__Host-portal_session");
        assert!(
            https
                .removal(LOGIN_STATE_COOKIE)
                .to_string()
                .starts_with("__Host-portal_login_state=")
        );
        let local = CookiePolicy::from_public_url("http://127.0.0.1:3000");
        assert_eq!(local.name(PATIENT_COOKIE), "portal_session");
        assert_eq!(
            CookiePolicy::from_public_url("http://record.example.nhs.uk").name(PATIENT_COOKIE),
            "portal_session",
            "no prefix without https (the browser would refuse it)"
        );
    }

    #[test]
    fn origin_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(
            !same_origin(&headers, "http://127.0.0.1:3000"),
            "no origin at all is refused"
        );
        headers.insert(
            header::REFERER,
            "http://127.0.0.1:3000/appointments".parse().unwrap(),
        );
        assert!(same_origin(&headers, "http://127.0.0.1:3000"));
        headers.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(
            !same_origin(&headers, "http://127.0.0.1:3000"),
            "Origin wins over Referer"
        );
    }
}
