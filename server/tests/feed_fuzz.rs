//! The parser and the feed endpoint never panic and never answer 5xx, whatever arrives:
//! random bytes, and valid bundles mutated by deleting, duplicating and replacing parts
//! (property tests with proptest; failures shrink to a minimal body).
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use app::privacy::CodeList;
use app::server::storage::OrganisationId;
use server::ingest::{Sender, map_bundle};

/// A realistic bundle to mutate: patient, report, observation with decimals and a
/// partial date, an appointment and a document with an inline attachment.
fn seed_bundle() -> String {
    json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            { "fullUrl": "urn:uuid:p", "resource": { "resourceType": "Patient", "id": "p",
                "identifier": [{ "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018" }],
                "name": [{ "family": "Hart", "given": ["Amelia"] }], "birthDate": "1984-06" } },
            { "fullUrl": "urn:uuid:r", "resource": { "resourceType": "DiagnosticReport",
                "identifier": [{ "system": "https://lab/id", "value": "r1" }], "status": "final",
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB" }] }],
                "code": { "text": "Full blood count" }, "subject": { "reference": "urn:uuid:p" },
                "issued": "2026-11-20T10:00:00Z", "result": [{ "reference": "urn:uuid:o" }] } },
            { "fullUrl": "urn:uuid:o", "resource": { "resourceType": "Observation",
                "identifier": [{ "system": "https://lab/id", "value": "o1" }], "status": "final",
                "code": { "coding": [{ "system": "http://loinc.org", "code": "718-7", "display": "Haemoglobin" }] },
                "subject": { "reference": "urn:uuid:p" }, "effectiveDateTime": "2026-11",
                "valueQuantity": { "value": 11.2, "unit": "g/dL" },
                "referenceRange": [{ "low": { "value": 11.5 }, "high": { "value": 16.5 } }] } },
            { "fullUrl": "urn:uuid:a", "resource": { "resourceType": "Appointment",
                "identifier": [{ "system": "https://pas/id", "value": "a1" }], "status": "booked",
                "start": "2026-12-01T09:00:00Z", "participant": [{ "actor": { "reference": "urn:uuid:p" } }] } },
            { "fullUrl": "urn:uuid:d", "resource": { "resourceType": "DocumentReference",
                "identifier": [{ "system": "https://docs/id", "value": "d1" }], "status": "current",
                "subject": { "reference": "urn:uuid:p" },
                "content": [{ "attachment": { "contentType": "text/plain", "data": "aGVsbG8=" } }] } }
        ]
    })
    .to_string()
}

fn sender() -> Sender {
    Sender {
        organisation: OrganisationId(1),
        received_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        request_id: None,
    }
}

/// A mutation of the seed: cut a range, repeat a range, or splice in text.
fn mutated() -> impl Strategy<Value = String> {
    let seed = seed_bundle();
    let len = seed.len();
    (
        0..len,
        0..len,
        0usize..3,
        "[\\[\\]{}\":,0-9a-zA-Z.\\-\\\\ ]{0,12}",
    )
        .prop_map(move |(a, b, kind, splice)| {
            let (start, end) = (a.min(b), a.max(b));
            // Cut on character boundaries (the seed is ASCII, so every index is one).
            match kind {
                0 => format!("{}{}", &seed[..start], &seed[end..]),
                1 => format!("{}{}{}", &seed[..end], &seed[start..end], &seed[end..]),
                _ => format!("{}{}{}", &seed[..start], splice, &seed[end..]),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = map_bundle(&sender(), &CodeList::default_list(), &text);
    }

    #[test]
    fn mutated_bundles_never_panic_the_parser(body in mutated()) {
        let _ = map_bundle(&sender(), &CodeList::default_list(), &body);
    }
}

#[test]
fn the_unmutated_seed_maps_cleanly() {
    let mapped = map_bundle(&sender(), &CodeList::default_list(), &seed_bundle()).unwrap();
    assert_eq!(mapped.delivery.items.len(), 4);
}

#[tokio::test]
async fn mutated_bundles_posted_to_the_feed_never_get_a_5xx() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let server = support::spawn(server::config::SettingsArgs::default()).await;
    let (token, credential_hash) = server::credentials::new_credential();
    server
        .storage
        .create_organisation(app::server::storage::NewOrganisation {
            ods_code: app::domain::OdsCode::parse("RXX").unwrap(),
            name: "Lab".into(),
            kind: app::records::OrganisationKind::HospitalTrust,
            credential_hash,
            at: support::test_now(),
        })
        .await
        .unwrap();
    let client = support::http_client();
    let mut runner = TestRunner::deterministic();
    let strategy = mutated();
    for _ in 0..300 {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let response = client
            .post(server.url("/fhir"))
            .bearer_auth(&token)
            .header("content-type", "application/fhir+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 500,
            "{} for {body}",
            response.status()
        );
    }
}
