//! Papers storage: the current state of each paper, the indexes its list filters use, its slug
//! registry and its revisions. Every saved change writes the paper and its revision in one
//! transaction, conditional on the version the change was based on.

mod entity;
pub mod terms;

pub use terms::{TermFilter, TermStore, term_slugs};

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use imprint_domain::text::{Body, ExternalId, FundingNote, Summary, Title};
use imprint_domain::{
    Actor, AuthorId, AuthorIds, Paper, PaperChange, PaperChanges, PaperField, PaperFields,
    PaperFiles, PaperId, PaperStatus, PaperTerms, PublicationType, RevisionKind, Schedule, Slug,
    TermId, Topic, Topics, Vocabulary,
};
use imprint_events::envelope::{PAPER_DELETED, PAPER_PUBLISHED, PAPER_UNPUBLISHED, PAPER_UPDATED};
use imprint_events::{Emitter, NewEvent};
use imprint_platform::Database;
use imprint_platform::db::{self, RenderedSql, UniqueIndex, UniqueKey, WriteTx};
use imprint_platform::revisions::RevisionTable;
use imprint_platform::slugs::{SlugChoice, SlugTable};
use imprint_platform::store::WriteError;
use imprint_proto::events::event::Payload;

use entity::{paper, paper_author, paper_term, paper_topic};

/// Every saved version of every paper.
pub const REVISIONS: RevisionTable = RevisionTable {
    table: "paper_revisions",
    owner: "paper_id",
};

/// Every slug any paper ever had.
pub const SLUGS: SlugTable = SlugTable {
    table: "paper_slugs",
    owner: "paper_id",
};

/// Every slug any term ever had, one registry per vocabulary (each its own namespace), in the
/// order of [`Vocabulary::ALL`].
pub const TERM_SLUGS: [SlugTable; 3] = [
    SlugTable {
        table: "program_slugs",
        owner: "term_id",
    },
    SlugTable {
        table: "region_slugs",
        owner: "term_id",
    },
    SlugTable {
        table: "series_slugs",
        owner: "term_id",
    },
];

/// The rendered SQL of the reads of one paper, by shape ([`Lookup::shape`]).
static ONE_PAPER: std::sync::LazyLock<RenderedSql> = std::sync::LazyLock::new(RenderedSql::new);

/// How one paper is looked up.
#[derive(Debug, Clone, Copy)]
enum Lookup<'a> {
    /// By id.
    Id(PaperId),
    /// By any slug it has or had.
    Slug(&'a str),
}

impl Lookup<'_> {
    /// The select, of papers of `status` when given.
    fn select(self, status: Option<PaperStatus>) -> sea_orm::Select<paper::Entity> {
        let condition = match self {
            Self::Id(id) => paper::Column::Id.eq(id.as_uuid()),
            Self::Slug(slug) => SLUGS.owned(paper::Column::Id, slug),
        };
        let mut select = paper::Entity::find().filter(condition);
        if let Some(status) = status {
            select = select.filter(paper::Column::Status.eq(status.as_str()));
        }
        select
    }

    /// The values [`Self::select`] binds, in its order.
    fn values(self, status: Option<PaperStatus>) -> Vec<sea_orm::Value> {
        let mut values = vec![match self {
            Self::Id(id) => id.as_uuid().into(),
            Self::Slug(slug) => slug.into(),
        }];
        if let Some(status) = status {
            values.push(status.as_str().into());
        }
        values
    }

    /// Which of the four selects it is.
    fn shape(self, status: Option<PaperStatus>) -> usize {
        usize::from(matches!(self, Self::Slug(_))) * 2 + usize::from(status.is_some())
    }
}

/// A paper as one change saved it, with who made the change.
pub type Revision = imprint_domain::Revision<Paper, PaperChanges>;

/// A revision of `paper` by `actor`, saved at the paper's update time.
pub fn revision(
    kind: RevisionKind,
    changed: PaperChanges,
    paper: Paper,
    actor: &Actor,
) -> Revision {
    Revision {
        kind,
        changed,
        time: paper.update_time,
        state: paper,
        actor: Some(actor.clone()),
        restored_from: None,
    }
}

/// A new paper: its creation and, when it is published at once, its publication.
#[derive(Debug, Clone)]
pub struct NewRow {
    /// The draft as created (version 1).
    pub created: Revision,
    /// The paper as published (version 2), stored in its place.
    pub published: Option<Revision>,
    /// The slug it asks for.
    pub choice: SlugChoice,
}

