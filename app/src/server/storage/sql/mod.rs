//! The one implementation of every storage area, [`SqlStorage`], written once for both
//! databases, and the thin layer that lets it be written once.
//!
//! SQLite and PostgreSQL agree on all the SQL the portal uses (`$n` placeholders,
//! `RETURNING`, `ON CONFLICT … DO UPDATE`, `excluded.`), so each area's statements live
//! in one file here (`organisations.rs`, `feed.rs`, …) and run unchanged on either
//! database. They are built as a [`Query`] of backend-neutral parameters and run on a
//! [`Conn`], which hands them to sqlx for whichever database it holds. That costs one
//! `match` per statement and keeps the area code plain Rust that rust-analyzer and
//! rustfmt can reach: no generic bounds over sqlx's traits, no implementation inside a
//! macro. What differs between the backends (connection set-up, SQLite's single writer
//! and group commits, the JSON functions) is in `../sqlite.rs` and `../postgres.rs`.
//!
//! Rows are read into each area's private `*Row` structs and converted to the public
//! types, rejecting anything the database should never contain.

mod access_requests;
mod accounts;
mod audit;
mod choices;
mod desk;
mod feed;
mod organisations;
mod patients;
mod privacy;
mod proxy;
mod records;
mod release_rules;

use std::borrow::Cow;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Database, FromRow, Postgres, Sqlite};

use super::postgres::PostgresPool;
use super::sqlite::SqlitePools;
use super::{Backend, Storage, StorageError};
use crate::release::RuleSet;

pub(super) use audit::insert_audit_rows;
pub(super) use feed::apply_delivery_within;

/// Every storage area, on SQLite or PostgreSQL.
pub struct SqlStorage {
    database: Pools,
    /// The release rules last read, kept by version (see [`RuleSetCache`]).
    rule_sets: RuleSetCache,
}

/// The connections of one of the two backends.
pub(super) enum Pools {
    /// Boxed: its pools, queues and direct connections are far larger than
    /// PostgreSQL's one pool handle.
    Sqlite(Box<SqlitePools>),
    Postgres(PostgresPool),
}

impl SqlStorage {
    pub(super) fn new(database: Pools) -> Self {
        Self {
            database,
            rule_sets: RuleSetCache::default(),
        }
    }

    fn backend(&self) -> Backend {
        match self.database {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for reads. On SQLite it comes from the read-only pool, so reads never
    /// queue behind the one writer.
    async fn read(&self) -> Result<Conn, StorageError> {
        Ok(match &self.database {
            Pools::Sqlite(pools) => Conn::Sqlite(Handle::Pooled(pools.reader.acquire().await?)),
            Pools::Postgres(pool) => Conn::Postgres(Handle::Pooled(pool.pool.acquire().await?)),
        })
    }

    /// A transaction for one unit of work that writes; [`Conn::commit`] ends it.
    async fn write(&self) -> Result<Conn, StorageError> {
        Ok(match &self.database {
            Pools::Sqlite(pools) => Conn::Sqlite(Handle::Transaction(pools.writer.begin().await?)),
            Pools::Postgres(pool) => Conn::Postgres(Handle::Transaction(pool.pool.begin().await?)),
        })
    }

    /// A connection for one statement that writes, committed on its own (no transaction
    /// round trips). On SQLite it is the one writer.
    async fn write_one(&self) -> Result<Conn, StorageError> {
        Ok(match &self.database {
            Pools::Sqlite(pools) => Conn::Sqlite(Handle::Pooled(pools.writer.acquire().await?)),
            Pools::Postgres(pool) => Conn::Postgres(Handle::Pooled(pool.pool.acquire().await?)),
        })
    }
}

#[async_trait]
impl Storage for SqlStorage {
    fn backend(&self) -> Backend {
        SqlStorage::backend(self)
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Query::new("SELECT 1")
            .execute(&mut self.read().await?)
            .await?;
        Ok(())
    }
}

/// A connection of either backend: pooled for reads, or a transaction.
pub(super) enum Conn {
    Sqlite(Handle<Sqlite>),
    Postgres(Handle<Postgres>),
}

/// A pooled connection, or a transaction on one.
pub(super) enum Handle<DB: Database> {
    Pooled(PoolConnection<DB>),
    Transaction(sqlx::Transaction<'static, DB>),
}

impl<DB: Database> Handle<DB> {
    fn connection(&mut self) -> &mut DB::Connection {
        match self {
            Handle::Pooled(connection) => connection,
            Handle::Transaction(transaction) => transaction,
        }
    }
}

impl Conn {
    /// Commits the transaction this connection holds (nothing to do for a plain read).
    pub(super) async fn commit(self) -> Result<(), StorageError> {
        match self {
            Conn::Sqlite(Handle::Transaction(transaction)) => transaction.commit().await?,
            Conn::Postgres(Handle::Transaction(transaction)) => transaction.commit().await?,
            Conn::Sqlite(Handle::Pooled(_)) | Conn::Postgres(Handle::Pooled(_)) => {}
        }
        Ok(())
    }
}

/// A row type both backends can decode: a `#[derive(sqlx::FromRow)]` struct or a tuple of
/// types both databases know.
pub(super) trait PortableRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> PortableRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// One value bound to a statement. The few types the schema uses; `None` binds NULL.
#[derive(Debug, Clone)]
pub(super) enum Param<'a> {
    Int(Option<i64>),
    /// For the columns PostgreSQL declares `INTEGER` (4 bytes).
    Int4(Option<i32>),
    Text(Option<Cow<'a, str>>),
    Flag(Option<bool>),
    Bytes(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}
impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}
impl From<i32> for Param<'_> {
    fn from(value: i32) -> Self {
        Param::Int4(Some(value))
    }
}
impl From<Option<i32>> for Param<'_> {
    fn from(value: Option<i32>) -> Self {
        Param::Int4(value)
    }
}
impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Param::Flag(Some(value))
    }
}
impl From<Option<bool>> for Param<'_> {
    fn from(value: Option<bool>) -> Self {
        Param::Flag(value)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}
