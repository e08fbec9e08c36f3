//! The authors database schema, as sea-orm migrations that run unchanged on PostgreSQL and
//! SQLite. Migrations are recorded in `authors_migrations`, so this service can share a
//! database with others without their histories colliding.

use sea_orm_migration::prelude::*;

/// Every migration of the authors service, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateAuthors),
            Box::new(AddEvents),
            Box::new(CreateRevisions),
            Box::new(AddPhoto),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("authors_migrations").into_iden()
    }
}

#[derive(DeriveIden)]
enum Authors {
    Table,
    Id,
    Slug,
    Name,
    NameKey,
    Bio,
    Positions,
    Orcid,
    PhotoUrl,
    Version,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum AuthorSlugs {
    Table,
    Slug,
    AuthorId,
}

struct CreateAuthors;

impl MigrationName for CreateAuthors {
    fn name(&self) -> &str {
        "m20261128_000001_create_authors"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateAuthors {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Authors::Table)
                    .col(ColumnDef::new(Authors::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Authors::Slug).string_len(100).not_null())
                    // Lengths are checked in characters by the domain; folding for search and
                    // percent-encoding URLs lengthen text, so these columns are unbounded text.
                    .col(ColumnDef::new(Authors::Name).text().not_null())
                    .col(ColumnDef::new(Authors::NameKey).text().not_null())
                    .col(ColumnDef::new(Authors::Bio).text().not_null())
                    .col(ColumnDef::new(Authors::Positions).text().not_null())
                    .col(ColumnDef::new(Authors::Orcid).string_len(19).null())
                    .col(ColumnDef::new(Authors::PhotoUrl).text().null())
                    .col(ColumnDef::new(Authors::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Authors::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Authors::UpdateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("authors_slug_key")
                    .table(Authors::Table)
                    .col(Authors::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("authors_orcid_key")
                    .table(Authors::Table)
                    .col(Authors::Orcid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("authors_name_key_id_idx")
                    .table(Authors::Table)
                    .col(Authors::NameKey)
                    .col(Authors::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorSlugs::Table)
                    .col(
                        ColumnDef::new(AuthorSlugs::Slug)
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuthorSlugs::AuthorId).uuid().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("author_slugs_author_id_idx")
                    .table(AuthorSlugs::Table)
                    .col(AuthorSlugs::AuthorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthorSlugs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Authors::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuthorPaperCredits {
    Table,
    PaperId,
    AuthorId,
}

#[derive(DeriveIden)]
enum AuthorPaperVersions {
    Table,
    PaperId,
    Version,
}

/// Events (issue 3): the outbox of `author.*` events, and the read model of paper credits
/// learned from `paper.*` events, with each author's count.
struct AddEvents;

impl MigrationName for AddEvents {
    fn name(&self) -> &str {
        "m20261128_000002_author_events"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(crate::OUTBOX.create_table()).await?;
        manager.create_index(crate::OUTBOX.create_index()).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Authors::Table)
                    .add_column(
                        ColumnDef::new(Alias::new("paper_count"))
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorPaperCredits::Table)
                    .col(
                        ColumnDef::new(AuthorPaperCredits::PaperId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuthorPaperCredits::AuthorId)
                            .uuid()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AuthorPaperCredits::PaperId)
                            .col(AuthorPaperCredits::AuthorId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("author_paper_credits_author_id_idx")
                    .table(AuthorPaperCredits::Table)
                    .col(AuthorPaperCredits::AuthorId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorPaperVersions::Table)
                    .col(
                        ColumnDef::new(AuthorPaperVersions::PaperId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuthorPaperVersions::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuthorPaperVersions::Table.into_iden(),
            AuthorPaperCredits::Table.into_iden(),
            Alias::new(crate::OUTBOX.table).into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Authors::Table)
                    .drop_column(Alias::new("paper_count"))
                    .to_owned(),
            )
            .await
    }
}

/// The authors' audit trail (issue 15): every saved version of a profile with who saved it.
/// Versions saved before it have no revision.
struct CreateRevisions;

impl MigrationName for CreateRevisions {
    fn name(&self) -> &str {
        "m20261203_000003_author_revisions"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateRevisions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(crate::storage::REVISIONS.create("authors"))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new(crate::storage::REVISIONS.table))
                    .to_owned(),
            )
            .await
    }
}

/// `authors.photo`: an uploaded portrait, as JSON of its key, alt text and facts.
struct AddPhoto;

impl MigrationName for AddPhoto {
    fn name(&self) -> &str {
        "m20261205_000004_author_photo"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddPhoto {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("authors"))
                    .add_column(ColumnDef::new(Alias::new("photo")).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("authors"))
                    .drop_column(Alias::new("photo"))
                    .to_owned(),
            )
            .await
    }
}
