//! The recommendations database: the read model of papers and authors learned from events, the
//! change log replicas refresh their in-memory index from, editorial overrides and interactions.
//! Recorded in `recommendations_migrations`, so it can share a database with other services.

use sea_orm_migration::prelude::*;

/// Every migration of the recommendations service, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateReadModel),
            Box::new(InteractionsPerView),
            Box::new(OverridesAsEvents),
            Box::new(PublicationTypesByName),
            Box::new(Taxonomies),
            Box::new(Covers),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("recommendations_migrations").into_iden()
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum RecPapers {
    Table,
    PublicationTypeName,
    Id,
    Version,
    Published,
    Slug,
    ExternalId,
    Title,
    Summary,
    Body,
    PublicationType,
    Topics,
    AuthorIds,
    PublishTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecAuthors {
    Table,
    Id,
    Version,
    Name,
    Deleted,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecChanges {
    Table,
    Seq,
    PaperId,
    AuthorId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecSlugs {
    Table,
    Slug,
    PaperId,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecOverrides {
    Table,
    PaperId,
    Version,
    Pinned,
    Excluded,
    UpdateTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecInteractions {
    Table,
    Id,
    Kind,
    SourceId,
    TargetId,
    Position,
    Partner,
    CreatedAt,
    ViewId,
}

struct CreateReadModel;

impl MigrationName for CreateReadModel {
    fn name(&self) -> &str {
        "m20261128_000001_create_recommendations"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateReadModel {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RecPapers::Table)
                    .col(
                        ColumnDef::new(RecPapers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RecPapers::Version).big_integer().not_null())
                    .col(ColumnDef::new(RecPapers::Published).boolean().not_null())
                    .col(ColumnDef::new(RecPapers::Slug).text().not_null())
                    .col(ColumnDef::new(RecPapers::ExternalId).text().null())
                    .col(ColumnDef::new(RecPapers::Title).text().not_null())
                    .col(ColumnDef::new(RecPapers::Summary).text().not_null())
                    .col(ColumnDef::new(RecPapers::Body).text().not_null())
                    .col(
                        ColumnDef::new(RecPapers::PublicationType)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecPapers::Topics).text().not_null())
                    .col(ColumnDef::new(RecPapers::AuthorIds).text().not_null())
                    .col(
                        ColumnDef::new(RecPapers::PublishTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecAuthors::Table)
                    .col(
                        ColumnDef::new(RecAuthors::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RecAuthors::Version).big_integer().not_null())
                    .col(ColumnDef::new(RecAuthors::Name).text().not_null())
                    .col(ColumnDef::new(RecAuthors::Deleted).boolean().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecChanges::Table)
                    .col(
                        ColumnDef::new(RecChanges::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RecChanges::PaperId).uuid().null())
                    .col(ColumnDef::new(RecChanges::AuthorId).uuid().null())
                    .col(
                        ColumnDef::new(RecChanges::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecSlugs::Table)
                    .col(
                        ColumnDef::new(RecSlugs::Slug)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RecSlugs::PaperId).uuid().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecOverrides::Table)
                    .col(
                        ColumnDef::new(RecOverrides::PaperId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RecOverrides::Pinned).text().not_null())
                    .col(ColumnDef::new(RecOverrides::Excluded).text().not_null())
                    .col(
                        ColumnDef::new(RecOverrides::UpdateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecInteractions::Table)
                    .col(
                        ColumnDef::new(RecInteractions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RecInteractions::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecInteractions::SourceId).uuid().not_null())
                    .col(ColumnDef::new(RecInteractions::TargetId).uuid().not_null())
                    .col(
                        ColumnDef::new(RecInteractions::Position)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecInteractions::Partner).text().not_null())
                    .col(
                        ColumnDef::new(RecInteractions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rec_interactions_created_at_idx")
                    .table(RecInteractions::Table)
                    .col(RecInteractions::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RecInteractions::Table.into_iden(),
            RecOverrides::Table.into_iden(),
            RecSlugs::Table.into_iden(),
            RecChanges::Table.into_iden(),
            RecAuthors::Table.into_iden(),
            RecPapers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Interactions name the served rail (the view) they happened in, and count once per view,
/// position and kind: a recommendation id sent again, or pasted into another report, adds
/// nothing. Rows from before have no view and stay as they were counted.
struct InteractionsPerView;

impl MigrationName for InteractionsPerView {
    fn name(&self) -> &str {
        "m20261201_000002_interactions_per_view"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for InteractionsPerView {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecInteractions::Table)
                    .add_column(
                        ColumnDef::new(RecInteractions::ViewId)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rec_interactions_once_per_view")
                    .table(RecInteractions::Table)
                    .col(RecInteractions::ViewId)
                    .col(RecInteractions::Position)
                    .col(RecInteractions::Kind)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("rec_interactions_once_per_view")
                    .table(RecInteractions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RecInteractions::Table)
                    .drop_column(RecInteractions::ViewId)
                    .to_owned(),
            )
            .await
    }
}

/// Setting a paper's overrides is an event like every other change (issue 13): an outbox for
/// `recommendation.*` events, and a version on each paper's overrides for their events to
/// carry. Overrides set before have version 0; the next setting makes them 1.
struct OverridesAsEvents;

impl MigrationName for OverridesAsEvents {
    fn name(&self) -> &str {
        "m20261202_000001_overrides_as_events"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for OverridesAsEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecOverrides::Table)
                    .add_column(
                        ColumnDef::new(RecOverrides::Version)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_table(crate::OUTBOX.create_table()).await?;
        manager.create_index(crate::OUTBOX.create_index()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new(crate::OUTBOX.table))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RecOverrides::Table)
                    .drop_column(RecOverrides::Version)
                    .to_owned(),
            )
            .await
    }
}

/// The read model speaks the domain (issue 13): a paper's type is stored by its name
/// (`discussion_paper`), as the papers service stores it, rather than by the number of the
/// protobuf enum, and a tombstone has none. Rows from before are converted in place.
struct PublicationTypesByName;

impl MigrationName for PublicationTypesByName {
    fn name(&self) -> &str {
        "m20261202_000002_publication_types_by_name"
    }
}

/// `CASE <number column> WHEN <number> THEN <name> … END` over every type, or the reverse.
fn type_case(to_names: bool) -> SimpleExpr {
    use imprint_domain::PublicationType;
    let mut case = CaseStatement::new();
    for kind in PublicationType::ALL {
        let number = i32::from(imprint_proto::convert::publication_type_to_proto(kind));
        case = if to_names {
            case.case(
                Expr::col(RecPapers::PublicationType).eq(number),
                kind.as_str(),
            )
        } else {
            case.case(
                Expr::col(RecPapers::PublicationTypeName).eq(kind.as_str()),
                number,
            )
        };
    }
    if to_names {
        case.finally(Expr::value(Option::<String>::None)).into()
    } else {
        case.finally(0).into()
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for PublicationTypesByName {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The names beside the numbers, filled from them; then the names take the place.
        let add = ColumnDef::new(RecPapers::PublicationTypeName)
            .string_len(40)
            .null()
            .to_owned();
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .add_column(add)
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(RecPapers::Table)
                    .value(RecPapers::PublicationTypeName, type_case(true))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .drop_column(RecPapers::PublicationType)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .rename_column(RecPapers::PublicationTypeName, RecPapers::PublicationType)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Back to numbers: the old column again, filled from the names.
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .rename_column(RecPapers::PublicationType, RecPapers::PublicationTypeName)
                    .to_owned(),
            )
            .await?;
        let add = ColumnDef::new(RecPapers::PublicationType)
            .integer()
            .not_null()
            .default(0)
            .to_owned();
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .add_column(add)
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(RecPapers::Table)
                    .value(RecPapers::PublicationType, type_case(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .drop_column(RecPapers::PublicationTypeName)
                    .to_owned(),
            )
            .await
    }
}

/// Taxonomy terms (issue 15): each paper's term ids, and the terms with every slug that
/// resolves to them, from `term.*` events, for the program, region and series filters.
struct Taxonomies;

impl MigrationName for Taxonomies {
    fn name(&self) -> &str {
        "m20261204_000005_taxonomies"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Taxonomies {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .add_column(
                        ColumnDef::new(Alias::new("terms"))
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await?;
        let text = |name: &str| {
            ColumnDef::new(Alias::new(name))
                .text()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("rec_terms"))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("version"))
                            .big_integer()
                            .not_null(),
                    )
                    .col(text("vocabulary"))
                    .col(text("slug"))
                    .col(text("name"))
                    .col(ColumnDef::new(Alias::new("parent_id")).uuid().null())
                    .col(ColumnDef::new(Alias::new("merged_into")).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("rec_term_slugs"))
                    .col(
                        ColumnDef::new(Alias::new("vocabulary"))
                            .string_len(20)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("slug"))
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Alias::new("term_id")).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("vocabulary"))
                            .col(Alias::new("slug")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["rec_term_slugs", "rec_terms"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .drop_column(Alias::new("terms"))
                    .to_owned(),
            )
            .await
    }
}

/// Each paper's cover (issue 16), with its smaller copies, for the widget's rail: JSON, null
/// for none.
struct Covers;

impl MigrationName for Covers {
    fn name(&self) -> &str {
        "m20261206_000006_covers"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Covers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .add_column(ColumnDef::new(Alias::new("cover")).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RecPapers::Table)
                    .drop_column(Alias::new("cover"))
                    .to_owned(),
            )
            .await
    }
}
