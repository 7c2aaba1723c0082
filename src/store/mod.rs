//! Persistence: SeaORM over PostgreSQL (production) or SQLite (embedded
//! default). Finders take the caller's `Scope`, so tenant filtering cannot be
//! forgotten; every write goes through a `Tx`, which appends its audit events
//! to the hash chain in the same transaction as the change.
//!
//! Reads and writes use separate handles: reads `db`, writes (`begin`,
//! `migrate`, `connection`) `writer`. On PostgreSQL both are the one pool; on
//! SQLite (WAL mode) `db` is a pool of query-only connections and `writer` the
//! single connection that writes, so a long read or an open write
//! transaction never stalls the other reads.

pub mod amendments;
pub mod assistance;
pub mod audit;
pub mod closeouts;
mod entities;
pub mod financial_reports;
pub mod funds;
pub mod grants;
mod idempotency;
pub mod organizations;
pub mod outcomes;
pub mod payments;
mod pool_stats;
mod privacy_keys;
pub mod projects;
mod reference;
pub mod reports;
mod spending;
mod stamps;
pub mod standards;
pub mod standby;
pub mod tip_report;
pub mod token_events;
pub mod tokens;
mod vacuum;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, RuntimeErr,
    Select, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait, Value,
};
use serde_json::Value as Json;

use crate::domain::access::Actor;
use crate::domain::audit::{Audited, EventActor, PendingEvent};
use crate::error::{Error, Result};
use crate::secret::{self, ExposeSecret, SecretString, split_url_password};
use crate::settings::DatabaseSettings;

pub use audit::ChainVerification;
pub use pool_stats::acquire_timeouts;
use stamps::{SoftDeletable, Stamped};
use standby::{ReadFrom, Standby};

/// The PostgreSQL advisory lock key that serialises migrations ("tipgrant" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x7469_7067_7261_6e74;

/// What a write call is: who, which method, which request id. Audit events are made from it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub actor: Actor,
    /// The full gRPC method, e.g. `/tipgrants.v1.OrganizationService/CreateOrganization`.
    pub method: String,
    /// The caller's `request_id` or `x-request-id`, empty when none.
    pub request_id: String,
}

/// The database handle shared by all services.
#[derive(Clone)]
pub struct Store {
    /// Reads. SQLite: query-only connections, which never take a write lock.
    db: DatabaseConnection,
    /// Writes. SQLite: the one connection that writes; PostgreSQL: the same pool as `db`.
    writer: DatabaseConnection,
    /// Whether `writer` is a pool of its own (to ping and close it too).
    separate_writer: bool,
    /// The streaming standby long reads go to, when `database.replica_url` is set.
    standby: Option<Standby>,
    /// PostgreSQL: the task that chains the audit events writes queue (see `audit`).
    appender: Option<audit::Appender>,
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The key after which the next page starts; `None` on the last page.
    pub next_after: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(convert).collect(),
            next_after: self.next_after,
        }
    }

    /// The same page with all its items converted at once (e.g. completed
    /// with their children in one query).
    pub async fn try_map_all<U>(
        self,
        convert: impl AsyncFnOnce(Vec<T>) -> Result<Vec<U>>,
    ) -> Result<Page<U>> {
        Ok(Page {
            items: convert(self.items).await?,
            next_after: self.next_after,
        })
    }

    /// The same page with each item converted.
    pub fn try_map<U>(self, convert: impl FnMut(T) -> Result<U>) -> Result<Page<U>> {
        Ok(Page {
            items: self.items.into_iter().map(convert).collect::<Result<_>>()?,
            next_after: self.next_after,
        })
    }
}

/// Where a keyset page starts (the key of the last row of the page before)
/// and how many rows it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyset {
    pub after: Option<String>,
    pub limit: u64,
}

impl Keyset {
    /// A page of `select` in the order of the text key `key`.
    async fn fetch<E: EntityTrait>(
        &self,
        conn: &impl ConnectionTrait,
        select: Select<E>,
        key: E::Column,
        key_of: impl Fn(&E::Model) -> String,
    ) -> Result<Page<E::Model>> {
        let after = self.after.clone().map(Value::from);
        self.fetch_after(conn, select, key, after, key_of).await
    }

