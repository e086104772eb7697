//! Proxy access through the real server: a person acts for a patient only under a grant
//! of their own, in force, and sees only what it opens, through every record page,
//! server function and route; every proxy read is the proxy's own audited action; the
//! patient invites, the invitee accepts with their own NHS login, and revoking ends the
//! access at the next request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Duration;

use app::audit::{ActorKind, NewAuditEvent, action};
use app::domain::NhsNumber;
use app::proxy::rules::{GrantState, ProxyBasisKind, Scope};
use app::records::{ItemDetails, RecordKind};
use app::server::Clock;
use app::server::storage::{
    GrantChange, GrantDecisionBy, GrantRecord, PatientId, RecordItem, Storage,
};
use server::demo;
use support::browser::{Browser, Page, hidden_field};
use support::{TestServer, signed_in, spawn_demo};

async fn patient(storage: &dyn Storage, nhs_number: &str) -> PatientId {
    storage
        .find_patient_by_nhs_number(&NhsNumber::parse(nhs_number).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn items(storage: &dyn Storage, nhs_number: &str) -> Vec<RecordItem> {
    support::stored_items(storage, patient(storage, nhs_number).await).await
}

/// Every record page, server function and route that names an item, for these items.
fn paths_for(items: &[RecordItem]) -> Vec<(String, RecordKind)> {
    let mut paths = Vec::new();
    for item in items {
        let id = &item.public_id;
        match item.kind {
            RecordKind::Document => {
                paths.push((format!("/record/letters/{id}"), item.kind));
                paths.push((format!("/api/record/letter?id={id}"), item.kind));
                if let ItemDetails::Document { attachments, .. } = &item.details {
                    for sha in attachments.iter().filter_map(|a| a.sha256.as_ref()) {
                        paths.push((format!("/record/letters/{id}/attachments/{sha}"), item.kind));
                    }
                }
            }
            RecordKind::DiagnosticReport | RecordKind::Observation => {
                paths.push((format!("/record/results/{id}"), item.kind));
                paths.push((format!("/api/record/result?id={id}"), item.kind));
            }
            RecordKind::Appointment | RecordKind::Encounter => {}
        }
    }
    paths
}

/// The pages and server functions that list the record (the result history is 404
/// when no result with the code may be shown, so it is checked with the items).
const LISTS: [&str; 8] = [
    "/record",
    "/record/appointments",
    "/record/letters",
    "/record/results",
    "/api/record/summary",
    "/api/record/appointments",
    "/api/record/letters",
    "/api/record/results",
];

/// Chooses whose record to read, as the "Whose record" page's form does.
async fn choose(browser: &mut Browser, server: &TestServer, choice: &str) -> Page {
    let page = browser.get(&server.url("/proxy/choose")).await;
    let csrf = hidden_field(&page.body, "csrf_token").expect("a form with a CSRF token");
    browser
        .post_form(
            &server.url("/proxy/choose"),
            &[("csrf_token", &csrf), ("choice", choice)],
        )
        .await
}

/// The one grant the demo makes on a patient's record.
async fn demo_grant(server: &TestServer, patient_nhs: &str) -> GrantRecord {
    let patient = patient(server.storage.as_ref(), patient_nhs).await;
    let mut grants = server.storage.grants_for_patient(patient).await.unwrap();
    assert_eq!(grants.len(), 1, "the demo's grant");
    grants.remove(0)
}

fn assert_no_ids(page: &Page, ids: &[String], who: &str, path: &str) {
    for id in ids {
        assert!(
            !page.body.contains(id.as_str()),
            "{who} reached item {id} through {path}"
        );
    }
}

#[tokio::test]
async fn a_parent_acts_for_their_child_with_a_banner_and_every_read_audited_as_theirs() {
    let server = spawn_demo().await;
    let oliver_items = items(server.storage.as_ref(), demo::OLIVER).await;
    let amelia_ids: Vec<String> = items(server.storage.as_ref(), demo::AMELIA)
        .await
        .into_iter()
        .map(|i| i.public_id)
        .collect();
    let grant = demo_grant(&server, demo::OLIVER).await;
    let mut daniel = signed_in(&server, "daniel").await;

    // His own record first: no banner.
    let own = daniel.get(&server.url("/record")).await;
    assert_eq!(own.status, 200);
    assert!(!own.body.contains("Acting for"));
    let choices = daniel.get(&server.url("/proxy/choose")).await;
    assert!(choices.body.contains("Oliver Hart"), "{}", choices.body);

    let chosen = choose(&mut daniel, &server, &grant.grant.public_id).await;
    assert_eq!(
        (chosen.status.as_u16(), chosen.location()),
        (303, "/record".to_owned())
    );
    let home = daniel.get(&server.url("/record")).await;
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("Acting for <strong>Oliver Hart"),
        "{}",
        home.body
    );
    assert!(
        home.body.contains("Oliver Hart&#x27;s record")
            || home.body.contains("Oliver Hart's record")
    );
    for path in LISTS {
        let page = daniel.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "daniel for oliver, {path}");
        assert_no_ids(&page, &amelia_ids, "daniel acting for oliver", path);
        if path.starts_with("/record") && !path.starts_with("/api") {
            assert!(page.body.contains("Acting for"), "banner on {path}");
        }
    }
    // Oliver's items are reachable; Amelia's, named by id, are not.
    let shown = support::decided_for_patient(
        server.storage.as_ref(),
        patient(server.storage.as_ref(), demo::OLIVER).await,
        server.clock.now(),
    )
    .await;
    for (path, _) in paths_for(&oliver_items) {
        let id = path.rsplit(['/', '=']).next().unwrap().to_owned();
        let page = daniel.get(&server.url(&path)).await;
        if shown.item(&id).is_some_and(|d| d.is_shown()) {
            assert_eq!(page.status, 200, "{path}");
        }
    }
    for (path, _) in paths_for(&items(server.storage.as_ref(), demo::AMELIA).await) {
        let page = daniel.get(&server.url(&path)).await;
        assert_eq!(page.status, 404, "another patient's item through {path}");
    }

    // Every read is Daniel's own action, on Oliver's record, under the grant.
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    let trail = server.storage.list_audit_events(oliver, 200).await.unwrap();
    let reads: Vec<_> = trail
        .iter()
        // (The test's own reads of the stored items are the system's.)
        .filter(|e| e.action == action::RECORD_VIEWED && e.actor_kind != ActorKind::System)
        .collect();
    assert!(!reads.is_empty());
    for read in reads {
        assert_eq!(read.actor_kind, ActorKind::Proxy);
        assert_eq!(read.actor_account, Some(grant.grant.proxy));
        assert_eq!(
            read.reason.as_deref(),
            Some(format!("grant:{}", grant.grant.public_id).as_str())
        );
    }
    // The grant's last use is now.
    let used = server
        .storage
        .find_grant(&grant.grant.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.grant.last_used_at, Some(server.clock.now()));

    // Switching back: his own record, no banner.
    let back = choose(&mut daniel, &server, "own").await;
    assert_eq!(back.status.as_u16(), 303);
    let own = daniel.get(&server.url("/record")).await;
    assert!(!own.body.contains("Acting for"));
}

