//! Source organisations: the trusts and practices that send records through the feed,
//! each with the hash of its feed credential.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageError;
use crate::domain::{OdsCode, Organisation};
use crate::records::OrganisationKind;

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

#[async_trait]
pub trait OrganisationStore: Send + Sync {
    /// Registers a source organisation with the hash of its feed credential.
    async fn create_organisation(&self, new: NewOrganisation)
    -> Result<Organisation, StorageError>;

    async fn find_organisation_by_ods_code(
        &self,
        ods_code: &OdsCode,
    ) -> Result<Option<Organisation>, StorageError>;

    /// The organisation whose current credential has this hash, if any (revoked
    /// credentials match nothing).
    async fn find_organisation_by_credential_hash(
        &self,
        credential_hash: &str,
    ) -> Result<Option<Organisation>, StorageError>;

    /// Replaces (with `Some`) or revokes (with `None`) an organisation's credential.
    async fn set_organisation_credential(
        &self,
        change: CredentialChange,
    ) -> Result<Organisation, StorageError>;

    async fn list_organisations(&self) -> Result<Vec<Organisation>, StorageError>;
}
