//! The foundation: regions and countries (seeded), organisations, funding
//! accounts, idempotency keys and the hash-chained audit log.

use sea_orm_migration::{prelude::*, schema::*};

use crate::seed;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Code,
    DisplayName,
}

#[derive(DeriveIden)]
enum Countries {
    Table,
    Alpha2,
    Alpha3,
    Numeric,
    DisplayName,
    RegionCode,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    DisplayName,
    Kind,
    CountryCode,
    Identifiers,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[derive(DeriveIden)]
enum FundingAccounts {
    Table,
    Code,
    DisplayName,
    Description,
    CreateTime,
    UpdateTime,
    DeleteTime,
    Revision,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Principal,
    Method,
    RequestId,
    RequestHash,
    Response,
    CreateTime,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Sequence,
    EventTime,
    Actor,
    ActorRole,
    Method,
    Resource,
    RequestId,
    Diff,
    PreviousHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Sequence,
    Hash,
}

const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Regions::Table)
                    .col(text(Regions::Code).primary_key())
                    .col(text(Regions::DisplayName))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Countries::Table)
                    .col(text(Countries::Alpha2).primary_key())
                    .col(text(Countries::Alpha3).unique_key())
                    .col(text(Countries::Numeric))
                    .col(text(Countries::DisplayName))
                    .col(text(Countries::RegionCode))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Countries::Table, Countries::RegionCode)
                            .to(Regions::Table, Regions::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("countries_region_code")
                    .table(Countries::Table)
                    .col(Countries::RegionCode)
                    .col(Countries::Alpha2)
                    .to_owned(),
            )
            .await?;
        seed_reference_data(manager).await?;

        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(text(Organizations::Id).primary_key())
                    .col(text(Organizations::DisplayName))
                    .col(text(Organizations::Kind))
                    .col(text(Organizations::CountryCode))
                    .col(json_binary(Organizations::Identifiers))
                    .col(timestamp_with_time_zone(Organizations::CreateTime))
                    .col(timestamp_with_time_zone(Organizations::UpdateTime))
                    .col(timestamp_with_time_zone_null(Organizations::DeleteTime))
                    .col(big_integer(Organizations::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Organizations::Table, Organizations::CountryCode)
                            .to(Countries::Table, Countries::Alpha2),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("organizations_kind", Organizations::Kind),
            ("organizations_country_code", Organizations::CountryCode),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Organizations::Table)
                        .col(column)
                        .col(Organizations::Id)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(FundingAccounts::Table)
                    .col(text(FundingAccounts::Code).primary_key())
                    .col(text(FundingAccounts::DisplayName))
                    .col(text(FundingAccounts::Description))
                    .col(timestamp_with_time_zone(FundingAccounts::CreateTime))
                    .col(timestamp_with_time_zone(FundingAccounts::UpdateTime))
                    .col(timestamp_with_time_zone_null(FundingAccounts::DeleteTime))
                    .col(big_integer(FundingAccounts::Revision))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(text(IdempotencyKeys::Principal))
                    .col(text(IdempotencyKeys::Method))
                    .col(text(IdempotencyKeys::RequestId))
                    .col(text(IdempotencyKeys::RequestHash))
                    .col(blob(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreateTime))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Principal)
                            .col(IdempotencyKeys::Method)
                            .col(IdempotencyKeys::RequestId),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_integer(AuditEvents::Sequence).primary_key())
                    .col(timestamp_with_time_zone(AuditEvents::EventTime))
                    .col(text(AuditEvents::Actor))
                    .col(text(AuditEvents::ActorRole))
                    .col(text(AuditEvents::Method))
                    .col(text(AuditEvents::Resource))
                    .col(text(AuditEvents::RequestId))
                    .col(json_binary(AuditEvents::Diff))
                    .col(text(AuditEvents::PreviousHash))
                    .col(text(AuditEvents::Hash))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("audit_events_resource", AuditEvents::Resource),
            ("audit_events_actor", AuditEvents::Actor),
            ("audit_events_event_time", AuditEvents::EventTime),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(column)
                        .col(AuditEvents::Sequence)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::Sequence))
                    .col(text(AuditHead::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::Sequence, AuditHead::Hash])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            FundingAccounts::Table.into_iden(),
            Organizations::Table.into_iden(),
            Countries::Table.into_iden(),
            Regions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn seed_reference_data(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut regions = Query::insert()
        .into_table(Regions::Table)
        .columns([Regions::Code, Regions::DisplayName])
        .to_owned();
    for row in seed::regions() {
        regions
            .values(row.into_iter().map(Into::into).collect::<Vec<SimpleExpr>>())
            .map_err(|error| DbErr::Migration(error.to_string()))?;
    }
    manager.exec_stmt(regions).await?;

    // 249 rows of 5 values: far under PostgreSQL's bind-parameter limit, so one statement.
    let mut countries = Query::insert()
        .into_table(Countries::Table)
        .columns([
            Countries::Alpha2,
            Countries::Alpha3,
            Countries::Numeric,
            Countries::DisplayName,
            Countries::RegionCode,
        ])
        .to_owned();
    for row in seed::countries() {
        countries
            .values(row.into_iter().map(Into::into).collect::<Vec<SimpleExpr>>())
            .map_err(|error| DbErr::Migration(error.to_string()))?;
    }
    manager.exec_stmt(countries).await?;
    Ok(())
}
