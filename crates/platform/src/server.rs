//! Serving: the gRPC listener and the HTTP listener for `/healthz` and `/readyz`, gRPC health
//! (`grpc.health.v1`) kept in step with readiness, and graceful shutdown: on the signal, health
//! turns NOT_SERVING, new work stops, in-flight calls finish within the grace period, exit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::db::Database;
use crate::settings::ServerSettings;

/// A readiness probe: `Ok` when the dependency answers.
pub type Check =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send>> + Send + Sync>;

/// Why a dependency is not ready; `/readyz` shows it beside the dependency's name.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The database does not answer.
    #[error("{0}")]
    Database(#[from] sea_orm::DbErr),
    /// The applied migrations could not be read.
    #[error("reading the applied migrations: {0}")]
    MigrationsUnread(sea_orm::DbErr),
    /// Migrations are still to run.
    #[error("{pending} migrations pending (run `imprint migrate`), the first {first}")]
    MigrationsPending {
        /// How many.
        pending: usize,
        /// The name of the first.
        first: String,
    },
    /// Broker connections that have not come up once since start.
    #[error("{down} of {of} RabbitMQ connections not up yet (see the log for why)")]
    BrokerDown {
        /// Not up yet.
        down: i64,
        /// In all.
        of: i64,
    },
}

/// Why serving stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Grpc(String),
    /// Its task panicked or was cancelled.
    #[error("gRPC server task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What health endpoints report: liveness is the process answering; readiness needs start-up
/// done, no shutdown under way, and every check passing.
#[derive(Clone)]
pub struct Health {
    /// gRPC health statuses, per service name and overall ("").
    reporter: HealthReporter,
    /// The gRPC services this process serves, by full name.
    services: Arc<Vec<String>>,
    /// Set after start-up (migrations done), cleared when shutdown begins.
    ready: Arc<AtomicBool>,
    /// Named dependency checks run by `/readyz`.
    checks: Arc<Vec<(String, Check)>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("services", &self.services)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// Health for `services`, starting not ready.
    pub fn new(
        reporter: HealthReporter,
        services: Vec<String>,
        checks: Vec<(String, Check)>,
    ) -> Self {
        Self {
            reporter,
            services: Arc::new(services),
            ready: Arc::new(AtomicBool::new(false)),
            checks: Arc::new(checks),
        }
    }

    /// A check that pings `db`.
    pub fn database_check(db: &Database) -> Check {
        let db = db.clone();
        Arc::new(move || {
            let db = db.clone();
            Box::pin(async move { db.ping().await.map_err(NotReady::from) })
        })
    }

    /// The database answers and holds every migration of `M`: a role started before its
    /// migrations ran (`imprint migrate`, the Kubernetes Job) is not ready until they have.
    /// Once they are all there the check only pings: migrations are not undone under a
    /// running process.
    pub fn migrations_check<M: sea_orm_migration::MigratorTrait>(db: &Database) -> Check {
        let db = db.clone();
        let migrated = Arc::new(AtomicBool::new(false));
        Arc::new(move || {
            let db = db.clone();
            let migrated = migrated.clone();
            Box::pin(async move {
                db.ping().await?;
                if migrated.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let pending = M::get_pending_migrations(db.conn())
                    .await
                    .map_err(NotReady::MigrationsUnread)?;
                if pending.is_empty() {
                    migrated.store(true, Ordering::Relaxed);
                    Ok(())
                } else {
                    Err(NotReady::MigrationsPending {
                        pending: pending.len(),
                        first: pending[0].name().to_owned(),
                    })
                }
            })
        })
    }

    /// Marks the process ready or not, in gRPC health too.
    pub async fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for name in self.services.iter() {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Whether start-up is done and no shutdown is under way.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// `/healthz` (the process answers) and `/readyz` (it should get traffic).
    pub fn router(&self) -> axum::Router {
        let health = self.clone();
        axum::Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route(
                "/readyz",
                get(move || {
                    let health = health.clone();
                    async move { health.readiness().await }
                }),
            )
    }

    async fn readiness(&self) -> Response {
        let mut failures = serde_json::Map::new();
        if !self.is_ready() {
            failures.insert(
                "process".to_owned(),
                "starting or shutting down".to_owned().into(),
            );
        }
        for (name, check) in self.checks.iter() {
            let outcome = tokio::time::timeout(Duration::from_secs(2), check()).await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failures.insert(name.clone(), e.to_string().into());
                }
                Err(_) => {
                    failures.insert(name.clone(), "no answer within 2s".to_owned().into());
                }
            }
        }
        if failures.is_empty() {
            (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))).into_response()
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "not ready", "failures": failures})),
            )
                .into_response()
        }
    }
}

/// Resolves when SIGTERM or SIGINT arrives, or when `token` is cancelled by the caller.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let terminate = async {
            #[cfg(unix)]
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
            #[cfg(not(unix))]
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = terminate => tracing::info!("SIGTERM received; shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received; shutting down"),
            () = token.cancelled() => return,
        }
        token.cancel();
    });
}

/// Runs the gRPC server produced by `grpc` (given the future that tells it to stop) and the
/// health HTTP server until `shutdown` is cancelled, then shuts down in order: not ready, wait
/// `shutdown_delay`, stop accepting, let in-flight calls finish (at most `shutdown_grace`).
#[allow(clippy::too_many_arguments)] // The parts of one process, each its own kind.
pub async fn run<G, GF, E>(
    grpc: G,
    http_listener: TcpListener,
    http: axum::Router,
    limits: crate::listen::HttpLimits,
    health: Health,
    shutdown: CancellationToken,
    settings: &ServerSettings,
) -> Result<(), ServeError>
where
    G: FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>) -> GF,
    GF: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let delay = Duration::from_secs(settings.shutdown_delay_secs);
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let stop_http = CancellationToken::new();
    let http_task = tokio::spawn(crate::listen::serve_http(
        http_listener,
        http,
        limits,
        stop_http.clone(),
    ));
    let signal = {
        let shutdown = shutdown.clone();
        let health = health.clone();
        Box::pin(async move {
            shutdown.cancelled().await;
            health.set_ready(false).await;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            tracing::info!("no longer accepting calls; finishing the ones in flight");
        }) as Pin<Box<dyn Future<Output = ()> + Send>>
    };
    let grpc_task = tokio::spawn(grpc(signal));
    let abort = grpc_task.abort_handle();
    let outcome = tokio::select! {
        joined = grpc_task => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServeError::Grpc(e.to_string())),
            Err(e) => Err(ServeError::Task(e)),
        },
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(delay + grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "calls still running after the grace period; stopping anyway");
            abort.abort();
            Ok(())
        }
    };
    stop_http.cancel();
    match http_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "health HTTP server"),
        Err(e) => tracing::warn!(error = %e, "health HTTP server task"),
    }
    outcome
}
