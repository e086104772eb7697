//! One stored item of a patient's record as the rules see it: what it is, who sent it,
//! its display projection and the facts the release and privacy rules need. A pure type
//! (storage fills it in), so the access decision compiles for the browser too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ItemDetails, RecordKind, ReleaseDirective};
use crate::domain::{OdsCode, OrganisationId, PatientId};

#[derive(Debug, Clone, PartialEq)]
pub struct RecordItem {
    pub public_id: String,
    pub patient_id: PatientId,
    pub kind: RecordKind,
    pub parent_public_id: Option<String>,
    pub source: OrganisationId,
    pub source_name: String,
    pub source_ods_code: OdsCode,
    pub version: i64,
    pub status: String,
    /// Marked entered-in-error by its sender: kept, never shown.
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
    pub labels: Vec<String>,
    /// How the item is linked to its relatives (a report and its results).
    pub relations: Relations,
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
}

/// How an item is known to, and points at, the other items of the same sender, so that
/// a report and its results are recognised as one thing however they were delivered
/// (one transaction, a batch, separate updates, in any order). Keys are sender-scoped
/// strings: `Observation/abc` (the sender's resource id) or `Observation|system|value`
/// (a business identifier). References that could not be turned into a key (a bundle's
/// `urn:uuid:` that named nothing in the bundle) are kept as sent, so they never match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Relations {
    /// Every key by which other resources may name this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_as: Vec<String>,
    /// What this item contains: a report's `result`, an observation's `hasMember`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// What this item is part of or was made for: an observation's `partOf`, `basedOn`
    /// and `derivedFrom`, a report's `basedOn`, a document's `context.related`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub belongs_to: Vec<String>,
}
