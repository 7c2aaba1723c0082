//! One ledger (issue 20): the emergency fund's allocations draw on an
//! account's fiscal-year money like any obligation, so a victim's payment
//! traces back to an appropriation. Each allocation gets its funding account
//! and the day it took effect.
//!
//! Allocations recorded before this migration drew on no appropriation. They
//! are given one, as migration 000009 gave the obligations on record theirs:
//! a funding account `EVAF` (emergency victim assistance fund, recorded by
//! this migration) and, per fiscal year, an appropriation of what was
//! allocated, available for two fiscal years. Their day stays empty (NULL):
//! it is the day they were recorded. `fund_allocations` is append-only, so
//! the account is given by the column's default, not by an UPDATE; the server
//! always sets it on new allocations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The funding account of the allocations recorded before allocations drew on appropriations.
const LEGACY_ACCOUNT: &str = "EVAF";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "ALTER TABLE fund_allocations ADD COLUMN account_code TEXT NOT NULL DEFAULT '{LEGACY_ACCOUNT}'"
        ))
        .await?;
        db.execute_unprepared("ALTER TABLE fund_allocations ADD COLUMN allocation_date DATE NULL")
            .await?;
        // The same statements on both databases: standard SQL.
        db.execute_unprepared(&format!(
            "INSERT INTO funding_accounts
               (code, display_name, description, create_time, update_time, delete_time, revision)
             SELECT '{LEGACY_ACCOUNT}', 'Emergency victim assistance fund',
                    'Recorded by migration m20261207_000013 for the emergency fund''s allocations made before they drew on appropriations',
                    (SELECT MIN(create_time) FROM fund_allocations),
                    (SELECT MIN(create_time) FROM fund_allocations), NULL, 1
             WHERE EXISTS (SELECT 1 FROM fund_allocations)
               AND NOT EXISTS (SELECT 1 FROM funding_accounts WHERE code = '{LEGACY_ACCOUNT}')"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO appropriations
               (id, account_code, fiscal_year, amount_cents, availability_years, note,
                create_time, update_time, revision)
             SELECT '{LEGACY_ACCOUNT}/' || CAST(fiscal_year AS TEXT), '{LEGACY_ACCOUNT}', fiscal_year,
                    SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 2,
                    'recorded by migration m20261207_000013 from the emergency fund''s allocations on record',
                    MIN(create_time), MIN(create_time), 1
             FROM fund_allocations
             WHERE NOT EXISTS (
                 SELECT 1 FROM appropriations
                 WHERE appropriations.account_code = '{LEGACY_ACCOUNT}'
                   AND appropriations.fiscal_year = fund_allocations.fiscal_year)
             GROUP BY fiscal_year
             HAVING SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) > 0"
        ))
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("fund_allocations_account_year")
                    .table(Alias::new("fund_allocations"))
                    .col(Alias::new("account_code"))
                    .col(Alias::new("fiscal_year"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("fund_allocations_account_year")
                    .table(Alias::new("fund_allocations"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for column in ["allocation_date", "account_code"] {
            db.execute_unprepared(&format!(
                "ALTER TABLE fund_allocations DROP COLUMN {column}"
            ))
            .await?;
        }
        Ok(())
    }
}
