//! Proxy access: invitations, grants, their history and the session's choice of record.

use super::*;
use app::proxy::rules::{GrantState, InvitationState, ProxyBasisKind, Scope};

pub(crate) async fn person(
    s: &dyn Storage,
    subject: &str,
    nhs_number: &str,
    given: &str,
) -> Account {
    let patient = s
        .find_or_create_patient(&nhs(nhs_number), at(1, 9))
        .await
        .unwrap();
    s.record_sign_in(NewSignIn {
        issuer: "https://auth.login.nhs.uk".into(),
        subject: subject.into(),
        role: AccountRole::Patient,
        identity_level: Some("P9".into()),
        patient_id: Some(patient.id),
        given_name: Some(given.into()),
        family_name: Some("Hart".into()),
        birth_date: Some("1982-01-30".into()),
        at: at(2, 9),
        request_id: None,
    })
    .await
    .unwrap()
}

pub(crate) fn audit_row(
    account: &Account,
    patient: PatientId,
    what: &'static str,
) -> NewAuditEvent {
    NewAuditEvent {
        actor_account: Some(account.id),
        patient: Some(patient),
        ..NewAuditEvent::new(at(3, 9), ActorKind::Patient, what)
    }
}

pub(crate) fn by(account: &Account, kind: ActorKind) -> GrantDecisionBy {
    GrantDecisionBy {
        actor_kind: kind,
        actor_account: Some(account.id),
        decision_maker: None,
        reason: None,
    }
}

pub(crate) async fn an_invitation_is_accepted_once_into_a_grant_with_its_history(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let daniel = person(s, "sub-daniel", PATIENT_B, "Daniel").await;
    let patient = amelia.patient_id.unwrap();
    assert_eq!(daniel.given_name.as_deref(), Some("Daniel"));
    let scope = Scope {
        letters: true,
        ..Scope::default()
    };
    let public_id = s
        .create_invitation(
            NewInvitation {
                patient,
                invited_by: amelia.id,
                given_name: "Daniel".into(),
                family_name: "Hart".into(),
                birth_date: chrono::NaiveDate::from_ymd_opt(1982, 1, 30).unwrap(),
                relationship: "husband".into(),
                email: None,
                code_hash: "hash-1".into(),
                scope: scope.clone(),
                ends_at: None,
                created_at: at(3, 9),
                expires_at: at(17, 9),
            },
            audit_row(&amelia, patient, action::PROXY_INVITED),
        )
        .await
        .unwrap();
    let listed = s.list_invitations(patient).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].public_id, public_id);
    assert_eq!(listed[0].state(), InvitationState::Pending);
    let found = s.find_invitation_by_code("hash-1").await.unwrap().unwrap();
    assert_eq!(found.invitation.given_name, "Daniel");
    assert!(s.find_invitation_by_code("hash-2").await.unwrap().is_none());

    let new_grant = NewGrant {
        patient,
        proxy: daniel.id,
        basis: ProxyBasisKind::Consent,
        relationship: "husband".into(),
        scope: scope.clone(),
        starts_at: at(4, 9),
        ends_at: None,
        evidence_reference: None,
    };
    let record = s
        .accept_invitation(
            "hash-1",
            new_grant.clone(),
            by(&daniel, ActorKind::Proxy),
            at(4, 9),
            audit_row(&daniel, patient, action::PROXY_INVITATION_ACCEPTED),
        )
        .await
        .unwrap();
    assert_eq!(record.grant.proxy, daniel.id);
    assert_eq!(record.grant.scope, scope);
    assert_eq!(record.grant.state, GrantState::Active);
    assert_eq!(record.proxy_name.display_or("?"), "Daniel Hart");
    assert_eq!(record.grant.last_used_at, None);
    // Accepting the same code again is a conflict, and so is a second live grant.
    assert!(matches!(
        s.accept_invitation(
            "hash-1",
            new_grant,
            by(&daniel, ActorKind::Proxy),
            at(4, 10),
            audit_row(&daniel, patient, action::PROXY_INVITATION_ACCEPTED),
        )
        .await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        s.list_invitations(patient).await.unwrap()[0].state(),
        InvitationState::Accepted
    );
    assert_eq!(s.grants_for_patient(patient).await.unwrap().len(), 1);
    assert_eq!(s.grants_for_proxy(daniel.id).await.unwrap().len(), 1);
    assert!(s.grants_for_proxy(amelia.id).await.unwrap().is_empty());

    // A proxy read is the grant's last use.
    s.append_audit(NewAuditEvent {
        actor_account: Some(daniel.id),
        patient: Some(patient),
        ..NewAuditEvent::new(at(5, 9), ActorKind::Proxy, action::RECORD_VIEWED)
    })
    .await
    .unwrap();
    let found = s
        .find_grant(&record.grant.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.grant.last_used_at, Some(at(5, 9)));
    // Anything else the person does about the patient (applying, choosing) is not a
    // use: it must never make a lapsed grant look used.
    s.append_audit(NewAuditEvent {
        actor_account: Some(daniel.id),
        patient: Some(patient),
        ..NewAuditEvent::new(at(6, 9), ActorKind::Proxy, action::PROXY_APPLIED)
    })
    .await
    .unwrap();
    let unchanged = s
        .find_grant(&record.grant.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.grant.last_used_at, Some(at(5, 9)));

    // Changes are kept in the history; revocation is final.
    let change = |from_state, state, event| GrantChange {
        from_state,
        grant: record.grant.id,
        state,
        basis: ProxyBasisKind::Consent,
        scope: Scope::all_sections(),
        ends_at: Some(at(30, 9)),
        at: at(6, 9),
        event,
        by: by(&amelia, ActorKind::Patient),
        audit: audit_row(&amelia, patient, action::PROXY_GRANT_CHANGED),
    };
    let changed = s
        .change_grant(change(
            GrantState::Active,
            GrantState::Suspended,
            "suspended",
        ))
        .await
        .unwrap();
    assert_eq!(changed.grant.state, GrantState::Suspended);
    assert_eq!(changed.grant.ends_at, Some(at(30, 9)));
    // A change decided on a state that has changed meanwhile is refused, so two
    // changes made at once cannot undo each other.
    assert!(matches!(
        s.change_grant(change(GrantState::Active, GrantState::Active, "changed"))
            .await,
        Err(StorageError::Conflict(_))
    ));
    s.change_grant(change(
        GrantState::Suspended,
        GrantState::Revoked,
        "revoked",
    ))
    .await
    .unwrap();
    assert!(matches!(
        s.change_grant(change(GrantState::Revoked, GrantState::Active, "resumed"))
            .await,
        Err(StorageError::Conflict(_))
    ));
    let history = s.grant_history(record.grant.id).await.unwrap();
    let events: Vec<&str> = history.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, vec!["accepted", "suspended", "revoked"]);
    assert_eq!(history[2].state, GrantState::Revoked);
    // Every decision is on the patient's audit trail.
    let trail = s.list_audit_events(patient, 100).await.unwrap();
    for code in [
        action::PROXY_INVITED,
        action::PROXY_INVITATION_ACCEPTED,
        action::PROXY_GRANT_CHANGED,
    ] {
        assert!(trail.iter().any(|e| e.action == code), "{code}");
    }
}

