//! Revision tables. A service keeps every saved version of its resources in a table of its own
//! (owner id and version as the key, the whole resource as JSON, what the change touched, who
//! made it), written in the change's transaction. The same queries and the same schema serve
//! papers and authors, as [`crate::slugs`] does for slugs.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, ForeignKey, ForeignKeyAction, Index, Order, Query, Table,
    TableAlterStatement, TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, StatementBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use imprint_domain::audit::{Actor, Revision, RevisionKind};

/// One service's revision table.
#[derive(Debug, Clone, Copy)]
pub struct RevisionTable {
    /// Table name: `paper_revisions`.
    pub table: &'static str,
    /// Owner column: `paper_id`.
    pub owner: &'static str,
}

/// The columns a table made before actors were recorded lacks ([`RevisionTable::actor_columns`]).
pub const ACTOR_COLUMNS: [&str; 3] = ["actor_subject", "actor_role", "restored_from"];

/// The columns, in the order reads select them.
const COLUMNS: [&str; 8] = [
    "version",
    "kind",
    "changed_fields",
    "snapshot",
    "create_time",
    "actor_subject",
    "actor_role",
    "restored_from",
];

impl RevisionTable {
    /// Writes `revision` of resource `owner` at `version`, in the caller's transaction.
    pub async fn write<C, T, Ch>(
        &self,
        db: &C,
        owner: Uuid,
        version: i64,
        revision: &Revision<T, Ch>,
    ) -> Result<(), DbErr>
    where
        C: ConnectionTrait,
        T: Serialize,
        Ch: Serialize,
    {
        let json = |what: &str, value: Result<String, serde_json::Error>| {
            value.map_err(|e| DbErr::Custom(format!("{}.{what}: {e}", self.table)))
        };
        let snapshot = json("snapshot", serde_json::to_string(&revision.state))?;
        let changed = json("changed_fields", serde_json::to_string(&revision.changed))?;
        let actor = revision.actor.as_ref();
        let insert = Query::insert()
            .into_table(Alias::new(self.table))
            .columns(std::iter::once(self.owner).chain(COLUMNS).map(Alias::new))
            .values([
                owner.into(),
                version.into(),
                revision.kind.as_str().into(),
                changed.into(),
                snapshot.into(),
                revision.time.into(),
                actor.map(|a| a.subject().to_owned()).into(),
                actor.and_then(Actor::role).map(|r| r.name()).into(),
                revision.restored_from.into(),
            ])
            .map_err(|e| DbErr::Custom(format!("{}: {e}", self.table)))?
            .to_owned();
        db.execute(StatementBuilder::build(&insert, &db.get_database_backend()))
            .await?;
        Ok(())
    }

