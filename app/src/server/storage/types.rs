//! The values that cross the storage boundary: `New*` for what goes in, plain names for
//! what comes out. Database rows (`*Row`) stay private to the implementation.

use chrono::{DateTime, Utc};

use crate::domain::{NhsNumber, OdsCode};
use crate::records::{ItemDetails, OrganisationKind, RecordKind, ReleaseDirective};

// The entities the rules reason about are pure types, defined outside storage so that
// they compile for the browser too; storage takes and returns them.
pub use crate::audit::{AuditEvent, NewAuditEvent};
pub use crate::domain::{
    Account, AccountId, AccountRole, Organisation, OrganisationId, Patient, PatientId,
};
pub use crate::records::RecordItem;

#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub ods_code: OdsCode,
    pub name: String,
    pub kind: OrganisationKind,
    /// SHA-256 (hex) of the credential; the credential itself is never stored.
    pub credential_hash: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CredentialChange {
    pub ods_code: OdsCode,
    /// The new credential's hash, or `None` to revoke.
    pub credential_hash: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatient {
    pub nhs_number: NhsNumber,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
}

/// The key a sender's resource is known by: (sender, resource type, business identifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub resource_type: String,
    pub identifier_system: String,
    pub identifier_value: String,
}

/// Where a privacy label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOrigin {
    /// Matched by the portal's configured code list.
    CodeList,
    /// Sent by the source in `meta.security`.
    Sender,
}

impl LabelOrigin {
    pub fn code(self) -> &'static str {
        match self {
            LabelOrigin::CodeList => "code_list",
            LabelOrigin::Sender => "sender",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRecordItem {
    pub patient: NhsNumber,
    pub key: ItemKey,
    pub kind: RecordKind,
    /// The item this one belongs to (an observation's report), sent earlier in the same
    /// delivery or stored already.
    pub parent: Option<ItemKey>,
    pub status: String,
    pub entered_in_error: bool,
    pub title: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub occurred_text: Option<String>,
    pub details: ItemDetails,
    pub category: Option<String>,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub abnormal: Option<bool>,
    pub issued_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    pub release_directive: ReleaseDirective,
    pub labels: Vec<(String, LabelOrigin)>,
    /// How the item is linked to its relatives (see [`crate::records::Relations`]).
    pub relations: crate::records::Relations,
    /// The resource exactly as received.
    pub raw_resource: String,
    /// The bytes of its attachments, stored by content address.
    pub attachments: Vec<NewAttachment>,
    /// SHA-256 (hex) of the canonical content, which decides "identical re-delivery".
    pub content_sha256: String,
}

/// An attachment's bytes, checked at ingest (type allowed, size and hash as declared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// SHA-256 (hex) of `content`: the content address.
    pub sha256: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub sha256: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// One delivery from one source, applied all or nothing.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub sender: OrganisationId,
    pub received_at: DateTime<Utc>,
    pub patients: Vec<NewPatient>,
    pub items: Vec<NewRecordItem>,
    /// Resources held because their patient could not be identified.
    pub held: Vec<NewHeldResource>,
    pub request_id: Option<String>,
}

/// A resource held for the service desk: its patient could not be identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeldResource {
    pub resource_type: String,
    /// The element that could not be resolved.
    pub expression: String,
    pub reason: String,
    /// Exactly as received.
    pub raw_resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldResource {
    pub id: i64,
    pub sender: OrganisationId,
    pub received_at: DateTime<Utc>,
    pub resource_type: String,
    pub expression: String,
    pub reason: String,
    pub raw_resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemChange {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub public_id: String,
    pub version: i64,
    pub change: ItemChange,
}

/// What one record page reads: see [`Storage::read_record`](super::Storage::read_record).
#[derive(Debug, Clone)]
pub struct RecordRead {
    pub items: Vec<RecordItem>,
    pub rules: Option<crate::release::RuleSet>,
    pub organisations: Vec<Organisation>,
}

/// Which of a patient's items to read.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub patient_id: Option<PatientId>,
    /// Empty means every kind.
    pub kinds: Vec<RecordKind>,
    pub source: Option<OrganisationId>,
    pub occurred_from: Option<DateTime<Utc>>,
    pub occurred_before: Option<DateTime<Utc>>,
    pub limit: u32,
}

impl RecordQuery {
    pub fn for_patient(patient_id: PatientId) -> Self {
        Self {
            patient_id: Some(patient_id),
            limit: 500,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemVersion {
    pub version: i64,
    pub received_at: DateTime<Utc>,
    pub content_sha256: String,
    pub raw_resource: String,
}

#[derive(Debug, Clone)]
pub struct NewSignIn {
    pub issuer: String,
    pub subject: String,
    pub role: AccountRole,
    pub identity_level: Option<String>,
    /// The patient record the identity is linked to (P9 with a valid NHS number only).
    pub patient_id: Option<PatientId>,
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
}

/// Which side of the portal a session belongs to; the two never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAudience {
    Patient,
    Staff,
}

impl SessionAudience {
    pub fn code(self) -> &'static str {
        match self {
            SessionAudience::Patient => "patient",
            SessionAudience::Staff => "staff",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "patient" => Some(SessionAudience::Patient),
            "staff" => Some(SessionAudience::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub account_id: AccountId,
    pub audience: SessionAudience,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub account_id: AccountId,
    pub audience: SessionAudience,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

/// A sign-in in progress (authorization request sent, callback not yet received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginAttempt {
    /// SHA-256 of the `state` parameter.
    pub state_hash: String,
    pub audience: SessionAudience,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
    /// The vectors of trust asked for, which `vot` must be one of.
    pub requested_vectors: Vec<String>,
    pub created_at: DateTime<Utc>,
}

pub type LoginAttempt = NewLoginAttempt;

/// Epoch milliseconds, the form times take in the database.
pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> Result<DateTime<Utc>, super::StorageError> {
    DateTime::from_timestamp_millis(ms).ok_or(super::StorageError::Corrupt("timestamp"))
}