pub(crate) async fn a_pending_invitation_is_withdrawn_only_by_its_patient(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let other = person(s, "sub-other", PATIENT_B, "Other").await;
    let patient = amelia.patient_id.unwrap();
    let public_id = s
        .create_invitation(
            NewInvitation {
                patient,
                invited_by: amelia.id,
                given_name: "Grace".into(),
                family_name: "Okafor".into(),
                birth_date: chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap(),
                relationship: "friend".into(),
                email: Some("grace@example.com".into()),
                code_hash: "hash-w".into(),
                scope: Scope::all_sections(),
                ends_at: None,
                created_at: at(3, 9),
                expires_at: at(17, 9),
            },
            audit_row(&amelia, patient, action::PROXY_INVITED),
        )
        .await
        .unwrap();
    let wrong_patient = other.patient_id.unwrap();
    assert!(matches!(
        s.withdraw_invitation(
            wrong_patient,
            &public_id,
            at(4, 9),
            audit_row(&other, wrong_patient, action::PROXY_INVITATION_WITHDRAWN)
        )
        .await,
        Err(StorageError::NotFound)
    ));
    s.withdraw_invitation(
        patient,
        &public_id,
        at(4, 9),
        audit_row(&amelia, patient, action::PROXY_INVITATION_WITHDRAWN),
    )
    .await
    .unwrap();
    assert_eq!(
        s.list_invitations(patient).await.unwrap()[0].state(),
        InvitationState::Withdrawn
    );
    assert!(matches!(
        s.accept_invitation(
            "hash-w",
            NewGrant {
                patient,
                proxy: other.id,
                basis: ProxyBasisKind::Consent,
                relationship: "friend".into(),
                scope: Scope::all_sections(),
                starts_at: at(5, 9),
                ends_at: None,
                evidence_reference: None,
            },
            by(&other, ActorKind::Proxy),
            at(5, 9),
            audit_row(&other, patient, action::PROXY_INVITATION_ACCEPTED),
        )
        .await,
        Err(StorageError::Conflict(_))
    ));
}

pub(crate) async fn a_session_remembers_whose_record_it_reads(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let daniel = person(s, "sub-daniel", PATIENT_B, "Daniel").await;
    let patient = amelia.patient_id.unwrap();
    let record = s
        .create_grant(
            NewGrant {
                patient,
                proxy: daniel.id,
                basis: ProxyBasisKind::LastingPowerOfAttorney,
                relationship: "husband".into(),
                scope: Scope::all_sections(),
                starts_at: at(3, 9),
                ends_at: None,
                evidence_reference: Some("LPA 7000-1234-5678".into()),
            },
            "granted",
            by(&daniel, ActorKind::Staff),
            at(3, 9),
            audit_row(&daniel, patient, action::PROXY_GRANTED),
        )
        .await
        .unwrap();
    assert_eq!(
        record.evidence_reference.as_deref(),
        Some("LPA 7000-1234-5678")
    );
    s.create_session(NewSession {
        id_hash: "session-d".into(),
        account_id: daniel.id,
        audience: SessionAudience::Patient,
        csrf_token: "csrf".into(),
        created_at: at(4, 9),
        absolute_expires_at: at(4, 21),
    })
    .await
    .unwrap();
    let (session, _) = s.find_session("session-d").await.unwrap().unwrap();
    assert_eq!(session.acting_for, None);
    s.set_acting_for("session-d", Some(record.grant.id), None)
        .await
        .unwrap();
    let (session, account) = s.find_session("session-d").await.unwrap().unwrap();
    assert_eq!(session.acting_for, Some(record.grant.id));
    assert_eq!(account.given_name.as_deref(), Some("Daniel"));
    assert_eq!(
        s.find_grant_by_id(record.grant.id)
            .await
            .unwrap()
            .unwrap()
            .grant
            .public_id,
        record.grant.public_id
    );
    s.set_acting_for("session-d", None, None).await.unwrap();
    assert_eq!(
        s.find_session("session-d")
            .await
            .unwrap()
            .unwrap()
            .0
            .acting_for,
        None
    );
    assert!(matches!(
        s.set_acting_for("no-such-session", None, None).await,
        Err(StorageError::NotFound)
    ));
}
