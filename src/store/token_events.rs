//! Revocations told to every replica. On PostgreSQL the transaction that revokes a token
//! notifies [`CHANNEL`] with the token's id (PostgreSQL delivers it at commit, and never for a
//! rollback), and every server follows the channel on a connection of its own
//! ([`TokenEvents`]), so each token cache drops the token within moments instead of at the end
//! of its lifetime. A lost connection is made again with backoff and reported as
//! [`TokenEvent::MaybeMissed`]: what was notified meanwhile is gone, so the whole cache must
//! go. On SQLite (one process) there is nothing to tell and nothing to follow.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::Store;
use crate::error::Result;

/// The channel revocations are notified on; the payload is the token's id.
pub const CHANNEL: &str = "tipgrants_tokens";

/// The first wait before connecting again after a failure; it doubles up to [`LONGEST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to connect the listener.
const LONGEST_RETRY: Duration = Duration::from_secs(5);
/// How long one attempt to connect the listener may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What happened to the tokens, as far as this server can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEvent {
    /// The token with this id was revoked (by this server or another).
    Revoked(String),
    /// The listener's connection was lost and is back: revocations notified meanwhile were
    /// missed, so every cached token may be stale.
    MaybeMissed,
}

/// The revocations notified on [`CHANNEL`], followed on a dedicated connection.
pub struct TokenEvents {
    options: Arc<PgConnectOptions>,
    listener: Option<PgListener>,
}

impl Store {
    /// The revocations of every server on this database, or `None` on SQLite (one process, whose
    /// revocations its own cache already forgets). Tries to listen at once, so a server that
    /// follows them from before it serves misses none; a failure here is retried by
    /// [`TokenEvents::next`].
    pub async fn token_events(&self) -> Option<TokenEvents> {
        if self.backend() != DatabaseBackend::Postgres {
            return None;
        }
        let options = self.db.get_postgres_connection_pool().connect_options();
        let listener = match listen(&options).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for token revocations yet: retrying");
                None
            }
        };
        Some(TokenEvents { options, listener })
    }
}

/// Tells every server following [`CHANNEL`] that `token_id` is revoked, when the transaction
/// behind `connection` commits. Nothing on SQLite.
pub(super) async fn announce_revocation(
    connection: &impl ConnectionTrait,
    token_id: &str,
) -> Result<()> {
    if connection.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    connection
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), token_id.into()],
        ))
        .await?;
    Ok(())
}

impl TokenEvents {
    /// The next event. Waits as long as nothing happens; while the database cannot be reached
    /// it keeps trying, with backoff, and answers [`TokenEvent::MaybeMissed`] once it listens
    /// again.
    pub async fn next(&mut self) -> TokenEvent {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                self.listener = Some(self.listen_again().await);
                return TokenEvent::MaybeMissed;
            };
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    return TokenEvent::Revoked(notification.payload().to_string());
                }
                // The connection was lost; the listener has connected and listens again.
                Ok(None) => {
                    tracing::warn!(
                        "the token revocation listener reconnected: forgetting every cached token"
                    );
                    return TokenEvent::MaybeMissed;
                }
                Err(error) => {
                    tracing::warn!(%error, "the token revocation listener lost its connection: reconnecting");
                    self.listener = None;
                }
            }
        }
    }

    /// A new listener, after as many attempts as it takes, waiting longer after each failure.
    async fn listen_again(&self) -> PgListener {
        let mut wait = FIRST_RETRY;
        loop {
            tokio::time::sleep(wait).await;
            match listen(&self.options).await {
                Ok(listener) => {
                    tracing::info!(
                        "listening for token revocations again: forgetting every cached token"
                    );
                    return listener;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "cannot listen for token revocations");
                    wait = (wait * 2).min(LONGEST_RETRY);
                }
            }
        }
    }
}

/// A listener on a connection of its own (outside the server's pool), subscribed to [`CHANNEL`].
async fn listen(
    options: &PgConnectOptions,
) -> std::result::Result<PgListener, sea_orm::sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CONNECT_TIMEOUT)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
