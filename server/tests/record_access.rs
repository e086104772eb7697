//! Who can reach a patient's record, through every server function and record route
//! of the real server: the patient, and nobody else. Signed-out visitors, P5 and P0
//! users see nothing clinical; another P9 patient naming the first one's item ids gets
//! "not found"; results inside their release delay show only that they exist and when
//! they open, until the (injected) clock passes that date; sensitive items never appear;
//! and every read is on the patient's audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Duration;

use app::audit::{ActorKind, action};
use app::records::{ItemDetails, RecordKind};
use app::server::storage::{RecordItem, Storage};
use server::demo;
use support::browser::{Browser, Page};
use support::{TestServer, signed_in, spawn_demo};

/// Every item of a patient's, read straight from storage (including the ones the
/// portal never shows), for the markers the tests look for.
async fn all_items(storage: &dyn Storage, nhs_number: &str) -> Vec<RecordItem> {
    let patient = storage
        .find_patient_by_nhs_number(&app::domain::NhsNumber::parse(nhs_number).unwrap())
        .await
        .unwrap()
        .unwrap();
    support::stored_items(storage, patient.id).await
}

/// The record pages and the record server functions, with a patient's own ids filled in.
fn record_paths(letter: &str, result: &str, attachment: &str) -> Vec<String> {
    vec![
        "/record".to_owned(),
        "/record/appointments".to_owned(),
        "/record/letters".to_owned(),
        format!("/record/letters/{letter}"),
        format!("/record/letters/{letter}/attachments/{attachment}"),
        "/record/results".to_owned(),
        format!("/record/results/{result}"),
        "/record/history?code=718-7".to_owned(),
        "/api/record/summary".to_owned(),
        "/api/record/appointments".to_owned(),
        "/api/record/letters".to_owned(),
        format!("/api/record/letter?id={letter}"),
        "/api/record/results".to_owned(),
        format!("/api/record/result?id={result}"),
        "/api/record/history?code=718-7".to_owned(),
        // "Download my record": the same decision, as a copy.
        "/account/download/record.json".to_owned(),
        "/account/download/record.html".to_owned(),
        "/account/download/record.pdf".to_owned(),
    ]
}

struct Markers {
    letter: String,
    result: String,
    attachment: String,
    /// Every public id of the patient's items: none may appear to anyone else.
    ids: Vec<String>,
}

async fn amelia_markers(server: &TestServer) -> Markers {
    let items = all_items(server.storage.as_ref(), demo::AMELIA).await;
    let letter = items
        .iter()
        .find(|i| matches!(&i.details, ItemDetails::Document { attachments, .. } if !attachments.is_empty()))
        .expect("a letter with a PDF");
    let ItemDetails::Document { attachments, .. } = &letter.details else {
        unreachable!()
    };
    let result = items
        .iter()
        .find(|i| i.kind == RecordKind::DiagnosticReport && i.category.as_deref() == Some("LAB"))
        .expect("a blood test report");
    Markers {
        letter: letter.public_id.clone(),
        result: result.public_id.clone(),
        attachment: attachments[0].sha256.clone().unwrap(),
        ids: items.iter().map(|i| i.public_id.clone()).collect(),
    }
}

/// The page's first heading, for failure messages.
fn heading(body: &str) -> &str {
    body.split_once("<h1>")
        .and_then(|(_, rest)| rest.split_once("</h1>"))
        .map_or(body, |(h1, _)| h1)
}

fn assert_shows_nothing_of(page: &Page, markers: &Markers, who: &str, path: &str) {
    for id in &markers.ids {
        assert!(
            !page.body.contains(id.as_str()),
            "{who} reached Amelia's item {id} through {path}"
        );
    }
    // (A download of the record is a PDF of the reader's own record: its content is
    // checked by the ids above.)
    assert!(
        path.starts_with("/account/download/") || !page.body.contains("%PDF"),
        "{who} reached a document through {path}"
    );
}

