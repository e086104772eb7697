//! The patient's choices and the service desk console through the real server: leaving
//! shuts the patient and their proxies out until they come back (and choose who comes
//! back with them); an objection hides a source's items from the patient and their
//! proxy on every path; the desk finds a patient with a reason, records a postal
//! choice, works the held items queue and unlinks an account, every step audited with
//! the agent's account and never showing clinical content; and the console answers
//! only the service desk, whoever else asks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use app::audit::{ActorKind, NewAuditEvent, action};
use app::proxy::rules::GrantState;
use app::records::{ItemDetails, RecordKind};
use app::server::Clock;
use app::server::storage::{HeldQuery, PatientId, RecordItem, Storage};
use server::demo;
use support::browser::{Browser, hidden_field};
use support::people::{account_of, choose, consent_grant, desk_finds, patient, post};
use support::{TestServer, signed_in, signed_in_staff, spawn_demo};

async fn items(storage: &dyn Storage, nhs_number: &str) -> Vec<RecordItem> {
    support::stored_items(storage, patient(storage, nhs_number).await).await
}

/// The pages and server functions that list the record.
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

/// Every page, server function and route that names one item.
fn paths_for(item: &RecordItem) -> Vec<String> {
    let id = &item.public_id;
    let mut paths = Vec::new();
    match item.kind {
        RecordKind::Document => {
            paths.push(format!("/record/letters/{id}"));
            paths.push(format!("/api/record/letter?id={id}"));
            if let ItemDetails::Document { attachments, .. } = &item.details {
                for sha in attachments.iter().filter_map(|a| a.sha256.as_ref()) {
                    paths.push(format!("/record/letters/{id}/attachments/{sha}"));
                }
            }
        }
        RecordKind::DiagnosticReport | RecordKind::Observation => {
            paths.push(format!("/record/results/{id}"));
            paths.push(format!("/api/record/result?id={id}"));
        }
        RecordKind::Appointment | RecordKind::Encounter => {}
    }
    paths
}

async fn actions_for(server: &TestServer, patient: PatientId) -> Vec<(String, ActorKind, bool)> {
    server
        .storage
        .list_recent_audit_events(500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.patient == Some(patient))
        .map(|e| (e.action, e.actor_kind, e.actor_account.is_some()))
        .collect()
}

