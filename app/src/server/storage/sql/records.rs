//! The SQL of reading a patient's record: the items (with their labels and relations),
//! the release rules in force and the organisations, in one read with its audit row.

use async_trait::async_trait;

use super::organisations::select_organisations;
use super::release_rules::select_release_rules;
use super::{Conn, Query, SqlStorage, from_millis, to_millis};
use crate::audit::NewAuditEvent;
use crate::domain::{OdsCode, OrganisationId, PatientId};
use crate::records::{ItemDetails, RecordItem, RecordKind, ReleaseDirective};
use crate::server::storage::{
    Attachment, Backend, RecordQuery, RecordRead, RecordStore, StorageError, postgres, sqlite,
};

/// A stored item as one object of the JSON array a patient's items come back in.
#[derive(serde::Deserialize)]
struct ItemRow {
    public_id: String,
    patient_id: i64,
    kind: String,
    parent_public_id: Option<String>,
    source_org_id: i64,
    source_name: String,
    source_ods_code: String,
    current_version: i64,
    status: String,
    #[serde(deserialize_with = "flag_from_json")]
    entered_in_error: Option<bool>,
    title: String,
    occurred_at: Option<i64>,
    occurred_text: Option<String>,
    details: String,
    category: Option<String>,
    code_system: Option<String>,
    code: Option<String>,
    #[serde(deserialize_with = "flag_from_json")]
    abnormal: Option<bool>,
    issued_at: Option<i64>,
    effective_at: Option<i64>,
    release_directive: String,
    first_received_at: i64,
    last_received_at: i64,
    /// The item's links to its relatives, as JSON text.
    relations: String,
    #[serde(default)]
    labels: Vec<String>,
}

/// A boolean column in JSON: `true`/`false` from PostgreSQL, `1`/`0` from SQLite
/// (which stores booleans as integers), or `null`.
fn flag_from_json<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(
        Option::<Flag>::deserialize(deserializer)?.map(|flag| match flag {
            Flag::Bool(value) => value,
            Flag::Int(value) => value != 0,
        }),
    )
}

impl TryFrom<ItemRow> for RecordItem {
    type Error = StorageError;
    fn try_from(row: ItemRow) -> Result<Self, StorageError> {
        let mut labels = row.labels;
        labels.sort();
        Ok(RecordItem {
            public_id: row.public_id,
            patient_id: PatientId(row.patient_id),
            kind: RecordKind::from_code(&row.kind)
                .ok_or(StorageError::Corrupt("record_items.kind"))?,
            parent_public_id: row.parent_public_id,
            source: OrganisationId(row.source_org_id),
            source_name: row.source_name,
            source_ods_code: OdsCode::parse(&row.source_ods_code)
                .map_err(|_| StorageError::Corrupt("organisations.ods_code"))?,
            version: row.current_version,
            status: row.status,
            entered_in_error: row.entered_in_error.unwrap_or(false),
            title: row.title,
            occurred_at: row.occurred_at.map(from_millis).transpose()?,
            occurred_text: row.occurred_text,
            details: serde_json::from_str::<ItemDetails>(&row.details)
                .map_err(|_| StorageError::Corrupt("record_items.details"))?,
            category: row.category,
            code_system: row.code_system,
            code: row.code,
            abnormal: row.abnormal,
            issued_at: row.issued_at.map(from_millis).transpose()?,
            effective_at: row.effective_at.map(from_millis).transpose()?,
            release_directive: ReleaseDirective::from_code(&row.release_directive)
                .ok_or(StorageError::Corrupt("record_items.release_directive"))?,
            labels,
            relations: serde_json::from_str(&row.relations)
                .map_err(|_| StorageError::Corrupt("record_items.relations"))?,
            first_received_at: from_millis(row.first_received_at)?,
            last_received_at: from_millis(row.last_received_at)?,
        })
    }
}

