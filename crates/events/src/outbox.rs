//! The transactional outbox. A service writes each change and its event in one transaction, in
//! a table of its own database; the relay publishes rows in order and marks them sent only once
//! the transport confirmed them. A write therefore never fails because the broker is down, and
//! no event is lost when it comes back.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, Func, Index, IndexCreateStatement, Order, Query, Table,
    TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DbErr, StatementBuilder};
use uuid::Uuid;

use crate::envelope::NewEvent;

/// One unsent (or sent) outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Position in the outbox: publication order.
    pub id: i64,
    /// The event's id; the AMQP message id.
    pub event_id: Uuid,
    /// The routing key.
    pub routing_key: String,
    /// The encoded `imprint.events.v1.Event`.
    pub body: Vec<u8>,
    /// The W3C trace context.
    pub traceparent: String,
    /// When the change was saved.
    pub created_at: DateTime<Utc>,
}

/// A service's outbox table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbox {
    /// Table name: `paper_outbox`, `author_outbox` (distinct, so services may share a database).
    pub table: &'static str,
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

impl Outbox {
    /// The table, for the service's migration.
    pub fn create_table(&self) -> TableCreateStatement {
        Table::create()
            .table(col(self.table))
            .col(
                ColumnDef::new(col("id"))
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(ColumnDef::new(col("event_id")).uuid().not_null())
            .col(ColumnDef::new(col("aggregate_id")).uuid().not_null())
            .col(
                ColumnDef::new(col("aggregate_version"))
                    .big_integer()
                    .not_null(),
            )
            .col(ColumnDef::new(col("routing_key")).string_len(64).not_null())
            .col(ColumnDef::new(col("body")).binary().not_null())
            .col(ColumnDef::new(col("traceparent")).string_len(64).not_null())
            .col(
                ColumnDef::new(col("created_at"))
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(
                ColumnDef::new(col("sent_at"))
                    .timestamp_with_time_zone()
                    .null(),
            )
            .to_owned()
    }

    /// The index the relay reads unsent rows through.
    pub fn create_index(&self) -> IndexCreateStatement {
        Index::create()
            .name(format!("{}_sent_at_id_idx", self.table))
            .table(col(self.table))
            .col(col("sent_at"))
            .col(col("id"))
            .to_owned()
    }

    /// Appends `event`, inside the caller's transaction.
    pub async fn append<C: ConnectionTrait>(&self, db: &C, event: &NewEvent) -> Result<(), DbErr> {
        let e = &event.event;
        let event_id = Uuid::try_parse(&e.event_id).map_err(|x| DbErr::Custom(x.to_string()))?;
        let aggregate_id =
            Uuid::try_parse(&e.aggregate_id).map_err(|x| DbErr::Custom(x.to_string()))?;
        let created_at = e
            .occurred_at
            .as_ref()
            .and_then(|t| imprint_proto::convert::from_timestamp(t).ok())
            .unwrap_or_else(Utc::now);
        let mut stmt = Query::insert();
        stmt.into_table(col(self.table)).columns([
            col("event_id"),
            col("aggregate_id"),
            col("aggregate_version"),
            col("routing_key"),
            col("body"),
            col("traceparent"),
            col("created_at"),
        ]);
        stmt.values([
            event_id.into(),
            aggregate_id.into(),
            e.aggregate_version.into(),
            e.r#type.clone().into(),
            event.encode().into(),
            event.traceparent.clone().into(),
            created_at.into(),
        ])
        .map_err(|x| DbErr::Custom(x.to_string()))?;
        db.execute(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        Ok(())
    }

    /// Unsent rows, oldest first: at most `limit`, and no more than `max_bytes` of bodies
    /// (but at least one row), so a run of large papers cannot exhaust memory.
    pub async fn pending<C: ConnectionTrait>(
        &self,
        db: &C,
        limit: u64,
        max_bytes: u64,
    ) -> Result<Vec<OutboxRow>, DbErr> {
        let backend = db.get_database_backend();
        // `length` of a bytea (PostgreSQL) or a blob (SQLite) is its size in bytes.
        let sizes = Query::select()
            .column(col("id"))
            .expr_as(Expr::cust("CAST(length(body) AS BIGINT)"), col("size"))
            .from(col(self.table))
            .and_where(Expr::col(col("sent_at")).is_null())
            .order_by(col("id"), Order::Asc)
            .limit(limit)
            .to_owned();
        let mut ids = Vec::new();
        let mut total: u64 = 0;
        for row in db
            .query_all(StatementBuilder::build(&sizes, &backend))
            .await?
        {
            let id: i64 = row.try_get("", "id")?;
            let size: i64 = row.try_get("", "size")?;
            total = total.saturating_add(u64::try_from(size).unwrap_or(0));
            if !ids.is_empty() && total > max_bytes {
                break;
            }
            ids.push(id);
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let stmt = Query::select()
            .columns([
                col("id"),
                col("event_id"),
                col("routing_key"),
                col("body"),
                col("traceparent"),
                col("created_at"),
            ])
            .from(col(self.table))
            .and_where(Expr::col(col("id")).is_in(ids))
            .order_by(col("id"), Order::Asc)
            .to_owned();
        let rows = db
            .query_all(StatementBuilder::build(&stmt, &backend))
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(OutboxRow {
                    id: row.try_get("", "id")?,
                    event_id: row.try_get("", "event_id")?,
                    routing_key: row.try_get("", "routing_key")?,
                    body: row.try_get("", "body")?,
                    traceparent: row.try_get("", "traceparent")?,
                    created_at: row.try_get("", "created_at")?,
                })
            })
            .collect()
    }

    /// Marks rows sent.
    pub async fn mark_sent<C: ConnectionTrait>(
        &self,
        db: &C,
        ids: &[i64],
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        for chunk in ids.chunks(500) {
            let stmt = Query::update()
                .table(col(self.table))
                .value(col("sent_at"), at)
                .and_where(Expr::col(col("id")).is_in(chunk.iter().copied()))
                .to_owned();
            db.execute(StatementBuilder::build(&stmt, &db.get_database_backend()))
                .await?;
        }
        Ok(())
    }

    /// Deletes rows sent before `before`; returns how many.
    pub async fn prune<C: ConnectionTrait>(
        &self,
        db: &C,
        before: DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        let stmt = Query::delete()
            .from_table(col(self.table))
            .and_where(Expr::col(col("sent_at")).lt(before))
            .to_owned();
        Ok(db
            .execute(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?
            .rows_affected())
    }

    /// How many rows are unsent, and when the oldest of them was written.
    pub async fn backlog<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<(i64, Option<DateTime<Utc>>), DbErr> {
        let stmt = Query::select()
            .expr_as(Func::count(Expr::col(col("id"))), col("n"))
            .expr_as(Func::min(Expr::col(col("created_at"))), col("oldest"))
            .from(col(self.table))
            .and_where(Expr::col(col("sent_at")).is_null())
            .to_owned();
        let row = db
            .query_one(StatementBuilder::build(&stmt, &db.get_database_backend()))
            .await?;
        match row {
            Some(row) => Ok((row.try_get("", "n")?, row.try_get("", "oldest")?)),
            None => Ok((0, None)),
        }
    }
}

/// What a producing service holds: its outbox, and the relay's wake-up bell to ring once a
/// transaction that wrote events has committed.
#[derive(Debug, Clone)]
pub struct Emitter {
    /// The service's outbox table.
    outbox: Outbox,
    /// The relay's bell.
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Emitter {
    /// An emitter writing to `outbox` and waking the relay through `wake`.
    pub fn new(outbox: Outbox, wake: std::sync::Arc<tokio::sync::Notify>) -> Self {
        Self { outbox, wake }
    }

    /// Writes `event` in the caller's transaction.
    pub async fn emit<C: ConnectionTrait>(&self, db: &C, event: &NewEvent) -> Result<(), DbErr> {
        self.outbox.append(db, event).await
    }

    /// Tells the relay that committed events wait.
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    /// Commits or rolls back `tx` by `result`, ringing the relay after a commit.
    pub async fn finish<T, E: From<DbErr>>(
        &self,
        tx: imprint_platform::db::WriteTx,
        result: Result<T, E>,
    ) -> Result<T, E> {
        let done = tx.finish(result).await;
        if done.is_ok() {
            self.committed();
        }
        done
    }
}
