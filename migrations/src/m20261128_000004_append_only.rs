//! Makes the audit log and the grant revisions append-only in the database
//! itself: UPDATE and DELETE on them fail, whatever the application does.
//! (Someone who can change the schema can drop the triggers; the hash chain
//! is what detects that kind of tampering.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["audit_events", "grant_revisions"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION refuse_change_of_append_only_table() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN
                         RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
                     END $$",
                )
                .await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                         FOR EACH ROW EXECUTE FUNCTION refuse_change_of_append_only_table()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in TABLES {
                    for operation in ["UPDATE", "DELETE"] {
                        let lower = operation.to_ascii_lowercase();
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{lower} BEFORE {operation} ON {table}
                             BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                for table in TABLES {
                    db.execute_unprepared(&format!("DROP TRIGGER {table}_append_only ON {table}"))
                        .await?;
                }
                db.execute_unprepared("DROP FUNCTION refuse_change_of_append_only_table()")
                    .await?;
            }
            _ => {
                for table in TABLES {
                    for operation in ["update", "delete"] {
                        db.execute_unprepared(&format!("DROP TRIGGER {table}_no_{operation}"))
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
