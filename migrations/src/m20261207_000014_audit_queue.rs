//! The audit queue (issue 21): on PostgreSQL a write stores its audit events
//! in `audit_pending` inside its own transaction, and one appender per server
//! chains them into `audit_events` afterwards, in batches, under the chain's
//! head row. Writes no longer hold that row for their whole transaction, so
//! several replicas write side by side; the chain keeps its guarantees
//! (contiguous sequence, hash chain, head). A row leaves the queue only in
//! the transaction that chains it. SQLite, with one writer, chains in the
//! write's own transaction and leaves the queue empty.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditPending {
    Table,
    Id,
    EventTime,
    Actor,
    ActorRole,
    ActorOwner,
    Method,
    Resource,
    RequestId,
    Diff,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditPending::Table)
                    .col(big_pk_auto(AuditPending::Id))
                    .col(timestamp_with_time_zone(AuditPending::EventTime))
                    .col(text(AuditPending::Actor))
                    .col(text(AuditPending::ActorRole))
                    .col(text(AuditPending::ActorOwner))
                    .col(text(AuditPending::Method))
                    .col(text(AuditPending::Resource))
                    .col(text(AuditPending::RequestId))
                    .col(json_binary(AuditPending::Diff))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Queued events are audit events: never dropped with the table.
        let queued = manager
            .get_connection()
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                manager.get_database_backend(),
                "SELECT 1 FROM audit_pending LIMIT 1",
            ))
            .await?;
        if queued.is_some() {
            return Err(DbErr::Migration(
                "audit_pending still holds audit events: start the server once to chain them, then migrate down".into(),
            ));
        }
        manager
            .drop_table(Table::drop().table(AuditPending::Table).to_owned())
            .await
    }
}