#[tokio::test]
async fn an_attorney_sees_only_the_sections_of_the_grant() {
    let server = spawn_demo().await;
    let grace_items = items(server.storage.as_ref(), demo::GRACE).await;
    let grant = demo_grant(&server, demo::GRACE).await;
    assert_eq!(grant.grant.basis, ProxyBasisKind::LastingPowerOfAttorney);
    assert!(!grant.grant.scope.results);
    let mut ngozi = signed_in(&server, "ngozi").await;
    assert_eq!(
        choose(&mut ngozi, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    let result_ids: Vec<String> = grace_items
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                RecordKind::DiagnosticReport | RecordKind::Observation
            )
        })
        .map(|i| i.public_id.clone())
        .collect();
    assert!(!result_ids.is_empty(), "Grace has results in the demo");
    for path in LISTS {
        let page = ngozi.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "{path}");
        assert_no_ids(&page, &result_ids, "an attorney without results", path);
    }
    for (path, kind) in paths_for(&grace_items) {
        let page = ngozi.get(&server.url(&path)).await;
        if matches!(kind, RecordKind::DiagnosticReport | RecordKind::Observation) {
            assert_eq!(
                page.status, 404,
                "a result outside the grant through {path}"
            );
        }
    }
    let results = ngozi.get(&server.url("/record/results")).await;
    assert!(
        results
            .body
            .contains("Your access to this record does not include test results")
    );
    // Another grant's id is not hers to choose.
    let daniels = demo_grant(&server, demo::OLIVER).await;
    let refused = choose(&mut ngozi, &server, &daniels.grant.public_id).await;
    assert_eq!(refused.status.as_u16(), 404);
    // Nor are its details, its page, or the desk's queue.
    for path in [
        format!("/account/people/{}", daniels.grant.public_id),
        format!("/api/proxy/grant?id={}", daniels.grant.public_id),
    ] {
        let page = ngozi.get(&server.url(&path)).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("Daniel"), "{path}");
    }
    for path in [
        "/staff/proxy-applications",
        "/api/desk/proxy_applications?basis=&page=1",
    ] {
        let page = ngozi.get(&server.url(path)).await;
        assert_eq!(page.status, 401, "{path}");
        assert!(!page.body.contains("Amelia"), "{path}");
    }
    let still = ngozi.get(&server.url("/record")).await;
    assert!(still.body.contains("Acting for <strong>Grace Okafor"));
}

/// The grant's states, each set after the proxy chose the record: only an active grant
/// reads anything, and the next request after a change already obeys it.
#[tokio::test]
async fn only_a_grant_in_force_opens_anything_whatever_state_it_is_left_in() {
    let server = spawn_demo().await;
    let grant = demo_grant(&server, demo::OLIVER).await;
    let oliver_ids: Vec<String> = items(server.storage.as_ref(), demo::OLIVER)
        .await
        .into_iter()
        .map(|i| i.public_id)
        .collect();
    let mut daniel = signed_in(&server, "daniel").await;
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    assert_eq!(daniel.get(&server.url("/record/results")).await.status, 200);

    let set = |from_state: GrantState, state: GrantState, ends_at| GrantChange {
        from_state,
        grant: grant.grant.id,
        state,
        basis: grant.grant.basis,
        scope: grant.grant.scope.clone(),
        ends_at,
        at: server.clock.now(),
        event: "changed",
        by: GrantDecisionBy {
            actor_kind: ActorKind::Staff,
            actor_account: None,
            decision_maker: Some("test".into()),
            reason: None,
        },
        audit: NewAuditEvent::new(
            server.clock.now(),
            ActorKind::Staff,
            action::PROXY_GRANT_CHANGED,
        ),
    };
    for (label, change) in [
        (
            "suspended",
            set(GrantState::Active, GrantState::Suspended, None),
        ),
        (
            "ended",
            set(
                GrantState::Suspended,
                GrantState::Active,
                Some(server.clock.now() - Duration::days(1)),
            ),
        ),
    ] {
        server.storage.change_grant(change).await.unwrap();
        for path in LISTS {
            let page = daniel.get(&server.url(path)).await;
            assert_eq!(page.status, 403, "{label} grant, {path}");
            assert_no_ids(&page, &oliver_ids, label, path);
        }
        let again = choose(&mut daniel, &server, &grant.grant.public_id).await;
        assert_eq!(again.status.as_u16(), 403, "{label}: cannot be chosen");
    }
    // Active again, then unused for five years: lapsed.
    server
        .storage
        .change_grant(set(GrantState::Active, GrantState::Active, None))
        .await
        .unwrap();
    assert_eq!(daniel.get(&server.url("/record/results")).await.status, 200);
    // (His session has long ended by then: he signs in again and cannot open it.)
    server.clock.advance(Duration::days(5 * 366));
    let mut later = signed_in(&server, "daniel").await;
    let lapsed = choose(&mut later, &server, &grant.grant.public_id).await;
    assert_eq!(lapsed.status.as_u16(), 403, "lapsed");
    server.clock.advance(-Duration::days(5 * 366));
    // Revoked is final.
    server
        .storage
        .change_grant(set(GrantState::Active, GrantState::Revoked, None))
        .await
        .unwrap();
    for path in LISTS {
        let page = daniel.get(&server.url(path)).await;
        assert_eq!(page.status, 403, "revoked grant, {path}");
        assert_no_ids(&page, &oliver_ids, "revoked", path);
    }
}

