//! The read model's storage: papers and authors as the latest events described them (a version
//! per row, so an event applies only when newer), the change log replicas refresh their index
//! from, editorial overrides, and interactions.

use std::collections::HashMap;

mod entity;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use imprint_domain::{AuthorId, PaperId, PublicationType, TermId, Vocabulary};
use imprint_events::{Emitter, NewEvent, Outcome};
use imprint_platform::Database;

use entity::{
    rec_author, rec_change, rec_interaction, rec_override, rec_paper, rec_slug, rec_term,
    rec_term_slug,
};

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
    /// Its programs, regions and series.
    #[serde(default)]
    pub terms: imprint_domain::PaperTerms,
    /// Its cover image, with its smaller copies, for rails that show it (boxed: most papers
    /// have none, and changes are passed by value).
    #[serde(default)]
    pub cover: Option<Box<imprint_domain::file::Image>>,
}

/// A taxonomy term as the read model holds it: enough to resolve filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecTerm {
    /// The term.
    pub id: TermId,
    /// The version of the event.
    pub version: i64,
    /// Its vocabulary.
    pub vocabulary: Vocabulary,
    /// Current slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// The region a country is in.
    pub parent: Option<TermId>,
    /// The term it was merged into.
    pub merged_into: Option<TermId>,
    /// Every slug that resolves to it, the current one included.
    pub slugs: Vec<String>,
}

/// A term as facets show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermLabel {
    /// The term.
    pub id: TermId,
    /// Its vocabulary.
    pub vocabulary: Vocabulary,
    /// Its current slug, which filters take.
    pub slug: String,
    /// Its name.
    pub name: String,
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
    /// A taxonomy term's new state.
    Term(RecTerm),
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

impl RecStore {
    /// The store over `db`, whose migrations have run.
    pub fn new(db: Database, events: Emitter) -> Self {
        Self { db, events }
    }

    /// Applies `changes` in order in one transaction (a batch of events): each only when
    /// newer than what is held, with its change-log row.
    pub async fn apply_all(&self, changes: &[Change]) -> Result<Vec<Outcome>, DbErr> {
        let rows = changes
            .iter()
            .map(ChangeRows::of)
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.db.begin_write().await?;
        let result = async {
            let mut outcomes = Vec::with_capacity(rows.len());
            for row in &rows {
                outcomes.push(row.apply(&tx).await?);
            }
            Ok(outcomes)
        }
        .await;
        tx.finish(result).await
    }

    /// The terms a filter naming `raw` (a term id or any slug of `vocabulary`) matches: the
    /// term (or the one it was merged into), its countries, and the terms merged into it.
    /// `None` when nothing of that vocabulary is called so.
    pub async fn term_family(
        &self,
        vocabulary: Vocabulary,
        raw: &str,
    ) -> Result<Option<Vec<TermId>>, DbErr> {
        let raw = raw.trim();
        let mut id = match Uuid::try_parse(raw) {
            Ok(id) => Some(id),
            Err(_) => rec_term_slug::Entity::find()
                .filter(rec_term_slug::Column::Vocabulary.eq(vocabulary.as_str()))
                .filter(rec_term_slug::Column::Slug.eq(raw))
                .one(self.db.conn())
                .await?
                .map(|row| row.term_id),
        };
        // Follow merges a few hops (a target may have been merged since).
        let mut term = None;
        for _ in 0..imprint_domain::taxonomy::MAX_MERGE_HOPS {
            let Some(current) = id else { break };
            let Some(row) = rec_term::Entity::find_by_id(current)
                .one(self.db.conn())
                .await?
            else {
                break;
            };
            id = row.merged_into;
            term = Some(row);
        }
        let Some(term) = term.filter(|t| t.vocabulary == vocabulary.as_str()) else {
            return Ok(None);
        };
        let ids: Vec<Uuid> = rec_term::Entity::find()
            .select_only()
            .column(rec_term::Column::Id)
            .filter(
                sea_orm::Condition::any()
                    .add(rec_term::Column::Id.eq(term.id))
                    .add(rec_term::Column::ParentId.eq(term.id))
                    .add(rec_term::Column::MergedInto.eq(term.id)),
            )
            .into_tuple()
            .all(self.db.conn())
            .await?;
        Ok(Some(ids.into_iter().map(TermId::from_uuid).collect()))
    }

