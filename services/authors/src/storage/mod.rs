//! Authors storage: the `authors` table and the `author_slugs` registry, with optimistic
//! concurrency (an update names the version it read; a stale one writes nothing).

mod credits;
mod entity;

use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use imprint_domain::text::{Bio, PersonName, PositionText, fold};
use imprint_domain::{
    Actor, Author, AuthorField, AuthorFields, AuthorId, HttpUrl, Orcid, Position, RevisionKind,
    Slug,
};
use imprint_events::envelope::{AUTHOR_CREATED, AUTHOR_DELETED, AUTHOR_UPDATED};
use imprint_events::{Emitter, NewEvent};
use imprint_platform::Database;
use imprint_platform::db::{self, UniqueIndex, UniqueKey, WriteTx};
use imprint_platform::revisions::RevisionTable;
use imprint_platform::slugs::{SlugChoice, SlugTable};
use imprint_platform::store::WriteError;
use imprint_proto::events::event::Payload;

use entity::{ActiveModel, Column, Entity, Model};

/// Every slug any author ever had.
pub const SLUGS: SlugTable = SlugTable {
    table: "author_slugs",
    owner: "author_id",
};

/// Every saved version of every author.
pub const REVISIONS: RevisionTable = RevisionTable {
    table: "author_revisions",
    owner: "author_id",
};

/// An author as one change saved it, with who made the change and the fields it touched.
pub type Revision = imprint_domain::Revision<Author, Vec<AuthorField>>;

/// A revision of `author` by `actor`, saved at its update time.
pub fn revision(
    kind: RevisionKind,
    changed: Vec<AuthorField>,
    author: &Author,
    actor: &Actor,
) -> Revision {
    Revision {
        kind,
        changed,
        time: author.update_time,
        state: author.clone(),
        actor: Some(actor.clone()),
        restored_from: None,
    }
}

/// The sort key of the authors list: folded name, then id.
pub type ListKey = (String, Uuid);

/// Reads and writes authors.
#[derive(Debug, Clone)]
pub struct AuthorStore {
    /// This service's own database.
    db: Database,
    /// Where each change's event is written, in the change's transaction.
    events: Emitter,
}

#[derive(Serialize, Deserialize)]
struct StoredPosition {
    title: String,
    organization: String,
}

impl AuthorStore {
    /// A store over `db`, whose migrations have run, writing events through `events`.
    pub fn new(db: Database, events: Emitter) -> Self {
        Self { db, events }
    }

    /// The author holding `orcid`, if any.
    pub async fn orcid_owner(&self, orcid: &Orcid) -> Result<Option<AuthorId>, DbErr> {
        Ok(Entity::find()
            .filter(Column::Orcid.eq(orcid.as_str()))
            .one(self.db.conn())
            .await?
            .map(|m| AuthorId::from_uuid(m.id)))
    }

    /// Stores a new author under the slug `choice` resolves to, which it sets.
    pub async fn insert(
        &self,
        author: &mut Author,
        choice: &SlugChoice,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let mut batch = [(author.clone(), choice.clone())];
        self.insert_batch(&mut batch, actor).await?;
        let [(stored, _)] = batch;
        *author = stored;
        Ok(())
    }