/// Fills and posts a page's form, with its CSRF token.
async fn post(
    browser: &mut Browser,
    server: &TestServer,
    page_path: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Page {
    let page = browser.get(&server.url(page_path)).await;
    let csrf = hidden_field(&page.body, "csrf_token").expect("a CSRF token");
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    browser.post_form(&server.url(action), &all).await
}

fn invitation_code(body: &str) -> String {
    body.split("app-invitation-code\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the invitation code on the page")
        .to_owned()
}

#[tokio::test]
async fn a_patient_invites_the_invitee_accepts_and_revoking_ends_it_at_once() {
    let server = spawn_demo().await;
    let amelia_items = items(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;

    // Bad answers: a clear error, and nothing typed is lost.
    let bad = post(
        &mut amelia,
        &server,
        "/account/people/invite",
        "/account/people/invite",
        &[
            ("given-name", "Daniel"),
            ("family-name", ""),
            ("birth-date-day", "31"),
            ("birth-date-month", "2"),
            ("birth-date-year", "1982"),
            ("relationship", "husband"),
        ],
    )
    .await;
    assert_eq!(bad.status.as_u16(), 422);
    assert!(bad.body.contains("There is a problem"));
    assert!(bad.body.contains("Enter their last name"));
    assert!(bad.body.contains("Date of birth must be a real date"));
    assert!(bad.body.contains("Select at least one part of your record"));
    assert!(
        bad.body.contains("value=\"Daniel\""),
        "the typed name is kept"
    );
    assert!(bad.body.contains("value=\"husband\""));
    // A date of birth of today is not in the past; none at all is asked for.
    for (day, message) in [
        ("22", "Date of birth must be in the past"),
        ("", "Enter their date of birth"),
    ] {
        let month = if day.is_empty() { "" } else { "11" };
        let year = if day.is_empty() { "" } else { "2026" };
        let refused = post(
            &mut amelia,
            &server,
            "/account/people/invite",
            "/account/people/invite",
            &[
                ("given-name", "Daniel"),
                ("family-name", "Hart"),
                ("birth-date-day", day),
                ("birth-date-month", month),
                ("birth-date-year", year),
                ("relationship", "husband"),
                ("letters", "yes"),
            ],
        )
        .await;
        assert_eq!(refused.status.as_u16(), 422);
        assert!(refused.body.contains(message), "{message}");
    }

    // Letters only, for Daniel.
    let created = post(
        &mut amelia,
        &server,
        "/account/people/invite",
        "/account/people/invite",
        &[
            ("given-name", "daniel"),
            ("family-name", "HART"),
            ("birth-date-day", "30"),
            ("birth-date-month", "1"),
            ("birth-date-year", "1982"),
            ("relationship", "husband"),
            ("letters", "yes"),
        ],
    )
    .await;
    assert_eq!(created.status.as_u16(), 200, "{}", created.body);
    let code = invitation_code(&created.body);
    let people = amelia.get(&server.url("/account/people")).await;
    assert!(people.body.contains("Invitations waiting to be accepted"));
    assert!(people.body.contains("daniel HART"));

    // Someone else with the code: the same answer as a wrong code.
    let mut ngozi = signed_in(&server, "ngozi").await;
    let wrong = post(
        &mut ngozi,
        &server,
        "/proxy/accept",
        "/proxy/accept",
        &[("step", "find"), ("code", &code)],
    )
    .await;
    assert_eq!(wrong.status.as_u16(), 422);
    assert!(
        wrong
            .body
            .contains("We could not find an invitation for you with that code")
    );
    assert!(!wrong.body.contains("Amelia"));

    // Daniel checks and accepts.
    let mut daniel = signed_in(&server, "daniel").await;
    let found = post(
        &mut daniel,
        &server,
        "/proxy/accept",
        "/proxy/accept",
        &[("step", "find"), ("code", &code.to_lowercase())],
    )
    .await;
    assert_eq!(found.status.as_u16(), 200, "{}", found.body);
    assert!(
        found
            .body
            .contains("Amelia Hart has invited you to see their record")
    );
    let accepted = post(
        &mut daniel,
        &server,
        "/proxy/accept",
        "/proxy/accept",
        &[("step", "accept"), ("code", &code)],
    )
    .await;
    assert_eq!(
        (accepted.status.as_u16(), accepted.location()),
        (303, "/proxy/choose".to_owned())
    );
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let grant = server
        .storage
        .grants_for_patient(amelia_id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(grant.grant.basis, ProxyBasisKind::Consent);
    assert_eq!(
        grant.grant.scope,
        Scope {
            letters: true,
            ..Scope::default()
        }
    );
    // A second acceptance of the same code is refused.
    let twice = post(
        &mut daniel,
        &server,
        "/proxy/accept",
        "/proxy/accept",
        &[("step", "accept"), ("code", &code)],
    )
    .await;
    assert_eq!(twice.status.as_u16(), 422);

    // Acting for Amelia: letters, and nothing else.
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    let letters = daniel.get(&server.url("/record/letters")).await;
    assert!(letters.body.contains("Acting for <strong>Amelia Hart"));
    let results_ids: Vec<String> = amelia_items
        .iter()
        .filter(|i| i.kind != RecordKind::Document)
        .map(|i| i.public_id.clone())
        .collect();
    for path in LISTS {
        let page = daniel.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "{path}");
        assert_no_ids(&page, &results_ids, "a letters-only proxy", path);
    }

    // Amelia sees him, with when he last looked, and stops his access.
    let people = amelia.get(&server.url("/account/people")).await;
    assert!(people.body.contains("Daniel Hart"), "{}", people.body);
    let grant_path = format!("/account/people/{}", grant.grant.public_id);
    let page = amelia.get(&server.url(&grant_path)).await;
    assert!(page.body.contains("Invitation accepted"));
    let revoked = post(
        &mut amelia,
        &server,
        &grant_path,
        &grant_path,
        &[("action", "revoke")],
    )
    .await;
    assert_eq!(revoked.status.as_u16(), 303);
    for path in LISTS {
        let page = daniel.get(&server.url(path)).await;
        assert_eq!(page.status, 403, "after revoking, {path}");
        assert_no_ids(
            &page,
            &amelia_items
                .iter()
                .map(|i| i.public_id.clone())
                .collect::<Vec<_>>(),
            "revoked",
            path,
        );
    }
    // And Daniel cannot change Amelia's grants himself.
    let meddling = post(
        &mut daniel,
        &server,
        "/proxy/choose",
        &grant_path,
        &[("action", "resume")],
    )
    .await;
    assert_eq!(meddling.status.as_u16(), 404);
}

#[tokio::test]
async fn the_desk_verifies_an_application_and_the_applicant_then_acts_within_the_grant() {
    let server = spawn_demo().await;
    let mut desk = support::signed_in_staff(&server, "jordan").await;
    let queue = desk.get(&server.url("/staff/proxy-applications")).await;
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains("Amelia Hart"),
        "the demo's pending application: {}",
        queue.body
    );
    let application_path = queue
        .body
        .split("href=\"/staff/proxy-applications/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|id| format!("/staff/proxy-applications/{id}"))
        .expect("a link to the application");
    let page = desk.get(&server.url(&application_path)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Oliver Hart, born 21 March 2017: the date of birth matches")
    );
    // Looking the patient up is on Oliver's audit trail as the desk's action.
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    let trail = server.storage.list_audit_events(oliver, 50).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == action::PROXY_APPLICATION_CHECKED
                && e.actor_kind == ActorKind::Staff)
    );

    // Missing answers: errors, nothing lost.
    let incomplete = post(
        &mut desk,
        &server,
        &application_path,
        &application_path,
        &[("decision", "grant"), ("reason", "Birth certificate seen")],
    )
    .await;
    assert_eq!(incomplete.status.as_u16(), 422);
    assert!(incomplete.body.contains("Enter who made the decision"));
    assert!(incomplete.body.contains("Birth certificate seen"));
    // Granted: letters only.
    let granted = post(
        &mut desk,
        &server,
        &application_path,
        &application_path,
        &[
            ("decision", "grant"),
            ("decision-maker", "Jordan Okoro, service desk"),
            ("reason", "Birth certificate seen"),
            ("letters", "yes"),
        ],
    )
    .await;
    assert_eq!(
        (granted.status.as_u16(), granted.location()),
        (303, "/staff/proxy-applications".to_owned())
    );
    let trail = server.storage.list_audit_events(oliver, 50).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == action::PROXY_GRANTED && e.actor_kind == ActorKind::Staff)
    );

    // Amelia signs in, is asked whose record, and sees only Oliver's letters.
    let mut amelia = signed_in(&server, "amelia").await;
    let choices = amelia.get(&server.url("/proxy/choose")).await;
    assert!(choices.body.contains("Oliver Hart"));
    let grant = server
        .storage
        .grants_for_patient(oliver)
        .await
        .unwrap()
        .into_iter()
        .find(|g| {
            g.grant.basis == ProxyBasisKind::ParentalResponsibility && g.relationship == "mother"
        })
        .expect("Amelia's grant");
    assert_eq!(
        grant.grant.scope,
        Scope {
            letters: true,
            ..Scope::default()
        }
    );
    let history = server.storage.grant_history(grant.grant.id).await.unwrap();
    assert_eq!(
        history[0].decision_maker.as_deref(),
        Some("Jordan Okoro, service desk")
    );
    assert_eq!(
        choose(&mut amelia, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    let appointments = amelia.get(&server.url("/record/appointments")).await;
    assert!(appointments.body.contains("does not include appointments"));

    // The desk finds Oliver (NHS number, date of birth and why: audited), sees the
    // grants on his record on his page, and suspends Amelia's, saying who decided and
    // why; her next read gets nothing.
    let found = support::people::desk_finds(&mut desk, &server, demo::OLIVER, "21/3/2017").await;
    let his_page = desk.get(&server.url(&found)).await;
    assert_eq!(his_page.status, 200);
    assert!(his_page.body.contains("People who can see this record"));
    assert!(his_page.body.contains("Amelia Hart"));
    let trail = server.storage.list_audit_events(oliver, 100).await.unwrap();
    assert!(trail.iter().any(|e| e.action == action::DESK_PATIENT_VIEWED
        && e.reason.as_deref() == Some("patient_contact")));
    // The NHS number alone no longer lists anyone's grants.
    let bare = desk
        .get(&server.url(&format!("/staff/proxy-grants?nhs={}", demo::OLIVER)))
        .await;
    assert!(!bare.body.contains("Amelia Hart"), "{}", bare.body);
    let grant_path = format!("/staff/proxy-grants/{}", grant.grant.public_id);
    let no_reason = post(
        &mut desk,
        &server,
        &grant_path,
        &grant_path,
        &[("action", "suspend"), ("decision-maker", "J Okoro")],
    )
    .await;
    assert_eq!(no_reason.status.as_u16(), 422);
    assert!(no_reason.body.contains("Enter the reason for the change"));
    let suspended = post(
        &mut desk,
        &server,
        &grant_path,
        &grant_path,
        &[
            ("action", "suspend"),
            ("decision-maker", "J Okoro, service desk"),
            ("reason", "Safeguarding concern raised by the GP"),
        ],
    )
    .await;
    assert_eq!(suspended.status.as_u16(), 303);
    assert_eq!(amelia.get(&server.url("/record/letters")).await.status, 403);
    let history = server.storage.grant_history(grant.grant.id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.state),
        ("suspended", GrantState::Suspended)
    );
    assert_eq!(
        last.decision_maker.as_deref(),
        Some("J Okoro, service desk")
    );
    // A patient's session cannot reach the desk's pages or forms.
    let mut daniel = signed_in(&server, "daniel").await;
    assert_eq!(daniel.get(&server.url(&grant_path)).await.status, 401);
    let meddling = post(
        &mut daniel,
        &server,
        "/proxy/choose",
        &grant_path,
        &[
            ("action", "resume"),
            ("decision-maker", "x"),
            ("reason", "x"),
        ],
    )
    .await;
    assert_eq!(
        (meddling.status.as_u16(), meddling.location()),
        (303, "/staff/auth/login".to_owned()),
        "sent to staff sign-in, nothing changed"
    );
    assert_eq!(
        server
            .storage
            .find_grant(&grant.grant.public_id)
            .await
            .unwrap()
            .unwrap()
            .grant
            .state,
        GrantState::Suspended
    );
}