/// List filters; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<PaperStatus>,
    /// Only this topic (a lowercase key).
    pub topic_key: Option<String>,
    /// Only this type.
    pub publication_type: Option<PublicationType>,
    /// Only papers crediting this author.
    pub author_id: Option<AuthorId>,
    /// Only papers saved at or after this time.
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only the paper with this external id.
    pub external_id: Option<String>,
    /// Only papers carrying, for each set, at least one of its terms (a region's set holds
    /// its countries and the terms merged into it).
    pub terms: Vec<Vec<TermId>>,
}

/// Reads and writes papers.
#[derive(Debug, Clone)]
pub struct PaperStore {
    /// This service's own database.
    db: Database,
    /// Where each change's event is written, in the change's transaction.
    events: Emitter,
}

impl PaperStore {
    /// A store over `db`, whose migrations have run, writing events through `events`.
    pub fn new(db: Database, events: Emitter) -> Self {
        Self { db, events }
    }

    /// Stores a new paper with its first revision, under the slug `choice` resolves to, which
    /// it sets.
    pub async fn insert(
        &self,
        revision: &mut Revision,
        choice: &SlugChoice,
    ) -> Result<(), WriteError> {
        let mut rows = [NewRow {
            created: revision.clone(),
            published: None,
            choice: choice.clone(),
        }];
        self.insert_batch(&mut rows).await?;
        let [row] = rows;
        *revision = row.created;
        Ok(())
    }

