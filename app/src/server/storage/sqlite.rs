//! The embedded SQLite backend: a file in the data folder, write-ahead logging, foreign
//! keys on, and one writer connection (SQLite allows one writer at a time; a queue in the
//! pool is cheaper and fairer than retrying on "database is locked").
//!
//! Two things follow from the single writer. Reads never queue behind it: a patient's
//! record is read on a read-only connection (a direct one, `sqlite_direct.rs`), and the
//! audit row for that read is written on the writer before the items are handed back,
//! so nothing is ever shown unaudited (on PostgreSQL the read and its audit row share
//! one transaction). And feed deliveries
//! that arrive while the writer is busy are committed together: each one is applied
//! inside a savepoint of one shared transaction, so one delivery's failure rolls back
//! only that delivery, and the commit (the costly step) is paid once per group instead
//! of once per delivery. The audit rows of record reads are grouped the same way: the
//! rows waiting when the writer comes free go in as one multi-row insert. Every caller
//! still gets its answer only after the commit.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement, and the
//! liveness ping a pool sends when it hands out a connection, is a round trip between
//! threads. The pools here skip that ping: a connection to a local file does not go
//! stale the way a network connection does. The two reads every page makes, its session
//! and a patient's record, skip the round trip altogether: they run on the calling
//! thread through rusqlite (`sqlite_direct.rs`).

use std::future::Future;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};
use tokio::sync::oneshot;

use super::StorageError;
use super::feed::{Delivery, ItemOutcome};
use super::sql::{
    Conn, Handle, Pools, Query, SqlStorage, apply_delivery_within, insert_audit_rows,
};
use super::sqlite_direct::DirectReaders;
use crate::audit::NewAuditEvent;

/// The most deliveries one group commit takes; the rest wait for the next.
const MAX_DELIVERIES_PER_COMMIT: usize = 64;
/// The most audit rows one insert takes (10 parameters a row, far inside SQLite's limit).
const MAX_AUDIT_ROWS_PER_INSERT: usize = 256;

/// SQLite's two pools, the connections of its hot reads and the queues for its one
/// writer.
pub(super) struct SqlitePools {
    pub(super) writer: Pool<Sqlite>,
    pub(super) reader: Pool<Sqlite>,
    /// The session and record reads, on the calling thread (`sqlite_direct.rs`).
    pub(super) direct: DirectReaders,
    deliveries: WriterQueue<Delivery, Vec<ItemOutcome>>,
    audits: WriterQueue<NewAuditEvent, ()>,
}

/// Work waiting for the one writer, and the turn to write it: whoever takes the turn
/// writes everything waiting (up to a limit) as one group.
struct WriterQueue<T, A> {
    waiting: Mutex<Vec<Pending<T, A>>>,
    turn: tokio::sync::Mutex<()>,
}

/// One caller's work and where its own answer goes.
struct Pending<T, A> {
    work: T,
    answer: oneshot::Sender<Result<A, StorageError>>,
}

impl<T, A> Default for WriterQueue<T, A> {
    fn default() -> Self {
        Self {
            waiting: Mutex::default(),
            turn: tokio::sync::Mutex::default(),
        }
    }
}

impl<T: Send + 'static, A: Send + 'static> WriterQueue<T, A> {
    /// Queues `work` and waits for its answer. Whoever takes the turn hands everything
    /// queued so far (its own work included, unless an earlier turn already took it) to
    /// `write`, which must answer every caller in the group.
    async fn submit<F, Fut>(
        &self,
        work: T,
        max_per_group: usize,
        write: F,
    ) -> Result<A, StorageError>
    where
        F: FnOnce(Vec<Pending<T, A>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        self.waiting().push(Pending { work, answer });
        {
            let _turn = self.turn.lock().await;
            let group: Vec<Pending<T, A>> = {
                let mut waiting = self.waiting();
                let take = waiting.len().min(max_per_group);
                waiting.drain(..take).collect()
            };
            if !group.is_empty() {
                // Spawned, so that a caller who goes away mid-write (a dropped
                // connection) cannot abandon the other callers' work.
                let _ = tokio::spawn(write(group)).await;
            }
        }
        answered.await.unwrap_or(Err(StorageError::NotCommitted {
            reason: "the commit was abandoned".to_owned(),
            transient: true,
        }))
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Pending<T, A>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type DeliveryAnswer = Result<Vec<ItemOutcome>, StorageError>;

/// Whether the writer connection may go back to the pool, checked each time it is
/// released; one that may not is closed, and the next write opens a fresh one.
///
/// When SQLite cannot commit because its disk is full, it rolls the transaction back
/// itself. sqlx then tries its own ROLLBACK, which fails ("no transaction is active"),
/// and goes on counting a transaction that no longer exists: its next `begin` becomes a
/// SAVEPOINT, and once any transaction is dropped uncommitted, a savepoint is left open
/// under every later "commit", so that nothing written on this connection is committed
/// again while every caller is told it was (found by the disk-full fault check,
/// docs/faults.md). The ping waits for any rollback queued by a dropped transaction;
/// after it, a connection that still counts a transaction is out of step with SQLite.
async fn writer_still_sound(connection: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    connection.ping().await?;
    if connection.is_in_transaction() {
        tracing::warn!("the SQLite writer connection lost track of its transaction; reopening it");
        return Ok(false);
    }
    Ok(true)
}

/// Whether the database file a `sqlite:` URL names is there.
pub(super) fn database_file_exists(url: &str) -> Result<bool, StorageError> {
    Ok(SqliteConnectOptions::from_str(url)?
        .get_filename()
        .is_file())
}

/// Opens (creating if needed) the database file a `sqlite:` URL names and migrates it.
pub(super) async fn connect(url: &str) -> Result<SqlStorage, StorageError> {
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
        .test_before_acquire(false)
        .after_release(|connection, _| Box::pin(writer_still_sound(connection)))
        .connect_with(options.clone())
        .await?;
    sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
    let path = options.get_filename().to_path_buf();
    let reader = SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options.read_only(true))
        .await?;
    Ok(SqlStorage::new(Pools::Sqlite(Box::new(SqlitePools {
        writer,
        reader,
        direct: DirectReaders::new(path),
        deliveries: WriterQueue::default(),
        audits: WriterQueue::default(),
    }))))
}

impl SqlitePools {
    /// Queues an audit row for the next group insert and waits until it is written.
    pub(super) async fn append_audit(&self, audit: NewAuditEvent) -> Result<(), StorageError> {
        let writer = self.writer.clone();
        self.audits
            .submit(audit, MAX_AUDIT_ROWS_PER_INSERT, |group| {
                insert_audit_group(writer, group)
            })
            .await
    }

