//! The files' tables: what was uploaded (by its SHA-256), resumable uploads under way, and
//! their segments.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Files {
    Table,
    Key,
    Size,
    MediaType,
    Width,
    Height,
    CreateTime,
    CreatorSubject,
    CreatorRole,
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    Length,
    Received,
    Name,
    Sha256,
    FileKey,
    CreateTime,
    ExpireTime,
    CreatorSubject,
    CreatorRole,
}

#[derive(DeriveIden)]
enum UploadSegments {
    Table,
    UploadId,
    Start,
    Length,
    Object,
}

#[derive(DeriveIden)]
enum FileOwners {
    Table,
    OwnerId,
    Version,
}

#[derive(DeriveIden)]
enum FileRefs {
    Table,
    OwnerId,
    FileKey,
}

#[derive(DeriveIden)]
enum Downloads {
    Table,
    PaperId,
    FileKey,
    Day,
    Count,
}

/// `downloads`: public downloads per paper, file and day.
pub(crate) struct CreateDownloads;

impl MigrationName for CreateDownloads {
    fn name(&self) -> &str {
        "m20261205_000009_downloads"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateDownloads {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Downloads::Table)
                    .col(ColumnDef::new(Downloads::PaperId).uuid().not_null())
                    .col(ColumnDef::new(Downloads::FileKey).string_len(64).not_null())
                    .col(ColumnDef::new(Downloads::Day).string_len(10).not_null())
                    .col(ColumnDef::new(Downloads::Count).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Downloads::PaperId)
                            .col(Downloads::FileKey)
                            .col(Downloads::Day),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Downloads::Table).to_owned())
            .await
    }
}

/// `file_owners`, `file_refs`, and `files.unreferenced_since`: what references each file.
pub(crate) struct AddFileReferences;

impl MigrationName for AddFileReferences {
    fn name(&self) -> &str {
        "m20261205_000008_file_references"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddFileReferences {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FileOwners::Table)
                    .col(
                        ColumnDef::new(FileOwners::OwnerId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(FileOwners::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FileRefs::Table)
                    .col(ColumnDef::new(FileRefs::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(FileRefs::FileKey).string_len(64).not_null())
                    .primary_key(
                        Index::create()
                            .col(FileRefs::OwnerId)
                            .col(FileRefs::FileKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("file_refs_file_key_idx")
                    .table(FileRefs::Table)
                    .col(FileRefs::FileKey)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Files::Table)
                    .add_column(
                        ColumnDef::new(Alias::new("unreferenced_since"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Files::Table)
                    .drop_column(Alias::new("unreferenced_since"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(FileRefs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(FileOwners::Table).to_owned())
            .await
    }
}

/// `files`, `uploads` and `upload_segments`.
pub(crate) struct CreateFiles;

impl MigrationName for CreateFiles {
    fn name(&self) -> &str {
        "m20261205_000006_files"
    }
}

fn actor_columns<T: IntoIden>(table: &mut TableCreateStatement, subject: T, role: T) {
    table
        .col(ColumnDef::new(subject).string_len(255).null())
        .col(ColumnDef::new(role).string_len(255).null());
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateFiles {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut files = Table::create();
        files
            .table(Files::Table)
            .col(
                ColumnDef::new(Files::Key)
                    .string_len(64)
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Files::Size).big_integer().not_null())
            .col(ColumnDef::new(Files::MediaType).string_len(32).not_null())
            .col(ColumnDef::new(Files::Width).integer().null())
            .col(ColumnDef::new(Files::Height).integer().null())
            .col(
                ColumnDef::new(Files::CreateTime)
                    .timestamp_with_time_zone()
                    .not_null(),
            );
        actor_columns(&mut files, Files::CreatorSubject, Files::CreatorRole);
        manager.create_table(files.to_owned()).await?;

        let mut uploads = Table::create();
        uploads
            .table(Uploads::Table)
            .col(ColumnDef::new(Uploads::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(Uploads::Length).big_integer().not_null())
            .col(ColumnDef::new(Uploads::Received).big_integer().not_null())
            .col(ColumnDef::new(Uploads::Name).string_len(255).not_null())
            .col(ColumnDef::new(Uploads::Sha256).string_len(64).null())
            .col(ColumnDef::new(Uploads::FileKey).string_len(64).null())
            .col(
                ColumnDef::new(Uploads::CreateTime)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(
                ColumnDef::new(Uploads::ExpireTime)
                    .timestamp_with_time_zone()
                    .not_null(),
            );
        actor_columns(&mut uploads, Uploads::CreatorSubject, Uploads::CreatorRole);
        manager.create_table(uploads.to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("uploads_expire_time_idx")
                    .table(Uploads::Table)
                    .col(Uploads::ExpireTime)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UploadSegments::Table)
                    .col(ColumnDef::new(UploadSegments::UploadId).uuid().not_null())
                    .col(
                        ColumnDef::new(UploadSegments::Start)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UploadSegments::Length)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UploadSegments::Object)
                            .string_len(255)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(UploadSegments::UploadId)
                            .col(UploadSegments::Start),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UploadSegments::Table.into_iden(),
            Uploads::Table.into_iden(),
            Files::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
