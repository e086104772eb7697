//! The demo data is realistic enough to click through: enough people, sources and kinds
//! of record, with results inside and outside their release delay, all loaded through
//! the same ingest path as the feed.
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;

use chrono::{Duration, TimeZone, Utc};

use app::domain::NhsNumber;
use app::records::{ItemDetails, ObservedValue, RecordKind};
use app::server::storage;
use server::demo;

#[tokio::test]
async fn the_demo_has_five_patients_three_kinds_of_source_and_every_kind_of_item() {
    let dir = tempfile::tempdir().unwrap();
    let store = storage::connect(&format!("sqlite://{}/demo.db", dir.path().display()))
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    let summary = demo::seed_demo(store.as_ref(), now, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.organisations, 3);

    let kinds: HashSet<_> = store
        .list_organisations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(
        kinds.len(),
        3,
        "a hospital trust, a GP practice and a community service"
    );

    let mut all_kinds = HashSet::new();
    for number in [
        demo::AMELIA,
        demo::OLIVER,
        demo::GRACE,
        demo::MOHAMMED,
        demo::SOPHIE,
    ] {
        let nhs = NhsNumber::parse(number).unwrap();
        assert!(nhs.is_test_range());
        let patient = store
            .find_patient_by_nhs_number(&nhs)
            .await
            .unwrap()
            .expect(number);
        let items = support::stored_items(store.as_ref(), patient.id).await;
        assert!(!items.is_empty(), "{number} has a record");
        all_kinds.extend(items.iter().map(|i| i.kind));
    }
    assert_eq!(all_kinds.len(), RecordKind::ALL.len(), "{all_kinds:?}");

    let amelia = store
        .find_patient_by_nhs_number(&NhsNumber::parse(demo::AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let items = support::stored_items(store.as_ref(), amelia.id).await;

    let appointments: Vec<_> = items
        .iter()
        .filter(|i| i.kind == RecordKind::Appointment)
        .collect();
    assert!(
        appointments.iter().any(|a| a.occurred_at > Some(now)),
        "a future appointment"
    );
    assert!(
        appointments.iter().any(|a| a.occurred_at < Some(now)),
        "a past appointment"
    );
    assert!(appointments.iter().any(|a| matches!(
        &a.details,
        ItemDetails::Appointment {
            cancellation_reason: Some(_),
            ..
        }
    )));

    // Blood tests repeated over time, with decimals as the laboratory wrote them.
    let haemoglobin = items
        .iter()
        .filter(|i| i.code.as_deref() == Some("718-7"))
        .count();
    assert!(haemoglobin >= 3, "haemoglobin measured {haemoglobin} times");
    assert!(items.iter().any(|i| matches!(&i.details,
        ItemDetails::Observation { value: Some(ObservedValue::Quantity { value, .. }), .. } if value == "11.20")));
    let observations_with_reports = items
        .iter()
        .filter(|i| i.kind == RecordKind::Observation && i.parent_public_id.is_some())
        .count();
    assert_eq!(
        observations_with_reports,
        items
            .iter()
            .filter(|i| i.kind == RecordKind::Observation)
            .count()
    );

    // Radiology: one issued more than 28 days ago, one still inside the delay.
    let imaging: Vec<_> = items
        .iter()
        .filter(|i| matches!(i.category.as_deref(), Some("RAD" | "NMR")))
        .collect();
    assert!(
        imaging
            .iter()
            .any(|r| r.issued_at.unwrap() < now - Duration::days(28))
    );
    assert!(
        imaging
            .iter()
            .any(|r| r.issued_at.unwrap() > now - Duration::days(28))
    );

    let documents: Vec<_> = items
        .iter()
        .filter(|i| i.kind == RecordKind::Document)
        .collect();
    assert!(documents.iter().any(|d| matches!(&d.details, ItemDetails::Document { attachments, .. } if attachments.iter().any(|a| a.content_type == "application/pdf"))));

    // The sexual health test is stored with its label (on the result, whose code is on
    // the list), and neither it nor its report is ever shown: the report is hidden as
    // the labelled result's relative.
    let labelled = store
        .count_labelled_items_by_sender(&app::privacy::excluded_labels())
        .await
        .unwrap();
    assert_eq!(
        labelled.iter().map(|(_, n)| n).sum::<u64>(),
        1,
        "the result"
    );
    let amelia = store
        .find_patient_by_nhs_number(&NhsNumber::parse(demo::AMELIA).unwrap())
        .await
        .unwrap()
        .unwrap();
    let shown = support::decided_for_patient(store.as_ref(), amelia.id, now).await;
    assert!(shown.items().iter().all(|d| !d.item.title.contains("Chlamydia")
        && !d.item.title.contains("Sexual health")));

    let grace = store
        .find_patient_by_nhs_number(&NhsNumber::parse(demo::GRACE).unwrap())
        .await
        .unwrap()
        .unwrap();
    let grace_items = support::stored_items(store.as_ref(), grace.id).await;
    assert!(grace_items.iter().any(|d| d.title == "Discharge summary"
        && matches!(&d.details, ItemDetails::Document { sections, .. } if sections.len() == 4)));
}

#[tokio::test]
async fn the_same_bundle_delivered_twice_changes_nothing_the_second_time() {
    use server::ingest::{Sender, ingest_bundle};
    let dir = tempfile::tempdir().unwrap();
    let store = storage::connect(&format!("sqlite://{}/twice.db", dir.path().display()))
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    demo::seed_demo(store.as_ref(), now, None).await.unwrap();
    let lab = store.list_organisations().await.unwrap().remove(0);
    let bundle = r#"{"resourceType":"Bundle","type":"transaction","entry":[
      {"fullUrl":"urn:uuid:p1","resource":{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"}]}},
      {"fullUrl":"urn:uuid:o1","resource":{"resourceType":"Observation","identifier":[{"system":"https://lab.example/id","value":"twice-1"}],
        "status":"final","code":{"text":"Sodium"},"subject":{"reference":"urn:uuid:p1"},"valueQuantity":{"value":140.0,"unit":"mmol/L"},
        "futureField":{"kept":true}}}]}"#;
    let sender = Sender {
        organisation: lab.id,
        received_at: now,
        request_id: None,
    };
    let first = ingest_bundle(
        store.as_ref(),
        &sender,
        &app::privacy::CodeList::default_list(),
        bundle,
    )
    .await
    .unwrap();
    let second = ingest_bundle(
        store.as_ref(),
        &sender,
        &app::privacy::CodeList::default_list(),
        bundle,
    )
    .await
    .unwrap();
    assert_eq!(first[0].version, second[0].version);
    assert_eq!(second[0].change, storage::ItemChange::Unchanged);
    let versions = store
        .list_item_versions(lab.id, &first[0].public_id)
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert!(
        versions[0].raw_resource.contains("\"value\":140.0"),
        "written precision kept"
    );
    assert!(
        versions[0].raw_resource.contains("futureField"),
        "unknown fields kept"
    );
}
