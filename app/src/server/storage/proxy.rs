//! Proxy access: grants, their history, the patient's invitations and the applications
//! the service desk verifies. Storage keeps the facts people decided; whether a grant
//! is in force is worked out from them and the clock by `crate::proxy::rules`.
//!
//! Every method that changes anything writes the grant's history row (where there is a
//! grant) and the audit row in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StorageError;
use crate::audit::{ActorKind, NewAuditEvent};
use crate::domain::{AccountId, PatientId};
use crate::proxy::rules::{
    Grant, GrantId, GrantState, Invitation, InvitationState, ProxyBasisKind, Scope,
};

/// A person's name as NHS login or a sender gave it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonName {
    pub given: Option<String>,
    pub family: Option<String>,
}

impl PersonName {
    /// "Given Family", or what there is of it, or `fallback`.
    pub fn display_or(&self, fallback: &str) -> String {
        let parts: Vec<&str> = [self.given.as_deref(), self.family.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            fallback.to_owned()
        } else {
            parts.join(" ")
        }
    }
}

/// A grant with what pages show about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub grant: Grant,
    pub relationship: String,
    pub evidence_reference: Option<String>,
    pub patient_name: PersonName,
    pub proxy_name: PersonName,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub patient: PatientId,
    pub proxy: AccountId,
    pub basis: ProxyBasisKind,
    pub relationship: String,
    pub scope: Scope,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub evidence_reference: Option<String>,
}

/// Who decided something about a grant, and what they wrote.
#[derive(Debug, Clone)]
pub struct GrantDecisionBy {
    pub actor_kind: ActorKind,
    pub actor_account: Option<AccountId>,
    /// The decision-maker the service desk recorded (name and role).
    pub decision_maker: Option<String>,
    /// A reason in the decider's words, kept in the grant's history (never in logs).
    pub reason: Option<String>,
}

/// One entry of a grant's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantEvent {
    pub at: DateTime<Utc>,
    pub event: String,
    pub actor_kind: ActorKind,
    pub decision_maker: Option<String>,
    pub reason: Option<String>,
    pub state: GrantState,
    pub scope: Scope,
    pub ends_at: Option<DateTime<Utc>>,
    pub basis: ProxyBasisKind,
}

/// New terms for a grant. Revocation is final: a revoked grant is never changed again.
/// The change applies only if the grant is still in `from_state` (the state it was
/// decided on), so two changes made at once cannot undo each other.
#[derive(Debug, Clone)]
pub struct GrantChange {
    pub grant: GrantId,
    pub from_state: GrantState,
    pub state: GrantState,
    pub basis: ProxyBasisKind,
    pub scope: Scope,
    pub ends_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    /// A grant-history event code (`audit::action::PROXY_*` without the prefix).
    pub event: &'static str,
    pub by: GrantDecisionBy,
    pub audit: NewAuditEvent,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub patient: PatientId,
    pub invited_by: AccountId,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub relationship: String,
    pub email: Option<String>,
    /// SHA-256 of the one-time code.
    pub code_hash: String,
    pub scope: Scope,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvitation {
    pub public_id: String,
    pub invitation: Invitation,
    pub relationship: String,
    pub email: Option<String>,
    pub scope: Scope,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub patient_name: PersonName,
}

impl StoredInvitation {
    pub fn state(&self) -> InvitationState {
        self.invitation.state
    }
}

#[async_trait]
pub trait ProxyStore: Send + Sync {
    /// Stores a patient's invitation; answers its public id.
    async fn create_invitation(
        &self,
        invitation: NewInvitation,
        audit: NewAuditEvent,
    ) -> Result<String, StorageError>;

    /// A patient's invitations, newest first.
    async fn list_invitations(
        &self,
        patient: PatientId,
    ) -> Result<Vec<StoredInvitation>, StorageError>;

    /// The invitation a one-time code belongs to.
    async fn find_invitation_by_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<StoredInvitation>, StorageError>;

