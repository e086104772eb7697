//! The audit trail is append-only.

use super::*;
use app::audit::chain::{BrokenLink, ChainVerifier};

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

    // Straight to the database, around the trait: the schema itself refuses every way
    // of changing a row, replacing it on a conflict included.
    let id = s.list_audit_events(a, 10).await.unwrap()[0].id;
    let replace_sqlite = [
        format!(
            "INSERT OR REPLACE INTO audit_events (id, occurred_at, actor_kind, action, outcome) \
             VALUES ({id}, 0, 'system', 'record.viewed', 'allowed')"
        ),
        format!(
            "REPLACE INTO audit_events (id, occurred_at, actor_kind, action, outcome) \
             VALUES ({id}, 0, 'system', 'record.viewed', 'allowed')"
        ),
        format!(
            "INSERT INTO audit_events (id, occurred_at, actor_kind, action, outcome) \
             VALUES ({id}, 0, 'system', 'record.viewed', 'allowed') \
             ON CONFLICT (id) DO UPDATE SET outcome = 'allowed'"
        ),
    ];
    let replace_postgres = [format!(
        "INSERT INTO audit_events (id, occurred_at, actor_kind, action, outcome) \
         VALUES ({id}, 0, 'system', 'record.viewed', 'allowed') \
         ON CONFLICT (id) DO UPDATE SET outcome = 'allowed'"
    )];
    let mut attempts = vec![
        "UPDATE audit_events SET outcome = 'allowed'".to_owned(),
        "DELETE FROM audit_events".to_owned(),
    ];
    if db.url.starts_with("sqlite") {
        attempts.extend(replace_sqlite);
    } else {
        attempts.extend(replace_postgres);
        attempts.push("TRUNCATE audit_events CASCADE".to_owned());
    }
    for sql in &attempts {
        // Our own statements (the id is a number we read): safe to send as they are.
        let statement = || sqlx::AssertSqlSafe(sql.clone());
        let result = if db.url.starts_with("sqlite") {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(statement()).execute(&mut c).await.map(|_| ())
        } else {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(statement()).execute(&mut c).await.map(|_| ())
        };
        let error = result.expect_err(sql.as_str()).to_string();
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

pub(crate) async fn a_patients_log_is_filtered_named_and_paged(db: &TestDb) {
    let s = db.storage.as_ref();
    let amelia = super::proxy::person(s, "sub-amelia", PATIENT_A, "Amelia").await;
    let daniel = super::proxy::person(s, "sub-daniel", PATIENT_B, "Daniel").await;
    let patient = amelia.patient_id.unwrap();
    let row = |kind, account: &Account, what, hour| NewAuditEvent {
        actor_account: Some(account.id),
        patient: Some(patient),
        ..NewAuditEvent::new(at(6, hour), kind, what)
    };
    for event in [
        row(ActorKind::Patient, &amelia, action::RECORD_VIEWED, 9),
        row(ActorKind::Patient, &amelia, action::PROXY_INVITED, 10),
        row(ActorKind::Proxy, &daniel, action::RECORD_VIEWED, 11),
        row(ActorKind::Staff, &daniel, action::DESK_PATIENT_FOUND, 12),
        row(ActorKind::Patient, &amelia, action::SIGNED_OUT, 13),
        NewAuditEvent {
            patient: Some(patient),
            ..NewAuditEvent::new(at(6, 14), ActorKind::Sender, action::FEED_RECEIVED)
        },
    ] {
        s.append_audit(event).await.unwrap();
    }
    let query = PatientLogQuery {
        hide_own_views: true,
        own_views: vec![action::RECORD_VIEWED, action::SIGNED_IN],
        left_out: vec![action::SIGNED_OUT],
        limit: 10,
        ..PatientLogQuery::default()
    };
    let page = s.patient_log(patient, query.clone()).await.unwrap();
    // Her own view, the sign-out and the sender's row are left out; newest first.
    let actions: Vec<&str> = page.rows.iter().map(|r| r.event.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            action::DESK_PATIENT_FOUND,
            action::RECORD_VIEWED,
            action::PROXY_INVITED
        ]
    );
    assert_eq!(page.total, 3);
    assert_eq!(page.rows[1].actor_name.as_deref(), Some("Daniel Hart"));
    // Her own views when asked; one kind of actor; a page at a time.
    let with_own = s
        .patient_log(
            patient,
            PatientLogQuery {
                hide_own_views: false,
                ..query.clone()
            },
        )
        .await
        .unwrap();
    // Her view, and her sign-in (written when her account was made).
    assert_eq!(with_own.total, 5);
    let desk = s
        .patient_log(
            patient,
            PatientLogQuery {
                actor_kinds: vec![ActorKind::Staff],
                ..query.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!((desk.total, desk.rows.len()), (1, 1));
    let second = s
        .patient_log(
            patient,
            PatientLogQuery {
                offset: 1,
                limit: 1,
                ..query
            },
        )
        .await
        .unwrap();
    assert_eq!((second.total, second.rows.len()), (3, 1));
    assert_eq!(second.rows[0].event.actor_kind, ActorKind::Proxy);
}

/// Runs one of the test's own statements straight on the database, around the trait,
/// as the owner (the tests' administrator on PostgreSQL): the tampering the chain is
/// there to reveal.
async fn as_owner(db: &TestDb, statements: &[&str]) {
    for sql in statements {
        let statement = sqlx::AssertSqlSafe(sql.to_string());
        if db.url.starts_with("sqlite") {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        } else {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
    }
}

async fn first_break(s: &dyn Storage) -> (i64, Option<BrokenLink>) {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        // Small pages, so that the walk crosses page boundaries.
        let links = s.audit_chain_links(after, 3).await.unwrap();
        let Some(last) = links.last() else {
            return (verifier.verified(), None);
        };
        after = last.seq;
        for link in &links {
            if let Err(broken) = verifier.check(link) {
                return (verifier.verified(), Some(broken));
            }
        }
    }
}

pub(crate) async fn sealed_rows_chain_and_tampering_breaks_the_chain(db: &TestDb) {
    let s = db.storage.as_ref();
    let lab = organisation(s, "RXX", "h").await;
    let a = {
        s.apply_delivery(delivery(
            &lab,
            at(5, 9),
            vec![observation(PATIENT_A, "obs-1", "1", at(4, 9))],
        ))
        .await
        .unwrap();
        patient_id(s, PATIENT_A).await
    };
    for hour in 10..17 {
        s.append_audit(NewAuditEvent {
            patient: Some(a),
            target: Some(format!("results-{hour}")),
            ..NewAuditEvent::new(at(6, hour), ActorKind::Patient, action::RECORD_VIEWED)
        })
        .await
        .unwrap();
    }
    // Nothing is sealed until the sealer runs; then every row is, once.
    let everything_before = at(28, 0);
    assert_eq!(
        s.unsealed_audit_rows(everything_before)
            .await
            .unwrap()
            .count,
        9
    );
    assert_eq!(s.seal_audit_rows().await.unwrap(), 9);
    assert_eq!(s.seal_audit_rows().await.unwrap(), 0);
    assert_eq!(
        s.unsealed_audit_rows(everything_before).await.unwrap(),
        UnsealedRows {
            count: 0,
            first_id: None
        }
    );
    // Rows written later chain on to the earlier links.
    s.append_audit(NewAuditEvent::new(
        at(7, 9),
        ActorKind::System,
        action::RELEASE_RULES_CHANGED,
    ))
    .await
    .unwrap();
    assert_eq!(s.seal_audit_rows().await.unwrap(), 1);
    assert_eq!(first_break(s).await, (10, None));

    // The chain is append-only like the trail.
    let mut refused = vec![
        "UPDATE audit_chain SET hash = 'x'",
        "DELETE FROM audit_chain",
    ];
    if !db.url.starts_with("sqlite") {
        refused.push("TRUNCATE audit_chain");
    }
    for sql in refused {
        let statement = sqlx::AssertSqlSafe(sql.to_owned());
        let result = if db.url.starts_with("sqlite") {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(statement).execute(&mut c).await.map(|_| ())
        } else {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            sqlx::query(statement).execute(&mut c).await.map(|_| ())
        };
        let error = result.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }

    // Someone who can set the triggers aside changes the fifth row of the trail: the
    // chain breaks at its link, and every link before it still holds.
    let fifth = s.audit_chain_links(4, 1).await.unwrap()[0].event_id;
    let change = format!("UPDATE audit_events SET target = 'letters' WHERE id = {fifth}");
    if db.url.starts_with("sqlite") {
        as_owner(
            db,
            &[
                "DROP TRIGGER audit_events_no_update",
                &change,
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
            ],
        )
        .await;
    } else {
        // One connection: the trigger is off only for the change.
        as_owner(
            db,
            &[&format!(
                "DO $$ BEGIN \
                   ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update; \
                   {change}; \
                   ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update; \
                 END $$"
            )],
        )
        .await;
    }
    assert_eq!(
        first_break(s).await,
        (
            4,
            Some(BrokenLink::HashMismatch {
                seq: 5,
                event_id: fifth
            })
        )
    );

    // A row taken out of the queue before it was sealed is never sealed: reported.
    let id = {
        s.append_audit(NewAuditEvent::new(
            at(8, 9),
            ActorKind::System,
            action::RELEASE_RULES_CHANGED,
        ))
        .await
        .unwrap();
        s.list_recent_audit_events(1).await.unwrap()[0].id
    };
    as_owner(
        db,
        &[&format!("DELETE FROM audit_unsealed WHERE event_id = {id}")],
    )
    .await;
    assert_eq!(s.seal_audit_rows().await.unwrap(), 0);
    assert_eq!(
        s.unsealed_audit_rows(everything_before).await.unwrap(),
        UnsealedRows {
            count: 1,
            first_id: Some(id)
        }
    );
    // Rows newer than the moment asked about are not counted (they may be on their way).
    assert_eq!(s.unsealed_audit_rows(at(8, 9)).await.unwrap().count, 0);
}
