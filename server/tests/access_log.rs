//! "Who viewed my record" through the real server: after a service desk look-up and a
//! proxy's reading, the patient sees who, what part, when and why, in plain words; their
//! own visits only when they ask; and the page is theirs alone: a proxy acting for them
//! sees their own log, the desk and signed-out visitors nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use app::audit::action;
use server::demo;
use support::browser::Browser;
use support::people::{choose, consent_grant, desk_finds_because, patient, post};
use support::{TestServer, signed_in, signed_in_staff, spawn_demo};

/// Amelia lets Daniel see her record, as an accepted invitation would, and he opens it.
async fn daniel_reads_amelias_results(server: &TestServer) -> Browser {
    let grant = consent_grant(server, demo::AMELIA, demo::DANIEL).await;
    let mut browser = signed_in(server, "daniel").await;
    let chosen = choose(&mut browser, server, &grant.grant.public_id).await;
    assert_eq!(chosen.status.as_u16(), 303);
    assert_eq!(
        browser.get(&server.url("/record/results")).await.status,
        200
    );
    browser
}

#[tokio::test]
async fn a_patient_sees_who_looked_at_their_record_and_why_in_plain_words() {
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    assert_eq!(amelia.get(&server.url("/record/letters")).await.status, 200);
    let mut daniel = daniel_reads_amelias_results(&server).await;
    let mut desk = signed_in_staff(&server, "jordan").await;
    desk_finds_because(&mut desk, &server, demo::AMELIA, "12/6/1984", "letter").await;

    let log = amelia.get(&server.url("/account/access-log")).await;
    assert_eq!(log.status, 200);
    for expected in [
        "Jordan Okoro (service desk)",
        "Looked up your record (no health information)",
        "Reason: A letter or form from the patient",
        "Daniel Hart",
        "Viewed your test results",
        "Accepted an invitation to see your record",
    ] {
        assert!(log.body.contains(expected), "the log says {expected:?}");
    }
    // Her own visits only when she asks.
    assert!(!log.body.contains("Viewed your letters"));
    let with_own = amelia.get(&server.url("/account/access-log?own=yes")).await;
    assert!(with_own.body.contains("Viewed your letters"));
    // Filtered by who.
    let desk_only = amelia
        .get(&server.url("/account/access-log?who=desk"))
        .await;
    assert!(desk_only.body.contains("Jordan Okoro"));
    assert!(!desk_only.body.contains("Daniel Hart"));
    let api = amelia
        .get(&server.url("/api/account/access_log?who=proxy&own=false&page=1"))
        .await;
    assert_eq!(api.status, 200);
    assert!(api.body.contains("Daniel Hart") && !api.body.contains("Jordan"));

    // The page is the signed-in person's own: Daniel, acting for Amelia, sees his.
    let his = daniel.get(&server.url("/account/access-log")).await;
    assert_eq!(his.status, 200);
    assert!(!his.body.contains("Jordan Okoro"), "not Amelia's log");
    assert!(!his.body.contains("Viewed your test results"));
}

#[tokio::test]
async fn nobody_else_reads_a_patients_log() {
    let server = spawn_demo().await;
    let mut signed_out = Browser::new(&server.url(""));
    let mut desk = signed_in_staff(&server, "jordan").await;
    for path in [
        "/account/access-log",
        "/api/account/access_log?who=&own=true&page=1",
    ] {
        assert_eq!(
            signed_out.get(&server.url(path)).await.status,
            401,
            "signed out, {path}"
        );
        assert_eq!(
            desk.get(&server.url(path)).await.status,
            401,
            "desk, {path}"
        );
    }
}

#[tokio::test]
async fn an_application_with_the_wrong_date_of_birth_never_reaches_the_numbers_owner() {
    let server = spawn_demo().await;
    let mohammed = patient(server.storage.as_ref(), demo::MOHAMMED).await;
    let mut ngozi = signed_in(&server, "ngozi").await;
    for (day, expected) in [("1", 0), ("30", 1)] {
        let applied = post(
            &mut ngozi,
            &server,
            "/proxy/apply",
            "/proxy/apply",
            &[
                ("basis", "court_deputy"),
                ("relationship", "deputy"),
                ("nhs-number", demo::MOHAMMED),
                ("birth-date-day", day),
                ("birth-date-month", "9"),
                ("birth-date-year", "1968"),
                ("evidence", "COP 12345678"),
            ],
        )
        .await;
        assert_eq!(applied.status.as_u16(), 303, "{}", applied.body);
        let on_his_trail = server
            .storage
            .list_audit_events(mohammed, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == action::PROXY_APPLIED)
            .count();
        assert_eq!(on_his_trail, expected, "born on day {day}");
    }
}