    /// Queues a delivery for the next group commit and waits for its answer.
    pub(super) async fn apply_delivery(&self, delivery: Delivery) -> DeliveryAnswer {
        let writer = self.writer.clone();
        self.deliveries
            .submit(delivery, MAX_DELIVERIES_PER_COMMIT, |group| {
                commit_deliveries(writer, group)
            })
            .await
    }
}

/// Writes a group of audit rows in one statement (one commit); each caller hears that
/// its row is written, or why not.
async fn insert_audit_group(writer: Pool<Sqlite>, group: Vec<Pending<NewAuditEvent, ()>>) {
    let (events, answers): (Vec<_>, Vec<_>) = group.into_iter().map(|p| (p.work, p.answer)).unzip();
    let outcome = match writer.acquire().await {
        Ok(connection) => {
            let mut conn = Conn::Sqlite(Handle::Pooled(connection));
            insert_audit_rows(&events).execute(&mut conn).await
        }
        Err(error) => Err(error),
    };
    let outcome = outcome.map_err(StorageError::from);
    for answer in answers {
        let _ = answer.send(match &outcome {
            Ok(_) => Ok(()),
            Err(error) => Err(error.not_committed()),
        });
    }
}

/// Applies each delivery in a savepoint of one transaction and commits once; each
/// caller hears its own outcome, or that the commit failed.
async fn commit_deliveries(writer: Pool<Sqlite>, batch: Vec<Pending<Delivery, Vec<ItemOutcome>>>) {
    let mut tx = match writer.begin().await {
        Ok(tx) => Conn::Sqlite(Handle::Transaction(tx)),
        Err(error) => {
            let failed = StorageError::from(error);
            for pending in batch {
                let _ = pending.answer.send(Err(failed.not_committed()));
            }
            return;
        }
    };
    let mut applied = Vec::with_capacity(batch.len());
    let mut unavailable: Option<String> = None;
    for pending in batch {
        // Once the database could not take a write (its disk full), SQLite may have
        // rolled the whole transaction back: the rest of the group would then run
        // outside it, each committed on its own while its sender is told it was not.
        // They are not applied at all.
        if let Some(reason) = &unavailable {
            let _ = pending.answer.send(Err(StorageError::NotCommitted {
                reason: reason.clone(),
                transient: true,
            }));
            continue;
        }
        let outcome = apply_in_savepoint(&mut tx, &pending.work).await;
        if let Err(error) = &outcome
            && error.is_unavailable()
        {
            unavailable = Some(error.to_string());
        }
        applied.push((pending.answer, outcome));
    }
    match tx.commit().await {
        Ok(()) => {
            for (answer, outcome) in applied {
                let _ = answer.send(outcome);
            }
        }
        Err(failed) => {
            for (answer, _) in applied {
                let _ = answer.send(Err(failed.not_committed()));
            }
        }
    }
}

async fn apply_in_savepoint(tx: &mut Conn, delivery: &Delivery) -> DeliveryAnswer {
    Query::new("SAVEPOINT delivery").execute(tx).await?;
    match apply_delivery_within(tx, delivery).await {
        Ok(outcomes) => {
            Query::new("RELEASE SAVEPOINT delivery").execute(tx).await?;
            Ok(outcomes)
        }
        Err(error) => {
            Query::new("ROLLBACK TO SAVEPOINT delivery")
                .execute(tx)
                .await?;
            Query::new("RELEASE SAVEPOINT delivery").execute(tx).await?;
            Err(error)
        }
    }
}