    /// Stores new papers in one transaction, all or none, each under the slug its choice
    /// resolves to (which it sets), with its revisions and events.
    pub async fn insert_batch(&self, rows: &mut [NewRow]) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            for new in rows.iter_mut() {
                let id = new.created.state.id.as_uuid();
                let slug = SLUGS.claim_choice(&*tx, &new.choice, id).await?;
                if let Some(published) = &mut new.published {
                    published.state.slug = slug.clone();
                }
                new.created.state.slug = slug;
                let p = new
                    .published
                    .as_ref()
                    .map_or(&new.created.state, |r| &r.state);
                let mut row = to_active(p);
                row.id = Set(id);
                paper::Entity::insert(row)
                    .exec_without_returning(&*tx)
                    .await
                    .map_err(|e| slug_error(e, p))?;
                write_topics(&tx, p).await?;
                write_credits(&tx, p).await?;
                write_terms(&tx, p).await?;
                // A new paper's creation and publication carry the same terms: read once.
                let refs = term_refs(&tx, p).await?;
                for revision in std::iter::once(&new.created).chain(&new.published) {
                    write_revision(&tx, revision).await?;
                    let event = described(paper_event(revision), &refs);
                    self.events.emit(&*tx, &event).await?;
                }
            }
            Ok(())
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Saves a changed paper (its version already incremented) with its revision, if the
    /// stored version is still `expected_version`.
    pub async fn save(&self, revision: &Revision, expected_version: i64) -> Result<(), WriteError> {
        let p = &revision.state;
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            SLUGS.claim(&*tx, &p.slug, p.id.as_uuid()).await?;
            let result = paper::Entity::update_many()
                .set(to_active(p))
                .filter(paper::Column::Id.eq(p.id.as_uuid()))
                .filter(paper::Column::Version.eq(expected_version))
                .exec(&*tx)
                .await
                .map_err(|e| slug_error(e, p))?;
            if result.rows_affected == 0 {
                return Err(version_conflict(&tx, p.id).await);
            }
            if revision
                .changed
                .contains(PaperChange::Field(PaperField::Topics))
            {
                paper_topic::Entity::delete_many()
                    .filter(paper_topic::Column::PaperId.eq(p.id.as_uuid()))
                    .exec(&*tx)
                    .await?;
                write_topics(&tx, p).await?;
            }
            if revision
                .changed
                .contains(PaperChange::Field(PaperField::AuthorIds))
            {
                paper_author::Entity::delete_many()
                    .filter(paper_author::Column::PaperId.eq(p.id.as_uuid()))
                    .exec(&*tx)
                    .await?;
                write_credits(&tx, p).await?;
            }
            if Vocabulary::ALL.into_iter().any(|v| {
                revision
                    .changed
                    .contains(PaperChange::Field(PaperField::Terms(v)))
            }) {
                paper_term::Entity::delete_many()
                    .filter(paper_term::Column::PaperId.eq(p.id.as_uuid()))
                    .exec(&*tx)
                    .await?;
                write_terms(&tx, p).await?;
            }
            write_revision(&tx, revision).await?;
            let event = described(paper_event(revision), &term_refs(&tx, p).await?);
            self.events.emit(&*tx, &event).await?;
            Ok(())
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Deletes a paper and frees its slugs, if its version is still `expected_version` (when
    /// given). Its revisions and index rows go with it (`ON DELETE CASCADE`; SQLite connections
    /// enable foreign keys).
    pub async fn delete(
        &self,
        id: PaperId,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            let mut delete =
                paper::Entity::delete_many().filter(paper::Column::Id.eq(id.as_uuid()));
            if let Some(v) = expected_version {
                delete = delete.filter(paper::Column::Version.eq(v));
            }
            // Locked (PostgreSQL), so that no update slips in between and the deletion event
            // gets a version above every other event of the paper.
            let Some(current) = paper::Entity::find_by_id(id.as_uuid())
                .lock_exclusive()
                .one(&*tx)
                .await?
            else {
                return Err(WriteError::NotFound);
            };
            if delete.exec(&*tx).await?.rows_affected == 0 {
                return Err(version_conflict(&tx, id).await);
            }
            SLUGS.release_all(&*tx, id.as_uuid()).await?;
            let event = NewEvent::deleted(
                PAPER_DELETED,
                "paper",
                id.as_uuid(),
                current.version,
                imprint_domain::time::now(),
            )
            .by(Some(actor));
            self.events.emit(&*tx, &event).await?;
            Ok(())
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Writes an event with the current state of every paper saved since `since` to the
    /// outbox, for consumers that need the past (a new service, a rebuilt read model). Existing
    /// consumers ignore them: their versions are not newer. Returns how many.
    pub async fn republish_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, WriteError> {
        let filter = ListFilter {
            updated_since: Some(since),
            ..ListFilter::default()
        };
        let mut before = None;
        let mut written = 0;
        loop {
            let page = self.list(&filter, before, 500).await?;
            let Some(last) = page.last() else {
                return Ok(written);
            };
            before = Some(last.id.as_uuid());
            let tx = self.db.begin_write().await?;
            let result: Result<(), WriteError> = async {
                for paper in &page {
                    let event = described(current_state(paper), &term_refs(&tx, paper).await?);
                    self.events.emit(&*tx, &event).await?;
                }
                Ok(())
            }
            .await;
            self.events.finish(tx, result).await?;
            written += page.len();
        }
    }

    /// Papers with a scheduled publication or withdrawal due at `now`, at most `limit`, the
    /// oldest papers first (a schedule fires or is cleared when due, so none waits on another
    /// for long).
    pub async fn due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u64,
    ) -> Result<Vec<PaperId>, DbErr> {
        let ids: Vec<Uuid> = paper::Entity::find()
            .select_only()
            .column(paper::Column::Id)
            .filter(
                Condition::any()
                    .add(paper::Column::ScheduledPublishTime.lte(now))
                    .add(paper::Column::ScheduledUnpublishTime.lte(now)),
            )
            .order_by_asc(paper::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(self.db.conn())
            .await?;
        Ok(ids.into_iter().map(PaperId::from_uuid).collect())
    }

    /// One paper by id.
    pub async fn find(&self, id: PaperId) -> Result<Option<Paper>, DbErr> {
        self.find_with(id, None).await
    }

    /// One paper by id, when it is `status` (any status when `None`), like
    /// [`Self::find_by_slug`].
    pub async fn find_with(
        &self,
        id: PaperId,
        status: Option<PaperStatus>,
    ) -> Result<Option<Paper>, DbErr> {
        self.find_one(Lookup::Id(id), status).await
    }

    /// One paper by any slug it has or had, when it is `status` (any status when `None`): a
    /// paper of another status is not read at all, so that it costs what a slug nobody has
    /// does.
    pub async fn find_by_slug(
        &self,
        slug: &str,
        status: Option<PaperStatus>,
    ) -> Result<Option<Paper>, DbErr> {
        self.find_one(Lookup::Slug(slug), status).await
    }

    /// The paper `by` picks, of `status` when given; its SQL rendered once per shape.
    async fn find_one(
        &self,
        by: Lookup<'_>,
        status: Option<PaperStatus>,
    ) -> Result<Option<Paper>, DbErr> {
        let conn = self.db.conn();
        let statement = ONE_PAPER.statement(
            conn.get_database_backend(),
            by.shape(status),
            || by.select(status).into_query(),
            by.values(status),
        );
        self.db
            .read_by_key::<paper::Entity>(statement, 1)
            .await?
            .into_iter()
            .next()
            .map(from_model)
            .transpose()
    }

    /// Up to `limit` papers matching `filter`, newest first, created before `before`.
    pub async fn list(
        &self,
        filter: &ListFilter,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Paper>, DbErr> {
        let mut select = paper::Entity::find();
        if let Some(status) = filter.status {
            select = select.filter(paper::Column::Status.eq(status.as_str()));
        }
        if let Some(t) = filter.publication_type {
            select = select.filter(paper::Column::PublicationType.eq(t.as_str()));
        }
        if let Some(key) = &filter.topic_key {
            select = select.filter(
                paper::Column::Id.in_subquery(
                    Query::select()
                        .column(paper_topic::Column::PaperId)
                        .from(paper_topic::Entity)
                        .and_where(paper_topic::Column::TopicKey.eq(key.as_str()))
                        .to_owned(),
                ),
            );
        }
        if let Some(author) = filter.author_id {
            select = select.filter(
                paper::Column::Id.in_subquery(
                    Query::select()
                        .column(paper_author::Column::PaperId)
                        .from(paper_author::Entity)
                        .and_where(paper_author::Column::AuthorId.eq(author.as_uuid()))
                        .to_owned(),
                ),
            );
        }
        for set in &filter.terms {
            let ids: Vec<Uuid> = set.iter().map(TermId::as_uuid).collect();
            select = select.filter(
                paper::Column::Id.in_subquery(
                    Query::select()
                        .column(paper_term::Column::PaperId)
                        .from(paper_term::Entity)
                        .and_where(paper_term::Column::TermId.is_in(ids))
                        .to_owned(),
                ),
            );
        }
        if let Some(external) = &filter.external_id {
            select = select.filter(paper::Column::ExternalId.eq(external.as_str()));
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(paper::Column::UpdateTime.gte(since));
        }
        if let Some(before) = before {
            select = select.filter(paper::Column::Id.lt(before));
        }
        select
            .order_by_desc(paper::Column::Id)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(from_model)
            .collect()
    }

    /// Up to `limit` revisions of paper `id`, newest first, older than version `before`.
    pub async fn revisions(
        &self,
        id: PaperId,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Revision>, DbErr> {
        REVISIONS
            .page(self.db.conn(), id.as_uuid(), before, limit)
            .await
    }

    /// Revision `version` of paper `id`, if it was saved.
    pub async fn revision_at(&self, id: PaperId, version: i64) -> Result<Option<Revision>, DbErr> {
        REVISIONS.at(self.db.conn(), id.as_uuid(), version).await
    }
}

/// The event of a saved change, carrying the paper's whole state.
fn paper_event(revision: &Revision) -> NewEvent {
    let routing_key = match revision.kind {
        RevisionKind::Created
        | RevisionKind::Updated
        | RevisionKind::Scheduled
        | RevisionKind::Restored => PAPER_UPDATED,
        RevisionKind::Published => PAPER_PUBLISHED,
        RevisionKind::Unpublished => PAPER_UNPUBLISHED,
    };
    state_event(routing_key, &revision.state).by(revision.actor.as_ref())
}

/// The terms `p` carries, described (slug, name, region) as read in the change's transaction,
/// in the paper's order: consumers (webhooks' filters) learn a country's region from the event.
async fn term_refs(tx: &WriteTx, p: &Paper) -> Result<Vec<imprint_proto::papers::TermRef>, DbErr> {
    if p.fields.terms.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<TermId> = p.fields.terms.all().collect();
    let found = terms::read_in(&**tx, &ids).await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|t| t.id == *id))
        .map(imprint_proto::convert::term_ref)
        .collect())
}

/// `event` with `refs` as its paper's terms.
fn described(mut event: NewEvent, refs: &[imprint_proto::papers::TermRef]) -> NewEvent {
    if let Some(Payload::Paper(paper)) = event.event.payload.as_mut() {
        paper.terms = refs.to_vec();
    }
    event
}

/// An event restating a paper's current state, keyed by its status.
fn current_state(p: &Paper) -> NewEvent {
    let routing_key = match p.status {
        PaperStatus::Draft => PAPER_UPDATED,
        PaperStatus::Published => PAPER_PUBLISHED,
        PaperStatus::Archived => PAPER_UNPUBLISHED,
    };
    state_event(routing_key, p)
}

/// An event of `routing_key` carrying the paper's whole state.
fn state_event(routing_key: &str, p: &Paper) -> NewEvent {
    NewEvent::new(
        routing_key,
        p.id.as_uuid(),
        p.version,
        p.update_time,
        Payload::Paper(p.into()),
    )
}

/// The unique indexes of `papers` a write can run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaperKey {
    Slug,
    ExternalId,
}

impl UniqueKey for PaperKey {
    const ALL: &'static [Self] = &[Self::Slug, Self::ExternalId];

