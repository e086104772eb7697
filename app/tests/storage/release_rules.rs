//! Release rules: versioned, every change audited.

use super::*;

pub(crate) async fn release_rules_are_versioned_and_every_change_is_audited(db: &TestDb) {
    let s = db.storage.as_ref();
    assert_eq!(s.current_release_rules().await.unwrap(), None);
    let first = vec![
        release_rule("lab", Some("LAB"), ReleasePolicy::Immediately),
        ReleaseRule {
            source: Some("RXX".to_owned()),
            code: Some("399208008".to_owned()),
            abnormal: Some(true),
            ..release_rule(
                "rxx-chest-xray",
                Some("RAD"),
                ReleasePolicy::AfterDays { days: 28 },
            )
        },
        release_rule(
            "histopathology",
            Some("SP"),
            ReleasePolicy::ClinicianRelease,
        ),
    ];
    let change =
        |day| NewAuditEvent::new(at(day, 9), ActorKind::System, action::RELEASE_RULES_CHANGED);
    let v1 = s
        .save_release_rules(&first, "configuration", change(1))
        .await
        .unwrap();
    let current = s.current_release_rules().await.unwrap().unwrap();
    assert_eq!(current.version, v1);
    assert_eq!(
        current.rules, first,
        "every key and policy survives the round trip"
    );

    let second = vec![release_rule("anything", None, ReleasePolicy::Immediately)];
    let v2 = s
        .save_release_rules(&second, "configuration", change(2))
        .await
        .unwrap();
    assert_eq!(v2, v1 + 1);
    let current = s.current_release_rules().await.unwrap().unwrap();
    assert_eq!((current.version, current.rules), (v2, second));

    let changes: Vec<_> = s
        .list_recent_audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action::RELEASE_RULES_CHANGED)
        .map(|e| e.target.unwrap_or_default())
        .collect();
    assert_eq!(
        changes,
        [
            format!("release-rules:v{v2}"),
            format!("release-rules:v{v1}")
        ]
    );

    // Old versions are kept as they were: rules and rule sets cannot be edited in place,
    // deleted or replaced, whatever the statement.
    let mut attempts = vec![
        "UPDATE release_rules SET delay_days = 1".to_owned(),
        "DELETE FROM release_rules".to_owned(),
        "UPDATE release_rule_sets SET changed_by = 'x'".to_owned(),
        "DELETE FROM release_rule_sets".to_owned(),
    ];
    match s.backend() {
        Backend::Sqlite => attempts.extend([
            format!(
                "INSERT OR REPLACE INTO release_rules (rule_set_version, position, name, \
                 description, policy) SELECT rule_set_version, position, name, 'changed', \
                 'immediately' FROM release_rules WHERE rule_set_version = {v1}"
            ),
            format!(
                "INSERT OR REPLACE INTO release_rule_sets (version, created_at, changed_by) \
                 VALUES ({v1}, 0, 'x')"
            ),
        ]),
        Backend::Postgres => attempts.extend([
            "TRUNCATE release_rules".to_owned(),
            "TRUNCATE release_rule_sets CASCADE".to_owned(),
        ]),
    }
    for sql in &attempts {
        let refused = match s.backend() {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&pool)
                    .await
                    .is_err()
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&pool)
                    .await
                    .is_err()
            }
        };
        assert!(refused, "release rules are append-only: {sql}");
    }
}
