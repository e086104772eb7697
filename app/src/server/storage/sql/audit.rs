//! The SQL of the audit trail, and the insert every other area uses to write its audit
//! row inside its own transaction.

use async_trait::async_trait;

use super::{Conn, Pools, Query, SqlStorage, from_millis, to_millis};
use crate::audit::{ActorKind, AuditEvent, AuditOutcome, NewAuditEvent};
use crate::domain::{AccountId, OrganisationId, PatientId};
use crate::server::storage::{
    AuditStore, PatientLogPage, PatientLogQuery, PatientLogRow, StorageError,
};

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