    fn index(self) -> UniqueIndex {
        match self {
            Self::Slug => UniqueIndex {
                name: "papers_slug_key",
                table: "papers",
                columns: &["slug"],
            },
            Self::ExternalId => UniqueIndex {
                name: "papers_external_id_key",
                table: "papers",
                columns: &["external_id"],
            },
        }
    }
}

fn slug_error(err: DbErr, p: &Paper) -> WriteError {
    match db::violated::<PaperKey>(&err) {
        Some(PaperKey::ExternalId) => WriteError::Taken {
            what: "external id",
            value: p
                .external_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        },
        Some(PaperKey::Slug) => WriteError::SlugTaken(p.slug.clone()),
        None => WriteError::Db(err),
    }
}

async fn version_conflict(tx: &WriteTx, id: PaperId) -> WriteError {
    match paper::Entity::find_by_id(id.as_uuid()).one(&**tx).await {
        Ok(Some(row)) => WriteError::Stale {
            current: row.version,
        },
        Ok(None) => WriteError::NotFound,
        Err(e) => WriteError::Db(e),
    }
}

/// The topics of `p`, for lists by topic.
async fn write_topics(tx: &WriteTx, p: &Paper) -> Result<(), DbErr> {
    let topics: Vec<paper_topic::ActiveModel> = p
        .fields
        .topics
        .as_slice()
        .iter()
        .map(|t| paper_topic::ActiveModel {
            paper_id: Set(p.id.as_uuid()),
            topic_key: Set(t.key()),
        })
        .collect();
    if !topics.is_empty() {
        paper_topic::Entity::insert_many(topics)
            .exec_without_returning(&**tx)
            .await?;
    }
    Ok(())
}

/// The terms of `p`, for lists by program, region and series, and for merges.
async fn write_terms(tx: &WriteTx, p: &Paper) -> Result<(), DbErr> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<paper_term::ActiveModel> = p
        .fields
        .terms
        .all()
        .filter(|t| seen.insert(*t))
        .map(|t| paper_term::ActiveModel {
            paper_id: Set(p.id.as_uuid()),
            term_id: Set(t.as_uuid()),
        })
        .collect();
    if !rows.is_empty() {
        paper_term::Entity::insert_many(rows)
            .exec_without_returning(&**tx)
            .await?;
    }
    Ok(())
}

