//! Accounts, sessions and sign-ins in progress.

use super::*;

pub(crate) async fn sign_in_creates_an_account_once_and_keeps_its_role(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    s.apply_delivery(delivery(
        &lab,
        at(5, 9),
        vec![observation(PATIENT_A, "obs-1", "1", at(4, 9))],
    ))
    .await
    .unwrap();
    let a = patient_id(s, PATIENT_A).await;
    let sign_in = NewSignIn {
        given_name: None,
        family_name: None,
        birth_date: None,
        issuer: "https://auth.login.nhs.uk".into(),
        subject: "sub-123".into(),
        role: AccountRole::Patient,
        identity_level: Some("P5".into()),
        patient_id: None,
        at: at(6, 9),
        request_id: None,
    };
    let first = s.record_sign_in(sign_in.clone()).await.unwrap();
    assert_eq!(first.patient_id, None);
    let uplifted = s
        .record_sign_in(NewSignIn {
            given_name: None,
            family_name: None,
            birth_date: None,
            identity_level: Some("P9".into()),
            patient_id: Some(a),
            at: at(7, 9),
            ..sign_in.clone()
        })
        .await
        .unwrap();
    assert_eq!(uplifted.id, first.id);
    assert_eq!(uplifted.patient_id, Some(a));
    assert_eq!(uplifted.identity_level.as_deref(), Some("P9"));
    assert_eq!(uplifted.created_at, at(6, 9));
    assert_eq!(uplifted.last_sign_in_at, Some(at(7, 9)));
    assert_eq!(
        uplifted.previous_sign_in_at,
        Some(at(6, 9)),
        "the visit before this one, for \"new since your last visit\""
    );

    let as_staff = s
        .record_sign_in(NewSignIn {
            given_name: None,
            family_name: None,
            birth_date: None,
            role: AccountRole::ServiceDesk,
            ..sign_in
        })
        .await;
    assert!(matches!(as_staff, Err(StorageError::Conflict(_))));
    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == action::SIGNED_IN)
            .count(),
        1,
        "the P9 sign-in is on the patient's trail"
    );
}

pub(crate) async fn sessions_are_created_found_touched_and_ended(db: &TestDb) {
    let s = db.storage.as_ref();
    let account = s
        .record_sign_in(NewSignIn {
            given_name: None,
            family_name: None,
            birth_date: None,
            issuer: "https://staff-idp.example".into(),
            subject: "agent-1".into(),
            role: AccountRole::ServiceDesk,
            identity_level: None,
            patient_id: None,
            at: at(6, 9),
            request_id: None,
        })
        .await
        .unwrap();
    let new = NewSession {
        id_hash: "session-hash".into(),
        account_id: account.id,
        audience: SessionAudience::Staff,
        csrf_token: "csrf".into(),
        created_at: at(6, 9),
        absolute_expires_at: at(6, 21),
    };
    s.create_session(new.clone()).await.unwrap();
    assert!(matches!(
        s.create_session(new).await,
        Err(StorageError::Conflict(_))
    ));
    let (found, owner) = s.find_session("session-hash").await.unwrap().unwrap();
    assert_eq!(
        (
            found.audience,
            found.last_seen_at,
            found.absolute_expires_at
        ),
        (SessionAudience::Staff, at(6, 9), at(6, 21))
    );
    // The session comes with its account, as the account itself reads.
    assert_eq!(owner, account);
    s.touch_session("session-hash", at(6, 10)).await.unwrap();
    assert_eq!(
        s.find_session("session-hash")
            .await
            .unwrap()
            .unwrap()
            .0
            .last_seen_at,
        at(6, 10)
    );
    assert!(matches!(
        s.touch_session("no-such", at(6, 10)).await,
        Err(StorageError::NotFound)
    ));

    let sign_out = NewAuditEvent {
        actor_account: Some(account.id),
        ..NewAuditEvent::new(at(6, 11), ActorKind::Staff, action::SIGNED_OUT)
    };
    s.delete_session("session-hash", Some(sign_out))
        .await
        .unwrap();
    assert_eq!(s.find_session("session-hash").await.unwrap(), None);
}

pub(crate) async fn expired_and_idle_sessions_are_removed(db: &TestDb) {
    let s = db.storage.as_ref();
    let account = s
        .record_sign_in(NewSignIn {
            given_name: None,
            family_name: None,
            birth_date: None,
            issuer: "https://auth.login.nhs.uk".into(),
            subject: "sub-1".into(),
            role: AccountRole::Patient,
            identity_level: Some("P9".into()),
            patient_id: None,
            at: at(6, 9),
            request_id: None,
        })
        .await
        .unwrap();
    let session = |hash: &str, created: DateTime<Utc>| NewSession {
        id_hash: hash.into(),
        account_id: account.id,
        audience: SessionAudience::Patient,
        csrf_token: "c".into(),
        created_at: created,
        absolute_expires_at: created + Duration::hours(12),
    };
    s.create_session(session("fresh", at(6, 9))).await.unwrap();
    s.create_session(session("idle", at(6, 8))).await.unwrap();
    s.create_session(session("old", at(5, 9))).await.unwrap();
    s.touch_session("fresh", at(6, 10)).await.unwrap();
    s.touch_session("old", at(6, 10)).await.unwrap();
    let now = at(6, 10) + Duration::minutes(10);
    let removed = s
        .delete_expired_sessions(now, now - Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(s.find_session("fresh").await.unwrap().is_some());
    assert!(s.find_session("idle").await.unwrap().is_none());
    assert!(s.find_session("old").await.unwrap().is_none());
}

pub(crate) async fn a_login_attempt_can_be_taken_once_and_not_after_it_expires(db: &TestDb) {
    let s = db.storage.as_ref();
    let attempt = |hash: &str, created: DateTime<Utc>| NewLoginAttempt {
        state_hash: hash.into(),
        audience: SessionAudience::Patient,
        nonce: format!("nonce-{hash}"),
        pkce_verifier: Some("verifier".into()),
        requested_vectors: vec!["P9.Cp.Cd".into(), "P9.Cm".into()],
        created_at: created,
    };
    s.create_login_attempt(attempt("fresh", at(6, 9)))
        .await
        .unwrap();
    s.create_login_attempt(attempt("stale", at(6, 8)))
        .await
        .unwrap();
    assert!(matches!(
        s.create_login_attempt(attempt("fresh", at(6, 9))).await,
        Err(StorageError::Conflict(_))
    ));

    let not_before = at(6, 9) - Duration::minutes(10);
    let taken = s.take_login_attempt("fresh", not_before).await.unwrap();
    assert_eq!(taken, Some(attempt("fresh", at(6, 9))));
    assert_eq!(
        s.take_login_attempt("fresh", not_before).await.unwrap(),
        None,
        "a replay finds nothing"
    );
    assert_eq!(
        s.take_login_attempt("stale", not_before).await.unwrap(),
        None,
        "too old to use"
    );
    assert_eq!(
        s.take_login_attempt("never-made", not_before)
            .await
            .unwrap(),
        None
    );
}
