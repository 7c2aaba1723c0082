//! Long reads from a streaming standby (`database.replica_url`): the
//! fiscal-year reports, the portfolio summary and the exports. A read goes to
//! the standby only once it has replayed every transaction the primary had
//! committed when the read began, so a report from the standby is exactly the
//! report the primary would give at that moment: nobody's acknowledged write is
//! ever missing from it, and the staleness bound is zero. The read waits for
//! the standby up to `database.replica_max_wait_ms`, then reads from the
//! primary; a standby that cannot be reached is left alone for a few seconds,
//! so reads do not each pay its connect timeout. Which database served each
//! read is counted (`tipgrants_report_reads_total`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};

/// How long an unreachable standby is left alone before it is tried again.
const RETRY_UNREACHABLE_AFTER: Duration = Duration::from_secs(5);
/// How often a read waiting for the standby to catch up asks again.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// The counter of long reads, by the database that served them and why.
pub const REPORT_READS: &str = "tipgrants_report_reads_total";

/// Which database served a long read, and why: the `database` and `reason` labels of
/// [`REPORT_READS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The standby, caught up.
    Standby,
    /// The primary: no standby is configured.
    PrimaryOnly,
    /// The primary: the standby had not caught up within the wait.
    PrimaryStandbyBehind,
    /// The primary: the standby did not answer (or failed recently).
    PrimaryStandbyUnreachable,
}

impl ReadFrom {
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            ReadFrom::Standby => ("standby", "caught_up"),
            ReadFrom::PrimaryOnly => ("primary", "no_standby"),
            ReadFrom::PrimaryStandbyBehind => ("primary", "standby_behind"),
            ReadFrom::PrimaryStandbyUnreachable => ("primary", "standby_unreachable"),
        }
    }

    /// Counts one read served this way.
    pub fn count(self) {
        let (database, reason) = self.labels();
        ::metrics::counter!(REPORT_READS, "database" => database, "reason" => reason).increment(1);
    }
}

/// A streaming standby of the primary, read by long reads.
#[derive(Clone)]
pub(super) struct Standby {
    db: DatabaseConnection,
    max_wait: Duration,
    /// Milliseconds since `epoch` before which the standby is not tried (after a failure).
    retry_after_ms: Arc<AtomicU64>,
    epoch: Instant,
}

impl Standby {
    /// A standby reached through `db` (a pool that connects on first use, so a standby that is
    /// down never stops the server from starting).
    pub(super) fn new(db: DatabaseConnection, max_wait: Duration) -> Standby {
        Standby {
            db,
            max_wait,
            retry_after_ms: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A read-only snapshot on the standby once it has replayed everything `primary` had
    /// committed when asked; otherwise why not (the caller reads from the primary).
    pub(super) async fn caught_up_snapshot(
        &self,
        primary: &DatabaseConnection,
    ) -> std::result::Result<DatabaseTransaction, ReadFrom> {
        if self.elapsed_ms() < self.retry_after_ms.load(Ordering::Relaxed) {
            return Err(ReadFrom::PrimaryStandbyUnreachable);
        }
        // Every committed transaction's commit record is inserted into the WAL before its
        // commit returns (flushed too, unless synchronous_commit is off: then within the WAL
        // writer's delay, and the standby gets it then).
        let target = primary
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT CAST(pg_current_wal_insert_lsn() AS TEXT) AS lsn",
            ))
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<String>("", "lsn").ok())
            .ok_or(ReadFrom::PrimaryStandbyBehind)?;
        let started = Instant::now();
        loop {
            match self.replayed(&target).await {
                Ok(true) => break,
                Ok(false) if started.elapsed() >= self.max_wait => {
                    return Err(ReadFrom::PrimaryStandbyBehind);
                }
                Ok(false) => tokio::time::sleep(POLL_EVERY).await,
                Err(error) => return Err(self.unreachable(&error)),
            }
        }
        self.db
            .begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await
            .map_err(|error| self.unreachable(&error))
    }

    /// Whether the standby has replayed the primary's WAL up to `lsn` (false when it is not
    /// a standby any more: promoted, it no longer follows this primary).
    async fn replayed(&self, lsn: &str) -> std::result::Result<bool, DbErr> {
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT COALESCE(pg_last_wal_replay_lsn() >= CAST($1 AS pg_lsn), false) AS replayed",
                [lsn.into()],
            ))
            .await?;
        Ok(row
            .map(|row| row.try_get::<bool>("", "replayed"))
            .transpose()?
            .unwrap_or(false))
    }

    /// Leaves the standby alone for a while after `error`.
    fn unreachable(&self, error: &DbErr) -> ReadFrom {
        let retry_after = self
            .elapsed_ms()
            .saturating_add(RETRY_UNREACHABLE_AFTER.as_millis() as u64);
        self.retry_after_ms.store(retry_after, Ordering::Relaxed);
        tracing::warn!(%error, "the standby did not answer; long reads go to the primary for a few seconds");
        ReadFrom::PrimaryStandbyUnreachable
    }
}
