//! Reading a patient's record: everything a record page needs in one consistent read,
//! with the read's audit row. What the reader may see of it is the access decision's
//! business (`crate::access`), never storage's.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageError;
use crate::audit::NewAuditEvent;
use crate::domain::{Organisation, OrganisationId, PatientId};
use crate::records::{RecordItem, RecordKind};

/// What one record page reads: see [`RecordStore::read_record`].
#[derive(Debug, Clone)]
pub struct RecordRead {
    pub items: Vec<RecordItem>,
    pub rules: Option<crate::release::RuleSet>,
    pub organisations: Vec<Organisation>,
    /// The patient's choices (left the portal, objections), which the access decision
    /// weighs before anything else.
    pub choices: crate::choices::rules::PatientChoices,
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

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub sha256: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Everything a record page reads, in one transaction with its audit row: every item
    /// of the patient's the query selects, newest first, with its labels and relations
    /// (including items entered in error or carrying excluded labels: the access
    /// decision hides them, and needs them to decide their relatives), the
    /// release rule set in force (`None` when none was ever saved) and every
    /// organisation (provenance and feed freshness). One call, so a page view costs one
    /// connection and one consistent snapshot instead of three.
    async fn read_record(
        &self,
        query: RecordQuery,
        audit: NewAuditEvent,
    ) -> Result<RecordRead, StorageError>;

    /// An attachment by its content address. Callers decide who may see it (through the
    /// item that refers to it); this only fetches the bytes.
    async fn get_attachment(&self, sha256: &str) -> Result<Option<Attachment>, StorageError>;

    /// The resources exactly as received of the patient's items named by public id and
    /// version (the versions an access decision was made on, so a copy never holds a
    /// later version nobody decided on), as `(public id, raw JSON)`. An item of another
    /// patient, or a version that does not exist, is simply not returned.
    async fn raw_resources(
        &self,
        patient: PatientId,
        items: &[(String, i64)],
    ) -> Result<Vec<(String, String)>, StorageError>;
}
