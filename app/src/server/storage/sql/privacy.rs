//! The SQL of stored items' privacy labels: relabelling everything stored when the
//! privacy code list changes.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::audit::insert_audit;
use super::{Query, SqlStorage, to_millis};
use crate::audit::NewAuditEvent;
use crate::privacy::CodeList;
use crate::server::storage::{PrivacyStore, StorageError};

/// Items read at a time while relabelling, so a large store is never held in memory.
const ITEMS_PER_PAGE: i64 = 500;

#[async_trait]
impl PrivacyStore for SqlStorage {
    async fn applied_setting(&self, name: &str) -> Result<Option<String>, StorageError> {
        Ok(
            Query::new("SELECT fingerprint FROM applied_settings WHERE name = $1")
                .bind(name)
                .fetch_optional_scalar(&mut self.read().await?)
                .await?,
        )
    }

    async fn relabel_items(
        &self,
        code_list: &CodeList,
        setting: &str,
        fingerprint: &str,
        audit: NewAuditEvent,
    ) -> Result<u64, StorageError> {
        let mut tx = self.write().await?;
        let mut changed: u64 = 0;
        let mut after: i64 = 0;
        loop {
            let page: Vec<(i64, String, Option<String>)> = Query::new(
                "SELECT i.id, v.raw_resource, \
                 (SELECT STRING_AGG(l.label, ',') FROM record_item_labels l \
                  WHERE l.item_id = i.id AND l.origin = 'code_list') \
                 FROM record_items i JOIN record_item_versions v \
                 ON v.item_id = i.id AND v.version = i.current_version \
                 WHERE i.id > $1 ORDER BY i.id LIMIT $2",
            )
            .bind(after)
            .bind(ITEMS_PER_PAGE)
            .fetch_all(&mut tx)
            .await?;
            let Some(last) = page.last() else { break };
            after = last.0;
            for (item_id, raw, stored) in page {
                let stored: BTreeSet<String> = stored
                    .unwrap_or_default()
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
                let wanted: BTreeSet<String> = match serde_json::from_str(&raw) {
                    Ok(resource) => code_list
                        .labels_for_resource(&resource)
                        .into_iter()
                        .collect(),
                    // A raw resource is stored only after it parsed; keep what it has.
                    Err(_) => stored.clone(),
                };
                if wanted == stored {
                    continue;
                }
                changed += 1;
                Query::new(
                    "DELETE FROM record_item_labels WHERE item_id = $1 AND origin = 'code_list'",
                )
                .bind(item_id)
                .execute(&mut tx)
                .await?;
                for label in &wanted {
                    Query::new(
                        "INSERT INTO record_item_labels (item_id, label, origin) \
                         VALUES ($1, $2, 'code_list') ON CONFLICT (item_id, label) DO NOTHING",
                    )
                    .bind(item_id)
                    .bind(label)
                    .execute(&mut tx)
                    .await?;
                }
            }
        }
        Query::new(
            "INSERT INTO applied_settings (name, fingerprint, applied_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, \
             applied_at = excluded.applied_at",
        )
        .bind(setting)
        .bind(fingerprint)
        .bind(to_millis(audit.at))
        .execute(&mut tx)
        .await?;
        insert_audit(
            &mut tx,
            NewAuditEvent {
                target: Some(format!(
                    "{setting}:{fingerprint}:{changed} items relabelled"
                )),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(changed)
    }
}