#[async_trait]
impl RecordStore for SqlStorage {
    async fn read_record(
        &self,
        query: RecordQuery,
        audit: NewAuditEvent,
    ) -> Result<RecordRead, StorageError> {
        let mut read = self.begin_audited_read().await?;
        let items = select_record_items(&mut read, &query).await?;
        let rules = select_release_rules(&mut read, &self.rule_sets).await?;
        let organisations = select_organisations(&mut read).await?;
        self.finish_audited_read(read, audit).await?;
        Ok(RecordRead {
            items,
            rules,
            organisations,
        })
    }

    async fn get_attachment(&self, sha256: &str) -> Result<Option<Attachment>, StorageError> {
        let row: Option<(String, String, Vec<u8>)> =
            Query::new("SELECT sha256, content_type, content FROM attachments WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(&mut self.read().await?)
                .await?;
        Ok(row.map(|(sha256, content_type, content)| Attachment {
            sha256,
            content_type,
            content,
        }))
    }
}

/// A patient's items, newest first, with their labels. They come back as one JSON array
/// in one row (built by the backend's `ITEMS_AS_JSON`), not as a row per item: sqlx
/// hands SQLite rows over from the connection's own thread one at a time, and those
/// hand-overs, not the query, were most of a record page's cost.
async fn select_record_items(
    conn: &mut Conn,
    query: &RecordQuery,
) -> Result<Vec<RecordItem>, StorageError> {
    let patient_id = query.patient_id.ok_or(StorageError::NotFound)?;
    let (items_as_json, labels_as_json) = match conn.backend() {
        Backend::Sqlite => (sqlite::ITEMS_AS_JSON, sqlite::ITEM_LABELS_AS_JSON),
        Backend::Postgres => (postgres::ITEMS_AS_JSON, postgres::ITEM_LABELS_AS_JSON),
    };
    let mut sql = Query::new(items_as_json.0);
    sql.push(
        "SELECT i.id, i.public_id, i.patient_id, i.kind, p.public_id AS parent_public_id, \
         i.source_org_id, o.name AS source_name, o.ods_code AS source_ods_code, \
         i.current_version, i.status, i.entered_in_error, i.title, i.occurred_at, \
         i.occurred_text, i.details, i.category, i.code_system, i.code, i.abnormal, \
         i.issued_at, i.effective_at, i.release_directive, i.first_received_at, \
         i.last_received_at, i.relations, ",
    )
    .push(labels_as_json)
    .push(
        " AS labels FROM record_items i \
         JOIN organisations o ON o.id = i.source_org_id \
         LEFT JOIN record_items p ON p.id = i.parent_item_id",
    );
    sql.push(" WHERE i.patient_id = ").push_bind(patient_id.0);
    // Items entered in error and items with excluded labels come back too: the access
    // decision hides them, and needs them to decide their relatives.
    if !query.kinds.is_empty() {
        sql.push(" AND i.kind IN ")
            .push_tuple(query.kinds.iter().map(|kind| kind.code()));
    }
    if let Some(source) = query.source {
        sql.push(" AND i.source_org_id = ").push_bind(source.0);
    }
    if let Some(from) = query.occurred_from {
        sql.push(" AND i.occurred_at >= ")
            .push_bind(to_millis(from));
    }
    if let Some(before) = query.occurred_before {
        sql.push(" AND i.occurred_at < ")
            .push_bind(to_millis(before));
    }
    sql.push(" ORDER BY i.occurred_at DESC, i.id DESC LIMIT ")
        .push_bind(i64::from(query.limit));
    sql.push(items_as_json.1);
    let json: Option<String> = sql.fetch_scalar(conn).await?;
    let rows: Vec<ItemRow> = match json {
        Some(json) => serde_json::from_str(&json)
            .map_err(|_| StorageError::Corrupt("record items as JSON"))?,
        None => Vec::new(),
    };
    rows.into_iter().map(RecordItem::try_from).collect()
}
