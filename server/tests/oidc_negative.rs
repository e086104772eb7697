//! Everything an OpenID Connect client must refuse, one test each, against a scriptable
//! provider: forged, mis-signed, misaddressed, expired and replayed ID tokens, a `vot`
//! we did not ask for, userinfo about someone else, and the provider's own refusals.
//! Each refusal lands on the "problem" page, starts no session, and is audited with its
//! reason code (never the token).
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use app::audit::{AuditOutcome, action};
use server::auth::keys::SigningKey;
use server::config::SettingsArgs;
use support::browser::Browser;
use support::fake_idp::{FakeIdp, Fault};
use support::{TestServer, spawn, test_now};

async fn setup() -> (TestServer, FakeIdp) {
    let idp = FakeIdp::start("portal-test", test_now()).await;
    let key_dir = tempfile::tempdir().unwrap().keep();
    let key_path = key_dir.join("client.pem");
    SigningKey::generate()
        .unwrap()
        .write_pem(&key_path)
        .unwrap();
    let server = spawn(SettingsArgs {
        nhs_login_issuer: Some(idp.issuer.clone()),
        nhs_login_client_id: Some("portal-test".into()),
        nhs_login_private_key: Some(key_path),
        ..SettingsArgs::default()
    })
    .await;
    (server, idp)
}