/// The credits of `p`, in byline order, for lists by author.
async fn write_credits(tx: &WriteTx, p: &Paper) -> Result<(), DbErr> {
    let authors: Vec<paper_author::ActiveModel> = p
        .fields
        .author_ids
        .as_slice()
        .iter()
        .enumerate()
        .map(|(i, a)| paper_author::ActiveModel {
            paper_id: Set(p.id.as_uuid()),
            author_id: Set(a.as_uuid()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
        })
        .collect();
    for chunk in authors.chunks(300) {
        paper_author::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&**tx)
            .await?;
    }
    Ok(())
}

async fn write_revision(tx: &WriteTx, revision: &Revision) -> Result<(), DbErr> {
    let p = &revision.state;
    REVISIONS
        .write(&**tx, p.id.as_uuid(), p.version, revision)
        .await
}

/// Every column but the id, for inserts and updates.
fn to_active(p: &Paper) -> paper::ActiveModel {
    let f = &p.fields;
    let topics: Vec<&str> = f.topics.as_slice().iter().map(Topic::as_str).collect();
    let authors: Vec<String> = f
        .author_ids
        .as_slice()
        .iter()
        .map(ToString::to_string)
        .collect();
    paper::ActiveModel {
        id: NotSet,
        slug: Set(p.slug.to_string()),
        title: Set(f.title.to_string()),
        summary: Set(f.summary.to_string()),
        body: Set(f.body.to_string()),
        publication_type: Set(f.publication_type.as_str().to_owned()),
        topics: Set(serde_json::to_string(&topics).unwrap_or_else(|_| "[]".to_owned())),
        author_ids: Set(serde_json::to_string(&authors).unwrap_or_else(|_| "[]".to_owned())),
        funding_note: Set(f.funding_note.to_string()),
        status: Set(p.status.as_str().to_owned()),
        publish_time: Set(p.publish_time),
        version: Set(p.version),
        create_time: Set(p.create_time),
        update_time: Set(p.update_time),
        external_id: Set(p.external_id.as_ref().map(ToString::to_string)),
        scheduled_publish_time: Set(p.schedule.publish_at),
        scheduled_unpublish_time: Set(p.schedule.unpublish_at),
        schedule_failure: Set(p
            .schedule
            .failure
            .as_ref()
            .and_then(|f| serde_json::to_string(f).ok())),
        terms: Set(serde_json::to_string(&f.terms).unwrap_or_else(|_| "{}".to_owned())),
        files: Set(serde_json::to_string(&f.files).unwrap_or_else(|_| "{}".to_owned())),
    }
}

