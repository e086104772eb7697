//! Copies of the record through the real server: "Download my record" in three formats
//! for the patient and for a proxy within their grant, and a subject access request's
//! answer from review to download. Each copy holds exactly the items the access
//! decision shows its reader (checked against the decision itself), each download is
//! audited, and nobody else reaches anyone's copy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use app::audit::action;
use app::proxy::rules::{ProxyBasisKind, Scope};
use app::server::Clock;
use server::demo;
use support::browser::Browser;
use support::people::{choose, desk_finds, grant_with, patient, post, submit};
use support::{TestServer, decided_for_patient, signed_in, signed_in_staff, spawn_demo};

/// The portal's ids of the items in a FHIR copy (entries other than the patient,
/// organisations and provenance carry the item's id in their `fullUrl`).
fn item_ids(bundle: &serde_json::Value) -> BTreeSet<String> {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            !matches!(
                e["resource"]["resourceType"].as_str(),
                Some("Patient" | "Organization" | "Provenance")
            )
        })
        .map(|e| {
            e["fullUrl"]
                .as_str()
                .unwrap()
                .trim_start_matches("urn:uuid:")
                .to_owned()
        })
        .collect()
}

async fn download(
    browser: &mut Browser,
    server: &TestServer,
    path: &str,
) -> (u16, String, Vec<u8>) {
    let (status, headers, bytes) = browser.get_bytes(&server.url(path)).await;
    let kind = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if status.is_success() {
        let disposition = headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            disposition.starts_with("attachment; filename="),
            "{disposition}"
        );
        assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    }
    (status.as_u16(), kind, bytes)
}

fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document
        .extract_text(&pages)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_patient_downloads_exactly_what_they_can_see_in_three_formats() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let decided = decided_for_patient(server.storage.as_ref(), amelia_id, server.clock.now()).await;
    let shown: BTreeSet<String> = decided
        .items()
        .iter()
        .filter(|d| d.is_shown())
        .map(|d| d.item.public_id.clone())
        .collect();
    let not_shown: Vec<&str> = decided
        .items()
        .iter()
        .filter(|d| !d.is_shown())
        .map(|d| d.item.public_id.as_str())
        .collect();
    assert!(
        !shown.is_empty() && !not_shown.is_empty(),
        "the demo record has both"
    );

    let mut amelia = signed_in(&server, "amelia").await;
    let page = amelia.get(&server.url("/account/download")).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.body.contains("/account/download/record.pdf"));
    assert!(page.body.contains("<h1>Download your record"));
    assert!(page.body.contains("who has seen your record"));
    assert!(page.body.contains("href=\"/account/requests\""));

    let (status, kind, bytes) =
        download(&mut amelia, &server, "/account/download/record.json").await;
    assert_eq!((status, kind.as_str()), (200, "application/fhir+json"));
    let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(item_ids(&bundle), shown);
    let text = String::from_utf8(bytes).unwrap();
    for id in &not_shown {
        assert!(!text.contains(id), "{id} is not in her copy");
    }
    assert!(text.contains("https://fhir.nhs.uk/Id/ods-organization-code"));
    assert!(text.contains(demo::AMELIA));

    let (status, kind, bytes) =
        download(&mut amelia, &server, "/account/download/record.html").await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    let html = String::from_utf8(bytes).unwrap();
    assert!(html.contains("Amelia Hart"));
    assert!(html.contains("controller of its own data"));
    assert!(html.contains(&format!("(ODS code {})", demo::HOSPITAL_ODS)));
    assert!(!html.contains("<script"));

    let (status, kind, bytes) =
        download(&mut amelia, &server, "/account/download/record.pdf").await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let pdf = pdf_text(&bytes);
    assert!(pdf.contains("A copy of your health record"));
    assert!(pdf.contains("Amelia Hart"));

    // Another name, another format: not found.
    let (status, _, _) = download(&mut amelia, &server, "/account/download/record.xml").await;
    assert_eq!(status, 404);
    let (status, _, _) = download(&mut amelia, &server, "/account/download/other.json").await;
    assert_eq!(status, 404);

    // Each download is audited as hers, with its format.
    let trail = server
        .storage
        .list_audit_events(amelia_id, 200)
        .await
        .unwrap();
    let downloads: BTreeSet<String> = trail
        .iter()
        .filter(|e| e.action == action::RECORD_DOWNLOADED)
        .map(|e| e.target.clone().unwrap())
        .collect();
    assert_eq!(
        downloads,
        ["download:html", "download:json", "download:pdf"]
            .map(str::to_owned)
            .into()
    );

    // Signed out: sign in first.
    let mut nobody = Browser::new(&server.url(""));
    let (status, _, _) = download(&mut nobody, &server, "/account/download/record.json").await;
    assert_eq!(status, 401);
    // The desk has no record to download.
    let mut desk = signed_in_staff(&server, "jordan").await;
    let (status, _, _) = download(&mut desk, &server, "/account/download/record.json").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_proxy_downloads_only_what_their_grant_opens() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let letters_only = Scope {
        letters: true,
        ..Scope::default()
    };
    let grant = grant_with(
        &server,
        demo::AMELIA,
        demo::DANIEL,
        ProxyBasisKind::LastingPowerOfAttorney,
        letters_only,
    )
    .await;
    let mut daniel = signed_in(&server, "daniel").await;
    choose(&mut daniel, &server, &grant.grant.public_id).await;
    // The page names whose record it is, and sends him to no log of his own.
    let page = daniel.get(&server.url("/account/download")).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(
        page.body.contains("<h1>Download Amelia Hart&#x27;s record")
            || page.body.contains("<h1>Download Amelia Hart's record"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<title>Download their record - Your health record</title>")
    );
    assert!(!page.body.contains("Download your record"));
    assert!(!page.body.contains("who has seen your record"));
    assert!(!page.body.contains("/account/requests"));
    let (status, _, bytes) = download(&mut daniel, &server, "/account/download/record.json").await;
    assert_eq!(status, 200);
    let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let decided = decided_for_patient(server.storage.as_ref(), amelia_id, server.clock.now()).await;
    let letters: BTreeSet<String> = decided
        .items()
        .iter()
        .filter(|d| d.is_shown() && d.item.kind == app::records::RecordKind::Document)
        .map(|d| d.item.public_id.clone())
        .collect();
    assert!(!letters.is_empty());
    assert_eq!(item_ids(&bundle), letters, "her letters, nothing else");
    let (status, _, bytes) = download(&mut daniel, &server, "/account/download/record.html").await;
    assert_eq!(status, 200);
    let html = String::from_utf8(bytes).unwrap();
    assert!(html.contains("Someone acting for the patient"));
    assert!(html.contains("<h2>Letters</h2>"));
    assert!(!html.contains("<h2>Test results</h2>"));
    // Audited as the proxy's action on her record, under the grant.
    let trail = server
        .storage
        .list_audit_events(amelia_id, 200)
        .await
        .unwrap();
    assert!(trail.iter().any(|e| e.action == action::RECORD_DOWNLOADED
        && e.actor_kind == app::audit::ActorKind::Proxy
        && e.reason.as_deref() == Some(&format!("grant:{}", grant.grant.public_id))));
}