    /// A page of `select` in the order of the numeric key `key`.
    async fn fetch_numbered<E: EntityTrait>(
        &self,
        conn: &impl ConnectionTrait,
        select: Select<E>,
        key: E::Column,
        key_of: impl Fn(&E::Model) -> i64,
    ) -> Result<Page<E::Model>> {
        let after = match &self.after {
            None => None,
            Some(after) => Some(Value::from(after.parse::<i64>().map_err(|_| {
                Error::invalid("page_token", "is not a page token of this list")
            })?)),
        };
        self.fetch_after(conn, select, key, after, |row| key_of(row).to_string())
            .await
    }

    async fn fetch_after<E: EntityTrait>(
        &self,
        conn: &impl ConnectionTrait,
        mut select: Select<E>,
        key: E::Column,
        after: Option<Value>,
        key_of: impl Fn(&E::Model) -> String,
    ) -> Result<Page<E::Model>> {
        if let Some(after) = after {
            select = select.filter(key.gt(after));
        }
        let mut rows = select
            .order_by_asc(key)
            .limit(self.limit + 1)
            .all(conn)
            .await?;
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_after = if more { rows.last().map(key_of) } else { None };
        Ok(Page {
            items: rows,
            next_after,
        })
    }
}

impl Store {
    /// Connects with short timeouts; statement logging only when configured.
    /// The URL's password never reaches the driver's URL, its errors or its trace spans.
    pub async fn connect(settings: &DatabaseSettings, url: &SecretString) -> Result<Store> {
        let store = if url.expose_secret().starts_with("sqlite:") {
            connect_sqlite(settings, url.expose_secret()).await
        } else {
            connect_postgres(settings, url).await
        };
        store.map_err(|error| {
            let mut message = error.to_string();
            if let Some(password) = split_url_password(url).password {
                // Defence in depth: the driver never saw the password in the URL.
                message = message.replace(password.expose_secret(), secret::REDACTED);
            }
            let shown = secret::redact_url(url.expose_secret());
            match Error::from(error) {
                Error::Unavailable(_) => {
                    Error::Unavailable(format!("cannot connect to {shown}: {message}"))
                }
                _ => Error::Internal(format!("cannot connect to {shown}: {message}")),
            }
        })
    }

    /// Applies pending migrations, in one transaction that first makes the other starting
    /// servers wait: on PostgreSQL it takes an advisory lock ([`MIGRATION_LOCK`]), on SQLite
    /// the write lock (`BEGIN IMMEDIATE`). Replicas started at once on one database migrate
    /// one after the other, and those that waited find every migration applied.
    pub async fn migrate(&self) -> Result<()> {
        self.run_migrations(None).await
    }

    /// Reverts the last `steps` migrations, under the same lock as [`Store::migrate`].
    pub async fn migrate_down(&self, steps: u32) -> Result<()> {
        self.run_migrations(Some(steps)).await
    }

    async fn run_migrations(&self, down: Option<u32>) -> Result<()> {
        use migration::MigratorTrait;
        let failed = |error: DbErr| Error::Internal(format!("migration failed: {error}"));
        let txn = match self.backend() {
            DatabaseBackend::Postgres => {
                let txn = self.writer.begin().await?;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                    .await?;
                txn
            }
            _ => {
                self.writer
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await?
            }
        };
        match down {
            None => migration::Migrator::up(&txn, None).await,
            Some(steps) => migration::Migrator::down(&txn, Some(steps)).await,
        }
        .map_err(failed)?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether the database answers now, for reads and for writes.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok() && (!self.separate_writer || self.writer.ping().await.is_ok())
    }

    /// The read-write connection (migrations command, tests).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Starts a write transaction for `call`. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout while another connection or process
    /// writes): a transaction that read first and wrote later would instead fail at its first
    /// write, without waiting, whenever another writer committed in between.
    pub async fn begin(&self, call: &CallContext) -> Result<Tx> {
        let txn = match self.backend() {
            DatabaseBackend::Sqlite => {
                self.writer
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await?
            }
            _ => self.writer.begin().await?,
        };
        Ok(Tx {
            txn,
            call: call.clone(),
            events: Vec::new(),
            appender: self.appender.clone(),
        })
    }

