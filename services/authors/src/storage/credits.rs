//! The credits read model: which papers credit which author, learned from `paper.*` events,
//! and each author's `paper_count`. An event applies only when its version is newer than the
//! one held for its paper, so redeliveries and reordering are harmless.

use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, StatementBuilder};
use uuid::Uuid;

use imprint_events::Outcome;

use super::AuthorStore;

fn name(s: &str) -> Alias {
    Alias::new(s)
}

impl AuthorStore {
    /// Applies version `version` of paper `paper_id`, crediting `authors` (`None`: the paper
    /// was deleted).
    pub async fn apply_paper(
        &self,
        paper_id: Uuid,
        version: i64,
        authors: Option<Vec<Uuid>>,
    ) -> Result<Outcome, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            let backend = tx.get_database_backend();
            // Claim the version first: the row lock taken here (PostgreSQL) orders concurrent
            // consumers of one paper, and an older or equal version changes nothing.
            let mut claim = Query::insert();
            claim
                .into_table(name("author_paper_versions"))
                .columns([name("paper_id"), name("version")])
                .on_conflict(
                    OnConflict::column(name("paper_id"))
                        .update_column(name("version"))
                        .action_and_where(
                            Expr::col((name("author_paper_versions"), name("version")))
                                .lt(Expr::col((name("excluded"), name("version")))),
                        )
                        .to_owned(),
                );
            claim
                .values([paper_id.into(), version.into()])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            let claimed = tx
                .execute(StatementBuilder::build(&claim, &backend))
                .await?
                .rows_affected();
            if claimed == 0 {
                return Ok(Outcome::Stale);
            }

            let old = Query::select()
                .column(name("author_id"))
                .from(name("author_paper_credits"))
                .and_where(Expr::col(name("paper_id")).eq(paper_id))
                .to_owned();
            let mut affected: Vec<Uuid> = Vec::new();
            for row in tx
                .query_all(StatementBuilder::build(&old, &backend))
                .await?
            {
                affected.push(row.try_get_by_index(0)?);
            }
            let clear = Query::delete()
                .from_table(name("author_paper_credits"))
                .and_where(Expr::col(name("paper_id")).eq(paper_id))
                .to_owned();
            tx.execute(StatementBuilder::build(&clear, &backend))
                .await?;
            let mut authors = authors.unwrap_or_default();
            authors.sort_unstable();
            authors.dedup();
            for chunk in authors.chunks(300) {
                let mut insert = Query::insert();
                insert
                    .into_table(name("author_paper_credits"))
                    .columns([name("paper_id"), name("author_id")]);
                for author in chunk {
                    insert
                        .values([paper_id.into(), (*author).into()])
                        .map_err(|e| DbErr::Custom(e.to_string()))?;
                }
                tx.execute(StatementBuilder::build(&insert, &backend))
                    .await?;
            }
            affected.extend(authors.iter().copied());
            affected.sort_unstable();
            affected.dedup();
            for chunk in affected.chunks(300) {
                // Lock the authors' rows first (PostgreSQL; SQLite writers are serialised): a
                // consumer replica crediting the same author for another paper then waits, and
                // the recount below sees its credits once it committed.
                if backend == sea_orm::DbBackend::Postgres {
                    let lock = Query::select()
                        .column(name("id"))
                        .from(name("authors"))
                        .and_where(Expr::col(name("id")).is_in(chunk.iter().copied()))
                        .order_by(name("id"), sea_orm::sea_query::Order::Asc)
                        .lock_exclusive()
                        .to_owned();
                    tx.query_all(StatementBuilder::build(&lock, &backend))
                        .await?;
                }
                let recount = Query::update()
                    .table(name("authors"))
                    .value(
                        name("paper_count"),
                        Expr::cust(
                            "(SELECT COUNT(*) FROM author_paper_credits \
                             WHERE author_paper_credits.author_id = authors.id)",
                        ),
                    )
                    .and_where(Expr::col(name("id")).is_in(chunk.iter().copied()))
                    .to_owned();
                tx.execute(StatementBuilder::build(&recount, &backend))
                    .await?;
            }
            Ok(Outcome::Applied)
        }
        .await;
        tx.finish(result).await
    }
}
