//! The SQL of reading a patient's record: the items (with their labels and relations),
//! the release rules in force, the organisations and the patient's choices, one
//! consistent snapshot with its audit row. PostgreSQL reads it all in one statement, the
//! items as one JSON value; SQLite reads rows on a direct connection
//! (`../sqlite_direct.rs`), where a row costs no hand-over between threads.

use async_trait::async_trait;

use super::audit::push_audit_rows;
use super::organisations::{ORGANISATIONS_AS_JSON, OrganisationRow, organisations_directly};
use super::release_rules::{LATEST_VERSION, release_rules_of_version};
use super::{Pools, Query, SqlStorage, from_millis, to_millis};
use crate::audit::NewAuditEvent;
use crate::choices::rules::PatientChoices;
use crate::domain::{OdsCode, Organisation, OrganisationId, PatientId};
use crate::records::{ItemDetails, RecordItem, RecordKind, Relations, ReleaseDirective};
use crate::server::storage::{
    Attachment, RecordQuery, RecordRead, RecordStore, StorageError, postgres,
};

/// A stored item: one object of the JSON array a patient's items come back in from
/// PostgreSQL, or one row of SQLite's direct read.
#[derive(serde::Deserialize)]
struct ItemRow {
    /// The row id: the order of arrival, which breaks ties between items of one time.
    id: i64,
    public_id: String,
    patient_id: i64,
    kind: String,
    parent_public_id: Option<String>,
    source_org_id: i64,
    source_name: String,
    source_ods_code: String,
    current_version: i64,
    status: String,
    entered_in_error: Option<bool>,
    title: String,
    occurred_at: Option<i64>,
    occurred_text: Option<String>,
    /// Embedded as JSON (not as a string of JSON), so it is parsed once.
    details: ItemDetails,
    category: Option<String>,
    code_system: Option<String>,
    code: Option<String>,
    abnormal: Option<bool>,
    issued_at: Option<i64>,
    effective_at: Option<i64>,
    release_directive: String,
    first_received_at: i64,
    last_received_at: i64,
    /// The item's links to its relatives.
    relations: Relations,
    #[serde(default)]
    labels: Vec<String>,
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
            details: row.details,
            category: row.category,
            code_system: row.code_system,
            code: row.code,
            abnormal: row.abnormal,
            issued_at: row.issued_at.map(from_millis).transpose()?,
            effective_at: row.effective_at.map(from_millis).transpose()?,
            release_directive: ReleaseDirective::from_code(&row.release_directive)
                .ok_or(StorageError::Corrupt("record_items.release_directive"))?,
            labels,
            relations: row.relations,
            first_received_at: from_millis(row.first_received_at)?,
            last_received_at: from_millis(row.last_received_at)?,
        })
    }
}

