//! Endpoints and deliveries in the gateway's database. A delivery is written when its event is
//! consumed (once per event and endpoint, however often the event comes), and is the
//! dispatcher's to send: the webhooks' own outbox.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use imprint_domain::Actor;
use imprint_domain::webhook::{WebhookFilter, WebhookUrl};
use imprint_platform::Database;
use imprint_platform::store::WriteError;

use super::entity::{aggregate_terms, attempt, delivery, endpoint};

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// What it is for.
    pub description: String,
    /// What it wants.
    pub filter: WebhookFilter,
    /// The signing secret, `whsec_…`.
    pub secret: String,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// Why the system disabled it.
    pub disabled_reason: Option<String>,
    /// Since when its deliveries fail.
    pub failing_since: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When registered.
    pub create_time: DateTime<Utc>,
    /// When last changed.
    pub update_time: DateTime<Utc>,
    /// Who registered it (none on rows the store cannot read back).
    pub creator: Option<Actor>,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its turn or its next attempt.
    Pending,
    /// Answered 2xx.
    Delivered,
    /// Given up.
    Failed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(stored: &str) -> Result<Self, DbErr> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| DbErr::Custom(format!("webhook_deliveries.status '{stored}'")))
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id (UUIDv7: the order events were consumed in).
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event's id.
    pub event_id: String,
    /// Its routing key.
    pub event_type: String,
    /// The routing key's first word: versions count per kind and aggregate.
    pub kind: String,
    /// What changed.
    pub aggregate_id: Uuid,
    /// Its version after the change.
    pub aggregate_version: i64,
    /// The JSON body.
    pub body: String,
    /// Where it is.
    pub status: Status,
    /// Failed attempts in a row.
    pub failures: i32,
    /// When the next attempt is due.
    pub next_attempt_time: DateTime<Utc>,
    /// When the first attempt was made.
    pub first_attempt_time: Option<DateTime<Utc>>,
    /// When the change happened.
    pub create_time: DateTime<Utc>,
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When.
    pub time: DateTime<Utc>,
    /// The HTTP status; 0 for none.
    pub status_code: i32,
    /// Why it failed; empty when it succeeded.
    pub error: String,
    /// How long it took.
    pub duration_ms: i64,
}

/// What came of an attempt, and what follows from it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The attempt.
    pub attempt: Attempt,
    /// The delivery's next state.
    pub status: Status,
    /// When to try again, while pending.
    pub next_attempt_time: DateTime<Utc>,
}

/// What became of a redelivery asked for.
#[derive(Debug, Clone)]
pub enum Redelivered {
    /// Pending again, due now.
    Due(Delivery),
    /// Still pending: it is sent when its turn comes, and is not reset meanwhile.
    AlreadyPending,
    /// No such delivery.
    Missing,
}

/// Reads and writes endpoints and deliveries.
#[derive(Debug, Clone)]
pub struct WebhookStore {
    /// The gateway's database.
    db: Database,
}

impl WebhookStore {
    /// The store over `db`, whose migrations have run.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a new endpoint.
    pub async fn insert(&self, e: &Endpoint) -> Result<(), DbErr> {
        let tx = self.db.begin_write().await?;
        let result = endpoint::Entity::insert(to_row(e)?)
            .exec_without_returning(&*tx)
            .await
            .map(drop);
        tx.finish(result).await
    }