    /// Opens one read-only snapshot: every read in it sees the database as it
    /// was at once (reports, exports, the audit chain check). Roll it back when done.
    async fn snapshot(&self) -> Result<DatabaseTransaction> {
        Ok(match self.backend() {
            DatabaseBackend::Postgres => {
                self.db
                    .begin_with_config(
                        Some(sea_orm::IsolationLevel::RepeatableRead),
                        Some(sea_orm::AccessMode::ReadOnly),
                    )
                    .await?
            }
            // A SQLite read transaction (on the query-only pool) sees one WAL snapshot from its first read.
            _ => self.db.begin().await?,
        })
    }

    /// Opens the snapshot of a long read (the fiscal-year reports, the portfolio summary, the
    /// exports): on the standby when one is configured and has caught up with the primary (see
    /// `standby`), otherwise like [`Store::snapshot`] on the primary. Counts which served it.
    async fn long_read_snapshot(&self) -> Result<DatabaseTransaction> {
        let read_from = match &self.standby {
            None => ReadFrom::PrimaryOnly,
            Some(standby) => match standby.caught_up_snapshot(&self.db).await {
                Ok(snapshot) => {
                    ReadFrom::Standby.count();
                    return Ok(snapshot);
                }
                Err(why) => why,
            },
        };
        read_from.count();
        self.snapshot().await
    }

    /// Closes the pools.
    pub async fn close(self) {
        let _closing = self.db.close().await;
        if self.separate_writer {
            let _closing = self.writer.close().await;
        }
    }
}

/// A pooled connection idle this long is pinged before use; a busy one is not.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// The options both backends share: short timeouts, statement logging only when configured.
/// sqlx pings a connection on every acquire by default: a round trip more per query (a third
/// of a read's); only connections idle for `PING_WHEN_IDLE_FOR` are pinged here.
fn pool_options(settings: &DatabaseSettings, url: String, connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .sqlx_logging(settings.log_statements)
        .sqlx_logging_level(tracing::log::LevelFilter::Debug);
    options
}

/// PostgreSQL: one pool for reads and writes; the password travels apart from the URL.
async fn connect_postgres(
    settings: &DatabaseSettings,
    url: &SecretString,
) -> std::result::Result<Store, DbErr> {
    let split = split_url_password(url);
    let mut options = pool_options(settings, split.url, settings.max_connections);
    if let Some(password) = split.password {
        options.map_sqlx_postgres_opts(move |options| options.password(password.expose_secret()));
    }
    let db = Database::connect(options).await?;
    let replica_url = settings.replica_url.expose_secret().trim();
    let standby = if replica_url.is_empty() {
        None
    } else {
        let split = split_url_password(&SecretString::from(replica_url));
        let mut options = pool_options(settings, split.url, settings.max_connections);
        // Connects on first use: a standby that is down never stops the server from starting.
        options.connect_lazy(true);
        if let Some(password) = split.password {
            options
                .map_sqlx_postgres_opts(move |options| options.password(password.expose_secret()));
        }
        Some(Standby::new(
            Database::connect(options).await?,
            Duration::from_millis(settings.replica_max_wait_ms),
        ))
    };
    Ok(Store {
        appender: Some(audit::Appender::start(db.clone())),
        writer: db.clone(),
        db,
        separate_writer: false,
        standby,
    })
}

/// SQLite: WAL mode, one writer connection, and a pool of query-only readers.
/// An in-memory database lives in its one connection, so it keeps one for all.
async fn connect_sqlite(
    settings: &DatabaseSettings,
    url: &str,
) -> std::result::Result<Store, DbErr> {
    use sea_orm::sqlx::sqlite::SqliteJournalMode;
    let busy_timeout = Duration::from_millis(settings.sqlite_busy_timeout_ms);
    let mut writer_options = pool_options(settings, url.to_string(), 1);
    writer_options.map_sqlx_sqlite_opts(move |options| {
        options
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Another process (`tipgrants migrate`) may hold the write lock for a moment.
            .busy_timeout(busy_timeout)
    });
    // The writer connects first: it creates the file and switches it to WAL.
    let writer = Database::connect(writer_options).await?;
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(Store {
            db: writer.clone(),
            writer,
            separate_writer: false,
            standby: None,
            appender: None,
        });
    }
    let mut reader_options =
        pool_options(settings, url.to_string(), settings.sqlite_read_connections);
    reader_options.map_sqlx_sqlite_opts(move |options| {
        options
            .foreign_keys(true)
            .create_if_missing(false)
            .busy_timeout(busy_timeout)
            // A reader refuses to write, so it never takes the write lock.
            .pragma("query_only", "ON")
    });
    let db = Database::connect(reader_options).await?;
    Ok(Store {
        db,
        writer,
        separate_writer: true,
        standby: None,
        appender: None,
    })
}

