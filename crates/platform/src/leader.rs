//! Leadership among replicas for work that must be done by one of them at a time (relaying an
//! outbox, firing schedules). On PostgreSQL, a session advisory lock held on a connection of its
//! own: one replica leads, the others wait and take over when its connection drops. SQLite is
//! used by one process only, which always leads.

use crate::Database;

/// One replica's claim to lead the work named at [`Leadership::new`].
pub struct Leadership {
    /// The PostgreSQL pool, when on PostgreSQL.
    pool: Option<sqlx::PgPool>,
    /// The connection holding the lock, while leading; detached from the pool, so that the
    /// lock goes when the connection does.
    held: Option<sqlx::PgConnection>,
    /// The lock key.
    key: i64,
    /// What is led, for logs.
    name: String,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("name", &self.name)
            .field("leading", &(self.pool.is_none() || self.held.is_some()))
            .finish_non_exhaustive()
    }
}

impl Leadership {
    /// Leadership of the work `name` over `db` (every replica must use the same name).
    pub fn new(db: &Database, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            pool: db.postgres_pool().cloned(),
            held: None,
            key: crate::db::advisory_key(&name),
            name,
        }
    }

    /// Whether this process leads now, trying to become leader when it does not.
    pub async fn ensure(&mut self) -> bool {
        let Some(pool) = &self.pool else {
            return true;
        };
        if let Some(conn) = self.held.as_mut() {
            if sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok() {
                return true;
            }
            tracing::warn!(work = %self.name, "lost the leader lock's connection");
            self.held = None;
        }
        let Ok(mut conn) = pool.acquire().await else {
            return false;
        };
        let locked: Result<bool, sqlx::Error> =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(self.key)
                .fetch_one(&mut *conn)
                .await;
        if matches!(locked, Ok(true)) {
            tracing::info!(work = %self.name, "leading");
            // The lock lives as long as this connection: keep it out of the pool.
            self.held = Some(conn.detach());
            true
        } else {
            false
        }
    }
}