#[tokio::test]
async fn every_server_function_is_classified_so_none_escapes_these_tests() {
    // A new server function must be added here, and to `record_paths` if it reads a
    // record, before this test passes.
    let public = ["/api/site_info", "/api/list_sources"];
    // The proxy pages' reads: the signed-in person's own grants, invitations and
    // applications, and the service desk's queue; tested in `proxy_access.rs`.
    let proxy = [
        "/api/proxy/people",
        "/api/proxy/grant",
        "/api/proxy/choices",
        "/api/proxy/applications",
        "/api/desk/proxy_applications",
        "/api/desk/proxy_application",
        "/api/desk/proxy_grant",
        "/api/desk/proxy_reviews",
        // The patient's choices and the service desk console; tested in
        // `choices_desk.rs` for every kind of actor.
        "/api/choices/mine",
        // The patient's own access log; tested in `access_log.rs`.
        "/api/account/access_log",
        // Subject access requests; tested in `subject_access.rs`.
        "/api/sar/mine",
        "/api/desk/requests",
        "/api/desk/request",
        "/api/sar/form",
        "/api/desk/request_review",
        "/api/desk/home",
        "/api/desk/patient",
        "/api/desk/held_items",
        "/api/desk/held_item",
    ];
    let record = [
        "/api/record/summary",
        "/api/record/appointments",
        "/api/record/letters",
        "/api/record/letter",
        "/api/record/results",
        "/api/record/result",
        "/api/record/history",
    ];
    let mut registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect();
    registered.sort_unstable();
    let mut known: Vec<&str> = public
        .iter()
        .chain(record.iter())
        .chain(proxy.iter())
        .copied()
        .collect();
    known.sort_unstable();
    assert_eq!(registered, known);
    for (_, method) in leptos::server_fn::axum::server_fn_paths() {
        assert_eq!(
            method,
            axum::http::Method::GET,
            "record reads change nothing"
        );
    }
}

