//! Removing what replaced and deleted rows leave behind in the database's
//! files, so that a value the application no longer holds (a victim's data
//! sealed with a retired key) is no longer anywhere in them either.
//!
//! SQLite keeps a replaced row's bytes in the page's free space and in free
//! pages (unless `secure_delete` zeroed them), and older copies of whole
//! pages in the write-ahead log until a checkpoint resets it. PostgreSQL
//! keeps a replaced row as a dead row version in its page; a plain VACUUM
//! frees its space but leaves its bytes there until the space is reused
//! (measured: 6 of 150 replaced values still in the pages), so only
//! `VACUUM FULL`, which copies the live rows into new files, removes them.
//! PostgreSQL's write-ahead log, its archive and base backups keep what they
//! recorded: no command here can reach those (docs/security.md).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, RuntimeErr, Statement};

use super::Store;
use crate::error::{Error, Result};

/// How long the log's truncation keeps trying while readers of older snapshots hold it back.
const CHECKPOINT_BUDGET: Duration = Duration::from_secs(120);
/// How long one try waits for them (SQLite's busy timeout meanwhile): a checkpoint that waits
/// keeps every writer waiting too, so it waits briefly and pauses between tries instead.
const CHECKPOINT_WAIT_MS: u64 = 100;
/// The first pause between two tries; it doubles up to a second.
const CHECKPOINT_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// How long `VACUUM FULL` waits for its exclusive lock before it gives up (and is tried again).
const VACUUM_LOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the rewrite waits for transactions older than it to end.
const OLDER_TRANSACTIONS_BUDGET: Duration = Duration::from_secs(120);
/// How often it looks whether they have.
const OLDER_TRANSACTIONS_POLL: Duration = Duration::from_millis(100);

impl Store {
    /// Rewrites the database's files without the bytes of replaced and deleted rows of
    /// `tables` (on SQLite: of every table). SQLite: `VACUUM` (with `secure_delete` on)
    /// rewrites the database from its live rows, holding the write lock while it copies
    /// (writers wait, up to their busy timeout); the old pages' copies stay in the write-ahead
    /// log until [`Store::empty_write_ahead_log`]. PostgreSQL: `VACUUM FULL` rewrites each
    /// table, its TOAST and its indexes into new files, holding an exclusive lock on the table
    /// while it copies the live rows (calls that use the table wait that long). A busy
    /// database answers [`Error::Busy`]: run it again.
    pub async fn rewrite_without_replaced_rows(&self, tables: &[&str]) -> Result<()> {
        match self.backend() {
            DatabaseBackend::Sqlite => {
                self.writer
                    .execute_unprepared("PRAGMA secure_delete = ON")
                    .await?;
                self.writer.execute_unprepared("VACUUM").await?;
                Ok(())
            }
            _ => {
                for table in tables {
                    self.vacuum_full(table).await?;
                }
                Ok(())
            }
        }
    }