#[tokio::test]
async fn a_request_is_reviewed_fulfilled_and_its_answer_downloaded_by_its_requester_alone() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;
    let asked = submit(
        &mut amelia,
        &server,
        "/account/requests/new",
        &[("scope", "everything")],
    )
    .await;
    assert_eq!(asked.status.as_u16(), 303, "{}", asked.body);
    let request = server
        .storage
        .access_requests_for_patient(amelia_id)
        .await
        .unwrap()
        .remove(0);
    let id = request.public_id.clone();
    let path = format!("/staff/requests/{id}");
    let review_path = format!("{path}/review");

    let mut desk = signed_in_staff(&server, "jordan").await;
    // Not in review yet: no review page, and nothing to send.
    assert_eq!(
        desk.get(&server.url(&review_path)).await.status.as_u16(),
        404
    );
    let started = submit(&mut desk, &server, &path, &[("action", "review_started")]).await;
    assert_eq!(started.status.as_u16(), 303);
    let page = desk.get(&server.url(&path)).await;
    assert!(page.body.contains("Record the clinical review"));
    assert!(
        !page.body.contains("value=\"fulfilled\""),
        "not before the review"
    );
    let too_soon = submit(&mut desk, &server, &path, &[("action", "fulfilled")]).await;
    assert_eq!(too_soon.status.as_u16(), 422);
    assert!(
        too_soon
            .body
            .contains("Record the clinical review before sending the answer")
    );

    // The review lists what the answer would hold: what she can see, nothing more.
    let decided = decided_for_patient(server.storage.as_ref(), amelia_id, server.clock.now()).await;
    let shown: Vec<String> = decided
        .items()
        .iter()
        .filter(|d| d.is_shown())
        .map(|d| d.item.public_id.clone())
        .collect();
    let review = desk.get(&server.url(&review_path)).await;
    assert_eq!(review.status.as_u16(), 200);
    for id in &shown {
        assert!(
            review.body.contains(&format!("name=\"ground-{id}\"")),
            "{id} listed"
        );
    }
    for d in decided.items().iter().filter(|d| !d.is_shown()) {
        assert!(!review.body.contains(&d.item.public_id));
    }
    // One item withheld for third-party information; the reviewer and reason required.
    let withheld_id = shown[0].clone();
    let ground = format!("ground-{withheld_id}");
    let missing = submit(
        &mut desk,
        &server,
        &review_path,
        &[(&ground, "third_party")],
    )
    .await;
    assert_eq!(missing.status.as_u16(), 422);
    assert!(missing.body.contains("Enter the clinical reviewer"));
    assert!(missing.body.contains("Enter why the items are withheld"));
    let reviewed = submit(
        &mut desk,
        &server,
        &review_path,
        &[
            (&ground, "third_party"),
            ("reviewer", "Dr Priya Shah, consultant radiologist"),
            ("reason", "Names her sister"),
        ],
    )
    .await;
    assert_eq!(reviewed.status.as_u16(), 303, "{}", reviewed.body);
    let sent = submit(&mut desk, &server, &path, &[("action", "fulfilled")]).await;
    assert_eq!(sent.status.as_u16(), 303, "{}", sent.body);

    // Amelia downloads it: everything she can see, less the withheld item.
    let mine = amelia.get(&server.url("/account/requests")).await;
    assert!(mine.body.contains("Your copy is ready"));
    let answer = format!("/account/requests/{id}/answer");
    let (status, kind, bytes) = download(&mut amelia, &server, &format!("{answer}.json")).await;
    assert_eq!((status, kind.as_str()), (200, "application/fhir+json"));
    let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let expected: BTreeSet<String> = shown
        .iter()
        .filter(|s| **s != withheld_id)
        .cloned()
        .collect();
    assert_eq!(item_ids(&bundle), expected);
    assert!(!String::from_utf8(bytes).unwrap().contains(&withheld_id));
    let (status, _, bytes) = download(&mut amelia, &server, &format!("{answer}.pdf")).await;
    assert_eq!(status, 200);
    let pdf = pdf_text(&bytes);
    assert!(pdf.contains("Your copy of your data"));
    assert!(pdf.contains("Information about another person"));
    let (status, _, bytes) = download(&mut amelia, &server, &format!("{answer}.html")).await;
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains("After a review by a health professional")
    );

    // Nobody else: someone acting for her who did not ask, another patient, the desk,
    // a signed-out visitor.
    let grant = grant_with(
        &server,
        demo::AMELIA,
        demo::DANIEL,
        ProxyBasisKind::LastingPowerOfAttorney,
        Scope::all_sections(),
    )
    .await;
    let mut daniel = signed_in(&server, "daniel").await;
    choose(&mut daniel, &server, &grant.grant.public_id).await;
    assert_eq!(
        download(&mut daniel, &server, &format!("{answer}.json"))
            .await
            .0,
        404
    );
    let mut ngozi = signed_in(&server, "ngozi").await;
    assert_eq!(
        download(&mut ngozi, &server, &format!("{answer}.json"))
            .await
            .0,
        404
    );
    assert_eq!(
        download(&mut desk, &server, &format!("{answer}.json"))
            .await
            .0,
        401
    );
    let mut nobody = Browser::new(&server.url(""));
    assert_eq!(
        download(&mut nobody, &server, &format!("{answer}.json"))
            .await
            .0,
        401
    );

    // Audited: the review read, the review, the answer prepared, each download.
    let trail = server
        .storage
        .list_audit_events(amelia_id, 500)
        .await
        .unwrap();
    for expected in [
        action::SAR_REVIEWED,
        action::SAR_ANSWER_PREPARED,
        action::SAR_ANSWER_DOWNLOADED,
    ] {
        assert!(
            trail.iter().any(|e| e.action == expected),
            "{expected} audited"
        );
    }
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == action::SAR_ANSWER_DOWNLOADED)
            .count(),
        3
    );

    // After its time, the download is gone and she is told what to do.
    server.clock.advance(chrono::Duration::days(31));
    let mut amelia = signed_in(&server, "amelia").await;
    assert_eq!(
        download(&mut amelia, &server, &format!("{answer}.json"))
            .await
            .0,
        404
    );
    let mine = amelia.get(&server.url("/account/requests")).await;
    assert!(
        mine.body
            .contains("The time to download this copy has ended")
    );
}