impl From<String> for Param<'_> {
    fn from(value: String) -> Self {
        Param::Text(Some(Cow::Owned(value)))
    }
}
impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value.map(Cow::Borrowed))
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(value: &'a [u8]) -> Self {
        Param::Bytes(value)
    }
}
impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(value: &'a Vec<u8>) -> Self {
        Param::Bytes(value)
    }
}

/// A statement and its parameters, for either backend. The text is only ever put
/// together from `&'static str` pieces and the `$n` placeholders [`Query::push_bind`]
/// writes, so no value can reach it: values always travel as parameters.
#[derive(Debug, Clone)]
pub(super) struct Query<'a> {
    sql: Cow<'static, str>,
    params: Vec<Param<'a>>,
}

impl<'a> Query<'a> {
    pub(super) fn new(sql: &'static str) -> Self {
        Self {
            sql: Cow::Borrowed(sql),
            params: Vec::new(),
        }
    }

    /// Binds the next `$n` of the text.
    pub(super) fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Appends text to the statement.
    pub(super) fn push(&mut self, sql: &'static str) -> &mut Self {
        self.sql.to_mut().push_str(sql);
        self
    }

    /// Appends a placeholder (`$n`) and binds its value.
    pub(super) fn push_bind(&mut self, value: impl Into<Param<'a>>) -> &mut Self {
        self.params.push(value.into());
        let placeholder = format!("${}", self.params.len());
        self.sql.to_mut().push_str(&placeholder);
        self
    }

    /// Appends an integer as literal text. For `LIMIT`: SQLite marks a statement whose
    /// `LIMIT` is a bound parameter to be prepared again every time that parameter is
    /// bound (it plans with the value), which cost a record read about a tenth of its
    /// time. An integer's text cannot carry anything but digits and a sign.
    pub(super) fn push_integer(&mut self, value: i64) -> &mut Self {
        self.sql.to_mut().push_str(&value.to_string());
        self
    }

    /// Appends `(v1, v2, …)`, a placeholder per value: one row of a multi-row insert or
    /// one `IN` list.
    pub(super) fn push_tuple<I>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: Into<Param<'a>>,
    {
        self.push("(");
        for (n, value) in values.into_iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
        self.push(")")
    }