    /// Withdraws a pending invitation of this patient's; `NotFound` if there is none.
    async fn withdraw_invitation(
        &self,
        patient: PatientId,
        public_id: &str,
        at: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(), StorageError>;

    /// Accepts a pending invitation, found by its code: closes it and creates the
    /// grant, its first history entry and the audit row in one transaction.
    /// `Conflict` if it is no longer pending or the person already has a live grant
    /// for the patient.
    async fn accept_invitation(
        &self,
        code_hash: &str,
        grant: NewGrant,
        by: GrantDecisionBy,
        at: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<GrantRecord, StorageError>;

    /// Creates a grant directly (a verified application; demo data).
    async fn create_grant(
        &self,
        grant: NewGrant,
        event: &'static str,
        by: GrantDecisionBy,
        at: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<GrantRecord, StorageError>;

    /// Every grant on a patient's record, newest first.
    async fn grants_for_patient(
        &self,
        patient: PatientId,
    ) -> Result<Vec<GrantRecord>, StorageError>;

    /// Every grant a person holds, newest first.
    async fn grants_for_proxy(&self, proxy: AccountId) -> Result<Vec<GrantRecord>, StorageError>;

    async fn find_grant(&self, public_id: &str) -> Result<Option<GrantRecord>, StorageError>;

    /// Every grant not revoked, with the event last written to its history (for the
    /// job that records grants ending by the clock).
    async fn grants_not_revoked(&self) -> Result<Vec<(GrantRecord, String)>, StorageError>;

    async fn find_grant_by_id(&self, id: GrantId) -> Result<Option<GrantRecord>, StorageError>;

    /// The grant's history, oldest first.
    async fn grant_history(&self, id: GrantId) -> Result<Vec<GrantEvent>, StorageError>;

    /// Changes a grant's terms; `Conflict` if it was revoked or its state changed
    /// meanwhile.
    async fn change_grant(&self, change: GrantChange) -> Result<GrantRecord, StorageError>;
}

/// Where an application for proxy access stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationState {
    Pending,
    Granted,
    Refused,
}

impl ApplicationState {
    pub fn code(self) -> &'static str {
        match self {
            ApplicationState::Pending => "pending",
            ApplicationState::Granted => "granted",
            ApplicationState::Refused => "refused",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "pending" => Some(ApplicationState::Pending),
            "granted" => Some(ApplicationState::Granted),
            "refused" => Some(ApplicationState::Refused),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub applicant: AccountId,
    pub basis: ProxyBasisKind,
    pub relationship: String,
    pub patient_nhs_number: String,
    pub patient_birth_date: NaiveDate,
    pub evidence_reference: String,
    pub at: DateTime<Utc>,
}

/// An application as stored, with the applicant's verified name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApplication {
    pub public_id: String,
    pub applicant: AccountId,
    pub applicant_name: PersonName,
    pub basis: ProxyBasisKind,
    pub relationship: String,
    pub patient_nhs_number: String,
    pub patient_birth_date: NaiveDate,
    pub evidence_reference: String,
    pub created_at: DateTime<Utc>,
    pub state: ApplicationState,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_maker: Option<String>,
    /// The desk's reason, in their words (for the desk and the audit, never the
    /// applicant).
    pub reason: Option<String>,
    /// What the applicant is told of a refusal: a code from a fixed list.
    pub refusal: Option<String>,
}

/// The service desk's decision on an application.
#[derive(Debug, Clone)]
pub struct ApplicationDecision {
    pub public_id: String,
    pub staff: AccountId,
    pub decision_maker: String,
    pub reason: String,
    /// `Some` to grant (the grant to make), `None` to refuse.
    pub grant: Option<NewGrant>,
    /// The refusal code the applicant is told, when refusing.
    pub refusal: Option<String>,
    pub at: DateTime<Utc>,
    pub audit: NewAuditEvent,
}

#[async_trait]
pub trait ProxyApplicationStore: Send + Sync {
    async fn create_application(
        &self,
        application: NewApplication,
        audit: NewAuditEvent,
    ) -> Result<String, StorageError>;

    /// Applications in a state, oldest first (the queue is worked in order).
    async fn list_applications(
        &self,
        state: ApplicationState,
    ) -> Result<Vec<StoredApplication>, StorageError>;

    /// A person's own applications, newest first.
    async fn applications_by(
        &self,
        applicant: AccountId,
    ) -> Result<Vec<StoredApplication>, StorageError>;

    async fn find_application(
        &self,
        public_id: &str,
    ) -> Result<Option<StoredApplication>, StorageError>;

    /// Records the decision on a pending application, and when granting makes the grant
    /// (with its history entry), in one transaction with the audit row. `Conflict` if
    /// it was decided meanwhile or the applicant already has a live grant.
    async fn decide_application(
        &self,
        decision: ApplicationDecision,
    ) -> Result<Option<GrantRecord>, StorageError>;
}