#[tokio::test]
async fn the_desk_logs_a_postal_request_which_waits_for_identity_with_the_clock_paused() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut desk = signed_in_staff(&server, "jordan").await;
    let lookup_page = desk_finds(&mut desk, &server, demo::AMELIA, "12/6/1984").await;
    let incomplete = submit(
        &mut desk,
        &server,
        &lookup_page,
        &[("form", "log-request"), ("scope", "everything")],
    )
    .await;
    assert_eq!(incomplete.status.as_u16(), 422, "{}", incomplete.body);
    assert!(incomplete.body.contains("Select how the request came"));
    assert!(incomplete.body.contains("Enter the date it was received"));
    let tomorrow = submit(
        &mut desk,
        &server,
        &lookup_page,
        &[
            ("form", "log-request"),
            ("channel", "post"),
            ("received-day", "23"),
            ("received-month", "11"),
            ("received-year", "2026"),
            ("scope", "everything"),
        ],
    )
    .await;
    assert_eq!(tomorrow.status.as_u16(), 422);
    assert!(
        tomorrow
            .body
            .contains("The date it was received must be today or in the past")
    );
    let logged = submit(
        &mut desk,
        &server,
        &lookup_page,
        &[
            ("form", "log-request"),
            ("channel", "post"),
            ("received-day", "20"),
            ("received-month", "11"),
            ("received-year", "2026"),
            ("scope", "some"),
            ("letters", "yes"),
        ],
    )
    .await;
    assert_eq!(logged.status.as_u16(), 303, "{}", logged.body);
    let request = server
        .storage
        .access_requests_for_patient(amelia_id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        logged.location(),
        format!("/staff/requests/{}", request.public_id)
    );
    assert_eq!(request.state, app::sar::rules::SarState::AwaitingIdentity);
    assert_eq!(request.channel, "post");
    let page = desk.get(&server.url(&logged.location())).await;
    assert!(
        page.body.contains("Paused since 20 November 2026"),
        "{}",
        page.body
    );
    assert!(page.body.contains("by post"));
    // Identity confirmed two days later: the clock runs from receipt plus the pause.
    server.clock.advance(chrono::Duration::days(2));
    let mut desk = signed_in_staff(&server, "jordan").await;
    let path = logged.location();
    let confirmed = submit(
        &mut desk,
        &server,
        &path,
        &[("action", "identity_verified")],
    )
    .await;
    assert_eq!(confirmed.status.as_u16(), 303);
    let page = desk.get(&server.url(&path)).await;
    // Received 20 November, paused 20 to 24 November (4 days): 20 December + 4 = 24 December.
    assert!(page.body.contains("24 December 2026"), "{}", page.body);
    // Audited as logged by the desk, with the channel.
    let trail = server
        .storage
        .list_audit_events(amelia_id, 200)
        .await
        .unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == action::SAR_LOGGED && e.reason.as_deref() == Some("channel:post"))
    );
    // Amelia sees it among her requests.
    let mut amelia = signed_in(&server, "amelia").await;
    let mine = amelia.get(&server.url("/account/requests")).await;
    assert!(
        mine.body.contains("Request received 20 November 2026"),
        "{}",
        mine.body
    );
}

