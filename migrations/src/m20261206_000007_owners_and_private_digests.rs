//! Persons beside tokens (issue 18): four eyes compare the person behind a
//! token (its `owner`), so a case keeps the owners of its referrer, reviewer
//! and decider, a report those of its submitter and reviewer, and an audit
//! event the owner of its actor. Existing cases and reports take the owners
//! from `api_tokens` (a token the table does not hold, such as the command
//! line's `apiTokens/system`, leaves it empty: such a record then matches its
//! own token only). Audit events are append-only and hash-chained: old ones
//! keep an empty owner, which the chain's encoding leaves out.
//!
//! And a keyed digest of a referral's personal data beside the request hash
//! of its idempotency key (`{key_id}:{hex}`, HMAC-SHA-256 under a key derived
//! from the privacy key), so a retry with other personal data is refused
//! without storing the data or a guessable hash of it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column, the column of the token it names): the owner columns of people's tokens.
const OWNER_COLUMNS: [(&str, &str, &str); 5] = [
    ("assistance_cases", "referrer_owner", "referrer"),
    ("assistance_cases", "reviewer_owner", "reviewer"),
    ("assistance_cases", "decider_owner", "decider"),
    ("outcome_reports", "submitter_owner", "submitter"),
    ("outcome_reports", "reviewer_owner", "reviewer"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for (table, column, token) in OWNER_COLUMNS {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "UPDATE {table} SET {column} = COALESCE(
                     (SELECT api_tokens.owner FROM api_tokens
                      WHERE 'apiTokens/' || api_tokens.id = {table}.{token}), '')
                 WHERE {token} <> ''"
            ))
            .await?;
        }
        db.execute_unprepared(
            "ALTER TABLE audit_events ADD COLUMN actor_owner TEXT NOT NULL DEFAULT ''",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE idempotency_keys ADD COLUMN personal_data_digest TEXT")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE idempotency_keys DROP COLUMN personal_data_digest")
            .await?;
        db.execute_unprepared("ALTER TABLE audit_events DROP COLUMN actor_owner")
            .await?;
        for (table, column, _) in OWNER_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
