//! Appropriations: an account's money of one fiscal year, with its period of
//! availability, which every new obligation draws on. The obligations already
//! on record get the appropriations they drew on: per account and fiscal year,
//! the sum of their awards and increments, available for two fiscal years
//! (ESF and INCLE practice), noted as recorded by this migration.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Appropriations {
    Table,
    Id,
    AccountCode,
    FiscalYear,
    AmountCents,
    AvailabilityYears,
    Note,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum FundingAccounts {
    Table,
    Code,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Appropriations::Table)
                    // `{account_code}/{fiscal_year}`: one key in the order of listing.
                    .col(text(Appropriations::Id).primary_key())
                    .col(text(Appropriations::AccountCode))
                    .col(integer(Appropriations::FiscalYear))
                    .col(big_integer(Appropriations::AmountCents))
                    .col(integer(Appropriations::AvailabilityYears))
                    .col(text(Appropriations::Note))
                    .col(timestamp_with_time_zone(Appropriations::CreateTime))
                    .col(timestamp_with_time_zone(Appropriations::UpdateTime))
                    .col(big_integer(Appropriations::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Appropriations::Table, Appropriations::AccountCode)
                            .to(FundingAccounts::Table, FundingAccounts::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("appropriations_account_year")
                    .table(Appropriations::Table)
                    .col(Appropriations::AccountCode)
                    .col(Appropriations::FiscalYear)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The same statement on both databases: text concatenation and CAST are standard SQL.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO appropriations
                   (id, account_code, fiscal_year, amount_cents, availability_years, note,
                    create_time, update_time, revision)
                 SELECT account_code || '/' || CAST(fiscal_year AS TEXT), account_code, fiscal_year,
                        SUM(CASE WHEN kind = 'DEOBLIGATION' THEN 0 ELSE amount_cents END), 2,
                        'recorded by migration m20261207_000009 from the obligations on record',
                        MIN(create_time), MIN(create_time), 1
                 FROM obligations GROUP BY account_code, fiscal_year",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Appropriations::Table).to_owned())
            .await
    }
}