/// Runs one sign-in with the provider scripted to `fault`; returns where the callback
/// sent the browser and whether a session started.
async fn attempt(server: &TestServer, idp: &FakeIdp, fault: Fault) -> (String, bool) {
    let mut browser = Browser::new(&server.url(""));
    let start = browser.get(&server.url("/auth/login")).await;
    let authorize = url::Url::parse(&start.location()).unwrap();
    let param = |name: &str| {
        authorize
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    idp.set(fault, &param("nonce"));
    let callback = browser
        .get(&server.url(&format!(
            "/auth/callback?code=code-1&state={}",
            param("state")
        )))
        .await;
    (
        callback.location(),
        browser.cookies.contains_key("portal_session"),
    )
}

async fn last_refusal(server: &TestServer) -> Option<String> {
    let events = server.storage.list_recent_audit_events(5).await.unwrap();
    events
        .into_iter()
        .find(|e| e.action == action::SIGN_IN_REFUSED && e.outcome == AuditOutcome::Refused)
        .and_then(|e| e.reason)
}

async fn expect_refused(fault: Fault, reason: &str) {
    let (server, idp) = setup().await;
    let (landed, signed_in) = attempt(&server, &idp, fault).await;
    assert_eq!(landed, "/auth/problem", "{fault:?}");
    assert!(!signed_in, "{fault:?} must not start a session");
    assert_eq!(
        last_refusal(&server).await.as_deref(),
        Some(reason),
        "{fault:?}"
    );
}

#[tokio::test]
async fn a_well_formed_sign_in_is_accepted() {
    let (server, idp) = setup().await;
    assert_eq!(
        attempt(&server, &idp, Fault::None).await,
        ("/record".to_owned(), true)
    );
}

#[tokio::test]
async fn a_token_expired_less_than_a_minute_ago_is_accepted_as_clock_skew() {
    let (server, idp) = setup().await;
    assert_eq!(
        attempt(&server, &idp, Fault::ExpiredWithinSkew).await,
        ("/record".to_owned(), true)
    );
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    expect_refused(Fault::BadSignature, "id_token_bad_signature").await;
}

#[tokio::test]
async fn an_unsigned_token_with_alg_none_is_refused() {
    let (server, idp) = setup().await;
    let (landed, signed_in) = attempt(&server, &idp, Fault::AlgNone).await;
    assert_eq!(landed, "/auth/problem");
    assert!(!signed_in);
    let reason = last_refusal(&server).await.unwrap();
    assert!(
        ["id_token_disallowed_alg", "id_token_invalid"].contains(&reason.as_str()),
        "{reason}"
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    expect_refused(Fault::Hs256WithPublicKey, "id_token_disallowed_alg").await;
}

#[tokio::test]
async fn rs256_is_refused_because_nhs_login_signs_rs512() {
    expect_refused(Fault::Rs256, "id_token_disallowed_alg").await;
}

#[tokio::test]
async fn wrong_issuer_and_wrong_audience_are_refused() {
    expect_refused(Fault::WrongIssuer, "id_token_wrong_issuer").await;
    expect_refused(Fault::WrongAudience, "id_token_wrong_audience").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    expect_refused(Fault::Expired, "id_token_expired").await;
}

#[tokio::test]
async fn a_missing_or_wrong_nonce_is_refused() {
    expect_refused(Fault::MissingNonce, "id_token_wrong_nonce").await;
    expect_refused(Fault::WrongNonce, "id_token_wrong_nonce").await;
}

#[tokio::test]
async fn a_vector_of_trust_not_requested_is_refused() {
    expect_refused(Fault::VotNotRequested, "vot_not_requested").await;
}

#[tokio::test]
async fn no_date_of_birth_refuses_rather_than_admits() {
    let (server, idp) = setup().await;
    let (landed, signed_in) = attempt(&server, &idp, Fault::NoBirthdate).await;
    assert_eq!(landed, "/auth/age-unknown");
    assert!(!signed_in, "no session without an age");
    assert_eq!(last_refusal(&server).await.as_deref(), Some("age_unknown"));
}

#[tokio::test]
async fn userinfo_about_another_subject_is_refused() {
    expect_refused(Fault::UserinfoSubMismatch, "userinfo_sub_mismatch").await;
}

#[tokio::test]
async fn a_code_the_provider_rejects_as_reused_is_refused_and_leaves_no_audit_row() {
    // Anyone can send a made-up code after starting a sign-in: refused and logged, but
    // with no row in the audit trail (nothing a stream of them could grow).
    let (server, idp) = setup().await;
    let (landed, signed_in) = attempt(&server, &idp, Fault::CodeRejected).await;
    assert_eq!(landed, "/auth/problem");
    assert!(!signed_in);
    assert_eq!(last_refusal(&server).await, None);
}

#[tokio::test]
async fn the_providers_keys_are_fetched_again_once_an_hour_old() {
    let (server, idp) = setup().await;
    assert_eq!(
        attempt(&server, &idp, Fault::None).await,
        ("/record".to_owned(), true)
    );
    assert_eq!(idp.jwks_fetches(), 1, "at discovery");
    // Within the hour, the set in hand serves.
    server.clock.advance(chrono::Duration::minutes(30));
    idp.state.lock().unwrap().now += chrono::Duration::minutes(30);
    attempt(&server, &idp, Fault::None).await;
    assert_eq!(idp.jwks_fetches(), 1);
    // An hour after it was fetched, the next sign-in fetches it again first.
    server.clock.advance(chrono::Duration::minutes(31));
    idp.state.lock().unwrap().now += chrono::Duration::minutes(31);
    assert_eq!(
        attempt(&server, &idp, Fault::None).await,
        ("/record".to_owned(), true)
    );
    assert_eq!(idp.jwks_fetches(), 2, "fetched again on the schedule");
}

#[tokio::test]
async fn an_unknown_key_id_triggers_one_rate_limited_key_refresh() {
    let (server, idp) = setup().await;
    // The provider rotated its key: the refresh finds the new one and sign-in succeeds.
    assert_eq!(
        attempt(&server, &idp, Fault::RotatedKey).await,
        ("/record".to_owned(), true)
    );
    let fetches = idp.jwks_fetches();
    assert_eq!(fetches, 2, "discovery, then one refresh");

    // A key nobody publishes: refused, and no second refresh within the minute.
    let (other_server, other_idp) = setup().await;
    assert_eq!(
        attempt(&other_server, &other_idp, Fault::UnknownKid)
            .await
            .0,
        "/auth/problem"
    );
    assert_eq!(
        attempt(&other_server, &other_idp, Fault::UnknownKid)
            .await
            .0,
        "/auth/problem"
    );
    assert_eq!(
        other_idp.jwks_fetches(),
        2,
        "discovery and a single refresh for two forged tokens"
    );
    assert_eq!(
        last_refusal(&other_server).await.as_deref(),
        Some("id_token_unknown_key")
    );
    drop(server);
}

#[tokio::test]
async fn provider_errors_other_than_cancel_land_on_the_problem_page() {
    let (server, _idp) = setup().await;
    let mut browser = Browser::new(&server.url(""));
    let start = browser.get(&server.url("/auth/login")).await;
    let authorize = url::Url::parse(&start.location()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let callback = browser
        .get(&server.url(&format!("/auth/callback?error=server_error&state={state}")))
        .await;
    assert_eq!(callback.location(), "/auth/problem");
    // No token was issued, and anyone can send this: logged, not audited.
    assert_eq!(last_refusal(&server).await, None);
}