#[tokio::test]
async fn a_patient_who_leaves_is_shut_out_with_their_proxies_and_chooses_who_comes_back() {
    let server = spawn_demo().await;
    let grant = consent_grant(&server, demo::AMELIA, demo::DANIEL).await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;
    let mut daniel = signed_in(&server, "daniel").await;
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    assert_eq!(daniel.get(&server.url("/record/results")).await.status, 200);

    // The choices page says what leaving does and does not do.
    let choices = amelia.get(&server.url("/account/choices")).await;
    assert_eq!(choices.status, 200);
    assert!(choices.body.contains("Leave the portal"));
    assert!(choices.body.contains("national data opt-out"));
    let left = post(
        &mut amelia,
        &server,
        "/account/choices/leave",
        "/account/choices/leave",
        &[("choice", "leave")],
    )
    .await;
    assert_eq!(
        (left.status.as_u16(), left.location()),
        (303, "/account/choices".to_owned())
    );

    // Her own record is closed to her, on every page and server function.
    for path in LISTS {
        let page = amelia.get(&server.url(path)).await;
        assert_eq!(page.status, 403, "{path}");
    }
    let closed = amelia.get(&server.url("/record")).await;
    assert!(closed.body.contains("You have left your health record"));
    // Her proxy is shut out at the next request: the grant was suspended by the leaving.
    assert_eq!(daniel.get(&server.url("/record/results")).await.status, 403);
    let suspended = server
        .storage
        .find_grant(&grant.grant.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(suspended.grant.state, GrantState::Suspended);
    // While she is away, the desk cannot resume his access either.
    let mut desk = signed_in_staff(&server, "jordan").await;
    let grant_page = format!("/staff/proxy-grants/{}", grant.grant.public_id);
    let resumed = post(
        &mut desk,
        &server,
        &grant_page,
        &grant_page,
        &[
            ("action", "resume"),
            ("decision-maker", "Jordan Okoro, service desk"),
            ("reason", "asked by phone"),
        ],
    )
    .await;
    assert_eq!(resumed.status.as_u16(), 422);
    assert!(resumed.body.contains("The patient has left the portal"));
    // Leaving twice is refused with a message, and changes nothing.
    let again = post(
        &mut amelia,
        &server,
        "/account/choices/leave",
        "/account/choices/leave",
        &[("choice", "leave")],
    )
    .await;
    assert_eq!(again.status.as_u16(), 422);
    assert!(again.body.contains("You have already left the portal"));

    // Coming back offers Daniel back; not ticking him leaves him paused.
    let offer = amelia.get(&server.url("/account/choices/return")).await;
    let field = format!("resume-{}", grant.grant.public_id);
    assert!(offer.body.contains(&field), "Daniel is offered back");
    let back = post(
        &mut amelia,
        &server,
        "/account/choices/return",
        "/account/choices/return",
        &[("choice", "return")],
    )
    .await;
    assert_eq!(back.status.as_u16(), 303);
    assert_eq!(amelia.get(&server.url("/record")).await.status, 200);
    assert_eq!(
        server
            .storage
            .find_grant(&grant.grant.public_id)
            .await
            .unwrap()
            .unwrap()
            .grant
            .state,
        GrantState::Suspended,
        "not silently restored"
    );
    assert_eq!(daniel.get(&server.url("/record/results")).await.status, 403);

    // Leaving and coming back again, this time letting him back in.
    post(
        &mut amelia,
        &server,
        "/account/choices/leave",
        "/account/choices/leave",
        &[("choice", "leave")],
    )
    .await;
    // Still paused by the first leaving, nobody having changed it since: offered again.
    let offer = amelia.get(&server.url("/account/choices/return")).await;
    assert!(offer.body.contains(&field));
    post(
        &mut amelia,
        &server,
        "/account/choices/return",
        "/account/choices/return",
        &[("choice", "return")],
    )
    .await;
    let amelia_grants = server.storage.grants_for_patient(amelia_id).await.unwrap();
    assert_eq!(amelia_grants.len(), 1);

    // The history and the audit trail have every step.
    let page = amelia.get(&server.url("/account/choices")).await;
    assert_eq!(page.body.matches("Left the portal").count(), 2);
    assert_eq!(page.body.matches("Came back to the portal").count(), 2);
    let actions = actions_for(&server, amelia_id).await;
    for expected in [
        action::CHOICE_LEFT_PORTAL,
        action::CHOICE_RETURNED,
        action::PROXY_GRANT_SUSPENDED,
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, kind, by)| a == expected && *kind == ActorKind::Patient && *by),
            "{expected}"
        );
    }
}

