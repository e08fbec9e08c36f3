//! Taxonomy terms: their rows, their slug registries (one per vocabulary) and their events.
//! Every saved change of a term writes its row and its `term.*` event in one transaction,
//! conditional on the version the change was based on; a merge writes the source, the target
//! and the countries that move in one.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use imprint_domain::{Actor, Slug, Term, TermId, TermName, Vocabulary};
use imprint_events::envelope::{TERM_CREATED, TERM_UPDATED};
use imprint_events::{Emitter, NewEvent};
use imprint_platform::Database;
use imprint_platform::db::WriteTx;
use imprint_platform::slugs::{SlugChoice, SlugTable};
use imprint_platform::store::WriteError;
use imprint_proto::convert::term_to_proto;
use imprint_proto::events::event::Payload;

use super::TERM_SLUGS;
use super::entity::term;

/// The slug registry of `vocabulary`.
pub fn term_slugs(vocabulary: Vocabulary) -> &'static SlugTable {
    match vocabulary {
        Vocabulary::Program => &TERM_SLUGS[0],
        Vocabulary::Region => &TERM_SLUGS[1],
        Vocabulary::Series => &TERM_SLUGS[2],
    }
}

/// What a list of terms shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TermFilter {
    /// Only this vocabulary.
    pub vocabulary: Option<Vocabulary>,
    /// Retired terms too.
    pub show_retired: bool,
    /// Only the countries under this region.
    pub parent: Option<TermId>,
}

/// Reads and writes terms.
#[derive(Debug, Clone)]
pub struct TermStore {
    /// The papers service's database.
    db: Database,
    /// Where each change's event is written, in the change's transaction.
    events: Emitter,
}

impl TermStore {
    /// A store over `db`, whose migrations have run, writing events through `events`.
    pub fn new(db: Database, events: Emitter) -> Self {
        Self { db, events }
    }

