//! Slug registries. A service keeps every slug any of its resources ever had in a table of its
//! own (`slug` primary key, owner id), so a renamed resource keeps answering at its old URLs and
//! no other resource can take them over. The same queries serve papers and authors.

use sea_orm::sea_query::{Alias, Expr, OnConflict, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, StatementBuilder};
use uuid::Uuid;

use imprint_domain::Slug;

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

    /// Records `slug` for `owner`. Re-recording an owner's own slug is a no-op; a slug owned by
    /// another resource fails with a unique violation, which callers map to ALREADY_EXISTS.
    pub async fn reserve<C: ConnectionTrait>(
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
