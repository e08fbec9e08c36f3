//! The partner keys' table.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum PartnerKeys {
    Table,
    Id,
    Partner,
    KeyHash,
    KeyPrefix,
    AllowedOrigins,
    RequestsPerMinute,
    CreateTime,
    RevokeTime,
}

/// The `partner_keys` table.
pub(crate) struct CreatePartnerKeys;

impl MigrationName for CreatePartnerKeys {
    fn name(&self) -> &str {
        "m20261128_000001_create_partner_keys"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreatePartnerKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PartnerKeys::Table)
                    .col(
                        ColumnDef::new(PartnerKeys::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PartnerKeys::Partner).text().not_null())
                    // SHA-256 of the key, hex: the key itself is never stored.
                    .col(
                        ColumnDef::new(PartnerKeys::KeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(PartnerKeys::KeyPrefix)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PartnerKeys::AllowedOrigins)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PartnerKeys::RequestsPerMinute)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PartnerKeys::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PartnerKeys::RevokeTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PartnerKeys::Table).to_owned())
            .await
    }
}
