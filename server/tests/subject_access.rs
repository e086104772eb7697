//! Subject access requests through the real server: a patient asks for a copy of their
//! data and follows it (state, due date, history); the desk works it through the
//! statutory clock (a pause for clarification adds its days, an extension told in the
//! first month moves the date, a refusal tells the reason and the right to complain to
//! the ICO); a proxy asks only when their grant's basis carries the right; and nobody
//! else reaches anyone's requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use app::audit::action;
use server::demo;
use support::browser::{Browser, hidden_field};
use support::people::{choose, consent_grant, patient, submit};
use support::{signed_in, signed_in_staff, spawn_demo};

#[tokio::test]
async fn a_patient_asks_for_a_copy_and_the_desk_works_it_through_the_statutory_clock() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;

    // Bad answers are explained and kept.
    let nothing = submit(
        &mut amelia,
        &server,
        "/account/requests/new",
        &[("scope", "some"), ("note", "only the x-ray")],
    )
    .await;
    assert_eq!(nothing.status.as_u16(), 422);
    assert!(
        nothing
            .body
            .contains("Select at least one part of the record")
    );
    assert!(nothing.body.contains("only the x-ray"));
    let backwards = submit(
        &mut amelia,
        &server,
        "/account/requests/new",
        &[
            ("scope", "everything"),
            ("from-day", "1"),
            ("from-month", "6"),
            ("from-year", "2026"),
            ("to-day", "1"),
            ("to-month", "1"),
            ("to-year", "2026"),
        ],
    )
    .await;
    assert_eq!(backwards.status.as_u16(), 422);
    assert!(
        backwards
            .body
            .contains("The end date must be after the start date")
    );

    // Received on Sunday 22 November 2026: due on Tuesday 22 December.
    let asked = submit(
        &mut amelia,
        &server,
        "/account/requests/new",
        &[("scope", "some"), ("results", "yes"), ("letters", "yes")],
    )
    .await;
    assert_eq!(
        (asked.status.as_u16(), asked.location()),
        (303, "/account/requests".to_owned())
    );
    let mine = amelia.get(&server.url("/account/requests")).await;
    assert!(mine.body.contains("Letters, Test results"));
    assert!(mine.body.contains("22 December 2026"));
    let request = server
        .storage
        .access_requests_for_patient(amelia_id)
        .await
        .unwrap()
        .remove(0);
    let path = format!("/staff/requests/{}", request.public_id);

    // The desk: in the queue, opened (audited), paused for a clarification for three
    // days, which moves the due date from 25 December over Christmas to 29 December.
    let mut desk = signed_in_staff(&server, "jordan").await;
    let queue = desk.get(&server.url("/staff/requests")).await;
    assert!(queue.body.contains("1 open, soonest due first"));
    assert!(queue.body.contains(&request.public_id));
    let asked_more = submit(
        &mut desk,
        &server,
        &path,
        &[
            ("action", "asked_for_clarification"),
            ("reason", "Which letters do you mean?"),
        ],
    )
    .await;
    assert_eq!(asked_more.status.as_u16(), 303, "{}", asked_more.body);
    let paused = desk.get(&server.url(&path)).await;
    assert!(paused.body.contains("Paused since 22 November 2026"));
    server.clock.advance(chrono::Duration::days(3));
    let mut desk = signed_in_staff(&server, "jordan").await;
    let resumed = submit(&mut desk, &server, &path, &[("action", "clarified")]).await;
    assert_eq!(resumed.status.as_u16(), 303);
    let running = desk.get(&server.url(&path)).await;
    assert!(
        running.body.contains("29 December 2026"),
        "{}",
        running.body
    );

    // Extended by two months, told within the first month: due 25 February 2027.
    let no_reason = submit(
        &mut desk,
        &server,
        &path,
        &[("action", "extend"), ("months", "2")],
    )
    .await;
    assert_eq!(no_reason.status.as_u16(), 422);
    let extended = submit(
        &mut desk,
        &server,
        &path,
        &[
            ("action", "extend"),
            ("months", "2"),
            (
                "reason",
                "Records from three organisations need a clinical review",
            ),
        ],
    )
    .await;
    assert_eq!(extended.status.as_u16(), 303);
    let extended = desk.get(&server.url(&path)).await;
    assert!(
        extended.body.contains("25 February 2027"),
        "{}",
        extended.body
    );
    // Not twice.
    let again = submit(
        &mut desk,
        &server,
        &path,
        &[("action", "extend"), ("months", "1"), ("reason", "more")],
    )
    .await;
    assert_eq!(again.status.as_u16(), 422);

    // An online request came with a verified NHS login: proof of identity is not asked.
    assert!(!extended.body.contains("value=\"asked_for_identity\""));
    let identity = submit(
        &mut desk,
        &server,
        &path,
        &[("action", "asked_for_identity")],
    )
    .await;
    assert_eq!(identity.status.as_u16(), 422);
    // Fulfilling is not offered before a clinical review; a change the state does not
    // allow is refused.
    assert!(!extended.body.contains("value=\"fulfilled\""));
    let not_now = submit(&mut desk, &server, &path, &[("action", "clarified")]).await;
    assert_eq!(not_now.status.as_u16(), 422);

    // Refused, with the reason and the right to complain to the ICO, which Amelia reads.
    let no_reason = submit(&mut desk, &server, &path, &[("action", "refused")]).await;
    assert_eq!(no_reason.status.as_u16(), 422);
    assert!(
        no_reason
            .body
            .contains("Enter the reason the requester is told")
    );
    let refused = submit(
        &mut desk,
        &server,
        &path,
        &[("action", "refused"), ("reason", "Test refusal.")],
    )
    .await;
    assert_eq!(refused.status.as_u16(), 303);
    // (Her earlier session ended while the days passed.)
    let mut amelia = signed_in(&server, "amelia").await;
    let hers = amelia.get(&server.url("/account/requests")).await;
    assert!(hers.body.contains("Refused"));
    assert!(hers.body.contains("Test refusal."));
    assert!(hers.body.contains("Information Commissioner"));
    let queue = desk.get(&server.url("/staff/requests")).await;
    assert!(queue.body.contains("There are no open requests."));

    // Audited: her request, the desk's look and each change.
    let trail = server
        .storage
        .list_audit_events(amelia_id, 200)
        .await
        .unwrap();
    for expected in [
        action::SAR_REQUESTED,
        action::SAR_VIEWED,
        action::SAR_CHANGED,
    ] {
        assert!(trail.iter().any(|e| e.action == expected), "{expected}");
    }
}