/// The demo server, also accepting P5 and P0 sign-ins (as NHS login can be asked to).
async fn spawn_accepting_every_level() -> TestServer {
    support::spawn(server::config::SettingsArgs {
        demo: Some(true),
        nhs_login_simulator: Some(true),
        nhs_login_vtr: Some(r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm","P5.Cp.Cd","P0.Cp.Cd"]"#.into()),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn only_the_patient_reaches_their_record_through_any_function_or_route() {
    let server = spawn_accepting_every_level().await;
    let markers = amelia_markers(&server).await;
    let paths = record_paths(&markers.letter, &markers.result, &markers.attachment);

    // Signed out: told to sign in, nothing clinical.
    let mut visitor = Browser::new(&server.url(""));
    for path in &paths {
        let page = visitor.get(&server.url(path)).await;
        assert_eq!(page.status, 401, "signed out, {path}: {}", page.body);
        assert_shows_nothing_of(&page, &markers, "a signed-out visitor", path);
    }

    // P5 and P0: signed in, but nothing clinical until they prove who they are.
    for person in ["priya", "sam"] {
        let mut browser = signed_in(&server, person).await;
        for path in &paths {
            let page = browser.get(&server.url(path)).await;
            assert_eq!(
                page.status,
                403,
                "{person}, {path}: {}",
                &page.body[page.body.len().saturating_sub(1500)..]
            );
            assert_shows_nothing_of(&page, &markers, person, path);
        }
    }

    // Another P9 patient (Daniel has a record of his own, empty) naming Amelia's ids,
    // and guessed ids: not found, never hers.
    let mut daniel = signed_in(&server, "daniel").await;
    for path in &paths {
        let page = daniel.get(&server.url(path)).await;
        assert!(
            page.status == 200 || page.status == 404,
            "daniel, {path}: {}",
            page.status
        );
        if path.contains(&markers.letter) || path.contains(&markers.result) {
            assert_eq!(page.status, 404, "daniel, {path}: {}", heading(&page.body));
        }
        assert_shows_nothing_of(&page, &markers, "another patient", path);
    }
    let guessed = uuid::Uuid::new_v4().to_string();
    for path in record_paths(&guessed, &guessed, &"0".repeat(64)) {
        if path.contains(&guessed) || path.contains("attachments") {
            let page = daniel.get(&server.url(&path)).await;
            assert_eq!(page.status, 404, "guessed id, {path}");
        }
    }

    // Amelia herself reaches every one of them.
    let mut amelia = signed_in(&server, "amelia").await;
    for path in &paths {
        let page = amelia.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "amelia, {path}: {}", page.body);
    }
    // Her letter's document is served only with the letter it belongs to.
    let mismatched = amelia
        .get(&server.url(&format!(
            "/record/letters/{}/attachments/{}",
            markers.result, markers.attachment
        )))
        .await;
    assert_eq!(mismatched.status, 404);
}

#[tokio::test]
async fn a_letter_is_viewed_inline_or_downloaded_and_the_view_is_audited() {
    let server = spawn_demo().await;
    let markers = amelia_markers(&server).await;
    let mut amelia = signed_in(&server, "amelia").await;
    let path = format!(
        "/record/letters/{}/attachments/{}",
        markers.letter, markers.attachment
    );
    let inline = amelia.get(&server.url(&path)).await;
    assert_eq!(inline.status, 200);
    assert_eq!(inline.headers["content-type"], "application/pdf");
    let disposition = inline.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("inline; filename=\""),
        "{disposition}"
    );
    assert!(disposition.ends_with(".pdf\""), "{disposition}");
    assert!(inline.body.starts_with("%PDF"));
    assert!(
        inline.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    let download = amelia.get(&server.url(&format!("{path}?download=1"))).await;
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    let patient = server
        .storage
        .find_patient_by_nhs_number(&app::domain::NhsNumber::parse(demo::AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let trail = server
        .storage
        .list_audit_events(patient.id, 50)
        .await
        .unwrap();
    let views: Vec<_> = trail
        .iter()
        .filter(|e| e.action == action::RECORD_VIEWED && e.actor_kind == ActorKind::Patient)
        .collect();
    assert!(
        views
            .iter()
            .any(|e| e.target.as_deref() == Some(&format!("letter:{}:attachment", markers.letter))),
        "{views:?}"
    );
    assert!(
        views
            .iter()
            .all(|e| e.reason.as_deref() == Some("own_record") && e.actor_account.is_some()),
        "the patient's own views are marked as such"
    );
}

#[tokio::test]
async fn every_record_page_read_is_on_the_patients_audit_trail() {
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    for path in [
        "/record",
        "/record/appointments",
        "/record/letters",
        "/record/results",
    ] {
        assert_eq!(amelia.get(&server.url(path)).await.status, 200);
    }
    let patient = server
        .storage
        .find_patient_by_nhs_number(&app::domain::NhsNumber::parse(demo::AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let targets: Vec<String> = server
        .storage
        .list_audit_events(patient.id, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action::RECORD_VIEWED && e.actor_kind == ActorKind::Patient)
        .filter_map(|e| e.target)
        .collect();
    for target in ["summary", "appointments", "letters", "results"] {
        assert!(
            targets.iter().any(|t| t == target),
            "{target} in {targets:?}"
        );
    }
}

#[tokio::test]
async fn record_pages_send_their_content_once_as_html_with_no_hydration_payload() {
    // Islands: the record pages have no interactive part, so nothing of what they show
    // is serialised a second time for the browser to hydrate. The island loader is the
    // only script of ours.
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    for path in [
        "/record",
        "/record/appointments",
        "/record/letters",
        "/record/results",
        "/about",
    ] {
        let page = amelia.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains("__RESOLVED_RESOURCES=[];"),
            "{path} carries no resource data for hydration"
        );
        assert!(
            page.body.contains("hydrateIslands"),
            "{path} loads the bundle in islands mode"
        );
    }
}

#[tokio::test]
async fn a_result_in_its_release_delay_shows_only_that_it_exists_until_the_day_it_opens() {
    let server = spawn_demo().await;
    let items = all_items(server.storage.as_ref(), demo::AMELIA).await;
    let scan = items
        .iter()
        .find(|i| i.category.as_deref() == Some("NMR"))
        .expect("the demo MRI report, inside its 28 days");
    let ItemDetails::DiagnosticReport {
        conclusion, text, ..
    } = &scan.details
    else {
        panic!("a report")
    };
    let secrets: Vec<&str> = [conclusion.as_deref(), text.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| s.lines().next().unwrap_or(s))
        .collect();
    assert!(!secrets.is_empty());
    let opens_at = scan.issued_at.unwrap() + Duration::days(28);
    let opens_on = app::components::format::date(opens_at);

    let mut amelia = signed_in(&server, "amelia").await;
    let detail = format!("/record/results/{}", scan.public_id);
    let read_paths = [
        "/record",
        "/record/results",
        detail.as_str(),
        "/api/record/summary",
        "/api/record/results",
    ];
    for path in read_paths {
        let page = amelia.get(&server.url(path)).await;
        assert_eq!(page.status, 200, "{path}");
        for secret in &secrets {
            assert!(!page.body.contains(secret), "{path} leaked the report");
        }
        if !path.starts_with("/api") {
            assert!(
                page.body.contains("available on <time") && page.body.contains(&opens_on),
                "{path} says when it opens"
            );
        }
    }

    // A second before it opens, still closed; at the moment it opens, readable.
    server
        .clock
        .advance(opens_at - support::test_now() - Duration::seconds(1));
    // (Weeks have passed: the old session has ended.)
    let mut amelia = signed_in(&server, "amelia").await;
    let page = amelia.get(&server.url(&detail)).await;
    assert!(!page.body.contains(secrets[0]));
    server.clock.advance(Duration::seconds(1));
    let page = amelia.get(&server.url(&detail)).await;
    assert!(page.body.contains(secrets[0]), "open on {opens_on}");
}

#[tokio::test]
async fn held_and_sensitive_results_never_show_their_content() {
    let server = spawn_demo().await;
    let items = all_items(server.storage.as_ref(), demo::AMELIA).await;
    let histology = items
        .iter()
        .find(|i| i.category.as_deref() == Some("SP"))
        .expect("the demo histopathology report");
    // A year on, it is still waiting for a clinician.
    server.clock.advance(Duration::days(365));
    let mut amelia = signed_in(&server, "amelia").await;
    let page = amelia
        .get(&server.url(&format!("/record/results/{}", histology.public_id)))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Your clinical team at "));
    assert!(
        page.body
            .contains("will release it after they have reviewed it")
    );
    if let ItemDetails::DiagnosticReport {
        conclusion: Some(conclusion),
        ..
    } = &histology.details
    {
        assert!(!page.body.contains(conclusion.as_str()));
    }

    // The sexual health report is stored but appears nowhere, not even as a marker.
    let sensitive: Vec<&RecordItem> = items
        .iter()
        .filter(|i| {
            i.labels
                .iter()
                .any(|l| app::privacy::EXCLUDED.contains(&l.as_str()))
        })
        .collect();
    assert!(!sensitive.is_empty(), "the demo has a sensitive item");
    for path in [
        "/record",
        "/record/results",
        "/record/letters",
        "/api/record/summary",
        "/api/record/results",
    ] {
        let page = amelia.get(&server.url(path)).await;
        for item in &sensitive {
            assert!(!page.body.contains(&item.public_id), "{path}");
            assert!(!page.body.contains(&item.title), "{path}: {}", item.title);
        }
    }
    for item in &sensitive {
        let page = amelia
            .get(&server.url(&format!("/record/results/{}", item.public_id)))
            .await;
        assert_eq!(page.status, 404);
    }
}

#[tokio::test]
async fn filters_narrow_the_list_and_a_mistake_is_explained_without_losing_the_rest() {
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    let all = amelia.get(&server.url("/record/results")).await;
    let imaging = amelia
        .get(&server.url("/record/results?kind=imaging"))
        .await;
    assert_eq!(imaging.status, 200);
    assert!(imaging.body.len() < all.body.len());
    assert!(imaging.body.contains("Chest X-ray"));
    assert!(!imaging.body.contains("Full blood count"));

    let mistake = amelia
        .get(&server.url("/record/results?kind=imaging&from=31%2F02%2F2026"))
        .await;
    assert_eq!(mistake.status, 200);
    assert!(mistake.body.contains("There is a problem with the filters"));
    assert!(
        mistake
            .body
            .contains("Enter the start date as day, month and year")
    );
    assert!(
        mistake.body.contains("value=\"31/02/2026\""),
        "what was typed is kept"
    );
    assert!(
        mistake.body.contains("Chest X-ray"),
        "the type filter still applies"
    );
    assert!(!mistake.body.contains("Full blood count"));
}
