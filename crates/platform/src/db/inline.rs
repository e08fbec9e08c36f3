//! Reads by key of a SQLite file on the calling thread.
//!
//! sqlx runs every SQLite connection on a thread of its own: a query crosses to it and its rows
//! cross back, and on a server that is not saturated each crossing wakes a sleeping thread (two
//! to four context switches per query). For a read by key, answered from SQLite's page cache in
//! microseconds, that hand-off costs more than SQLite's own work (`BENCHMARKS.md`, issue 13:
//! a quarter of an uncached page's CPU). The hottest reads (a paper by slug or id, its terms, a
//! byline's authors) therefore run here, on the task's own thread, through rusqlite over the
//! same bundled SQLite library, and sea-orm decodes the rows into the same models as the pool's.
//! Writes and every other query keep using the pool.
//!
//! Only reads of a few rows by key belong here (`Database::read_by_key` sends larger ones to
//! the pool): the thread is a runtime worker, and a long query would stall the tasks behind it.
//! A read that finds the file locked (a checkpoint, a recovery) or cannot open it is not waited
//! for here: it goes to the pool, whose connections wait on their own threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{ErrorCode, OpenFlags};
use sea_orm::sea_query::Value;
use sea_orm::{
    ColumnTrait, ColumnType, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, ProxyRow,
    QueryResult, Statement,
};

/// Connections kept open for the next reads, beyond one per core: reads run on the runtime's
/// threads (one worker per core, plus the thread that blocks on the runtime), so no more are
/// ever in use at once, and a read never pays for opening a connection once all are made.
const KEEP_SPARE: usize = 2;
/// How long a read waits for a lock before leaving the read to the pool.
const LOCK_WAIT: Duration = Duration::from_millis(5);
/// Statements each connection keeps prepared: the hot reads have a handful of shapes.
const PREPARED: usize = 32;

/// Why a read was not answered here.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unanswered {
    /// The file was locked, could not be opened here, or the database is closed: the pool
    /// reads it instead (or answers as it does once closed).
    #[error("the database file is locked, closed or cannot be opened here")]
    LeftToPool,
    /// Anything else: the read's error.
    #[error(transparent)]
    Failed(#[from] DbErr),
}

/// Read connections to one SQLite file, used on the caller's thread.
#[derive(Debug)]
pub(super) struct InlineReads {
    /// The file.
    path: PathBuf,
    /// Connections not in use.
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// How many of them are kept.
    keep: usize,
    /// Set once the database is closed: no connection is opened or kept after that.
    closed: AtomicBool,
}

impl InlineReads {
    /// Reads of the file at `path` (opened on first use), which must be a file's path: an
    /// in-memory database is the pool's alone.
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            keep: std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                + KEEP_SPARE,
            closed: AtomicBool::new(false),
        }
    }

    /// The rows of `E` that `statement` selects, decoded as the pool's would be.
    pub(super) fn select<E>(&self, statement: &Statement) -> Result<Vec<E::Model>, Unanswered>
    where
        E: EntityTrait,
        E::Model: FromQueryResult,
    {
        let conn = self.take()?;
        let rows = rows_of::<E>(&conn, statement);
        self.give_back(conn);
        rows?
            .into_iter()
            .map(|row| E::Model::from_query_result(&QueryResult::from(row), "").map_err(Into::into))
            .collect()
    }

    fn take(&self) -> Result<rusqlite::Connection, Unanswered> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Unanswered::LeftToPool);
        }
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            // Whatever keeps this thread from opening the file (no descriptor left, say), the
            // pool may still manage: the read goes there.
            None => self.open().map_err(|e| {
                tracing::debug!(error = %e, "cannot open the SQLite file for reads here");
                Unanswered::LeftToPool
            }),
        }
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
    }

    /// Closes the connections not in use; one in use is closed when it comes back.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// A connection that cannot write (`query_only`), opened read-write so that it can join
    /// the WAL's shared memory like the pool's connections.
    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(LOCK_WAIT)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(PREPARED);
        Ok(conn)
    }
}

/// A failed SQLite call as a read's outcome: a lock is for the pool to wait out.
fn classify(err: &rusqlite::Error) -> Unanswered {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Unanswered::LeftToPool,
        _ => Unanswered::Failed(DbErr::Custom(format!("SQLite read: {err}"))),
    }
}

