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

/// How many times a checkpoint that readers held back is tried again.
const CHECKPOINT_ATTEMPTS: u32 = 20;
/// The first pause before a checkpoint is tried again; it doubles up to a second.
const CHECKPOINT_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// How long `VACUUM FULL` waits for its exclusive lock before it gives up (and is tried again).
const VACUUM_LOCK_TIMEOUT: Duration = Duration::from_secs(1);

impl Store {
    /// Rewrites the database's files without the bytes of replaced and deleted rows of
    /// `tables` (on SQLite: of every table). SQLite: `VACUUM` (with `secure_delete` on)
    /// rewrites the file from its live rows, then a `TRUNCATE` checkpoint copies the log into
    /// the file and empties the log, waiting for readers of older snapshots to finish.
    /// PostgreSQL: `VACUUM FULL` rewrites each table, its TOAST and its indexes into new files,
    /// holding an exclusive lock on the table while it copies the live rows (calls that use
    /// the table wait that long). Either way a busy database answers [`Error::Busy`]; the whole
    /// purge may be run again.
    pub async fn purge_replaced_rows(&self, tables: &[&str]) -> Result<()> {
        match self.backend() {
            DatabaseBackend::Sqlite => {
                self.writer
                    .execute_unprepared("PRAGMA secure_delete = ON")
                    .await?;
                self.writer.execute_unprepared("VACUUM").await?;
                self.truncate_sqlite_log().await
            }
            _ => {
                for table in tables {
                    self.vacuum_full(table).await?;
                }
                Ok(())
            }
        }
    }

    /// Checkpoints SQLite's write-ahead log into the database file and truncates it to zero
    /// bytes; tried again while readers of older snapshots or a writer hold it back.
    async fn truncate_sqlite_log(&self) -> Result<()> {
        let mut pause = CHECKPOINT_FIRST_PAUSE;
        for _ in 0..CHECKPOINT_ATTEMPTS {
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
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
        Err(Error::Busy(
            "readers kept the write-ahead log from being checkpointed and truncated".into(),
        ))
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