#[tokio::test]
async fn coming_back_lets_the_chosen_proxies_back_in() {
    let server = spawn_demo().await;
    let grant = consent_grant(&server, demo::AMELIA, demo::DANIEL).await;
    let mut amelia = signed_in(&server, "amelia").await;
    let mut daniel = signed_in(&server, "daniel").await;
    post(
        &mut amelia,
        &server,
        "/account/choices/leave",
        "/account/choices/leave",
        &[("choice", "leave")],
    )
    .await;
    let field = format!("resume-{}", grant.grant.public_id);
    let back = post(
        &mut amelia,
        &server,
        "/account/choices/return",
        "/account/choices/return",
        &[("choice", "return"), (field.as_str(), "yes")],
    )
    .await;
    assert_eq!(back.status.as_u16(), 303);
    assert_eq!(
        server
            .storage
            .find_grant(&grant.grant.public_id)
            .await
            .unwrap()
            .unwrap()
            .grant
            .state,
        GrantState::Active
    );
    assert_eq!(
        choose(&mut daniel, &server, &grant.grant.public_id)
            .await
            .status
            .as_u16(),
        303
    );
    assert_eq!(daniel.get(&server.url("/record/results")).await.status, 200);
    // Someone else's grant cannot be slipped into the form.
    post(
        &mut amelia,
        &server,
        "/account/choices/leave",
        "/account/choices/leave",
        &[("choice", "leave")],
    )
    .await;
    let oliver_grant = server
        .storage
        .grants_for_patient(patient(server.storage.as_ref(), demo::OLIVER).await)
        .await
        .unwrap()
        .remove(0);
    let other = format!("resume-{}", oliver_grant.grant.public_id);
    let refused = post(
        &mut amelia,
        &server,
        "/account/choices/return",
        "/account/choices/return",
        &[("choice", "return"), (other.as_str(), "yes")],
    )
    .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(
        amelia.get(&server.url("/record")).await.status,
        403,
        "still left"
    );
}

#[tokio::test]
async fn an_objection_hides_a_sources_items_from_the_patient_and_their_proxy_on_every_path() {
    let server = spawn_demo().await;
    let oliver_id = patient(server.storage.as_ref(), demo::OLIVER).await;
    let oliver_items = items(server.storage.as_ref(), demo::OLIVER).await;
    let (community, others): (Vec<_>, Vec<_>) = oliver_items
        .iter()
        .partition(|i| i.source_ods_code.as_str() == demo::COMMUNITY_ODS);
    assert!(!community.is_empty() && !others.is_empty());
    let grant = server
        .storage
        .grants_for_patient(oliver_id)
        .await
        .unwrap()
        .remove(0);
    let mut daniel = signed_in(&server, "daniel").await;
    choose(&mut daniel, &server, &grant.grant.public_id).await;
    let before = daniel.get(&server.url("/record/appointments")).await;
    assert!(
        before.body.contains(&community[0].public_id)
            || before.body.contains("Speech and language")
    );

    // Oliver's father wrote in: the desk records the objection from the letter.
    let mut desk = signed_in_staff(&server, "jordan").await;
    let page = desk_finds(&mut desk, &server, demo::OLIVER, "21/3/2017").await;
    let recorded = post(
        &mut desk,
        &server,
        &page,
        &page,
        &[
            ("form", "desk-choice"),
            ("choice", "object"),
            ("source", demo::COMMUNITY_ODS),
            ("channel", "post"),
            ("evidence", "LTR-2026-118"),
            ("reason", "Letter from the patient's father"),
        ],
    )
    .await;
    assert_eq!(
        (recorded.status.as_u16(), recorded.location()),
        (303, page.clone())
    );

    // Gone from every list, every item path and the source list, for the proxy.
    for path in LISTS {
        let body = daniel.get(&server.url(path)).await.body;
        for item in &community {
            assert!(
                !body.contains(&item.public_id),
                "{path} names {}",
                item.public_id
            );
        }
        assert!(
            !body.contains("Northgate Community Health Services"),
            "{path} names the source"
        );
    }
    for item in &community {
        for path in paths_for(item) {
            assert_eq!(daniel.get(&server.url(&path)).await.status, 404, "{path}");
        }
    }
    // The rest of his record is still there.
    let mut seen_others = 0;
    for path in LISTS {
        let body = daniel.get(&server.url(path)).await.body;
        seen_others += others
            .iter()
            .filter(|i| body.contains(&i.public_id))
            .count();
    }
    assert!(seen_others > 0, "the other sources' items are still listed");

    // Oliver's history names the desk, the channel and the reference; the audit trail
    // names the agent.
    let history = server.storage.choice_history(oliver_id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].evidence_reference.as_deref(),
        Some("LTR-2026-118")
    );
    let actions = actions_for(&server, oliver_id).await;
    for expected in [
        action::DESK_PATIENT_FOUND,
        action::DESK_PATIENT_VIEWED,
        action::CHOICE_OBJECTED,
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, kind, by)| a == expected && *kind == ActorKind::Staff && *by),
            "{expected}"
        );
    }
}

