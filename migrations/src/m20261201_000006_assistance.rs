//! The emergency victim-assistance fund: the fund of each fiscal year (one
//! row, locked by every change of its money), its allocations, the cases
//! (their needs a JSON list, changed only with the case), and their
//! payments. A victim's personal data is stored only sealed
//! (`{key_id}:{nonce}:{ciphertext}`, one column per field), with the id of
//! the key that sealed it beside it so that rotation finds the cases still
//! under an old key. Allocations and payments are append-only.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FundYears {
    Table,
    FiscalYear,
    Allocated,
    Committed,
    Paid,
    CaseSequence,
    UpdateTime,
}

#[derive(DeriveIden)]
enum FundAllocations {
    Table,
    Id,
    FiscalYear,
    Amount,
    Note,
    Creator,
    CreateTime,
}

#[derive(DeriveIden)]
enum AssistanceCases {
    Table,
    Id,
    CaseNumber,
    FiscalYear,
    ReferringOrganizationId,
    CountryCode,
    VictimSex,
    VictimAgeGroup,
    VictimNationality,
    TraffickingForm,
    Urgency,
    ConsentToServices,
    ConsentToStatistics,
    Needs,
    State,
    ReferralTime,
    DecisionTime,
    FirstPaymentTime,
    CloseTime,
    StateReason,
    Outcome,
    Referrer,
    Reviewer,
    Decider,
    RequestedAmount,
    ApprovedAmount,
    PaidAmount,
    FullNameSealed,
    ContactSealed,
    NotesSealed,
    PersonalDataKey,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum Disbursements {
    Table,
    Id,
    CaseId,
    NeedNumber,
    NeedKind,
    Amount,
    PaymentTime,
    Reference,
    Creator,
    CreateTime,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Countries {
    Table,
    Alpha2,
}

/// Tables whose rows are never changed or deleted once written.
const APPEND_ONLY: [&str; 2] = ["fund_allocations", "disbursements"];

fn index(name: &str, table: impl IntoIden, columns: Vec<DynIden>) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(column);
    }
    statement.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FundYears::Table)
                    .col(integer(FundYears::FiscalYear).primary_key())
                    .col(big_integer(FundYears::Allocated))
                    .col(big_integer(FundYears::Committed))
                    .col(big_integer(FundYears::Paid))
                    .col(big_integer(FundYears::CaseSequence))
                    .col(timestamp_with_time_zone(FundYears::UpdateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FundAllocations::Table)
                    .col(text(FundAllocations::Id).primary_key())
                    .col(integer(FundAllocations::FiscalYear))
                    .col(big_integer(FundAllocations::Amount))
                    .col(text(FundAllocations::Note))
                    .col(text(FundAllocations::Creator))
                    .col(timestamp_with_time_zone(FundAllocations::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FundAllocations::Table, FundAllocations::FiscalYear)
                            .to(FundYears::Table, FundYears::FiscalYear),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "fund_allocations_fiscal_year",
                FundAllocations::Table,
                vec![
                    FundAllocations::FiscalYear.into_iden(),
                    FundAllocations::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssistanceCases::Table)
                    .col(text(AssistanceCases::Id).primary_key())
                    .col(text(AssistanceCases::CaseNumber))
                    .col(integer(AssistanceCases::FiscalYear))
                    .col(text(AssistanceCases::ReferringOrganizationId))
                    .col(text(AssistanceCases::CountryCode))
                    .col(text(AssistanceCases::VictimSex))
                    .col(text(AssistanceCases::VictimAgeGroup))
                    .col(text(AssistanceCases::VictimNationality))
                    .col(text(AssistanceCases::TraffickingForm))
                    .col(text(AssistanceCases::Urgency))
                    .col(boolean(AssistanceCases::ConsentToServices))
                    .col(boolean(AssistanceCases::ConsentToStatistics))
                    .col(json_binary(AssistanceCases::Needs))
                    .col(text(AssistanceCases::State))
                    .col(timestamp_with_time_zone(AssistanceCases::ReferralTime))
                    .col(timestamp_with_time_zone_null(AssistanceCases::DecisionTime))
                    .col(timestamp_with_time_zone_null(
                        AssistanceCases::FirstPaymentTime,
                    ))
                    .col(timestamp_with_time_zone_null(AssistanceCases::CloseTime))
                    .col(text(AssistanceCases::StateReason))
                    .col(text(AssistanceCases::Outcome))
                    .col(text(AssistanceCases::Referrer))
                    .col(text(AssistanceCases::Reviewer))
                    .col(text(AssistanceCases::Decider))
                    .col(big_integer(AssistanceCases::RequestedAmount))
                    .col(big_integer(AssistanceCases::ApprovedAmount))
                    .col(big_integer(AssistanceCases::PaidAmount))
                    .col(text_null(AssistanceCases::FullNameSealed))
                    .col(text_null(AssistanceCases::ContactSealed))
                    .col(text_null(AssistanceCases::NotesSealed))
                    .col(text_null(AssistanceCases::PersonalDataKey))
                    .col(timestamp_with_time_zone(AssistanceCases::CreateTime))
                    .col(timestamp_with_time_zone(AssistanceCases::UpdateTime))
                    .col(big_integer(AssistanceCases::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                AssistanceCases::Table,
                                AssistanceCases::ReferringOrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AssistanceCases::Table, AssistanceCases::CountryCode)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AssistanceCases::Table, AssistanceCases::VictimNationality)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AssistanceCases::Table, AssistanceCases::FiscalYear)
                            .to(FundYears::Table, FundYears::FiscalYear),
                    )
                    .to_owned(),
            )
            .await?;
        // The readable number is unique: two referrals can never share one.
        manager
            .create_index(
                index(
                    "assistance_cases_case_number",
                    AssistanceCases::Table,
                    vec![AssistanceCases::CaseNumber.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "assistance_cases_referrer_id",
                vec![
                    AssistanceCases::ReferringOrganizationId.into_iden(),
                    AssistanceCases::Id.into_iden(),
                ],
            ),
            (
                "assistance_cases_fiscal_year_id",
                vec![
                    AssistanceCases::FiscalYear.into_iden(),
                    AssistanceCases::Id.into_iden(),
                ],
            ),
            (
                "assistance_cases_state_urgency",
                vec![
                    AssistanceCases::State.into_iden(),
                    AssistanceCases::Urgency.into_iden(),
                    AssistanceCases::ReferralTime.into_iden(),
                ],
            ),
            (
                "assistance_cases_personal_data_key",
                vec![AssistanceCases::PersonalDataKey.into_iden()],
            ),
        ] {
            manager
                .create_index(index(name, AssistanceCases::Table, columns))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Disbursements::Table)
                    .col(text(Disbursements::Id).primary_key())
                    .col(text(Disbursements::CaseId))
                    .col(integer(Disbursements::NeedNumber))
                    .col(text(Disbursements::NeedKind))
                    .col(big_integer(Disbursements::Amount))
                    .col(timestamp_with_time_zone(Disbursements::PaymentTime))
                    .col(text(Disbursements::Reference))
                    .col(text(Disbursements::Creator))
                    .col(timestamp_with_time_zone(Disbursements::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Disbursements::Table, Disbursements::CaseId)
                            .to(AssistanceCases::Table, AssistanceCases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "disbursements_case_id",
                Disbursements::Table,
                vec![
                    Disbursements::CaseId.into_iden(),
                    Disbursements::Id.into_iden(),
                ],
            ))
            .await?;
        append_only(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Disbursements::Table.into_iden(),
            AssistanceCases::Table.into_iden(),
            FundAllocations::Table.into_iden(),
            FundYears::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Refuses UPDATE and DELETE on allocations and payments, as `m20261128_000004_append_only`
/// does for the audit log (on PostgreSQL with the function that migration created).
async fn append_only(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for table in APPEND_ONLY {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                     FOR EACH ROW EXECUTE FUNCTION refuse_change_of_append_only_table()"
                ))
                .await?;
            }
            _ => {
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