/// A write transaction with its pending audit events. Dropped without
/// `commit`, it rolls back and records nothing.
pub struct Tx {
    txn: DatabaseTransaction,
    call: CallContext,
    events: Vec<PendingEvent>,
    /// Where the events go after the commit (PostgreSQL); `None`: chained in the transaction.
    appender: Option<audit::Appender>,
}

impl Tx {
    /// Records a change of `resource` from `before` to `after` (JSON snapshots;
    /// `None` for a creation). The event is chained at commit.
    pub fn audit<A: Audited>(
        &mut self,
        resource: &str,
        before: Option<&A>,
        after: Option<&A>,
    ) -> Result<()> {
        let before = before.map(Audited::audit_view).transpose()?;
        let after = after.map(Audited::audit_view).transpose()?;
        self.audit_views(resource, before.as_ref(), after.as_ref());
        Ok(())
    }

    /// Records a change between two ready audit views.
    pub(crate) fn audit_views(
        &mut self,
        resource: &str,
        before: Option<&Json>,
        after: Option<&Json>,
    ) {
        let diff = crate::domain::audit::diff(before, after);
        self.audit_with_diff(resource, diff);
    }

    /// Records the soft deletion of `resource` at `time`.
    pub fn audit_delete(&mut self, resource: &str, time: DateTime<Utc>) {
        let diff = serde_json::json!({"delete_time": {"before": null, "after": time}});
        self.audit_with_diff(resource, diff);
    }

    /// Records a save of `resource`: its deletion when `deleted` holds the
    /// time, otherwise its change from `before` to `after`.
    pub fn audit_save<A: Audited>(
        &mut self,
        resource: &str,
        before: &A,
        after: &A,
        deleted: Option<DateTime<Utc>>,
    ) -> Result<()> {
        match deleted {
            Some(time) => {
                self.audit_delete(resource, time);
                Ok(())
            }
            None => self.audit(resource, Some(before), Some(after)),
        }
    }

    /// Records an event with a ready diff (e.g. the fields of personal data read).
    pub fn audit_with_diff(&mut self, resource: &str, diff: Json) {
        self.events.push(PendingEvent {
            actor: EventActor {
                token: self.call.actor.resource_name(),
                role: self.call.actor.role.code().to_string(),
                owner: self.call.actor.owner.clone(),
            },
            method: self.call.method.clone(),
            resource: resource.to_string(),
            request_id: self.call.request_id.clone(),
            diff,
        });
    }

    /// The caller.
    pub fn actor(&self) -> &Actor {
        &self.call.actor
    }

    /// Commits the change with its audit events, and answers once they are chained: on SQLite
    /// chained in the transaction; on PostgreSQL queued in it and chained by the appender after
    /// the commit, so no write holds the chain's head for its whole transaction.
    pub async fn commit(self) -> Result<()> {
        let event_time = now();
        let events: Vec<_> = self
            .events
            .into_iter()
            .map(|event| (event_time, event))
            .collect();
        let queued = !events.is_empty();
        match &self.appender {
            None => audit::append(&self.txn, events).await?,
            Some(_) => audit::queue(&self.txn, events).await?,
        }
        self.txn.commit().await?;
        if queued && let Some(appender) = self.appender {
            appender.chained().await;
        }
        Ok(())
    }
}

/// A domain value as a JSON column; one that does not serialise is an error, never `null`.
pub fn to_json_column<T: serde::Serialize>(value: &T) -> Result<Json> {
    serde_json::to_value(value)
        .map_err(|error| Error::Internal(format!("JSON column value: {error}")))
}

