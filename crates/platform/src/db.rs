//! Database connections for sea-orm on PostgreSQL (production) and SQLite (the embedded
//! default), with the settings each needs to be safe under concurrent use, and migrations that
//! several replicas may start at once.

mod inline;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, RuntimeErr, SqlErr, SqlxPostgresConnector, SqlxSqliteConnector, Statement,
    StatementBuilder, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::settings::DatabaseSettings;

/// The most keys a read runs with on the caller's thread: a page's byline or terms, not a
/// batch (a runtime thread must not be held by a read of hundreds of rows).
pub const INLINE_KEYS: usize = 32;

/// How long start-up keeps retrying a database that refuses connections (it may be starting
/// beside us, as in compose or Kubernetes).
const CONNECT_RETRY_FOR: Duration = Duration::from_secs(30);

/// A connection pool, plus a writer lock on SQLite.
#[derive(Debug, Clone)]
pub struct Database {
    /// The sea-orm pool.
    conn: DatabaseConnection,
    /// SQLite allows one writer at a time; a deferred transaction that reads, then writes, can
    /// fail with SQLITE_BUSY when another writer got in between. Serialising writers in the
    /// process (the only one using the file) avoids that. One lock per file, shared by every
    /// pool on it (services may share a file). `None` on PostgreSQL.
    write_lock: Option<Arc<Mutex<()>>>,
    /// How long a write waits for the writer lock before answering UNAVAILABLE.
    write_wait: Duration,
    /// The PostgreSQL pool itself, for what sea-orm does not offer (session advisory locks).
    postgres: Option<sqlx::PgPool>,
    /// Reads by key on the caller's thread, on a SQLite file.
    inline: Option<Arc<inline::InlineReads>>,
}

/// The writer lock of the SQLite file at `key`, shared by every pool of this process on it.
fn sqlite_writer_lock(key: std::path::PathBuf) -> Arc<Mutex<()>> {
    static LOCKS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Arc<Mutex<()>>>>,
    > = std::sync::OnceLock::new();
    let locks = LOCKS.get_or_init(Default::default);
    let mut locks = locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(locks.entry(key).or_default())
}

/// A write transaction; on SQLite it holds the writer lock until it ends. End it with
/// [`WriteTx::finish`]. One that is dropped instead (its request was cancelled) is rolled back
/// by a task of its own, which releases the lock only afterwards.
#[derive(Debug)]
pub struct WriteTx {
    /// The transaction; taken when it ends.
    tx: Option<DatabaseTransaction>,
    /// Released once the transaction has ended.
    guard: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        match &self.tx {
            Some(tx) => tx,
            // `tx` is taken only by `finish` (which consumes the value) and by `drop`.
            None => unreachable!("a finished WriteTx is never used"),
        }
    }
}

impl WriteTx {
    /// Commits when `result` is `Ok`, rolls back when it is an error, and only then releases
    /// the writer lock. (A transaction merely dropped is rolled back later, when its connection
    /// is next used; on SQLite it would still hold the file's write lock when the next writer
    /// starts, which then fails with "database is locked".)
    pub async fn finish<T, E: From<DbErr>>(mut self, result: Result<T, E>) -> Result<T, E> {
        let guard = self.guard.take();
        let Some(tx) = self.tx.take() else {
            return result;
        };
        let outcome = match result {
            Ok(value) => tx.commit().await.map(|()| value).map_err(E::from),
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed write");
                }
                Err(e)
            }
        };
        drop(guard);
        outcome
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let guard = self.guard.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "rolling back an abandoned write");
                }
                drop(guard);
            });
        }
    }
}

/// Why no database could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL cannot be used.
    #[error("database URL '{url}': {reason}")]
    BadUrl {
        /// The URL, without its password.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The database did not answer.
    #[error("cannot connect to {url}: {source}")]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// The last error.
        source: sqlx::Error,
    },
}

