//! The patient's choices: leaving the portal, objections to a source, and their history.
//! Whether a choice may be made is the pure rules' business (`crate::choices::rules`);
//! storage records it, with the grants it suspends or restores, the history entry and
//! the audit rows, in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{GrantChange, StorageError};
use crate::audit::{ActorKind, NewAuditEvent};
use crate::choices::rules::{Channel, Choice, PatientChoices};
use crate::domain::{AccountId, PatientId};

/// Who made a choice and how it reached the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceBy {
    pub actor_kind: ActorKind,
    pub actor_account: Option<AccountId>,
    pub channel: Channel,
    /// The desk's reference for the letter, call or visit.
    pub evidence_reference: Option<String>,
    /// Why the desk recorded it, in the agent's words.
    pub reason: Option<String>,
}

/// A choice to record, decided by the rules against `expected` (the choices as they
/// stood when it was decided): it is refused as a conflict if they changed meanwhile.
#[derive(Debug, Clone)]
pub struct ChoiceChange {
    pub patient: PatientId,
    pub choice: Choice,
    pub expected: PatientChoices,
    pub at: DateTime<Utc>,
    pub by: ChoiceBy,
    /// Grants the choice suspends (leaving) or restores (coming back), each with its
    /// own history entry and audit row.
    pub grant_changes: Vec<GrantChange>,
    pub audit: NewAuditEvent,
}

/// One entry of a patient's choice history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceEvent {
    pub at: DateTime<Utc>,
    /// `Choice::code`.
    pub choice: String,
    pub organisation_name: Option<String>,
    pub actor_kind: ActorKind,
    pub channel: Channel,
    pub evidence_reference: Option<String>,
    pub reason: Option<String>,
}

#[async_trait]
pub trait ChoiceStore: Send + Sync {
    /// The patient's choices as they stand.
    async fn patient_choices(&self, patient: PatientId) -> Result<PatientChoices, StorageError>;

    /// Every choice the patient made or the desk recorded for them, oldest first.
    async fn choice_history(&self, patient: PatientId) -> Result<Vec<ChoiceEvent>, StorageError>;

    /// Records a choice with its grant changes and audit rows, in one transaction.
    async fn record_choice(&self, change: ChoiceChange) -> Result<(), StorageError>;
}
