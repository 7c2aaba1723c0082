//! The audit chain starts at 1: a row with a sequence of 0 or less cannot be
//! written (a CHECK constraint on PostgreSQL, a trigger on SQLite, which
//! cannot add a constraint to an existing table). Verification also counts
//! every row, so a row forged below the chain makes it invalid.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statement = match db.get_database_backend() {
            DbBackend::Postgres => {
                "ALTER TABLE audit_events ADD CONSTRAINT audit_events_sequence_from_one CHECK (sequence >= 1)"
            }
            _ => {
                "CREATE TRIGGER audit_events_sequence_from_one BEFORE INSERT ON audit_events
                 WHEN NEW.sequence < 1
                 BEGIN SELECT RAISE(ABORT, 'audit event sequences start at 1'); END"
            }
        };
        db.execute_unprepared(statement).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statement = match db.get_database_backend() {
            DbBackend::Postgres => {
                "ALTER TABLE audit_events DROP CONSTRAINT audit_events_sequence_from_one"
            }
            _ => "DROP TRIGGER audit_events_sequence_from_one",
        };
        db.execute_unprepared(statement).await?;
        Ok(())
    }
}
