//! The audit trail: append-only. Most rows are written by the unit of work they record,
//! in its own transaction; [`AuditStore::append_audit`] is for events that change
//! nothing else (a refusal, a sign-in that failed).

use async_trait::async_trait;

use super::StorageError;
use crate::audit::chain::StoredLink;
use crate::audit::{ActorKind, AuditEvent, NewAuditEvent};
use crate::domain::PatientId;
use chrono::{DateTime, Utc};

/// Which rows of a patient's audit trail their log shows.
#[derive(Debug, Clone, Default)]
pub struct PatientLogQuery {
    /// Only these kinds of actor; empty means people (patient, proxy, staff) and the
    /// portal, never senders or anonymous visitors.
    pub actor_kinds: Vec<ActorKind>,
    /// Leave out the `own_views` (reading, signing in) of the accounts linked to the
    /// patient's record now: the patient's own visits.
    pub hide_own_views: bool,
    pub own_views: Vec<&'static str>,
    /// Never these actions.
    pub left_out: Vec<&'static str>,
    pub offset: u32,
    pub limit: u32,
}

/// A row of the log with the actor's name as their account holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientLogRow {
    pub event: AuditEvent,
    pub actor_name: Option<String>,
    /// The record the actor's account is linked to now: the patient's own, for their
    /// own actions.
    pub actor_patient: Option<PatientId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientLogPage {
    pub rows: Vec<PatientLogRow>,
    /// Every row the query selects, not just this page.
    pub total: u64,
}

/// Audit rows committed before a moment and never sealed into the hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsealedRows {
    pub count: u64,
    pub first_id: Option<i64>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StorageError>;

    /// Whether the role the portal connects as could change or remove audit rows by SQL
    /// of its own, past the triggers: on PostgreSQL, by owning the table (and so being
    /// able to disable its triggers), being a superuser, or holding UPDATE, DELETE or
    /// TRUNCATE on it. SQLite has no roles: always true there.
    async fn portal_role_can_change_audit_trail(&self) -> Result<bool, StorageError>;

    /// Seals the rows committed since the last seal into the hash chain
    /// (`audit::chain`), in the order of their ids, up to a batch; answers how many.
    /// Called by one job; safe to call from several processes at once.
    async fn seal_audit_rows(&self) -> Result<u64, StorageError>;

    /// Up to `limit` links of the chain after `after_seq`, in order, each with the row
    /// it sealed as that row is stored now.
    async fn audit_chain_links(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredLink>, StorageError>;

    /// The rows that occurred before `before` and are not in the chain: none, once the
    /// sealer has caught up, unless a row's place in the queue to be sealed was removed.
    async fn unsealed_audit_rows(
        &self,
        before: DateTime<Utc>,
    ) -> Result<UnsealedRows, StorageError>;

    /// The most recent audit events of any kind, newest first (for the service desk and
    /// for checking refusals, which concern no known patient).
    async fn list_recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StorageError>;

    /// The audit events about one patient's record, newest first.
    async fn list_audit_events(
        &self,
        patient_id: PatientId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StorageError>;

    /// A page of the patient's log ("who viewed my record"), newest first, with each
    /// actor's name, and the count of every row the query selects.
    async fn patient_log(
        &self,
        patient_id: PatientId,
        query: PatientLogQuery,
    ) -> Result<PatientLogPage, StorageError>;
}