    /// Saves an admin's change of an endpoint (its version incremented) if the stored version
    /// is still `expected`: the fields an admin sets, and when `enabling`, the end of its
    /// failing streak. What the dispatcher records (the failing streak) is not written back
    /// from what the admin read.
    pub async fn save(
        &self,
        e: &Endpoint,
        expected: i64,
        enabling: bool,
    ) -> Result<(), WriteError> {
        let filter = serde_json::to_string(&e.filter)
            .map_err(|err| DbErr::Custom(format!("webhook_endpoints.filter: {err}")))?;
        let tx = self.db.begin_write().await?;
        let result: Result<(), WriteError> = async {
            let mut update = endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Url, Expr::value(e.url.as_str()))
                .col_expr(
                    endpoint::Column::Description,
                    Expr::value(e.description.clone()),
                )
                .col_expr(endpoint::Column::Filter, Expr::value(filter))
                .col_expr(endpoint::Column::Enabled, Expr::value(e.enabled))
                .col_expr(endpoint::Column::Version, Expr::value(e.version))
                .col_expr(endpoint::Column::UpdateTime, Expr::value(e.update_time));
            if enabling {
                update = update
                    .col_expr(
                        endpoint::Column::DisabledReason,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(
                        endpoint::Column::FailingSince,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    );
            }
            let updated = update
                .filter(endpoint::Column::Id.eq(e.id))
                .filter(endpoint::Column::Version.eq(expected))
                .exec(&*tx)
                .await?;
            if updated.rows_affected == 0 {
                return Err(match endpoint::Entity::find_by_id(e.id).one(&*tx).await? {
                    Some(row) => WriteError::Stale {
                        current: row.version,
                    },
                    None => WriteError::NotFound,
                });
            }
            Ok(())
        }
        .await;
        tx.finish(result).await
    }