    /// The labels of those of `ids` the read model knows, in no particular order.
    pub async fn term_labels(&self, ids: &[TermId]) -> Result<Vec<TermLabel>, DbErr> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let rows = rec_term::Entity::find()
                .filter(rec_term::Column::Id.is_in(chunk.iter().map(TermId::as_uuid)))
                .all(self.db.conn())
                .await?;
            for row in rows {
                // A vocabulary this release does not know is left out, not an error.
                if let Some(vocabulary) = Vocabulary::from_str_opt(&row.vocabulary) {
                    out.push(TermLabel {
                        id: TermId::from_uuid(row.id),
                        vocabulary,
                        slug: row.slug,
                        name: row.name,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every slug published papers had, with the paper it leads to.
    pub async fn slugs(&self) -> Result<Vec<(String, PaperId)>, DbErr> {
        Ok(rec_slug::Entity::find()
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|row| (row.slug, PaperId::from_uuid(row.paper_id)))
            .collect())
    }

    /// Published papers, in pages of `limit` after id `after`.
    pub async fn published(
        &self,
        after: Option<PaperId>,
        limit: u64,
    ) -> Result<Vec<RecPaper>, DbErr> {
        let mut select = rec_paper::Entity::find()
            .filter(rec_paper::Column::Published.eq(true))
            .order_by_asc(rec_paper::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            select = select.filter(rec_paper::Column::Id.gt(after.as_uuid()));
        }
        self.papers(select).await
    }

    /// One paper's row, published or not.
    pub async fn paper(&self, id: PaperId) -> Result<Option<RecPaper>, DbErr> {
        Ok(self.papers_by_id(&[id]).await?.pop())
    }

    /// The rows of `ids` that exist, published or not, in no particular order.
    pub async fn papers_by_id(&self, ids: &[PaperId]) -> Result<Vec<RecPaper>, DbErr> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let select = rec_paper::Entity::find()
                .filter(rec_paper::Column::Id.is_in(chunk.iter().map(PaperId::as_uuid)));
            out.extend(self.papers(select).await?);
        }
        Ok(out)
    }

    async fn papers(&self, select: Select<rec_paper::Entity>) -> Result<Vec<RecPaper>, DbErr> {
        select
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(RecPaper::from_row)
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
        let mut select = rec_author::Entity::find()
            .select_only()
            .columns([rec_author::Column::Id, rec_author::Column::Name])
            .filter(rec_author::Column::Deleted.eq(false));
        if let Some(ids) = only {
            select = select.filter(rec_author::Column::Id.is_in(ids.iter().map(AuthorId::as_uuid)));
        }
        Ok(select
            .into_tuple::<(Uuid, String)>()
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|(id, name)| (AuthorId::from_uuid(id), name))
            .collect())
    }

    /// The last change-log position (0 when empty).
    pub async fn last_change(&self) -> Result<i64, DbErr> {
        let last = rec_change::Entity::find()
            .select_only()
            .column_as(rec_change::Column::Seq.max(), "seq")
            .into_tuple::<Option<i64>>()
            .one(self.db.conn())
            .await?;
        Ok(last.flatten().unwrap_or(0))
    }

