//! The SQL of the feed: applying a delivery (patients, items a run at a time, versions,
//! attachments, labels, held resources and the delivery's audit row, all in the
//! caller's transaction), and what a sender may ask about what it sent.

use async_trait::async_trait;

use super::audit::insert_audit;
use super::{Conn, Pools, Query, SqlStorage, from_millis, millis_opt, new_public_id, to_millis};
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::domain::OrganisationId;
use crate::records::{ItemDetails, Relations};
use crate::server::storage::{
    Delivery, FeedStore, HeldResource, ItemChange, ItemKey, ItemOutcome, ItemVersion,
    NewRecordItem, StorageError,
};

/// Keys asked for in one lookup of stored items (4 parameters each).
const KEYS_PER_LOOKUP: usize = 200;
/// Rows in one multi-row insert: well inside both databases' parameter limits (SQLite
/// 32,766, PostgreSQL 65,535) at 25, 6 and 3 parameters a row.
const ITEMS_PER_INSERT: usize = 200;
const VERSIONS_PER_INSERT: usize = 500;
const LABELS_PER_INSERT: usize = 1_000;

#[derive(sqlx::FromRow)]
struct ItemVersionRow {
    version: i64,
    received_at: i64,
    content_sha256: String,
    raw_resource: String,
}

impl TryFrom<ItemVersionRow> for ItemVersion {
    type Error = StorageError;
    fn try_from(row: ItemVersionRow) -> Result<Self, StorageError> {
        Ok(ItemVersion {
            version: row.version,
            received_at: from_millis(row.received_at)?,
            content_sha256: row.content_sha256,
            raw_resource: row.raw_resource,
        })
    }
}

fn details_json(details: &ItemDetails) -> Result<String, StorageError> {
    serde_json::to_string(details).map_err(|_| StorageError::Corrupt("details"))
}

fn relations_json(relations: &Relations) -> Result<String, StorageError> {
    serde_json::to_string(relations).map_err(|_| StorageError::Corrupt("relations"))
}

#[async_trait]
impl FeedStore for SqlStorage {
    async fn apply_delivery(&self, delivery: Delivery) -> Result<Vec<ItemOutcome>, StorageError> {
        match &self.database {
            // Committed together with whatever other deliveries are waiting for SQLite's
            // one writer (see `sqlite.rs`).
            Pools::Sqlite(pools) => pools.apply_delivery(delivery).await,
            Pools::Postgres(_) => {
                let mut tx = self.write().await?;
                let outcomes = apply_delivery_within(&mut tx, &delivery).await?;
                tx.commit().await?;
                Ok(outcomes)
            }
        }
    }

    async fn find_item_by_key(
        &self,
        sender: OrganisationId,
        key: &ItemKey,
    ) -> Result<Option<String>, StorageError> {
        Ok(Query::new(
            "SELECT public_id FROM record_items WHERE source_org_id = $1 AND \
             resource_type = $2 AND identifier_system = $3 AND identifier_value = $4",
        )
        .bind(sender.0)
        .bind(&key.resource_type)
        .bind(&key.identifier_system)
        .bind(&key.identifier_value)
        .fetch_optional_scalar(&mut self.read().await?)
        .await?)
    }

    async fn list_item_versions(
        &self,
        sender: OrganisationId,
        public_id: &str,
    ) -> Result<Vec<ItemVersion>, StorageError> {
        Query::new(
            "SELECT v.version, v.received_at, v.content_sha256, v.raw_resource \
             FROM record_item_versions v JOIN record_items i ON i.id = v.item_id \
             WHERE i.public_id = $1 AND i.source_org_id = $2 ORDER BY v.version",
        )
        .bind(public_id)
        .bind(sender.0)
        .fetch_all::<ItemVersionRow>(&mut self.read().await?)
        .await?
        .into_iter()
        .map(ItemVersion::try_from)
        .collect()
    }

    async fn count_labelled_items_by_sender(
        &self,
        labels: &[String],
    ) -> Result<Vec<(OrganisationId, u64)>, StorageError> {
        if labels.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Query::new(
            "SELECT i.source_org_id, COUNT(DISTINCT i.id) FROM record_items i \
             JOIN record_item_labels l ON l.item_id = i.id WHERE l.label IN ",
        );
        sql.push_tuple(labels)
            .push(" GROUP BY i.source_org_id ORDER BY i.source_org_id");
        let rows: Vec<(i64, i64)> = sql.fetch_all(&mut self.read().await?).await?;
        Ok(rows
            .into_iter()
            .map(|(org, count)| (OrganisationId(org), u64::try_from(count).unwrap_or(0)))
            .collect())
    }