#[tokio::test]
async fn a_request_form_sent_after_switching_records_is_refused() {
    let server = spawn_demo().await;
    let grant = grant_with(
        &server,
        demo::AMELIA,
        demo::DANIEL,
        ProxyBasisKind::LastingPowerOfAttorney,
        Scope::all_sections(),
    )
    .await;
    let mut daniel = signed_in(&server, "daniel").await;
    // The form opened on his own record…
    let form = daniel.get(&server.url("/account/requests/new")).await;
    let record = support::browser::hidden_field(&form.body, "record").unwrap();
    assert_eq!(record, "own");
    // …then he switches to Amelia's in another tab, and sends it.
    choose(&mut daniel, &server, &grant.grant.public_id).await;
    let sent = submit(
        &mut daniel,
        &server,
        "/account/requests/new",
        &[("scope", "everything"), ("record", "own")],
    )
    .await;
    assert_eq!(sent.status.as_u16(), 422);
    assert!(sent.body.contains("You changed whose record you are using"));
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    assert!(
        server
            .storage
            .access_requests_for_patient(amelia_id)
            .await
            .unwrap()
            .is_empty()
    );
    // Opened on hers, it is filed for her, naming her.
    let form = daniel.get(&server.url("/account/requests/new")).await;
    assert!(
        form.body
            .contains("You are asking for a copy of Amelia Hart")
    );
    let sent = submit(
        &mut daniel,
        &server,
        "/account/requests/new",
        &[("scope", "everything")],
    )
    .await;
    assert_eq!(sent.status.as_u16(), 303, "{}", sent.body);
    assert_eq!(
        server
            .storage
            .access_requests_for_patient(amelia_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Asks for everything as Amelia, moves the request into review as the desk and records
/// a review withholding nothing; answers the request's id and the desk's browser.
async fn reviewed_request(server: &TestServer, amelia: &mut Browser) -> (String, Browser) {
    let asked = submit(
        amelia,
        server,
        "/account/requests/new",
        &[("scope", "everything")],
    )
    .await;
    assert_eq!(asked.status.as_u16(), 303, "{}", asked.body);
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let id = server
        .storage
        .access_requests_for_patient(amelia_id)
        .await
        .unwrap()
        .remove(0)
        .public_id;
    let mut desk = signed_in_staff(server, "jordan").await;
    let path = format!("/staff/requests/{id}");
    let started = submit(&mut desk, server, &path, &[("action", "review_started")]).await;
    assert_eq!(started.status.as_u16(), 303);
    let reviewed = submit(
        &mut desk,
        server,
        &format!("{path}/review"),
        &[("reviewer", "Dr Priya Shah, consultant")],
    )
    .await;
    assert_eq!(reviewed.status.as_u16(), 303, "{}", reviewed.body);
    (id, desk)
}

#[tokio::test]
async fn nothing_goes_out_that_the_review_did_not_see() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;
    let (id, mut desk) = reviewed_request(&server, &mut amelia).await;
    let path = format!("/staff/requests/{id}");

    // A review posted for a list of items that has changed since the page was opened
    // is refused, and nothing is recorded in its place.
    let stale = submit(
        &mut desk,
        &server,
        &format!("{path}/review"),
        &[
            ("reviewer", "Dr Priya Shah"),
            ("items", "not-what-was-shown"),
        ],
    )
    .await;
    assert_eq!(stale.status.as_u16(), 422);
    assert!(
        stale
            .body
            .contains("The items to review changed since you opened this page")
    );

    // A result held back until a date opens after the review: the answer would now hold
    // an item the review never saw, so it is not sent until the review is recorded again.
    let decided = decided_for_patient(server.storage.as_ref(), amelia_id, server.clock.now()).await;
    let opens_at = decided
        .items()
        .iter()
        .find_map(|d| match d.decision.outcome {
            app::access::Outcome::WithheldUntil { opens_at } => Some(opens_at),
            _ => None,
        })
        .expect("Amelia has a result held back until a date");
    server
        .clock
        .advance(opens_at - server.clock.now() + chrono::Duration::minutes(1));
    let mut desk = signed_in_staff(&server, "jordan").await;
    let refused = submit(&mut desk, &server, &path, &[("action", "fulfilled")]).await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(
        refused
            .body
            .contains("record the review again before sending the answer")
    );
    assert!(
        server
            .storage
            .access_request_answer(&id)
            .await
            .unwrap()
            .is_none()
    );
    // Reviewed again, it goes.
    let again = submit(
        &mut desk,
        &server,
        &format!("{path}/review"),
        &[("reviewer", "Dr Priya Shah, consultant")],
    )
    .await;
    assert_eq!(again.status.as_u16(), 303, "{}", again.body);
    let sent = submit(&mut desk, &server, &path, &[("action", "fulfilled")]).await;
    assert_eq!(sent.status.as_u16(), 303, "{}", sent.body);
}

#[tokio::test]
async fn an_answer_is_given_as_the_requester_may_see_the_record_when_they_download_it() {
    let server = spawn_demo().await;
    let amelia_id = patient(server.storage.as_ref(), demo::AMELIA).await;
    let mut amelia = signed_in(&server, "amelia").await;
    let (id, mut desk) = reviewed_request(&server, &mut amelia).await;
    let sent = submit(
        &mut desk,
        &server,
        &format!("/staff/requests/{id}"),
        &[("action", "fulfilled")],
    )
    .await;
    assert_eq!(sent.status.as_u16(), 303, "{}", sent.body);
    let answer = format!("/account/requests/{id}/answer.json");
    let (status, _, bytes) = download(&mut amelia, &server, &answer).await;
    assert_eq!(status, 200);
    let before = item_ids(&serde_json::from_slice(&bytes).unwrap());
    let gp: BTreeSet<String> =
        decided_for_patient(server.storage.as_ref(), amelia_id, server.clock.now())
            .await
            .items()
            .iter()
            .filter(|d| d.is_shown() && d.item.source_ods_code.as_str() == demo::GP_ODS)
            .map(|d| d.item.public_id.clone())
            .collect();
    assert!(
        !gp.is_empty() && gp.is_subset(&before),
        "the answer held her GP's items"
    );

    // She then stops showing her GP practice's records: the answer no longer gives them.
    let objected = post(
        &mut amelia,
        &server,
        "/account/choices",
        "/account/choices/object",
        &[("choice", "object"), ("source", demo::GP_ODS)],
    )
    .await;
    assert_eq!(objected.status.as_u16(), 303);
    let (status, _, bytes) = download(&mut amelia, &server, &answer).await;
    assert_eq!(status, 200);
    let after = item_ids(&serde_json::from_slice(&bytes).unwrap());
    assert_eq!(
        after,
        before.difference(&gp).cloned().collect::<BTreeSet<_>>()
    );
    // The download is audited in the read that decided it.
    let trail = server
        .storage
        .list_audit_events(amelia_id, 500)
        .await
        .unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == action::SAR_ANSWER_DOWNLOADED)
            .count(),
        2
    );
}
