//! Binds each id of a key of victims' personal data to its key: one row per
//! key id, with a fingerprint of the key (an HMAC-SHA-256 of a fixed label
//! under the key, never the key nor a plain hash of it), recorded the first
//! time a server or `tipgrants keys rotate` meets the id. A key id is never
//! given to other material, so the rows are never changed nor deleted: the
//! table is append-only like the audit log.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PrivacyKeys {
    Table,
    KeyId,
    Fingerprint,
    CreateTime,
}

const TABLE: &str = "privacy_keys";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PrivacyKeys::Table)
                    .col(text(PrivacyKeys::KeyId).primary_key())
                    .col(text(PrivacyKeys::Fingerprint))
                    .col(timestamp_with_time_zone(PrivacyKeys::CreateTime))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match db.get_database_backend() {
            // The function comes from `m20261128_000004_append_only`.
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
                     FOR EACH ROW EXECUTE FUNCTION refuse_change_of_append_only_table()"
                ))
                .await?;
            }
            _ => {
                for operation in ["UPDATE", "DELETE"] {
                    let lower = operation.to_ascii_lowercase();
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {TABLE}_no_{lower} BEFORE {operation} ON {TABLE}
                         BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {operation} refused'); END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PrivacyKeys::Table).to_owned())
            .await
    }
}