    async fn list_held_resources(&self, limit: u32) -> Result<Vec<HeldResource>, StorageError> {
        let mut sql = Query::new(HELD_COLUMNS);
        sql.push(" WHERE resolved_at IS NULL ORDER BY received_at, id LIMIT ")
            .push_bind(i64::from(limit));
        sql.fetch_all::<HeldRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(HeldResource::try_from)
            .collect()
    }
}

pub(super) const HELD_COLUMNS: &str = "SELECT id, public_id, sender_org_id, received_at, \
     resource_type, expression, reason, raw_resource, resolution, resolved_at \
     FROM held_resources";

#[derive(sqlx::FromRow)]
pub(super) struct HeldRow {
    id: i64,
    public_id: String,
    sender_org_id: i64,
    received_at: i64,
    resource_type: String,
    expression: String,
    reason: String,
    raw_resource: String,
    resolution: Option<String>,
    resolved_at: Option<i64>,
}

impl TryFrom<HeldRow> for HeldResource {
    type Error = StorageError;
    fn try_from(row: HeldRow) -> Result<Self, StorageError> {
        Ok(HeldResource {
            id: row.id,
            public_id: row.public_id,
            sender: OrganisationId(row.sender_org_id),
            received_at: from_millis(row.received_at)?,
            resource_type: row.resource_type,
            expression: row.expression,
            reason: row.reason,
            raw_resource: row.raw_resource,
            resolution: row.resolution,
            resolved_at: row.resolved_at.map(from_millis).transpose()?,
        })
    }
}

