//! Payment requests: a grantee's request to be paid from one of its grant's
//! obligations (account and fiscal year), its decision and its payment.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PaymentRequests {
    Table,
    Id,
    GrantId,
    Kind,
    AccountCode,
    FiscalYear,
    AmountCents,
    PeriodStartDate,
    PeriodEndDate,
    Description,
    State,
    StateReason,
    Requester,
    RequesterOwner,
    Decider,
    DeciderOwner,
    PaymentDate,
    PaymentReference,
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
            .create_table(
                Table::create()
                    .table(PaymentRequests::Table)
                    .col(text(PaymentRequests::Id).primary_key())
                    .col(text(PaymentRequests::GrantId))
                    .col(text(PaymentRequests::Kind))
                    .col(text(PaymentRequests::AccountCode))
                    .col(integer(PaymentRequests::FiscalYear))
                    .col(big_integer(PaymentRequests::AmountCents))
                    .col(date(PaymentRequests::PeriodStartDate))
                    .col(date(PaymentRequests::PeriodEndDate))
                    .col(text(PaymentRequests::Description))
                    .col(text(PaymentRequests::State))
                    .col(text(PaymentRequests::StateReason))
                    .col(text(PaymentRequests::Requester))
                    .col(text(PaymentRequests::RequesterOwner))
                    .col(text(PaymentRequests::Decider))
                    .col(text(PaymentRequests::DeciderOwner))
                    .col(date_null(PaymentRequests::PaymentDate))
                    .col(text(PaymentRequests::PaymentReference))
                    .col(timestamp_with_time_zone(PaymentRequests::CreateTime))
                    .col(timestamp_with_time_zone(PaymentRequests::UpdateTime))
                    .col(big_integer(PaymentRequests::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PaymentRequests::Table, PaymentRequests::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // What is committed from a grant's account and year is summed over this index.
        manager
            .create_index(
                Index::create()
                    .name("payment_requests_grant")
                    .table(PaymentRequests::Table)
                    .col(PaymentRequests::GrantId)
                    .col(PaymentRequests::AccountCode)
                    .col(PaymentRequests::FiscalYear)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PaymentRequests::Table).to_owned())
            .await
    }
}