#[tokio::test]
async fn a_refused_applicant_learns_nothing_about_the_patient() {
    let server = spawn_demo().await;
    let mut ngozi = signed_in(&server, "ngozi").await;
    // Bad answers first: errors, and what was typed is kept.
    let bad = post(
        &mut ngozi,
        &server,
        "/proxy/apply",
        "/proxy/apply",
        &[
            ("basis", "court_deputy"),
            ("nhs-number", "1234567890"),
            ("relationship", "niece"),
        ],
    )
    .await;
    assert_eq!(bad.status.as_u16(), 422);
    assert!(bad.body.contains("Enter a real NHS number"));
    assert!(bad.body.contains("value=\"niece\""));
    // Oliver's NHS number with the wrong date of birth.
    let sent = post(
        &mut ngozi,
        &server,
        "/proxy/apply",
        "/proxy/apply",
        &[
            ("basis", "court_deputy"),
            ("nhs-number", demo::OLIVER),
            ("birth-date-day", "1"),
            ("birth-date-month", "1"),
            ("birth-date-year", "2010"),
            ("relationship", "aunt"),
            ("evidence", "COP 12345"),
        ],
    )
    .await;
    assert_eq!(
        (sent.status.as_u16(), sent.location()),
        (303, "/proxy/choose".to_owned())
    );
    let mine = ngozi.get(&server.url("/proxy/choose")).await;
    assert!(
        mine.body
            .contains("Waiting for the service desk to check it")
    );

    let mut desk = support::signed_in_staff(&server, "jordan").await;
    let queue = desk.get(&server.url("/staff/proxy-applications")).await;
    let id = queue
        .body
        .split("href=\"/staff/proxy-applications/")
        .filter_map(|rest| rest.split('"').next())
        .find(|id| queue.body.contains(&format!("{id}\">Ngozi Okafor")))
        .expect("Ngozi's application")
        .to_owned();
    let path = format!("/staff/proxy-applications/{id}");
    let page = desk.get(&server.url(&path)).await;
    assert!(
        page.body
            .contains("A record has this NHS number, but the date of birth does not match")
    );
    // The number alone does not tell the desk whose record it is.
    assert!(!page.body.contains("Oliver"), "{}", page.body);
    assert!(!page.body.contains("21 March 2017"));
    // It cannot be granted.
    let forced = post(
        &mut desk,
        &server,
        &path,
        &path,
        &[
            ("decision", "grant"),
            ("decision-maker", "J Okoro"),
            ("reason", "x"),
            ("letters", "yes"),
        ],
    )
    .await;
    assert_eq!(forced.status.as_u16(), 422);
    assert!(forced.body.contains("You cannot grant this application"));
    let refused = post(
        &mut desk,
        &server,
        &path,
        &path,
        &[
            ("decision", "refuse"),
            ("decision-maker", "J Okoro"),
            (
                "reason",
                "Date of birth does not match the record of Oliver Hart",
            ),
            ("refusal", "details_not_matched"),
        ],
    )
    .await;
    assert_eq!(refused.status.as_u16(), 303);

    let told = ngozi.get(&server.url("/proxy/choose")).await;
    assert!(
        told.body
            .contains("We could not match the details you gave")
    );
    assert!(!told.body.contains("Oliver"), "nothing about the patient");
    assert!(
        !told.body.contains("Date of birth does not match"),
        "not the desk's own reason"
    );
    // And she cannot see anything of Oliver's.
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    // Nor is an application that did not match him on his trail: neither the desk's
    // look at it nor its refusal.
    let trail = server.storage.list_audit_events(oliver, 200).await.unwrap();
    assert!(
        !trail
            .iter()
            .any(|e| e.action == action::PROXY_APPLICATION_CHECKED
                || e.action == action::PROXY_REFUSED),
        "{trail:?}"
    );
    assert!(
        server
            .storage
            .grants_for_patient(oliver)
            .await
            .unwrap()
            .iter()
            .all(|g| g.proxy_name.given.as_deref() != Some("Ngozi"))
    );
}

