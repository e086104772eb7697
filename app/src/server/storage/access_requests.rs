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
    /// Logged by the service desk for the patient: it came by post, phone or email.
    Desk,
}

impl RequesterKind {
    pub fn code(self) -> &'static str {
        match self {
            RequesterKind::Patient => "patient",
            RequesterKind::Proxy => "proxy",
            RequesterKind::Desk => "desk",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            RequesterKind::Patient,
            RequesterKind::Proxy,
            RequesterKind::Desk,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

#[derive(Debug, Clone)]
pub struct NewAccessRequest {
    pub patient: PatientId,
    /// The patient's or proxy's account; for one the desk logged, the agent's.
    pub requested_by: AccountId,
    pub requester_kind: RequesterKind,
    /// `online`, or for one the desk logged `post`, `phone` or `email`.
    pub channel: &'static str,
    /// `Received`, or `AwaitingIdentity` (with its pause open from `received_on`) for a
    /// request that did not come through a verified NHS login session.
    pub state: SarState,
    pub pauses: Vec<Pause>,
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
    /// With `Fulfilled`: the answer, stored in the same transaction.
    pub answer: Option<NewAnswer>,
}

/// The prepared answer to a request.
#[derive(Debug, Clone)]
pub struct NewAnswer {
    /// JSON of the prepared copy (`crate::export::RecordExport`).
    pub content: String,
    pub available_until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub content: String,
    pub prepared_at: DateTime<Utc>,
    pub available_until: DateTime<Utc>,
}

/// An item a clinical reviewer withheld from a request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithheldItem {
    pub item_public_id: String,
    pub exemption: crate::export::WithholdingGround,
    pub reason: String,
    /// The reviewer's name and role, as recorded.
    pub reviewer: String,
}

/// A clinical review recorded for a request in review: it replaces any earlier one.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub public_id: String,
    pub read_at: DateTime<Utc>,
    /// Every item the review covered, by public id and version.
    pub reviewed: Vec<(String, i64)>,
    pub withheld: Vec<WithheldItem>,
    pub recorded_by: AccountId,
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

    /// Records a clinical review (the items withheld, possibly none) of a request in
    /// review, with a `reviewed` history entry and its audit row; a conflict if the
    /// request changed since it was read.
    async fn record_review(&self, review: NewReview) -> Result<(), StorageError>;

    /// The items withheld from a request's answer, as last reviewed.
    async fn withheld_items(&self, public_id: &str) -> Result<Vec<WithheldItem>, StorageError>;

    /// Whether a review has been recorded since the request last entered review.
    async fn review_recorded(&self, public_id: &str) -> Result<bool, StorageError>;

    /// The items the last recorded review covered, by public id and version.
    async fn reviewed_items(&self, public_id: &str) -> Result<Vec<(String, i64)>, StorageError>;

    /// Removes the answers no longer downloadable at `now`; answers how many.
    async fn delete_expired_answers(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;

    /// A fulfilled request's answer.
    async fn access_request_answer(
        &self,
        public_id: &str,
    ) -> Result<Option<StoredAnswer>, StorageError>;
}
