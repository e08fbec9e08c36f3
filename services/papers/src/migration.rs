//! The papers database schema, as sea-orm migrations that run unchanged on PostgreSQL and
//! SQLite. Migrations are recorded in `papers_migrations`, so this service can share a database
//! with others without their histories colliding.

use sea_orm_migration::prelude::*;

/// Every migration of the papers service, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreatePapers),
            Box::new(CreateOutbox),
            Box::new(AddExternalId),
            Box::new(AddSchedule),
            Box::new(AddRevisionActors),
            Box::new(CreateTaxonomies),
            Box::new(AddFiles),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("papers_migrations").into_iden()
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Papers {
    Table,
    Id,
    Slug,
    Title,
    Summary,
    Body,
    PublicationType,
    Topics,
    AuthorIds,
    FundingNote,
    Status,
    PublishTime,
    Version,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaperSlugs {
    Table,
    Slug,
    PaperId,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaperTopics {
    Table,
    PaperId,
    TopicKey,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaperAuthors {
    Table,
    PaperId,
    AuthorId,
    Position,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaperRevisions {
    Table,
    PaperId,
    Version,
    Kind,
    ChangedFields,
    Snapshot,
    CreateTime,
}

struct CreatePapers;

impl MigrationName for CreatePapers {
    fn name(&self) -> &str {
        "m20261128_000001_create_papers"
    }
}

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

fn child_of_paper(
    table: impl IntoIden + Copy + 'static,
    column: impl IntoIden + Copy + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Papers::Table, Papers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreatePapers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Papers::Table)
                    .col(ColumnDef::new(Papers::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Papers::Slug).string_len(100).not_null())
                    .col(ColumnDef::new(Papers::Title).text().not_null())
                    .col(ColumnDef::new(Papers::Summary).text().not_null())
                    .col(ColumnDef::new(Papers::Body).text().not_null())
                    .col(
                        ColumnDef::new(Papers::PublicationType)
                            .string_len(40)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Papers::Topics).text().not_null())
                    .col(ColumnDef::new(Papers::AuthorIds).text().not_null())
                    .col(ColumnDef::new(Papers::FundingNote).text().not_null())
                    .col(ColumnDef::new(Papers::Status).string_len(20).not_null())
                    .col(
                        ColumnDef::new(Papers::PublishTime)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Papers::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Papers::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Papers::UpdateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("papers_slug_key", Papers::Table, &["slug"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "papers_status_id_idx",
                Papers::Table,
                &["status", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "papers_publication_type_id_idx",
                Papers::Table,
                &["publication_type", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaperSlugs::Table)
                    .col(
                        ColumnDef::new(PaperSlugs::Slug)
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PaperSlugs::PaperId).uuid().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "paper_slugs_paper_id_idx",
                PaperSlugs::Table,
                &["paper_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaperTopics::Table)
                    .col(ColumnDef::new(PaperTopics::PaperId).uuid().not_null())
                    .col(ColumnDef::new(PaperTopics::TopicKey).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(PaperTopics::PaperId)
                            .col(PaperTopics::TopicKey),
                    )
                    .foreign_key(&mut child_of_paper(
                        PaperTopics::Table,
                        PaperTopics::PaperId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "paper_topics_topic_key_paper_id_idx",
                PaperTopics::Table,
                &["topic_key", "paper_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaperAuthors::Table)
                    .col(ColumnDef::new(PaperAuthors::PaperId).uuid().not_null())
                    .col(ColumnDef::new(PaperAuthors::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(PaperAuthors::Position).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(PaperAuthors::PaperId)
                            .col(PaperAuthors::AuthorId),
                    )
                    .foreign_key(&mut child_of_paper(
                        PaperAuthors::Table,
                        PaperAuthors::PaperId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "paper_authors_author_id_paper_id_idx",
                PaperAuthors::Table,
                &["author_id", "paper_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaperRevisions::Table)
                    .col(ColumnDef::new(PaperRevisions::PaperId).uuid().not_null())
                    .col(
                        ColumnDef::new(PaperRevisions::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PaperRevisions::Kind)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PaperRevisions::ChangedFields)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PaperRevisions::Snapshot).text().not_null())
                    .col(
                        ColumnDef::new(PaperRevisions::CreateTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PaperRevisions::PaperId)
                            .col(PaperRevisions::Version),
                    )
                    .foreign_key(&mut child_of_paper(
                        PaperRevisions::Table,
                        PaperRevisions::PaperId,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PaperRevisions::Table.into_iden(),
            PaperAuthors::Table.into_iden(),
            PaperTopics::Table.into_iden(),
            PaperSlugs::Table.into_iden(),
            Papers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The outbox of `paper.*` events (issue 3).
struct CreateOutbox;

impl MigrationName for CreateOutbox {
    fn name(&self) -> &str {
        "m20261128_000002_create_paper_outbox"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
            .await
    }
}

/// Papers imported from elsewhere keep their id there (issue 4).
struct AddExternalId;

impl MigrationName for AddExternalId {
    fn name(&self) -> &str {
        "m20261128_000003_paper_external_id"
    }
}

// The trait is declared with an elided lifetime, which async_trait needs matched exactly.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddExternalId {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Papers::Table)
                    .add_column(ColumnDef::new(Alias::new("external_id")).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("papers_external_id_key", Papers::Table, &["external_id"])
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("papers_external_id_key")
                    .table(Papers::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Papers::Table)
                    .drop_column(Alias::new("external_id"))
                    .to_owned(),
            )
            .await
    }
}

/// Scheduled publication and withdrawal (issue 15): two times, the last failure as JSON, and
/// an index for each time, which the scheduler's query for due papers reads.
struct AddSchedule;

impl MigrationName for AddSchedule {
    fn name(&self) -> &str {
        "m20261202_000004_paper_schedule"
    }
}

/// The columns `AddSchedule` adds, with their indexes (none for the failure).
const SCHEDULE_COLUMNS: [(&str, Option<&str>); 3] = [
    (
        "scheduled_publish_time",
        Some("papers_scheduled_publish_time_idx"),
    ),
    (
        "scheduled_unpublish_time",
        Some("papers_scheduled_unpublish_time_idx"),
    ),
    ("schedule_failure", None),
];

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddSchedule {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for (column, index_name) in SCHEDULE_COLUMNS {
            let mut def = ColumnDef::new(Alias::new(column));
            if index_name.is_some() {
                def.timestamp_with_time_zone();
            } else {
                def.text();
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Papers::Table)
                        .add_column(def.null())
                        .to_owned(),
                )
                .await?;
            if let Some(name) = index_name {
                manager
                    .create_index(index(name, Papers::Table, &[column]).to_owned())
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (column, index_name) in SCHEDULE_COLUMNS.into_iter().rev() {
            if let Some(name) = index_name {
                manager
                    .drop_index(Index::drop().name(name).table(Papers::Table).to_owned())
                    .await?;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Papers::Table)
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Who made each change, and what a restore restored (issue 15): three nullable columns on
/// `paper_revisions`, empty on the revisions saved before.
struct AddRevisionActors;

impl MigrationName for AddRevisionActors {
    fn name(&self) -> &str {
        "m20261203_000005_revision_actors"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddRevisionActors {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for statement in crate::storage::REVISIONS.actor_columns() {
            manager.alter_table(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for statement in crate::storage::REVISIONS.drop_actor_columns() {
            manager.alter_table(statement).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Terms {
    Table,
    Id,
    Vocabulary,
    Slug,
    Name,
    ParentId,
    Retired,
    MergedInto,
    Version,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaperTerms {
    Table,
    PaperId,
    TermId,
}

/// Controlled vocabularies (issue 15): the terms, a slug registry per vocabulary (so that each
/// vocabulary has its own namespace and a renamed term keeps its old slugs), the
/// `paper_terms` index the list filters read, and each paper's term ids as JSON on its row
/// (empty for the papers stored before).
struct CreateTaxonomies;

impl MigrationName for CreateTaxonomies {
    fn name(&self) -> &str {
        "m20261204_000006_taxonomies"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateTaxonomies {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(terms_table()).await?;
        manager
            .create_index(index(
                "terms_vocabulary_id_idx",
                Terms::Table,
                &["vocabulary", "id"],
            ))
            .await?;
        manager
            .create_index(index("terms_parent_id_idx", Terms::Table, &["parent_id"]))
            .await?;
        for slugs in crate::storage::TERM_SLUGS {
            manager
                .create_table(
                    Table::create()
                        .table(Alias::new(slugs.table))
                        .col(
                            ColumnDef::new(Alias::new("slug"))
                                .string_len(100)
                                .not_null()
                                .primary_key(),
                        )
                        .col(ColumnDef::new(Alias::new(slugs.owner)).uuid().not_null())
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(index(
                    &format!("{}_{}_idx", slugs.table, slugs.owner),
                    Alias::new(slugs.table),
                    &[slugs.owner],
                ))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PaperTerms::Table)
                    .col(ColumnDef::new(PaperTerms::PaperId).uuid().not_null())
                    .col(ColumnDef::new(PaperTerms::TermId).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .col(PaperTerms::PaperId)
                            .col(PaperTerms::TermId),
                    )
                    .foreign_key(&mut child_of_paper(PaperTerms::Table, PaperTerms::PaperId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "paper_terms_term_id_paper_id_idx",
                PaperTerms::Table,
                &["term_id", "paper_id"],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Papers::Table)
                    .add_column(
                        ColumnDef::new(Alias::new("terms"))
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Papers::Table)
                    .drop_column(Alias::new("terms"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(PaperTerms::Table).to_owned())
            .await?;
        for slugs in crate::storage::TERM_SLUGS {
            manager
                .drop_table(Table::drop().table(Alias::new(slugs.table)).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Terms::Table).to_owned())
            .await
    }
}

fn terms_table() -> TableCreateStatement {
    Table::create()
        .table(Terms::Table)
        .col(ColumnDef::new(Terms::Id).uuid().not_null().primary_key())
        .col(ColumnDef::new(Terms::Vocabulary).string_len(20).not_null())
        .col(ColumnDef::new(Terms::Slug).string_len(100).not_null())
        .col(ColumnDef::new(Terms::Name).text().not_null())
        .col(ColumnDef::new(Terms::ParentId).uuid().null())
        .col(ColumnDef::new(Terms::Retired).boolean().not_null())
        .col(ColumnDef::new(Terms::MergedInto).uuid().null())
        .col(ColumnDef::new(Terms::Version).big_integer().not_null())
        .col(
            ColumnDef::new(Terms::CreateTime)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(Terms::UpdateTime)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned()
}

/// `papers.files`: a paper's downloads and cover image, as JSON of their keys and facts.
struct AddFiles;

impl MigrationName for AddFiles {
    fn name(&self) -> &str {
        "m20261205_000007_paper_files"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddFiles {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Papers::Table)
                    .add_column(
                        ColumnDef::new(Alias::new("files"))
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Papers::Table)
                    .drop_column(Alias::new("files"))
                    .to_owned(),
            )
            .await
    }
}
