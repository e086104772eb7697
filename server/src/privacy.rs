//! Keeps the privacy labels of stored items in step with the configured code list
//! (domain rules, "Sensitive information"). Labels are given at ingest, so a code added
//! to the list later would leave items already received unlabelled and shown. At start-up
//! the list's fingerprint is compared with the one last applied; when it differs, every
//! stored item is labelled again from its current version, in one transaction with its
//! audit row. An unchanged list changes nothing and reads nothing.

use app::audit::{ActorKind, action};
use app::privacy::CodeList;
use app::server::storage::{NewAuditEvent, Storage, StorageError};
use chrono::{DateTime, Utc};

/// The name the applied code list is recorded under.
pub const CODE_LIST_SETTING: &str = "privacy_code_list";

/// Relabels stored items when the code list differs from the one last applied; returns
/// how many items changed, or `None` when the list was already applied.
pub async fn apply_code_list(
    storage: &dyn Storage,
    code_list: &CodeList,
    now: DateTime<Utc>,
) -> Result<Option<u64>, StorageError> {
    let fingerprint = code_list.fingerprint();
    if storage.applied_setting(CODE_LIST_SETTING).await?.as_deref() == Some(fingerprint.as_str()) {
        return Ok(None);
    }
    let audit = NewAuditEvent {
        reason: Some("configuration".to_owned()),
        ..NewAuditEvent::new(now, ActorKind::System, action::PRIVACY_LABELS_REAPPLIED)
    };
    let changed = storage
        .relabel_items(code_list, CODE_LIST_SETTING, &fingerprint, audit)
        .await?;
    tracing::info!(changed, "privacy code list applied to stored items");
    Ok(Some(changed))
}