/// The rows `statement` selects, each column as the value `E`'s model reads it from.
fn rows_of<E: EntityTrait>(
    conn: &rusqlite::Connection,
    statement: &Statement,
) -> Result<Vec<ProxyRow>, Unanswered> {
    let params = statement
        .values
        .as_ref()
        .map(|values| {
            values
                .0
                .iter()
                .map(parameter)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let mut prepared = conn
        .prepare_cached(&statement.sql)
        .map_err(|e| classify(&e))?;
    let declared: Vec<(E::Column, ColumnType)> = E::Column::iter()
        .map(|c| (c, c.def().get_column_type().clone()))
        .collect();
    let columns: Vec<(String, ColumnType)> = prepared
        .column_names()
        .into_iter()
        .map(|name| column_type::<E>(&declared, name).map(|ty| (name.to_owned(), ty)))
        .collect::<Result<_, _>>()?;
    let mut rows = prepared
        .query(rusqlite::params_from_iter(params))
        .map_err(|e| classify(&e))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| classify(&e))? {
        let mut values = BTreeMap::new();
        for (i, (name, ty)) in columns.iter().enumerate() {
            let raw = row.get_ref(i).map_err(|e| classify(&e))?;
            values.insert(name.clone(), value_of(name, ty, raw)?);
        }
        out.push(ProxyRow::new(values));
    }
    Ok(out)
}

/// How `E` declares (`declared`, its columns) the column `name`.
fn column_type<E: EntityTrait>(
    declared: &[(E::Column, ColumnType)],
    name: &str,
) -> Result<ColumnType, DbErr> {
    declared
        .iter()
        .find(|(column, _)| column.as_str() == name)
        .map(|(_, ty)| ty.clone())
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "the column {name} is not one of {}",
                E::default().table_name()
            ))
        })
}

