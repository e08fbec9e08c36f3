//! The gateway's database schema: partner keys. Migrations are recorded in
//! `gateway_migrations`, so the gateway can share a database with other services.

use sea_orm_migration::prelude::*;

/// Every migration of the gateway, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreatePartnerKeys)]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("gateway_migrations").into_iden()
    }
}

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

struct CreatePartnerKeys;

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