#[tokio::test]
async fn a_patient_objects_to_a_source_online_and_withdraws_it() {
    let server = spawn_demo().await;
    let amelia_items = items(server.storage.as_ref(), demo::AMELIA).await;
    let gp: Vec<&RecordItem> = amelia_items
        .iter()
        .filter(|i| i.source_ods_code.as_str() == demo::GP_ODS)
        .collect();
    let mut amelia = signed_in(&server, "amelia").await;
    let confirm = amelia
        .get(&server.url(&format!("/account/choices/object?source={}", demo::GP_ODS)))
        .await;
    assert!(
        confirm
            .body
            .contains("Stop showing records from Riverside Medical Practice?")
    );
    let objected = post(
        &mut amelia,
        &server,
        "/account/choices",
        "/account/choices/object",
        &[("choice", "object"), ("source", demo::GP_ODS)],
    )
    .await;
    assert_eq!(objected.status.as_u16(), 303);
    let shown_anywhere = |body: &str| gp.iter().any(|i| body.contains(&i.public_id));
    for path in LISTS {
        let body = amelia.get(&server.url(path)).await.body;
        assert!(!shown_anywhere(&body), "{path}");
        assert!(
            !body.contains("Riverside Medical Practice"),
            "{path} names the source"
        );
    }
    for item in &gp {
        for path in paths_for(item) {
            assert_eq!(amelia.get(&server.url(&path)).await.status, 404, "{path}");
        }
    }
    // The choices page still lists it, to be withdrawn.
    let choices = amelia.get(&server.url("/account/choices")).await.body;
    assert!(choices.contains("Riverside Medical Practice"));
    assert!(choices.contains("Stopped showing records from Riverside Medical Practice"));
    // Objecting to a source that does not exist is a clear error.
    let nonsense = post(
        &mut amelia,
        &server,
        "/account/choices",
        "/account/choices/object",
        &[("choice", "object"), ("source", "ZZZ99")],
    )
    .await;
    assert_ne!(nonsense.status.as_u16(), 303);
    assert_eq!(
        server
            .storage
            .choice_history(patient(server.storage.as_ref(), demo::AMELIA).await)
            .await
            .unwrap()
            .len(),
        1,
        "nothing recorded"
    );
    let withdrawn = post(
        &mut amelia,
        &server,
        "/account/choices",
        "/account/choices/withdraw",
        &[("choice", "withdraw"), ("source", demo::GP_ODS)],
    )
    .await;
    assert_eq!(withdrawn.status.as_u16(), 303);
    let appointments = amelia.get(&server.url("/record")).await.body;
    assert!(appointments.contains("Riverside Medical Practice"));
}

