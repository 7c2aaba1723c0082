//! The state of the connection pools, for metrics: read at each scrape, never stored.

use sea_orm::{DatabaseBackend, DatabaseConnection};

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