    /// Up to `limit` revisions of `owner`, newest first, older than version `before`.
    pub async fn page<C, T, Ch>(
        &self,
        db: &C,
        owner: Uuid,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Revision<T, Ch>>, DbErr>
    where
        C: ConnectionTrait,
        T: DeserializeOwned,
        Ch: DeserializeOwned,
    {
        let mut select = Query::select();
        select
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.owner)).eq(owner));
        if let Some(before) = before {
            select.and_where(Expr::col(Alias::new("version")).lt(before));
        }
        select
            .order_by(Alias::new("version"), Order::Desc)
            .limit(limit);
        let rows = db
            .query_all(StatementBuilder::build(&select, &db.get_database_backend()))
            .await?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    /// Revision `version` of `owner`, if it was saved.
    pub async fn at<C, T, Ch>(
        &self,
        db: &C,
        owner: Uuid,
        version: i64,
    ) -> Result<Option<Revision<T, Ch>>, DbErr>
    where
        C: ConnectionTrait,
        T: DeserializeOwned,
        Ch: DeserializeOwned,
    {
        let select = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.owner)).eq(owner))
            .and_where(Expr::col(Alias::new("version")).eq(version))
            .to_owned();
        let row = db
            .query_one(StatementBuilder::build(&select, &db.get_database_backend()))
            .await?;
        row.map(|row| self.decode(&row)).transpose()
    }

    fn decode<T, Ch>(&self, row: &QueryResult) -> Result<Revision<T, Ch>, DbErr>
    where
        T: DeserializeOwned,
        Ch: DeserializeOwned,
    {
        let corrupt = |what: &str, detail: String| {
            DbErr::Custom(format!("{}.{what} is corrupt: {detail}", self.table))
        };
        let kind: String = row.try_get("", "kind")?;
        let changed: String = row.try_get("", "changed_fields")?;
        let snapshot: String = row.try_get("", "snapshot")?;
        let subject: Option<String> = row.try_get("", "actor_subject")?;
        let role: Option<String> = row.try_get("", "actor_role")?;
        // No subject: saved before actors were recorded.
        let actor = Actor::from_columns(subject.as_deref(), role.as_deref())
            .map_err(|e| corrupt("actor", e.to_string()))?;
        Ok(Revision {
            kind: RevisionKind::from_str_opt(&kind).ok_or_else(|| corrupt("kind", kind.clone()))?,
            changed: serde_json::from_str(&changed)
                .map_err(|e| corrupt("changed_fields", e.to_string()))?,
            state: serde_json::from_str(&snapshot)
                .map_err(|e| corrupt("snapshot", e.to_string()))?,
            actor,
            restored_from: row.try_get("", "restored_from")?,
            time: row.try_get::<DateTime<Utc>>("", "create_time")?,
        })
    }

    /// The table, for a service's first migration of it: its rows go with their owner, a row
    /// of `parent` (`ON DELETE CASCADE`).
    pub fn create(&self, parent: &'static str) -> TableCreateStatement {
        let col = |name: &'static str| ColumnDef::new(Alias::new(name));
        let mut table = Table::create();
        table
            .table(Alias::new(self.table))
            .if_not_exists()
            .col(col(self.owner).uuid().not_null())
            .col(col("version").big_integer().not_null())
            .col(col("kind").string_len(20).not_null())
            .col(col("changed_fields").text().not_null())
            .col(col("snapshot").text().not_null())
            .col(col("create_time").timestamp_with_time_zone().not_null())
            .primary_key(
                Index::create()
                    .col(Alias::new(self.owner))
                    .col(Alias::new("version")),
            )
            .foreign_key(
                ForeignKey::create()
                    .from(Alias::new(self.table), Alias::new(self.owner))
                    .to(Alias::new(parent), Alias::new("id"))
                    .on_delete(ForeignKeyAction::Cascade),
            );
        table
            .col(col(ACTOR_COLUMNS[0]).string_len(255).null())
            .col(col(ACTOR_COLUMNS[1]).string_len(20).null())
            .col(col(ACTOR_COLUMNS[2]).big_integer().null())
            .to_owned()
    }

    /// What a table made before actors were recorded gains, one column per statement (SQLite
    /// adds one column per `ALTER TABLE`). Its old rows have no actor.
    pub fn actor_columns(&self) -> [TableAlterStatement; 3] {
        let [mut subject, mut role, mut restored] =
            ACTOR_COLUMNS.map(|c| ColumnDef::new(Alias::new(c)));
        [
            subject.string_len(255).null().to_owned(),
            role.string_len(20).null().to_owned(),
            restored.big_integer().null().to_owned(),
        ]
        .map(|mut column| {
            Table::alter()
                .table(Alias::new(self.table))
                .add_column(&mut column)
                .to_owned()
        })
    }

    /// Undoes [`Self::actor_columns`], one column per statement.
    pub fn drop_actor_columns(&self) -> [TableAlterStatement; 3] {
        ACTOR_COLUMNS.map(|c| {
            Table::alter()
                .table(Alias::new(self.table))
                .drop_column(Alias::new(c))
                .to_owned()
        })
    }
}

/// `current` (resource `what` `id`, at `current_version`) as its version `version` was saved,
/// which `load` reads from the revision table. `field` names the version asked for when it is
/// not one the resource had; a version it had but whose revision was never saved (before the
/// trail was kept) is NOT_FOUND.
pub async fn state_at<T, F, Fut>(
    what: &str,
    id: &(dyn std::fmt::Display + Sync),
    current: (&T, i64),
    version: i64,
    field: &str,
    load: F,
) -> Result<T, crate::ServiceError>
where
    T: Clone,
    F: FnOnce(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, DbErr>>,
{
    let (state, current_version) = current;
    if version == current_version {
        return Ok(state.clone());
    }
    if !(1..current_version).contains(&version) {
        return Err(imprint_domain::Violations::one(
            field,
            format!(
                "{what} {id} has versions 1 to {current_version}; {version} is not one of them"
            ),
        )
        .into());
    }
    // Saved before the trail was kept.
    load(version).await?.ok_or_else(|| {
        crate::ServiceError::not_found("revision", format!("{what} {id} version {version}"))
    })
}

/// What differs between versions `from` and `to` (the current one when `None`) of `current`
/// (resource `what` `id`, at `current_version`), each read by `load` as [`state_at`] does:
/// the two version numbers compared, in the order given, and the fields that differ.
pub async fn compare<T, F, Fut>(
    what: &str,
    id: &(dyn std::fmt::Display + Sync),
    current: (&T, i64),
    (from, to): (i64, Option<i64>),
    load: F,
) -> Result<Compared<T::Field>, crate::ServiceError>
where
    T: imprint_domain::Audited + Clone,
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, DbErr>>,
{
    let to = to.unwrap_or(current.1);
    let before = state_at(what, id, current, from, "from_version", &load).await?;
    let after = state_at(what, id, current, to, "to_version", &load).await?;
    Ok(Compared {
        from,
        to,
        changes: imprint_domain::audit::diff(&before, &after),
    })
}

/// Two versions of a resource compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared<F> {
    /// The version `before` values come from.
    pub from: i64,
    /// The version `after` values come from.
    pub to: i64,
    /// Each field that differs.
    pub changes: Vec<imprint_domain::FieldChange<F>>,
}