#[tokio::test]
async fn the_desk_sees_a_patients_account_and_choices_but_no_clinical_content() {
    let server = spawn_demo().await;
    let mut desk = signed_in_staff(&server, "jordan").await;
    // The demo's objection, recorded from a letter, with its reference.
    let page = desk_finds(&mut desk, &server, demo::MOHAMMED, "30/9/1968").await;
    let body = desk.get(&server.url(&page)).await.body;
    assert!(body.contains("Mohammed"));
    assert!(body.contains("DEMO-LTR-0001"));
    assert!(body.contains("Riverside Medical Practice (not shown)"));
    for item in items(server.storage.as_ref(), demo::MOHAMMED).await {
        assert!(!body.contains(&item.public_id));
        assert!(!body.contains(&item.title), "the desk saw {}", item.title);
    }
    // A wrong date of birth finds nobody, and says nothing about whom.
    let wrong = post(
        &mut desk,
        &server,
        "/staff/patients",
        "/staff/patients",
        &[
            ("nhs-number", demo::MOHAMMED),
            ("birth-date-day", "1"),
            ("birth-date-month", "1"),
            ("birth-date-year", "1970"),
            ("reason", "patient_contact"),
        ],
    )
    .await;
    assert_eq!(wrong.status.as_u16(), 422);
    assert!(wrong.body.contains("No record matches"));
    assert!(!wrong.body.contains("Iqbal"));
    // No reason, no look-up.
    let no_reason = post(
        &mut desk,
        &server,
        "/staff/patients",
        "/staff/patients",
        &[
            ("nhs-number", demo::MOHAMMED),
            ("birth-date-day", "30"),
            ("birth-date-month", "9"),
            ("birth-date-year", "1968"),
        ],
    )
    .await;
    assert_eq!(no_reason.status.as_u16(), 422);
    assert!(
        no_reason
            .body
            .contains("Select why you are looking at this record")
    );
    // A recorded choice needs its channel, reference and reason; nothing is lost.
    let incomplete = post(
        &mut desk,
        &server,
        &page,
        &page,
        &[
            ("form", "desk-choice"),
            ("choice", "leave"),
            ("reason", "asked by phone"),
        ],
    )
    .await;
    assert_eq!(incomplete.status.as_u16(), 422);
    assert!(incomplete.body.contains("Select how the patient told us"));
    assert!(
        incomplete.body.contains("asked by phone"),
        "what was typed is kept"
    );
}

