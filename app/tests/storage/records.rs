//! Reading a patient's record: patients from deliveries, every item with its labels and
//! relations, query filters, the page read with its rules and sources, and item versions.

use super::*;
use crate::feed::report;

pub(crate) async fn patients_are_created_from_deliveries_and_found_by_nhs_number(db: &TestDb) {
    let s = db.storage.as_ref();
    let gp = organisation(s, "Y09001", "h").await;
    let mut d = delivery(
        &gp,
        at(5, 9),
        vec![appointment(PATIENT_B, "apt-1", at(9, 9))],
    );
    d.patients.push(NewPatient {
        nhs_number: nhs(PATIENT_A),
        family_name: Some("Hart".into()),
        given_name: Some("Amelia".into()),
        birth_date: Some("1984-06-12".into()),
        gender: Some("female".into()),
    });
    s.apply_delivery(d).await.unwrap();

    let amelia = s
        .find_patient_by_nhs_number(&nhs(PATIENT_A))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(amelia.family_name.as_deref(), Some("Hart"));
    assert_eq!(
        s.find_patient(amelia.id).await.unwrap(),
        Some(amelia.clone())
    );
    // Known only from an item's subject: the record starts without demographics.
    let b = s
        .find_patient_by_nhs_number(&nhs(PATIENT_B))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.family_name, None);
    assert_eq!(
        s.find_patient(PatientId(b.id.0 + amelia.id.0 + 100))
            .await
            .unwrap(),
        None
    );

    // A later delivery without a name does not erase the one we have.
    let mut update = delivery(&gp, at(6, 9), Vec::new());
    update.patients.push(NewPatient {
        nhs_number: nhs(PATIENT_A),
        family_name: None,
        given_name: None,
        birth_date: None,
        gender: Some("female".into()),
    });
    s.apply_delivery(update).await.unwrap();
    assert_eq!(
        s.find_patient(amelia.id)
            .await
            .unwrap()
            .unwrap()
            .family_name
            .as_deref(),
        Some("Hart")
    );
}

