//! Storage: a trait per area ([`OrganisationStore`], [`PatientStore`], [`FeedStore`],
//! [`RecordStore`], [`AccountStore`], [`ReleaseRuleStore`], [`PrivacyStore`], [`ProxyStore`],
//! [`ChoiceStore`], [`DeskStore`], [`AccessRequestStore`], [`AuditStore`]), combined as [`Storage`], which the rest of the portal holds as
//! `Arc<dyn Storage>`. Each area's file here holds its trait and the values that cross
//! it (`New*` for what goes in, plain names for what comes out); its SQL is in
//! `sql/<area>.rs`. One implementation, [`SqlStorage`], serves both databases: SQLite
//! (the embedded default, `sqlite.rs`) and PostgreSQL (production, `postgres.rs`),
//! chosen from the database URL by [`connect`].
//!
//! Each method is one unit of work: it opens its own transaction and, where the work is
//! something the audit trail must record, writes the audit row in that same transaction,
//! so that an action and its audit row are committed together or not at all. Only
//! connection set-up and the DDL in `migrations/sqlite` and `migrations/postgres`
//! differ between the backends. Times are stored as epoch milliseconds (UTC).
//!
//! To add an area: its trait and types in `<area>.rs`, its SQL in `sql/<area>.rs`
//! (`impl <Area>Store for SqlStorage`), its trait among [`Storage`]'s supertraits, and
//! its stories in `app/tests/storage/<area>.rs`, run on both backends.

mod access_requests;
mod accounts;
mod audit;
mod choices;
mod desk;
mod feed;
mod organisations;
mod patients;
mod postgres;
mod privacy;
mod proxy;
mod records;
mod release_rules;
mod sql;
mod sqlite;
mod sqlite_direct;

use std::sync::Arc;

use async_trait::async_trait;

pub use access_requests::*;
pub use accounts::*;
pub use audit::{AuditStore, PatientLogPage, PatientLogQuery, PatientLogRow, UnsealedRows};
pub use choices::*;
pub use desk::*;
pub use feed::*;
pub use organisations::*;
pub use patients::*;
pub use privacy::PrivacyStore;
pub use proxy::*;
pub use records::*;
pub use release_rules::ReleaseRuleStore;
pub use sql::SqlStorage;

// The entities the rules reason about are pure types, defined outside storage so that
// they compile for the browser too; storage takes and returns them.
pub use crate::audit::{AuditEvent, NewAuditEvent};
pub use crate::domain::{
    Account, AccountId, AccountRole, Organisation, OrganisationId, Patient, PatientId,
};
pub use crate::records::RecordItem;

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
    connect_as(url, None).await
}

/// Opens a database the portal has already migrated, changing nothing in its schema:
/// for a check that only reads (`server audit verify`), which may run as the portal's
/// restricted role. An SQLite file must exist already; it is brought up to date as by
/// [`connect`] (it has no roles).
pub async fn open_existing(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => {
            // A mistyped path must not become a new, empty database that checks out.
            if !sqlite::database_file_exists(url)? {
                return Err(StorageError::NoSuchDatabase);
            }
            Arc::new(sqlite::connect(url).await?)
        }
        Backend::Postgres => Arc::new(postgres::connect(url, false).await?),
    })
}

/// As [`connect`], except that on PostgreSQL a `migration_url` (the schema owner's)
/// brings the schema up to date and `url` (the portal's own role, which cannot change
/// the audit trail) is only connected. SQLite has no roles: `migration_url` must be
/// unset there.
pub async fn connect_as(
    url: &str,
    migration_url: Option<&str>,
) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match (Backend::from_url(url)?, migration_url) {
        (Backend::Sqlite, None) => Arc::new(sqlite::connect(url).await?),
        (Backend::Sqlite, Some(_)) => return Err(StorageError::MigrationUrlWithoutRoles),
        (Backend::Postgres, None) => Arc::new(postgres::connect(url, true).await?),
        (Backend::Postgres, Some(owner)) => {
            if Backend::from_url(owner)? != Backend::Postgres {
                return Err(StorageError::MigrationUrlWithoutRoles);
            }
            postgres::migrate(owner).await?;
            Arc::new(postgres::connect(url, false).await?)
        }
    })
}

/// Errors from storage. The messages are for operators' logs and never contain patient
/// data; callers turn them into opaque errors before anything reaches a user.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the database URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("a migration URL is for PostgreSQL, with a PostgreSQL database URL")]
    MigrationUrlWithoutRoles,
    #[error("there is no database file at that URL")]
    NoSuchDatabase,
    #[error(
        "the database role cannot migrate the schema: set DATABASE_MIGRATION_URL to the schema owner's URL (docs/operations.md)"
    )]
    MigrationNotPermitted,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("a stored value could not be read: {0}")]
    Corrupt(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From SQLite's hot reads, which bypass sqlx (`sqlite_direct.rs`).
    #[error("database error: {0}")]
    DirectRead(#[from] rusqlite::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("could not prepare the database folder: {0}")]
    Io(#[from] std::io::Error),
    /// A write that was part of a group commit (SQLite's feed deliveries and audit
    /// rows) when the group failed: nothing of it was stored. `transient` when the
    /// failure was the database being unavailable ([`StorageError::is_unavailable`]),
    /// so that the same write may work later.
    #[error("the write was not committed: {reason}")]
    NotCommitted { reason: String, transient: bool },
}

impl StorageError {
    /// What the callers of a group that failed with this error each hear.
    pub(crate) fn not_committed(&self) -> StorageError {
        StorageError::NotCommitted {
            reason: self.to_string(),
            transient: self.is_unavailable(),
        }
    }

    /// The database could not be reached or could not take the write just now: the
    /// connection failed or was cut (PostgreSQL restarting, a network fault), the pool
    /// gave up waiting, the server is shutting down or out of resources, or SQLite's
    /// disk is full or its file cannot be written. Nothing was done, and the same
    /// request should work once the database is back: callers answer 503, not 500.
    /// A group commit that failed so (`NotCommitted` and transient) is one of these.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::Database(error) => database_unavailable(error),
            StorageError::DirectRead(error) => sqlite_direct::unavailable(error),
            StorageError::NotCommitted { transient, .. } => *transient,
            StorageError::Io(_) => true,
            _ => false,
        }
    }
}

fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => match error.code() {
            // SQLite's result codes are numbers; the primary code is the low byte:
            // BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14.
            Some(code) if code.bytes().all(|b| b.is_ascii_digit()) => code
                .parse::<u32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)),
            // PostgreSQL's SQLSTATE: class 08 (connection exception), 53 (insufficient
            // resources: disk full, out of memory, too many connections), 57P01-03
            // (shutting down, crash recovery, cannot connect now).
            Some(code) => {
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(&*code, "57P01" | "57P02" | "57P03")
            }
            None => false,
        },
        _ => false,
    }
}

/// Everything the portal stores: every area's trait. See the module documentation for
/// the rules every implementation follows.
#[async_trait]
pub trait Storage:
    OrganisationStore
    + PatientStore
    + FeedStore
    + RecordStore
    + AccountStore
    + ReleaseRuleStore
    + PrivacyStore
    + ProxyStore
    + ProxyApplicationStore
    + ChoiceStore
    + AccessRequestStore
    + DeskStore
    + AuditStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Answers once the database can run a query (for `/ready`).
    async fn ping(&self) -> Result<(), StorageError>;
}
