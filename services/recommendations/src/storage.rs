//! The read model's storage: papers and authors as the latest events described them (a version
//! per row, so an event applies only when newer), the change log replicas refresh their index
//! from, editorial overrides, and interactions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, DbErr, StatementBuilder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use imprint_domain::{AuthorId, PaperId, PublicationType};
use imprint_events::{Emitter, NewEvent, Outcome};
use imprint_platform::Database;

fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// A paper as the read model holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecPaper {
    /// The paper's id.
    pub id: PaperId,
    /// The version of the last event applied.
    pub version: i64,
    /// Whether it is public now; unpublished, archived and deleted papers are kept as
    /// tombstones so that an older event cannot bring them back.
    pub published: bool,
    /// Current slug.
    pub slug: String,
    /// The id where it was imported from.
    pub external_id: Option<String>,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Full text (indexed, not served).
    pub body: String,
    /// Its type; `None` for a tombstone (a deleted paper has none).
    pub publication_type: Option<PublicationType>,
    /// Topics as written.
    pub topics: Vec<String>,
    /// Credited authors in byline order.
    pub author_ids: Vec<AuthorId>,
    /// When published.
    pub publish_time: Option<DateTime<Utc>>,
}

/// A change an event brings to the read model.
#[derive(Debug, Clone)]
pub enum Change {
    /// A paper's new state (a tombstone when it is not published).
    Paper(RecPaper),
    /// An author's name, or that they were deleted.
    Author {
        /// The author.
        id: AuthorId,
        /// The event's aggregate version.
        version: i64,
        /// Their name.
        name: String,
        /// Whether they were deleted.
        deleted: bool,
    },
}

/// What a change-log entry points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// A paper row changed.
    Paper(PaperId),
    /// An author row changed.
    Author(AuthorId),
}

/// Stored editorial overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Shown first, in order.
    pub pinned: Vec<PaperId>,
    /// Never shown.
    pub excluded: Vec<PaperId>,
    /// When last set.
    pub update_time: Option<DateTime<Utc>>,
}

/// What a reader did with a served recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionKind {
    /// It was shown.
    Impression,
    /// It was clicked.
    Click,
}

impl InteractionKind {
    /// The stored name.
    fn as_str(self) -> &'static str {
        match self {
            Self::Impression => "impression",
            Self::Click => "click",
        }
    }
}

/// An interaction with a served recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    /// Shown or clicked.
    pub kind: InteractionKind,
    /// The serving of the rail it happened in.
    pub view: String,
    /// The paper whose rail it was on.
    pub source: PaperId,
    /// The recommended paper.
    pub target: PaperId,
    /// Its position, from 1.
    pub position: i32,
    /// The partner that served it ("" for first-party pages).
    pub partner: String,
}

/// How interactions are grouped for rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// By position in the rail, every partner together.
    Position,
    /// By partner.
    Partner,
    /// By partner, then position.
    PartnerPosition,
}

/// What one slice of rates is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SliceKey {
    /// A position, from 1.
    Position(i32),
    /// A partner ("" for first-party pages).
    Partner(String),
    /// A partner's position.
    PartnerPosition(String, i32),
}

/// Impressions and clicks of one slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The slice.
    pub key: SliceKey,
    /// Impressions.
    pub impressions: i64,
    /// Clicks.
    pub clicks: i64,
}

/// The recommendations database.
#[derive(Debug, Clone)]
pub struct RecStore {
    /// The service's own database.
    db: Database,
    /// Where changes of overrides are written, with them, for every other service to hear of.
    events: Emitter,
}

/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

const PAPER_COLUMNS: [&str; 12] = [
    "id",
    "version",
    "published",
    "slug",
    "external_id",
    "title",
    "summary",
    "body",
    "publication_type",
    "topics",
    "author_ids",
    "publish_time",
];

impl RecStore {
    /// Runs `select` on the read model's connection pool.
    async fn fetch(
        &self,
        select: &sea_orm::sea_query::SelectStatement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        let conn = self.db.conn();
        conn.query_all(StatementBuilder::build(
            select,
            &conn.get_database_backend(),
        ))
        .await
    }

