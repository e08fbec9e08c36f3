//! Which files are referenced, learnt from `paper.*` and `author.*` events (their whole state:
//! a paper's downloads and cover, an author's photo), and the removal of files nobody has referenced for
//! `storage.grace_secs`, by one replica at a time. A file is unreferenced from its upload until
//! a paper names it, and again from when the last one stops; a file referenced is never
//! removed. What a revision names is not a reference: restoring a revision whose file was
//! removed since is refused by the papers service, naming the file.

use std::time::Duration;

use chrono::{DateTime, Utc};
use imprint_domain::FileKey;
use imprint_events::{Handler, HandlerError, HandlerFuture, Outcome, topology};
use imprint_files::Blobs;
use imprint_platform::Database;
use imprint_platform::leader::Leadership;
use imprint_proto::events::Event;
use imprint_proto::events::event::Payload;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SelectColumns,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::entity::{file, file_owner, file_ref};

/// Files removed per round of the sweep.
const SWEEP_BATCH: u64 = 100;

/// Applies events to the references.
#[derive(Debug, Clone)]
pub struct References {
    db: Database,
}

/// The files `event` says its aggregate references now (none once it is deleted); `None` for
/// an event of no aggregate that references files.
fn referenced(event: &Event) -> Option<Vec<FileKey>> {
    match event.payload.as_ref()? {
        Payload::Paper(paper) => Some(
            paper
                .attachments
                .iter()
                .map(|a| a.file_key.as_str())
                .chain(paper.cover.iter().flat_map(|c| {
                    std::iter::once(c.file_key.as_str())
                        .chain(c.renditions.iter().map(|r| r.file_key.as_str()))
                }))
                .filter_map(|k| FileKey::parse(k).ok())
                .collect(),
        ),
        Payload::Author(author) => Some(
            author
                .photo
                .iter()
                .flat_map(|p| {
                    std::iter::once(p.file_key.as_str())
                        .chain(p.renditions.iter().map(|r| r.file_key.as_str()))
                })
                .filter_map(|k| FileKey::parse(k).ok())
                .collect(),
        ),
        Payload::Deleted(_) => Some(Vec::new()),
        Payload::Overrides(_) | Payload::Term(_) => None,
    }
}

impl References {
    /// The references in `db`, whose migrations have run.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn apply(&self, event: &Event) -> Result<Outcome, HandlerError> {
        let Some(keys) = referenced(event) else {
            return Ok(Outcome::Stale);
        };
        let owner = Uuid::try_parse(&event.aggregate_id)
            .map_err(|e| HandlerError::Reject(format!("aggregate_id: {e}")))?;
        self.replace(owner, event.aggregate_version, &keys, Utc::now())
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }

    /// Makes `keys` what `owner` references as of its `version`, unless a newer version was
    /// applied: the files it took up stop being unreferenced, those it let go of that nobody
    /// else references become unreferenced at `now`.
    pub async fn replace(
        &self,
        owner: Uuid,
        version: i64,
        keys: &[FileKey],
        now: DateTime<Utc>,
    ) -> Result<Outcome, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            let held = file_owner::Entity::find_by_id(owner).one(&*tx).await?;
            if held.as_ref().is_some_and(|h| h.version >= version) {
                return Ok(Outcome::Stale);
            }
            file_owner::Entity::insert(file_owner::ActiveModel {
                owner_id: Set(owner),
                version: Set(version),
            })
            .on_conflict(
                OnConflict::column(file_owner::Column::OwnerId)
                    .update_column(file_owner::Column::Version)
                    .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
            let before: Vec<String> = file_ref::Entity::find()
                .select_only()
                .select_column(file_ref::Column::FileKey)
                .filter(file_ref::Column::OwnerId.eq(owner))
                .into_tuple()
                .all(&*tx)
                .await?;
            let now_held: Vec<String> = dedup(keys.iter().map(FileKey::hex));
            file_ref::Entity::delete_many()
                .filter(file_ref::Column::OwnerId.eq(owner))
                .exec(&*tx)
                .await?;
            if !now_held.is_empty() {
                let rows = now_held.iter().map(|k| file_ref::ActiveModel {
                    owner_id: Set(owner),
                    file_key: Set(k.clone()),
                });
                file_ref::Entity::insert_many(rows)
                    .exec_without_returning(&*tx)
                    .await?;
                file::Entity::update_many()
                    .col_expr(
                        file::Column::UnreferencedSince,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .filter(file::Column::Key.is_in(now_held.clone()))
                    .exec(&*tx)
                    .await?;
            }
            let released: Vec<String> = before
                .into_iter()
                .filter(|k| !now_held.contains(k))
                .collect();
            release(&*tx, &released, now).await?;
            Ok(Outcome::Applied)
        }
        .await;
        tx.finish(result).await
    }
}

