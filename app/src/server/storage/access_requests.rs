//! Subject access requests: each request, its state and clock, and its history. Whether
//! a change is allowed is the pure rules' business (`crate::sar::rules`); storage
//! records it with its history entry and audit row in one transaction, and refuses it
//! as a conflict if the request moved on meanwhile.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StorageError;
use crate::audit::{ActorKind, NewAuditEvent};
use crate::domain::{AccountId, PatientId};
use crate::sar::rules::{Extension, Pause, RequestScope, SarState};

/// Who made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequesterKind {
    Patient,
    Proxy,
}

impl RequesterKind {
    pub fn code(self) -> &'static str {
        match self {
            RequesterKind::Patient => "patient",
            RequesterKind::Proxy => "proxy",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAccessRequest {
    pub patient: PatientId,
    pub requested_by: AccountId,
    pub requester_kind: RequesterKind,
    pub scope: RequestScope,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub note: Option<String>,
    pub received_on: NaiveDate,
    pub at: DateTime<Utc>,
    pub audit: NewAuditEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccessRequest {
    pub public_id: String,
    pub patient: PatientId,
    pub requested_by: Option<AccountId>,
    /// `patient`, `proxy` or `desk`.
    pub requester_kind: String,
    pub channel: String,
    pub scope: RequestScope,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub note: Option<String>,
    pub received_on: NaiveDate,
    pub state: SarState,
    pub pauses: Vec<Pause>,
    pub extension: Option<Extension>,
    pub created_at: DateTime<Utc>,
    /// When it last changed: a change is decided on what was read then.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequestEvent {
    pub at: DateTime<Utc>,
    pub event: String,
    pub actor_kind: ActorKind,
    pub note: Option<String>,
    pub state_after: SarState,
}

/// A change to a request, decided on its state `from_state`.
#[derive(Debug, Clone)]
pub struct AccessRequestChange {
    pub public_id: String,
    pub from_state: SarState,
    /// The request's `updated_at` when the change was decided: if anything changed it
    /// since (another agent's extension, say), the change is refused.
    pub read_at: DateTime<Utc>,
    pub state: SarState,
    pub pauses: Vec<Pause>,
    pub extension: Option<Extension>,
    /// A history event code (`SarEvent::code`, or `extended`).
    pub event: &'static str,
    pub actor_kind: ActorKind,
    pub actor_account: Option<AccountId>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    pub audit: NewAuditEvent,
}

#[async_trait]
pub trait AccessRequestStore: Send + Sync {
    /// Records a new request (state received) with its first history entry and audit
    /// row; returns its public id.
    async fn create_access_request(
        &self,
        request: NewAccessRequest,
    ) -> Result<String, StorageError>;

    /// A patient's requests, newest first.
    async fn access_requests_for_patient(
        &self,
        patient: PatientId,
    ) -> Result<Vec<StoredAccessRequest>, StorageError>;

    /// Every request not yet fulfilled or refused.
    async fn open_access_requests(&self) -> Result<Vec<StoredAccessRequest>, StorageError>;

    async fn find_access_request(
        &self,
        public_id: &str,
    ) -> Result<Option<StoredAccessRequest>, StorageError>;

    /// A request's history, oldest first.
    async fn access_request_history(
        &self,
        public_id: &str,
    ) -> Result<Vec<AccessRequestEvent>, StorageError>;

    /// Applies a change with its history entry and audit row; a conflict if the
    /// request is no longer in `from_state`.
    async fn change_access_request(&self, change: AccessRequestChange) -> Result<(), StorageError>;
}