    /// Runs `select` for at most one row.
    async fn fetch_one(
        &self,
        select: &sea_orm::sea_query::SelectStatement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        let conn = self.db.conn();
        conn.query_one(StatementBuilder::build(
            select,
            &conn.get_database_backend(),
        ))
        .await
    }

    /// The store over `db`, whose migrations have run.
    pub fn new(db: Database, events: Emitter) -> Self {
        Self { db, events }
    }

    /// Applies `changes` in order in one transaction (a batch of events): each only when
    /// newer than what is held, with its change-log row.
    pub async fn apply_all(&self, changes: &[Change]) -> Result<Vec<Outcome>, DbErr> {
        let mut statements = Vec::with_capacity(changes.len());
        for change in changes {
            statements.push(match change {
                Change::Paper(paper) => {
                    let (upsert, also) = paper_statements(paper)?;
                    (upsert, also, Changed::Paper(paper.id))
                }
                Change::Author {
                    id,
                    version,
                    name,
                    deleted,
                } => (
                    author_statement(*id, *version, name, *deleted)?,
                    None,
                    Changed::Author(*id),
                ),
            });
        }
        let tx = self.db.begin_write().await?;
        let result = async {
            let backend = tx.get_database_backend();
            let mut outcomes = Vec::with_capacity(statements.len());
            for (upsert, also, changed) in &statements {
                let applied = tx
                    .execute(StatementBuilder::build(upsert, &backend))
                    .await?
                    .rows_affected();
                if applied == 0 {
                    outcomes.push(Outcome::Stale);
                    continue;
                }
                if let Some(also) = also {
                    tx.execute(StatementBuilder::build(also, &backend)).await?;
                }
                log_change(&tx, *changed).await?;
                outcomes.push(Outcome::Applied);
            }
            Ok(outcomes)
        }
        .await;
        tx.finish(result).await
    }

    /// Every slug published papers had, with the paper it leads to.
    pub async fn slugs(&self) -> Result<Vec<(String, PaperId)>, DbErr> {
        let select = Query::select()
            .columns([a("slug"), a("paper_id")])
            .from(a("rec_slugs"))
            .to_owned();
        self.fetch(&select)
            .await?
            .into_iter()
            .map(|row| {
                let paper: Uuid = row.try_get("", "paper_id")?;
                Ok((row.try_get("", "slug")?, PaperId::from_uuid(paper)))
            })
            .collect()
    }

    /// Published papers, in pages of `limit` after id `after`.
    pub async fn published(
        &self,
        after: Option<PaperId>,
        limit: u64,
    ) -> Result<Vec<RecPaper>, DbErr> {
        let mut select = Query::select();
        select
            .columns(PAPER_COLUMNS.map(a))
            .from(a("rec_papers"))
            .and_where(Expr::col(a("published")).eq(true))
            .order_by(a("id"), Order::Asc)
            .limit(limit);
        if let Some(after) = after {
            select.and_where(Expr::col(a("id")).gt(after.as_uuid()));
        }
        self.papers(&select).await
    }

    /// One paper's row, published or not.
    pub async fn paper(&self, id: PaperId) -> Result<Option<RecPaper>, DbErr> {
        Ok(self.papers_by_id(&[id]).await?.pop())
    }

