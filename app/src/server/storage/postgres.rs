//! The production PostgreSQL backend: one pool for reads and writes; PostgreSQL handles
//! concurrent writers itself. A read of a patient's record and its audit row share one
//! transaction, and each feed delivery is a transaction of its own.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres, Transaction};

use super::portable::*;
use super::types::*;
use super::{Backend, StorageError};
use crate::audit::{ActorKind, action};
use crate::domain::{NhsNumber, OdsCode};
use crate::release::{ReleaseRule, RuleSet};

/// Wraps a query of item rows (newest first) so that they come back as one JSON array
/// in one row, in the same order; see `select_record_items`.
const ITEMS_AS_JSON: (&str, &str) = (
    "SELECT json_agg(t ORDER BY t.occurred_at DESC, t.id DESC)::text FROM (",
    ") t",
);
/// An item's labels as an array (the `i` of the item query), a JSON array in `json_agg`.
const ITEM_LABELS_AS_JSON: &str =
    "ARRAY(SELECT label FROM record_item_labels l WHERE l.item_id = i.id ORDER BY label)";

pub struct PostgresStorage {
    pool: Pool<Postgres>,
    rule_sets: RuleSetCache,
}

impl PostgresStorage {
    /// Connects to the database a `postgres:` URL names and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            rule_sets: RuleSetCache::default(),
        })
    }

    fn writer(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    async fn begin_audited_read(&self) -> Result<Transaction<'static, Postgres>, StorageError> {
        Ok(self.pool.begin().await?)
    }

    /// Writes the read's audit row in the read's own transaction and commits both.
    async fn finish_audited_read(
        &self,
        mut tx: Transaction<'static, Postgres>,
        audit: NewAuditEvent,
    ) -> Result<(), StorageError> {
        insert_audit!(tx, audit);
        tx.commit().await?;
        Ok(())
    }

    async fn apply_delivery_now(
        &self,
        delivery: Delivery,
    ) -> Result<Vec<ItemOutcome>, StorageError> {
        let mut tx = self.pool.begin().await?;
        let outcomes = Self::apply_delivery_within(&mut tx, &delivery).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

impl_portable_storage!(PostgresStorage, Postgres, Backend::Postgres);
