//! The release rule table, kept as numbered versions: a change saves a whole new table,
//! so what was in force at any time can be shown.

use async_trait::async_trait;

use super::StorageError;
use crate::audit::NewAuditEvent;
use crate::release::{ReleaseRule, RuleSet};

#[async_trait]
pub trait ReleaseRuleStore: Send + Sync {
    /// The rule set in force: the newest version, or `None` before any was saved (the
    /// release engine then holds every result).
    async fn current_release_rules(&self) -> Result<Option<RuleSet>, StorageError>;

    /// Saves the whole rule table as a new version, with its audit row in the same
    /// transaction, and returns the version. Earlier versions are kept unchanged.
    async fn save_release_rules(
        &self,
        rules: &[ReleaseRule],
        changed_by: &str,
        audit: NewAuditEvent,
    ) -> Result<i64, StorageError>;
}