pub(in crate::server::storage) async fn apply_delivery_within(
    tx: &mut Conn,
    delivery: &Delivery,
) -> Result<Vec<ItemOutcome>, StorageError> {
    let received_at = to_millis(delivery.received_at);
    let mut patient_ids = std::collections::HashMap::<String, i64>::new();

    for patient in &delivery.patients {
        let id: i64 = Query::new(
            "INSERT INTO patients (nhs_number, family_name, given_name, birth_date, \
                 gender, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (nhs_number) DO UPDATE SET \
                 family_name = COALESCE(excluded.family_name, patients.family_name), \
                 given_name = COALESCE(excluded.given_name, patients.given_name), \
                 birth_date = COALESCE(excluded.birth_date, patients.birth_date), \
                 gender = COALESCE(excluded.gender, patients.gender), \
                 updated_at = excluded.updated_at \
                 RETURNING id",
        )
        .bind(patient.nhs_number.as_str())
        .bind(patient.family_name.as_deref())
        .bind(patient.given_name.as_deref())
        .bind(patient.birth_date.as_deref())
        .bind(patient.gender.as_deref())
        .bind(received_at)
        .fetch_scalar(tx)
        .await?;
        patient_ids.insert(patient.nhs_number.as_str().to_owned(), id);
    }

    // Patients the items name who came without a Patient resource: a valid
    // NHS number the portal has not seen yet starts a record here, and
    // demographics follow with the Patient resource.
    for item in &delivery.items {
        if patient_ids.contains_key(item.patient.as_str()) {
            continue;
        }
        let id: i64 = Query::new(
            "INSERT INTO patients (nhs_number, created_at, updated_at) \
                 VALUES ($1, $2, $2) ON CONFLICT (nhs_number) DO UPDATE \
                 SET nhs_number = excluded.nhs_number RETURNING id",
        )
        .bind(item.patient.as_str())
        .bind(received_at)
        .fetch_scalar(tx)
        .await?;
        patient_ids.insert(item.patient.as_str().to_owned(), id);
    }

    // Items are written a run at a time, a few statements per run rather than
    // several per item. A key sent twice in one delivery starts a new run, so
    // the second sees the first, exactly as if they had come one by one.
    let mut outcomes = Vec::with_capacity(delivery.items.len());
    let mut run_start = 0;
    let mut keys_in_run = std::collections::HashSet::<&ItemKey>::new();
    for (index, item) in delivery.items.iter().enumerate() {
        if !keys_in_run.insert(&item.key) {
            let run = &delivery.items[run_start..index];
            outcomes.extend(apply_item_run(tx, delivery, run, &patient_ids).await?);
            run_start = index;
            keys_in_run.clear();
            keys_in_run.insert(&item.key);
        }
    }
    let run = &delivery.items[run_start..];
    outcomes.extend(apply_item_run(tx, delivery, run, &patient_ids).await?);

    for held in &delivery.held {
        Query::new(
            "INSERT INTO held_resources (sender_org_id, received_at, resource_type, \
                 expression, reason, raw_resource, request_id, public_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(delivery.sender.0)
        .bind(received_at)
        .bind(&held.resource_type)
        .bind(&held.expression)
        .bind(&held.reason)
        .bind(&held.raw_resource)
        .bind(delivery.request_id.as_deref())
        .bind(new_public_id())
        .execute(tx)
        .await?;
    }

    // Never backwards: a held item the desk matches later goes in with the time it
    // was first received.
    Query::new(
        "UPDATE organisations SET last_received_at = $2 WHERE id = $1 \
         AND (last_received_at IS NULL OR last_received_at < $2)",
    )
    .bind(delivery.sender.0)
    .bind(received_at)
    .execute(tx)
    .await?;
    insert_audit(
        tx,
        NewAuditEvent {
            actor_org: Some(delivery.sender),
            target: Some(format!("{} items", delivery.items.len())),
            request_id: delivery.request_id.clone(),
            ..NewAuditEvent::new(
                delivery.received_at,
                ActorKind::Sender,
                action::FEED_RECEIVED,
            )
        },
    )
    .await?;
    Ok(outcomes)
}

/// Writes a run of items whose keys are all different: one lookup of what is
/// stored (the items and the reports they belong to), multi-row inserts for
/// new items (reports before their results, so a result finds its report's
/// id), one update per changed item, then the versions and labels of every
/// new or changed item in multi-row inserts. Unchanged items write nothing.
async fn apply_item_run(
    tx: &mut Conn,
    delivery: &Delivery,
    run: &[NewRecordItem],
    patient_ids: &std::collections::HashMap<String, i64>,
) -> Result<Vec<ItemOutcome>, StorageError> {
    use std::collections::{HashMap, HashSet};

    let sender = delivery.sender.0;
    let received_at = to_millis(delivery.received_at);
    let patient_of = |item: &NewRecordItem| {
        patient_ids
            .get(item.patient.as_str())
            .copied()
            .ok_or(StorageError::Corrupt("an item's patient was not written"))
    };

    // What is stored under the run's keys and its reports' keys.
    let mut wanted: Vec<&ItemKey> = run.iter().map(|item| &item.key).collect();
    let run_keys: HashSet<&ItemKey> = wanted.iter().copied().collect();
    for parent in run.iter().filter_map(|item| item.parent.as_ref()) {
        if !run_keys.contains(parent) && !wanted.contains(&parent) {
            wanted.push(parent);
        }
    }
    // (id, public id, current version, content hash)
    let mut stored = HashMap::<ItemKey, (i64, String, i64, String)>::new();
    for keys in wanted.chunks(KEYS_PER_LOOKUP) {
        // One branch per key, each naming the whole unique key, so both
        // databases answer every branch from the key's index (an OR of keys
        // may be planned as a scan of everything the sender has sent).
        let mut sql = Query::new("");
        for (n, key) in keys.iter().enumerate() {
            if n > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(
                "SELECT i.id, i.public_id, i.current_version, v.content_sha256, \
                     i.resource_type, i.identifier_system, i.identifier_value \
                     FROM record_items i JOIN record_item_versions v \
                     ON v.item_id = i.id AND v.version = i.current_version \
                     WHERE i.source_org_id = ",
            );
            sql.push_bind(sender);
            sql.push(" AND i.resource_type = ")
                .push_bind(&key.resource_type);
            sql.push(" AND i.identifier_system = ")
                .push_bind(&key.identifier_system);
            sql.push(" AND i.identifier_value = ")
                .push_bind(&key.identifier_value);
        }
        let rows: Vec<(i64, String, i64, String, String, String, String)> =
            sql.fetch_all(tx).await?;
        for (id, public_id, version, hash, resource_type, system, value) in rows {
            let key = ItemKey {
                resource_type,
                identifier_system: system,
                identifier_value: value,
            };
            stored.insert(key, (id, public_id, version, hash));
        }
    }
    let mut ids: HashMap<&ItemKey, i64> = HashMap::new();
    for key in &wanted {
        if let Some((id, ..)) = stored.get(*key) {
            ids.insert(*key, *id);
        }
    }

    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; run.len()];
    // (index in the run, item id, version) of every new or changed item.
    let mut written: Vec<(usize, i64, i64)> = Vec::new();
    let mut details = Vec::with_capacity(run.len());
    let mut relations = Vec::with_capacity(run.len());
    for item in run {
        details.push(details_json(&item.details)?);
        relations.push(relations_json(&item.relations)?);
    }

    // New items, in rounds: an item goes in once the report it belongs to is
    // stored, or when that report is not coming in this run at all.
    let mut waiting: Vec<usize> = (0..run.len())
        .filter(|&index| !stored.contains_key(&run[index].key))
        .collect();
    while !waiting.is_empty() {
        let coming: HashSet<&ItemKey> = waiting.iter().map(|&index| &run[index].key).collect();
        let (mut ready, later): (Vec<usize>, Vec<usize>) =
            waiting
                .iter()
                .partition(|&&index| match &run[index].parent {
                    Some(parent) => ids.contains_key(parent) || !coming.contains(parent),
                    None => true,
                });
        if ready.is_empty() {
            // Items that name each other: none can wait for the other.
            ready = later.clone();
        }
        waiting = if ready.len() == waiting.len() {
            Vec::new()
        } else {
            later
        };
        for chunk in ready.chunks(ITEMS_PER_INSERT) {
            let mut rows = Vec::with_capacity(chunk.len());
            for &index in chunk {
                let item = &run[index];
                let parent_id = item.parent.as_ref().and_then(|p| ids.get(p).copied());
                rows.push((index, new_public_id(), patient_of(item)?, parent_id));
            }
            let mut sql = Query::new(
                "INSERT INTO record_items (public_id, patient_id, source_org_id, \
                     resource_type, identifier_system, identifier_value, kind, \
                     parent_item_id, current_version, status, entered_in_error, title, \
                     occurred_at, occurred_text, details, category, code_system, code, \
                     abnormal, issued_at, effective_at, release_directive, \
                     first_received_at, last_received_at, relations) ",
            );
            sql.push_values(
                &rows,
                |mut row, (index, public_id, patient_id, parent_id)| {
                    let item = &run[*index];
                    row.push_bind(public_id.clone())
                        .push_bind(*patient_id)
                        .push_bind(sender)
                        .push_bind(&item.key.resource_type)
                        .push_bind(&item.key.identifier_system)
                        .push_bind(&item.key.identifier_value)
                        .push_bind(item.kind.code())
                        .push_bind(*parent_id)
                        .push_bind(1_i64)
                        .push_bind(&item.status)
                        .push_bind(item.entered_in_error)
                        .push_bind(&item.title)
                        .push_bind(millis_opt(item.occurred_at))
                        .push_bind(item.occurred_text.as_deref())
                        .push_bind(&details[*index])
                        .push_bind(item.category.as_deref())
                        .push_bind(item.code_system.as_deref())
                        .push_bind(item.code.as_deref())
                        .push_bind(item.abnormal)
                        .push_bind(millis_opt(item.issued_at))
                        .push_bind(millis_opt(item.effective_at))
                        .push_bind(item.release_directive.code())
                        .push_bind(received_at)
                        .push_bind(received_at)
                        .push_bind(&relations[*index]);
                },
            );
            sql.push(" RETURNING id, public_id");
            let returned: Vec<(i64, String)> = sql.fetch_all(tx).await?;
            // RETURNING promises no order: match the rows up by public id.
            let id_of: HashMap<String, i64> = returned
                .into_iter()
                .map(|(id, public_id)| (public_id, id))
                .collect();
            for (index, public_id, ..) in rows {
                let id = *id_of
                    .get(&public_id)
                    .ok_or(StorageError::Corrupt("an inserted item was not returned"))?;
                ids.insert(&run[index].key, id);
                written.push((index, id, 1));
                outcomes[index] = Some(ItemOutcome {
                    public_id,
                    version: 1,
                    change: ItemChange::Created,
                });
            }
        }
    }

    // Stored items: identical ones are left alone, changed ones updated.
    for (index, item) in run.iter().enumerate() {
        let Some((item_id, public_id, version, hash)) = stored.get(&item.key) else {
            continue;
        };
        if *hash == item.content_sha256 {
            outcomes[index] = Some(ItemOutcome {
                public_id: public_id.clone(),
                version: *version,
                change: ItemChange::Unchanged,
            });
            continue;
        }
        let parent_id = item.parent.as_ref().and_then(|p| ids.get(p).copied());
        Query::new(
            "UPDATE record_items SET patient_id = $2, kind = $3, \
                 parent_item_id = $4, current_version = $5, status = $6, \
                 entered_in_error = $7, title = $8, occurred_at = $9, \
                 occurred_text = $10, details = $11, category = $12, \
                 code_system = $13, code = $14, abnormal = $15, issued_at = $16, \
                 effective_at = $17, release_directive = $18, \
                 last_received_at = $19, relations = $20 WHERE id = $1",
        )
        .bind(*item_id)
        .bind(patient_of(item)?)
        .bind(item.kind.code())
        .bind(parent_id)
        .bind(version + 1)
        .bind(&item.status)
        .bind(item.entered_in_error)
        .bind(&item.title)
        .bind(millis_opt(item.occurred_at))
        .bind(item.occurred_text.as_deref())
        .bind(&details[index])
        .bind(item.category.as_deref())
        .bind(item.code_system.as_deref())
        .bind(item.code.as_deref())
        .bind(item.abnormal)
        .bind(millis_opt(item.issued_at))
        .bind(millis_opt(item.effective_at))
        .bind(item.release_directive.code())
        .bind(received_at)
        .bind(&relations[index])
        .execute(tx)
        .await?;
        // The code list's labels are worked out again from the new version; a
        // sender's own label stays: a later version sent without it must not
        // make a sensitive item reappear.
        Query::new("DELETE FROM record_item_labels WHERE item_id = $1 AND origin = 'code_list'")
            .bind(*item_id)
            .execute(tx)
            .await?;
        written.push((index, *item_id, version + 1));
        outcomes[index] = Some(ItemOutcome {
            public_id: public_id.clone(),
            version: version + 1,
            change: ItemChange::Updated,
        });
    }

    // The raw resource of every new version, their attachments and labels.
    written.sort_unstable();
    for chunk in written.chunks(VERSIONS_PER_INSERT) {
        let mut sql = Query::new(
            "INSERT INTO record_item_versions (item_id, version, received_at, \
                 sender_org_id, content_sha256, raw_resource) ",
        );
        sql.push_values(chunk, |mut row, (index, item_id, version)| {
            let item = &run[*index];
            row.push_bind(*item_id)
                .push_bind(*version)
                .push_bind(received_at)
                .push_bind(sender)
                .push_bind(&item.content_sha256)
                .push_bind(&item.raw_resource);
        });
        sql.execute(tx).await?;
    }
    for (index, ..) in &written {
        for attachment in &run[*index].attachments {
            // Content-addressed: the same bytes are stored once.
            Query::new(
                "INSERT INTO attachments (sha256, content_type, size, content, first_received_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&attachment.sha256)
            .bind(&attachment.content_type)
            .bind(i64::try_from(attachment.content.len()).unwrap_or(i64::MAX))
            .bind(&attachment.content)
            .bind(received_at)
            .execute(tx)
            .await?;
        }
    }
    let labels: Vec<(i64, &String, &'static str)> = written
        .iter()
        .flat_map(|(index, item_id, _)| {
            run[*index]
                .labels
                .iter()
                .map(move |(label, origin)| (*item_id, label, origin.code()))
        })
        .collect();
    for chunk in labels.chunks(LABELS_PER_INSERT) {
        let mut sql = Query::new("INSERT INTO record_item_labels (item_id, label, origin) ");
        sql.push_values(chunk, |mut row, (item_id, label, origin)| {
            row.push_bind(*item_id).push_bind(*label).push_bind(*origin);
        });
        sql.push(" ON CONFLICT (item_id, label) DO NOTHING");
        sql.execute(tx).await?;
    }

    outcomes
        .into_iter()
        .map(|outcome| outcome.ok_or(StorageError::Corrupt("an item was not written")))
        .collect()
}