impl Database {
    /// Opens a pool for `url` (`postgres://…` or `sqlite://…`). SQLite files and their
    /// directories are created when missing.
    pub async fn connect(url: &str, settings: &DatabaseSettings) -> Result<Self, ConnectError> {
        let shown = redact(url);
        let bad = |reason: String| ConnectError::BadUrl {
            url: shown.clone(),
            reason,
        };
        let acquire = Duration::from_secs(settings.acquire_timeout_secs.max(1));
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| bad(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let file = options.get_filename().to_path_buf();
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    bad(format!(
                        "cannot create the directory {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            let writer = match (file.parent(), file.file_name()) {
                (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => {
                    std::fs::canonicalize(dir)
                        .unwrap_or_else(|_| dir.to_path_buf())
                        .join(name)
                }
                _ => std::path::PathBuf::from(url),
            };
            // No ping before each use: an embedded file's connection cannot be cut from the
            // other end, and each ping is a round trip to the connection's worker thread, as
            // dear as the query it precedes.
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(acquire)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(|source| ConnectError::Unreachable {
                    url: shown.clone(),
                    source,
                })?;
            // Reads here need the file's own path (the pool has made the file by now); an
            // in-memory database has none.
            let inline = std::fs::canonicalize(&file)
                .ok()
                .filter(|path| path.is_file())
                .map(|path| Arc::new(inline::InlineReads::new(path)));
            Ok(Self {
                conn: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
                inline,
                write_lock: Some(sqlite_writer_lock(writer)),
                write_wait: acquire,
                postgres: None,
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))?;
            let started = Instant::now();
            let mut delay = Duration::from_millis(200);
            let pool = loop {
                let attempt = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(acquire)
                    .connect_with(options.clone())
                    .await;
                match attempt {
                    Ok(pool) => break pool,
                    Err(e) if is_transient(&e) && started.elapsed() < CONNECT_RETRY_FOR => {
                        tracing::warn!(url = %shown, error = %e, "database not reachable yet; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(3));
                    }
                    Err(source) => {
                        return Err(ConnectError::Unreachable {
                            url: shown.clone(),
                            source,
                        });
                    }
                }
            };
            Ok(Self {
                conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone()),
                write_lock: None,
                write_wait: acquire,
                postgres: Some(pool),
                inline: None,
            })
        } else {
            Err(bad("use postgres://… or sqlite://…".to_owned()))
        }
    }

    /// The pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The rows of `E` that `statement` selects by `keys` keys (a paper by slug: 1; a byline's
    /// authors: one each). On a SQLite file a read of at most [`INLINE_KEYS`] keys runs on this
    /// thread, without the hand-off to a pool connection's thread (see [`inline`]); larger reads,
    /// reads on PostgreSQL, and reads of a file that is locked go through the pool.
    pub async fn read_by_key<E>(
        &self,
        statement: Statement,
        keys: usize,
    ) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: FromQueryResult + Send + Sync,
    {
        if let Some(inline) = self.inline.as_ref().filter(|_| keys <= INLINE_KEYS) {
            match inline.select::<E>(&statement) {
                Ok(rows) => return Ok(rows),
                Err(inline::Unanswered::LeftToPool) => {}
                Err(inline::Unanswered::Failed(e)) => return Err(e),
            }
        }
        E::find().from_raw_sql(statement).all(&self.conn).await
    }

    /// The PostgreSQL pool, when this is PostgreSQL.
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        self.postgres.as_ref()
    }

    /// How the pool is used right now: (connections open, of them idle, most allowed).
    pub fn pool_use(&self) -> (u32, u32, u32) {
        if let Some(pool) = &self.postgres {
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            return (pool.size(), idle, pool.options().get_max_connections());
        }
        let pool = self.conn.get_sqlite_connection_pool();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        (pool.size(), idle, pool.options().get_max_connections())
    }

    /// Which SQL dialect this is.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Begins a write transaction (after taking the writer lock on SQLite, waiting at most the
    /// pool's acquire timeout, like a connection).
    pub async fn begin_write(&self) -> Result<WriteTx, DbErr> {
        let guard = match &self.write_lock {
            Some(lock) => Some(
                tokio::time::timeout(self.write_wait, Arc::clone(lock).lock_owned())
                    .await
                    .map_err(|_| DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout))?,
            ),
            None => None,
        };
        let tx = self.conn.begin().await?;
        Ok(WriteTx {
            tx: Some(tx),
            guard,
        })
    }

