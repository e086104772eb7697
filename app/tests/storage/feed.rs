//! The feed's unit of work: deliveries applied all or nothing, versions, links between a
//! report and its results, held resources and attachments.

use super::*;

pub(crate) async fn a_delivery_creates_then_versions_then_leaves_identical_items_alone(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let first = s
        .apply_delivery(delivery(
            &lab,
            at(5, 9),
            vec![observation(PATIENT_A, "obs-1", "11.20", at(4, 9))],
        ))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].version, &first[0].change),
        (1, &ItemChange::Created)
    );

    let same = s
        .apply_delivery(delivery(
            &lab,
            at(5, 10),
            vec![observation(PATIENT_A, "obs-1", "11.20", at(4, 9))],
        ))
        .await
        .unwrap();
    assert_eq!(
        same[0],
        ItemOutcome {
            public_id: first[0].public_id.clone(),
            version: 1,
            change: ItemChange::Unchanged
        }
    );

    let changed = s
        .apply_delivery(delivery(
            &lab,
            at(5, 11),
            vec![observation(PATIENT_A, "obs-1", "11.30", at(4, 9))],
        ))
        .await
        .unwrap();
    assert_eq!(
        changed[0],
        ItemOutcome {
            public_id: first[0].public_id.clone(),
            version: 2,
            change: ItemChange::Updated
        }
    );

    let patient = patient_id(s, PATIENT_A).await;
    let items = read_items(
        s,
        RecordQuery::for_patient(patient),
        patient_view(patient, at(6, 9)),
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].version, 2);
    assert_eq!(items[0].first_received_at, at(5, 9));
    assert_eq!(items[0].last_received_at, at(5, 11));
    match &items[0].details {
        ItemDetails::Observation {
            value: Some(ObservedValue::Quantity { value, .. }),
            ..
        } => assert_eq!(value, "11.30"),
        other => panic!("unexpected details {other:?}"),
    }

    // Entered in error: kept and marked (the access decision hides it).
    let mut withdrawn = observation(PATIENT_A, "obs-1", "11.30", at(4, 9));
    withdrawn.entered_in_error = true;
    withdrawn.status = "entered-in-error".into();
    withdrawn.content_sha256 = "hash-withdrawn".into();
    s.apply_delivery(delivery(&lab, at(5, 12), vec![withdrawn]))
        .await
        .unwrap();
    let marked = read_items(
        s,
        RecordQuery::for_patient(patient),
        patient_view(patient, at(6, 9)),
    )
    .await
    .unwrap();
    assert_eq!(marked.len(), 1);
    assert!(marked[0].entered_in_error);
    assert_eq!(
        s.list_item_versions(lab.id, &first[0].public_id)
            .await
            .unwrap()
            .len(),
        3
    );
}

pub(crate) async fn a_failed_delivery_leaves_nothing_behind(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut bad = delivery(
        &lab,
        at(5, 9),
        vec![
            observation(PATIENT_A, "obs-1", "1", at(4, 9)),
            observation(PATIENT_B, "obs-2", "2", at(4, 9)),
        ],
    );
    bad.patients.push(NewPatient {
        nhs_number: nhs(PATIENT_A),
        family_name: Some("Hart".into()),
        given_name: None,
        birth_date: None,
        gender: None,
    });
    // An unknown sender breaks a foreign key half way through.
    bad.sender = OrganisationId(lab.id.0 + 1000);
    assert!(s.apply_delivery(bad).await.is_err());
    assert_eq!(
        s.find_patient_by_nhs_number(&nhs(PATIENT_A)).await.unwrap(),
        None
    );
    assert_eq!(
        s.find_patient_by_nhs_number(&nhs(PATIENT_B)).await.unwrap(),
        None
    );
    assert_eq!(
        s.find_organisation_by_ods_code(&lab.ods_code)
            .await
            .unwrap()
            .unwrap()
            .last_received_at,
        None
    );
}

