//! The production PostgreSQL backend: one pool for reads and writes; PostgreSQL handles
//! concurrent writers itself. A read of a patient's record and its audit row share one
//! transaction, and each feed delivery is a transaction of its own.
//!
//! sqlx must be 0.9.1 or later (the workspace requires it): 0.9.0 left Nagle's algorithm
//! on for its TCP connections, and a statement too large for one write (a letter's PDF)
//! then waited about 40 ms for PostgreSQL's delayed acknowledgement, twice per letter
//! (docs/benchmarks.md, 5 December).

use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};

use super::StorageError;
use super::sql::{Pools, SqlStorage};

/// Wraps a query of item rows so that they come back as one JSON array in one row; see
/// `sql/records.rs`, which puts them in order.
pub(super) const ITEMS_AS_JSON: (&str, &str) = ("SELECT json_agg(t)::text FROM (", ") t");
/// An item's labels as an array (the `i` of the item query), a JSON array in `json_agg`.
pub(super) const ITEM_LABELS_AS_JSON: &str =
    "ARRAY(SELECT label FROM record_item_labels l WHERE l.item_id = i.id ORDER BY label)";

/// How long a request waits for a connection before it is refused as unavailable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) struct PostgresPool {
    pub(super) pool: Pool<Postgres>,
}

/// Connects to the database a `postgres:` URL names, migrating it first if `migrate`.
pub(super) async fn connect(url: &str, migrate: bool) -> Result<SqlStorage, StorageError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        // While the database is away, a request waits this long for a connection, then
        // is answered 503 (`StorageError::is_unavailable`), rather than sqlx's 30 s.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await?;
    if migrate {
        run_migrations(&pool).await?;
    }
    Ok(SqlStorage::new(Pools::Postgres(PostgresPool { pool })))
}

/// Brings the schema up to date as the role `owner_url` names, on a connection of its
/// own that is closed before the portal's pool opens.
pub(super) async fn migrate(owner_url: &str) -> Result<(), StorageError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(owner_url)
        .await?;
    run_migrations(&pool).await?;
    pool.close().await;
    Ok(())
}

async fn run_migrations(pool: &Pool<Postgres>) -> Result<(), StorageError> {
    if let Err(error) = sqlx::migrate!("../migrations/postgres").run(pool).await {
        return Err(if not_permitted(&error) {
            StorageError::MigrationNotPermitted
        } else {
            error.into()
        });
    }
    // Tables a migration added are granted to the portal's role; the append-only ones
    // stay revoked (migration 0012).
    sqlx::query("SELECT portal_grant_application_role()")
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether migrating failed for want of privilege (SQLSTATE 42501): the portal's own
/// restricted role was asked to migrate.
fn not_permitted(error: &sqlx::migrate::MigrateError) -> bool {
    use sqlx::migrate::MigrateError;
    let (MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _)) = error else {
        return false;
    };
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "42501")
}
