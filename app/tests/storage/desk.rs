//! The service desk console: look-ups, linked accounts and held feed items.

use super::proxy::person;
use super::*;

fn staff_row(what: &'static str) -> NewAuditEvent {
    NewAuditEvent::new(at(6, 9), ActorKind::Staff, what)
}

pub(crate) async fn a_lookup_opens_a_patient_to_its_own_agent_only(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let agent = person(s, "sub-agent", PATIENT_B, "Agent").await;
    let patient = amelia.patient_id.unwrap();
    let lookup = s
        .create_lookup(NewDeskLookup {
            agent: agent.id,
            patient,
            reason: "patient_contact".into(),
            at: at(6, 9),
            expires_at: at(6, 10),
            audit: staff_row(action::DESK_PATIENT_FOUND),
        })
        .await
        .unwrap();
    let found = s.find_lookup(&lookup, agent.id).await.unwrap().unwrap();
    assert_eq!(
        (found.patient, found.reason.as_str()),
        (patient, "patient_contact")
    );
    assert_eq!(found.expires_at, at(6, 10));
    assert_eq!(s.find_lookup(&lookup, amelia.id).await.unwrap(), None);
    assert_eq!(s.find_lookup("no-such", agent.id).await.unwrap(), None);
    let recent = s.list_recent_audit_events(1).await.unwrap();
    assert_eq!(recent[0].action, action::DESK_PATIENT_FOUND);
}

pub(crate) async fn an_unlinked_account_is_signed_out_and_relinked_by_its_next_sign_in(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let patient = amelia.patient_id.unwrap();
    s.create_session(NewSession {
        id_hash: "session-a".into(),
        account_id: amelia.id,
        audience: SessionAudience::Patient,
        csrf_token: "csrf".into(),
        created_at: at(6, 9),
        absolute_expires_at: at(6, 21),
    })
    .await
    .unwrap();
    let accounts = s.accounts_of_patient(patient).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, amelia.id);
    s.unlink_account(
        amelia.id,
        patient,
        amelia.id,
        "wrong match",
        staff_row(action::DESK_ACCOUNT_UNLINKED),
    )
    .await
    .unwrap();
    assert!(s.accounts_of_patient(patient).await.unwrap().is_empty());
    assert!(s.find_session("session-a").await.unwrap().is_none());
    assert!(matches!(
        s.unlink_account(
            amelia.id,
            patient,
            amelia.id,
            "again",
            staff_row(action::DESK_ACCOUNT_UNLINKED)
        )
        .await,
        Err(StorageError::Conflict(_))
    ));
    // The next sign-in links by NHS number again.
    person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    assert_eq!(s.accounts_of_patient(patient).await.unwrap().len(), 1);
}

pub(crate) async fn held_items_are_counted_paged_filtered_and_resolved_once(db: &TestDb) {
    let s = db.storage.as_ref();
    let agent = person(s, "sub-agent", PATIENT_B, "Agent").await.id;
    let lab = organisation(s, "RXX", "h1").await;
    let gp = organisation(s, "A81001", "h2").await;
    let mut from_lab = delivery(&lab, at(5, 9), Vec::new());
    from_lab.held = vec![held("first"), held("second"), held("third")];
    s.apply_delivery(from_lab).await.unwrap();
    let mut from_gp = delivery(&gp, at(5, 10), Vec::new());
    from_gp.held = vec![held("gp")];
    s.apply_delivery(from_gp).await.unwrap();

    let everything = s
        .held_resources(HeldQuery {
            limit: 2,
            ..HeldQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(everything.total, 4);
    assert_eq!(everything.items.len(), 2);
    let second_page = s
        .held_resources(HeldQuery {
            offset: 2,
            limit: 2,
            ..HeldQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(second_page.items[1].reason, "gp");
    let gp_only = s
        .held_resources(HeldQuery {
            sender: Some(gp.id),
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!((gp_only.total, gp_only.items.len()), (1, 1));

    // Matched: the item goes in as its sender's delivery, received when it first came.
    let first = everything.items[0].clone();
    let patient = s
        .find_or_create_patient(&nhs(PATIENT_A), at(1, 9))
        .await
        .unwrap();
    let mut matched = delivery(
        &lab,
        first.received_at,
        vec![observation(PATIENT_A, "held-1", "4.5", at(4, 9))],
    );
    matched.request_id = None;
    s.resolve_held_resource(ResolveHeld {
        public_id: first.public_id.clone(),
        resolution: HeldResolution::Matched {
            patient: patient.id,
            delivery: Box::new(matched),
        },
        by: agent,
        reason: "Checked with the lab by phone".into(),
        at: at(6, 9),
        audit: staff_row(action::DESK_HELD_ITEM_MATCHED),
    })
    .await
    .unwrap();
    let resolved = s
        .find_held_resource(&first.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolved.resolution.as_deref(), Some("matched"));
    let items = read_items(
        s,
        RecordQuery::for_patient(patient.id),
        patient_view(patient.id, at(6, 11)),
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 1);
    // Once only.
    assert!(matches!(
        s.resolve_held_resource(ResolveHeld {
            public_id: first.public_id.clone(),
            resolution: HeldResolution::Returned,
            by: agent,
            reason: "again".into(),
            at: at(6, 10),
            audit: staff_row(action::DESK_HELD_ITEM_RETURNED),
        })
        .await,
        Err(StorageError::Conflict(_))
    ));
    let second = everything.items[1].clone();
    s.resolve_held_resource(ResolveHeld {
        public_id: second.public_id.clone(),
        resolution: HeldResolution::Returned,
        by: agent,
        reason: "Not our patient".into(),
        at: at(6, 10),
        audit: staff_row(action::DESK_HELD_ITEM_RETURNED),
    })
    .await
    .unwrap();
    let open = s
        .held_resources(HeldQuery {
            limit: 10,
            ..HeldQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(open.total, 2);
    assert!(open.items.iter().all(|h| h.resolution.is_none()));
}
