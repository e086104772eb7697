//! The demo's people as the integration tests use them: finding a record and an
//! account by NHS number, posting a page's form with its CSRF token, choosing whose
//! record to read, and a grant made as an accepted invitation would make it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::audit::{ActorKind, NewAuditEvent, action};
use app::domain::{AccountId, NhsNumber};
use app::proxy::rules::{ProxyBasisKind, Scope};
use app::server::Clock;
use app::server::storage::{GrantDecisionBy, GrantRecord, NewGrant, PatientId, Storage};

use super::TestServer;
use super::browser::{Browser, Page, hidden_field};

/// The record with this NHS number.
pub async fn patient(storage: &dyn Storage, nhs_number: &str) -> PatientId {
    storage
        .find_patient_by_nhs_number(&NhsNumber::parse(nhs_number).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The NHS login account linked to the record with this NHS number.
pub async fn account_of(storage: &dyn Storage, nhs_number: &str) -> AccountId {
    let patient = patient(storage, nhs_number).await;
    storage.accounts_of_patient(patient).await.unwrap()[0].id
}

/// Posts a form as the page at `page_path` would, with that page's CSRF token (and what
/// the form is tied to, when it names it: the record, a review's items).
pub async fn post(
    browser: &mut Browser,
    server: &TestServer,
    page_path: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Page {
    let page = browser.get(&server.url(page_path)).await;
    let csrf = hidden_field(&page.body, "csrf_token").expect("a CSRF token");
    let mut all = vec![("csrf_token", csrf.as_str())];
    // A form tied to what the page showed (the record it was opened for, the items a
    // review listed) sends that back.
    let tied: Vec<(&str, String)> = ["record", "items"]
        .into_iter()
        .filter(|name| !fields.iter().any(|(given, _)| given == name))
        .filter_map(|name| hidden_field(&page.body, name).map(|value| (name, value)))
        .collect();
    for (name, value) in &tied {
        all.push((name, value.as_str()));
    }
    all.extend_from_slice(fields);
    browser.post_form(&server.url(action), &all).await
}

/// The service desk finds a patient by NHS number and date of birth (`"21/3/2017"`)
/// because the patient contacted it; returns the look-up's page, `/staff/patients/{id}`.
pub async fn desk_finds(
    desk: &mut Browser,
    server: &TestServer,
    nhs_number: &str,
    born: &str,
) -> String {
    desk_finds_because(desk, server, nhs_number, born, "patient_contact").await
}

/// [`desk_finds`] with another reason from the list.
pub async fn desk_finds_because(
    desk: &mut Browser,
    server: &TestServer,
    nhs_number: &str,
    born: &str,
    reason: &str,
) -> String {
    let [day, month, year]: [&str; 3] = born
        .split('/')
        .collect::<Vec<_>>()
        .try_into()
        .expect("a date of birth as day/month/year");
    let found = post(
        desk,
        server,
        "/staff/patients",
        "/staff/patients",
        &[
            ("nhs-number", nhs_number),
            ("birth-date-day", day),
            ("birth-date-month", month),
            ("birth-date-year", year),
            ("reason", reason),
        ],
    )
    .await;
    assert_eq!(found.status.as_u16(), 303, "{}", found.body);
    let location = found.location();
    assert!(location.starts_with("/staff/patients/"), "{location}");
    location
}

/// Posts a page's own form to its own address.
pub async fn submit(
    browser: &mut Browser,
    server: &TestServer,
    page_path: &str,
    fields: &[(&str, &str)],
) -> Page {
    post(browser, server, page_path, page_path, fields).await
}

/// Chooses whose record to read, as the "Whose record" page's form does.
pub async fn choose(browser: &mut Browser, server: &TestServer, choice: &str) -> Page {
    post(
        browser,
        server,
        "/proxy/choose",
        "/proxy/choose",
        &[("choice", choice)],
    )
    .await
}

/// A grant to everything, made with the patient's consent as an accepted invitation
/// makes it: `proxy_nhs`'s account may see `patient_nhs`'s record.
pub async fn consent_grant(server: &TestServer, patient_nhs: &str, proxy_nhs: &str) -> GrantRecord {
    grant_with(
        server,
        patient_nhs,
        proxy_nhs,
        ProxyBasisKind::Consent,
        Scope::all_sections(),
    )
    .await
}

/// A grant in force on `basis` to `scope`: `proxy_nhs`'s account may see that much of
/// `patient_nhs`'s record.
pub async fn grant_with(
    server: &TestServer,
    patient_nhs: &str,
    proxy_nhs: &str,
    basis: ProxyBasisKind,
    scope: Scope,
) -> GrantRecord {
    let patient = patient(server.storage.as_ref(), patient_nhs).await;
    let proxy = account_of(server.storage.as_ref(), proxy_nhs).await;
    let now = server.clock.now();
    server
        .storage
        .create_grant(
            NewGrant {
                patient,
                proxy,
                basis,
                relationship: "husband".into(),
                scope,
                starts_at: now - chrono::Duration::days(1),
                ends_at: None,
                evidence_reference: None,
            },
            "accepted",
            GrantDecisionBy {
                actor_kind: ActorKind::Proxy,
                actor_account: Some(proxy),
                decision_maker: None,
                reason: None,
            },
            now,
            NewAuditEvent {
                actor_account: Some(proxy),
                patient: Some(patient),
                ..NewAuditEvent::new(now, ActorKind::Proxy, action::PROXY_INVITATION_ACCEPTED)
            },
        )
        .await
        .unwrap()
}
