//! Outcome reports (a grantee's report for a project and a reporting
//! period), their outcomes, and milestones: one law, one first conviction,
//! one referral mechanism, one government commitment per country, kind and
//! date, however many grantees report it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutcomeReports {
    Table,
    Id,
    GrantId,
    ProjectId,
    Period,
    PeriodStartDate,
    PeriodEndDate,
    DueDate,
    State,
    Narrative,
    ReviewerComments,
    Submitter,
    SubmitTime,
    Reviewer,
    ReviewTime,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum Milestones {
    Table,
    Id,
    Kind,
    CountryCode,
    MilestoneDate,
    FiscalYear,
    Description,
    CreateTime,
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    Id,
    ReportId,
    Kind,
    CountryCode,
    OutcomeDate,
    FiscalYear,
    Quantity,
    Breakdown,
    FirstForCountry,
    Description,
    EvidenceUri,
    IndicatorId,
    MilestoneId,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Countries {
    Table,
    Alpha2,
}

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
                    .table(OutcomeReports::Table)
                    .col(text(OutcomeReports::Id).primary_key())
                    .col(text(OutcomeReports::GrantId))
                    .col(text(OutcomeReports::ProjectId))
                    .col(text(OutcomeReports::Period))
                    .col(date(OutcomeReports::PeriodStartDate))
                    .col(date(OutcomeReports::PeriodEndDate))
                    .col(date_null(OutcomeReports::DueDate))
                    .col(text(OutcomeReports::State))
                    .col(text(OutcomeReports::Narrative))
                    .col(text(OutcomeReports::ReviewerComments))
                    .col(text(OutcomeReports::Submitter))
                    .col(timestamp_with_time_zone_null(OutcomeReports::SubmitTime))
                    .col(text(OutcomeReports::Reviewer))
                    .col(timestamp_with_time_zone_null(OutcomeReports::ReviewTime))
                    .col(timestamp_with_time_zone(OutcomeReports::CreateTime))
                    .col(timestamp_with_time_zone(OutcomeReports::UpdateTime))
                    .col(big_integer(OutcomeReports::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OutcomeReports::Table, OutcomeReports::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One report per project and period.
        manager
            .create_index(
                index(
                    "outcome_reports_project_period",
                    OutcomeReports::Table,
                    vec![
                        OutcomeReports::ProjectId.into_iden(),
                        OutcomeReports::Period.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Milestones::Table)
                    .col(text(Milestones::Id).primary_key())
                    .col(text(Milestones::Kind))
                    .col(text(Milestones::CountryCode))
                    .col(date(Milestones::MilestoneDate))
                    .col(integer(Milestones::FiscalYear))
                    .col(text(Milestones::Description))
                    .col(timestamp_with_time_zone(Milestones::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Milestones::Table, Milestones::CountryCode)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .to_owned(),
            )
            .await?;
        // One milestone per country, kind and date: two grantees reporting one law find one row.
        manager
            .create_index(
                index(
                    "milestones_country_kind_date",
                    Milestones::Table,
                    vec![
                        Milestones::CountryCode.into_iden(),
                        Milestones::Kind.into_iden(),
                        Milestones::MilestoneDate.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outcomes::Table)
                    .col(text(Outcomes::Id).primary_key())
                    .col(text(Outcomes::ReportId))
                    .col(text(Outcomes::Kind))
                    .col(text(Outcomes::CountryCode))
                    .col(date_null(Outcomes::OutcomeDate))
                    .col(integer_null(Outcomes::FiscalYear))
                    .col(big_integer(Outcomes::Quantity))
                    .col(json_binary(Outcomes::Breakdown))
                    .col(boolean(Outcomes::FirstForCountry))
                    .col(text(Outcomes::Description))
                    .col(text(Outcomes::EvidenceUri))
                    .col(text(Outcomes::IndicatorId))
                    .col(text_null(Outcomes::MilestoneId))
                    .col(timestamp_with_time_zone(Outcomes::CreateTime))
                    .col(timestamp_with_time_zone(Outcomes::UpdateTime))
                    .col(timestamp_with_time_zone_null(Outcomes::DeleteTime))
                    .col(big_integer(Outcomes::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Outcomes::Table, Outcomes::ReportId)
                            .to(OutcomeReports::Table, OutcomeReports::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Outcomes::Table, Outcomes::MilestoneId)
                            .to(Milestones::Table, Milestones::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "outcomes_report_id",
                Outcomes::Table,
                vec![Outcomes::ReportId.into_iden(), Outcomes::Id.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "outcomes_milestone_id",
                Outcomes::Table,
                vec![Outcomes::MilestoneId.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "outcomes_indicator_id",
                Outcomes::Table,
                vec![Outcomes::IndicatorId.into_iden()],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outcomes::Table.into_iden(),
            Milestones::Table.into_iden(),
            OutcomeReports::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