fn from_model(m: paper::Model) -> Result<Paper, DbErr> {
    let corrupt =
        |what: &str, detail: String| DbErr::Custom(format!("papers.{what} of {}: {detail}", m.id));
    let topics: Vec<String> =
        serde_json::from_str(&m.topics).map_err(|e| corrupt("topics", e.to_string()))?;
    let topics = Topics::parse(&topics).map_err(|e| corrupt("topics", e.to_string()))?;
    let author_ids: Vec<String> =
        serde_json::from_str(&m.author_ids).map_err(|e| corrupt("author_ids", e.to_string()))?;
    let author_ids =
        AuthorIds::parse(&author_ids).map_err(|e| corrupt("author_ids", e.to_string()))?;
    let publication_type = PublicationType::from_str_opt(&m.publication_type)
        .ok_or_else(|| corrupt("publication_type", m.publication_type.clone()))?;
    let status =
        PaperStatus::from_str_opt(&m.status).ok_or_else(|| corrupt("status", m.status.clone()))?;
    let terms: PaperTerms =
        serde_json::from_str(&m.terms).map_err(|e| corrupt("terms", e.to_string()))?;
    let files: PaperFiles =
        serde_json::from_str(&m.files).map_err(|e| corrupt("files", e.to_string()))?;
    Ok(Paper {
        id: PaperId::from_uuid(m.id),
        slug: Slug::from_trusted(m.slug),
        fields: PaperFields {
            title: Title::from_trusted(m.title),
            summary: Summary::from_trusted(m.summary),
            body: Body::from_trusted(m.body),
            publication_type,
            topics,
            author_ids,
            funding_note: FundingNote::from_trusted(m.funding_note),
            terms,
            files,
        },
        status,
        publish_time: m.publish_time,
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
        external_id: m.external_id.map(ExternalId::from_trusted),
        schedule: Schedule {
            publish_at: m.scheduled_publish_time,
            unpublish_at: m.scheduled_unpublish_time,
            failure: m
                .schedule_failure
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("schedule_failure", e.to_string()))?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, StatementBuilder};

    #[test]
    fn rendered_reads_bind_what_sea_query_binds() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for by in [Lookup::Id(PaperId::generate()), Lookup::Slug("a-slug")] {
                for status in [None, Some(PaperStatus::Published)] {
                    let expected =
                        StatementBuilder::build(&by.select(status).into_query(), &backend);
                    // Rendered the first time, from the cache the second.
                    for _ in 0..2 {
                        let got = ONE_PAPER.statement(
                            backend,
                            by.shape(status),
                            || by.select(status).into_query(),
                            by.values(status),
                        );
                        assert_eq!(got, expected);
                    }
                }
            }
        }
    }
}