fn dedup(keys: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// Marks unreferenced at `now` those of `keys` no owner references any more.
async fn release(
    tx: &impl ConnectionTrait,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if keys.is_empty() {
        return Ok(());
    }
    let still = Query::select()
        .column(file_ref::Column::FileKey)
        .from(file_ref::Entity)
        .to_owned();
    file::Entity::update_many()
        .col_expr(file::Column::UnreferencedSince, Expr::value(Some(now)))
        .filter(file::Column::Key.is_in(keys.to_vec()))
        .filter(file::Column::Key.not_in_subquery(still))
        .exec(tx)
        .await
        .map(drop)
}

impl Handler for References {
    fn service(&self) -> &'static str {
        topology::FILES.service
    }

    fn bindings(&self) -> &'static [&'static str] {
        topology::FILES.bindings
    }

    fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a> {
        Box::pin(self.apply(event))
    }
}

/// Removes files unreferenced for longer than the grace period, while this replica leads.
#[derive(Debug, Clone)]
pub struct Collector {
    db: Database,
    blobs: Blobs,
    /// How long a file stays unreferenced before it goes.
    pub grace: Duration,
    /// How often the leader looks.
    pub every: Duration,
}

impl Collector {
    /// The collector of `blobs`, recorded in `db`.
    pub fn new(db: Database, blobs: Blobs, grace: Duration, every: Duration) -> Self {
        Self {
            db,
            blobs,
            grace,
            every,
        }
    }

    /// Sweeps every [`Collector::every`] until `stop`, when this replica leads.
    pub async fn run(self, stop: CancellationToken) {
        let mut leadership = Leadership::new(&self.db, "imprint-files-sweep");
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
            if !leadership.ensure().await {
                continue;
            }
            match self.sweep(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "unreferenced files removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove unreferenced files"),
            }
        }
    }

    /// Removes the files unreferenced since before `now` less the grace period; how many.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, SweepError> {
        let cutoff = chrono::Duration::from_std(self.grace)
            .ok()
            .and_then(|g| now.checked_sub_signed(g))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let due: Vec<String> = file::Entity::find()
            .select_only()
            .select_column(file::Column::Key)
            .filter(file::Column::UnreferencedSince.lt(cutoff))
            .order_by_asc(file::Column::UnreferencedSince)
            .limit(SWEEP_BATCH)
            .into_tuple()
            .all(self.db.conn())
            .await?;
        let mut removed = 0;
        for hex in due {
            let Ok(key) = FileKey::parse(&hex) else {
                continue;
            };
            // The row goes first, and only if still unreferenced: a file referenced meanwhile
            // keeps its row, and its bytes.
            let tx = self.db.begin_write().await?;
            let gone = file::Entity::delete_many()
                .filter(file::Column::Key.eq(hex.clone()))
                .filter(file::Column::UnreferencedSince.lt(cutoff))
                .exec(&*tx)
                .await;
            let gone = tx.finish(gone).await?;
            if gone.rows_affected == 0 {
                continue;
            }
            self.blobs.delete(&key).await?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The records failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The store failed (the file's row is gone, its bytes left in the store: unreachable,
    /// referenced by nothing, and logged).
    #[error(transparent)]
    Store(#[from] imprint_files::StoreError),
}
