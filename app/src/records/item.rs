//! One stored item of a patient's record as the rules see it: what it is, who sent it,
//! its display projection and the facts the release and privacy rules need. A pure type
//! (storage fills it in), so the access decision compiles for the browser too.

use chrono::{DateTime, Utc};

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
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
}
