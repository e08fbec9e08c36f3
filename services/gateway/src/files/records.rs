//! The gateway's records of files: each distinct file uploaded (who first, when), and the
//! resumable uploads under way with their segments. A segment is recorded in the same
//! transaction that moves the upload's offset, and only if the offset is still the one the
//! segment was written at: of two requests racing for one upload, one wins and the other's
//! segment is discarded.

use chrono::{DateTime, Utc};
use imprint_domain::{Actor, FileKey, FileName, MediaType};
use imprint_files::{Segment, Stored};
use imprint_platform::Database;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entity::{file, segment, upload};

/// A resumable upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Its id (UUIDv7).
    pub id: Uuid,
    /// The declared length.
    pub length: u64,
    /// Bytes kept so far.
    pub received: u64,
    /// The file's name.
    pub name: FileName,
    /// The SHA-256 the uploader sent.
    pub sha256: Option<FileKey>,
    /// The file, once whole.
    pub file: Option<FileKey>,
    /// When it started.
    pub create_time: DateTime<Utc>,
    /// When it is given up unless a part arrives.
    pub expire_time: DateTime<Utc>,
    /// Who started it.
    pub creator: Option<Actor>,
}

/// A file as first uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Its key.
    pub key: FileKey,
    /// Its length.
    pub size: u64,
    /// Its type.
    pub media_type: MediaType,
    /// An image's size.
    pub dimensions: Option<(u32, u32)>,
    /// When it was first uploaded.
    pub create_time: DateTime<Utc>,
}

/// Reads and writes the files' records.
#[derive(Debug, Clone)]
pub struct Records {
    db: Database,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("{what}: {e}"))
}

fn media_type_name(t: MediaType) -> Result<String, DbErr> {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| corrupt("files.media_type", t))
}

impl Records {
    /// The records in `db`, whose migrations have run.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records `stored` as uploaded by `actor` at `now`, unless the same bytes were before.
    pub async fn record_file(
        &self,
        stored: &Stored,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let row = file_row(stored, actor, now)?;
        let tx = self.db.begin_write().await?;
        let result = insert_file(&*tx, row, &stored.key, now).await;
        tx.finish(result).await
    }

    /// The record of file `key`.
    pub async fn file(&self, key: &FileKey) -> Result<Option<FileRecord>, DbErr> {
        let Some(row) = file::Entity::find_by_id(key.hex())
            .one(self.db.conn())
            .await?
        else {
            return Ok(None);
        };
        let media_type: MediaType =
            serde_json::from_value(serde_json::Value::String(row.media_type.clone()))
                .map_err(|e| corrupt("files.media_type", e))?;
        Ok(Some(FileRecord {
            key: *key,
            size: u64::try_from(row.size).map_err(|e| corrupt("files.size", e))?,
            media_type,
            dimensions: row
                .width
                .zip(row.height)
                .and_then(|(w, h)| Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))),
            create_time: row.create_time,
        }))
    }

    /// Starts `upload`.
    pub async fn create_upload(&self, upload: &Upload) -> Result<(), DbErr> {
        let (subject, role) = upload
            .creator
            .as_ref()
            .map_or((None, None), crate::actors::columns);
        let row = upload::ActiveModel {
            id: Set(upload.id),
            length: Set(to_i64(upload.length)?),
            received: Set(to_i64(upload.received)?),
            name: Set(upload.name.as_str().to_owned()),
            sha256: Set(upload.sha256.map(|k| k.hex())),
            file_key: Set(None),
            create_time: Set(upload.create_time),
            expire_time: Set(upload.expire_time),
            creator_subject: Set(subject),
            creator_role: Set(role),
        };
        let tx = self.db.begin_write().await?;
        let result = upload::Entity::insert(row)
            .exec_without_returning(&*tx)
            .await
            .map(drop);
        tx.finish(result).await
    }

    /// Upload `id`, if it exists.
    pub async fn upload(&self, id: Uuid) -> Result<Option<Upload>, DbErr> {
        upload::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// The segments of upload `id`, in order.
    pub async fn segments(&self, id: Uuid) -> Result<Vec<Segment>, DbErr> {
        let rows = segment::Entity::find()
            .filter(segment::Column::UploadId.eq(id))
            .order_by_asc(segment::Column::Start)
            .all(self.db.conn())
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Segment {
                    object: r.object,
                    len: u64::try_from(r.length)
                        .map_err(|e| corrupt("upload_segments.length", e))?,
                })
            })
            .collect()
    }

    /// Records `segment` of upload `id`, written at `start`, if the upload's offset is still
    /// `start`; the upload then waits until `expire_time` for its next part. False when another
    /// request moved the offset first.
    pub async fn commit_segment(
        &self,
        id: Uuid,
        start: u64,
        segment: &Segment,
        expire_time: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        let start_i = to_i64(start)?;
        let end = to_i64(start + segment.len)?;
        let tx = self.db.begin_write().await?;
        let result = async {
            let moved = upload::Entity::update_many()
                .col_expr(upload::Column::Received, Expr::value(end))
                .col_expr(upload::Column::ExpireTime, Expr::value(expire_time))
                .filter(upload::Column::Id.eq(id))
                .filter(upload::Column::Received.eq(start_i))
                .filter(upload::Column::FileKey.is_null())
                .exec(&*tx)
                .await?;
            if moved.rows_affected == 0 {
                return Ok(false);
            }
            segment::Entity::insert(segment::ActiveModel {
                upload_id: Set(id),
                start: Set(start_i),
                length: Set(to_i64(segment.len)?),
                object: Set(segment.object.clone()),
            })
            .exec_without_returning(&*tx)
            .await?;
            Ok(true)
        }
        .await;
        tx.finish(result).await
    }

    /// Marks upload `id` whole, as the file `stored` (recorded as uploaded by `actor` unless
    /// the same bytes were before), if its offset is still `start` (where its last part began):
    /// one transaction, so that an upload is whole exactly when its file is recorded. Its
    /// segments' rows go; their objects are the caller's to remove. False when another request
    /// moved the upload first.
    pub async fn complete(
        &self,
        id: Uuid,
        start: u64,
        stored: &Stored,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        let row = file_row(stored, actor, now)?;
        let start = to_i64(start)?;
        let length = to_i64(stored.size)?;
        let tx = self.db.begin_write().await?;
        let result = async {
            let done = upload::Entity::update_many()
                .col_expr(upload::Column::FileKey, Expr::value(stored.key.hex()))
                .col_expr(upload::Column::Received, Expr::value(length))
                .filter(upload::Column::Id.eq(id))
                .filter(upload::Column::Received.eq(start))
                .filter(upload::Column::FileKey.is_null())
                .exec(&*tx)
                .await?;
            if done.rows_affected == 0 {
                return Ok(false);
            }
            insert_file(&*tx, row, &stored.key, now).await?;
            segment::Entity::delete_many()
                .filter(segment::Column::UploadId.eq(id))
                .exec(&*tx)
                .await?;
            Ok(true)
        }
        .await;
        tx.finish(result).await
    }

    /// Forgets upload `id` and its segments; false when there was none.
    pub async fn delete_upload(&self, id: Uuid) -> Result<bool, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            segment::Entity::delete_many()
                .filter(segment::Column::UploadId.eq(id))
                .exec(&*tx)
                .await?;
            let gone = upload::Entity::delete_by_id(id).exec(&*tx).await?;
            Ok(gone.rows_affected > 0)
        }
        .await;
        tx.finish(result).await
    }

    /// Uploads whose time ran out before `now`, oldest first, at most `limit`.
    pub async fn expired(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<Uuid>, DbErr> {
        use sea_orm::{QuerySelect, SelectColumns};
        let rows: Vec<Uuid> = upload::Entity::find()
            .select_only()
            .select_column(upload::Column::Id)
            .filter(upload::Column::ExpireTime.lt(now))
            .order_by_asc(upload::Column::ExpireTime)
            .limit(limit)
            .into_tuple()
            .all(self.db.conn())
            .await?;
        Ok(rows)
    }
}