    /// Stores a new term under the slug `choice` resolves to, which it sets.
    pub async fn insert(
        &self,
        term: &mut Term,
        choice: &SlugChoice,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            let slugs = term_slugs(term.vocabulary);
            term.slug = slugs.claim_choice(&*tx, choice, term.id.as_uuid()).await?;
            term::Entity::insert(to_active(term))
                .exec_without_returning(&*tx)
                .await?;
            self.emit(&tx, TERM_CREATED, term, actor).await?;
            Ok(())
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Saves a changed term (its version already incremented), claiming its slug, if the
    /// stored version is still `expected_version`.
    pub async fn save(
        &self,
        term: &Term,
        expected_version: i64,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            self.write(&tx, term, expected_version).await?;
            self.emit(&tx, TERM_UPDATED, term, actor).await
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Merges `source` into `target` (both as now stored, versions incremented by the
    /// caller, the source marked merged): the source's slugs become the target's, its
    /// countries move under the target, and each of the three kinds of term gets its event.
    pub async fn merge(
        &self,
        source: &Term,
        target: &Term,
        now: chrono::DateTime<chrono::Utc>,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            self.write(&tx, source, source.version - 1).await?;
            self.write(&tx, target, target.version - 1).await?;
            term_slugs(source.vocabulary)
                .transfer(&*tx, source.id.as_uuid(), target.id.as_uuid())
                .await?;
            // Terms merged into the source earlier now lead to the target directly, so that
            // the target's filters find their papers too.
            for earlier in merged_into(&*tx, source.id).await? {
                let repointed = Term {
                    merged_into: Some(target.id),
                    version: earlier.version + 1,
                    update_time: now,
                    ..earlier
                };
                self.write(&tx, &repointed, earlier.version).await?;
                self.emit(&tx, TERM_UPDATED, &repointed, actor).await?;
            }
            for child in children(&*tx, source.id).await? {
                let moved = Term {
                    parent: Some(target.id),
                    version: child.version + 1,
                    update_time: now,
                    ..child
                };
                self.write(&tx, &moved, child.version).await?;
                self.emit(&tx, TERM_UPDATED, &moved, actor).await?;
            }
            self.emit(&tx, TERM_UPDATED, source, actor).await?;
            self.emit(&tx, TERM_UPDATED, target, actor).await
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Updates the row of `term` if it is still at `expected_version`, claiming its slug (unless
    /// it was merged away).
    async fn write(
        &self,
        tx: &WriteTx,
        term: &Term,
        expected_version: i64,
    ) -> Result<(), WriteError> {
        // A merged term's slugs are its target's: it claims none.
        if term.merged_into.is_none() {
            term_slugs(term.vocabulary)
                .claim(&**tx, &term.slug, term.id.as_uuid())
                .await?;
        }
        let updated = term::Entity::update_many()
            .set(to_active(term))
            .filter(term::Column::Id.eq(term.id.as_uuid()))
            .filter(term::Column::Version.eq(expected_version))
            .exec(&**tx)
            .await?;
        if updated.rows_affected == 0 {
            return Err(
                match term::Entity::find_by_id(term.id.as_uuid())
                    .one(&**tx)
                    .await?
                {
                    Some(row) => WriteError::Stale {
                        current: row.version,
                    },
                    None => WriteError::NotFound,
                },
            );
        }
        Ok(())
    }

    /// Writes the event of `term`'s change, carrying its state and every slug it answers to.
    async fn emit(
        &self,
        tx: &WriteTx,
        key: &str,
        term: &Term,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let former = self.former_slugs_in(&**tx, term).await?;
        let event = NewEvent::new(
            key,
            term.id.as_uuid(),
            term.version,
            term.update_time,
            Payload::Term(term_to_proto(term, former)),
        )
        .by(Some(actor));
        self.events.emit(&**tx, &event).await?;
        Ok(())
    }

    /// The term with id `id`.
    pub async fn find(&self, id: TermId) -> Result<Option<Term>, DbErr> {
        term::Entity::find_by_id(id.as_uuid())
            .one(self.db.conn())
            .await?
            .map(from_model)
            .transpose()
    }

    /// The terms with these ids that exist, in no particular order.
    pub async fn find_many(&self, ids: &[TermId]) -> Result<Vec<Term>, DbErr> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // A paper's terms, read for every paper served.
        let statement = sea_orm::QueryTrait::build(&terms_in(ids), self.db.backend());
        self.db
            .read_by_key::<term::Entity>(statement, ids.len())
            .await?
            .into_iter()
            .map(from_model)
            .collect()
    }

    /// The term of `vocabulary` that has or had `slug` (after a merge: the target).
    pub async fn find_by_slug(
        &self,
        vocabulary: Vocabulary,
        slug: &str,
    ) -> Result<Option<Term>, DbErr> {
        match term_slugs(vocabulary)
            .owner_of(self.db.conn(), slug)
            .await?
        {
            Some(owner) => self.find(TermId::from_uuid(owner)).await,
            None => Ok(None),
        }
    }

    /// The slugs other than its current one that resolve to `term`.
    pub async fn former_slugs(&self, term: &Term) -> Result<Vec<String>, DbErr> {
        self.former_slugs_in(self.db.conn(), term).await
    }

    async fn former_slugs_in<C: ConnectionTrait>(
        &self,
        db: &C,
        term: &Term,
    ) -> Result<Vec<String>, DbErr> {
        let mut slugs = term_slugs(term.vocabulary)
            .of_owner(db, term.id.as_uuid())
            .await?;
        slugs.retain(|s| s != term.slug.as_str());
        Ok(slugs)
    }

    /// Whether `id` holds countries.
    pub async fn has_children(&self, id: TermId) -> Result<bool, DbErr> {
        Ok(term::Entity::find()
            .filter(term::Column::ParentId.eq(id.as_uuid()))
            .one(self.db.conn())
            .await?
            .is_some())
    }

    /// The terms a filter by `id` matches: itself, its countries, and the terms merged into
    /// it (whose papers may still be moving).
    pub async fn family(&self, id: TermId) -> Result<Vec<TermId>, DbErr> {
        let ids: Vec<Uuid> = term::Entity::find()
            .select_only()
            .column(term::Column::Id)
            .filter(
                Condition::any()
                    .add(term::Column::Id.eq(id.as_uuid()))
                    .add(term::Column::ParentId.eq(id.as_uuid()))
                    .add(term::Column::MergedInto.eq(id.as_uuid())),
            )
            .into_tuple()
            .all(self.db.conn())
            .await?;
        Ok(ids.into_iter().map(TermId::from_uuid).collect())
    }

    /// Up to `limit` terms matching `filter`, oldest first, created after `after`. Merged
    /// terms are never listed.
    pub async fn list(
        &self,
        filter: TermFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Term>, DbErr> {
        let mut select = term::Entity::find().filter(term::Column::MergedInto.is_null());
        if let Some(v) = filter.vocabulary {
            select = select.filter(term::Column::Vocabulary.eq(v.as_str()));
        }
        if !filter.show_retired {
            select = select.filter(term::Column::Retired.eq(false));
        }
        if let Some(parent) = filter.parent {
            select = select.filter(term::Column::ParentId.eq(parent.as_uuid()));
        }
        if let Some(after) = after {
            select = select.filter(term::Column::Id.gt(after));
        }
        select
            .order_by_asc(term::Column::Id)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(from_model)
            .collect()
    }
}

/// The terms with these ids, read through `db` (a write's transaction), in no particular order.
pub(super) async fn read_in<C: ConnectionTrait>(
    db: &C,
    ids: &[TermId],
) -> Result<Vec<Term>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    terms_in(ids)
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

/// The select of the terms with these ids.
fn terms_in(ids: &[TermId]) -> sea_orm::Select<term::Entity> {
    term::Entity::find().filter(term::Column::Id.is_in(ids.iter().map(TermId::as_uuid)))
}

/// The terms merged into `id`.
async fn merged_into<C: ConnectionTrait>(db: &C, id: TermId) -> Result<Vec<Term>, DbErr> {
    term::Entity::find()
        .filter(term::Column::MergedInto.eq(id.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

/// The countries under `id`.
async fn children<C: ConnectionTrait>(db: &C, id: TermId) -> Result<Vec<Term>, DbErr> {
    term::Entity::find()
        .filter(term::Column::ParentId.eq(id.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

fn to_active(t: &Term) -> term::ActiveModel {
    term::ActiveModel {
        id: Set(t.id.as_uuid()),
        vocabulary: Set(t.vocabulary.as_str().to_owned()),
        slug: Set(t.slug.to_string()),
        name: Set(t.name.to_string()),
        parent_id: Set(t.parent.map(|p| p.as_uuid())),
        retired: Set(t.retired),
        merged_into: Set(t.merged_into.map(|p| p.as_uuid())),
        version: Set(t.version),
        create_time: Set(t.create_time),
        update_time: Set(t.update_time),
    }
}

fn from_model(m: term::Model) -> Result<Term, DbErr> {
    let vocabulary = Vocabulary::from_str_opt(&m.vocabulary).ok_or_else(|| {
        DbErr::Custom(format!(
            "terms.vocabulary of {}: '{}' is no vocabulary",
            m.id, m.vocabulary
        ))
    })?;
    Ok(Term {
        id: TermId::from_uuid(m.id),
        vocabulary,
        slug: Slug::from_trusted(m.slug),
        name: TermName::from_trusted(m.name),
        parent: m.parent_id.map(TermId::from_uuid),
        retired: m.retired,
        merged_into: m.merged_into.map(TermId::from_uuid),
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
    })
}