#[tokio::test]
async fn the_desk_matches_a_held_item_after_checking_and_sends_another_back() {
    let server = spawn_demo().await;
    let mohammed = patient(server.storage.as_ref(), demo::MOHAMMED).await;
    let before = support::stored_items(server.storage.as_ref(), mohammed)
        .await
        .len();
    let mut desk = signed_in_staff(&server, "jordan").await;
    let queue = desk.get(&server.url("/staff/held-items")).await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains("2 waiting"));
    assert!(queue.body.contains("9990004128"), "the identifier as sent");
    assert!(!queue.body.contains("Annual review"), "never the content");
    let held = server
        .storage
        .held_resources(HeldQuery {
            limit: 10,
            ..HeldQuery::default()
        })
        .await
        .unwrap()
        .items
        .remove(0);
    let path = format!("/staff/held-items/{}", held.public_id);
    let detail = desk.get(&server.url(&path)).await;
    assert!(detail.body.contains("Riverside Medical Practice"));
    assert!(!detail.body.contains("Annual review"));
    let answers = |day: &'static str, confirmed: &'static str| {
        vec![
            ("resolution", "match"),
            ("nhs-number", demo::MOHAMMED),
            ("birth-date-day", day),
            ("birth-date-month", "9"),
            ("birth-date-year", "1968"),
            (
                "reason",
                "NHS number mistyped; confirmed with the practice by phone",
            ),
            ("confirmed", confirmed),
        ]
    };
    let wrong = post(&mut desk, &server, &path, &path, &answers("29", "yes")).await;
    assert_eq!(wrong.status.as_u16(), 422);
    // The item carries 999 000 4128, not his number: not without the sender's word.
    let unconfirmed = post(&mut desk, &server, &path, &path, &answers("30", "")).await;
    assert_eq!(unconfirmed.status.as_u16(), 422);
    assert!(unconfirmed.body.contains("does not carry this NHS number"));
    let stored_before: Vec<String> = support::stored_items(server.storage.as_ref(), mohammed)
        .await
        .into_iter()
        .map(|i| i.public_id)
        .collect();
    let matched = post(&mut desk, &server, &path, &path, &answers("30", "yes")).await;
    assert_eq!(
        (matched.status.as_u16(), matched.location()),
        (303, "/staff/held-items".to_owned())
    );
    assert_eq!(
        support::stored_items(server.storage.as_ref(), mohammed)
            .await
            .len(),
        before + 1
    );
    // Once only.
    assert_eq!(
        post(&mut desk, &server, &path, &path, &answers("30", "yes"))
            .await
            .status
            .as_u16(),
        404
    );
    // Through the usual rules: the practice's items stay hidden by his objection.
    let choices = server.storage.patient_choices(mohammed).await.unwrap();
    let reader = app::access::Reader {
        account: app::domain::AccountId(0),
        kind: app::access::ReaderKind::Patient,
        identity_level: Some("P9".to_owned()),
        own_record: Some(mohammed),
    };
    let rules = server
        .storage
        .current_release_rules()
        .await
        .unwrap()
        .unwrap();
    let decided = app::access::decide_record(
        &reader,
        mohammed,
        &app::access::Basis::OwnRecord,
        &choices,
        support::stored_items(server.storage.as_ref(), mohammed).await,
        &rules,
        server.clock.now(),
    );
    assert!(!decided.items().is_empty());
    let new_item = support::stored_items(server.storage.as_ref(), mohammed)
        .await
        .into_iter()
        .find(|i| !stored_before.contains(&i.public_id))
        .expect("the matched appointment is stored");
    assert_eq!(new_item.source_ods_code.as_str(), demo::GP_ODS);
    assert!(
        decided.item(&new_item.public_id).is_none(),
        "hidden by his objection to the practice, like the rest of its items"
    );
    let matched_row = server
        .storage
        .list_recent_audit_events(50)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == action::DESK_HELD_ITEM_MATCHED)
        .unwrap();
    assert_eq!(matched_row.reason.as_deref(), Some("confirmed_with_sender"));
    let actions = actions_for(&server, mohammed).await;
    assert!(
        actions
            .iter()
            .any(|(a, kind, by)| a == action::DESK_HELD_ITEM_MATCHED
                && *kind == ActorKind::Staff
                && *by)
    );

    // The community service's item names nobody the portal can find: sent back.
    let other = server
        .storage
        .held_resources(HeldQuery {
            limit: 10,
            ..HeldQuery::default()
        })
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(other.raw_resource.contains("CHS-404-17"));
    let path = format!("/staff/held-items/{}", other.public_id);
    let returned = post(
        &mut desk,
        &server,
        &path,
        &path,
        &[
            ("resolution", "return"),
            ("reason", "Not a patient of ours"),
        ],
    )
    .await;
    assert_eq!(returned.status.as_u16(), 303);
    let queue = desk.get(&server.url("/staff/held-items")).await;
    assert!(queue.body.contains("There are no held items"));
}

#[tokio::test]
async fn the_desk_unlinks_an_account_and_the_next_sign_in_links_it_again() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;
    assert_eq!(amelia.get(&server.url("/record")).await.status, 200);
    let mut desk = signed_in_staff(&server, "jordan").await;
    let page = desk_finds(&mut desk, &server, demo::AMELIA, "12/6/1984").await;
    let body = desk.get(&server.url(&page)).await.body;
    let reference = body
        .split("name=\"account\" type=\"radio\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the account to unlink")
        .to_owned();
    let unlinked = post(
        &mut desk,
        &server,
        &page,
        &page,
        &[
            ("form", "unlink"),
            ("account", &reference),
            ("unlink-reason", "Wrong match reported by the patient"),
        ],
    )
    .await;
    assert_eq!(unlinked.status.as_u16(), 303, "{}", unlinked.body);
    assert!(
        server
            .storage
            .accounts_of_patient(amelia_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        amelia.get(&server.url("/record")).await.status,
        401,
        "signed out"
    );
    let mut again = signed_in(&server, "amelia").await;
    assert_eq!(
        again.get(&server.url("/record")).await.status,
        200,
        "relinked by NHS number"
    );
    let actions = actions_for(&server, amelia_id).await;
    assert!(
        actions
            .iter()
            .any(|(a, kind, by)| a == action::DESK_ACCOUNT_UNLINKED
                && *kind == ActorKind::Staff
                && *by)
    );
}