/// Deliveries sent at the same moment (which SQLite commits as a group) each get their
/// own answer: one that fails leaves nothing behind and takes nothing of the others
/// with it.
pub(crate) async fn deliveries_arriving_together_are_each_applied_or_refused_on_their_own(
    db: &TestDb,
) {
    let lab = organisation(db.storage.as_ref(), "RXX", "h").await;
    let mut sends = Vec::new();
    for n in 0..12 {
        let mut one = delivery(
            &lab,
            at(5, 9),
            vec![observation(
                PATIENT_A,
                &format!("together-{n}"),
                "1",
                at(4, 9),
            )],
        );
        if n == 5 {
            // An unknown sender breaks a foreign key: this one alone must fail.
            one.sender = OrganisationId(lab.id.0 + 1000);
        }
        let storage = db.storage.clone();
        sends.push(tokio::spawn(
            async move { storage.apply_delivery(one).await },
        ));
    }
    let mut answers = Vec::new();
    for send in sends {
        answers.push(send.await.unwrap());
    }
    for (n, answer) in answers.iter().enumerate() {
        if n == 5 {
            assert!(answer.is_err(), "delivery {n} had an unknown sender");
        } else {
            let outcomes = answer.as_ref().unwrap();
            assert_eq!(outcomes.len(), 1);
            assert_eq!(outcomes[0].change, ItemChange::Created, "delivery {n}");
            assert_eq!(outcomes[0].version, 1);
        }
    }
    let key = |n: usize| ItemKey {
        resource_type: "Observation".into(),
        identifier_system: "https://lab.example/id".into(),
        identifier_value: format!("together-{n}"),
    };
    for n in 0..12 {
        let found = db.storage.find_item_by_key(lab.id, &key(n)).await.unwrap();
        assert_eq!(found.is_some(), n != 5, "item {n}");
    }
}