    /// Stores new authors in one transaction, all or none, each under the slug its choice
    /// resolves to (which it sets), with their events.
    pub async fn insert_batch(
        &self,
        authors: &mut [(Author, SlugChoice)],
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            for (author, choice) in authors.iter_mut() {
                author.slug = SLUGS
                    .claim_choice(&*tx, choice, author.id.as_uuid())
                    .await?;
                let mut row = to_active(author);
                row.id = Set(author.id.as_uuid());
                Entity::insert(row)
                    .exec_without_returning(&*tx)
                    .await
                    .map_err(|e| unique_error(e, author))?;
                let created = revision(RevisionKind::Created, Vec::new(), author, actor);
                REVISIONS
                    .write(&*tx, author.id.as_uuid(), author.version, &created)
                    .await?;
                self.events
                    .emit(&*tx, &author_event(AUTHOR_CREATED, author).by(Some(actor)))
                    .await?;
            }
            Ok(())
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// One author by id.
    pub async fn find(&self, id: AuthorId) -> Result<Option<Author>, DbErr> {
        Entity::find_by_id(id.as_uuid())
            .one(self.db.conn())
            .await?
            .map(from_model)
            .transpose()
    }

    /// One author by any slug it has or had.
    pub async fn find_by_slug(&self, slug: &str) -> Result<Option<Author>, DbErr> {
        Entity::find()
            .filter(SLUGS.owned(Column::Id, slug))
            .one(self.db.conn())
            .await?
            .map(from_model)
            .transpose()
    }

    /// The authors among `ids` that exist, in no particular order.
    pub async fn find_many(&self, ids: &[AuthorId]) -> Result<Vec<Author>, DbErr> {
        let mut out = Vec::with_capacity(ids.len());
        let conn = self.db.conn();
        for chunk in ids.chunks(500) {
            // A page asks for its byline: a handful of shapes, each rendered once.
            let statement = MANY_AUTHORS.statement(
                conn.get_database_backend(),
                chunk.len(),
                || authors_in(chunk).into_query(),
                chunk.iter().map(|id| id.as_uuid().into()).collect(),
            );
            let rows = self
                .db
                .read_by_key::<Entity>(statement, chunk.len())
                .await?;
            for row in rows {
                out.push(from_model(row)?);
            }
        }
        Ok(out)
    }

    /// Up to `limit` authors ordered by folded name then id, after `after`, whose folded name
    /// contains `query` (already folded).
    pub async fn list(
        &self,
        query: &str,
        after: Option<&ListKey>,
        limit: u64,
    ) -> Result<Vec<Author>, DbErr> {
        let mut select = Entity::find();
        if !query.is_empty() {
            let pattern = format!("%{}%", escape_like(query));
            select = select.filter(Column::NameKey.like(LikeExpr::new(pattern).escape('\\')));
        }
        if let Some((name_key, id)) = after {
            select = select.filter(
                Condition::any()
                    .add(Column::NameKey.gt(name_key.as_str()))
                    .add(
                        Condition::all()
                            .add(Column::NameKey.eq(name_key.as_str()))
                            .add(Column::Id.gt(*id)),
                    ),
            );
        }
        select
            .order_by_asc(Column::NameKey)
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(from_model)
            .collect()
    }

    /// Writes an `author.updated` event with the current state of every author saved since
    /// `since` to the outbox (see the papers service's twin). Returns how many.
    pub async fn republish_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, WriteError> {
        let mut after: Option<Uuid> = None;
        let mut written = 0;
        loop {
            let mut select = Entity::find().filter(Column::UpdateTime.gte(since));
            if let Some(after) = after {
                select = select.filter(Column::Id.gt(after));
            }
            let page: Vec<Author> = select
                .order_by_asc(Column::Id)
                .limit(500)
                .all(self.db.conn())
                .await?
                .into_iter()
                .map(from_model)
                .collect::<Result<_, _>>()?;
            let Some(last) = page.last() else {
                return Ok(written);
            };
            after = Some(last.id.as_uuid());
            let tx = self.db.begin_write().await?;
            let result: Result<(), WriteError> = async {
                for author in &page {
                    self.events
                        .emit(&*tx, &author_event(AUTHOR_UPDATED, author))
                        .await?;
                }
                Ok(())
            }
            .await;
            self.events.finish(tx, result).await?;
            written += page.len();
        }
    }

    /// Saves the author `saved` holds (its version already incremented) with that revision,
    /// if the stored version is still `expected_version`. A new slug is reserved; the old
    /// ones keep resolving.
    pub async fn update(&self, saved: &Revision, expected_version: i64) -> Result<(), WriteError> {
        let author = &saved.state;
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            SLUGS.claim(&*tx, &author.slug, author.id.as_uuid()).await?;
            let result = Entity::update_many()
                .set(to_active(author))
                .filter(Column::Id.eq(author.id.as_uuid()))
                .filter(Column::Version.eq(expected_version))
                .exec(&*tx)
                .await
                .map_err(|e| unique_error(e, author))?;
            if result.rows_affected == 0 {
                return Err(version_conflict(&tx, author.id).await);
            }
            REVISIONS
                .write(&*tx, author.id.as_uuid(), author.version, saved)
                .await?;
            self.events
                .emit(
                    &*tx,
                    &author_event(AUTHOR_UPDATED, author).by(saved.actor.as_ref()),
                )
                .await?;
            Ok(())
        }
        .await;
        self.events.finish(tx, result).await
    }

