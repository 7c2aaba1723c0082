//! Federal Financial Reports (SF-425): one per grant and reporting period,
//! cumulative cents per line, with their review.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FinancialReports {
    Table,
    Id,
    GrantId,
    Period,
    PeriodStartDate,
    PeriodEndDate,
    DueDate,
    State,
    CashReceipts,
    CashDisbursements,
    FederalExpenditures,
    FederalUnliquidatedObligations,
    RecipientShareRequired,
    RecipientShareExpended,
    IndirectRateType,
    IndirectRateBasisPoints,
    IndirectBase,
    IndirectAmount,
    ExpenditureDecreaseReason,
    Remarks,
    FederalFundsAuthorized,
    ReviewerComments,
    Submitter,
    SubmitterOwner,
    Reviewer,
    ReviewerOwner,
    SubmitTime,
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
        use FinancialReports as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(text(F::Id).primary_key())
                    .col(text(F::GrantId))
                    .col(text(F::Period))
                    .col(date(F::PeriodStartDate))
                    .col(date(F::PeriodEndDate))
                    .col(date(F::DueDate))
                    .col(text(F::State))
                    .col(big_integer(F::CashReceipts))
                    .col(big_integer(F::CashDisbursements))
                    .col(big_integer(F::FederalExpenditures))
                    .col(big_integer(F::FederalUnliquidatedObligations))
                    .col(big_integer(F::RecipientShareRequired))
                    .col(big_integer(F::RecipientShareExpended))
                    .col(text(F::IndirectRateType))
                    .col(integer(F::IndirectRateBasisPoints))
                    .col(big_integer(F::IndirectBase))
                    .col(big_integer(F::IndirectAmount))
                    .col(text(F::ExpenditureDecreaseReason))
                    .col(text(F::Remarks))
                    .col(big_integer(F::FederalFundsAuthorized))
                    .col(text(F::ReviewerComments))
                    .col(text(F::Submitter))
                    .col(text(F::SubmitterOwner))
                    .col(text(F::Reviewer))
                    .col(text(F::ReviewerOwner))
                    .col(timestamp_with_time_zone_null(F::SubmitTime))
                    .col(timestamp_with_time_zone(F::CreateTime))
                    .col(timestamp_with_time_zone(F::UpdateTime))
                    .col(big_integer(F::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(F::Table, F::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One report per grant and period.
        manager
            .create_index(
                Index::create()
                    .name("financial_reports_grant_period")
                    .table(F::Table)
                    .col(F::GrantId)
                    .col(F::Period)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FinancialReports::Table).to_owned())
            .await
    }
}
