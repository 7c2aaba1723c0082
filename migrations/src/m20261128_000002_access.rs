//! API tokens: stored only as a hash of their secret.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    DisplayName,
    Owner,
    Role,
    OrganizationId,
    SecretHash,
    SecretPrefix,
    ExpireTime,
    RevokeTime,
    CreateTime,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(text(ApiTokens::Id).primary_key())
                    .col(text(ApiTokens::DisplayName))
                    .col(text(ApiTokens::Owner))
                    .col(text(ApiTokens::Role))
                    .col(text_null(ApiTokens::OrganizationId))
                    .col(text(ApiTokens::SecretHash).unique_key())
                    .col(text(ApiTokens::SecretPrefix))
                    .col(timestamp_with_time_zone(ApiTokens::ExpireTime))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokeTime))
                    .col(timestamp_with_time_zone(ApiTokens::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiTokens::Table, ApiTokens::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiTokens::Table).to_owned())
            .await
    }
}
