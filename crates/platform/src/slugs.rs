//! Slug registries. A service keeps every slug any of its resources ever had in a table of its
//! own (`slug` primary key, owner id), so a renamed resource keeps answering at its old URLs and
//! no other resource can take them over. The same queries serve papers and authors.

use sea_orm::sea_query::{Alias, Expr, OnConflict, Query, SelectStatement, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, DbErr, Statement, StatementBuilder};
use uuid::Uuid;

use imprint_domain::Slug;

use crate::db::is_unique_violation;
use crate::store::WriteError;

/// Numbered variants tried for a derived slug (`title`, `title-2` … `title-20`) before a random
/// suffix is used.
const NUMBERED_CANDIDATES: u32 = 20;

/// The slug a new resource asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlugChoice {
    /// This slug, chosen by the client; taken means ALREADY_EXISTS.
    Exact(Slug),
    /// The first free one of `base`, `base-2`, …, derived from the title or name.
    FreeFrom(Slug),
}

impl SlugChoice {
    /// The client's slug when it chose one, else a free variant of `base`.
    pub fn new(explicit: Option<Slug>, base: Slug) -> Self {
        explicit.map_or(Self::FreeFrom(base), Self::Exact)
    }
}

/// One service's slug table.
#[derive(Debug, Clone, Copy)]
pub struct SlugTable {
    /// Table name: `paper_slugs`.
    pub table: &'static str,
    /// Owner column: `paper_id`.
    pub owner: &'static str,
}

impl SlugTable {
    /// A select of the owner of `slug`: [`Self::owner_of`] runs it, [`Self::owned`] nests it.
    fn owner_query(&self, slug: &str) -> SelectStatement {
        Query::select()
            .column(Alias::new(self.owner))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new("slug")).eq(slug))
            .to_owned()
    }

    /// The condition that `id`, a resource's id column, is the owner of `slug`: `id = (the
    /// owner's sub-select)`. A scalar sub-select, not `IN`, because a slug has at most one
    /// owner and SQLite builds a temporary table for every `IN (sub-select)` it runs, which
    /// made the lookup cost nearly twice as much.
    pub fn owned<C: ColumnTrait>(&self, id: C, slug: &str) -> SimpleExpr {
        id.into_expr().eq(SimpleExpr::SubQuery(
            None,
            Box::new(self.owner_query(slug).into_sub_query_statement()),
        ))
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

    /// The first of `base`, `base-2`, … `base-20` that no resource has or had, else `base-`
    /// and a random suffix. Only exact slugs are looked up, one query, so the cost does not grow
    /// with the table or depend on the database's collation.
    pub async fn first_free<C: ConnectionTrait>(&self, db: &C, base: &Slug) -> Result<Slug, DbErr> {
        let candidates: Vec<Slug> = (1..=NUMBERED_CANDIDATES)
            .map(|n| base.with_suffix(n))
            .collect();
        let stmt = Query::select()
            .column(Alias::new("slug"))
            .from(Alias::new(self.table))
            .and_where(
                Expr::col(Alias::new("slug"))
                    .is_in(candidates.iter().map(|c| c.as_str().to_owned())),
            )
            .to_owned();
        let rows = db
            .query_all(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        let mut taken = std::collections::HashSet::new();
        for row in rows {
            taken.insert(row.try_get_by_index::<String>(0)?);
        }
        Ok(candidates
            .into_iter()
            .find(|c| !taken.contains(c.as_str()))
            .unwrap_or_else(|| base.with_random_suffix()))
    }

    /// Inside a write, turns `choice` into the slug `owner` gets and records it. Derived slugs are
    /// chosen under a lock on their base (the SQLite writer lock, or a PostgreSQL advisory lock
    /// held to the end of the transaction), so concurrent creates with one title queue up
    /// instead of colliding.
    pub async fn claim_choice<C: ConnectionTrait>(
        &self,
        db: &C,
        choice: &SlugChoice,
        owner: Uuid,
    ) -> Result<Slug, WriteError> {
        match choice {
            SlugChoice::Exact(slug) => {
                self.claim(db, slug, owner).await?;
                Ok(slug.clone())
            }
            SlugChoice::FreeFrom(base) => {
                if db.get_database_backend() == DbBackend::Postgres {
                    let key = crate::db::advisory_key(&format!("{}:{base}", self.table));
                    db.execute(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT pg_advisory_xact_lock($1)",
                        [key.into()],
                    ))
                    .await?;
                }
                let slug = self.first_free(db, base).await?;
                match self.claim(db, &slug, owner).await {
                    // Only a client claiming this exact slug meanwhile gets here.
                    Err(WriteError::SlugTaken(_)) => Err(WriteError::Contended),
                    other => other.map(|()| slug),
                }
            }
        }
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

    /// Every slug `owner` has or had, in no particular order.
    pub async fn of_owner<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Uuid,
    ) -> Result<Vec<String>, DbErr> {
        let stmt = Query::select()
            .column(Alias::new("slug"))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.owner)).eq(owner))
            .order_by(Alias::new("slug"), sea_orm::Order::Asc)
            .to_owned();
        let rows = db
            .query_all(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        rows.iter().map(|row| row.try_get("", "slug")).collect()
    }

    /// Gives every slug of `from` to `to` inside a write (a merge), so that they resolve to it.
    pub async fn transfer<C: ConnectionTrait>(
        &self,
        db: &C,
        from: Uuid,
        to: Uuid,
    ) -> Result<(), DbErr> {
        let stmt = Query::update()
            .table(Alias::new(self.table))
            .value(Alias::new(self.owner), to)
            .and_where(Expr::col(Alias::new(self.owner)).eq(from))
            .to_owned();
        db.execute(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
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