#[tokio::test]
async fn a_proxy_asks_only_when_their_grants_basis_carries_the_right() {
    let server = spawn_demo().await;
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    let oliver_grant = server
        .storage
        .grants_for_patient(oliver)
        .await
        .unwrap()
        .remove(0);
    // Daniel has parental responsibility for Oliver: he may ask for Oliver.
    let mut daniel = signed_in(&server, "daniel").await;
    choose(&mut daniel, &server, &oliver_grant.grant.public_id).await;
    let asked = submit(
        &mut daniel,
        &server,
        "/account/requests/new",
        &[("scope", "everything")],
    )
    .await;
    assert_eq!(asked.status.as_u16(), 303, "{}", asked.body);
    let olivers = server
        .storage
        .access_requests_for_patient(oliver)
        .await
        .unwrap();
    assert_eq!(olivers.len(), 1);
    assert_eq!(olivers[0].requester_kind, "proxy");
    // Amelia does not see Oliver's request among hers.
    let mut amelia = signed_in(&server, "amelia").await;
    let hers = amelia.get(&server.url("/account/requests")).await;
    assert!(hers.body.contains("You have not asked for a copy yet."));
    assert!(!hers.body.contains(&olivers[0].public_id));
}

#[tokio::test]
async fn requests_answer_only_their_requester_and_the_desk() {
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    submit(
        &mut amelia,
        &server,
        "/account/requests/new",
        &[("scope", "everything")],
    )
    .await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let request = server
        .storage
        .access_requests_for_patient(amelia_id)
        .await
        .unwrap()
        .remove(0);
    // In review, so that its review page exists.
    let mut desk = signed_in_staff(&server, "jordan").await;
    let path = format!("/staff/requests/{}", request.public_id);
    let started = submit(&mut desk, &server, &path, &[("action", "review_started")]).await;
    assert_eq!(started.status.as_u16(), 303);
    let review = desk.get(&server.url(&format!("{path}/review"))).await;
    assert_eq!(review.status.as_u16(), 200);
    let desk_paths = [
        "/staff/requests".to_owned(),
        format!("/staff/requests/{}", request.public_id),
        format!("/staff/requests/{}/review", request.public_id),
        "/api/desk/requests".to_owned(),
        format!("/api/desk/request?id={}", request.public_id),
        format!("/api/desk/request_review?id={}", request.public_id),
    ];
    let mut signed_out = Browser::new(&server.url(""));
    let mut ngozi = signed_in(&server, "ngozi").await;
    for path in &desk_paths {
        for (who, browser) in [
            ("signed out", &mut signed_out),
            ("patient", &mut amelia),
            ("another patient", &mut ngozi),
        ] {
            let page = browser.get(&server.url(path)).await;
            assert!(
                [401, 404].contains(&page.status.as_u16()),
                "{who}, {path}: {}",
                page.status
            );
            assert!(!page.body.contains(&request.public_id), "{who}, {path}");
        }
    }
    // Another patient's list is their own.
    let theirs = ngozi.get(&server.url("/account/requests")).await;
    assert!(!theirs.body.contains(&request.public_id));
    // The desk never reaches a patient's requests, forms or copies.
    let answer = format!("/account/requests/{}/answer.json", request.public_id);
    for path in [
        "/account/requests",
        "/api/sar/mine",
        "/api/sar/form",
        "/account/download/record.json",
        "/account/download/record.pdf",
        answer.as_str(),
    ] {
        assert_eq!(
            desk.get(&server.url(path)).await.status,
            401,
            "desk, {path}"
        );
    }
    // A patient's post to the desk's form changes nothing.
    let token = hidden_field(
        &amelia.get(&server.url("/account/requests/new")).await.body,
        "csrf_token",
    )
    .unwrap();
    let meddling = amelia
        .post_form(
            &server.url(&format!("/staff/requests/{}", request.public_id)),
            &[
                ("csrf_token", &token),
                ("action", "refused"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(
        (meddling.status.as_u16(), meddling.location()),
        (303, "/staff/auth/login".to_owned())
    );
    // Nor to the clinical review's: nothing is withheld, no review recorded.
    let ground = format!("ground-{}", "any");
    let meddling = amelia
        .post_form(
            &server.url(&format!("/staff/requests/{}/review", request.public_id)),
            &[
                ("csrf_token", &token),
                (ground.as_str(), "serious_harm"),
                ("reviewer", "me"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(
        (meddling.status.as_u16(), meddling.location()),
        (303, "/staff/auth/login".to_owned())
    );
    assert!(
        !server
            .storage
            .review_recorded(&request.public_id)
            .await
            .unwrap()
    );
    // Nobody downloads an answer that was never sent, the requester included.
    let (status, _, _) = amelia.get_bytes(&server.url(&answer)).await;
    assert_eq!(status.as_u16(), 404);
    let still = server
        .storage
        .find_access_request(&request.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.state, app::sar::rules::SarState::InReview);
}

#[tokio::test]
async fn a_proxy_invited_by_the_patient_cannot_ask_and_a_proxy_follows_only_their_own() {
    use app::audit::ActorKind;
    let server = spawn_demo().await;
    let amelia = patient(server.storage.as_ref(), demo::AMELIA).await;
    let grant = consent_grant(&server, demo::AMELIA, demo::DANIEL).await;
    let mut browser = signed_in(&server, "daniel").await;
    choose(&mut browser, &server, &grant.grant.public_id).await;
    // Invited by the patient: not a basis that carries the right to ask for them.
    let page = browser.get(&server.url("/account/requests")).await;
    assert_eq!(page.status, 403);
    let token = hidden_field(
        &browser.get(&server.url("/proxy/choose")).await.body,
        "csrf_token",
    )
    .unwrap();
    let refused = browser
        .post_form(
            &server.url("/account/requests/new"),
            &[("csrf_token", &token), ("scope", "everything")],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 403);
    assert!(
        server
            .storage
            .access_requests_for_patient(amelia)
            .await
            .unwrap()
            .is_empty()
    );

    // Ngozi holds Grace's LPA for appointments and letters: her request covers those
    // only, and she follows her own requests, which is audited.
    let grace = patient(server.storage.as_ref(), demo::GRACE).await;
    let ngozi_grant = server
        .storage
        .grants_for_patient(grace)
        .await
        .unwrap()
        .remove(0);
    let mut ngozi = signed_in(&server, "ngozi").await;
    choose(&mut ngozi, &server, &ngozi_grant.grant.public_id).await;
    let asked = submit(
        &mut ngozi,
        &server,
        "/account/requests/new",
        &[("scope", "everything")],
    )
    .await;
    assert_eq!(asked.status.as_u16(), 303, "{}", asked.body);
    let request = server
        .storage
        .access_requests_for_patient(grace)
        .await
        .unwrap()
        .remove(0);
    assert!(!request.scope.everything);
    assert_eq!(
        request.scope.sections,
        vec![
            app::proxy::rules::Section::Appointments,
            app::proxy::rules::Section::Letters
        ]
    );
    let only_results = submit(
        &mut ngozi,
        &server,
        "/account/requests/new",
        &[("scope", "some"), ("results", "yes")],
    )
    .await;
    assert_eq!(only_results.status.as_u16(), 422);
    assert!(only_results.body.contains("does not include those parts"));
    let hers = ngozi.get(&server.url("/account/requests")).await;
    assert!(hers.body.contains("Appointments, Letters"));
    let trail = server.storage.list_audit_events(grace, 100).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == action::SAR_VIEWED && e.actor_kind == ActorKind::Proxy)
    );
}