    /// Removes an endpoint and its deliveries; false when there was none.
    pub async fn delete(&self, id: Uuid) -> Result<bool, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            // Attempts, then deliveries, then the endpoint, explicitly: what goes is plain to
            // read here rather than spread over the schema's cascades.
            let ids = Query::select()
                .column(delivery::Column::Id)
                .from(delivery::Entity)
                .and_where(delivery::Column::EndpointId.eq(id))
                .to_owned();
            attempt::Entity::delete_many()
                .filter(attempt::Column::DeliveryId.in_subquery(ids))
                .exec(&*tx)
                .await?;
            delivery::Entity::delete_many()
                .filter(delivery::Column::EndpointId.eq(id))
                .exec(&*tx)
                .await?;
            let gone = endpoint::Entity::delete_by_id(id).exec(&*tx).await?;
            Ok(gone.rows_affected > 0)
        }
        .await;
        tx.finish(result).await
    }

    /// One endpoint.
    pub async fn find(&self, id: Uuid) -> Result<Option<Endpoint>, DbErr> {
        endpoint::Entity::find_by_id(id)
            .one(self.db.conn())
            .await?
            .map(from_row)
            .transpose()
    }

    /// Up to `limit` endpoints created after `after`, oldest first.
    pub async fn list(&self, after: Option<Uuid>, limit: u64) -> Result<Vec<Endpoint>, DbErr> {
        let mut select = endpoint::Entity::find().order_by_asc(endpoint::Column::Id);
        if let Some(after) = after {
            select = select.filter(endpoint::Column::Id.gt(after));
        }
        select
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Every enabled endpoint.
    pub async fn enabled(&self) -> Result<Vec<Endpoint>, DbErr> {
        self.endpoints(true).await
    }

    /// Every endpoint, disabled ones too (they still collect deliveries, sent once enabled).
    pub async fn all(&self) -> Result<Vec<Endpoint>, DbErr> {
        self.endpoints(false).await
    }

    async fn endpoints(&self, enabled_only: bool) -> Result<Vec<Endpoint>, DbErr> {
        let mut select = endpoint::Entity::find().order_by_asc(endpoint::Column::Id);
        if enabled_only {
            select = select.filter(endpoint::Column::Enabled.eq(true));
        }
        select
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// The terms `aggregate` carried at its last change seen, and remembers `now` (of change
    /// `version`) in their place when it is newer.
    pub async fn swap_terms(
        &self,
        aggregate: Uuid,
        version: i64,
        now: &[imprint_domain::TermId],
    ) -> Result<Vec<imprint_domain::TermId>, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            let before = aggregate_terms::Entity::find_by_id(aggregate)
                .one(&*tx)
                .await?;
            let remembered: Vec<imprint_domain::TermId> = match &before {
                Some(row) => serde_json::from_str(&row.terms).map_err(|e| {
                    DbErr::Custom(format!("webhook_aggregate_terms.terms of {aggregate}: {e}"))
                })?,
                None => Vec::new(),
            };
            if before.as_ref().is_none_or(|row| row.version < version) {
                let row = aggregate_terms::ActiveModel {
                    aggregate_id: Set(aggregate),
                    version: Set(version),
                    terms: Set(
                        serde_json::to_string(now).map_err(|e| DbErr::Custom(e.to_string()))?
                    ),
                };
                aggregate_terms::Entity::insert(row)
                    .on_conflict(
                        OnConflict::column(aggregate_terms::Column::AggregateId)
                            .update_columns([
                                aggregate_terms::Column::Version,
                                aggregate_terms::Column::Terms,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&*tx)
                    .await?;
            }
            Ok(remembered)
        }
        .await;
        tx.finish(result).await
    }

    /// Writes deliveries, each once per (endpoint, event): an event consumed again adds
    /// nothing.
    pub async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), DbErr> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let rows: Vec<delivery::ActiveModel> = deliveries.iter().map(delivery_row).collect();
        let tx = self.db.begin_write().await?;
        let result = delivery::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    delivery::Column::EndpointId,
                    delivery::Column::Kind,
                    delivery::Column::AggregateId,
                    delivery::Column::AggregateVersion,
                ])
                .do_nothing()
                .to_owned(),
            )
            .do_nothing()
            .exec_without_returning(&*tx)
            .await
            .map(drop);
        tx.finish(result).await
    }

    /// Up to `limit` deliveries of `endpoint` due at `now`: for each aggregate, its earliest
    /// pending change (by version) only, so that an aggregate's changes arrive in order while
    /// one aggregate's failing delivery holds back no other's.
    pub async fn due(
        &self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Delivery>, DbErr> {
        use sea_orm::sea_query::Alias;
        let earlier = Alias::new("earlier");
        let same =
            |c: delivery::Column| Expr::col((earlier.clone(), c)).equals((delivery::Entity, c));
        let before = Query::select()
            .expr(Expr::val(1))
            .from_as(delivery::Entity, earlier.clone())
            .and_where(same(delivery::Column::EndpointId))
            .and_where(same(delivery::Column::Kind))
            .and_where(same(delivery::Column::AggregateId))
            .and_where(
                Expr::col((earlier.clone(), delivery::Column::Status)).eq(Status::Pending.as_str()),
            )
            .and_where(
                Expr::col((earlier.clone(), delivery::Column::AggregateVersion)).lt(Expr::col((
                    delivery::Entity,
                    delivery::Column::AggregateVersion,
                ))),
            )
            .to_owned();
        delivery::Entity::find()
            .filter(delivery::Column::EndpointId.eq(endpoint_id))
            .filter(delivery::Column::Status.eq(Status::Pending.as_str()))
            .filter(delivery::Column::NextAttemptTime.lte(now))
            .filter(Condition::all().add(Expr::exists(before).not()))
            .order_by_asc(delivery::Column::Id)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(delivery_from_row)
            .collect()
    }

    /// Records an attempt of `d` and its outcome. A failure starts the endpoint's failing
    /// streak (or continues it) and disables the endpoint, with `reason`, when the streak began
    /// at `disable_before` or earlier; a success ends the streak. Returns whether this disabled
    /// the endpoint. Decided in the database, so that what another attempt or an admin saved
    /// meanwhile counts.
    pub async fn record(
        &self,
        d: &Delivery,
        outcome: &Outcome,
        disable_before: DateTime<Utc>,
        reason: &str,
    ) -> Result<bool, DbErr> {
        let failed = !outcome.attempt.error.is_empty();
        let tx = self.db.begin_write().await?;
        let result = async {
            let number: Option<i32> = attempt::Entity::find()
                .select_only()
                .column_as(attempt::Column::Attempt.max(), "n")
                .filter(attempt::Column::DeliveryId.eq(d.id))
                .into_tuple::<Option<i32>>()
                .one(&*tx)
                .await?
                .flatten();
            attempt::Entity::insert(attempt::ActiveModel {
                delivery_id: Set(d.id),
                attempt: Set(number.unwrap_or(0) + 1),
                time: Set(outcome.attempt.time),
                status_code: Set(outcome.attempt.status_code),
                error: Set(outcome.attempt.error.clone()),
                duration_ms: Set(outcome.attempt.duration_ms),
            })
            .exec_without_returning(&*tx)
            .await?;
            delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::Status,
                    Expr::value(outcome.status.as_str()),
                )
                .col_expr(
                    delivery::Column::Failures,
                    Expr::value(if failed { d.failures + 1 } else { 0 }),
                )
                .col_expr(
                    delivery::Column::NextAttemptTime,
                    Expr::value(outcome.next_attempt_time),
                )
                .col_expr(
                    delivery::Column::FirstAttemptTime,
                    Expr::value(d.first_attempt_time.unwrap_or(outcome.attempt.time)),
                )
                .filter(delivery::Column::Id.eq(d.id))
                .exec(&*tx)
                .await?;
            let streak = if failed {
                sea_orm::sea_query::SimpleExpr::from(sea_orm::sea_query::Func::coalesce([
                    Expr::col(endpoint::Column::FailingSince).into(),
                    Expr::value(outcome.attempt.time),
                ]))
            } else {
                Expr::value(Option::<DateTime<Utc>>::None)
            };
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::FailingSince, streak)
                .filter(endpoint::Column::Id.eq(d.endpoint_id))
                .exec(&*tx)
                .await?;
            if !failed {
                return Ok(false);
            }
            let disabled = endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Enabled, Expr::value(false))
                .col_expr(endpoint::Column::DisabledReason, Expr::value(reason))
                .col_expr(
                    endpoint::Column::Version,
                    Expr::col(endpoint::Column::Version).add(1),
                )
                .filter(endpoint::Column::Id.eq(d.endpoint_id))
                .filter(endpoint::Column::Enabled.eq(true))
                .filter(endpoint::Column::FailingSince.lte(disable_before))
                .exec(&*tx)
                .await?;
            Ok(disabled.rows_affected > 0)
        }
        .await;
        tx.finish(result).await
    }

    /// Forgets delivered and given-up deliveries (and their attempts) made before `before`.
    /// Returns how many.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            let old = Query::select()
                .column(delivery::Column::Id)
                .from(delivery::Entity)
                .and_where(delivery::Column::Status.ne(Status::Pending.as_str()))
                .and_where(delivery::Column::CreateTime.lt(before))
                .to_owned();
            attempt::Entity::delete_many()
                .filter(attempt::Column::DeliveryId.in_subquery(old))
                .exec(&*tx)
                .await?;
            let gone = delivery::Entity::delete_many()
                .filter(delivery::Column::Status.ne(Status::Pending.as_str()))
                .filter(delivery::Column::CreateTime.lt(before))
                .exec(&*tx)
                .await?;
            Ok(gone.rows_affected)
        }
        .await;
        tx.finish(result).await
    }

    /// Up to `limit` deliveries of `endpoint_id` (of `status` when given) older than
    /// `before`, newest first, each with its attempts.
    pub async fn deliveries(
        &self,
        endpoint_id: Uuid,
        status: Option<Status>,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<(Delivery, Vec<Attempt>)>, DbErr> {
        let mut select = delivery::Entity::find()
            .filter(delivery::Column::EndpointId.eq(endpoint_id))
            .order_by_desc(delivery::Column::Id);
        if let Some(status) = status {
            select = select.filter(delivery::Column::Status.eq(status.as_str()));
        }
        if let Some(before) = before {
            select = select.filter(delivery::Column::Id.lt(before));
        }
        let rows = select.limit(limit).all(self.db.conn()).await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let attempts = if ids.is_empty() {
            Vec::new()
        } else {
            attempt::Entity::find()
                .filter(attempt::Column::DeliveryId.is_in(ids))
                .order_by_asc(attempt::Column::Attempt)
                .all(self.db.conn())
                .await?
        };
        rows.into_iter()
            .map(|row| {
                let mine = attempts
                    .iter()
                    .filter(|a| a.delivery_id == row.id)
                    .map(|a| Attempt {
                        time: a.time,
                        status_code: a.status_code,
                        error: a.error.clone(),
                        duration_ms: a.duration_ms,
                    })
                    .collect();
                delivery_from_row(row).map(|d| (d, mine))
            })
            .collect()
    }

    /// Makes delivery `id` pending again, due now, with a fresh retry window, unless it is
    /// pending already (an attempt may be under way; it is not reset beneath it).
    pub async fn redeliver(&self, id: Uuid, now: DateTime<Utc>) -> Result<Redelivered, DbErr> {
        let tx = self.db.begin_write().await?;
        let result = async {
            let updated = delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::Status,
                    Expr::value(Status::Pending.as_str()),
                )
                .col_expr(delivery::Column::Failures, Expr::value(0))
                .col_expr(delivery::Column::NextAttemptTime, Expr::value(now))
                .col_expr(
                    delivery::Column::FirstAttemptTime,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(delivery::Column::Id.eq(id))
                .filter(delivery::Column::Status.ne(Status::Pending.as_str()))
                .exec(&*tx)
                .await?;
            let found = delivery::Entity::find_by_id(id).one(&*tx).await?;
            Ok(match (found, updated.rows_affected) {
                (None, _) => Redelivered::Missing,
                (Some(_), 0) => Redelivered::AlreadyPending,
                (Some(row), _) => Redelivered::Due(delivery_from_row(row)?),
            })
        }
        .await;
        tx.finish(result).await
    }
}