/// The console's pages, server functions and forms, for every kind of actor: only the
/// service desk gets anything; patients, proxies and staff without the role get a
/// refusal that names nobody, and their posts change nothing.
#[tokio::test]
async fn the_console_answers_only_the_service_desk() {
    let server = spawn_demo().await;
    let mut desk = signed_in_staff(&server, "jordan").await;
    let lookup = desk_finds(&mut desk, &server, demo::OLIVER, "21/3/2017").await;
    let held = server
        .storage
        .held_resources(HeldQuery {
            limit: 10,
            ..HeldQuery::default()
        })
        .await
        .unwrap()
        .items
        .remove(0);
    let lookup_id = lookup.trim_start_matches("/staff/patients/").to_owned();
    let reads = [
        "/staff/patients".to_owned(),
        lookup.clone(),
        "/staff/held-items".to_owned(),
        format!("/staff/held-items/{}", held.public_id),
        "/api/desk/home".to_owned(),
        format!("/api/desk/patient?lookup={lookup_id}"),
        "/api/desk/held_items?sender=&page=1".to_owned(),
        format!("/api/desk/held_item?id={}", held.public_id),
        "/staff/proxy-applications?basis=parental_responsibility".to_owned(),
        "/api/desk/proxy_applications?basis=&page=1".to_owned(),
    ];
    // The desk itself reads them all.
    for path in &reads {
        let page = desk.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "desk, {path}");
    }
    let home = desk.get(&server.url("/staff")).await;
    assert!(home.body.contains("Held feed items (2)"));
    // The verification queue filters by basis: the demo's application is a parent's.
    let parents = desk
        .get(&server.url("/staff/proxy-applications?basis=parental_responsibility"))
        .await;
    assert!(parents.body.contains("1 waiting"));
    let deputies = desk
        .get(&server.url("/staff/proxy-applications?basis=court_deputy&page=7"))
        .await;
    assert!(deputies.body.contains("There are no applications waiting."));

    let mut daniel = signed_in(&server, "daniel").await;
    let grant = server
        .storage
        .grants_for_patient(patient(server.storage.as_ref(), demo::OLIVER).await)
        .await
        .unwrap()
        .remove(0);
    choose(&mut daniel, &server, &grant.grant.public_id).await;
    let actors: Vec<(&str, Browser)> = vec![
        ("signed out", Browser::new(&server.url(""))),
        ("patient", signed_in(&server, "amelia").await),
        ("proxy", daniel),
        (
            "staff without the role",
            signed_in_staff(&server, "alex").await,
        ),
    ];
    let audit_rows = server
        .storage
        .list_recent_audit_events(1000)
        .await
        .unwrap()
        .len();
    for (who, mut browser) in actors {
        for path in &reads {
            let page = browser.get(&server.url(path)).await;
            assert!(
                [401, 403, 404].contains(&page.status.as_u16()),
                "{who}, {path}: {}",
                page.status
            );
            // (The proxy's own frame says whom they act for; the console adds nothing.)
            assert!(
                who == "proxy" || !page.body.contains("Oliver"),
                "{who}, {path} named the patient"
            );
            assert!(!page.body.contains("999 000 1383"), "{who}, {path}");
            assert!(!page.body.contains("9990004128"), "{who}, {path}");
        }
        let home = browser.get(&server.url("/staff")).await;
        assert!(!home.body.contains("Held feed items ("), "{who}");
        // Posts without a staff session go to staff sign-in and change nothing (a
        // token from their own session's page, so only the role is missing).
        let token = hidden_field(
            &browser.get(&server.url("/account/choices")).await.body,
            "csrf_token",
        )
        .unwrap_or_default();
        for (action, fields) in [
            (
                "/staff/patients",
                vec![
                    ("nhs-number", demo::OLIVER),
                    ("birth-date-day", "21"),
                    ("birth-date-month", "3"),
                    ("birth-date-year", "2017"),
                    ("reason", "patient_contact"),
                ],
            ),
            (
                lookup.as_str(),
                vec![
                    ("form", "desk-choice"),
                    ("choice", "leave"),
                    ("channel", "post"),
                    ("evidence", "x"),
                    ("reason", "x"),
                ],
            ),
            (
                lookup.as_str(),
                vec![
                    ("form", "log-request"),
                    ("channel", "post"),
                    ("received-day", "1"),
                    ("received-month", "11"),
                    ("received-year", "2026"),
                    ("scope", "everything"),
                ],
            ),
            (
                &format!("/staff/held-items/{}", held.public_id),
                vec![("resolution", "return"), ("reason", "x")],
            ),
        ] {
            let mut all = vec![("csrf_token", token.as_str())];
            all.extend(fields);
            let answer = browser.post_form(&server.url(action), &all).await;
            assert!(
                answer.status.as_u16() == 403
                    || (answer.status.as_u16() == 303 && answer.location() == "/staff/auth/login"),
                "{who}, POST {action}: {} {}",
                answer.status,
                answer.location()
            );
        }
    }
    // Nothing changed: no choice for Oliver, the held item still waiting, and no audit
    // row of a desk action.
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    assert!(
        server
            .storage
            .choice_history(oliver)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        server
            .storage
            .find_held_resource(&held.public_id)
            .await
            .unwrap()
            .unwrap()
            .resolution
            .is_none()
    );
    let new_rows = server.storage.list_recent_audit_events(1000).await.unwrap();
    assert!(
        new_rows[..new_rows.len() - audit_rows]
            .iter()
            .all(|e| !e.action.starts_with("desk.")
                && !e.action.starts_with("choice.")
                && !e.action.starts_with("sar.")),
        "a refused actor left a desk, choice or request row"
    );
    assert!(
        server
            .storage
            .open_access_requests()
            .await
            .unwrap()
            .is_empty(),
        "no request was logged"
    );

    // And the desk never reaches patient pages or the patient's choices.
    for path in [
        "/record",
        "/api/record/summary",
        "/account/choices",
        "/api/choices/mine",
    ] {
        let page = desk.get(&server.url(path)).await;
        assert_eq!(page.status, 401, "desk, {path}");
    }
}

