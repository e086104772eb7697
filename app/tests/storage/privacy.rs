//! Privacy labels of stored items follow the configured code list.

use super::*;

/// A code added to the privacy list labels items already stored (from their current
/// version), a code removed unlabels them, the sender's own labels stay, and each change
/// is applied once with its audit row.
pub(crate) async fn a_changed_code_list_relabels_what_is_stored_once_and_audited(db: &TestDb) {
    use app::privacy::{CodeList, CodeListEntry};
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut plain = observation(PATIENT_A, "obs-plain", "1", at(4, 9));
    plain.raw_resource = r#"{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]}}"#.to_owned();
    let mut flagged = observation(PATIENT_A, "obs-flagged", "1", at(4, 9));
    flagged.raw_resource = r#"{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"43304-5"}]}}"#.to_owned();
    flagged.labels = vec![("SEX".to_owned(), LabelOrigin::Sender)];
    s.apply_delivery(delivery(&lab, at(5, 9), vec![plain, flagged]))
        .await
        .unwrap();
    assert_eq!(s.applied_setting("privacy_code_list").await.unwrap(), None);

    let list = CodeList {
        entries: vec![CodeListEntry {
            system: "http://loinc.org".into(),
            code: "718-7".into(),
            label: "made-up-label".into(),
        }],
    };
    let audit = || {
        NewAuditEvent::new(
            at(6, 9),
            ActorKind::System,
            action::PRIVACY_LABELS_REAPPLIED,
        )
    };
    let changed = s
        .relabel_items(&list, "privacy_code_list", "v1", audit())
        .await
        .unwrap();
    assert_eq!(changed, 1, "only the haemoglobin result gets the new label");
    assert_eq!(
        s.applied_setting("privacy_code_list")
            .await
            .unwrap()
            .as_deref(),
        Some("v1")
    );
    let a = patient_id(s, PATIENT_A).await;
    let labels = |items: &[RecordItem], id: &str| {
        items
            .iter()
            .find(|i| {
                i.relations
                    .known_as
                    .contains(&format!("Observation|https://lab.example/id|{id}"))
            })
            .unwrap()
            .labels
            .clone()
    };
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 10)))
        .await
        .unwrap();
    assert_eq!(labels(&items, "obs-plain"), ["made-up-label"]);
    assert_eq!(
        labels(&items, "obs-flagged"),
        ["SEX"],
        "the sender's label stays"
    );

    // The same list again changes nothing; a list without the code takes the label off.
    assert_eq!(
        s.relabel_items(&list, "privacy_code_list", "v1", audit())
            .await
            .unwrap(),
        0
    );
    let changed = s
        .relabel_items(&CodeList::default(), "privacy_code_list", "v2", audit())
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 11)))
        .await
        .unwrap();
    assert!(labels(&items, "obs-plain").is_empty());
    let relabels: Vec<_> = s
        .list_recent_audit_events(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action::PRIVACY_LABELS_REAPPLIED)
        .collect();
    assert_eq!(relabels.len(), 3, "each application is audited");
}