#[tokio::test]
async fn a_grant_that_ends_by_the_clock_is_recorded_once_in_its_history_and_the_audit() {
    let server = spawn_demo().await;
    let grant = demo_grant(&server, demo::GRACE).await;
    let set_end = GrantChange {
        from_state: grant.grant.state,
        grant: grant.grant.id,
        state: grant.grant.state,
        basis: grant.grant.basis,
        scope: grant.grant.scope.clone(),
        ends_at: Some(server.clock.now() + Duration::days(10)),
        at: server.clock.now(),
        event: "changed",
        by: GrantDecisionBy {
            actor_kind: ActorKind::Staff,
            actor_account: None,
            decision_maker: Some("test".into()),
            reason: None,
        },
        audit: NewAuditEvent::new(
            server.clock.now(),
            ActorKind::Staff,
            action::PROXY_GRANT_CHANGED,
        ),
    };
    server.storage.change_grant(set_end).await.unwrap();
    let rules = app::proxy::rules::AgeRules::default();
    let recorded =
        server::jobs::record_grant_endings(server.storage.as_ref(), &server.clock, &rules)
            .await
            .unwrap();
    assert_eq!(recorded, 0, "nothing has ended yet");
    server.clock.advance(Duration::days(11));
    let recorded =
        server::jobs::record_grant_endings(server.storage.as_ref(), &server.clock, &rules)
            .await
            .unwrap();
    assert_eq!(recorded, 1);
    let again = server::jobs::record_grant_endings(server.storage.as_ref(), &server.clock, &rules)
        .await
        .unwrap();
    assert_eq!(again, 0, "recorded once");
    let history = server.storage.grant_history(grant.grant.id).await.unwrap();
    assert_eq!(history.last().unwrap().event, "expired");
    let grace = patient(server.storage.as_ref(), demo::GRACE).await;
    let trail = server.storage.list_audit_events(grace, 50).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == action::PROXY_GRANT_EXPIRED)
    );
    server.clock.advance(-Duration::days(11));
}