    /// Appends `VALUES (…), (…)`, one row per item, each filled in by `row`: a
    /// multi-row insert.
    pub(super) fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(ValuesRow<'_, 'a>, I::Item),
    {
        self.push("VALUES ");
        for (n, item) in items.into_iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.push("(");
            row(
                ValuesRow {
                    query: self,
                    first: true,
                },
                item,
            );
            self.push(")");
        }
        self
    }

    /// The statement prepared on one of SQLite's direct connections
    /// (`../sqlite_direct.rs`), from that connection's cache, with its values bound: the
    /// same text and values sqlx would run, each `$n` bound by its name.
    pub(super) fn prepare_directly<'c>(
        &self,
        connection: &'c rusqlite::Connection,
    ) -> Result<rusqlite::CachedStatement<'c>, StorageError> {
        let mut statement = connection.prepare_cached(&self.sql)?;
        for (n, param) in self.params.iter().enumerate() {
            let name = format!("${}", n + 1);
            let name = name.as_str();
            match param {
                Param::Int(value) => statement.raw_bind_parameter(name, value)?,
                Param::Int4(value) => statement.raw_bind_parameter(name, value)?,
                Param::Text(value) => statement.raw_bind_parameter(name, value.as_deref())?,
                Param::Flag(value) => statement.raw_bind_parameter(name, value)?,
                Param::Bytes(value) => statement.raw_bind_parameter(name, value)?,
            }
        }
        Ok(statement)
    }

    fn for_sqlite(self) -> sqlx::query::Query<'a, Sqlite, <Sqlite as Database>::Arguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql));
        for param in self.params {
            query = match param {
                Param::Int(value) => query.bind(value),
                Param::Int4(value) => query.bind(value),
                Param::Text(value) => query.bind(value.map(Cow::into_owned)),
                Param::Flag(value) => query.bind(value),
                Param::Bytes(value) => query.bind(value.to_vec()),
            };
        }
        query
    }

    fn for_postgres(self) -> sqlx::query::Query<'a, Postgres, <Postgres as Database>::Arguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql));
        for param in self.params {
            query = match param {
                Param::Int(value) => query.bind(value),
                Param::Int4(value) => query.bind(value),
                Param::Text(value) => query.bind(value.as_deref()),
                Param::Flag(value) => query.bind(value),
                Param::Bytes(value) => query.bind(value),
            };
        }
        query
    }

    /// Runs the statement; answers how many rows it changed.
    pub(super) async fn execute(self, conn: &mut Conn) -> Result<u64, sqlx::Error> {
        Ok(match conn {
            Conn::Sqlite(handle) => self
                .for_sqlite()
                .execute(handle.connection())
                .await?
                .rows_affected(),
            Conn::Postgres(handle) => self
                .for_postgres()
                .execute(handle.connection())
                .await?
                .rows_affected(),
        })
    }

    pub(super) async fn fetch_all<R: PortableRow>(
        self,
        conn: &mut Conn,
    ) -> Result<Vec<R>, sqlx::Error> {
        match conn {
            Conn::Sqlite(handle) => {
                let rows = self.for_sqlite().fetch_all(handle.connection()).await?;
                rows.iter().map(R::from_row).collect()
            }
            Conn::Postgres(handle) => {
                let rows = self.for_postgres().fetch_all(handle.connection()).await?;
                rows.iter().map(R::from_row).collect()
            }
        }
    }

    pub(super) async fn fetch_optional<R: PortableRow>(
        self,
        conn: &mut Conn,
    ) -> Result<Option<R>, sqlx::Error> {
        match conn {
            Conn::Sqlite(handle) => {
                let row = self
                    .for_sqlite()
                    .fetch_optional(handle.connection())
                    .await?;
                row.as_ref().map(R::from_row).transpose()
            }
            Conn::Postgres(handle) => {
                let row = self
                    .for_postgres()
                    .fetch_optional(handle.connection())
                    .await?;
                row.as_ref().map(R::from_row).transpose()
            }
        }
    }

    pub(super) async fn fetch_one<R: PortableRow>(self, conn: &mut Conn) -> Result<R, sqlx::Error> {
        self.fetch_optional(conn)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the one row the statement returns.
    pub(super) async fn fetch_scalar<T>(self, conn: &mut Conn) -> Result<T, sqlx::Error>
    where
        (T,): PortableRow,
    {
        Ok(self.fetch_one::<(T,)>(conn).await?.0)
    }

    /// The first column of the row the statement returns, if it returns one.
    pub(super) async fn fetch_optional_scalar<T>(
        self,
        conn: &mut Conn,
    ) -> Result<Option<T>, sqlx::Error>
    where
        (T,): PortableRow,
    {
        Ok(self
            .fetch_optional::<(T,)>(conn)
            .await?
            .map(|(value,)| value))
    }
}

/// One row of [`Query::push_values`]: its values, comma separated.
pub(super) struct ValuesRow<'q, 'a> {
    query: &'q mut Query<'a>,
    first: bool,
}

impl<'a> ValuesRow<'_, 'a> {
    pub(super) fn push_bind(&mut self, value: impl Into<Param<'a>>) -> &mut Self {
        if !self.first {
            self.query.push(", ");
        }
        self.first = false;
        self.query.push_bind(value);
        self
    }
}

/// Turns a unique-constraint violation into a [`StorageError::Conflict`], leaving other
/// errors as they are.
fn unique_violation_as(error: sqlx::Error, what: &'static str) -> StorageError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(what),
        _ => StorageError::Database(error),
    }
}

/// Epoch milliseconds, the form times take in the database.
pub(super) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp_millis(ms).ok_or(StorageError::Corrupt("timestamp"))
}

/// A new item's public id: random, so it says nothing about the patient or the order
/// items arrived in.
fn new_public_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn millis_opt(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(to_millis)
}

/// The rule set last read, kept by version. A saved version never changes (a new table
/// is a new version), so a read asks the database only for the newest version number
/// and reuses the rules it already holds for that number.
#[derive(Default)]
struct RuleSetCache(std::sync::Mutex<Option<RuleSet>>);

impl RuleSetCache {
    fn get(&self, version: i64) -> Option<RuleSet> {
        let known = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.as_ref().filter(|set| set.version == version).cloned()
    }

    fn remember(&self, set: &RuleSet) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(set.clone());
    }
}