/// A bound value as SQLite stores what sqlx binds for it (a UUID as its 16 bytes, a time as
/// RFC 3339 text), so that a read here compares as the pool's does.
fn parameter(value: &Value) -> Result<SqlValue, DbErr> {
    let null = SqlValue::Null;
    Ok(match value {
        Value::Bool(v) => v.map_or(null, |b| SqlValue::Integer(i64::from(b))),
        Value::TinyInt(v) => v.map_or(null, |n| SqlValue::Integer(n.into())),
        Value::SmallInt(v) => v.map_or(null, |n| SqlValue::Integer(n.into())),
        Value::Int(v) => v.map_or(null, |n| SqlValue::Integer(n.into())),
        Value::BigInt(v) => v.map_or(null, SqlValue::Integer),
        Value::TinyUnsigned(v) => v.map_or(null, |n| SqlValue::Integer(n.into())),
        Value::SmallUnsigned(v) => v.map_or(null, |n| SqlValue::Integer(n.into())),
        Value::Unsigned(v) => v.map_or(null, |n| SqlValue::Integer(n.into())),
        Value::Double(v) => v.map_or(null, SqlValue::Real),
        Value::String(v) => v.as_ref().map_or(null, |s| SqlValue::Text(s.to_string())),
        Value::Bytes(v) => v.as_ref().map_or(null, |b| SqlValue::Blob(b.to_vec())),
        Value::Uuid(v) => v
            .as_ref()
            .map_or(null, |u| SqlValue::Blob(u.as_bytes().to_vec())),
        Value::ChronoDateTimeUtc(v) => v.as_ref().map_or(null, |t| {
            SqlValue::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        other => {
            return Err(DbErr::Custom(format!(
                "a {other:?} is not bound by reads on the calling thread"
            )));
        }
    })
}

/// The stored `raw` of column `name`, declared `ty`, as the value its model field reads.
fn value_of(name: &str, ty: &ColumnType, raw: ValueRef<'_>) -> Result<Value, DbErr> {
    let wrong = || {
        DbErr::Type(format!(
            "the column {name} holds a {:?} where a {ty:?} is declared",
            raw.data_type()
        ))
    };
    let null = matches!(raw, ValueRef::Null);
    Ok(match ty {
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => match raw {
            ValueRef::Text(t) => Value::from(std::str::from_utf8(t).map_err(|_| wrong())?),
            _ if null => Value::String(None),
            _ => return Err(wrong()),
        },
        ColumnType::Integer => match raw {
            ValueRef::Integer(n) => Value::Int(Some(i32::try_from(n).map_err(|_| wrong())?)),
            _ if null => Value::Int(None),
            _ => return Err(wrong()),
        },
        ColumnType::BigInteger => match raw {
            ValueRef::Integer(n) => Value::BigInt(Some(n)),
            _ if null => Value::BigInt(None),
            _ => return Err(wrong()),
        },
        ColumnType::Boolean => match raw {
            ValueRef::Integer(n) => Value::Bool(Some(n != 0)),
            _ if null => Value::Bool(None),
            _ => return Err(wrong()),
        },
        ColumnType::Uuid => match raw {
            // As sqlx reads one: its 16 bytes, never text.
            ValueRef::Blob(b) => Value::Uuid(Some(Box::new(
                uuid::Uuid::from_slice(b).map_err(|_| wrong())?,
            ))),
            _ if null => Value::Uuid(None),
            _ => return Err(wrong()),
        },
        ColumnType::TimestampWithTimeZone => match raw {
            ValueRef::Text(t) => Value::ChronoDateTimeUtc(Some(Box::new(
                std::str::from_utf8(t)
                    .ok()
                    .and_then(utc_time)
                    .ok_or_else(wrong)?,
            ))),
            _ if null => Value::ChronoDateTimeUtc(None),
            _ => return Err(wrong()),
        },
        _ => {
            return Err(DbErr::Type(format!(
                "the column {name}, a {ty:?}, is not read on the calling thread"
            )));
        }
    })
}

/// A time as sqlx writes one (RFC 3339), or as SQLite's `datetime()` and `CURRENT_TIMESTAMP`
/// do (`YYYY-MM-DD HH:MM:SS[.fff]`, UTC). sqlx reads more forms (numbers of seconds or Julian
/// days, other separators); the stores write none of them (every time is bound by sqlx, no
/// migration defaults one in SQL), and another form here is an error naming the column.
fn utc_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%F %T%.f", "%FT%T%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use sea_orm::entity::prelude::*;
    use sea_orm::{ConnectionTrait, QueryOrder, QueryTrait, Set};

    use crate::db::Database;
    use crate::settings::DatabaseSettings;

    /// Every column type the services' hot reads have, nullable and not.
    #[allow(unreachable_pub)] // the derive needs its items public
    mod row {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "rows")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: Uuid,
            pub name: String,
            pub note: Option<String>,
            pub version: i64,
            pub count: i32,
            pub flag: bool,
            pub created: DateTimeUtc,
            pub due: Option<DateTimeUtc>,
            pub other: Option<Uuid>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    fn settings() -> DatabaseSettings {
        DatabaseSettings {
            url: None,
            max_connections: 4,
            acquire_timeout_secs: 5,
            migrate_on_start: true,
        }
    }

    async fn database(dir: &tempfile::TempDir) -> Database {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        database_at(&url).await
    }

    async fn database_at(url: &str) -> Database {
        let db = Database::connect(url, &settings()).await.expect("opens");
        let schema = sea_orm::Schema::new(db.backend());
        db.conn()
            .execute(
                db.backend()
                    .build(&schema.create_table_from_entity(row::Entity)),
            )
            .await
            .expect("creates the table");
        db
    }

    async fn insert(db: &Database, m: &row::Model) {
        let active = row::ActiveModel {
            id: Set(m.id),
            name: Set(m.name.clone()),
            note: Set(m.note.clone()),
            version: Set(m.version),
            count: Set(m.count),
            flag: Set(m.flag),
            created: Set(m.created),
            due: Set(m.due),
            other: Set(m.other),
        };
        row::Entity::insert(active)
            .exec(db.conn())
            .await
            .expect("inserts");
    }

    fn model(n: u8, full: bool) -> row::Model {
        let time = chrono::DateTime::from_timestamp(1_700_000_000 + i64::from(n), 123_456_789)
            .expect("a time");
        row::Model {
            id: Uuid::from_bytes([n; 16]),
            name: format!("row {n} \u{e9}\u{1F4D6}"),
            note: full.then(|| "a note".to_owned()),
            version: i64::MAX - i64::from(n),
            count: -i32::from(n),
            flag: full,
            created: time,
            due: full.then_some(time),
            other: full.then(|| Uuid::from_bytes([255 - n; 16])),
        }
    }

    #[tokio::test]
    async fn rows_read_here_equal_the_pools() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let rows: Vec<row::Model> = (1..=6).map(|n| model(n, n % 2 == 0)).collect();
        for m in &rows {
            insert(&db, m).await;
        }
        // Each kind of bound value: UUIDs, text, integers, a time.
        let select = row::Entity::find()
            .filter(row::Column::Id.is_in(rows.iter().map(|r| r.id)))
            .filter(row::Column::Name.ne("nobody"))
            .filter(row::Column::Version.gt(0))
            .filter(row::Column::Created.gte(rows[0].created))
            .order_by_asc(row::Column::Id);
        let statement = select.build(db.backend());
        let pool = select.clone().all(db.conn()).await.expect("the pool reads");
        let inline = db.inline.as_ref().expect("a file has reads on this thread");
        let here = inline
            .select::<row::Entity>(&statement)
            .expect("reads on this thread, not through the pool");
        assert_eq!(pool, rows);
        assert_eq!(here, pool);
        let through = db
            .read_by_key::<row::Entity>(statement, rows.len())
            .await
            .expect("reads");
        assert_eq!(through, pool);
    }

    #[tokio::test]
    async fn a_write_is_seen_by_the_next_read_here() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let by_id = |id| row::Entity::find_by_id(id).build(db.backend());
        let first = model(7, true);
        assert!(
            db.read_by_key::<row::Entity>(by_id(first.id), 1)
                .await
                .expect("reads")
                .is_empty()
        );
        insert(
            &db,
            &row::Model {
                note: None,
                version: 1,
                count: 0,
                flag: false,
                due: None,
                other: None,
                ..first.clone()
            },
        )
        .await;
        let found = db
            .read_by_key::<row::Entity>(by_id(first.id), 1)
            .await
            .expect("reads");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, 1);
        row::Entity::update_many()
            .col_expr(row::Column::Version, Expr::value(2_i64))
            .exec(db.conn())
            .await
            .expect("updates");
        let found = db
            .read_by_key::<row::Entity>(by_id(first.id), 1)
            .await
            .expect("reads");
        assert_eq!(found[0].version, 2, "the cached statement sees the update");
    }

    #[tokio::test]
    async fn an_in_memory_database_is_read_through_the_pool() {
        // Its name is no file's: opening it here would fail every read.
        let db = database_at("sqlite::memory:").await;
        assert!(db.inline.is_none());
        let m = model(3, true);
        insert(&db, &m).await;
        let found = db
            .read_by_key::<row::Entity>(row::Entity::find_by_id(m.id).build(db.backend()), 1)
            .await
            .expect("reads through the pool");
        assert_eq!(found, vec![m]);
    }

    #[test]
    fn locks_are_told_apart_from_failures() {
        // In WAL mode a reader meets a lock only in moments no test can stage from inside
        // (recovery after a crash, a truncating checkpoint): what such a failure becomes is
        // checked here; `Database::read_by_key` then reads through the pool.
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            assert!(matches!(
                super::classify(&failure(code)),
                super::Unanswered::LeftToPool
            ));
        }
        let other = super::classify(&failure(rusqlite::ffi::SQLITE_CORRUPT));
        assert!(
            matches!(&other, super::Unanswered::Failed(e) if e.to_string().contains("malformed")),
            "{other}"
        );
    }

    #[tokio::test]
    async fn a_column_the_entity_does_not_declare_is_an_error() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let statement = sea_orm::Statement::from_string(
            db.backend(),
            "SELECT id, name, 1 AS surprise FROM rows",
        );
        db.conn()
            .execute_unprepared("INSERT INTO rows (id, name, version, count, flag, created) VALUES (x'00000000000000000000000000000001', 'a', 1, 1, 0, '2026-12-01 10:00:00')")
            .await
            .expect("inserts");
        let err = db
            .read_by_key::<row::Entity>(statement, 1)
            .await
            .expect_err("an undeclared column");
        assert!(err.to_string().contains("surprise"), "{err}");
        // A time in the form SQLite's own functions write reads as sqlx reads it.
        let here = db
            .read_by_key::<row::Entity>(
                sea_orm::Statement::from_string(db.backend(), "SELECT * FROM rows"),
                1,
            )
            .await
            .expect("reads");
        let pool = row::Entity::find().all(db.conn()).await.expect("reads");
        assert_eq!(here, pool);
        assert_eq!(here[0].created.to_rfc3339(), "2026-12-01T10:00:00+00:00");
    }
}
