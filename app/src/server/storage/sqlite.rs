//! The embedded SQLite backend: a file in the data folder, write-ahead logging, foreign
//! keys on, and one writer connection (SQLite allows one writer at a time; a queue in the
//! pool is cheaper and fairer than retrying on "database is locked").
//!
//! Two things follow from the single writer. Reads never queue behind it: a patient's
//! record is read on the reader pool, and the audit row for that read is written on the
//! writer before the items are handed back, so nothing is ever shown unaudited (on
//! PostgreSQL the read and its audit row share one transaction). And feed deliveries
//! that arrive while the writer is busy are committed together: each one is applied
//! inside a savepoint of one shared transaction, so one delivery's failure rolls back
//! only that delivery, and the commit (the costly step) is paid once per group instead
//! of once per delivery. Every caller still gets its answer only after the commit.

use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};
use tokio::sync::oneshot;

use super::portable::*;
use super::types::*;
use super::{Backend, StorageError};
use crate::audit::{ActorKind, AuditOutcome, action};
use crate::domain::{NhsNumber, OdsCode};
use crate::release::{ReleaseRule, RuleSet};

/// The most deliveries one group commit takes; the rest wait for the next.
const MAX_DELIVERIES_PER_COMMIT: usize = 64;

pub struct SqliteStorage {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    deliveries: Arc<DeliveryQueue>,
    rule_sets: RuleSetCache,
}

/// Deliveries waiting for the writer, and the turn to commit them.
#[derive(Default)]
struct DeliveryQueue {
    waiting: Mutex<Vec<PendingDelivery>>,
    turn: tokio::sync::Mutex<()>,
}

type DeliveryAnswer = Result<Vec<ItemOutcome>, StorageError>;

struct PendingDelivery {
    delivery: Delivery,
    answer: oneshot::Sender<DeliveryAnswer>,
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
        Ok(Self {
            writer,
            reader,
            deliveries: Arc::default(),
            rule_sets: RuleSetCache::default(),
        })
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }

    /// A read of a patient's record starts on the reader pool, so reads run side by side
    /// instead of queueing for the writer.
    async fn begin_audited_read(&self) -> Result<Transaction<'static, Sqlite>, StorageError> {
        Ok(self.reader.begin().await?)
    }

    /// Ends the read and writes its audit row. The caller returns the items only if this
    /// succeeds, so a read whose audit row could not be written shows nothing.
    async fn finish_audited_read(
        &self,
        read: Transaction<'static, Sqlite>,
        audit: NewAuditEvent,
    ) -> Result<(), StorageError> {
        read.commit().await?;
        let mut writer = self.writer.acquire().await?;
        let writer = &mut *writer;
        insert_audit!(writer, audit);
        Ok(())
    }

    /// Queues a delivery for the next group commit and waits for its answer. Whoever
    /// takes the turn commits everything queued so far (its own delivery included, unless
    /// an earlier turn already took it).
    async fn apply_delivery_now(&self, delivery: Delivery) -> DeliveryAnswer {
        let (answer, answered) = oneshot::channel();
        self.queue().push(PendingDelivery { delivery, answer });
        {
            let _turn = self.deliveries.turn.lock().await;
            let batch: Vec<PendingDelivery> = {
                let mut waiting = self.queue();
                let take = waiting.len().min(MAX_DELIVERIES_PER_COMMIT);
                waiting.drain(..take).collect()
            };
            if !batch.is_empty() {
                // Spawned, so that a caller who goes away mid-commit (a dropped
                // connection) cannot abandon the other callers' deliveries.
                let _ = tokio::spawn(commit_deliveries(self.writer.clone(), batch)).await;
            }
        }
        answered.await.unwrap_or(Err(StorageError::NotCommitted(
            "the commit was abandoned".to_owned(),
        )))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<PendingDelivery>> {
        self.deliveries
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Applies each delivery in a savepoint of one transaction and commits once; each
/// caller hears its own outcome, or that the commit failed.
async fn commit_deliveries(writer: Pool<Sqlite>, batch: Vec<PendingDelivery>) {
    let mut tx = match writer.begin().await {
        Ok(tx) => tx,
        Err(error) => {
            let reason = StorageError::from(error).to_string();
            for pending in batch {
                let _ = pending
                    .answer
                    .send(Err(StorageError::NotCommitted(reason.clone())));
            }
            return;
        }
    };
    let mut applied = Vec::with_capacity(batch.len());
    for pending in batch {
        let outcome = apply_in_savepoint(&mut tx, &pending.delivery).await;
        applied.push((pending.answer, outcome));
    }
    match tx.commit().await {
        Ok(()) => {
            for (answer, outcome) in applied {
                let _ = answer.send(outcome);
            }
        }
        Err(error) => {
            let reason = StorageError::from(error).to_string();
            for (answer, _) in applied {
                let _ = answer.send(Err(StorageError::NotCommitted(reason.clone())));
            }
        }
    }
}

async fn apply_in_savepoint(
    tx: &mut Transaction<'static, Sqlite>,
    delivery: &Delivery,
) -> DeliveryAnswer {
    sqlx::query("SAVEPOINT delivery").execute(&mut **tx).await?;
    match SqliteStorage::apply_delivery_within(tx, delivery).await {
        Ok(outcomes) => {
            sqlx::query("RELEASE SAVEPOINT delivery")
                .execute(&mut **tx)
                .await?;
            Ok(outcomes)
        }
        Err(error) => {
            sqlx::query("ROLLBACK TO SAVEPOINT delivery")
                .execute(&mut **tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT delivery")
                .execute(&mut **tx)
                .await?;
            Err(error)
        }
    }
}

impl_portable_storage!(SqliteStorage, Sqlite, Backend::Sqlite);
