//! The audit trail you can trust, through the real server: every row it writes is sealed
//! into the hash chain by the server's own job; `server audit verify` reports an intact
//! chain, and after a row is changed behind the triggers' back, the first link that no
//! longer holds; on PostgreSQL the role the portal connects as cannot change the trail,
//! its chain or the release rules' history, by any statement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{TestServer, signed_in, spawn_demo};

/// Waits (up to 30 s) for the server's sealer to have sealed every row written so far.
async fn sealed(server: &TestServer) -> server::audit_chain::VerifyReport {
    for _ in 0..300 {
        let report = server::audit_chain::verify(server.storage.as_ref(), chrono::Utc::now(), None)
            .await
            .unwrap();
        if report.intact() {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server's sealer did not seal the audit trail within 30 s");
}

/// `server audit verify` run as an operator would, on the server's database.
fn verify_command(server: &TestServer, expect: Option<&str>) -> (i32, String) {
    let mut args = vec!["audit", "verify"];
    if let Some(recorded) = expect {
        args.extend(["--expect", recorded]);
    }
    // As the portal's own (on PostgreSQL, restricted) role: checking needs no more.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env("DATABASE_URL", server.config.database_url.expose())
        .env("LOG_LEVEL", "warn")
        .env_remove("DATABASE_MIGRATION_URL")
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// Runs a statement as the database's owner, around the portal: what the chain is
/// there to reveal.
async fn as_owner(server: &TestServer, sql: String) {
    let statement = sqlx::AssertSqlSafe(sql);
    match &server.config.database_migration_url {
        Some(owner) => {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(owner.expose())
                .await
                .unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
        None => {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(
                server.config.database_url.expose(),
            )
            .await
            .unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_server_seals_every_audit_row_and_verify_finds_the_first_changed_one() {
    let server = spawn_demo().await;
    let mut amelia = signed_in(&server, "amelia").await;
    assert_eq!(amelia.get(&server.url("/record/results")).await.status, 200);
    assert_eq!(amelia.get(&server.url("/record/letters")).await.status, 200);

    let report = sealed(&server).await;
    let trail = server
        .storage
        .list_recent_audit_events(1_000)
        .await
        .unwrap();
    assert_eq!(report.verified, i64::try_from(trail.len()).unwrap());
    let head = report.head.clone().expect("a chain");
    let recorded = format!("{}:{}", head.seq, head.hash);
    let (code, printed) = verify_command(&server, Some(&recorded));
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains("Every link holds."), "{printed}");
    assert!(printed.contains(&recorded), "{printed}");
    assert!(
        printed.contains("The recorded link is in the chain"),
        "{printed}"
    );
    // A recorded head the chain does not hold: rewritten, or cut short.
    let (code, printed) =
        verify_command(&server, Some(&format!("{}:{}", head.seq, "0".repeat(64))));
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("NOT AS RECORDED"), "{printed}");
    let (code, printed) = verify_command(&server, Some(&format!("{}:{}", head.seq + 5, head.hash)));
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("cut short"), "{printed}");

    // Amelia's view of her letters, changed by someone who set the trigger aside to
    // make it look like a view of her results.
    let viewed = trail
        .iter()
        .find(|e| e.action == "record.viewed" && e.target.as_deref() == Some("letters"))
        .expect("her view of her letters is audited");
    let change = format!(
        "UPDATE audit_events SET target = 'results' WHERE id = {}",
        viewed.id
    );
    if server.config.database_migration_url.is_some() {
        as_owner(
            &server,
            format!(
                "DO $$ BEGIN \
                   ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update; \
                   {change}; \
                   ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update; \
                 END $$"
            ),
        )
        .await;
    } else {
        as_owner(&server, "DROP TRIGGER audit_events_no_update".into()).await;
        as_owner(&server, change).await;
    }
    let report = server::audit_chain::verify(server.storage.as_ref(), chrono::Utc::now(), None)
        .await
        .unwrap();
    let [app::audit::chain::BrokenLink::HashMismatch { seq, event_id }] = report.breaks[..] else {
        panic!("the change went unnoticed, or more than it broke: {report}");
    };
    assert_eq!(event_id, viewed.id);
    // Every other link still holds: the walk goes on past the break.
    assert_eq!(report.verified, i64::try_from(trail.len()).unwrap() - 1);
    let (code, printed) = verify_command(&server, Some(&recorded));
    assert_eq!(code, 1, "{printed}");
    assert!(
        printed.contains(&format!("BROKEN: link {seq}: audit row {}", viewed.id)),
        "{printed}"
    );
}

#[tokio::test]
async fn the_portals_database_role_cannot_change_the_audit_trail() {
    let server = spawn_demo().await;
    let storage = server.storage.as_ref();
    let Some(owner) = &server.config.database_migration_url else {
        // SQLite has no roles: whoever can write the file can change it, and its
        // triggers are the guard (the storage story `the_audit_trail_cannot_be_changed_
        // or_deleted` tries every statement). Said so, not hidden:
        assert!(storage.portal_role_can_change_audit_trail().await.unwrap());
        return;
    };
    assert!(!storage.portal_role_can_change_audit_trail().await.unwrap());
    // The portal's role wrote the demo's audit rows (and seals them), so it can insert.
    sealed(&server).await;

    let mut portal =
        <sqlx::PgConnection as sqlx::Connection>::connect(server.config.database_url.expose())
            .await
            .unwrap();
    // Each table with a column to "change" to itself: refused before anything is read.
    for (table, column) in [
        ("audit_events", "reason"),
        ("audit_chain", "hash"),
        ("release_rules", "name"),
        ("release_rule_sets", "version"),
    ] {
        for sql in [
            format!("UPDATE {table} SET {column} = {column}"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table} CASCADE"),
            format!("ALTER TABLE {table} DISABLE TRIGGER ALL"),
            format!("ALTER TABLE {table} ADD COLUMN note TEXT"),
            format!("DROP TABLE {table} CASCADE"),
            format!(
                "CREATE TRIGGER sneak BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
            ),
        ] {
            let error = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut portal)
                .await
                .expect_err(&sql);
            let code = error
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned());
            // 42501: insufficient privilege (not the owner, or no such grant).
            assert_eq!(code.as_deref(), Some("42501"), "{sql}: {error}");
        }
    }
    // Nor migrate (the portal says to set DATABASE_MIGRATION_URL), nor take the part of
    // the owner.
    let refused = app::server::storage::connect(server.config.database_url.expose()).await;
    assert!(
        matches!(
            refused,
            Err(app::server::storage::StorageError::MigrationNotPermitted)
        ),
        "{:?}",
        refused.err()
    );
    let mut owner_connection = <sqlx::PgConnection as sqlx::Connection>::connect(owner.expose())
        .await
        .unwrap();
    let owner_name: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut owner_connection)
        .await
        .unwrap();
    let error = sqlx::query(sqlx::AssertSqlSafe(format!("SET ROLE \"{owner_name}\"")))
        .execute(&mut portal)
        .await
        .expect_err("SET ROLE");
    assert!(error.to_string().contains("permission denied"), "{error}");
    // The owner still can: the test's own connection as the schema owner.
    let mut owner = <sqlx::PgConnection as sqlx::Connection>::connect(owner.expose())
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_chain")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert!(count > 0);
}
