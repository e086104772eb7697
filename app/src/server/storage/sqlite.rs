//! The embedded SQLite backend: a file in the data folder, write-ahead logging, foreign
//! keys on, and one writer connection (SQLite allows one writer at a time; a queue in the
//! pool is cheaper and fairer than retrying on "database is locked").

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::portable::*;
use super::types::*;
use super::{Backend, StorageError};
use crate::audit::{ActorKind, AuditOutcome, action};
use crate::domain::{NhsNumber, OdsCode};
use crate::release::{ReleaseRule, RuleSet};

pub struct SqliteStorage {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file a `sqlite:` URL names and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(folder) = options.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }
}

impl_portable_storage!(SqliteStorage, Sqlite, Backend::Sqlite);