    /// PostgreSQL: waits until every transaction of this database that is running now has
    /// ended (as `CREATE INDEX CONCURRENTLY` does), for up to `OLDER_TRANSACTIONS_BUDGET`: a row
    /// version one of them may still see is one `VACUUM FULL` must keep, so a report that
    /// opened its snapshot before the last re-seal would keep old values in the new files. It
    /// reads `pg_locks` (every transaction holds a lock on its own virtual id), which needs no
    /// privilege and sees every role's sessions. A streaming standby with
    /// `hot_standby_feedback` holds row versions back for its own readers too (its feedback,
    /// sent every `wal_receiver_status_interval`, lags even when it is idle): it also waits
    /// until every standby's and replication slot's `xmin` has passed the transactions of now
    /// (`pg_stat_replication` shows it to superusers and `pg_read_all_stats`; a role that
    /// cannot see it cannot wait for it: docs/security.md). SQLite: nothing (its log's
    /// truncation waits for its readers).
    pub async fn wait_for_older_transactions(&self) -> Result<()> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        // The first transaction id not yet begun (its low 32 bits, as `xid` counts).
        let next_xid: i64 = self
            .writer
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT (txid_snapshot_xmax(txid_current_snapshot()) % 4294967296)::bigint",
            ))
            .await?
            .map(|row| row.try_get_by_index::<i64>(0))
            .transpose()?
            .ok_or_else(|| Error::Internal("no transaction id".into()))?;
        let running: Vec<String> = self
            .writer
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT l.virtualxid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid() \
                   AND a.datname = current_database()",
            ))
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<std::result::Result<_, _>>()?;
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            let (still, standbys) = self
                .writer
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT (SELECT COUNT(*) FROM pg_locks \
                       WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1)), \
                     (SELECT COUNT(*) FROM \
                       (SELECT backend_xmin AS horizon FROM pg_stat_replication \
                        UNION ALL SELECT xmin FROM pg_replication_slots) held \
                       WHERE horizon IS NOT NULL AND age(horizon) > age($2::text::xid))",
                    [running.clone().into(), next_xid.to_string().into()],
                ))
                .await?
                .map(|row| {
                    Ok::<_, DbErr>((
                        row.try_get_by_index::<i64>(0)?,
                        row.try_get_by_index::<i64>(1)?,
                    ))
                })
                .transpose()?
                .unwrap_or((0, 0));
            if still == 0 && standbys == 0 {
                return Ok(());
            }
            if started.elapsed() >= OLDER_TRANSACTIONS_BUDGET {
                return Err(Error::Busy(format!(
                    "{still} transaction(s) of the database that began before the rewrite (a long report or export?) and {standbys} standby(s) or replication slot(s) whose readers may still see its rows held on for {} s more",
                    OLDER_TRANSACTIONS_BUDGET.as_secs()
                )));
            }
            if !told {
                tracing::info!(
                    transactions = still,
                    standbys,
                    "waiting for transactions older than the rewrite, and standbys' readers, to end: they may still see the replaced rows"
                );
                told = true;
            }
            tokio::time::sleep(OLDER_TRANSACTIONS_POLL).await;
        }
    }

    /// SQLite: checkpoints the write-ahead log into the database file and truncates the log to
    /// zero bytes, trying again (for up to `CHECKPOINT_BUDGET`) while readers of older
    /// snapshots, such as a long report, hold it back. PostgreSQL: nothing (its log is the
    /// server's, see the module's documentation).
    pub async fn empty_write_ahead_log(&self) -> Result<()> {
        if self.backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let busy_timeout = self.sqlite_pragma("busy_timeout").await?;
        self.writer
            .execute_unprepared(&format!("PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}"))
            .await?;
        let emptied = self.truncate_sqlite_log().await;
        self.writer
            .execute_unprepared(&format!("PRAGMA busy_timeout = {busy_timeout}"))
            .await?;
        emptied
    }

    /// The value of an integer pragma of the writer connection.
    async fn sqlite_pragma(&self, pragma: &str) -> Result<i64> {
        let row = self
            .writer
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("PRAGMA {pragma}"),
            ))
            .await?
            .ok_or_else(|| Error::Internal(format!("PRAGMA {pragma} answered nothing")))?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    async fn truncate_sqlite_log(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let mut told = false;
        let mut pause = CHECKPOINT_FIRST_PAUSE;
        loop {
            let checkpoint = self
                .writer
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::Sqlite,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ))
                .await
                .map_err(Error::from);
            let held_back = match checkpoint {
                // The first column is 1 when the checkpoint could not finish.
                Ok(Some(row)) => row.try_get_by_index::<i64>(0)? != 0,
                Ok(None) => {
                    return Err(Error::Internal("the checkpoint answered nothing".into()));
                }
                Err(Error::Busy(_)) => true,
                Err(error) => return Err(error),
            };
            if !held_back {
                return Ok(());
            }
            if !told {
                tracing::info!(
                    "waiting for readers of older snapshots to end: the write-ahead log still holds the replaced rows"
                );
                told = true;
            }
            if started.elapsed() >= CHECKPOINT_BUDGET {
                return Err(Error::Busy(format!(
                    "for {} s readers of older snapshots (a long report or export) kept the write-ahead log from being emptied",
                    CHECKPOINT_BUDGET.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// `VACUUM FULL table` on one connection of the pool that waits at most
    /// `VACUUM_LOCK_TIMEOUT` for its exclusive lock: while it waits, every other statement on
    /// the table queues behind it, so it gives up early (lock timeout, 55P03: busy) instead of
    /// stalling the server behind a long reader.
    async fn vacuum_full(&self, table: &str) -> Result<()> {
        use sea_orm::sqlx::{self, AssertSqlSafe};
        let failed =
            |error: sqlx::Error| Error::from(DbErr::Exec(RuntimeErr::SqlxError(error.into())));
        let mut connection = self
            .writer
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(failed)?;
        let lock_timeout = format!("SET lock_timeout = '{}ms'", VACUUM_LOCK_TIMEOUT.as_millis());
        sqlx::query(AssertSqlSafe(lock_timeout))
            .execute(&mut *connection)
            .await
            .map_err(failed)?;
        let vacuumed = sqlx::query(AssertSqlSafe(format!("VACUUM FULL {table}")))
            .execute(&mut *connection)
            .await
            .map_err(failed);
        // The connection goes back to the pool: without the setting it was given.
        sqlx::query("RESET lock_timeout")
            .execute(&mut *connection)
            .await
            .map_err(failed)?;
        vacuumed.map(|_| ())
    }
}
