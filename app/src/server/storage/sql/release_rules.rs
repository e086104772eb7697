//! The SQL of the release rule table and its versions.

use async_trait::async_trait;

use super::audit::insert_audit;
use super::{Conn, Query, RuleSetCache, SqlStorage, to_millis};
use crate::audit::NewAuditEvent;
use crate::release::{ReleasePolicy, ReleaseRule, RuleSet};
use crate::server::storage::{ReleaseRuleStore, StorageError};

#[derive(sqlx::FromRow)]
struct ReleaseRuleRow {
    name: String,
    description: String,
    source_ods_code: Option<String>,
    category: Option<String>,
    code: Option<String>,
    abnormal: Option<bool>,
    policy: String,
    delay_days: Option<i32>,
}

impl TryFrom<ReleaseRuleRow> for ReleaseRule {
    type Error = StorageError;
    fn try_from(row: ReleaseRuleRow) -> Result<Self, StorageError> {
        let policy = match (row.policy.as_str(), row.delay_days) {
            ("immediately", None) => ReleasePolicy::Immediately,
            ("clinician_release", None) => ReleasePolicy::ClinicianRelease,
            ("after_days", Some(days)) => ReleasePolicy::AfterDays {
                days: u32::try_from(days)
                    .map_err(|_| StorageError::Corrupt("release_rules.delay_days"))?,
            },
            _ => return Err(StorageError::Corrupt("release_rules.policy")),
        };
        Ok(ReleaseRule {
            name: row.name,
            description: row.description,
            source: row.source_ods_code,
            category: row.category,
            code: row.code,
            abnormal: row.abnormal,
            policy,
        })
    }
}

/// The policy as its two columns: a name and, for delays, the number of days.
fn policy_columns(policy: ReleasePolicy) -> (&'static str, Option<i32>) {
    match policy {
        ReleasePolicy::Immediately => ("immediately", None),
        ReleasePolicy::ClinicianRelease => ("clinician_release", None),
        ReleasePolicy::AfterDays { days } => {
            ("after_days", Some(i32::try_from(days).unwrap_or(i32::MAX)))
        }
    }
}

#[async_trait]
impl ReleaseRuleStore for SqlStorage {
    async fn current_release_rules(&self) -> Result<Option<RuleSet>, StorageError> {
        select_release_rules(&mut self.read().await?, &self.rule_sets).await
    }

    async fn save_release_rules(
        &self,
        rules: &[ReleaseRule],
        changed_by: &str,
        audit: NewAuditEvent,
    ) -> Result<i64, StorageError> {
        let mut tx = self.write().await?;
        let version: i64 = Query::new(
            "INSERT INTO release_rule_sets (version, created_at, changed_by) \
             SELECT COALESCE(MAX(version), 0) + 1, $1, $2 FROM release_rule_sets \
             RETURNING version",
        )
        .bind(to_millis(audit.at))
        .bind(changed_by)
        .fetch_scalar(&mut tx)
        .await?;
        for (position, rule) in rules.iter().enumerate() {
            let (policy, days) = policy_columns(rule.policy);
            Query::new(
                "INSERT INTO release_rules (rule_set_version, position, name, \
                 description, source_ods_code, category, code, abnormal, policy, \
                 delay_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(version)
            .bind(i32::try_from(position).map_err(|_| StorageError::Corrupt("rule count"))?)
            .bind(&rule.name)
            .bind(&rule.description)
            .bind(rule.source.as_deref())
            .bind(rule.category.as_deref())
            .bind(rule.code.as_deref())
            .bind(rule.abnormal)
            .bind(policy)
            .bind(days)
            .execute(&mut tx)
            .await?;
        }
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!("release-rules:v{version}")),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }
}

/// The newest saved rule set. Saved versions never change, so only the version number
/// is asked for when the cache already holds that version.
pub(super) async fn select_release_rules(
    conn: &mut Conn,
    cache: &RuleSetCache,
) -> Result<Option<RuleSet>, StorageError> {
    let version: Option<i64> = Query::new(LATEST_VERSION).fetch_scalar(conn).await?;
    release_rules_of_version(conn, cache, version).await
}

/// The version of the rule set in force (a scalar subquery, so a record read can ask it
/// in its own statement).
pub(super) const LATEST_VERSION: &str = "SELECT MAX(version) FROM release_rule_sets";

/// The rule set of `version` (none saved: `None`), from the cache when it is known there:
/// a version's rules never change once saved.
pub(super) async fn release_rules_of_version(
    conn: &mut Conn,
    cache: &RuleSetCache,
    version: Option<i64>,
) -> Result<Option<RuleSet>, StorageError> {
    let Some(version) = version else {
        return Ok(None);
    };
    if let Some(known) = cache.get(version) {
        return Ok(Some(known));
    }
    let rules = Query::new(
        "SELECT name, description, source_ods_code, category, code, abnormal, policy, \
         delay_days FROM release_rules WHERE rule_set_version = $1 ORDER BY position",
    )
    .bind(version)
    .fetch_all::<ReleaseRuleRow>(conn)
    .await?
    .into_iter()
    .map(ReleaseRule::try_from)
    .collect::<Result<Vec<_>, _>>()?;
    let set = RuleSet { version, rules };
    cache.remember(&set);
    Ok(Some(set))
}

impl SqlStorage {
    /// The rule set of `version`, from the cache when it is known there, or else read
    /// on a pooled connection (a saved version's rules never change, so it need not be
    /// the snapshot `version` came from).
    pub(super) async fn rules_of_version(
        &self,
        version: Option<i64>,
    ) -> Result<Option<RuleSet>, StorageError> {
        let Some(wanted) = version else {
            return Ok(None);
        };
        match self.rule_sets.get(wanted) {
            Some(known) => Ok(Some(known)),
            None => {
                release_rules_of_version(&mut self.read().await?, &self.rule_sets, version).await
            }
        }
    }
}