#[tokio::test]
async fn a_look_up_opens_the_patient_only_to_its_agent_and_only_for_an_hour() {
    let server = spawn_demo().await;
    let mut desk = signed_in_staff(&server, "jordan").await;
    let page = desk_finds(&mut desk, &server, demo::OLIVER, "21/3/2017").await;
    assert_eq!(desk.get(&server.url(&page)).await.status, 200);
    // Another agent's look-up (made here for someone else's account) is not found.
    let oliver = patient(server.storage.as_ref(), demo::OLIVER).await;
    let someone_else = account_of(server.storage.as_ref(), demo::DANIEL).await;
    let theirs = server
        .storage
        .create_lookup(app::server::storage::NewDeskLookup {
            agent: someone_else,
            patient: oliver,
            reason: "patient_contact".into(),
            at: server.clock.now(),
            expires_at: server.clock.now() + chrono::Duration::hours(1),
            audit: NewAuditEvent::new(
                server.clock.now(),
                ActorKind::Staff,
                action::DESK_PATIENT_FOUND,
            ),
        })
        .await
        .unwrap();
    for path in [
        format!("/staff/patients/{theirs}"),
        format!("/api/desk/patient?lookup={theirs}"),
    ] {
        let answer = desk.get(&server.url(&path)).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.body.contains("Oliver"), "{path}");
    }
    // An hour later the agent's own look-up has closed.
    server.clock.advance(chrono::Duration::minutes(61));
    let mut desk = signed_in_staff(&server, "jordan").await;
    assert_eq!(desk.get(&server.url(&page)).await.status, 404);
}
