//! The privacy labels of stored items, and which version of the privacy code list they
//! were last worked out with.

use async_trait::async_trait;

use super::StorageError;
use crate::audit::NewAuditEvent;
use crate::privacy::CodeList;

#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// The fingerprint of a setting as last applied to stored items (`None`: never).
    async fn applied_setting(&self, name: &str) -> Result<Option<String>, StorageError>;

    /// Applies a privacy code list to everything stored: each item's code-list labels
    /// become exactly those the list gives its current version, while its sender's own
    /// labels stay. Records `fingerprint` as the applied version of `setting` and writes
    /// the audit row, all in one transaction. Returns how many items' labels changed.
    async fn relabel_items(
        &self,
        code_list: &CodeList,
        setting: &str,
        fingerprint: &str,
        audit: NewAuditEvent,
    ) -> Result<u64, StorageError>;
}