    /// Deletes an author and frees its slugs, if its version is still `expected_version`
    /// (when given).
    pub async fn delete(
        &self,
        id: AuthorId,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<(), WriteError> {
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            let mut delete = Entity::delete_many().filter(Column::Id.eq(id.as_uuid()));
            if let Some(v) = expected_version {
                delete = delete.filter(Column::Version.eq(v));
            }
            // Locked (PostgreSQL), so that no update slips in between and the deletion event
            // gets a version above every other event of the author.
            let Some(current) = Entity::find_by_id(id.as_uuid())
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
                AUTHOR_DELETED,
                "author",
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
}

impl AuthorStore {
    /// Up to `limit` revisions of author `id`, newest first, older than version `before`.
    pub async fn revisions(
        &self,
        id: AuthorId,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Revision>, DbErr> {
        REVISIONS
            .page(self.db.conn(), id.as_uuid(), before, limit)
            .await
    }

    /// Revision `version` of author `id`, if it was saved.
    pub async fn revision_at(&self, id: AuthorId, version: i64) -> Result<Option<Revision>, DbErr> {
        REVISIONS.at(self.db.conn(), id.as_uuid(), version).await
    }
}

/// The event of an author's change, carrying its whole state.
fn author_event(routing_key: &str, author: &Author) -> NewEvent {
    NewEvent::new(
        routing_key,
        author.id.as_uuid(),
        author.version,
        author.update_time,
        Payload::Author(author.into()),
    )
}

/// Why a conditional write touched no row: the row is gone, or its version moved on.
async fn version_conflict(tx: &WriteTx, id: AuthorId) -> WriteError {
    match Entity::find_by_id(id.as_uuid()).one(&**tx).await {
        Ok(Some(row)) => WriteError::Stale {
            current: row.version,
        },
        Ok(None) => WriteError::NotFound,
        Err(e) => WriteError::Db(e),
    }
}

/// The unique indexes of `authors` a write can run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthorKey {
    Slug,
    Orcid,
}

impl UniqueKey for AuthorKey {
    const ALL: &'static [Self] = &[Self::Slug, Self::Orcid];

    fn index(self) -> UniqueIndex {
        match self {
            Self::Slug => UniqueIndex {
                name: "authors_slug_key",
                table: "authors",
                columns: &["slug"],
            },
            Self::Orcid => UniqueIndex {
                name: "authors_orcid_key",
                table: "authors",
                columns: &["orcid"],
            },
        }
    }
}

fn unique_error(err: DbErr, author: &Author) -> WriteError {
    match db::violated::<AuthorKey>(&err) {
        Some(AuthorKey::Orcid) => WriteError::Taken {
            what: "ORCID iD",
            value: author
                .fields
                .orcid
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        },
        Some(AuthorKey::Slug) => WriteError::SlugTaken(author.slug.clone()),
        None => WriteError::Db(err),
    }
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Every column but the id, for inserts and updates.
fn to_active(author: &Author) -> ActiveModel {
    let f = &author.fields;
    let positions: Vec<StoredPosition> = f
        .positions
        .iter()
        .map(|p| StoredPosition {
            title: p.title.to_string(),
            organization: p.organization.to_string(),
        })
        .collect();
    ActiveModel {
        id: NotSet,
        slug: Set(author.slug.to_string()),
        name: Set(f.name.to_string()),
        name_key: Set(fold(f.name.as_str())),
        bio: Set(f.bio.to_string()),
        positions: Set(serde_json::to_string(&positions).unwrap_or_else(|_| "[]".to_owned())),
        orcid: Set(f.orcid.as_ref().map(ToString::to_string)),
        photo_url: Set(f.photo_url.as_ref().map(ToString::to_string)),
        photo: Set(f.photo.as_ref().and_then(|p| serde_json::to_string(p).ok())),
        version: Set(author.version),
        create_time: Set(author.create_time),
        update_time: Set(author.update_time),
        // Derived from paper events; written only by the credits read model.
        paper_count: NotSet,
    }
}

fn from_model(m: Model) -> Result<Author, DbErr> {
    let positions: Vec<StoredPosition> = serde_json::from_str(&m.positions)
        .map_err(|e| DbErr::Custom(format!("authors.positions of {}: {e}", m.id)))?;
    let photo = m
        .photo
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| DbErr::Custom(format!("authors.photo of {}: {e}", m.id)))?;
    Ok(Author {
        id: AuthorId::from_uuid(m.id),
        slug: Slug::from_trusted(m.slug),
        fields: AuthorFields {
            name: PersonName::from_trusted(m.name),
            bio: Bio::from_trusted(m.bio),
            positions: positions
                .into_iter()
                .map(|p| Position {
                    title: PositionText::from_trusted(p.title),
                    organization: PositionText::from_trusted(p.organization),
                })
                .collect(),
            orcid: m.orcid.map(Orcid::from_trusted),
            photo_url: m.photo_url.map(HttpUrl::from_trusted),
            photo,
        },
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
        paper_count: m.paper_count,
    })
}

/// The rendered SQL of [`authors_in`], by the number of ids.
static MANY_AUTHORS: std::sync::LazyLock<imprint_platform::db::RenderedSql> =
    std::sync::LazyLock::new(imprint_platform::db::RenderedSql::new);

/// The authors whose ids are `ids`.
fn authors_in(ids: &[AuthorId]) -> sea_orm::Select<Entity> {
    Entity::find().filter(Column::Id.is_in(ids.iter().map(AuthorId::as_uuid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, StatementBuilder};

    #[test]
    fn rendered_reads_bind_what_sea_query_binds() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for n in [1, 3, 3] {
                let ids: Vec<AuthorId> = (0..n).map(|_| AuthorId::generate()).collect();
                let expected = StatementBuilder::build(&authors_in(&ids).into_query(), &backend);
                let got = MANY_AUTHORS.statement(
                    backend,
                    ids.len(),
                    || authors_in(&ids).into_query(),
                    ids.iter().map(|id| id.as_uuid().into()).collect(),
                );
                assert_eq!(got, expected);
            }
        }
    }
}