pub(crate) async fn a_patient_sees_only_their_own_visible_items_and_every_read_is_audited(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut sensitive = observation(PATIENT_A, "obs-hiv", "1", at(4, 9));
    sensitive.labels = vec![("HIV".into(), LabelOrigin::Sender)];
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-a", "1", at(4, 9)),
            observation(PATIENT_B, "obs-b", "2", at(4, 9)),
            sensitive,
        ],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let b = patient_id(s, PATIENT_B).await;
    let excluded = vec!["HIV".to_owned(), "SEX".to_owned()];

    // Every item of A's comes back, labels and all (the access decision hides the
    // labelled one); nothing of B's.
    let a_items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 9)))
        .await
        .unwrap();
    assert_eq!(a_items.len(), 2);
    assert!(a_items.iter().all(|i| i.patient_id == a));
    assert!(a_items.iter().any(|i| i.labels == ["HIV"]));
    let b_items = read_items(s, RecordQuery::for_patient(b), patient_view(b, at(6, 9)))
        .await
        .unwrap();
    assert_eq!(b_items.len(), 1);
    assert_eq!(b_items[0].patient_id, b);

    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(trail.len(), 1, "{trail:#?}");
    assert_eq!(trail[0].at, at(6, 9));
    assert_eq!(trail[0].outcome, AuditOutcome::Allowed);
    assert!(
        trail
            .iter()
            .all(|e| e.action == action::RECORD_VIEWED && e.patient == Some(a))
    );
    assert_eq!(s.list_audit_events(b, 10).await.unwrap().len(), 1);

    // The sender can be told how many of its items are never shown; nobody else sees them.
    let counts = s.count_labelled_items_by_sender(&excluded).await.unwrap();
    assert_eq!(counts, [(lab.id, 1)]);
    assert!(
        s.count_labelled_items_by_sender(&[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.count_labelled_items_by_sender(&["SEX".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn record_queries_filter_by_kind_source_and_date(db: &TestDb) {
    let s = db.storage.as_ref();
    let hospital = organisation(s, "RXX", "h1").await;
    let gp = organisation(s, "Y09001", "h2").await;
    s.apply_delivery(delivery(
        &hospital,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-1", "1", at(2, 9)),
            appointment(PATIENT_A, "apt-1", at(20, 9)),
        ],
    ))
    .await
    .unwrap();
    s.apply_delivery(delivery(
        &gp,
        at(5, 9),
        vec![appointment(PATIENT_A, "apt-2", at(10, 9))],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let view = || patient_view(a, at(6, 9));

    let all = read_items(s, RecordQuery::for_patient(a), view())
        .await
        .unwrap();
    let order: Vec<_> = all.iter().map(|i| i.occurred_at).collect();
    assert_eq!(
        order,
        [Some(at(20, 9)), Some(at(10, 9)), Some(at(2, 9))],
        "newest first"
    );
    // The whole record (no limit) is read without an ORDER BY and sorted afterwards:
    // the same order.
    let whole = read_items(
        s,
        RecordQuery {
            limit: u32::MAX,
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    let whole_order: Vec<_> = whole.iter().map(|i| i.occurred_at).collect();
    assert_eq!(whole_order, order, "the whole record, newest first");

    let appointments = read_items(
        s,
        RecordQuery {
            kinds: vec![RecordKind::Appointment],
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(appointments.len(), 2);
    let from_gp = read_items(
        s,
        RecordQuery {
            source: Some(gp.id),
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(from_gp.len(), 1);
    assert_eq!(from_gp[0].source_name, "Organisation Y09001");
    let window = read_items(
        s,
        RecordQuery {
            occurred_from: Some(at(3, 0)),
            occurred_before: Some(at(15, 0)),
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(window.len(), 1);
    let limited = read_items(
        s,
        RecordQuery {
            limit: 1,
            ..RecordQuery::for_patient(a)
        },
        view(),
    )
    .await
    .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(
        limited[0].occurred_at,
        Some(at(20, 9)),
        "a limit keeps the newest"
    );
    let nobody = read_items(s, RecordQuery::default(), view()).await;
    assert!(
        matches!(nobody, Err(StorageError::NotFound)),
        "a query must name a patient"
    );
}

pub(crate) async fn a_page_read_brings_the_items_the_rules_in_force_and_every_source_with_one_audit_row(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let gp = organisation(s, "A81001", "g").await;
    let mut sensitive = observation(PATIENT_A, "obs-hiv", "1", at(4, 9));
    sensitive.labels = vec![("HIV".into(), LabelOrigin::Sender)];
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-a", "1", at(4, 9)),
            appointment(PATIENT_A, "appt-a", at(7, 9)),
            observation(PATIENT_B, "obs-b", "2", at(4, 9)),
            sensitive,
        ],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let query = RecordQuery {
        kinds: vec![RecordKind::Observation],
        ..RecordQuery::for_patient(a)
    };

    // Before any rule set is saved the read says so (the caller then holds every result).
    let read = s
        .read_record(query.clone(), patient_view(a, at(6, 9)))
        .await
        .unwrap();
    assert_eq!(read.rules, None);
    // A's own observations, the labelled one too (the access decision hides it), not
    // B's, not the appointment.
    assert_eq!(read.items.len(), 2);
    assert!(
        read.items
            .iter()
            .all(|i| i.patient_id == a && i.kind == RecordKind::Observation)
    );
    let mut codes: Vec<_> = read
        .organisations
        .iter()
        .map(|o| o.ods_code.as_str().to_owned())
        .collect();
    codes.sort();
    assert_eq!(codes, ["A81001", "RXX"], "every source, with its freshness");
    assert!(read.organisations.iter().any(|o| o.id == gp.id));
    let lab_now = read.organisations.iter().find(|o| o.id == lab.id).unwrap();
    assert_eq!(lab_now.last_received_at, Some(at(5, 9)));

    let rules = vec![release_rule("lab", Some("LAB"), ReleasePolicy::Immediately)];
    let change = NewAuditEvent::new(at(6, 8), ActorKind::System, action::RELEASE_RULES_CHANGED);
    let version = s
        .save_release_rules(&rules, "configuration", change)
        .await
        .unwrap();
    let read = s
        .read_record(query, patient_view(a, at(6, 10)))
        .await
        .unwrap();
    let in_force = read.rules.unwrap();
    assert_eq!((in_force.version, in_force.rules), (version, rules));

    // Each read wrote its own audit row.
    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(trail.len(), 2, "{trail:#?}");
    assert!(
        trail
            .iter()
            .all(|e| e.action == action::RECORD_VIEWED && e.patient == Some(a))
    );
    assert_eq!(trail[0].at, at(6, 10));
}

pub(crate) async fn item_versions_are_kept_raw_and_only_for_their_sender(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h1").await;
    let other = organisation(s, "Y09001", "h2").await;
    let created = s
        .apply_delivery(delivery(
            &lab,
            at(5, 9),
            vec![observation(PATIENT_A, "obs-1", "4.50", at(4, 9))],
        ))
        .await
        .unwrap();
    s.apply_delivery(delivery(
        &lab,
        at(5, 10),
        vec![observation(PATIENT_A, "obs-1", "4.60", at(4, 9))],
    ))
    .await
    .unwrap();
    let versions = s
        .list_item_versions(lab.id, &created[0].public_id)
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        versions[0].raw_resource.contains("4.50"),
        "decimals stay as written"
    );
    assert_eq!(versions[1].received_at, at(5, 10));
    assert!(
        s.list_item_versions(other.id, &created[0].public_id)
            .await
            .unwrap()
            .is_empty()
    );

    let key = observation(PATIENT_A, "obs-1", "4.60", at(4, 9)).key;
    assert_eq!(
        s.find_item_by_key(lab.id, &key).await.unwrap(),
        Some(created[0].public_id.clone())
    );
    assert_eq!(
        s.find_item_by_key(other.id, &key).await.unwrap(),
        None,
        "only the sender's own"
    );
}

/// How an item is linked to its relatives and whether it was entered in error come back
/// exactly as written, through every version.
pub(crate) async fn relations_and_the_entered_in_error_mark_are_kept_and_read_back(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut result = observation(PATIENT_A, "obs-r", "1", at(4, 9));
    result.relations.belongs_to = vec!["ServiceRequest/sr-1".to_owned()];
    let mut report = report(PATIENT_A, "rep-r", at(4, 9));
    report.relations = Relations {
        known_as: vec!["DiagnosticReport/rep-r".to_owned()],
        members: vec!["Observation|https://lab.example/id|obs-r".to_owned()],
        belongs_to: vec!["ServiceRequest/sr-1".to_owned()],
    };
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![result.clone(), report.clone()],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 9)))
        .await
        .unwrap();
    let stored = |kind| items.iter().find(|i| i.kind == kind).unwrap().clone();
    assert_eq!(stored(RecordKind::Observation).relations, result.relations);
    assert_eq!(
        stored(RecordKind::DiagnosticReport).relations,
        report.relations
    );
    assert!(!stored(RecordKind::Observation).entered_in_error);

    // A new version replaces the links (the sender's latest word on them).
    let mut amended = result.clone();
    amended.relations.belongs_to.clear();
    amended.entered_in_error = true;
    amended.content_sha256 = "hash-amended".into();
    s.apply_delivery(delivery(&lab, at(5, 10), vec![amended.clone()]))
        .await
        .unwrap();
    let items = read_items(s, RecordQuery::for_patient(a), patient_view(a, at(6, 10)))
        .await
        .unwrap();
    let again = items
        .iter()
        .find(|i| i.kind == RecordKind::Observation)
        .unwrap();
    assert_eq!(again.relations, amended.relations);
    assert!(again.entered_in_error);
}
