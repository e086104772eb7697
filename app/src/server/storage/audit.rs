//! The audit trail: append-only. Most rows are written by the unit of work they record,
//! in its own transaction; [`AuditStore::append_audit`] is for events that change
//! nothing else (a refusal, a sign-in that failed).

use async_trait::async_trait;

use super::StorageError;
use crate::audit::{AuditEvent, NewAuditEvent};
use crate::domain::PatientId;

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
}
