//! Signing in and out: patients (and proxies) with NHS login, service desk staff with
//! their organisation's identity provider. The OpenID Connect client is in `oidc`,
//! sessions and CSRF in `session`, keys in `keys`, and the demo's built-in provider in
//! `simulator`. The rules (levels, ages, timeouts) are pure and live in `app::auth`.
//!
//! Routes: `GET /auth/login` (`?step_up=1` asks for P9), `GET /auth/callback`,
//! `POST /auth/logout`, and the same under `/staff/auth/`. Every refused sign-in is
//! audited with a reason code; tokens never are.

pub mod keys;
pub mod oidc;
pub mod session;
pub mod simulator;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use serde::Deserialize;
use tower_http::request_id::RequestId;

use app::audit::{ActorKind, AuditOutcome, action};
use app::auth::{RefusalReason, SignInDecision, decide_sign_in, step_up_vectors};
use app::proxy::rules::GrantState;
use app::server::storage::{
    AccountRole, NewAuditEvent, NewLoginAttempt, NewSignIn, SessionAudience, Storage,
};
use app::server::{Clock, Viewer};

use self::oidc::{OidcError, OidcProvider};
use self::session::{
    CookiePolicy, LOGIN_STATE_COOKIE, TimedOut, cookie_name, hash_token, reauth_cookie_name,
    start_session,
};

/// How long a sign-in may take between leaving for the provider and coming back.
pub const LOGIN_ATTEMPT_LIFETIME_MINUTES: i64 = 10;

/// Which claim and value make a staff member service desk.
#[derive(Debug, Clone)]
pub struct StaffRole {
    pub claim: String,
    pub value: String,
}

#[derive(Clone)]
pub struct AuthState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub cookies: CookiePolicy,
    pub nhs_login: Option<Arc<OidcProvider>>,
    pub staff: Option<Arc<OidcProvider>>,
    pub staff_role: StaffRole,
}