fn to_row(e: &Endpoint) -> Result<endpoint::ActiveModel, DbErr> {
    let (creator_subject, creator_role) = e
        .creator
        .as_ref()
        .map_or((None, None), crate::actors::columns);
    Ok(endpoint::ActiveModel {
        id: Set(e.id),
        url: Set(e.url.as_str().to_owned()),
        description: Set(e.description.clone()),
        filter: Set(serde_json::to_string(&e.filter)
            .map_err(|err| DbErr::Custom(format!("webhook_endpoints.filter: {err}")))?),
        secret: Set(e.secret.clone()),
        enabled: Set(e.enabled),
        disabled_reason: Set(e.disabled_reason.clone()),
        failing_since: Set(e.failing_since),
        version: Set(e.version),
        create_time: Set(e.create_time),
        update_time: Set(e.update_time),
        creator_subject: Set(creator_subject),
        creator_role: Set(creator_role),
    })
}

fn from_row(m: endpoint::Model) -> Result<Endpoint, DbErr> {
    let filter = serde_json::from_str(&m.filter)
        .map_err(|e| DbErr::Custom(format!("webhook_endpoints.filter of {}: {e}", m.id)))?;
    let creator = Actor::from_columns(m.creator_subject.as_deref(), m.creator_role.as_deref())
        .ok()
        .flatten();
    Ok(Endpoint {
        id: m.id,
        url: WebhookUrl::from_trusted(m.url),
        description: m.description,
        filter,
        secret: m.secret,
        enabled: m.enabled,
        disabled_reason: m.disabled_reason,
        failing_since: m.failing_since,
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
        creator,
    })
}

