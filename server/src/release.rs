//! Keeps the release-delay rule table in the database in step with configuration. The
//! rules a trust configures are the source of truth; each change becomes a new rule-set
//! version, written with its audit row in one transaction, so the rules in force at any
//! past moment can be shown. An unchanged file changes nothing.

use app::audit::{ActorKind, action};
use app::release::ReleaseRule;
use app::server::storage::{NewAuditEvent, Storage, StorageError};
use chrono::{DateTime, Utc};

/// Saves `rules` as a new version when they differ from the rule set in force; returns
/// the new version, or `None` when nothing changed.
pub async fn sync_release_rules(
    storage: &dyn Storage,
    rules: &[ReleaseRule],
    now: DateTime<Utc>,
) -> Result<Option<i64>, StorageError> {
    let current = storage.current_release_rules().await?;
    if current.as_ref().map(|set| set.rules.as_slice()) == Some(rules) {
        return Ok(None);
    }
    let audit = NewAuditEvent {
        reason: Some("configuration".to_owned()),
        ..NewAuditEvent::new(now, ActorKind::System, action::RELEASE_RULES_CHANGED)
    };
    let version = storage
        .save_release_rules(rules, "configuration", audit)
        .await?;
    tracing::info!(version, rules = rules.len(), "release rules changed");
    Ok(Some(version))
}