    /// One round trip, for readiness.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Applies pending migrations of `M`. On PostgreSQL they run in one transaction under an
    /// advisory lock keyed by the migration table, so replicas starting together take turns and
    /// the second finds nothing left to do.
    pub async fn migrate<M: MigratorTrait>(&self) -> Result<(), DbErr> {
        match self.backend() {
            DbBackend::Postgres => {
                let tx = self.conn.begin().await?;
                let key = advisory_key(&M::migration_table_name().to_string());
                tx.execute(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock($1)",
                    [key.into()],
                ))
                .await?;
                M::up(&tx, None).await?;
                tx.commit().await
            }
            _ => {
                let _guard = match &self.write_lock {
                    Some(lock) => Some(Arc::clone(lock).lock_owned().await),
                    None => None,
                };
                // One connection for the whole run, in one transaction (SQLite changes schemas
                // transactionally): a migration of several steps never sees another
                // connection's older schema, and one that fails leaves nothing half done.
                let tx = self.conn.begin().await?;
                M::up(&tx, None).await?;
                tx.commit().await
            }
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        if let Some(inline) = &self.inline {
            inline.close();
        }
        if let Err(e) = self.conn.clone().close().await {
            tracing::debug!(error = %e, "closing the database pool");
        }
    }
}

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A unique index of a table, as a violation of it is reported: PostgreSQL names the index
/// (SQLSTATE 23505 with its constraint name); SQLite names no index, only its columns
/// (`UNIQUE constraint failed: papers.external_id`, the one form its message takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueIndex {
    /// The index's name, as the migration created it.
    pub name: &'static str,
    /// Its table.
    pub table: &'static str,
    /// Its columns, in order.
    pub columns: &'static [&'static str],
}

/// The unique indexes of a store that mean something to its callers (a slug taken, an
/// external id held by another row), each a variant.
pub trait UniqueKey: Copy + 'static {
    /// Every one.
    const ALL: &'static [Self];
    /// The index it is.
    fn index(self) -> UniqueIndex;
}

/// Which of `K`'s indexes `err` violates; `None` when it is no unique violation or one of an
/// index `K` does not name (which is then a plain database error, not a user's mistake).
pub fn violated<K: UniqueKey>(err: &DbErr) -> Option<K> {
    let db = match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => db,
        _ => return None,
    };
    if db.kind() != sqlx::error::ErrorKind::UniqueViolation {
        return None;
    }
    if let Some(name) = db.constraint() {
        return K::ALL.iter().copied().find(|k| k.index().name == name);
    }
    let columns: Vec<&str> = db
        .message()
        .strip_prefix("UNIQUE constraint failed: ")?
        .split(", ")
        .collect();
    K::ALL.iter().copied().find(|k| {
        let index = k.index();
        columns.len() == index.columns.len()
            && columns
                .iter()
                .zip(index.columns)
                .all(|(reported, column)| reported.split_once('.') == Some((index.table, column)))
    })
}

fn is_transient(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
        || matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("57P03"))
}

/// A stable 64-bit key for a PostgreSQL advisory lock named `name` (FNV-1a).
pub fn advisory_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The URL with any password replaced, for logs and messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The SQL of statements whose shape is fixed, rendered once per backend and shape. Rendering a
/// select of a whole row with sea-query costs about what SQLite takes to answer it by key, and
/// the hottest reads (a paper by slug, a page's authors) would pay it on every call.
#[derive(Debug, Default)]
pub struct RenderedSql(std::sync::Mutex<std::collections::HashMap<(u8, usize), Arc<str>>>);

impl RenderedSql {
    /// A cache with nothing rendered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The statement `build` makes for `shape` on `backend`, with `values` bound in place of
    /// the values it binds: `values` must be exactly those, in order (each use has a test that
    /// compares the two). `build` runs only the first time a shape is asked for.
    pub fn statement<S: StatementBuilder>(
        &self,
        backend: DbBackend,
        shape: usize,
        build: impl FnOnce() -> S,
        values: Vec<sea_orm::Value>,
    ) -> Statement {
        let key = (backend_index(backend), shape);
        let cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        let sql = cached.unwrap_or_else(|| {
            let sql: Arc<str> = StatementBuilder::build(&build(), &backend).sql.into();
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key, sql.clone());
            sql
        });
        Statement::from_sql_and_values(backend, sql.as_ref(), values)
    }
}

fn backend_index(backend: DbBackend) -> u8 {
    match backend {
        DbBackend::Postgres => 0,
        DbBackend::Sqlite => 1,
        DbBackend::MySql => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn lock_keys_are_stable() {
        assert_eq!(
            advisory_key("papers_migrations"),
            advisory_key("papers_migrations")
        );
        assert_ne!(
            advisory_key("papers_migrations"),
            advisory_key("authors_migrations")
        );
    }
}