/// The value of a stored code; an unknown one is a corrupt row (INTERNAL, with the column and row in the log).
pub(crate) fn decode_code<T: crate::domain::CodeEnum>(
    column: &str,
    id: &str,
    code: &str,
) -> Result<T> {
    T::from_code(code)
        .ok_or_else(|| Error::Internal(format!("{column} of {id} holds an unknown code {code:?}")))
}

/// Now, truncated to microseconds (what both databases keep), so a value read back equals the one written.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A new time-ordered id (UUIDv7): ids sort by creation, which keyset pagination uses.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Error {
        pool_stats::count_acquire_timeout(&error);
        if let Some(sql_error) = error.sql_err() {
            return match sql_error {
                SqlErr::UniqueConstraintViolation(detail) => Error::AlreadyExists {
                    resource: String::new(),
                    message: format!("a record with the same unique key exists ({detail})"),
                },
                SqlErr::ForeignKeyConstraintViolation(detail) => Error::precondition(
                    "REFERENCED_RECORD_MISSING",
                    "",
                    format!("a referenced record does not exist ({detail})"),
                ),
                _ => Error::Internal(error.to_string()),
            };
        }
        match &error {
            DbErr::ConnectionAcquire(_) => Error::Unavailable(error.to_string()),
            DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => {
                match contention(runtime) {
                    Some(Contention::Busy) => Error::Busy(error.to_string()),
                    Some(Contention::Conflict) => Error::Aborted {
                        reason: crate::error::TRANSACTION_CONFLICT,
                        message: "the database rolled this call back: it conflicted with a concurrent one; retry it as it is (with the same request_id)".into(),
                    },
                    None if is_connection_failure(runtime) => Error::Unavailable(error.to_string()),
                    None => Error::Internal(error.to_string()),
                }
            }
            _ => Error::Internal(error.to_string()),
        }
    }
}

/// Why a statement lost to a concurrent one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contention {
    /// A lock was not granted in time; nothing was written.
    Busy,
    /// The transaction was rolled back to resolve a conflict.
    Conflict,
}

/// How a database error stands to concurrent writers: SQLite's `SQLITE_BUSY` and
/// `SQLITE_LOCKED` (any extended code of them: the write lock held past the busy timeout, a
/// snapshot gone stale) and PostgreSQL's lock timeout (55P03) are busy; PostgreSQL's
/// serialization failure (40001) and deadlock (40P01) are conflicts.
fn contention(error: &RuntimeErr) -> Option<Contention> {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::sqlx::postgres::PgDatabaseError;
    use sea_orm::sqlx::sqlite::SqliteError;
    let RuntimeErr::SqlxError(inner) = error else {
        return None;
    };
    let Sqlx::Database(database) = inner.as_ref() else {
        return None;
    };
    let code = database.code()?;
    if database.try_downcast_ref::<SqliteError>().is_some() {
        return is_sqlite_busy(code.parse().ok()?).then_some(Contention::Busy);
    }
    if database.try_downcast_ref::<PgDatabaseError>().is_some() {
        return match code.as_ref() {
            "55P03" => Some(Contention::Busy),
            "40001" | "40P01" => Some(Contention::Conflict),
            _ => None,
        };
    }
    None
}

/// Whether an extended SQLite result code is `SQLITE_BUSY` (5) or `SQLITE_LOCKED` (6): the
/// primary code is its low byte.
fn is_sqlite_busy(extended_code: i32) -> bool {
    matches!(extended_code & 0xff, 5 | 6)
}

fn is_connection_failure(error: &RuntimeErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        RuntimeErr::SqlxError(inner) => match inner.as_ref() {
            Sqlx::Io(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::Tls(_)
            | Sqlx::WorkerCrashed => true,
            Sqlx::Database(database) => database
                .code()
                .is_some_and(|code| is_unavailable_sqlstate(&code)),
            _ => false,
        },
        _ => false,
    }
}

