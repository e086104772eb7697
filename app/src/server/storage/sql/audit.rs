//! The SQL of the audit trail, and the insert every other area uses to write its audit
//! row inside its own transaction.

use async_trait::async_trait;

use super::{Backend, Conn, Pools, Query, SqlStorage, from_millis, to_millis};
use crate::audit::chain::{self, StoredAuditRow, StoredLink};
use crate::audit::{ActorKind, AuditEvent, AuditOutcome, NewAuditEvent};
use crate::domain::{AccountId, OrganisationId, PatientId};
use crate::server::storage::{
    AuditStore, PatientLogPage, PatientLogQuery, PatientLogRow, StorageError, UnsealedRows,
};
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct LogRow {
    #[sqlx(flatten)]
    event: AuditRow,
    given_name: Option<String>,
    family_name: Option<String>,
    actor_patient_id: Option<i64>,
}

/// The conditions of a patient's log, after `WHERE e.patient_id = `.
fn push_log_conditions<'a>(sql: &mut Query<'a>, patient: PatientId, query: &'a PatientLogQuery) {
    sql.push_bind(patient.0);
    let kinds: Vec<&str> = if query.actor_kinds.is_empty() {
        [
            ActorKind::Patient,
            ActorKind::Proxy,
            ActorKind::Staff,
            ActorKind::System,
        ]
        .iter()
        .map(|k| k.code())
        .collect()
    } else {
        query.actor_kinds.iter().map(|k| k.code()).collect()
    };
    sql.push(" AND e.actor_kind IN ").push_tuple(kinds);
    if !query.left_out.is_empty() {
        sql.push(" AND e.action NOT IN ")
            .push_tuple(query.left_out.iter().copied());
    }
    if query.hide_own_views && !query.own_views.is_empty() {
        // The patient's own visits: by an account linked to this record now. (A row
        // without an account, or by one no longer linked, is always shown.)
        sql.push(
            " AND NOT (e.actor_kind = 'patient' AND a.patient_id IS NOT NULL \
             AND a.patient_id = e.patient_id AND e.action IN ",
        )
        .push_tuple(query.own_views.iter().copied())
        .push(")");
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    occurred_at: i64,
    actor_kind: String,
    actor_account_id: Option<i64>,
    actor_org_id: Option<i64>,
    patient_id: Option<i64>,
    action: String,
    target: Option<String>,
    outcome: String,
    reason: Option<String>,
    request_id: Option<String>,
}

impl From<AuditRow> for StoredAuditRow {
    fn from(row: AuditRow) -> Self {
        StoredAuditRow {
            id: row.id,
            occurred_at_ms: row.occurred_at,
            actor_kind: row.actor_kind,
            actor_account_id: row.actor_account_id,
            actor_org_id: row.actor_org_id,
            patient_id: row.patient_id,
            action: row.action,
            target: row.target,
            outcome: row.outcome,
            reason: row.reason,
            request_id: row.request_id,
        }
    }
}

/// A link of the hash chain with the row it sealed, as stored now (the row's columns
/// are all absent when the row is gone).
#[derive(sqlx::FromRow)]
struct LinkRow {
    seq: i64,
    event_id: i64,
    hash: String,
    id: Option<i64>,
    occurred_at: Option<i64>,
    actor_kind: Option<String>,
    actor_account_id: Option<i64>,
    actor_org_id: Option<i64>,
    patient_id: Option<i64>,
    action: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    reason: Option<String>,
    request_id: Option<String>,
}

impl From<LinkRow> for StoredLink {
    fn from(link: LinkRow) -> Self {
        let row = match (
            link.id,
            link.occurred_at,
            link.actor_kind,
            link.action,
            link.outcome,
        ) {
            (Some(id), Some(occurred_at_ms), Some(actor_kind), Some(action), Some(outcome)) => {
                Some(StoredAuditRow {
                    id,
                    occurred_at_ms,
                    actor_kind,
                    actor_account_id: link.actor_account_id,
                    actor_org_id: link.actor_org_id,
                    patient_id: link.patient_id,
                    action,
                    target: link.target,
                    outcome,
                    reason: link.reason,
                    request_id: link.request_id,
                })
            }
            _ => None,
        };
        StoredLink {
            seq: link.seq,
            event_id: link.event_id,
            hash: link.hash,
            row,
        }
    }
}

/// The most rows one seal takes (three parameters each in the chain's insert).
const MAX_ROWS_PER_SEAL: u32 = 2_000;

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StorageError;
    fn try_from(row: AuditRow) -> Result<Self, StorageError> {
        Ok(AuditEvent {
            id: row.id,
            at: from_millis(row.occurred_at)?,
            actor_kind: ActorKind::from_code(&row.actor_kind)
                .ok_or(StorageError::Corrupt("audit_events.actor_kind"))?,
            actor_account: row.actor_account_id.map(AccountId),
            actor_org: row.actor_org_id.map(OrganisationId),
            patient: row.patient_id.map(PatientId),
            action: row.action,
            target: row.target,
            outcome: AuditOutcome::from_code(&row.outcome)
                .ok_or(StorageError::Corrupt("audit_events.outcome"))?,
            reason: row.reason,
            request_id: row.request_id,
        })
    }
}

