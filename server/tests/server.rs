//! The real server, spawned in-process on port 0 with a fresh database and demo data:
//! health, readiness, pages, errors and headers, as a browser or a load balancer sees
//! them. PostgreSQL runs too when `TEST_DATABASE_URL` is set.
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::{TimeZone, Utc};
use server::config::SettingsArgs;

use support::TestServer;

async fn spawn_with_demo(demo: bool) -> TestServer {
    support::spawn(SettingsArgs {
        demo: Some(demo),
        ..SettingsArgs::default()
    })
    .await
}

fn client() -> reqwest::Client {
    support::http_client()
}

#[tokio::test]
async fn health_and_readiness_answer_once_the_server_is_up() {
    let server = spawn_with_demo(false).await;
    let health = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = client().get(server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn the_home_page_is_complete_html_without_javascript() {
    let server = spawn_with_demo(true).await;
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for expected in [
        "<html lang=\"en\"",
        "Skip to main content",
        "nhsuk-header",
        "<h1>Your health record</h1>",
        "Northgate University Hospitals NHS Foundation Trust",
        "Riverside Medical Practice",
        "nhsuk-footer",
        "This is a demonstration",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }
    assert!(
        !html.contains("Loading organisations"),
        "the data must be in the first response"
    );
}

#[tokio::test]
async fn without_demo_mode_there_is_no_demo_banner() {
    let server = spawn_with_demo(false).await;
    let html = client()
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("This is a demonstration"));
    assert!(html.contains("No organisations are sharing records yet."));
}

#[tokio::test]
async fn an_unknown_address_gets_the_not_found_page_with_status_404() {
    let server = spawn_with_demo(false).await;
    let response = client()
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Page not found</h1>"));
    assert!(
        html.contains("nhsuk-header"),
        "the 404 page keeps the page frame"
    );
}

#[tokio::test]
async fn information_pages_linked_from_the_footer_exist() {
    let server = spawn_with_demo(false).await;
    for (path, heading) in [
        ("/about", "About this service"),
        ("/accessibility", "Accessibility statement"),
        ("/privacy", "Privacy notice"),
    ] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains(&format!("<h1>{heading}</h1>")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let server = spawn_with_demo(false).await;
    let response = client().get(server.url("/")).send().await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(response.headers()["referrer-policy"], "same-origin");
    assert_eq!(
        response.headers()["cross-origin-opener-policy"],
        "same-origin"
    );
    assert_eq!(
        response.headers()["cross-origin-resource-policy"],
        "same-origin"
    );
    let permissions = response.headers()["permissions-policy"].to_str().unwrap();
    for feature in ["camera=()", "geolocation=()", "microphone=()", "payment=()"] {
        assert!(permissions.contains(feature), "{feature} in {permissions}");
    }
    // A local demo on plain http is not told to insist on https.
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "pages may hold patient data"
    );

    let echoed = client()
        .get(server.url("/health"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn demo_data_loads_once_through_the_feed_path() {
    let server = spawn_with_demo(true).await;
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    assert_eq!(
        server::demo::seed_demo(server.storage.as_ref(), now, None)
            .await
            .unwrap(),
        None,
        "a second run changes nothing"
    );
    assert_eq!(server.storage.list_organisations().await.unwrap().len(), 3);
}

#[test]
fn help_lists_every_setting_and_never_shows_a_secret() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--help")
        .env(
            "DATABASE_URL",
            "postgres://portal:hunter2@db.internal/portal",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for setting in [
        "PORTAL_CONFIG",
        "DATABASE_URL",
        "DATABASE_MIGRATION_URL",
        "PORTAL_LISTEN",
        "PORTAL_PUBLIC_URL",
        "LEPTOS_SITE_ROOT",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "PORTAL_DEMO",
        "PORTAL_DATA_DIR",
        "PORTAL_FEED_MAX_BODY_BYTES",
        "PORTAL_PRIVACY_CODES",
        "PORTAL_RELEASE_RULES",
        "NHS_LOGIN_ISSUER",
        "NHS_LOGIN_CLIENT_ID",
        "NHS_LOGIN_PRIVATE_KEY",
        "NHS_LOGIN_REDIRECT_URI",
        "NHS_LOGIN_VTR",
        "NHS_LOGIN_SIMULATOR",
        "STAFF_OIDC_ISSUER",
        "STAFF_OIDC_CLIENT_ID",
        "STAFF_OIDC_PRIVATE_KEY",
        "STAFF_OIDC_REDIRECT_URI",
        "STAFF_OIDC_ROLE_CLAIM",
        "STAFF_OIDC_ROLE_VALUE",
    ] {
        assert!(help.contains(setting), "--help does not mention {setting}");
    }
    assert!(!help.contains("hunter2"));
}

#[tokio::test]
async fn sign_in_and_the_feed_answer_429_with_retry_after_past_their_limits() {
    let server = support::spawn(SettingsArgs {
        demo: Some(true),
        nhs_login_simulator: Some(true),
        sign_in_limit: Some("3/1".into()),
        feed_limit: Some("2/1".into()),
        ..SettingsArgs::default()
    })
    .await;
    let http = client();

    // Sign-in, per client address: three at once, then told to wait.
    for _ in 0..3 {
        let started = http.get(server.url("/auth/login")).send().await.unwrap();
        assert_eq!(started.status(), 303, "within the limit");
    }
    let refused = http.get(server.url("/auth/login")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // A page the server writes itself still goes out with a policy: no script at all.
    assert!(
        refused.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none';")
    );
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Too many attempts to sign in")
    );
    // The callback shares the limit; other pages do not.
    let callback = http
        .get(server.url("/auth/callback?state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 429);
    assert_eq!(
        http.get(server.url("/about"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The feed, per credential, before anything else is looked at: two, then an
    // OperationOutcome "throttled"; another credential has its own allowance.
    let post = |token: &'static str| {
        http.post(server.url("/fhir"))
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body("{}")
            .send()
    };
    for _ in 0..2 {
        assert_eq!(post("not-a-credential").await.unwrap().status(), 401);
    }
    let throttled = post("not-a-credential").await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    assert_eq!(throttled.headers()["content-type"], "application/fhir+json");
    let outcome: serde_json::Value = throttled.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "throttled");
    assert_eq!(post("another-credential").await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_client_making_up_a_credential_for_each_request_is_held_by_the_address_limit() {
    let server = support::spawn(SettingsArgs {
        feed_limit: Some("2/1".into()),
        feed_address_limit: Some("3/1".into()),
        ..SettingsArgs::default()
    })
    .await;
    let http = client();
    // Each made-up credential has an allowance of its own, so without the limit per
    // address every one of these would reach the credential check.
    for n in 0..3 {
        let answer = http
            .post(server.url("/fhir"))
            .bearer_auth(format!("made-up-{n}"))
            .header("content-type", "application/fhir+json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "within the address's allowance");
    }
    let throttled = http
        .post(server.url("/fhir"))
        .bearer_auth("made-up-3")
        .header("content-type", "application/fhir+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    let outcome: serde_json::Value = throttled.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "throttled");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("from this address"),
        "{outcome}"
    );
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy_that_their_inline_scripts_meet() {
    let server = spawn_with_demo(true).await;
    for path in ["/", "/about", "/no-such-page"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await.unwrap();
        assert!(policy.contains("default-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("object-src 'none'"), "{policy}");
        let script_src = policy
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe-inline"), "{policy}");
        assert!(!script_src.contains("'unsafe-eval'"), "{policy}");
        let nonce = script_src
            .split_whitespace()
            .find_map(|s| s.strip_prefix("'nonce-"))
            .and_then(|s| s.strip_suffix('\''))
            .expect("a nonce for the inline scripts");
        // Every script is the portal's own file or carries this response's nonce.
        let scripts: Vec<&str> = body.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{path}: the page has its scripts");
        for script in scripts {
            let tag = script.split('>').next().unwrap();
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\""))
                    || (tag.contains("src=\"/") && !tag.contains("src=\"//")),
                "{path}: a script the policy would block: <script{tag}>"
            );
        }
    }
    // Another response, another nonce.
    let first = client().get(server.url("/")).send().await.unwrap();
    let second = client().get(server.url("/")).send().await.unwrap();
    assert_ne!(
        first.headers()["content-security-policy"],
        second.headers()["content-security-policy"]
    );
}

/// The policy a page went out with, or a failure naming the page and its status.
fn policy_of(path: &str, status: u16, headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{path} ({status}) went out without a policy: {headers:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every page goes out with the app's own policy, every time, for every reader: the page
/// a sign-in lands on, and each page of the patient's and the desk's under concurrent
/// requests. (A browser was once seen getting `/staff` without it; issue #15.)
#[tokio::test]
async fn every_page_carries_the_apps_policy_every_time() {
    let server = support::spawn_demo().await;
    // The page each sign-in lands on, the way a browser follows it.
    // Three sign-ins; the desk pages below are read with the last one.
    let mut last_staff = None;
    for _ in 0..3 {
        let mut staff = support::browser::Browser::new(&server.url(""));
        let hops = staff
            .sign_in_through_simulator(&server.url("/staff/auth/login"), "jordan")
            .await;
        let landing = hops.last().unwrap();
        assert_eq!(landing.status, 200, "{}", landing.url);
        assert!(policy_of(&landing.url, 200, &landing.headers).contains("'nonce-"));
        last_staff = Some(staff);
    }
    let staff = last_staff.expect("three staff sign-ins");
    let patient = support::signed_in(&server, "amelia").await;
    let readers = [
        (
            staff.cookie_header(),
            vec![
                "/staff",
                "/staff/patients",
                "/staff/held-items",
                "/staff/proxy-applications",
                "/staff/proxy-reviews",
                "/staff/requests",
                "/staff/no-such-page",
            ],
        ),
        (
            patient.cookie_header(),
            vec![
                "/",
                "/record",
                "/record/results",
                "/record/letters",
                "/record/appointments",
                "/account/access-log",
                "/account/choices",
                "/account/people",
                "/account/requests",
            ],
        ),
    ];
    let mut requests = tokio::task::JoinSet::new();
    for _round in 0..20 {
        for (cookie, paths) in &readers {
            for path in paths {
                let (url, cookie, path) = (server.url(path), cookie.clone(), *path);
                requests.spawn(async move {
                    let response = client()
                        .get(url)
                        .header("cookie", cookie)
                        .header("accept", "text/html")
                        .send()
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    let policy = policy_of(path, status, response.headers());
                    assert!(policy.contains("'nonce-"), "{path}: {policy}");
                    (path, status)
                });
            }
        }
    }
    while let Some(answer) = requests.join_next().await {
        let (path, status) = answer.unwrap();
        let expected = if path == "/staff/no-such-page" {
            404
        } else {
            200
        };
        assert_eq!(status, expected, "{path}");
    }
}

/// A static file and a page served at the same moment each keep their own status and
/// headers. (leptos_axum's own file handler made each file's context a child of whatever
/// page's context its thread last set up, and took that page's headers and status: the
/// page lost its Content-Security-Policy, and a script could answer 404; issue #15.)
#[tokio::test]
async fn a_static_file_never_takes_a_pages_headers_or_status() {
    let server = spawn_with_demo(true).await;
    let script = "document.documentElement.dataset.ready = 'yes'";
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("portal.js"), script).unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let path = if worker % 2 == 0 {
            "/no-such-page"
        } else {
            "/pkg/portal.js"
        };
        let url = server.url(path);
        requests.spawn(async move {
            let client = client();
            for _ in 0..150 {
                let response = client.get(&url).send().await.unwrap();
                let status = response.status().as_u16();
                let policy = response.headers().get("content-security-policy").cloned();
                let body = response.text().await.unwrap();
                if path == "/pkg/portal.js" {
                    assert_eq!((status, body.as_str()), (200, script), "{path}");
                    // At most the default for what the server writes itself: never a
                    // page's, with its nonce.
                    assert!(
                        !policy.is_some_and(|p| p.to_str().unwrap().contains("'nonce-")),
                        "{path} took a page's policy"
                    );
                } else {
                    assert_eq!(status, 404, "{path}");
                    let policy = policy.unwrap_or_else(|| panic!("{path} lost its policy"));
                    assert!(policy.to_str().unwrap().contains("'nonce-"), "{path}");
                }
            }
        });
    }
    while let Some(worker) = requests.join_next().await {
        worker.unwrap();
    }
}
