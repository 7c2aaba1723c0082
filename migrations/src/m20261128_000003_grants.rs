//! Grants and their money, projects and indicators, and the TIP Report
//! reference data they answer (tier per country and year, recommendations).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    AwardNumber,
    Title,
    OrganizationId,
    Instrument,
    Approach,
    StartDate,
    EndDate,
    ReportingCadence,
    ProgramOfficer,
    State,
    StateReason,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum Obligations {
    Table,
    Id,
    GrantId,
    Kind,
    AccountCode,
    FiscalYear,
    AmountCents,
    ObligationDate,
    Note,
    CreateTime,
}

#[derive(DeriveIden)]
enum GrantRevisions {
    Table,
    GrantId,
    Revision,
    RevisionTime,
    Actor,
    Method,
    Terms,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    GrantId,
    Title,
    Summary,
    StartDate,
    EndDate,
    State,
    ActivityKinds,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum ProjectCountries {
    Table,
    ProjectId,
    CountryCode,
}

#[derive(DeriveIden)]
enum ProjectPillars {
    Table,
    ProjectId,
    Pillar,
}

#[derive(DeriveIden)]
enum ProjectRecommendations {
    Table,
    ProjectId,
    RecommendationId,
}

#[derive(DeriveIden)]
enum Indicators {
    Table,
    Id,
    ProjectId,
    DisplayName,
    Unit,
    OutcomeKind,
    Baseline,
    Targets,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[derive(DeriveIden)]
enum TipRankings {
    Table,
    CountryCode,
    ReportYear,
    Tier,
    CreateTime,
    UpdateTime,
    Revision,
}

#[derive(DeriveIden)]
enum TipRecommendations {
    Table,
    Id,
    CountryCode,
    ReportYear,
    Pillar,
    Text,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum FundingAccounts {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum Countries {
    Table,
    Alpha2,
}

fn index(name: &str, table: impl IntoIden, columns: Vec<DynIden>) -> IndexCreateStatement {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for column in columns {
        statement.col(column);
    }
    statement
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .col(text(Grants::Id).primary_key())
                    .col(text(Grants::AwardNumber).unique_key())
                    .col(text(Grants::Title))
                    .col(text(Grants::OrganizationId))
                    .col(text(Grants::Instrument))
                    .col(text(Grants::Approach))
                    .col(date(Grants::StartDate))
                    .col(date(Grants::EndDate))
                    .col(text(Grants::ReportingCadence))
                    .col(text(Grants::ProgramOfficer))
                    .col(text(Grants::State))
                    .col(text(Grants::StateReason))
                    .col(timestamp_with_time_zone(Grants::CreateTime))
                    .col(timestamp_with_time_zone(Grants::UpdateTime))
                    .col(big_integer(Grants::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Grants::Table, Grants::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "grants_organization_id",
                Grants::Table,
                vec![Grants::OrganizationId.into_iden(), Grants::Id.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "grants_state",
                Grants::Table,
                vec![Grants::State.into_iden(), Grants::Id.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Obligations::Table)
                    .col(text(Obligations::Id).primary_key())
                    .col(text(Obligations::GrantId))
                    .col(text(Obligations::Kind))
                    .col(text(Obligations::AccountCode))
                    .col(integer(Obligations::FiscalYear))
                    .col(big_integer(Obligations::AmountCents))
                    .col(date(Obligations::ObligationDate))
                    .col(text(Obligations::Note))
                    .col(timestamp_with_time_zone(Obligations::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Obligations::Table, Obligations::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Obligations::Table, Obligations::AccountCode)
                            .to(FundingAccounts::Table, FundingAccounts::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "obligations_grant_id",
                Obligations::Table,
                vec![
                    Obligations::GrantId.into_iden(),
                    Obligations::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "obligations_account_year",
                Obligations::Table,
                vec![
                    Obligations::AccountCode.into_iden(),
                    Obligations::FiscalYear.into_iden(),
                    Obligations::GrantId.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "obligations_fiscal_year",
                Obligations::Table,
                vec![
                    Obligations::FiscalYear.into_iden(),
                    Obligations::GrantId.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GrantRevisions::Table)
                    .col(text(GrantRevisions::GrantId))
                    .col(big_integer(GrantRevisions::Revision))
                    .col(timestamp_with_time_zone(GrantRevisions::RevisionTime))
                    .col(text(GrantRevisions::Actor))
                    .col(text(GrantRevisions::Method))
                    .col(json_binary(GrantRevisions::Terms))
                    .primary_key(
                        Index::create()
                            .col(GrantRevisions::GrantId)
                            .col(GrantRevisions::Revision),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GrantRevisions::Table, GrantRevisions::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TipRecommendations::Table)
                    .col(text(TipRecommendations::Id).primary_key())
                    .col(text(TipRecommendations::CountryCode))
                    .col(integer(TipRecommendations::ReportYear))
                    .col(text(TipRecommendations::Pillar))
                    .col(text(TipRecommendations::Text))
                    .col(timestamp_with_time_zone(TipRecommendations::CreateTime))
                    .col(timestamp_with_time_zone(TipRecommendations::UpdateTime))
                    .col(timestamp_with_time_zone_null(
                        TipRecommendations::DeleteTime,
                    ))
                    .col(big_integer(TipRecommendations::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TipRecommendations::Table, TipRecommendations::CountryCode)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "tip_recommendations_country_year",
                TipRecommendations::Table,
                vec![
                    TipRecommendations::CountryCode.into_iden(),
                    TipRecommendations::ReportYear.into_iden(),
                    TipRecommendations::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TipRankings::Table)
                    .col(text(TipRankings::CountryCode))
                    .col(integer(TipRankings::ReportYear))
                    .col(text(TipRankings::Tier))
                    .col(timestamp_with_time_zone(TipRankings::CreateTime))
                    .col(timestamp_with_time_zone(TipRankings::UpdateTime))
                    .col(big_integer(TipRankings::Revision))
                    .primary_key(
                        Index::create()
                            .col(TipRankings::CountryCode)
                            .col(TipRankings::ReportYear),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TipRankings::Table, TipRankings::CountryCode)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(text(Projects::Id).primary_key())
                    .col(text(Projects::GrantId))
                    .col(text(Projects::Title))
                    .col(text(Projects::Summary))
                    .col(date(Projects::StartDate))
                    .col(date(Projects::EndDate))
                    .col(text(Projects::State))
                    .col(json_binary(Projects::ActivityKinds))
                    .col(timestamp_with_time_zone(Projects::CreateTime))
                    .col(timestamp_with_time_zone(Projects::UpdateTime))
                    .col(big_integer(Projects::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Projects::Table, Projects::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "projects_grant_id",
                Projects::Table,
                vec![Projects::GrantId.into_iden(), Projects::Id.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectCountries::Table)
                    .col(text(ProjectCountries::ProjectId))
                    .col(text(ProjectCountries::CountryCode))
                    .primary_key(
                        Index::create()
                            .col(ProjectCountries::ProjectId)
                            .col(ProjectCountries::CountryCode),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectCountries::Table, ProjectCountries::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectCountries::Table, ProjectCountries::CountryCode)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "project_countries_country_code",
                ProjectCountries::Table,
                vec![
                    ProjectCountries::CountryCode.into_iden(),
                    ProjectCountries::ProjectId.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectPillars::Table)
                    .col(text(ProjectPillars::ProjectId))
                    .col(text(ProjectPillars::Pillar))
                    .primary_key(
                        Index::create()
                            .col(ProjectPillars::ProjectId)
                            .col(ProjectPillars::Pillar),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectPillars::Table, ProjectPillars::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "project_pillars_pillar",
                ProjectPillars::Table,
                vec![
                    ProjectPillars::Pillar.into_iden(),
                    ProjectPillars::ProjectId.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectRecommendations::Table)
                    .col(text(ProjectRecommendations::ProjectId))
                    .col(text(ProjectRecommendations::RecommendationId))
                    .primary_key(
                        Index::create()
                            .col(ProjectRecommendations::ProjectId)
                            .col(ProjectRecommendations::RecommendationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ProjectRecommendations::Table,
                                ProjectRecommendations::ProjectId,
                            )
                            .to(Projects::Table, Projects::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ProjectRecommendations::Table,
                                ProjectRecommendations::RecommendationId,
                            )
                            .to(TipRecommendations::Table, TipRecommendations::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Indicators::Table)
                    .col(text(Indicators::Id).primary_key())
                    .col(text(Indicators::ProjectId))
                    .col(text(Indicators::DisplayName))
                    .col(text(Indicators::Unit))
                    .col(text(Indicators::OutcomeKind))
                    .col(big_integer(Indicators::Baseline))
                    .col(json_binary(Indicators::Targets))
                    .col(timestamp_with_time_zone(Indicators::CreateTime))
                    .col(timestamp_with_time_zone(Indicators::UpdateTime))
                    .col(timestamp_with_time_zone_null(Indicators::DeleteTime))
                    .col(big_integer(Indicators::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Indicators::Table, Indicators::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "indicators_project_id",
                Indicators::Table,
                vec![
                    Indicators::ProjectId.into_iden(),
                    Indicators::Id.into_iden(),
                ],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Indicators::Table.into_iden(),
            ProjectRecommendations::Table.into_iden(),
            ProjectPillars::Table.into_iden(),
            ProjectCountries::Table.into_iden(),
            Projects::Table.into_iden(),
            TipRankings::Table.into_iden(),
            TipRecommendations::Table.into_iden(),
            GrantRevisions::Table.into_iden(),
            Obligations::Table.into_iden(),
            Grants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