/// The insert of these audit rows, one statement however many there are.
pub(in crate::server::storage) fn insert_audit_rows(events: &[NewAuditEvent]) -> Query<'_> {
    let mut sql = Query::new("");
    push_audit_rows(&mut sql, events);
    sql
}

/// Appends the `INSERT` of `events` to a statement (on PostgreSQL a record read puts it
/// in a `WITH`, so the read and its audit row are one statement).
pub(in crate::server::storage) fn push_audit_rows<'a>(
    sql: &mut Query<'a>,
    events: &'a [NewAuditEvent],
) {
    sql.push(
        "INSERT INTO audit_events (occurred_at, actor_kind, actor_account_id, actor_org_id, \
         patient_id, action, target, outcome, reason, request_id) VALUES ",
    );
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .push_bind(to_millis(event.at))
            .push(", ")
            .push_bind(event.actor_kind.code())
            .push(", ")
            .push_bind(event.actor_account.map(|a| a.0))
            .push(", ")
            .push_bind(event.actor_org.map(|o| o.0))
            .push(", ")
            .push_bind(event.patient.map(|p| p.0))
            .push(", ")
            .push_bind(event.action)
            .push(", ")
            .push_bind(event.target.as_deref())
            .push(", ")
            .push_bind(event.outcome.code())
            .push(", ")
            .push_bind(event.reason.as_deref())
            .push(", ")
            .push_bind(event.request_id.as_deref())
            .push(")");
    }
}