fn delivery_row(d: &Delivery) -> delivery::ActiveModel {
    delivery::ActiveModel {
        id: Set(d.id),
        endpoint_id: Set(d.endpoint_id),
        event_id: Set(d.event_id.clone()),
        event_type: Set(d.event_type.clone()),
        kind: Set(d.kind.clone()),
        aggregate_id: Set(d.aggregate_id),
        aggregate_version: Set(d.aggregate_version),
        body: Set(d.body.clone()),
        status: Set(d.status.as_str().to_owned()),
        failures: Set(d.failures),
        next_attempt_time: Set(d.next_attempt_time),
        first_attempt_time: Set(d.first_attempt_time),
        create_time: Set(d.create_time),
    }
}

fn delivery_from_row(m: delivery::Model) -> Result<Delivery, DbErr> {
    Ok(Delivery {
        id: m.id,
        endpoint_id: m.endpoint_id,
        event_id: m.event_id,
        event_type: m.event_type,
        kind: m.kind,
        aggregate_id: m.aggregate_id,
        aggregate_version: m.aggregate_version,
        body: m.body,
        status: Status::parse(&m.status)?,
        failures: m.failures,
        next_attempt_time: m.next_attempt_time,
        first_attempt_time: m.first_attempt_time,
        create_time: m.create_time,
    })
}
