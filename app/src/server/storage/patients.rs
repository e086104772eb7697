//! Patients: one record per NHS number, created by the first delivery or sign-in that
//! names it; demographics come from the sources' Patient resources.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageError;
use crate::domain::{NhsNumber, Patient, PatientId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatient {
    pub nhs_number: NhsNumber,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
}

#[async_trait]
pub trait PatientStore: Send + Sync {
    async fn find_patient_by_nhs_number(
        &self,
        nhs_number: &NhsNumber,
    ) -> Result<Option<Patient>, StorageError>;

    async fn find_patient(&self, id: PatientId) -> Result<Option<Patient>, StorageError>;

    /// The patient with this NHS number, created (without demographics) if no source has
    /// sent anything about them yet, so a P9 sign-in always links to a record.
    async fn find_or_create_patient(
        &self,
        nhs_number: &NhsNumber,
        at: DateTime<Utc>,
    ) -> Result<Patient, StorageError>;
}
