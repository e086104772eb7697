//! Storage: one trait, [`Storage`], with a SQLite implementation (the embedded default) and
//! a PostgreSQL one (production), chosen from the database URL by [`connect`].
//!
//! Each method is one unit of work: it opens its own transaction and, where the work is
//! something the audit trail must record, writes the audit row in that same transaction,
//! so that an action and its audit row are committed together or not at all. Both
//! backends run the same SQL (see `portable.rs`); only connection set-up and the DDL in
//! `migrations/sqlite` and `migrations/postgres` differ. Times are stored as epoch
//! milliseconds (UTC).

mod portable;
mod postgres;
mod sqlite;
mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;
pub use types::*;

use crate::domain::{NhsNumber, OdsCode};
use crate::release::{ReleaseRule, RuleSet};

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names by its scheme: `sqlite:` or `postgres:` /
    /// `postgresql:`. Anything else is refused rather than guessed.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StorageError::UnsupportedUrl),
        }
    }
}

/// Opens the database a URL names, creating an SQLite file (and its folder) if needed,
/// and brings its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStorage::connect(url).await?),
        Backend::Postgres => Arc::new(PostgresStorage::connect(url).await?),
    })
}

/// Errors from storage. The messages are for operators' logs and never contain patient
/// data; callers turn them into opaque errors before anything reaches a user.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the database URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("a stored value could not be read: {0}")]
    Corrupt(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("could not prepare the database folder: {0}")]
    Io(#[from] std::io::Error),
    /// A write that was part of a group commit (SQLite's feed deliveries) when the
    /// commit failed: nothing of it was stored.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
}

/// Everything the portal stores. See the module documentation for the rules every
/// implementation follows.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Answers once the database can run a query (for `/ready`).
    async fn ping(&self) -> Result<(), StorageError>;

    // --- Source organisations -------------------------------------------------------

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

    // --- Patients and the feed ------------------------------------------------------

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
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Patient, StorageError>;

    /// Applies one delivery from a source, all or nothing: patients are created or
    /// updated, each item is created, given a new version, or left unchanged when its
    /// content is identical to the current version, and the source's "last received"
    /// time moves on. Returns one outcome per item, in order.
    async fn apply_delivery(&self, delivery: Delivery) -> Result<Vec<ItemOutcome>, StorageError>;

    /// An attachment by its content address. Callers decide who may see it (through the
    /// item that refers to it); this only fetches the bytes.
    async fn get_attachment(&self, sha256: &str) -> Result<Option<Attachment>, StorageError>;

    /// How many of each sender's current items carry any of these labels (the items the
    /// portal never shows): for the sender's own reconciliation, never for patients.
    async fn count_labelled_items_by_sender(
        &self,
        labels: &[String],
    ) -> Result<Vec<(OrganisationId, u64)>, StorageError>;

    /// Held resources not yet resolved, oldest first (the service desk's queue).
    async fn list_held_resources(&self, limit: u32) -> Result<Vec<HeldResource>, StorageError>;

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

    /// The public id of a sender's item with this key, if it has sent one.
    async fn find_item_by_key(
        &self,
        sender: OrganisationId,
        key: &ItemKey,
    ) -> Result<Option<String>, StorageError>;

    /// Every stored version of a sender's item, oldest first, raw as received.
    async fn list_item_versions(
        &self,
        sender: OrganisationId,
        public_id: &str,
    ) -> Result<Vec<ItemVersion>, StorageError>;

    // --- Accounts and sessions ------------------------------------------------------

    /// Finds the account for an identity provider subject, creating it if new, and
    /// records the sign-in (and its audit row).
    async fn record_sign_in(&self, sign_in: NewSignIn) -> Result<Account, StorageError>;

    async fn create_session(&self, session: NewSession) -> Result<(), StorageError>;

    /// The session with this id hash and the account it belongs to, if it exists
    /// (expiry is the caller's decision). One query: every page request asks this.
    async fn find_session(&self, id_hash: &str)
    -> Result<Option<(Session, Account)>, StorageError>;

    async fn touch_session(
        &self,
        id_hash: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StorageError>;

    /// Ends a session, writing the given audit row with it.
    async fn delete_session(
        &self,
        id_hash: &str,
        audit: Option<NewAuditEvent>,
    ) -> Result<(), StorageError>;

    /// Removes sessions past their absolute expiry or idle since before `idle_before`.
    async fn delete_expired_sessions(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        idle_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StorageError>;

    /// Remembers a sign-in in progress until its callback.
    async fn create_login_attempt(&self, attempt: NewLoginAttempt) -> Result<(), StorageError>;

    /// Takes (reads and deletes) the sign-in in progress with this state hash. Each one
    /// can be taken once; attempts created before `not_before` are deleted unread.
    async fn take_login_attempt(
        &self,
        state_hash: &str,
        not_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<LoginAttempt>, StorageError>;

    // --- Release rules --------------------------------------------------------------

    /// The rule set in force: the newest version, or `None` before any was saved (the
    /// release engine then holds every result).
    async fn current_release_rules(&self) -> Result<Option<RuleSet>, StorageError>;

    /// Saves the whole rule table as a new version, with its audit row in the same
    /// transaction, and returns the version. Earlier versions are kept unchanged.
    async fn save_release_rules(
        &self,
        rules: &[ReleaseRule],
        changed_by: &str,
        audit: NewAuditEvent,
    ) -> Result<i64, StorageError>;

    // --- Privacy labels of stored items ----------------------------------------------

    /// The fingerprint of a setting as last applied to stored items (`None`: never).
    async fn applied_setting(&self, name: &str) -> Result<Option<String>, StorageError>;

    /// Applies a privacy code list to everything stored: each item's code-list labels
    /// become exactly those the list gives its current version, while its sender's own
    /// labels stay. Records `fingerprint` as the applied version of `setting` and writes
    /// the audit row, all in one transaction. Returns how many items' labels changed.
    async fn relabel_items(
        &self,
        code_list: &crate::privacy::CodeList,
        setting: &str,
        fingerprint: &str,
        audit: NewAuditEvent,
    ) -> Result<u64, StorageError>;

    // --- Audit ----------------------------------------------------------------------

    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StorageError>;

    /// The most recent audit events of any kind, newest first (for the service desk and
    /// for checking refusals, which concern no known patient).
    async fn list_recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StorageError>;

    /// The audit events about one patient's record, newest first.
    async fn list_audit_events(
        &self,
        patient_id: PatientId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StorageError>;
}