/// The row of a file first uploaded by `actor` at `now`.
fn file_row(
    stored: &Stored,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<file::ActiveModel, DbErr> {
    let (subject, role) = crate::actors::columns(actor);
    Ok(file::ActiveModel {
        key: Set(stored.key.hex()),
        size: Set(to_i64(stored.size)?),
        media_type: Set(media_type_name(stored.media_type)?),
        width: Set(stored.dimensions.and_then(|(w, _)| i32::try_from(w).ok())),
        height: Set(stored.dimensions.and_then(|(_, h)| i32::try_from(h).ok())),
        create_time: Set(now),
        creator_subject: Set(subject),
        creator_role: Set(role),
        // Unreferenced until a paper names it.
        unreferenced_since: Set(Some(now)),
    })
}

/// Inserts the row of the file `key` uploaded at `now`, unless the same bytes have one; bytes
/// uploaded again while nothing references them get their grace period anew (an editor is
/// about to use them).
async fn insert_file(
    tx: &impl sea_orm::ConnectionTrait,
    row: file::ActiveModel,
    key: &FileKey,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    file::Entity::insert(row)
        .on_conflict(
            OnConflict::column(file::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec_without_returning(tx)
        .await?;
    file::Entity::update_many()
        .col_expr(file::Column::UnreferencedSince, Expr::value(Some(now)))
        .filter(file::Column::Key.eq(key.hex()))
        .filter(file::Column::UnreferencedSince.is_not_null())
        .exec(tx)
        .await
        .map(drop)
}

/// A length as the database keeps it.
fn to_i64(n: u64) -> Result<i64, DbErr> {
    i64::try_from(n).map_err(|e| corrupt("a length", e))
}

fn from_row(row: &upload::Model) -> Result<Upload, DbErr> {
    let key = |hex: &str, column: &str| FileKey::parse(hex).map_err(|e| corrupt(column, e));
    Ok(Upload {
        id: row.id,
        length: u64::try_from(row.length).map_err(|e| corrupt("uploads.length", e))?,
        received: u64::try_from(row.received).map_err(|e| corrupt("uploads.received", e))?,
        name: FileName::parse(&row.name).map_err(|e| corrupt("uploads.name", e))?,
        sha256: row
            .sha256
            .as_deref()
            .map(|h| key(h, "uploads.sha256"))
            .transpose()?,
        file: row
            .file_key
            .as_deref()
            .map(|h| key(h, "uploads.file_key"))
            .transpose()?,
        create_time: row.create_time,
        expire_time: row.expire_time,
        creator: Actor::from_columns(row.creator_subject.as_deref(), row.creator_role.as_deref())
            .map_err(|e| corrupt("uploads.creator", e))?,
    })
}
