//! Budgets and amendments (issue 20): a grant's approved budget by SF-424A
//! cost category (a JSON object of cents by category, `{}` for grants created
//! before budgets existed), and the amendments of awards: requested, signed,
//! kept with the obligation and grant revision they made. And the advance
//! flag of payment requests (a note, empty when not flagged).

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Amendments {
    Table,
    Id,
    GrantId,
    Kind,
    Justification,
    EndDate,
    AccountCode,
    FiscalYear,
    AmountCents,
    ObligationDate,
    BudgetChanges,
    MovedCents,
    PriorApprovalRequired,
    State,
    StateReason,
    Requester,
    RequesterOwner,
    Decider,
    DeciderOwner,
    ObligationId,
    GrantRevision,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE grants ADD COLUMN budget TEXT NOT NULL DEFAULT '{}'")
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE payment_requests ADD COLUMN excess_cash_note TEXT NOT NULL DEFAULT ''",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Amendments::Table)
                    .col(text(Amendments::Id).primary_key())
                    .col(text(Amendments::GrantId))
                    .col(text(Amendments::Kind))
                    .col(text(Amendments::Justification))
                    .col(date_null(Amendments::EndDate))
                    .col(text(Amendments::AccountCode))
                    .col(integer(Amendments::FiscalYear))
                    .col(big_integer(Amendments::AmountCents))
                    .col(date_null(Amendments::ObligationDate))
                    .col(text(Amendments::BudgetChanges))
                    .col(big_integer(Amendments::MovedCents))
                    .col(boolean(Amendments::PriorApprovalRequired))
                    .col(text(Amendments::State))
                    .col(text(Amendments::StateReason))
                    .col(text(Amendments::Requester))
                    .col(text(Amendments::RequesterOwner))
                    .col(text(Amendments::Decider))
                    .col(text(Amendments::DeciderOwner))
                    .col(text(Amendments::ObligationId))
                    .col(big_integer(Amendments::GrantRevision))
                    .col(timestamp_with_time_zone(Amendments::CreateTime))
                    .col(timestamp_with_time_zone(Amendments::UpdateTime))
                    .col(big_integer(Amendments::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Amendments::Table, Amendments::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("amendments_grant")
                    .table(Amendments::Table)
                    .col(Amendments::GrantId)
                    .col(Amendments::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Amendments::Table).to_owned())
            .await?;
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE grants DROP COLUMN budget")
            .await?;
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE payment_requests DROP COLUMN excess_cash_note")
            .await?;
        Ok(())
    }
}
