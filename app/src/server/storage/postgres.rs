//! The production PostgreSQL backend: one pool for reads and writes; PostgreSQL handles
//! concurrent writers itself.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};

use super::portable::*;
use super::types::*;
use super::{Backend, StorageError};
use crate::audit::{ActorKind, AuditOutcome, action};
use crate::domain::{NhsNumber, OdsCode};
use crate::release::{ReleaseRule, RuleSet};

pub struct PostgresStorage {
    pool: Pool<Postgres>,
}

impl PostgresStorage {
    /// Connects to the database a `postgres:` URL names and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    fn writer(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }
}

impl_portable_storage!(PostgresStorage, Postgres, Backend::Postgres);