/// SQLSTATEs of a database going away or not there yet: a connection exception (class 08),
/// a shutdown that ends the sessions (57P01 by an operator, 57P02 by a crash), a server still
/// starting (57P03). A retry later may succeed, so they are `UNAVAILABLE`, not internal.
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_in_memory_database_reads_and_writes_through_its_one_connection() {
        let mut settings =
            crate::settings::Settings::load_from(None, Vec::new()).expect("defaults");
        settings.database.sqlite_path = ":memory:".into();

        let store = Store::connect(&settings.database, &settings.database_url())
            .await
            .expect("an in-memory database opens");
        store.migrate().await.expect("and migrates");
        let tokens = store.count_tokens().await;

        assert_eq!(tokens.ok(), Some(0), "reads see the migrated schema");
    }

    #[tokio::test]
    async fn a_failed_connection_never_echoes_the_database_password() {
        let mut settings =
            crate::settings::Settings::load_from(None, Vec::new()).expect("defaults");
        settings.database.connect_timeout_ms = 300;
        settings.database.acquire_timeout_ms = 300;
        for url in [
            "postgres://app:hunter2-s3cret@[not-a-host/grants",
            "postgres://app:hunter2-s3cret@127.0.0.1:1/grants",
            "postgres://127.0.0.1:1/grants?user=app&password=hunter2-s3cret",
        ] {
            let error = match Store::connect(&settings.database, &url.into()).await {
                Ok(_) => panic!("{} connected", secret::redact_url(url)),
                Err(error) => error,
            };

            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("hunter2-s3cret"), "{shown}");
            assert!(shown.contains("cannot connect to postgres://"), "{shown}");
        }
    }

    #[test]
    fn a_database_that_shuts_down_or_drops_the_connection_is_unavailable() {
        for code in ["57P01", "57P02", "57P03", "08006", "08003"] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "57014"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn sqlite_busy_and_locked_codes_are_busy_whatever_their_extended_code() {
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT; SQLITE_LOCKED, _SHAREDCACHE.
        for code in [5, 261, 517, 773, 6, 262] {
            assert!(is_sqlite_busy(code), "{code}");
        }
        // SQLITE_ERROR, SQLITE_CONSTRAINT_UNIQUE, SQLITE_IOERR.
        for code in [1, 2067, 10] {
            assert!(!is_sqlite_busy(code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_write_lock_held_by_another_connection_past_the_busy_timeout_is_busy_and_retryable() {
        let directory = tempfile::tempdir().expect("a directory");
        let mut settings =
            crate::settings::Settings::load_from(None, Vec::new()).expect("defaults");
        settings.database.sqlite_path = directory.path().join("busy.sqlite3").display().to_string();
        settings.database.sqlite_busy_timeout_ms = 100;
        let store = Store::connect(&settings.database, &settings.database_url())
            .await
            .expect("a database");
        store.migrate().await.expect("migrated");
        let other = Store::connect(&settings.database, &settings.database_url())
            .await
            .expect("a second connection, as another process opens");
        let call = CallContext {
            actor: Actor::system(),
            method: "test".into(),
            request_id: String::new(),
        };
        let holding = other.begin(&call).await.expect("the other writer's lock");

        let error = match tokio::time::timeout(Duration::from_secs(30), store.begin(&call)).await {
            Ok(Ok(_)) => panic!("two writers held the lock at once"),
            Ok(Err(error)) => error,
            Err(_) => panic!("the busy timeout never ended the wait"),
        };

        assert!(error.is_transient(), "{error:?}");
        let status = tonic::Status::from(error);
        assert_eq!(status.code(), tonic::Code::Unavailable);
        use tonic_types::StatusExt;
        assert_eq!(
            status.get_details_error_info().map(|info| info.reason),
            Some("DATABASE_BUSY".to_string())
        );
        assert!(status.get_details_retry_info().is_some());
        drop(holding);
    }

    #[test]
    fn a_pool_timeout_is_unavailable_and_a_duplicate_key_already_exists() {
        let timeout = Error::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert!(matches!(timeout, Error::Unavailable(_)), "{timeout:?}");
        assert_eq!(
            tonic::Status::from(timeout).code(),
            tonic::Code::Unavailable
        );
        let closed = Error::from(DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::PoolClosed,
        ))));
        assert!(matches!(closed, Error::Unavailable(_)), "{closed:?}");
        let other = Error::from(DbErr::Custom("boom".into()));
        let status = tonic::Status::from(other);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(
            status.message(),
            "internal error",
            "the cause is logged, never sent"
        );
    }
}