pub fn router(state: AuthState) -> Router {
    Router::new()
        .route("/auth/login", get(patient_login))
        .route("/auth/callback", get(patient_callback))
        .route("/auth/logout", post(patient_logout))
        .route("/staff/auth/login", get(staff_login))
        .route("/staff/auth/callback", get(staff_callback))
        .route("/staff/auth/logout", post(staff_logout))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct LoginParams {
    step_up: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn patient_login(
    State(auth): State<AuthState>,
    jar: CookieJar,
    timed_out: Option<Extension<TimedOut>>,
    Query(params): Query<LoginParams>,
) -> Response {
    let Some(provider) = auth.nhs_login.clone() else {
        return Redirect::to("/auth/unavailable").into_response();
    };
    let vectors = if params.step_up.is_some() {
        step_up_vectors()
    } else {
        provider.settings().vectors.clone()
    };
    begin(
        &auth,
        &provider,
        jar,
        timed_out,
        SessionAudience::Patient,
        &vectors,
    )
    .await
}

async fn staff_login(
    State(auth): State<AuthState>,
    jar: CookieJar,
    timed_out: Option<Extension<TimedOut>>,
) -> Response {
    let Some(provider) = auth.staff.clone() else {
        return Redirect::to("/auth/unavailable").into_response();
    };
    begin(
        &auth,
        &provider,
        jar,
        timed_out,
        SessionAudience::Staff,
        &[],
    )
    .await
}

/// Sends the browser to the provider, remembering what the callback will need, and binds
/// the attempt to this browser with a cookie holding `state`.
///
/// After a session ended by the idle or absolute limit (in this request, or remembered
/// by its cookie), the provider is asked to authenticate the person again
/// (`prompt=login`), so that "sign in again" is never satisfied by the provider's own
/// session alone.
async fn begin(
    auth: &AuthState,
    provider: &OidcProvider,
    jar: CookieJar,
    timed_out: Option<Extension<TimedOut>>,
    audience: SessionAudience,
    vectors: &[String],
) -> Response {
    let reauth_cookie = reauth_cookie_name(audience);
    let reauthenticate = timed_out.is_some_and(|Extension(t)| t.of(audience))
        || jar.get(&auth.cookies.name(reauth_cookie)).is_some();
    let request = match provider
        .authorization_request(vectors, reauthenticate)
        .await
    {
        Ok(request) => request,
        Err(_) => return Redirect::to("/auth/unavailable").into_response(),
    };
    let attempt = NewLoginAttempt {
        state_hash: hash_token(&request.state),
        audience,
        nonce: request.nonce.clone(),
        pkce_verifier: request.pkce_verifier.clone(),
        requested_vectors: request.vectors.clone(),
        created_at: auth.clock.now(),
    };
    if let Err(error) = auth.storage.create_login_attempt(attempt).await {
        let _ = app::error::AppError::internal(&error);
        return Redirect::to("/auth/unavailable").into_response();
    }
    let mut jar = jar.add(
        auth.cookies
            .cookie(LOGIN_STATE_COOKIE, request.state.clone()),
    );
    if jar.get(&auth.cookies.name(reauth_cookie)).is_some() {
        jar = jar.add(auth.cookies.removal(reauth_cookie));
    }
    (jar, Redirect::to(&request.url)).into_response()
}

async fn patient_callback(
    State(auth): State<AuthState>,
    jar: CookieJar,
    request_id: Option<Extension<RequestId>>,
    Query(params): Query<CallbackParams>,
) -> Response {
    complete(
        &auth,
        jar,
        params,
        SessionAudience::Patient,
        request_id_text(request_id),
    )
    .await
}

async fn staff_callback(
    State(auth): State<AuthState>,
    jar: CookieJar,
    request_id: Option<Extension<RequestId>>,
    Query(params): Query<CallbackParams>,
) -> Response {
    complete(
        &auth,
        jar,
        params,
        SessionAudience::Staff,
        request_id_text(request_id),
    )
    .await
}

/// The request id, for the audit row.
fn request_id_text(request_id: Option<Extension<RequestId>>) -> Option<String> {
    request_id.and_then(|Extension(id)| id.header_value().to_str().ok().map(str::to_owned))
}

/// Where each audience lands after an outcome.
fn landing(audience: SessionAudience, outcome: &str) -> String {
    match audience {
        SessionAudience::Patient => format!("/auth/{outcome}"),
        SessionAudience::Staff => format!("/staff/auth/{outcome}"),
    }
}

/// Handles the provider's redirect back. Every parameter is attacker-controlled: the
/// `state` must match both this browser's cookie and a stored attempt (taken once).
async fn complete(
    auth: &AuthState,
    jar: CookieJar,
    params: CallbackParams,
    audience: SessionAudience,
    request_id: Option<String>,
) -> Response {
    let now = auth.clock.now();
    let browser_state = jar
        .get(&auth.cookies.name(LOGIN_STATE_COOKIE))
        .map(|c| c.value().to_owned());
    let jar = jar.remove(auth.cookies.removal(LOGIN_STATE_COOKIE));
    let refuse = |reason: &str, page: &str| {
        let event = NewAuditEvent {
            outcome: AuditOutcome::Refused,
            reason: Some(reason.to_owned()),
            target: Some(audience.code().to_owned()),
            request_id: request_id.clone(),
            ..NewAuditEvent::new(now, ActorKind::Anonymous, action::SIGN_IN_REFUSED)
        };
        let storage = auth.storage.clone();
        let target = landing(audience, page);
        async move {
            if let Err(error) = storage.append_audit(event).await {
                let _ = app::error::AppError::internal(&error);
            }
            Redirect::to(&target).into_response()
        }
    };

    // What anyone can make happen as often as they like (rate limited, but from any
    // number of addresses) is refused and logged, and writes nothing that would grow
    // with it: no audit row, since no person has been identified. That is a callback
    // matching no sign-in this browser started, and, for one that does (any client can
    // start one), whatever comes before the provider has issued a token: an `error`
    // parameter, no code, a code the provider refuses, the provider out of reach.
    // Refusals of a token the provider did issue are audited (`refuse`).
    let anonymous_refusal = |reason: &str, page: &str| {
        tracing::warn!(
            reason,
            audience = audience.code(),
            "sign-in callback refused"
        );
        Redirect::to(&landing(audience, page)).into_response()
    };
    let state = match (params.state.as_deref(), browser_state.as_deref()) {
        (Some(sent), Some(kept)) if sent == kept => sent.to_owned(),
        _ => return (jar, anonymous_refusal("state_mismatch", "problem")).into_response(),
    };
    let not_before = now - Duration::minutes(LOGIN_ATTEMPT_LIFETIME_MINUTES);
    let attempt = match auth
        .storage
        .take_login_attempt(&hash_token(&state), not_before)
        .await
    {
        Ok(Some(attempt)) if attempt.audience == audience => attempt,
        Ok(_) => return (jar, anonymous_refusal("state_unknown", "problem")).into_response(),
        Err(error) => {
            let _ = app::error::AppError::internal(&error);
            return (jar, Redirect::to("/auth/unavailable")).into_response();
        }
    };
    if let Some(error) = params.error.as_deref() {
        let (reason, page) = if error == "access_denied" {
            ("access_denied", "cancelled")
        } else {
            ("provider_error", "problem")
        };
        return (jar, anonymous_refusal(reason, page)).into_response();
    }
    let Some(code) = params.code.as_deref() else {
        return (jar, anonymous_refusal("no_code", "problem")).into_response();
    };
    let provider = match audience {
        SessionAudience::Patient => auth.nhs_login.clone(),
        SessionAudience::Staff => auth.staff.clone(),
    };
    let Some(provider) = provider else {
        return (jar, Redirect::to("/auth/unavailable")).into_response();
    };
    let verified = match provider
        .complete(code, &attempt.nonce, attempt.pkce_verifier.as_deref())
        .await
    {
        Ok(verified) => verified,
        Err(
            error @ (OidcError::ProviderUnavailable
            | OidcError::TokenRequestFailed
            | OidcError::TokenRejected),
        ) => return (jar, anonymous_refusal(&error.code(), "problem")).into_response(),
        Err(error) => return (jar, refuse(&error.code(), "problem").await).into_response(),
    };

    let issuer = provider.settings().issuer.clone();
    let sign_in = match audience {
        SessionAudience::Patient => {
            let decision = decide_sign_in(
                &verified.identity,
                &attempt.requested_vectors,
                now.date_naive(),
            );
            let (level, patient_id, next) = match decision {
                SignInDecision::LinkRecord { level, nhs_number } => {
                    match auth.storage.find_or_create_patient(&nhs_number, now).await {
                        Ok(patient) => (level, Some(patient.id), "/record"),
                        Err(error) => {
                            let _ = app::error::AppError::internal(&error);
                            return (jar, Redirect::to("/auth/unavailable")).into_response();
                        }
                    }
                }
                SignInDecision::WithoutRecords { level } => {
                    (level, None, "/account/verify-identity")
                }
                SignInDecision::Refuse(RefusalReason::UnderMinimumAge) => {
                    return (
                        jar,
                        refuse(RefusalReason::UnderMinimumAge.code(), "too-young").await,
                    )
                        .into_response();
                }
                SignInDecision::Refuse(RefusalReason::AgeUnknown) => {
                    return (
                        jar,
                        refuse(RefusalReason::AgeUnknown.code(), "age-unknown").await,
                    )
                        .into_response();
                }
                SignInDecision::Refuse(reason) => {
                    return (jar, refuse(reason.code(), "problem").await).into_response();
                }
            };
            (
                NewSignIn {
                    issuer,
                    subject: verified.identity.subject.clone(),
                    role: AccountRole::Patient,
                    identity_level: Some(level.code().to_owned()),
                    patient_id,
                    given_name: verified.identity.given_name.clone(),
                    family_name: verified.identity.family_name.clone(),
                    birth_date: verified.identity.birthdate.clone(),
                    at: now,
                    request_id: request_id.clone(),
                },
                next,
            )
        }
        SessionAudience::Staff => {
            if !has_role(&verified.claims, &auth.staff_role) {
                return (jar, refuse("missing_staff_role", "refused").await).into_response();
            }
            (
                NewSignIn {
                    issuer,
                    subject: verified.identity.subject.clone(),
                    role: AccountRole::ServiceDesk,
                    identity_level: None,
                    patient_id: None,
                    // The agent's name, which a patient reads in "who viewed my
                    // record": the provider's given and family names, or its `name`.
                    given_name: match (
                        &verified.identity.given_name,
                        &verified.identity.family_name,
                    ) {
                        (None, None) => verified
                            .claims
                            .get("name")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned),
                        (given, _) => given.clone(),
                    },
                    family_name: verified.identity.family_name.clone(),
                    birth_date: None,
                    at: now,
                    request_id: request_id.clone(),
                },
                "/staff",
            )
        }
    };
    let (sign_in, next) = sign_in;
    let account = match auth.storage.record_sign_in(sign_in).await {
        Ok(account) => account,
        Err(app::server::storage::StorageError::Conflict(_)) => {
            return (jar, refuse("account_role_conflict", "problem").await).into_response();
        }
        Err(error) => {
            let _ = app::error::AppError::internal(&error);
            return (jar, Redirect::to("/auth/unavailable")).into_response();
        }
    };

    // Someone who acts for others chooses whose record to open first.
    let next = match audience {
        SessionAudience::Patient if next == "/record" => {
            match auth.storage.grants_for_proxy(account.id).await {
                Ok(grants) if grants.iter().any(|g| g.grant.state != GrantState::Revoked) => {
                    "/proxy/choose"
                }
                _ => next,
            }
        }
        _ => next,
    };
    // A new session id at every sign-in; any session this browser had is ended.
    if let Some(old) = jar.get(&auth.cookies.name(cookie_name(audience))) {
        let _ = auth
            .storage
            .delete_session(&hash_token(old.value()), None)
            .await;
    }
    match start_session(
        auth.storage.as_ref(),
        &auth.cookies,
        &account,
        audience,
        now,
    )
    .await
    {
        Ok(cookie) => (jar.add(cookie), Redirect::to(next)).into_response(),
        Err(error) => {
            let _ = app::error::AppError::internal(&error);
            (jar, Redirect::to("/auth/unavailable")).into_response()
        }
    }
}

/// Whether the staff provider's claims carry the service desk role (a string, or an
/// array containing it).
fn has_role(claims: &serde_json::Map<String, serde_json::Value>, role: &StaffRole) -> bool {
    match claims.get(&role.claim) {
        Some(serde_json::Value::String(value)) => value == &role.value,
        Some(serde_json::Value::Array(values)) => values
            .iter()
            .any(|v| v.as_str() == Some(role.value.as_str())),
        _ => false,
    }
}

async fn patient_logout(
    State(auth): State<AuthState>,
    Extension(viewer): Extension<Viewer>,
    jar: CookieJar,
) -> Response {
    logout(
        &auth,
        viewer.patient.as_ref(),
        jar,
        SessionAudience::Patient,
    )
    .await
}

async fn staff_logout(
    State(auth): State<AuthState>,
    Extension(viewer): Extension<Viewer>,
    jar: CookieJar,
) -> Response {
    logout(&auth, viewer.staff.as_ref(), jar, SessionAudience::Staff).await
}

/// Local sign-out: NHS login has no end-session endpoint, so only our session ends (the
/// page the person lands on says so).
async fn logout(
    auth: &AuthState,
    signed_in: Option<&app::server::SignedIn>,
    jar: CookieJar,
    audience: SessionAudience,
) -> Response {
    if let Some(signed_in) = signed_in {
        let actor_kind = match audience {
            SessionAudience::Patient => ActorKind::Patient,
            SessionAudience::Staff => ActorKind::Staff,
        };
        let event = NewAuditEvent {
            actor_account: Some(signed_in.account.id),
            patient: signed_in.account.patient_id,
            ..NewAuditEvent::new(auth.clock.now(), actor_kind, action::SIGNED_OUT)
        };
        if let Err(error) = auth
            .storage
            .delete_session(&signed_in.session_hash, Some(event))
            .await
        {
            let _ = app::error::AppError::internal(&error);
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let jar = jar.remove(auth.cookies.removal(cookie_name(audience)));
    (jar, Redirect::to(&landing(audience, "signed-out"))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staff_role_may_be_a_string_or_in_an_array() {
        let role = StaffRole {
            claim: "roles".into(),
            value: "service_desk".into(),
        };
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap();
        assert!(has_role(
            &claims(serde_json::json!({ "roles": ["x", "service_desk"] })),
            &role
        ));
        assert!(has_role(
            &claims(serde_json::json!({ "roles": "service_desk" })),
            &role
        ));
        assert!(!has_role(
            &claims(serde_json::json!({ "roles": ["ward_clerk"] })),
            &role
        ));
        assert!(!has_role(
            &claims(serde_json::json!({ "groups": ["service_desk"] })),
            &role
        ));
    }
}
