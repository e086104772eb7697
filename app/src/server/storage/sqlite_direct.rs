//! SQLite's hot reads on the calling thread: the session behind every request and a
//! patient's record, through rusqlite, beside sqlx.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is handed to
//! that thread and its rows handed back, two thread switches and a wake-up each time. On
//! the pages every patient opens, those hand-overs cost more than the statements (a
//! profile in docs/benchmarks.md: a quarter of the information page, whose only read is
//! the session), and a record was read as one JSON value built in SQL and parsed again
//! in Rust only to save a hand-over per row. Here a read runs where it is asked, on a
//! read-only connection taken from a small stack: no hand-over, and rows read as rows.
//!
//! What that costs is that a read occupies the server thread that asked for it while it
//! runs. These reads are short and the file is in the operating system's cache on a
//! serving machine (a patient's record is a few hundred rows found through an index);
//! a read that has to wait for the disk holds one of the runtime's threads for that
//! wait. Everything else on SQLite (the writer, the migrations, the rarer reads) stays
//! on sqlx, which links this same SQLite: cargo allows one crate that links `sqlite3`,
//! and rusqlite 0.39 is built on the `libsqlite3-sys` sqlx-sqlite uses.
//!
//! The connections are opened read-only, so nothing here can write; the rows a read
//! shows are still audited by the caller through the one writer, as before.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StorageError;

/// How many idle connections are kept. A read holds one only while it runs, on a
/// runtime thread, so more than a few are never busy at once; any beyond this are
/// opened when needed and closed afterwards.
const IDLE_CONNECTIONS: usize = 8;

/// How long a read waits on a lock before giving up. Readers of a database in
/// write-ahead-log mode are not blocked by the writer; this covers only the moments
/// SQLite itself needs (opening the log, a checkpoint's restart), and must stay short
/// because the wait holds a server thread.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// A stack of read-only rusqlite connections to one database file.
pub(super) struct DirectReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReaders {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read`, several statements, inside one read transaction, so that all of
    /// them see one snapshot of the database.
    pub(super) fn read_snapshot<R>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        self.read(|connection| {
            let snapshot = connection.unchecked_transaction()?;
            let answer = read(&snapshot)?;
            // Ends the read transaction; nothing was written.
            snapshot.commit()?;
            Ok(answer)
        })
    }

    /// Runs `read` on a read-only connection: an idle one, or a new one when none is
    /// idle. One statement needs nothing more, as SQLite runs each statement on one
    /// snapshot by itself. The connection goes back to the idle stack afterwards; one
    /// whose read failed is closed rather than kept.
    pub(super) fn read<R>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let taken = self.idle().pop();
        let connection = match taken {
            Some(connection) => connection,
            None => self.open()?,
        };
        let answer = read(&connection)?;
        let mut idle = self.idle();
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(connection);
        }
        Ok(answer)
    }

    fn open(&self) -> Result<Connection, StorageError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // The statements of the hot reads, and the few shapes of a filtered record read.
        connection.set_prepared_statement_cache_capacity(32);
        Ok(connection)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a rusqlite error means the database could not be read just now (busy,
/// locked, an I/O error, disk full, cannot open): the same result codes as sqlx's
/// errors are judged by in [`super::StorageError::is_unavailable`].
pub(super) fn unavailable(error: &rusqlite::Error) -> bool {
    error
        .sqlite_error()
        .is_some_and(|error| matches!(error.extended_code & 0xff, 5 | 6 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, PathBuf) {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("portal.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);
                 INSERT INTO notes (text) VALUES ('first');",
            )
            .unwrap();
        (folder, path)
    }

    #[test]
    fn reads_see_the_database_and_connections_are_reused() {
        let (_folder, path) = database();
        let readers = DirectReaders::new(path);
        for _ in 0..3 {
            let text: String = readers
                .read(|c| Ok(c.query_row("SELECT text FROM notes", [], |row| row.get(0))?))
                .unwrap();
            assert_eq!(text, "first");
        }
        assert_eq!(
            readers.idle().len(),
            1,
            "one connection, taken and put back"
        );
    }

    #[test]
    fn the_connections_cannot_write() {
        let (_folder, path) = database();
        let readers = DirectReaders::new(path);
        let refused = readers
            .read(|c| Ok(c.execute("INSERT INTO notes (text) VALUES ('second')", [])?))
            .unwrap_err();
        assert!(matches!(refused, StorageError::DirectRead(_)), "{refused}");
        assert!(!refused.is_unavailable(), "a refused write is no outage");
        assert!(
            readers.idle().is_empty(),
            "a connection whose read failed is closed"
        );
        let refused = readers
            .read_snapshot(|c| Ok(c.execute("DELETE FROM notes", [])?))
            .unwrap_err();
        assert!(matches!(refused, StorageError::DirectRead(_)), "{refused}");
    }

    #[test]
    fn a_snapshot_read_sees_one_state_of_the_database_throughout() {
        let (_folder, path) = database();
        let readers = DirectReaders::new(path.clone());
        let (before, after): (i64, i64) = readers
            .read_snapshot(|c| {
                let before = c.query_row("SELECT COUNT(*) FROM notes", [], |row| row.get(0))?;
                Connection::open(&path)?
                    .execute("INSERT INTO notes (text) VALUES ('second')", [])?;
                let after = c.query_row("SELECT COUNT(*) FROM notes", [], |row| row.get(0))?;
                Ok((before, after))
            })
            .unwrap();
        assert_eq!((before, after), (1, 1));
        let now: i64 = readers
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM notes", [], |row| row.get(0))?))
            .unwrap();
        assert_eq!(now, 2);
    }

    #[test]
    fn a_database_that_cannot_be_opened_is_unavailable_not_an_internal_error() {
        let folder = tempfile::tempdir().unwrap();
        let readers = DirectReaders::new(folder.path().join("missing.db"));
        let failed = readers.read(|_| Ok(())).unwrap_err();
        assert!(failed.is_unavailable(), "{failed}");
    }
}
