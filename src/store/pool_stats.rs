//! The state of the connection pools, for metrics: read at each scrape, never stored. The store
//! reports its numbers here and telemetry reads them (`telemetry::metrics::Scrape`): the store
//! never calls telemetry.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnAcquireErr, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr};

use super::Store;

/// One pool's connections now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// `read` or `write` (on PostgreSQL one pool does both: `read`).
    pub name: &'static str,
    /// Connections open.
    pub size: u32,
    /// Open and waiting for a call.
    pub idle: u32,
    /// The most it may open.
    pub max: u32,
}

impl Store {
    /// The pools: the read pool, and the SQLite writer when it is a pool of its own.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let mut pools = vec![stats_of("read", &self.db)];
        if self.separate_writer {
            pools.push(stats_of("write", &self.writer));
        }
        pools
    }
}

fn stats_of(name: &'static str, connection: &DatabaseConnection) -> PoolStats {
    let (size, idle, max) = match connection.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = connection.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseBackend::Sqlite => {
            let pool = connection.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    };
    PoolStats {
        name,
        size,
        idle: u32::try_from(idle).unwrap_or(u32::MAX),
        max,
    }
}

/// Calls that waited `database.acquire_timeout_ms` for a pooled connection in vain, since the
/// process started (all its stores together).
static ACQUIRE_TIMEOUTS: AtomicU64 = AtomicU64::new(0);

/// How many calls have waited for a pooled connection in vain since the process started.
pub fn acquire_timeouts() -> u64 {
    ACQUIRE_TIMEOUTS.load(Ordering::Relaxed)
}

/// Counts `error` when it is a pool's acquire timeout.
pub(super) fn count_acquire_timeout(error: &DbErr) {
    let timed_out = match error {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
        DbErr::Conn(RuntimeErr::SqlxError(inner))
        | DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(inner.as_ref(), sea_orm::sqlx::Error::PoolTimedOut)
        }
        _ => false,
    };
    if timed_out {
        ACQUIRE_TIMEOUTS.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_pool_timeout_is_counted_as_an_acquire_timeout_and_nothing_else_is() {
        let before = acquire_timeouts();

        count_acquire_timeout(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        count_acquire_timeout(&DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::PoolTimedOut,
        ))));
        let counted = acquire_timeouts() - before;

        // Other tests of this binary may count timeouts at the same time: at least ours.
        assert!(counted >= 2, "{counted}");
    }
}