    /// Up to `limit` changes logged after position `after`, in order.
    pub async fn changes_since(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Changed)>, DbErr> {
        let rows = rec_change::Entity::find()
            .filter(rec_change::Column::Seq.gt(after))
            .order_by_asc(rec_change::Column::Seq)
            .limit(limit)
            .all(self.db.conn())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let changed = match (row.paper_id, row.author_id) {
                    (Some(p), _) => Changed::Paper(PaperId::from_uuid(p)),
                    (None, Some(a)) => Changed::Author(AuthorId::from_uuid(a)),
                    (None, None) => return None,
                };
                Some((row.seq, changed))
            })
            .collect())
    }

    /// Forgets change-log entries older than `before` (replicas older than that rebuild).
    pub async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = rec_change::Entity::delete_many()
            .filter(rec_change::Column::CreatedAt.lt(before))
            .exec(&*tx)
            .await
            .map(|r| r.rows_affected);
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
        let selects: Vec<Select<rec_override::Entity>> = match papers {
            Some(ids) => ids
                .chunks(IN_CHUNK)
                .map(|chunk| {
                    rec_override::Entity::find().filter(
                        rec_override::Column::PaperId.is_in(chunk.iter().map(PaperId::as_uuid)),
                    )
                })
                .collect(),
            None => vec![rec_override::Entity::find()],
        };
        let mut out = HashMap::new();
        for select in selects {
            for row in select.all(self.db.conn()).await? {
                out.insert(PaperId::from_uuid(row.paper_id), Overrides::from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Replaces a paper's overrides, with their `recommendation.overrides_changed` event (the
    /// gateways' caches drop the paper's rail on it). Returns their version: one more each time.
    pub async fn set_overrides(
        &self,
        paper: PaperId,
        overrides: &Overrides,
        actor: &imprint_domain::Actor,
    ) -> Result<i64, DbErr> {
        let update_time = overrides.update_time.unwrap_or_else(Utc::now);
        let row = rec_override::ActiveModel {
            paper_id: Set(paper.as_uuid()),
            pinned: Set(json("rec_overrides.pinned", &overrides.pinned)?),
            excluded: Set(json("rec_overrides.excluded", &overrides.excluded)?),
            update_time: Set(update_time),
            version: Set(1),
        };
        let upsert = OnConflict::column(rec_override::Column::PaperId)
            .update_columns([
                rec_override::Column::Pinned,
                rec_override::Column::Excluded,
                rec_override::Column::UpdateTime,
            ])
            .value(
                rec_override::Column::Version,
                Expr::col((rec_override::Entity, rec_override::Column::Version)).add(1),
            )
            .to_owned();
        let tx = self.db.begin_write().await?;
        let result = async {
            rec_override::Entity::insert(row)
                .on_conflict(upsert)
                .exec_without_returning(&*tx)
                .await?;
            // The row is this transaction's until it commits: the version read is its own.
            let version = rec_override::Entity::find_by_id(paper.as_uuid())
                .select_only()
                .column(rec_override::Column::Version)
                .into_tuple::<i64>()
                .one(&*tx)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound(format!("overrides of {paper}")))?;
            // Other replicas reload the paper's overrides from the change log.
            log_change(&tx, Changed::Paper(paper)).await?;
            self.events
                .emit(
                    &*tx,
                    &overrides_event(paper, version, overrides, update_time).by(Some(actor)),
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
        let once = OnConflict::columns([
            rec_interaction::Column::ViewId,
            rec_interaction::Column::Position,
            rec_interaction::Column::Kind,
        ])
        .do_nothing()
        .to_owned();
        let tx = self.db.begin_write().await?;
        let result = async {
            let mut counted = false;
            for kind in kinds {
                let row = rec_interaction::ActiveModel {
                    id: NotSet,
                    kind: Set(kind.as_str().to_owned()),
                    view_id: Set(Some(interaction.view.clone())),
                    source_id: Set(interaction.source.as_uuid()),
                    target_id: Set(interaction.target.as_uuid()),
                    position: Set(interaction.position),
                    partner: Set(interaction.partner.clone()),
                    created_at: Set(now),
                };
                counted |= rec_interaction::Entity::insert(row)
                    .on_conflict(once.clone())
                    .exec_without_returning(&*tx)
                    .await?
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
        let mut select = rec_interaction::Entity::find().select_only();
        for column in slice.columns() {
            select = select
                .column(*column)
                .group_by(*column)
                .order_by_asc(*column);
        }
        select = select
            .column(rec_interaction::Column::Kind)
            .column_as(rec_interaction::Column::Id.count(), "n")
            .group_by(rec_interaction::Column::Kind);
        if let Some(partner) = partner {
            select = select.filter(rec_interaction::Column::Partner.eq(partner));
        }
        if let Some(since) = since {
            select = select.filter(rec_interaction::Column::CreatedAt.gte(since));
        }
        let conn = self.db.conn();
        let rows: Vec<(SliceKey, String, i64)> = match slice {
            Slice::Position => select
                .into_tuple::<(i32, String, i64)>()
                .all(conn)
                .await?
                .into_iter()
                .map(|(p, kind, n)| (SliceKey::Position(p), kind, n))
                .collect(),
            Slice::Partner => select
                .into_tuple::<(String, String, i64)>()
                .all(conn)
                .await?
                .into_iter()
                .map(|(partner, kind, n)| (SliceKey::Partner(partner), kind, n))
                .collect(),
            Slice::PartnerPosition => select
                .into_tuple::<(String, i32, String, i64)>()
                .all(conn)
                .await?
                .into_iter()
                .map(|(partner, p, kind, n)| (SliceKey::PartnerPosition(partner, p), kind, n))
                .collect(),
        };
        Ok(tally(rows))
    }
}

impl Slice {
    /// The columns a slice groups by, in the order its rows are sorted.
    fn columns(self) -> &'static [rec_interaction::Column] {
        use rec_interaction::Column::{Partner, Position};
        match self {
            Self::Position => &[Position],
            Self::Partner => &[Partner],
            Self::PartnerPosition => &[Partner, Position],
        }
    }
}

/// One row of counts per slice from rows of (slice, kind, count) sorted by slice: a slice's
/// kinds are next to each other.
fn tally(rows: Vec<(SliceKey, String, i64)>) -> Vec<Counts> {
    let mut out: Vec<Counts> = Vec::new();
    for (key, kind, n) in rows {
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
    out
}

impl RecPaper {
    /// The paper a stored row describes.
    fn from_row(row: rec_paper::Model) -> Result<Self, DbErr> {
        let author_ids: Vec<Uuid> = parse_json("rec_papers.author_ids", &row.author_ids)?;
        Ok(Self {
            id: PaperId::from_uuid(row.id),
            version: row.version,
            published: row.published,
            slug: row.slug,
            external_id: row.external_id,
            title: row.title,
            summary: row.summary,
            body: row.body,
            publication_type: publication_type(row.publication_type)?,
            topics: parse_json("rec_papers.topics", &row.topics)?,
            author_ids: author_ids.into_iter().map(AuthorId::from_uuid).collect(),
            publish_time: row.publish_time,
            terms: parse_json("rec_papers.terms", &row.terms)?,
            cover: row
                .cover
                .as_deref()
                .map(|c| parse_json("rec_papers.cover", c).map(Box::new))
                .transpose()?,
        })
    }

    /// The row storing it.
    fn to_row(&self) -> Result<rec_paper::ActiveModel, DbErr> {
        Ok(rec_paper::ActiveModel {
            id: Set(self.id.as_uuid()),
            version: Set(self.version),
            published: Set(self.published),
            slug: Set(self.slug.clone()),
            external_id: Set(self.external_id.clone()),
            title: Set(self.title.clone()),
            summary: Set(self.summary.clone()),
            body: Set(self.body.clone()),
            publication_type: Set(self.publication_type.map(|t| t.as_str().to_owned())),
            topics: Set(json("rec_papers.topics", &self.topics)?),
            author_ids: Set(json("rec_papers.author_ids", &self.author_ids)?),
            publish_time: Set(self.publish_time),
            terms: Set(json("rec_papers.terms", &self.terms)?),
            cover: Set(self
                .cover
                .as_ref()
                .map(|c| json("rec_papers.cover", c))
                .transpose()?),
        })
    }
}

impl Overrides {
    /// The overrides a stored row holds.
    fn from_row(row: &rec_override::Model) -> Result<Self, DbErr> {
        Ok(Self {
            pinned: parse_json("rec_overrides.pinned", &row.pinned)?,
            excluded: parse_json("rec_overrides.excluded", &row.excluded)?,
            update_time: Some(row.update_time),
        })
    }
}

/// A change as the rows it writes.
enum ChangeRows {
    /// A paper's row, and the row remembering its slug when it is published: every slug a
    /// paper was published under keeps resolving to it, like the papers service's former slugs.
    Paper {
        id: PaperId,
        row: Box<rec_paper::ActiveModel>,
        slug: Option<rec_slug::ActiveModel>,
    },
    /// An author's row.
    Author {
        id: AuthorId,
        row: rec_author::ActiveModel,
    },
    /// A term's row and the slugs that resolve to it.
    Term {
        row: rec_term::ActiveModel,
        slugs: Vec<rec_term_slug::ActiveModel>,
    },
}

impl ChangeRows {
    fn of(change: &Change) -> Result<Self, DbErr> {
        Ok(match change {
            Change::Paper(paper) => Self::Paper {
                id: paper.id,
                row: Box::new(paper.to_row()?),
                slug: (paper.published && !paper.slug.is_empty()).then(|| rec_slug::ActiveModel {
                    slug: Set(paper.slug.clone()),
                    paper_id: Set(paper.id.as_uuid()),
                }),
            },
            Change::Author {
                id,
                version,
                name,
                deleted,
            } => Self::Author {
                id: *id,
                row: rec_author::ActiveModel {
                    id: Set(id.as_uuid()),
                    version: Set(*version),
                    name: Set(name.clone()),
                    deleted: Set(*deleted),
                },
            },
            Change::Term(term) => Self::Term {
                row: rec_term::ActiveModel {
                    id: Set(term.id.as_uuid()),
                    version: Set(term.version),
                    vocabulary: Set(term.vocabulary.as_str().to_owned()),
                    slug: Set(term.slug.clone()),
                    name: Set(term.name.clone()),
                    parent_id: Set(term.parent.map(|p| p.as_uuid())),
                    merged_into: Set(term.merged_into.map(|p| p.as_uuid())),
                },
                slugs: term
                    .slugs
                    .iter()
                    .map(|slug| rec_term_slug::ActiveModel {
                        vocabulary: Set(term.vocabulary.as_str().to_owned()),
                        slug: Set(slug.clone()),
                        term_id: Set(term.id.as_uuid()),
                    })
                    .collect(),
            },
        })
    }

    /// Writes the rows when they are newer than those held, with their change-log entry.
    async fn apply(&self, tx: &sea_orm::DatabaseTransaction) -> Result<Outcome, DbErr> {
        let (applied, changed) = match self {
            Self::Paper { id, row, slug } => {
                let applied = rec_paper::Entity::insert((**row).clone())
                    .on_conflict(newer_only(
                        rec_paper::Entity,
                        rec_paper::Column::Id,
                        rec_paper::Column::Version,
                    ))
                    .exec_without_returning(tx)
                    .await?;
                if applied > 0
                    && let Some(slug) = slug
                {
                    rec_slug::Entity::insert(slug.clone())
                        .on_conflict(
                            OnConflict::column(rec_slug::Column::Slug)
                                .update_column(rec_slug::Column::PaperId)
                                .to_owned(),
                        )
                        .exec_without_returning(tx)
                        .await?;
                }
                (applied, Changed::Paper(*id))
            }
            Self::Author { id, row } => {
                let applied = rec_author::Entity::insert(row.clone())
                    .on_conflict(newer_only(
                        rec_author::Entity,
                        rec_author::Column::Id,
                        rec_author::Column::Version,
                    ))
                    .exec_without_returning(tx)
                    .await?;
                (applied, Changed::Author(*id))
            }
            // Terms are read from the database when a filter names one: no index to refresh.
            Self::Term { row, slugs } => {
                let applied = rec_term::Entity::insert(row.clone())
                    .on_conflict(newer_only(
                        rec_term::Entity,
                        rec_term::Column::Id,
                        rec_term::Column::Version,
                    ))
                    .exec_without_returning(tx)
                    .await?;
                if applied == 0 {
                    return Ok(Outcome::Stale);
                }
                for slug in slugs {
                    // A merge gives the source's slugs to the target: the newest owner wins.
                    rec_term_slug::Entity::insert(slug.clone())
                        .on_conflict(
                            OnConflict::columns([
                                rec_term_slug::Column::Vocabulary,
                                rec_term_slug::Column::Slug,
                            ])
                            .update_column(rec_term_slug::Column::TermId)
                            .to_owned(),
                        )
                        .exec_without_returning(tx)
                        .await?;
                }
                return Ok(Outcome::Applied);
            }
        };
        if applied == 0 {
            return Ok(Outcome::Stale);
        }
        log_change(tx, changed).await?;
        Ok(Outcome::Applied)
    }
}

/// An upsert on `key` that replaces every other column only over an older `version`: events
/// arrive out of order, and the newest one wins.
fn newer_only<E: EntityTrait>(entity: E, key: E::Column, version: E::Column) -> OnConflict {
    use sea_orm::{IdenStatic, Iterable};
    let key_name = key.as_str().to_owned();
    OnConflict::column(key)
        .update_columns(E::Column::iter().filter(|c| c.as_str() != key_name))
        .action_and_where(
            Expr::col((entity, version)).lt(Expr::col((Alias::new("excluded"), version))),
        )
        .to_owned()
}

/// `value` as the JSON text stored in `column`.
fn json<T: Serialize + ?Sized>(column: &str, value: &T) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Custom(format!("{column}: {e}")))
}

/// The JSON text stored in `column`.
fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, DbErr> {
    serde_json::from_str(text).map_err(|e| DbErr::Custom(format!("{column}: {e}")))
}

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

/// Writes `changed` to the change log, in the writer's transaction. Replicas read the log in
/// `seq` order and remember the last `seq` they applied, so a `seq` must never become visible
/// after a higher one: on PostgreSQL, where concurrent transactions draw from the sequence and
/// could commit out of order, writers take turns on a transaction-scoped advisory lock from
/// here to their commit (SQLite has one writer anyway).
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
    let (paper_id, author_id) = match changed {
        Changed::Paper(id) => (Some(id.as_uuid()), None),
        Changed::Author(id) => (None, Some(id.as_uuid())),
    };
    rec_change::Entity::insert(rec_change::ActiveModel {
        seq: NotSet,
        paper_id: Set(paper_id),
        author_id: Set(author_id),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}