/// Sends a clinic letter for Oliver from a new source by conditional update, labelled
/// mental health by its sender when `psy`; answers its public id.
async fn send_letter_for_oliver(server: &TestServer, token: &str, id: &str, psy: bool) -> String {
    use base64::Engine;
    let pdf = server::demo::simple_pdf("Clinic letter", &[]);
    let mut document = serde_json::json!({
        "resourceType": "DocumentReference",
        "identifier": [{ "system": "https://docs.rmx01.example/id", "value": id }],
        "status": "current",
        "docStatus": "final",
        "type": { "coding": [{ "system": "http://snomed.info/sct", "code": "371531000", "display": "Report of clinical encounter" }], "text": "Clinic letter" },
        "subject": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": demo::OLIVER } },
        "date": "2026-11-20T09:00:00Z",
        "custodian": { "identifier": { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RMX01" } },
        "description": format!("MATRIX-LETTER-{id}"),
        "content": [{ "attachment": {
            "contentType": "application/pdf",
            "title": "letter.pdf",
            "size": pdf.len(),
            "data": base64::engine::general_purpose::STANDARD.encode(&pdf),
        } }],
    });
    if psy {
        document["meta"] = serde_json::json!({ "security": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY" }] });
    }
    let (status, location, answer) = support::feed_answer(
        support::http_client().put(server.url(&format!(
            "/fhir/DocumentReference?identifier=https://docs.rmx01.example/id|{id}"
        ))),
        token,
        document.to_string(),
    )
    .await;
    assert!(
        status == 200 || status == 201,
        "the letter was taken in: {answer}"
    );
    location.unwrap().split('/').nth(1).unwrap().to_owned()
}

/// Every section combination x the mental health label in and out of the grant x the
/// grant suspended, through every list page and every item's page, function and
/// document route; and another patient's ids throughout.
#[tokio::test]
async fn every_grant_scope_and_state_opens_exactly_what_it_says_and_nothing_of_anyone_else() {
    use app::proxy::rules::{GrantState, Section};
    let server = spawn_demo().await;
    let (token, credential_hash) = server::credentials::new_credential();
    server
        .storage
        .create_organisation(app::server::storage::NewOrganisation {
            ods_code: app::domain::OdsCode::parse("RMX01").unwrap(),
            name: "Moorside Mental Health Trust".into(),
            kind: app::records::OrganisationKind::HospitalTrust,
            credential_hash,
            at: support::test_now(),
        })
        .await
        .unwrap();
    let private_letter = send_letter_for_oliver(&server, &token, "psy-1", true).await;
    let plain_letter = send_letter_for_oliver(&server, &token, "plain-1", false).await;
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    let oliver_items = items(server.storage.as_ref(), demo::OLIVER).await;
    assert!(oliver_items.iter().any(|i| i.public_id == private_letter
        && i.labels.iter().any(|l| l == app::privacy::MENTAL_HEALTH)));
    let known =
        support::decided_for_patient(server.storage.as_ref(), oliver, server.clock.now()).await;
    let amelia_items = items(server.storage.as_ref(), demo::AMELIA).await;
    let amelia_ids: Vec<String> = amelia_items.iter().map(|i| i.public_id.clone()).collect();
    let grant = demo_grant(&server, demo::OLIVER).await;
    let mut daniel = signed_in(&server, "daniel").await;
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );

    let mut current = grant.grant.state;
    let mut set = |state: GrantState, scope: Scope| {
        let change = GrantChange {
            from_state: current,
            grant: grant.grant.id,
            state,
            basis: grant.grant.basis,
            scope,
            ends_at: None,
            at: server.clock.now(),
            event: "changed",
            by: GrantDecisionBy {
                actor_kind: ActorKind::Staff,
                actor_account: None,
                decision_maker: Some("test".into()),
                reason: None,
            },
            audit: NewAuditEvent::new(
                server.clock.now(),
                ActorKind::Staff,
                action::PROXY_GRANT_CHANGED,
            ),
        };
        current = state;
        change
    };
    let mut combinations = 0;
    for state in [GrantState::Active, GrantState::Suspended] {
        for bits in 0..8u8 {
            for with_label in [false, true] {
                let scope = Scope {
                    appointments: bits & 1 != 0,
                    letters: bits & 2 != 0,
                    results: bits & 4 != 0,
                    labels: if with_label {
                        vec![app::privacy::MENTAL_HEALTH.to_owned()]
                    } else {
                        Vec::new()
                    },
                };
                let label = format!("{state:?} {scope:?}");
                server
                    .storage
                    .change_grant(set(state, scope.clone()))
                    .await
                    .unwrap();
                combinations += 1;
                for path in LISTS {
                    let page = daniel.get(&server.url(path)).await;
                    let expected = if state == GrantState::Active {
                        200
                    } else {
                        403
                    };
                    assert_eq!(page.status, expected, "{label}, {path}");
                    assert_no_ids(&page, &amelia_ids, &label, path);
                    if state == GrantState::Active && path == "/record/letters" {
                        assert_eq!(
                            page.body.contains(&plain_letter),
                            scope.letters,
                            "{label}: plain letter listed"
                        );
                        assert_eq!(
                            page.body.contains(&private_letter),
                            scope.letters && with_label,
                            "{label}: labelled letter listed"
                        );
                    }
                    if state != GrantState::Active {
                        assert!(!page.body.contains(&plain_letter), "{label}, {path}");
                    }
                }
                for (path, kind) in paths_for(&oliver_items) {
                    let id = path
                        .trim_start_matches("/api/record/letter?id=")
                        .trim_start_matches("/api/record/result?id=")
                        .split('/')
                        .find(|part| oliver_items.iter().any(|i| i.public_id == *part))
                        .unwrap_or_default()
                        .to_owned();
                    let item = oliver_items.iter().find(|i| i.public_id == id).unwrap();
                    let opens = state == GrantState::Active
                        && scope.allows_section(Section::of(kind))
                        && item.labels.iter().all(|l| scope.allows_label(l))
                        && known.item(&id).is_some();
                    let page = daniel.get(&server.url(&path)).await;
                    if opens {
                        assert_eq!(page.status, 200, "{label}: {path}");
                    } else {
                        assert_ne!(page.status, 200, "{label}: {path} must not open");
                        assert!(!page.body.contains("MATRIX-LETTER"), "{label}: {path}");
                    }
                }
                // Another patient's items, by id, never.
                for (path, _) in paths_for(&amelia_items).into_iter().take(12) {
                    let page = daniel.get(&server.url(&path)).await;
                    assert_ne!(page.status, 200, "{label}: Amelia's {path}");
                }
            }
        }
    }
    assert_eq!(combinations, 32);
}

/// A parent's access to a child's record: the young person is told three months ahead,
/// it is paused on their 16th birthday, and continues only if they agree, as a grant
/// they then control.
#[tokio::test]
async fn at_sixteen_a_parents_access_pauses_until_the_young_person_agrees() {
    let server = spawn_demo().await;
    let sophie = patient(server.storage.as_ref(), demo::SOPHIE).await;
    let daniel_account = demo_grant(&server, demo::OLIVER).await.grant.proxy;
    // Sophie is 13 in 60 days: a month before her 16th birthday…
    let to_sixteen = Duration::days(3 * 365 + 1 + 60);
    server.clock.advance(to_sixteen - Duration::days(30));
    let grant = server
        .storage
        .create_grant(
            app::server::storage::NewGrant {
                patient: sophie,
                proxy: daniel_account,
                basis: ProxyBasisKind::ParentalResponsibility,
                relationship: "father".into(),
                scope: Scope::all_sections(),
                starts_at: server.clock.now() - Duration::days(1),
                ends_at: None,
                evidence_reference: Some("test".into()),
            },
            "granted",
            GrantDecisionBy {
                actor_kind: ActorKind::Staff,
                actor_account: None,
                decision_maker: Some("test".into()),
                reason: None,
            },
            server.clock.now(),
            NewAuditEvent::new(server.clock.now(), ActorKind::Staff, action::PROXY_GRANTED),
        )
        .await
        .unwrap();
    let mut young = signed_in(&server, "sophie").await;
    let people = young.get(&server.url("/account/people")).await;
    assert_eq!(people.status, 200);
    assert!(
        people.body.contains(
            "This access will be paused then, unless Sophie Turner agrees to it continuing"
        ),
        "told ahead: {}",
        people.body
    );
    let mut daniel = signed_in(&server, "daniel").await;
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    assert_eq!(daniel.get(&server.url("/record")).await.status, 200);

    // …and on it.
    server.clock.advance(Duration::days(31));
    let mut young = signed_in(&server, "sophie").await;
    let mut daniel = signed_in(&server, "daniel").await;
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        403,
        "paused at 16"
    );
    let grant_path = format!("/account/people/{}", grant.grant.public_id);
    let page = young.get(&server.url(&grant_path)).await;
    assert!(page.body.contains("Let Daniel Hart keep seeing my record"));
    let agreed = post(
        &mut young,
        &server,
        &grant_path,
        &grant_path,
        &[("action", "consent")],
    )
    .await;
    assert_eq!(agreed.status.as_u16(), 303);
    let now_theirs = server
        .storage
        .find_grant(&grant.grant.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now_theirs.grant.basis, ProxyBasisKind::Consent);
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    assert_eq!(daniel.get(&server.url("/record")).await.status, 200);
    // The young person now controls it: they can stop it.
    let page = young.get(&server.url(&grant_path)).await;
    assert!(page.body.contains("Stop access"));
    let trail = server.storage.list_audit_events(sophie, 50).await.unwrap();
    assert!(
        trail.iter().any(
            |e| e.action == action::PROXY_GRANT_CONSENTED && e.actor_kind == ActorKind::Patient
        )
    );
    server.clock.advance(-(to_sixteen + Duration::days(1)));
}

#[tokio::test]
async fn the_desk_is_shown_a_parents_access_while_the_child_is_between_the_review_ages() {
    let server = spawn_demo().await;
    let mut desk = support::signed_in_staff(&server, "jordan").await;
    let none = desk.get(&server.url("/staff/proxy-reviews")).await;
    assert_eq!(none.status, 200);
    assert!(
        none.body.contains("No access is due for review"),
        "Oliver is 9"
    );
    // Oliver (born 21 March 2017) is 11 on 21 March 2028.
    server.clock.advance(Duration::days(486));
    let mut desk = support::signed_in_staff(&server, "jordan").await;
    let due = desk.get(&server.url("/staff/proxy-reviews")).await;
    assert!(
        due.body.contains("Daniel Hart for Oliver Hart"),
        "{}",
        due.body
    );
    assert!(
        due.body
            .contains("The service desk will review this access by 21 March 2030")
    );
    assert!(due.body.contains("1 due for review."));
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    let trail = server.storage.list_audit_events(oliver, 50).await.unwrap();
    assert!(
        trail.iter().any(|e| e.action == action::PROXY_GRANTS_VIEWED
            && e.reason.as_deref() == Some("age_review"))
    );
    let mut daniel = signed_in(&server, "daniel").await;
    assert!(
        daniel
            .get(&server.url("/staff/proxy-reviews"))
            .await
            .status
            .is_client_error()
    );
    server.clock.advance(-Duration::days(486));
}

/// Someone whose access ended can be invited again: the ended grant is closed and the
/// new one takes its place.
#[tokio::test]
async fn access_that_ended_is_replaced_by_a_new_invitation() {
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    let invite = |day: &'static str| {
        [
            ("given-name", "Ngozi"),
            ("family-name", "Okafor"),
            ("birth-date-day", "14"),
            ("birth-date-month", "7"),
            ("birth-date-year", "1968"),
            ("relationship", "friend"),
            ("letters", "yes"),
            ("ends-on-day", day),
            ("ends-on-month", "12"),
            ("ends-on-year", "2026"),
        ]
    };
    let created = post(
        &mut amelia,
        &server,
        "/account/people/invite",
        "/account/people/invite",
        &invite("1"),
    )
    .await;
    assert_eq!(created.status.as_u16(), 200, "{}", created.body);
    let code = invitation_code(&created.body);
    let mut ngozi = signed_in(&server, "ngozi").await;
    let accepted = post(
        &mut ngozi,
        &server,
        "/proxy/accept",
        "/proxy/accept",
        &[("step", "accept"), ("code", &code)],
    )
    .await;
    assert_eq!(accepted.status.as_u16(), 303);
    // After its end date, a new invitation is accepted in its place.
    server.clock.advance(Duration::days(12));
    let mut amelia = signed_in(&server, "amelia").await;
    let again = post(
        &mut amelia,
        &server,
        "/account/people/invite",
        "/account/people/invite",
        &invite("31"),
    )
    .await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);
    let code = invitation_code(&again.body);
    let mut ngozi = signed_in(&server, "ngozi").await;
    let accepted = post(
        &mut ngozi,
        &server,
        "/proxy/accept",
        "/proxy/accept",
        &[("step", "accept"), ("code", &code)],
    )
    .await;
    assert_eq!(accepted.status.as_u16(), 303, "{}", accepted.body);
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let grants = server.storage.grants_for_patient(amelia_id).await.unwrap();
    let states: Vec<GrantState> = grants.iter().map(|g| g.grant.state).collect();
    assert_eq!(states, vec![GrantState::Active, GrantState::Revoked]);
    let history = server
        .storage
        .grant_history(grants[1].grant.id)
        .await
        .unwrap();
    assert_eq!(history.last().unwrap().event, "replaced");
    server.clock.advance(-Duration::days(12));
}