    /// The rows of `ids` that exist, published or not, in no particular order.
    pub async fn papers_by_id(&self, ids: &[PaperId]) -> Result<Vec<RecPaper>, DbErr> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let select = Query::select()
                .columns(PAPER_COLUMNS.map(a))
                .from(a("rec_papers"))
                .and_where(Expr::col(a("id")).is_in(chunk.iter().map(PaperId::as_uuid)))
                .to_owned();
            out.extend(self.papers(&select).await?);
        }
        Ok(out)
    }

    async fn papers(
        &self,
        select: &sea_orm::sea_query::SelectStatement,
    ) -> Result<Vec<RecPaper>, DbErr> {
        let rows = self.fetch(select).await?;
        rows.into_iter()
            .map(|row| {
                let topics: String = row.try_get("", "topics")?;
                let authors: String = row.try_get("", "author_ids")?;
                let id: Uuid = row.try_get("", "id")?;
                let author_ids: Vec<Uuid> = serde_json::from_str(&authors)
                    .map_err(|e| DbErr::Custom(format!("rec_papers.author_ids: {e}")))?;
                Ok(RecPaper {
                    id: PaperId::from_uuid(id),
                    version: row.try_get("", "version")?,
                    published: row.try_get("", "published")?,
                    slug: row.try_get("", "slug")?,
                    external_id: row.try_get("", "external_id")?,
                    title: row.try_get("", "title")?,
                    summary: row.try_get("", "summary")?,
                    body: row.try_get("", "body")?,
                    publication_type: publication_type(row.try_get("", "publication_type")?)?,
                    topics: serde_json::from_str(&topics)
                        .map_err(|e| DbErr::Custom(format!("rec_papers.topics: {e}")))?,
                    author_ids: author_ids.into_iter().map(AuthorId::from_uuid).collect(),
                    publish_time: row.try_get("", "publish_time")?,
                })
            })
            .collect()
    }

    /// Every author's name, deleted ones excluded.
    pub async fn author_names(&self) -> Result<Vec<(AuthorId, String)>, DbErr> {
        self.names(None).await
    }

    /// The names of those of `ids` that exist and are not deleted.
    pub async fn author_names_of(
        &self,
        ids: &[AuthorId],
    ) -> Result<HashMap<AuthorId, String>, DbErr> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            out.extend(self.names(Some(chunk)).await?);
        }
        Ok(out)
    }

    async fn names(&self, only: Option<&[AuthorId]>) -> Result<Vec<(AuthorId, String)>, DbErr> {
        let mut select = Query::select()
            .columns([a("id"), a("name")])
            .from(a("rec_authors"))
            .and_where(Expr::col(a("deleted")).eq(false))
            .to_owned();
        if let Some(ids) = only {
            select.and_where(Expr::col(a("id")).is_in(ids.iter().map(AuthorId::as_uuid)));
        }
        self.fetch(&select)
            .await?
            .into_iter()
            .map(|row| {
                let id: Uuid = row.try_get("", "id")?;
                Ok((AuthorId::from_uuid(id), row.try_get("", "name")?))
            })
            .collect()
    }

    /// The last change-log position (0 when empty).
    pub async fn last_change(&self) -> Result<i64, DbErr> {
        let select = Query::select()
            .expr_as(Func::max(Expr::col(a("seq"))), a("seq"))
            .from(a("rec_changes"))
            .to_owned();
        let row = self.fetch_one(&select).await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<i64>>("", "seq")?.unwrap_or(0),
            None => 0,
        })
    }

    /// Up to `limit` changes logged after position `after`, in order.
    pub async fn changes_since(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Changed)>, DbErr> {
        let select = Query::select()
            .columns([a("seq"), a("paper_id"), a("author_id")])
            .from(a("rec_changes"))
            .and_where(Expr::col(a("seq")).gt(after))
            .order_by(a("seq"), Order::Asc)
            .limit(limit)
            .to_owned();
        let rows = self.fetch(&select).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get("", "seq")?;
            let paper: Option<Uuid> = row.try_get("", "paper_id")?;
            let author: Option<Uuid> = row.try_get("", "author_id")?;
            match (paper, author) {
                (Some(p), _) => out.push((seq, Changed::Paper(PaperId::from_uuid(p)))),
                (None, Some(a)) => out.push((seq, Changed::Author(AuthorId::from_uuid(a)))),
                (None, None) => {}
            }
        }
        Ok(out)
    }

    /// Forgets change-log entries older than `before` (replicas older than that rebuild).
    pub async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64, DbErr> {
        let tx = self.db.begin_write().await?;
        let stmt = Query::delete()
            .from_table(a("rec_changes"))
            .and_where(Expr::col(a("created_at")).lt(before))
            .to_owned();
        let result = tx
            .execute(StatementBuilder::build(&stmt, &tx.get_database_backend()))
            .await
            .map(|r| r.rows_affected());
        tx.finish(result).await
    }

    /// A paper's overrides (empty when none were set).
    pub async fn overrides(&self, paper: PaperId) -> Result<Overrides, DbErr> {
        Ok(self
            .overrides_of(Some(&[paper]))
            .await?
            .remove(&paper)
            .unwrap_or_default())
    }

    /// The overrides set for `papers` (every paper's when `None`).
    pub async fn overrides_of(
        &self,
        papers: Option<&[PaperId]>,
    ) -> Result<HashMap<PaperId, Overrides>, DbErr> {
        let mut out = HashMap::new();
        let chunks: Vec<Option<&[PaperId]>> = match papers {
            Some(ids) => ids.chunks(IN_CHUNK).map(Some).collect(),
            None => vec![None],
        };
        for chunk in chunks {
            let mut select = Query::select()
                .columns([a("paper_id"), a("pinned"), a("excluded"), a("update_time")])
                .from(a("rec_overrides"))
                .to_owned();
            if let Some(ids) = chunk {
                select.and_where(Expr::col(a("paper_id")).is_in(ids.iter().map(PaperId::as_uuid)));
            }
            let rows = self.fetch(&select).await?;
            for row in rows {
                let pinned: String = row.try_get("", "pinned")?;
                let excluded: String = row.try_get("", "excluded")?;
                let paper: Uuid = row.try_get("", "paper_id")?;
                out.insert(
                    PaperId::from_uuid(paper),
                    Overrides {
                        pinned: serde_json::from_str(&pinned)
                            .map_err(|e| DbErr::Custom(format!("rec_overrides.pinned: {e}")))?,
                        excluded: serde_json::from_str(&excluded)
                            .map_err(|e| DbErr::Custom(format!("rec_overrides.excluded: {e}")))?,
                        update_time: row.try_get("", "update_time")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Replaces a paper's overrides, with their `recommendation.overrides_changed` event (the
    /// gateways' caches drop the paper's rail on it). Returns their version: one more each time.
    pub async fn set_overrides(&self, paper: PaperId, overrides: &Overrides) -> Result<i64, DbErr> {
        let pinned =
            serde_json::to_string(&overrides.pinned).map_err(|e| DbErr::Custom(e.to_string()))?;
        let excluded =
            serde_json::to_string(&overrides.excluded).map_err(|e| DbErr::Custom(e.to_string()))?;
        let update_time = overrides.update_time.unwrap_or_else(Utc::now);
        let mut upsert = Query::insert();
        upsert
            .into_table(a("rec_overrides"))
            .columns([
                a("paper_id"),
                a("pinned"),
                a("excluded"),
                a("update_time"),
                a("version"),
            ])
            .on_conflict(
                OnConflict::column(a("paper_id"))
                    .update_columns([a("pinned"), a("excluded"), a("update_time")])
                    .value(
                        a("version"),
                        Expr::col((a("rec_overrides"), a("version"))).add(1),
                    )
                    .to_owned(),
            );
        upsert
            .values([
                paper.as_uuid().into(),
                pinned.into(),
                excluded.into(),
                update_time.into(),
                1_i64.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut read = Query::select();
        read.column(a("version"))
            .from(a("rec_overrides"))
            .and_where(Expr::col(a("paper_id")).eq(paper.as_uuid()));
        let tx = self.db.begin_write().await?;
        let result = async {
            let backend = tx.get_database_backend();
            tx.execute(StatementBuilder::build(&upsert, &backend))
                .await?;
            // The row is this transaction's until it commits: the version read is its own.
            let version: i64 = tx
                .query_one(StatementBuilder::build(&read, &backend))
                .await?
                .ok_or_else(|| DbErr::RecordNotFound(format!("overrides of {paper}")))?
                .try_get("", "version")?;
            // Other replicas reload the paper's overrides from the change log.
            log_change(&tx, Changed::Paper(paper)).await?;
            self.events
                .emit(
                    &*tx,
                    &overrides_event(paper, version, overrides, update_time),
                )
                .await?;
            Ok(version)
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Records an interaction once: the same kind at the same position of the same view adds
    /// nothing. A click records the impression too (what was clicked was shown), so that no
    /// slice has more clicks than impressions. Returns whether anything new was counted.
    pub async fn record(&self, interaction: &Interaction) -> Result<bool, DbErr> {
        let mut kinds = vec![InteractionKind::Impression];
        if interaction.kind == InteractionKind::Click {
            kinds.push(InteractionKind::Click);
        }
        let now = Utc::now();
        let mut inserts = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let mut insert = Query::insert();
            insert
                .into_table(a("rec_interactions"))
                .columns([
                    a("kind"),
                    a("view_id"),
                    a("source_id"),
                    a("target_id"),
                    a("position"),
                    a("partner"),
                    a("created_at"),
                ])
                .values([
                    kind.as_str().into(),
                    interaction.view.clone().into(),
                    interaction.source.as_uuid().into(),
                    interaction.target.as_uuid().into(),
                    interaction.position.into(),
                    interaction.partner.clone().into(),
                    now.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .on_conflict(
                    OnConflict::columns([a("view_id"), a("position"), a("kind")])
                        .do_nothing()
                        .to_owned(),
                );
            inserts.push(insert);
        }
        let tx = self.db.begin_write().await?;
        let result = async {
            let backend = tx.get_database_backend();
            let mut counted = false;
            for insert in &inserts {
                counted |= tx
                    .execute(StatementBuilder::build(insert, &backend))
                    .await?
                    .rows_affected()
                    > 0;
            }
            Ok(counted)
        }
        .await;
        tx.finish(result).await
    }

    /// Impressions and clicks by `slice`, for `partner` (all when `None`) since `since`.
    pub async fn counts(
        &self,
        slice: Slice,
        partner: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Counts>, DbErr> {
        let columns: &[&str] = match slice {
            Slice::Position => &["position"],
            Slice::Partner => &["partner"],
            Slice::PartnerPosition => &["partner", "position"],
        };
        let mut select = Query::select();
        for column in columns {
            select
                .expr_as(Expr::col(a(column)), a(column))
                .group_by_col(a(column))
                .order_by(a(column), Order::Asc);
        }
        select
            .expr_as(Expr::col(a("kind")), a("kind"))
            .expr_as(Func::count(Expr::col(a("id"))), a("n"))
            .from(a("rec_interactions"))
            .group_by_col(a("kind"));
        if let Some(partner) = partner {
            select.and_where(Expr::col(a("partner")).eq(partner));
        }
        if let Some(since) = since {
            select.and_where(Expr::col(a("created_at")).gte(since));
        }
        let rows = self.fetch(&select).await?;
        let mut out: Vec<Counts> = Vec::new();
        for row in rows {
            let key = match slice {
                Slice::Position => SliceKey::Position(row.try_get("", "position")?),
                Slice::Partner => SliceKey::Partner(row.try_get("", "partner")?),
                Slice::PartnerPosition => SliceKey::PartnerPosition(
                    row.try_get("", "partner")?,
                    row.try_get("", "position")?,
                ),
            };
            let kind: String = row.try_get("", "kind")?;
            let n: i64 = row.try_get("", "n")?;
            // Rows come ordered by the slice's columns: a slice's kinds are next to each other.
            if out.last().is_none_or(|c| c.key != key) {
                out.push(Counts {
                    key,
                    impressions: 0,
                    clicks: 0,
                });
            }
            let Some(slot) = out.last_mut() else {
                continue;
            };
            if kind == InteractionKind::Click.as_str() {
                slot.clicks += n;
            } else {
                slot.impressions += n;
            }
        }
        Ok(out)
    }
}

/// The upsert of a paper (applied only over an older version), and the row remembering its
/// slug when it is published.
fn paper_statements(
    paper: &RecPaper,
) -> Result<
    (
        sea_orm::sea_query::InsertStatement,
        Option<sea_orm::sea_query::InsertStatement>,
    ),
    DbErr,
> {
    let topics = serde_json::to_string(&paper.topics).map_err(|e| DbErr::Custom(e.to_string()))?;
    let authors =
        serde_json::to_string(&paper.author_ids).map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut upsert = Query::insert();
    upsert
        .into_table(a("rec_papers"))
        .columns(PAPER_COLUMNS.map(a))
        .on_conflict(
            OnConflict::column(a("id"))
                .update_columns(PAPER_COLUMNS[1..].iter().map(|c| a(c)))
                .action_and_where(
                    Expr::col((a("rec_papers"), a("version")))
                        .lt(Expr::col((a("excluded"), a("version")))),
                )
                .to_owned(),
        );
    upsert
        .values([
            paper.id.as_uuid().into(),
            paper.version.into(),
            paper.published.into(),
            paper.slug.clone().into(),
            paper.external_id.clone().into(),
            paper.title.clone().into(),
            paper.summary.clone().into(),
            paper.body.clone().into(),
            paper.publication_type.map(PublicationType::as_str).into(),
            topics.into(),
            authors.into(),
            paper.publish_time.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    // Every slug a paper was published under keeps resolving to it, like the papers
    // service's former slugs.
    let remember = if paper.published && !paper.slug.is_empty() {
        let mut slug = Query::insert();
        slug.into_table(a("rec_slugs"))
            .columns([a("slug"), a("paper_id")])
            .on_conflict(
                OnConflict::column(a("slug"))
                    .update_column(a("paper_id"))
                    .to_owned(),
            );
        slug.values([paper.slug.clone().into(), paper.id.as_uuid().into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        Some(slug)
    } else {
        None
    };
    Ok((upsert, remember))
}

/// The upsert of an author's name (applied only over an older version).
fn author_statement(
    id: AuthorId,
    version: i64,
    name: &str,
    deleted: bool,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    let mut upsert = Query::insert();
    upsert
        .into_table(a("rec_authors"))
        .columns([a("id"), a("version"), a("name"), a("deleted")])
        .on_conflict(
            OnConflict::column(a("id"))
                .update_columns([a("version"), a("name"), a("deleted")])
                .action_and_where(
                    Expr::col((a("rec_authors"), a("version")))
                        .lt(Expr::col((a("excluded"), a("version")))),
                )
                .to_owned(),
        );
    upsert
        .values([
            id.as_uuid().into(),
            version.into(),
            name.into(),
            deleted.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(upsert)
}

/// Writes `changed` to the change log, in the writer's transaction. Replicas read the log in
/// `seq` order and remember the last `seq` they applied, so a `seq` must never become visible
/// after a higher one: on PostgreSQL, where concurrent transactions draw from the sequence and
/// could commit out of order, writers take turns on a transaction-scoped advisory lock from
/// here to their commit (SQLite has one writer anyway).
/// A stored publication type: its domain name, or none for a tombstone.
fn publication_type(stored: Option<String>) -> Result<Option<PublicationType>, DbErr> {
    stored
        .map(|name| {
            PublicationType::from_str_opt(&name).ok_or_else(|| {
                DbErr::Custom(format!(
                    "rec_papers.publication_type '{name}' is not a publication type"
                ))
            })
        })
        .transpose()
}

/// The event of a paper's overrides as now set.
fn overrides_event(
    paper: PaperId,
    version: i64,
    overrides: &Overrides,
    update_time: DateTime<Utc>,
) -> NewEvent {
    let ids = |ids: &[PaperId]| ids.iter().map(PaperId::to_string).collect();
    NewEvent::new(
        imprint_events::envelope::OVERRIDES_CHANGED,
        paper.as_uuid(),
        version,
        update_time,
        imprint_proto::events::event::Payload::Overrides(
            imprint_proto::recommendations::RelatedOverrides {
                paper_id: paper.to_string(),
                pinned_paper_ids: ids(&overrides.pinned),
                excluded_paper_ids: ids(&overrides.excluded),
                update_time: Some(imprint_proto::convert::timestamp(update_time)),
            },
        ),
    )
}

async fn log_change(tx: &sea_orm::DatabaseTransaction, changed: Changed) -> Result<(), DbErr> {
    let backend = tx.get_database_backend();
    if backend == sea_orm::DbBackend::Postgres {
        tx.execute(sea_orm::Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1)",
            [imprint_platform::db::advisory_key("rec_changes").into()],
        ))
        .await?;
    }
    let (paper, author): (Option<Uuid>, Option<Uuid>) = match changed {
        Changed::Paper(id) => (Some(id.as_uuid()), None),
        Changed::Author(id) => (None, Some(id.as_uuid())),
    };
    let mut log = Query::insert();
    log.into_table(a("rec_changes"))
        .columns([a("paper_id"), a("author_id"), a("created_at")]);
    log.values([paper.into(), author.into(), Utc::now().into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    tx.execute(StatementBuilder::build(&log, &backend)).await?;
    Ok(())
}