/// Writes one audit row inside the caller's transaction.
pub(super) async fn insert_audit(
    conn: &mut Conn,
    event: NewAuditEvent,
) -> Result<(), StorageError> {
    insert_audit_rows(std::slice::from_ref(&event))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqlStorage {
    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StorageError> {
        if let Pools::Sqlite(pools) = &self.database {
            // Grouped with any other rows waiting for SQLite's one writer.
            return pools.append_audit(event).await;
        }
        let mut tx = self.write().await?;
        insert_audit(&mut tx, event).await?;
        tx.commit().await
    }

    async fn portal_role_can_change_audit_trail(&self) -> Result<bool, StorageError> {
        if self.backend() == Backend::Sqlite {
            return Ok(true);
        }
        Ok(Query::new(
            "SELECT bool_or(r.rolsuper OR pg_has_role(current_user, c.relowner, 'USAGE') \
             OR has_table_privilege(c.oid, 'UPDATE') \
             OR has_table_privilege(c.oid, 'DELETE') \
             OR has_table_privilege(c.oid, 'TRUNCATE') \
             OR has_table_privilege(c.oid, 'TRIGGER')) \
             FROM pg_roles r, pg_class c \
             WHERE r.rolname = current_user \
             AND c.oid IN ('audit_events'::regclass, 'audit_chain'::regclass, \
                           'release_rules'::regclass, 'release_rule_sets'::regclass)",
        )
        .fetch_scalar::<bool>(&mut self.read().await?)
        .await?)
    }

    async fn seal_audit_rows(&self) -> Result<u64, StorageError> {
        let mut tx = self.write().await?;
        if self.backend() == Backend::Postgres {
            // One sealer at a time, however many servers share the database; the head
            // is read after the lock, by a statement of its own in READ COMMITTED (not
            // a snapshot taken before the lock), so each sealer chains onto the last
            // one's links whatever the database's default isolation.
            Query::new("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .execute(&mut tx)
                .await?;
            Query::new("SELECT pg_advisory_xact_lock(7201)")
                .execute(&mut tx)
                .await?;
        }
        // A queued row already in the chain (queued twice by hand) is only taken out of
        // the queue: sealing it again would fail on the chain's uniqueness and stop all
        // sealing.
        Query::new(
            "DELETE FROM audit_unsealed \
             WHERE EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = audit_unsealed.event_id)",
        )
        .execute(&mut tx)
        .await?;
        let head: Option<(i64, String)> =
            Query::new("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut tx)
                .await?;
        let mut waiting = Query::new(
            "SELECT e.id, e.occurred_at, e.actor_kind, e.actor_account_id, e.actor_org_id, \
             e.patient_id, e.action, e.target, e.outcome, e.reason, e.request_id \
             FROM audit_unsealed u JOIN audit_events e ON e.id = u.event_id \
             ORDER BY u.event_id LIMIT ",
        );
        waiting.push_integer(i64::from(MAX_ROWS_PER_SEAL));
        let rows: Vec<StoredAuditRow> = waiting
            .fetch_all::<AuditRow>(&mut tx)
            .await?
            .into_iter()
            .map(StoredAuditRow::from)
            .collect();
        if rows.is_empty() {
            return Ok(0);
        }
        let (head_seq, head_hash) = head.unwrap_or((0, chain::GENESIS_HASH.to_owned()));
        let links = chain::seal(head_seq, &head_hash, rows);
        let mut insert = Query::new("INSERT INTO audit_chain (seq, event_id, hash) ");
        insert.push_values(&links, |mut row, link| {
            row.push_bind(link.seq)
                .push_bind(link.event_id)
                .push_bind(&link.hash);
        });
        insert.execute(&mut tx).await?;
        let mut sealed = Query::new("DELETE FROM audit_unsealed WHERE event_id IN ");
        sealed.push_tuple(links.iter().map(|link| link.event_id));
        sealed.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(links.len() as u64)
    }

    async fn audit_chain_links(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredLink>, StorageError> {
        let mut sql = Query::new(
            "SELECT c.seq, c.event_id, c.hash, e.id, e.occurred_at, e.actor_kind, \
             e.actor_account_id, e.actor_org_id, e.patient_id, e.action, e.target, \
             e.outcome, e.reason, e.request_id \
             FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id \
             WHERE c.seq > $1 ORDER BY c.seq LIMIT ",
        );
        sql.push_integer(i64::from(limit));
        Ok(sql
            .bind(after_seq)
            .fetch_all::<LinkRow>(&mut self.read().await?)
            .await?
            .into_iter()
            .map(StoredLink::from)
            .collect())
    }

    async fn unsealed_audit_rows(
        &self,
        before: DateTime<Utc>,
    ) -> Result<UnsealedRows, StorageError> {
        let (count, first): (i64, Option<i64>) = Query::new(
            "SELECT COUNT(*), MIN(e.id) FROM audit_events e \
             WHERE e.occurred_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)",
        )
        .bind(to_millis(before))
        .fetch_one(&mut self.read().await?)
        .await?;
        Ok(UnsealedRows {
            count: u64::try_from(count).unwrap_or(0),
            first_id: first,
        })
    }

    async fn list_recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StorageError> {
        Query::new(
            "SELECT id, occurred_at, actor_kind, actor_account_id, actor_org_id, \
             patient_id, action, target, outcome, reason, request_id \
             FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all::<AuditRow>(&mut self.read().await?)
        .await?
        .into_iter()
        .map(AuditEvent::try_from)
        .collect()
    }

    async fn patient_log(
        &self,
        patient_id: PatientId,
        query: PatientLogQuery,
    ) -> Result<PatientLogPage, StorageError> {
        let mut conn = self.read().await?;
        let mut count = Query::new(
            "SELECT COUNT(*) FROM audit_events e \
             LEFT JOIN accounts a ON a.id = e.actor_account_id WHERE e.patient_id = ",
        );
        push_log_conditions(&mut count, patient_id, &query);
        let total: i64 = count.fetch_scalar(&mut conn).await?;
        let mut list = Query::new(
            "SELECT e.id, e.occurred_at, e.actor_kind, e.actor_account_id, e.actor_org_id, \
             e.patient_id, e.action, e.target, e.outcome, e.reason, e.request_id, \
             a.given_name, a.family_name, a.patient_id AS actor_patient_id \
             FROM audit_events e \
             LEFT JOIN accounts a ON a.id = e.actor_account_id WHERE e.patient_id = ",
        );
        push_log_conditions(&mut list, patient_id, &query);
        list.push(" ORDER BY e.occurred_at DESC, e.id DESC LIMIT ")
            .push_integer(i64::from(query.limit))
            .push(" OFFSET ")
            .push_integer(i64::from(query.offset));
        let rows = list
            .fetch_all::<LogRow>(&mut conn)
            .await?
            .into_iter()
            .map(|row| {
                let name = [row.given_name.as_deref(), row.family_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                Ok(PatientLogRow {
                    event: AuditEvent::try_from(row.event)?,
                    actor_name: (!name.is_empty()).then_some(name),
                    actor_patient: row.actor_patient_id.map(PatientId),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(PatientLogPage {
            rows,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn list_audit_events(
        &self,
        patient_id: PatientId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StorageError> {
        Query::new(
            "SELECT id, occurred_at, actor_kind, actor_account_id, actor_org_id, \
             patient_id, action, target, outcome, reason, request_id \
             FROM audit_events WHERE patient_id = $1 \
             ORDER BY occurred_at DESC, id DESC LIMIT $2",
        )
        .bind(patient_id.0)
        .bind(i64::from(limit))
        .fetch_all::<AuditRow>(&mut self.read().await?)
        .await?
        .into_iter()
        .map(AuditEvent::try_from)
        .collect()
    }
}
