//! The preview links' table.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum PreviewLinks {
    Table,
    Id,
    PaperId,
    ExpireTime,
    CreateTime,
    RevokeTime,
}

/// The `preview_links` table, with an index on the paper.
pub(crate) struct CreatePreviewLinks;

impl MigrationName for CreatePreviewLinks {
    fn name(&self) -> &str {
        "m20261202_000002_create_preview_links"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreatePreviewLinks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PreviewLinks::Table)
                    .col(
                        ColumnDef::new(PreviewLinks::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PreviewLinks::PaperId).uuid().not_null())
                    .col(
                        ColumnDef::new(PreviewLinks::ExpireTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PreviewLinks::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PreviewLinks::RevokeTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("preview_links_paper_id_idx")
                    .table(PreviewLinks::Table)
                    .col(PreviewLinks::PaperId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PreviewLinks::Table).to_owned())
            .await
    }
}
