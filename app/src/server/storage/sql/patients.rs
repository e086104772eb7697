//! The SQL of patients.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Query, SqlStorage, to_millis};
use crate::domain::{NhsNumber, Patient, PatientId};
use crate::server::storage::{PatientStore, StorageError};

#[derive(sqlx::FromRow)]
struct PatientRow {
    id: i64,
    nhs_number: String,
    family_name: Option<String>,
    given_name: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
}

impl TryFrom<PatientRow> for Patient {
    type Error = StorageError;
    fn try_from(row: PatientRow) -> Result<Self, StorageError> {
        Ok(Patient {
            id: PatientId(row.id),
            nhs_number: NhsNumber::parse(&row.nhs_number)
                .map_err(|_| StorageError::Corrupt("patients.nhs_number"))?,
            family_name: row.family_name,
            given_name: row.given_name,
            birth_date: row.birth_date,
            gender: row.gender,
        })
    }
}

#[async_trait]
impl PatientStore for SqlStorage {
    async fn find_patient_by_nhs_number(
        &self,
        nhs_number: &NhsNumber,
    ) -> Result<Option<Patient>, StorageError> {
        Query::new(
            "SELECT id, nhs_number, family_name, given_name, birth_date, gender \
             FROM patients WHERE nhs_number = $1",
        )
        .bind(nhs_number.as_str())
        .fetch_optional::<PatientRow>(&mut self.read().await?)
        .await?
        .map(Patient::try_from)
        .transpose()
    }

    async fn find_patient(&self, id: PatientId) -> Result<Option<Patient>, StorageError> {
        Query::new(
            "SELECT id, nhs_number, family_name, given_name, birth_date, gender \
             FROM patients WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional::<PatientRow>(&mut self.read().await?)
        .await?
        .map(Patient::try_from)
        .transpose()
    }

    async fn find_or_create_patient(
        &self,
        nhs_number: &NhsNumber,
        at: DateTime<Utc>,
    ) -> Result<Patient, StorageError> {
        let row: PatientRow = Query::new(
            "INSERT INTO patients (nhs_number, created_at, updated_at) VALUES ($1, $2, $2) \
             ON CONFLICT (nhs_number) DO UPDATE SET nhs_number = excluded.nhs_number \
             RETURNING id, nhs_number, family_name, given_name, birth_date, gender",
        )
        .bind(nhs_number.as_str())
        .bind(to_millis(at))
        .fetch_one(&mut self.write_one().await?)
        .await?;
        Patient::try_from(row)
    }
}
