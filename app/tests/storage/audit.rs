//! The audit trail is append-only.

use super::*;

pub(crate) async fn the_audit_trail_cannot_be_changed_or_deleted(db: &TestDb) {
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
    s.append_audit(NewAuditEvent {
        patient: Some(a),
        target: Some("letters".into()),
        outcome: AuditOutcome::Refused,
        reason: Some("not_linked".into()),
        request_id: Some("req-9".into()),
        ..NewAuditEvent::new(at(6, 9), ActorKind::Proxy, action::RECORD_VIEWED)
    })
    .await
    .unwrap();
    let trail = s.list_audit_events(a, 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        (
            trail[0].actor_kind,
            trail[0].reason.as_deref(),
            trail[0].request_id.as_deref()
        ),
        (ActorKind::Proxy, Some("not_linked"), Some("req-9"))
    );

    // Straight to the database, around the trait: the schema itself refuses.
    let attempts = [
        "UPDATE audit_events SET outcome = 'allowed'",
        "DELETE FROM audit_events",
    ];
    for sql in attempts {
        let result = if db.url.starts_with("sqlite") {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.map(|_| ())
        } else {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.map(|_| ())
        };
        let error = result.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    assert_eq!(s.list_audit_events(a, 10).await.unwrap().len(), 1);

    // The whole trail, newest first: the organisation, the delivery, the view.
    let recent = s.list_recent_audit_events(10).await.unwrap();
    let actions: Vec<&str> = recent.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            action::RECORD_VIEWED,
            action::FEED_RECEIVED,
            action::ORGANISATION_CREATED
        ]
    );
    assert_eq!(s.list_recent_audit_events(1).await.unwrap().len(), 1);
}
