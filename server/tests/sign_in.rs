//! Signing in and out through the built-in NHS login and staff simulators: the real
//! OpenID Connect client, the real session layer, the real server, driven the way a
//! browser would (every redirect followed by hand so each can be checked).
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Duration;

use app::audit::{AuditOutcome, action};
use app::domain::NhsNumber;
use server::{demo, jobs};
use support::browser::{Browser, Page, absolute, hidden_field, hidden_fields};
use support::{TestServer, spawn_demo};

/// Starts a sign-in and returns the simulator's page of people.
async fn open_sign_in(server: &TestServer, browser: &mut Browser, path: &str) -> (Page, String) {
    let start = browser.get(&server.url(path)).await;
    assert_eq!(start.status, 303, "{path} redirects to the provider");
    let authorize_url = start.location();
    let page = browser.get(&authorize_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (page, authorize_url)
}

/// Submits the simulator's form for a person (or "cancel"); returns its redirect.
async fn decide(browser: &mut Browser, authorize_url: &str, page: &Page, person: &str) -> Page {
    let mut fields: Vec<(String, String)> = hidden_fields(&page.body);
    if person == "cancel" {
        // The first person is pre-selected; the cancel button wins.
        fields.push(("person".into(), "amelia".into()));
        fields.push(("action".into(), "cancel".into()));
    } else {
        fields.push(("person".into(), person.into()));
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let decision = browser
        .post_form(&absolute(authorize_url, "authorize"), &fields)
        .await;
    assert_eq!(decision.status, 303, "{}", decision.body);
    decision
}

/// Chooses a person (or "cancel") on the simulator's page and follows the callback.
async fn choose(
    server: &TestServer,
    browser: &mut Browser,
    authorize_url: &str,
    page: &Page,
    person: &str,
) -> Vec<Page> {
    let callback = decide(browser, authorize_url, page, person)
        .await
        .location();
    assert!(
        callback.starts_with(&server.url("/auth/callback"))
            || callback.starts_with(&server.url("/staff/auth/callback")),
        "{callback}"
    );
    browser.follow(&callback).await
}

async fn sign_in_as(server: &TestServer, browser: &mut Browser, person: &str) -> Vec<Page> {
    let (page, url) = open_sign_in(server, browser, "/auth/login").await;
    choose(server, browser, &url, &page, person).await
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_p9_adult_signs_in_and_is_linked_to_their_record() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let (page, authorize_url) = open_sign_in(&server, &mut browser, "/auth/login").await;

    // The authorization request NHS login expects.
    assert_eq!(
        query_param(&authorize_url, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_param(&authorize_url, "scope").as_deref(),
        Some("openid profile email phone")
    );
    assert_eq!(
        query_param(&authorize_url, "vtr").as_deref(),
        Some(r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#)
    );
    assert!(query_param(&authorize_url, "state").is_some_and(|s| s.len() >= 16));
    assert!(query_param(&authorize_url, "nonce").is_some_and(|s| s.len() >= 16));
    assert_eq!(
        query_param(&authorize_url, "code_challenge"),
        None,
        "NHS login advertises no PKCE"
    );
    assert!(page.body.contains("Amelia Hart") && page.body.contains("Cancel"));

    let hops = choose(&server, &mut browser, &authorize_url, &page, "amelia").await;
    let callback = &hops[0];
    assert_eq!(callback.location(), "/record");
    let cookie = callback
        .set_cookie("portal_session")
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http on localhost: not Secure"
    );
    let home = hops.last().unwrap();
    assert!(home.body.contains("<h1>Hello, Amelia"), "{}", home.body);
    assert!(home.body.contains("Sign out"));

    let amelia = server
        .storage
        .find_patient_by_nhs_number(&NhsNumber::parse(demo::AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let trail = server
        .storage
        .list_audit_events(amelia.id, 10)
        .await
        .unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == action::SIGNED_IN && e.outcome == AuditOutcome::Allowed)
    );
}

#[tokio::test]
async fn cancelling_at_nhs_login_says_so_and_offers_a_way_back() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let hops = sign_in_as(&server, &mut browser, "cancel").await;
    assert_eq!(hops[0].location(), "/auth/cancelled");
    let page = hops.last().unwrap();
    assert!(page.body.contains("You chose not to continue"));
    assert!(page.body.contains("href=\"/auth/login\""));
    assert!(!browser.cookies.contains_key("portal_session"));
}

#[tokio::test]
async fn a_callback_with_the_wrong_state_or_from_another_browser_is_refused() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let (page, authorize_url) = open_sign_in(&server, &mut browser, "/auth/login").await;
    let state = query_param(&authorize_url, "state").unwrap();

    // Another browser (no login-state cookie) replaying the callback: login CSRF.
    let decision = decide(&mut browser, &authorize_url, &page, "amelia").await;
    let callback = decision.location();
    let mut attacker = Browser::new(&server.url(""));
    assert_eq!(attacker.get(&callback).await.location(), "/auth/problem");

    // A tampered state in the right browser.
    let tampered = callback.replace(&format!("state={state}"), "state=forged");
    assert_eq!(browser.get(&tampered).await.location(), "/auth/problem");
    assert!(!browser.cookies.contains_key("portal_session"));

    // Anyone can send such callbacks, as often as they like: none leaves a row behind.
    let before = server
        .storage
        .list_recent_audit_events(1000)
        .await
        .unwrap()
        .len();
    for n in 0..20 {
        let forged = server.url(&format!("/auth/callback?state=x{n}&code=y"));
        assert_eq!(attacker.get(&forged).await.location(), "/auth/problem");
    }
    let after = server
        .storage
        .list_recent_audit_events(1000)
        .await
        .unwrap()
        .len();
    assert_eq!(after, before, "anonymous forged callbacks write nothing");
}

#[tokio::test]
async fn abandoned_sign_ins_are_swept_once_past_their_lifetime() {
    let server = spawn_demo().await;
    let mut visitor = Browser::new(&server.url(""));
    for _ in 0..5 {
        visitor.get(&server.url("/auth/login")).await;
    }
    assert_eq!(
        jobs::sweep_login_attempts(server.storage.as_ref(), &server.clock)
            .await
            .unwrap(),
        0,
        "still within their ten minutes"
    );
    server.clock.advance(Duration::minutes(11));
    assert_eq!(
        jobs::sweep_login_attempts(server.storage.as_ref(), &server.clock)
            .await
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn a_replayed_callback_does_not_sign_anyone_in_twice() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let (page, authorize_url) = open_sign_in(&server, &mut browser, "/auth/login").await;
    let login_state = browser.cookies.get("portal_login_state").cloned().unwrap();
    let callback = decide(&mut browser, &authorize_url, &page, "amelia")
        .await
        .location();
    assert_eq!(browser.get(&callback).await.location(), "/record");

    let mut replay = Browser::new(&server.url(""));
    replay
        .cookies
        .insert("portal_login_state".into(), login_state);
    let again = replay.get(&callback).await;
    assert_eq!(again.location(), "/auth/problem");
    assert!(again.set_cookie("portal_session").is_none());
}

#[tokio::test]
async fn p5_and_p0_users_are_signed_in_without_records_and_offered_the_step_up() {
    let server = spawn(server::config::SettingsArgs {
        demo: Some(true),
        nhs_login_simulator: Some(true),
        nhs_login_vtr: Some(r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm","P5.Cp.Cd","P0.Cp.Cd"]"#.into()),
        ..Default::default()
    })
    .await;
    for person in ["priya", "sam"] {
        let mut browser = Browser::new(&server.url(""));
        let hops = sign_in_as(&server, &mut browser, person).await;
        assert_eq!(hops[0].location(), "/account/verify-identity", "{person}");
        let page = hops.last().unwrap();
        assert!(
            page.body.contains("Prove who you are to see your record"),
            "{person}"
        );
        assert!(
            page.body.contains("href=\"/auth/login?step_up=1\""),
            "{person}: {}",
            page.body
        );

        // The step-up asks for P9 only.
        let step_up = browser.get(&server.url("/auth/login?step_up=1")).await;
        assert_eq!(
            query_param(&step_up.location(), "vtr").as_deref(),
            Some(r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#)
        );
    }
}

use support::spawn;

#[tokio::test]
async fn a_vector_of_trust_we_did_not_ask_for_is_refused() {
    // The default request is P9 only; a P5 person comes back with P5.
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let hops = sign_in_as(&server, &mut browser, "priya").await;
    assert_eq!(hops[0].location(), "/auth/problem");
    assert!(!browser.cookies.contains_key("portal_session"));
}

#[tokio::test]
async fn under_thirteens_are_refused_with_an_explanation() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let hops = sign_in_as(&server, &mut browser, "sophie").await;
    assert_eq!(hops[0].location(), "/auth/too-young");
    assert!(
        hops.last()
            .unwrap()
            .body
            .contains("You need to be 13 or over")
    );
    assert!(!browser.cookies.contains_key("portal_session"));
}

#[tokio::test]
async fn the_session_id_changes_at_every_sign_in() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    sign_in_as(&server, &mut browser, "amelia").await;
    let first = browser.cookies.get("portal_session").cloned().unwrap();
    sign_in_as(&server, &mut browser, "amelia").await;
    let second = browser.cookies.get("portal_session").cloned().unwrap();
    assert_ne!(first, second);
    let mut old = Browser::new(&server.url(""));
    old.cookies.insert("portal_session".into(), first);
    assert!(
        !old.get(&server.url("/"))
            .await
            .body
            .contains("You are signed in"),
        "the old session is gone"
    );
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_after_12_hours() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    sign_in_as(&server, &mut browser, "amelia").await;

    server.clock.advance(Duration::minutes(29));
    assert!(
        browser
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in")
    );
    server.clock.advance(Duration::minutes(29));
    assert!(
        browser
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in"),
        "activity keeps it alive"
    );
    server.clock.advance(Duration::minutes(31));
    let page = browser.get(&server.url("/")).await;
    assert!(
        !page.body.contains("You are signed in"),
        "30 idle minutes end it"
    );
    assert!(
        !browser.cookies.contains_key("portal_session"),
        "the dead cookie is removed"
    );

    sign_in_as(&server, &mut browser, "amelia").await;
    for _ in 0..24 {
        server.clock.advance(Duration::minutes(29));
        browser.get(&server.url("/health")).await;
        browser.get(&server.url("/")).await;
    }
    // 24 x 29 minutes = 11 h 36 min of constant use: still signed in.
    assert!(
        browser
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in")
    );
    server.clock.advance(Duration::minutes(25));
    assert!(
        !browser
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in"),
        "12 hours in total end it"
    );
}

#[tokio::test]
async fn after_the_idle_or_absolute_limit_nhs_login_is_asked_to_authenticate_again() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    // A first sign-in asks nothing special.
    let first = browser.get(&server.url("/auth/login")).await;
    assert!(
        !first.location().contains("prompt="),
        "{}",
        first.location()
    );
    sign_in_as(&server, &mut browser, "amelia").await;

    // Idle past the limit: the next page ends the session and remembers it, and the next
    // sign-in asks NHS login to authenticate the person again, once.
    server.clock.advance(Duration::minutes(31));
    browser.get(&server.url("/")).await;
    assert!(browser.cookies.contains_key("portal_reauth"));
    let again = browser.get(&server.url("/auth/login")).await;
    assert!(
        again.location().contains("prompt=login"),
        "{}",
        again.location()
    );
    assert!(!browser.cookies.contains_key("portal_reauth"), "asked once");
    sign_in_as(&server, &mut browser, "amelia").await;

    // Past the limit and straight to "sign in": asked in that same request.
    server.clock.advance(Duration::minutes(31));
    let direct = browser.get(&server.url("/auth/login")).await;
    assert!(
        direct.location().contains("prompt=login"),
        "{}",
        direct.location()
    );
    assert!(!browser.cookies.contains_key("portal_reauth"));

    // Idle past the limit and back only after the sweeper has deleted the session: the
    // browser still holds its cookie, and NHS login is asked again all the same.
    sign_in_as(&server, &mut browser, "amelia").await;
    server.clock.advance(Duration::minutes(40));
    let swept = jobs::sweep_sessions(server.storage.as_ref(), &server.clock)
        .await
        .unwrap();
    assert!(swept >= 1, "the ended session is deleted");
    let after_sweep = browser.get(&server.url("/auth/login")).await;
    assert!(
        after_sweep.location().contains("prompt=login"),
        "{}",
        after_sweep.location()
    );
    sign_in_as(&server, &mut browser, "amelia").await;

    // Active all along but past the 12 hours in all: asked again too.
    for _ in 0..30 {
        server.clock.advance(Duration::minutes(25));
        browser.get(&server.url("/")).await;
    }
    assert!(browser.cookies.contains_key("portal_reauth"));
    let after_absolute = browser.get(&server.url("/auth/login")).await;
    assert!(
        after_absolute.location().contains("prompt=login"),
        "{}",
        after_absolute.location()
    );

    // Staff sessions too.
    let mut desk = Browser::new(&server.url(""));
    let signed = support::signed_in_staff(&server, "jordan").await;
    desk.cookies = signed.cookies.clone();
    server.clock.advance(Duration::minutes(31));
    let staff = desk.get(&server.url("/staff/auth/login")).await;
    assert!(
        staff.location().contains("prompt=login"),
        "{}",
        staff.location()
    );
}

#[tokio::test]
async fn the_sweeper_removes_ended_sessions_and_leaves_live_ones() {
    let server = spawn_demo().await;
    let mut idle = Browser::new(&server.url(""));
    sign_in_as(&server, &mut idle, "amelia").await;
    server.clock.advance(Duration::minutes(20));
    let mut active = Browser::new(&server.url(""));
    sign_in_as(&server, &mut active, "amelia").await;
    server.clock.advance(Duration::minutes(15));

    let removed = jobs::sweep_sessions(server.storage.as_ref(), &server.clock)
        .await
        .unwrap();
    assert_eq!(removed, 1, "only the session idle for 35 minutes has ended");
    assert!(
        active
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in")
    );
    assert!(
        !idle
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in")
    );
    let again = jobs::sweep_sessions(server.storage.as_ref(), &server.clock)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_says_nhs_login_may_still_be_signed_in() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let hops = sign_in_as(&server, &mut browser, "amelia").await;
    let csrf = hidden_field(&hops.last().unwrap().body, "csrf_token")
        .expect("the sign-out form carries the token");

    assert_eq!(
        browser
            .post_form(&server.url("/auth/logout"), &[])
            .await
            .status,
        403,
        "no token"
    );
    assert_eq!(
        browser
            .post_form(&server.url("/auth/logout"), &[("csrf_token", "guess")])
            .await
            .status,
        403,
        "wrong token"
    );
    assert_eq!(
        browser
            .post_form_without_origin(&server.url("/auth/logout"), &[("csrf_token", &csrf)])
            .await
            .status,
        403,
        "no origin"
    );
    browser.origin = "http://evil.example".into();
    assert_eq!(
        browser
            .post_form(&server.url("/auth/logout"), &[("csrf_token", &csrf)])
            .await
            .status,
        403,
        "cross-site"
    );
    browser.origin = server.url("");
    assert!(
        browser
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in"),
        "still signed in after the refusals"
    );

    let out = browser
        .post_form(&server.url("/auth/logout"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/auth/signed-out");
    let page = browser
        .follow(&server.url("/auth/signed-out"))
        .await
        .pop()
        .unwrap();
    assert!(
        page.body
            .contains("You may still be signed in to NHS login")
    );
    assert!(
        !browser
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in")
    );

    let amelia = server
        .storage
        .find_patient_by_nhs_number(&NhsNumber::parse(demo::AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let trail = server
        .storage
        .list_audit_events(amelia.id, 10)
        .await
        .unwrap();
    assert!(trail.iter().any(|e| e.action == action::SIGNED_OUT));
}

#[tokio::test]
async fn service_desk_staff_sign_in_separately_and_need_the_role() {
    let server = spawn_demo().await;
    let mut staff = Browser::new(&server.url(""));
    let (page, url) = open_sign_in(&server, &mut staff, "/staff/auth/login").await;
    assert!(page.body.contains("Jordan Okoro"));
    assert!(
        query_param(&url, "code_challenge").is_some(),
        "the staff provider offers PKCE, so it is used"
    );
    let hops = choose(&server, &mut staff, &url, &page, "jordan").await;
    assert_eq!(hops[0].location(), "/staff");
    assert!(
        hops.last()
            .unwrap()
            .body
            .contains("You are signed in as service desk staff.")
    );
    assert!(staff.cookies.contains_key("portal_staff_session"));
    assert!(!staff.cookies.contains_key("portal_session"));

    // A staff session is no patient session, even with its cookie renamed.
    let mut impostor = Browser::new(&server.url(""));
    impostor.cookies.insert(
        "portal_session".into(),
        staff.cookies["portal_staff_session"].clone(),
    );
    assert!(
        !impostor
            .get(&server.url("/"))
            .await
            .body
            .contains("You are signed in")
    );

    let mut other = Browser::new(&server.url(""));
    let (page, url) = open_sign_in(&server, &mut other, "/staff/auth/login").await;
    let hops = choose(&server, &mut other, &url, &page, "alex").await;
    assert_eq!(hops[0].location(), "/staff/auth/refused");
    assert!(!other.cookies.contains_key("portal_staff_session"));
}

#[tokio::test]
async fn patients_cannot_reach_staff_pages() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    sign_in_as(&server, &mut browser, "amelia").await;
    let page = browser.get(&server.url("/staff")).await;
    assert!(
        !page
            .body
            .contains("You are signed in as service desk staff.")
    );
    assert!(page.body.contains("Sign in as staff"));
    // And the patient's cookie under the staff name is no staff session either.
    let mut impostor = Browser::new(&server.url(""));
    impostor.cookies.insert(
        "portal_staff_session".into(),
        browser.cookies["portal_session"].clone(),
    );
    assert!(
        !impostor
            .get(&server.url("/staff"))
            .await
            .body
            .contains("You are signed in as service desk staff.")
    );
}

#[tokio::test]
async fn server_functions_that_change_state_need_the_csrf_token_and_reads_do_not() {
    let server = spawn_demo().await;
    let mut browser = Browser::new(&server.url(""));
    let hops = sign_in_as(&server, &mut browser, "amelia").await;
    let csrf = hidden_field(&hops.last().unwrap().body, "csrf_token").unwrap();

    // Reads are GET: they work without a token, and answer for the signed-in person.
    let read = browser.get(&server.url("/api/site_info")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(
        read.body.contains(&csrf),
        "the session's own token, for its own forms"
    );

    // Any POST to a server function with a session but without the token is refused
    // before the function runs, with or without JavaScript's header.
    let refused = browser.post_form(&server.url("/api/site_info"), &[]).await;
    assert_eq!(refused.status, 403);
    let allowed = browser
        .post_form(&server.url("/api/site_info"), &[("csrf_token", &csrf)])
        .await;
    // Past the CSRF check, the function itself answers: it is read with GET only.
    assert_eq!(
        allowed.status, 405,
        "the token passes the CSRF check and reaches the function"
    );
}

/// The test browser keeps a session whose random id happens to contain "1970", and
/// drops a cookie only when the server removes it.
#[test]
fn the_test_browser_reads_removals_from_attributes_not_values() {
    use support::browser::cookie_update;
    assert_eq!(
        cookie_update("portal_session=ab1970cd; HttpOnly; SameSite=Lax; Path=/"),
        ("portal_session".to_owned(), Some("ab1970cd".to_owned()))
    );
    assert_eq!(
        cookie_update(
            "portal_session=; HttpOnly; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        ),
        ("portal_session".to_owned(), None)
    );
    assert_eq!(
        cookie_update("portal_login=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        ("portal_login".to_owned(), None)
    );
}
