//! The audit trail: append-only. Most rows are written by the unit of work they record,
//! in its own transaction; [`AuditStore::append_audit`] is for events that change
//! nothing else (a refusal, a sign-in that failed).

use async_trait::async_trait;

use super::StorageError;
use crate::audit::{ActorKind, AuditEvent, NewAuditEvent};
use crate::domain::PatientId;

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

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StorageError>;

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
