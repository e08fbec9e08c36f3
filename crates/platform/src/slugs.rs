//! Slug registries. A service keeps every slug any of its resources ever had in a table of its
//! own (`slug` primary key, owner id), so a renamed resource keeps answering at its old URLs and
//! no other resource can take them over. The same queries serve papers and authors.

use sea_orm::sea_query::{Alias, Expr, OnConflict, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, StatementBuilder};
use uuid::Uuid;

use imprint_domain::Slug;

use crate::ServiceError;
use crate::db::is_unique_violation;

/// How often a create retries when a concurrent create took its derived slug meanwhile.
const SLUG_RETRIES: usize = 5;

/// Why a write to a service's store did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another resource has or had this slug.
    #[error("slug '{0}' is taken")]
    SlugTaken(Slug),
    /// Another resource holds this unique value (an ORCID iD, say).
    #[error("{what} '{value}' is taken")]
    Taken {
        /// What kind of value: "ORCID iD".
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The stored version is not the one the change was based on.
    #[error("stale version; current is {current}")]
    Stale {
        /// The stored version.
        current: i64,
    },
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl WriteError {
    /// The use-case error for a write to `resource` (`paper`) `id`.
    pub fn for_resource(self, resource: &'static str, id: &dyn std::fmt::Display) -> ServiceError {
        match self {
            Self::SlugTaken(slug) => {
                ServiceError::AlreadyExists(format!("slug '{slug}' is taken by another {resource}"))
            }
            Self::Taken { what, value } => ServiceError::AlreadyExists(format!(
                "{what} {value} already belongs to another {resource}"
            )),
            Self::Stale { current } => ServiceError::Aborted(format!(
                "{resource} {id} was changed by someone else meanwhile (now version {current}); reload it and apply your change again"
            )),
            Self::NotFound => ServiceError::not_found(resource, id.to_string()),
            Self::Db(e) => e.into(),
        }
    }
}

/// Stores a new resource under `explicit` or, when none was chosen, under the first free
/// variant of `base` (`title`, `title-2`, …), trying the next free one when a concurrent create
/// took it first. `insert` gets the slug to use.
pub async fn with_free_slug<T, Free, Insert>(
    explicit: Option<Slug>,
    base: &Slug,
    first_free: impl Fn(Slug) -> Free,
    insert: impl Fn(Slug) -> Insert,
) -> Result<T, WriteError>
where
    Free: Future<Output = Result<Slug, DbErr>>,
    Insert: Future<Output = Result<T, WriteError>>,
{
    if let Some(slug) = explicit {
        return insert(slug).await;
    }
    let mut last = WriteError::SlugTaken(base.clone());
    for _ in 0..SLUG_RETRIES {
        match insert(first_free(base.clone()).await?).await {
            Err(e @ WriteError::SlugTaken(_)) => last = e,
            done => return done,
        }
    }
    Err(last)
}

/// Most numbered variants tried for a derived slug before giving up (`title-2` … `title-N`).
const MAX_SUFFIX: u32 = 10_000;

/// One service's slug table.
#[derive(Debug, Clone, Copy)]
pub struct SlugTable {
    /// Table name: `paper_slugs`.
    pub table: &'static str,
    /// Owner column: `paper_id`.
    pub owner: &'static str,
}

impl SlugTable {
    /// A sub-select of the owner of `slug`, to find a resource by any of its slugs in one query.
    pub fn owner_query(&self, slug: &str) -> SelectStatement {
        Query::select()
            .column(Alias::new(self.owner))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new("slug")).eq(slug))
            .to_owned()
    }

    /// The owner of `slug`, if any resource has or had it.
    pub async fn owner_of<C: ConnectionTrait>(
        &self,
        db: &C,
        slug: &str,
    ) -> Result<Option<Uuid>, DbErr> {
        let stmt = StatementBuilder::build(&self.owner_query(slug), &db.get_database_backend());
        match db.query_one(stmt).await? {
            Some(row) => Ok(Some(row.try_get_by_index::<Uuid>(0)?)),
            None => Ok(None),
        }
    }

    /// The first of `base`, `base-2`, `base-3`, … that no resource has or had.
    pub async fn first_free<C: ConnectionTrait>(&self, db: &C, base: &Slug) -> Result<Slug, DbErr> {
        let prefix = format!("{}-", base.as_str());
        let stmt = Query::select()
            .column(Alias::new("slug"))
            .from(Alias::new(self.table))
            .cond_where(
                Expr::col(Alias::new("slug"))
                    .eq(base.as_str())
                    .or(Expr::col(Alias::new("slug")).like(format!("{prefix}%"))),
            )
            .to_owned();
        let rows = db
            .query_all(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        let mut taken = std::collections::HashSet::new();
        for row in rows {
            let slug: String = row.try_get_by_index(0)?;
            if slug == base.as_str() {
                taken.insert(1);
            } else if let Some(n) = slug
                .strip_prefix(&prefix)
                .and_then(|s| s.parse::<u32>().ok())
            {
                taken.insert(n);
            }
        }
        (1..=MAX_SUFFIX)
            .find(|n| !taken.contains(n))
            .map(|n| base.with_suffix(n))
            .ok_or_else(|| DbErr::Custom(format!("no free slug left for '{base}'")))
    }

    /// Records `slug` for `owner` inside a write; a slug another resource has or had is
    /// [`WriteError::SlugTaken`].
    pub async fn claim<C: ConnectionTrait>(
        &self,
        db: &C,
        slug: &Slug,
        owner: Uuid,
    ) -> Result<(), WriteError> {
        match self.reserve(db, slug, owner).await {
            Ok(()) => Ok(()),
            Err(DbErr::RecordNotInserted) => Err(WriteError::SlugTaken(slug.clone())),
            Err(e) if is_unique_violation(&e) => Err(WriteError::SlugTaken(slug.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// Records `slug` for `owner`. Re-recording an owner's own slug is a no-op; a slug owned by
    /// another resource fails with `RecordNotInserted`.
    async fn reserve<C: ConnectionTrait>(
        &self,
        db: &C,
        slug: &Slug,
        owner: Uuid,
    ) -> Result<(), DbErr> {
        if self.owner_of(db, slug.as_str()).await? == Some(owner) {
            return Ok(());
        }
        let mut stmt = Query::insert();
        stmt.into_table(Alias::new(self.table))
            .columns([Alias::new("slug"), Alias::new(self.owner)])
            .on_conflict(
                OnConflict::column(Alias::new("slug"))
                    .do_nothing()
                    .to_owned(),
            );
        stmt.values([slug.as_str().into(), owner.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let result = db
            .execute(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        if result.rows_affected() == 0 {
            return Err(DbErr::RecordNotInserted);
        }
        Ok(())
    }

    /// Forgets every slug of `owner` (when it is deleted), freeing them for new resources.
    pub async fn release_all<C: ConnectionTrait>(&self, db: &C, owner: Uuid) -> Result<(), DbErr> {
        let stmt = Query::delete()
            .from_table(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.owner)).eq(owner))
            .to_owned();
        db.execute(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        Ok(())
    }
}