#[async_trait]
impl RecordStore for SqlStorage {
    /// On PostgreSQL, one statement: the items, the rule-set version in force, the
    /// organisations and the patient's choices as scalar subqueries, one consistent
    /// snapshot, and the audit row inserted by the same statement (a `WITH` insert), so
    /// read and row commit together in one round trip. On SQLite, the same reads as rows
    /// in one read transaction on a direct connection (`../sqlite_direct.rs`), and the
    /// row goes to the one writer's next group insert; nothing is returned until it is
    /// written.
    async fn read_record(
        &self,
        query: RecordQuery,
        audit: NewAuditEvent,
    ) -> Result<RecordRead, StorageError> {
        let patient_id = query.patient_id.ok_or(StorageError::NotFound)?;
        if let Pools::Sqlite(pools) = &self.database {
            let stored = pools
                .direct
                .read_snapshot(|connection| read_record_directly(connection, &query, patient_id))?;
            let rules = self.rules_of_version(stored.rules_version).await?;
            pools.append_audit(audit).await?;
            return Ok(RecordRead {
                items: stored.items,
                rules,
                organisations: stored.organisations,
                choices: stored.choices,
            });
        }
        let mut sql = Query::new("WITH audit AS (");
        push_audit_rows(&mut sql, std::slice::from_ref(&audit));
        sql.push(") SELECT (").push(postgres::ITEMS_AS_JSON.0);
        sql.push(ITEM_COLUMNS)
            .push("i.details::json AS details, i.relations::json AS relations, ")
            .push(postgres::ITEM_LABELS_AS_JSON)
            .push(" AS labels");
        push_item_conditions(&mut sql, &query, patient_id);
        sql.push(postgres::ITEMS_AS_JSON.1);
        sql.push("), (").push(LATEST_VERSION).push("), (");
        sql.push(ORGANISATIONS_AS_JSON);
        sql.push(")");
        // The patient's choices, which the access decision weighs first: when they left
        // the portal, and the sources they object to (ids, comma-separated).
        sql.push(", (SELECT left_portal_at FROM patients WHERE id = ")
            .push_bind(patient_id.0)
            .push("), (SELECT string_agg(organisation_id::text, ',')")
            .push(" FROM source_objections WHERE patient_id = ")
            .push_bind(patient_id.0)
            .push(")");
        let mut conn = self.read().await?;
        #[allow(clippy::type_complexity)]
        let (items, rules_version, organisations, left_portal_at, objections): (
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
        ) = sql.fetch_one(&mut conn).await?;
        // Only when the rule set changed since it was last read: a second statement.
        let rules = release_rules_of_version(&mut conn, &self.rule_sets, rules_version).await?;
        Ok(RecordRead {
            items: items_from_json(items.as_deref())?,
            rules,
            organisations: organisations_from_json(organisations.as_deref())?,
            choices: choices_from(left_portal_at, objections.as_deref())?,
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

    async fn raw_resources(
        &self,
        patient: PatientId,
        items: &[(String, i64)],
    ) -> Result<Vec<(String, String)>, StorageError> {
        let mut conn = self.read().await?;
        // One statement for the current versions, which is nearly always what the
        // decision saw; any item that changed since is read at its decided version.
        let current: Vec<(String, i64, String)> = Query::new(
            "SELECT i.public_id, v.version, v.raw_resource FROM record_items i \
             JOIN record_item_versions v ON v.item_id = i.id AND v.version = i.current_version \
             WHERE i.patient_id = $1",
        )
        .bind(patient.0)
        .fetch_all(&mut conn)
        .await?;
        let mut found = Vec::with_capacity(items.len());
        let mut missing: Vec<(&str, i64)> = Vec::new();
        let mut current: std::collections::HashMap<String, (i64, String)> = current
            .into_iter()
            .map(|(id, version, raw)| (id, (version, raw)))
            .collect();
        for (id, version) in items {
            match current.remove(id.as_str()) {
                Some((v, raw)) if v == *version => found.push((id.clone(), raw)),
                _ => missing.push((id.as_str(), *version)),
            }
        }
        for (id, version) in missing {
            let raw: Option<String> = Query::new(
                "SELECT v.raw_resource FROM record_items i \
                 JOIN record_item_versions v ON v.item_id = i.id \
                 WHERE i.patient_id = $1 AND i.public_id = $2 AND v.version = $3",
            )
            .bind(patient.0)
            .bind(id)
            .bind(version)
            .fetch_optional_scalar(&mut conn)
            .await?;
            if let Some(raw) = raw {
                found.push((id.to_owned(), raw));
            }
        }
        Ok(found)
    }
}

/// The columns of an item row, all but its JSON documents (details and relations) and
/// labels, which each backend reads in its own way; then [`push_item_conditions`].
const ITEM_COLUMNS: &str = "SELECT i.id, i.public_id, i.patient_id, i.kind, \
     p.public_id AS parent_public_id, i.source_org_id, o.name AS source_name, \
     o.ods_code AS source_ods_code, i.current_version, i.status, i.entered_in_error, \
     i.title, i.occurred_at, i.occurred_text, i.category, i.code_system, i.code, \
     i.abnormal, i.issued_at, i.effective_at, i.release_directive, i.first_received_at, \
     i.last_received_at, ";

/// The names SQLite gives the columns of a direct item read ([`ITEM_COLUMNS`], then
/// `i.details, i.relations`), in order: [`item_row_directly`] takes them by position,
/// and each read checks the statement's names against these first.
const DIRECT_ITEM_COLUMN_NAMES: [&str; 25] = [
    "id",
    "public_id",
    "patient_id",
    "kind",
    "parent_public_id",
    "source_org_id",
    "source_name",
    "source_ods_code",
    "current_version",
    "status",
    "entered_in_error",
    "title",
    "occurred_at",
    "occurred_text",
    "category",
    "code_system",
    "code",
    "abnormal",
    "issued_at",
    "effective_at",
    "release_directive",
    "first_received_at",
    "last_received_at",
    "details",
    "relations",
];

/// Appends the tables and conditions of a query of a patient's items: the joins
/// [`ITEM_COLUMNS`] needs, the patient, the query's filters, and (only when it has a
/// limit) the order, newest first.
fn push_item_conditions<'a>(sql: &mut Query<'a>, query: &'a RecordQuery, patient_id: PatientId) {
    sql.push(
        " FROM record_items i \
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
    // The whole record needs no order from the database: the rows are sorted once they
    // are read. Only a limit needs the newest first.
    if query.limit < u32::MAX {
        sql.push(" ORDER BY i.occurred_at DESC NULLS LAST, i.id DESC LIMIT ")
            .push_integer(i64::from(query.limit));
    }
}

/// What a record read on SQLite finds in its one snapshot; the rules of its rule-set
/// version are looked up after.
struct StoredRecord {
    items: Vec<RecordItem>,
    rules_version: Option<i64>,
    organisations: Vec<Organisation>,
    choices: PatientChoices,
}

/// A patient's record read as rows on one of SQLite's direct connections, inside the
/// read transaction [`DirectReaders::read_snapshot`] opened: the items, their labels,
/// the rule-set version, the organisations and the patient's choices.
///
/// [`DirectReaders::read_snapshot`]: crate::server::storage::sqlite_direct::DirectReaders::read_snapshot
fn read_record_directly(
    connection: &rusqlite::Connection,
    query: &RecordQuery,
    patient_id: PatientId,
) -> Result<StoredRecord, StorageError> {
    let mut items_query = Query::new(ITEM_COLUMNS);
    items_query.push("i.details, i.relations");
    push_item_conditions(&mut items_query, query, patient_id);
    let mut statement = items_query.prepare_directly(connection)?;
    if statement.column_names() != DIRECT_ITEM_COLUMN_NAMES {
        return Err(StorageError::Corrupt("record item columns"));
    }
    let mut rows_read = statement.raw_query();
    let mut rows = Vec::new();
    while let Some(row) = rows_read.next()? {
        rows.push(item_row_directly(row)?);
    }
    drop(rows_read);
    drop(statement);

    // Labels are few (most items have none): one statement for the patient's, put with
    // their items here, rather than a subquery per item.
    let mut labels_query = Query::new(
        "SELECT l.item_id, l.label FROM record_items i \
         JOIN record_item_labels l ON l.item_id = i.id WHERE i.patient_id = $1",
    )
    .bind(patient_id.0)
    .prepare_directly(connection)?;
    let mut labels: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    let mut label_rows = labels_query.raw_query();
    while let Some(row) = label_rows.next()? {
        labels.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    drop(label_rows);
    drop(labels_query);
    for row in &mut rows {
        if let Some(found) = labels.remove(&row.id) {
            row.labels = found;
        }
    }

    let mut state_query = Query::new("SELECT (");
    state_query
        .push(LATEST_VERSION)
        .push("), (SELECT left_portal_at FROM patients WHERE id = ")
        .push_bind(patient_id.0)
        .push("), (SELECT group_concat(organisation_id, ',') FROM source_objections WHERE patient_id = ")
        .push_bind(patient_id.0)
        .push(")");
    let (rules_version, left_portal_at, objections): (Option<i64>, Option<i64>, Option<String>) =
        state_query
            .prepare_directly(connection)?
            .raw_query()
            .next()?
            .map(|row| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?, row.get(2)?)))
            .transpose()?
            .ok_or(StorageError::Corrupt("record read"))?;

    Ok(StoredRecord {
        items: items_in_order(rows)?,
        rules_version,
        organisations: organisations_directly(connection)?,
        choices: choices_from(left_portal_at, objections.as_deref())?,
    })
}

/// One row of a direct item read, by the positions of [`DIRECT_ITEM_COLUMN_NAMES`]; its
/// labels are added after.
fn item_row_directly(row: &rusqlite::Row<'_>) -> Result<ItemRow, StorageError> {
    let json = |index: usize, what: &'static str| -> Result<&str, StorageError> {
        row.get_ref(index)?
            .as_str()
            .map_err(|_| StorageError::Corrupt(what))
    };
    Ok(ItemRow {
        id: row.get(0)?,
        public_id: row.get(1)?,
        patient_id: row.get(2)?,
        kind: row.get(3)?,
        parent_public_id: row.get(4)?,
        source_org_id: row.get(5)?,
        source_name: row.get(6)?,
        source_ods_code: row.get(7)?,
        current_version: row.get(8)?,
        status: row.get(9)?,
        entered_in_error: row.get(10)?,
        title: row.get(11)?,
        occurred_at: row.get(12)?,
        occurred_text: row.get(13)?,
        category: row.get(14)?,
        code_system: row.get(15)?,
        code: row.get(16)?,
        abnormal: row.get(17)?,
        issued_at: row.get(18)?,
        effective_at: row.get(19)?,
        release_directive: row.get(20)?,
        first_received_at: row.get(21)?,
        last_received_at: row.get(22)?,
        details: serde_json::from_str(json(23, "record_items.details")?)
            .map_err(|_| StorageError::Corrupt("record_items.details"))?,
        relations: serde_json::from_str(json(24, "record_items.relations")?)
            .map_err(|_| StorageError::Corrupt("record_items.relations"))?,
        labels: Vec::new(),
    })
}

/// The patient's choices from their two columns: when they left the portal, and the
/// sources they object to (ids, comma-separated).
fn choices_from(
    left_portal_at: Option<i64>,
    objections: Option<&str>,
) -> Result<PatientChoices, StorageError> {
    Ok(PatientChoices {
        left_portal_at: left_portal_at.map(from_millis).transpose()?,
        objections: objections
            .unwrap_or_default()
            .split(',')
            .filter(|id| !id.is_empty())
            .map(|id| {
                id.parse()
                    .map(OrganisationId)
                    .map_err(|_| StorageError::Corrupt("source_objections"))
            })
            .collect::<Result<_, _>>()?,
    })
}

/// The items of the JSON array PostgreSQL's read asked for (none: `NULL`), in order
/// ([`items_in_order`]).
fn items_from_json(json: Option<&str>) -> Result<Vec<RecordItem>, StorageError> {
    items_in_order(json_rows(json, "record items as JSON")?)
}

/// Items newest first: by the time they happened, latest first, items without a time
/// after every item with one, and ties by arrival, latest first. The same order on both
/// backends.
fn items_in_order(mut rows: Vec<ItemRow>) -> Result<Vec<RecordItem>, StorageError> {
    // `None` sorts before `Some`, so the reverse order puts timed items first, latest
    // first, and untimed ones last.
    rows.sort_unstable_by_key(|row| std::cmp::Reverse((row.occurred_at, row.id)));
    rows.into_iter().map(RecordItem::try_from).collect()
}

fn organisations_from_json(json: Option<&str>) -> Result<Vec<Organisation>, StorageError> {
    let rows: Vec<OrganisationRow> = json_rows(json, "organisations as JSON")?;
    rows.into_iter().map(Organisation::try_from).collect()
}

/// The rows of a JSON array one scalar subquery built (`NULL` when there were none).
fn json_rows<R: serde::de::DeserializeOwned>(
    json: Option<&str>,
    what: &'static str,
) -> Result<Vec<R>, StorageError> {
    match json {
        Some(json) => serde_json::from_str(json).map_err(|_| StorageError::Corrupt(what)),
        None => Ok(Vec::new()),
    }
}
