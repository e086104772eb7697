//! Who signs in (accounts and their roles), whose record it is (patients) and who sends
//! (source organisations): the people and organisations the access rules reason about,
//! as pure types.

use chrono::{DateTime, Utc};

use super::{AccountId, NhsNumber, OdsCode, OrganisationId, PatientId};
use crate::records::OrganisationKind;

/// The role an account has. Patients (and proxies, who are patients in their own right)
/// sign in with NHS login; service desk staff with their organisation's provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRole {
    Patient,
    ServiceDesk,
}

impl AccountRole {
    pub fn code(self) -> &'static str {
        match self {
            AccountRole::Patient => "patient",
            AccountRole::ServiceDesk => "service_desk",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "patient" => Some(AccountRole::Patient),
            "service_desk" => Some(AccountRole::ServiceDesk),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub issuer: String,
    pub subject: String,
    pub role: AccountRole,
    pub identity_level: Option<String>,
    pub patient_id: Option<PatientId>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// The sign-in before the latest one: "new since your last visit" starts here.
    pub previous_sign_in_at: Option<DateTime<Utc>>,
    /// What NHS login proved about the person at their latest sign-in (a proxy is
    /// named to the patient by it; an invitation is matched against it).
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// As NHS login sent it (`YYYY-MM-DD`).
    pub birth_date: Option<String>,
}

/// A source organisation, identified by its ODS code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrganisationId,
    pub ods_code: OdsCode,
    pub name: String,
    pub kind: OrganisationKind,
    pub has_credential: bool,
    pub credential_issued_at: Option<DateTime<Utc>>,
    /// When the source last delivered anything: "up to date as of" for patients.
    pub last_received_at: Option<DateTime<Utc>>,
}

/// A patient the portal holds a record for, identified by NHS number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: PatientId,
    pub nhs_number: NhsNumber,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
}