pub(crate) fn report(patient: &str, id: &str, occurred: DateTime<Utc>) -> NewRecordItem {
    NewRecordItem {
        key: ItemKey {
            resource_type: "DiagnosticReport".into(),
            identifier_system: "https://lab.example/id".into(),
            identifier_value: id.into(),
        },
        kind: RecordKind::DiagnosticReport,
        title: "Full blood count".into(),
        category: Some("LAB".into()),
        raw_resource: format!(r#"{{"resourceType":"DiagnosticReport","id":"{id}"}}"#),
        content_sha256: format!("hash-of-report-{id}"),
        ..observation(patient, id, "0", occurred)
    }
}

pub(crate) fn result_of(report: &NewRecordItem, item: NewRecordItem) -> NewRecordItem {
    NewRecordItem {
        parent: Some(report.key.clone()),
        ..item
    }
}

/// A result names its report by key: sent in the same delivery (before or after it) or
/// stored earlier, it is linked; a report never sent leaves it unlinked. A resource sent
/// twice in one delivery is applied in order: the second copy is a new version.
pub(crate) async fn results_find_their_report_and_a_resource_sent_twice_in_one_delivery_is_versioned(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let earlier = report(PATIENT_A, "rep-earlier", at(3, 9));
    let earlier_id = s
        .apply_delivery(delivery(&lab, at(3, 10), vec![earlier.clone()]))
        .await
        .unwrap()[0]
        .public_id
        .clone();

    let same = report(PATIENT_A, "rep-same", at(4, 9));
    let late = report(PATIENT_A, "rep-late", at(4, 9));
    let never = report(PATIENT_A, "rep-never", at(4, 9));
    let first_copy = observation(PATIENT_A, "obs-twice", "130", at(4, 9));
    let second_copy = observation(PATIENT_A, "obs-twice", "131", at(4, 9));
    let outcomes = s
        .apply_delivery(delivery(
            &lab,
            at(4, 10),
            vec![
                same.clone(),
                result_of(&same, observation(PATIENT_A, "obs-same", "1", at(4, 9))),
                result_of(
                    &earlier,
                    observation(PATIENT_A, "obs-earlier", "2", at(4, 9)),
                ),
                result_of(&late, observation(PATIENT_A, "obs-late", "3", at(4, 9))),
                late.clone(),
                result_of(&never, observation(PATIENT_A, "obs-never", "4", at(4, 9))),
                first_copy,
                second_copy,
            ],
        ))
        .await
        .unwrap();
    let changes: Vec<(ItemChange, i64)> = outcomes
        .iter()
        .map(|o| (o.change.clone(), o.version))
        .collect();
    assert_eq!(
        changes,
        vec![
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Created, 1),
            (ItemChange::Updated, 2),
        ]
    );
    assert_eq!(outcomes[6].public_id, outcomes[7].public_id);

    let items = read_items(
        s,
        RecordQuery::for_patient(patient_id(s, PATIENT_A).await),
        patient_view(patient_id(s, PATIENT_A).await, at(5, 9)),
    )
    .await
    .unwrap();
    let stored = |outcome: &ItemOutcome| {
        items
            .iter()
            .find(|i| i.public_id == outcome.public_id)
            .expect("every item is stored")
            .clone()
    };
    let parent_of = |n: usize| stored(&outcomes[n]).parent_public_id;
    assert_eq!(
        parent_of(1),
        Some(outcomes[0].public_id.clone()),
        "same delivery"
    );
    assert_eq!(parent_of(2), Some(earlier_id), "stored earlier");
    assert_eq!(
        parent_of(3),
        Some(outcomes[4].public_id.clone()),
        "sent after it"
    );
    assert_eq!(parent_of(5), None, "never sent");
    assert_eq!(stored(&outcomes[7]).version, 2);
    assert_eq!(
        s.list_item_versions(lab.id, &outcomes[7].public_id)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub(crate) async fn resources_without_an_identifiable_patient_are_held_exactly_as_received(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let mut d = delivery(
        &lab,
        at(5, 9),
        vec![observation(PATIENT_A, "obs-1", "1", at(4, 9))],
    );
    d.held = vec![
        held("the NHS number's check digit is wrong"),
        held("the patient is missing"),
    ];
    let outcomes = s.apply_delivery(d).await.unwrap();
    assert_eq!(outcomes.len(), 1, "held resources are not items");
    let queue = s.list_held_resources(10).await.unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0].reason, "the NHS number's check digit is wrong");
    assert_eq!(queue[0].sender, lab.id);
    assert_eq!(queue[0].received_at, at(5, 9));
    assert!(
        queue[0].raw_resource.contains("4.50"),
        "kept exactly as received"
    );
    assert_eq!(s.list_held_resources(1).await.unwrap().len(), 1);

    // A delivery that fails holds nothing either.
    let mut failing = delivery(
        &lab,
        at(6, 9),
        vec![observation(PATIENT_A, "obs-2", "1", at(4, 9))],
    );
    failing.held = vec![held("later")];
    failing.sender = OrganisationId(lab.id.0 + 1000);
    assert!(s.apply_delivery(failing).await.is_err());
    assert_eq!(s.list_held_resources(10).await.unwrap().len(), 2);
}

pub(crate) async fn attachments_are_stored_once_by_content_address(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let pdf = NewAttachment {
        sha256: "ab".repeat(32),
        content_type: "application/pdf".into(),
        content: b"%PDF-1.4 letter".to_vec(),
    };
    let mut letter = appointment(PATIENT_A, "doc-1", at(4, 9));
    letter.attachments = vec![pdf.clone()];
    let mut copy = appointment(PATIENT_A, "doc-2", at(4, 9));
    copy.attachments = vec![pdf.clone()];
    s.apply_delivery(delivery(&lab, at(5, 9), vec![letter, copy]))
        .await
        .unwrap();
    let stored = s.get_attachment(&pdf.sha256).await.unwrap().unwrap();
    assert_eq!(
        (stored.content_type.as_str(), stored.content.as_slice()),
        ("application/pdf", pdf.content.as_slice())
    );
    assert_eq!(s.get_attachment(&"cd".repeat(32)).await.unwrap(), None);
}
