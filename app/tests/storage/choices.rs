//! The patient's choices: leaving and coming back with the grants they change, and
//! objections to a source, read with the record.

use super::proxy::{audit_row, by, person};
use super::*;
use app::choices::rules::{Channel, Choice, PatientChoices};
use app::proxy::rules::{GrantState, ProxyBasisKind, Scope};

fn online(account: &Account) -> ChoiceBy {
    ChoiceBy {
        actor_kind: ActorKind::Patient,
        actor_account: Some(account.id),
        channel: Channel::Online,
        evidence_reference: None,
        reason: None,
    }
}

fn grant_change(
    record: &GrantRecord,
    from: GrantState,
    to: GrantState,
    event: &'static str,
    account: &Account,
    patient: PatientId,
) -> GrantChange {
    GrantChange {
        grant: record.grant.id,
        from_state: from,
        state: to,
        basis: record.grant.basis,
        scope: record.grant.scope.clone(),
        ends_at: None,
        at: at(6, 9),
        event,
        by: by(account, ActorKind::Patient),
        audit: audit_row(account, patient, action::PROXY_GRANT_SUSPENDED),
    }
}

pub(crate) async fn leaving_suspends_grants_in_one_transaction_and_coming_back_restores_those_chosen(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let daniel = person(s, "sub-daniel", PATIENT_B, "Daniel").await;
    let patient = amelia.patient_id.unwrap();
    let grant = s
        .create_grant(
            NewGrant {
                patient,
                proxy: daniel.id,
                basis: ProxyBasisKind::Consent,
                relationship: "husband".into(),
                scope: Scope::all_sections(),
                starts_at: at(3, 9),
                ends_at: None,
                evidence_reference: None,
            },
            "accepted",
            by(&daniel, ActorKind::Proxy),
            at(3, 9),
            audit_row(&daniel, patient, action::PROXY_INVITATION_ACCEPTED),
        )
        .await
        .unwrap();
    let leave = ChoiceChange {
        patient,
        choice: Choice::LeavePortal,
        expected: PatientChoices::none(),
        at: at(6, 9),
        by: online(&amelia),
        grant_changes: vec![grant_change(
            &grant,
            GrantState::Active,
            GrantState::Suspended,
            "suspended_left_portal",
            &amelia,
            patient,
        )],
        audit: audit_row(&amelia, patient, action::CHOICE_LEFT_PORTAL),
    };
    s.record_choice(leave.clone()).await.unwrap();
    let choices = s.patient_choices(patient).await.unwrap();
    assert_eq!(choices.left_portal_at, Some(at(6, 9)));
    let suspended = s.find_grant(&grant.grant.public_id).await.unwrap().unwrap();
    assert_eq!(suspended.grant.state, GrantState::Suspended);
    assert_eq!(
        s.grant_history(grant.grant.id)
            .await
            .unwrap()
            .last()
            .unwrap()
            .event,
        "suspended_left_portal"
    );
    // The record read carries the choices, for the access decision.
    let read = s
        .read_record(
            RecordQuery::for_patient(patient),
            patient_view(patient, at(6, 10)),
        )
        .await
        .unwrap();
    assert!(read.choices.has_left());

    // Decided on choices that have changed since: nothing is written.
    assert!(matches!(
        s.record_choice(leave).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(s.choice_history(patient).await.unwrap().len(), 1);

    let back = ChoiceChange {
        patient,
        choice: Choice::ReturnToPortal,
        expected: choices,
        at: at(7, 9),
        by: online(&amelia),
        grant_changes: vec![grant_change(
            &grant,
            GrantState::Suspended,
            GrantState::Active,
            "resumed",
            &amelia,
            patient,
        )],
        audit: audit_row(&amelia, patient, action::CHOICE_RETURNED),
    };
    s.record_choice(back).await.unwrap();
    assert_eq!(
        s.patient_choices(patient).await.unwrap(),
        PatientChoices::none()
    );
    assert_eq!(
        s.find_grant(&grant.grant.public_id)
            .await
            .unwrap()
            .unwrap()
            .grant
            .state,
        GrantState::Active
    );
    let history = s.choice_history(patient).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| e.choice.as_str())
            .collect::<Vec<_>>(),
        vec!["left_portal", "returned"]
    );
    let actions: Vec<String> = s
        .list_recent_audit_events(20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == action::CHOICE_LEFT_PORTAL));
    assert!(actions.iter().any(|a| a == action::CHOICE_RETURNED));
}

pub(crate) async fn objections_are_recorded_by_the_desk_read_with_the_record_and_withdrawn(
    db: &TestDb,
) {
    let s = db.storage.as_ref();
    let gp = organisation(s, "A81001", "h1").await;
    let lab = organisation(s, "RXX", "h2").await;
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let patient = amelia.patient_id.unwrap();
    let desk = ChoiceBy {
        actor_kind: ActorKind::Staff,
        actor_account: Some(amelia.id),
        channel: Channel::Post,
        evidence_reference: Some("LTR-0042".into()),
        reason: Some("Letter from the patient".into()),
    };
    for (org, expected) in [(gp.id, PatientChoices::none())] {
        s.record_choice(ChoiceChange {
            patient,
            choice: Choice::ObjectToSource(org),
            expected,
            at: at(6, 9),
            by: desk.clone(),
            grant_changes: Vec::new(),
            audit: audit_row(&amelia, patient, action::CHOICE_OBJECTED),
        })
        .await
        .unwrap();
    }
    let objecting = s.patient_choices(patient).await.unwrap();
    assert_eq!(objecting.objections, vec![gp.id]);
    assert!(!objecting.objects_to(lab.id));
    let read = s
        .read_record(
            RecordQuery::for_patient(patient),
            patient_view(patient, at(6, 10)),
        )
        .await
        .unwrap();
    assert_eq!(read.choices, objecting);
    let history = s.choice_history(patient).await.unwrap();
    assert_eq!(
        history[0].organisation_name.as_deref(),
        Some(gp.name.as_str())
    );
    assert_eq!(history[0].channel, Channel::Post);
    assert_eq!(history[0].evidence_reference.as_deref(), Some("LTR-0042"));
    assert_eq!(history[0].actor_kind, ActorKind::Staff);

    s.record_choice(ChoiceChange {
        patient,
        choice: Choice::WithdrawObjection(gp.id),
        expected: objecting,
        at: at(7, 9),
        by: online(&amelia),
        grant_changes: Vec::new(),
        audit: audit_row(&amelia, patient, action::CHOICE_OBJECTION_WITHDRAWN),
    })
    .await
    .unwrap();
    assert_eq!(
        s.patient_choices(patient).await.unwrap(),
        PatientChoices::none()
    );
}

pub(crate) async fn two_changes_made_at_once_apply_once(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let patient = amelia.patient_id.unwrap();
    let leave = || ChoiceChange {
        patient,
        choice: Choice::LeavePortal,
        expected: PatientChoices::none(),
        at: at(6, 9),
        by: online(&amelia),
        grant_changes: Vec::new(),
        audit: audit_row(&amelia, patient, action::CHOICE_LEFT_PORTAL),
    };
    let (first, second) = tokio::join!(s.record_choice(leave()), s.record_choice(leave()));
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "exactly one of two simultaneous leavings applies"
    );
    assert_eq!(s.choice_history(patient).await.unwrap().len(), 1);
}
