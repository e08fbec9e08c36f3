//! One process of Imprint: the components its role runs, opened over their databases, their
//! gRPC services on one listener ([`crate::grpc`]), health and metrics on another, the edge's
//! public API on a third, and the run loop that stops them in order.
//!
//! `Application::build` does everything that can fail before serving (configuration is already
//! validated, ports are bound, databases opened and migrated), so a bad setting stops the
//! process before it takes traffic; `run_until_stopped` then serves until the token is
//! cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imprint_platform::clients::Local;
use imprint_platform::listen::bind;
use imprint_platform::observe::RequestMetrics;
use imprint_platform::server::{Check, Health};
use imprint_platform::settings::ServiceKey;
use imprint_platform::signing::{Signer, SigningError};
use imprint_platform::{Database, Settings, db};
use imprint_runtime::{Assembled, Component, Context, Events, Exposition, Peers, PublicListener};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::grpc::{self, ServeGrpc};

/// Which services a process runs (not to be confused with an editor's role,
/// [`imprint_platform::auth::Role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProcessRole {
    /// Every service in one process: the embedded default.
    All,
    /// Only the papers service.
    Papers,
    /// Only the authors service.
    Authors,
    /// Only the recommendations service (related publications and search).
    Recommendations,
    /// The public edge: forwards the gRPC services to the roles that own them.
    Gateway,
}

impl ProcessRole {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Papers => "papers",
            Self::Authors => "authors",
            Self::Recommendations => "recommendations",
            Self::Gateway => "gateway",
        }
    }

    /// The components it runs, in the order they open: the one list of what each role is.
    pub fn components(self) -> &'static [&'static dyn Component] {
        static ALL: [&dyn Component; 4] = [
            &imprint_papers::COMPONENT,
            &imprint_authors::COMPONENT,
            &imprint_recommendations::COMPONENT,
            &imprint_gateway::COMPONENT,
        ];
        match self {
            Self::All => &ALL,
            Self::Papers => &ALL[0..1],
            Self::Authors => &ALL[1..2],
            Self::Recommendations => &ALL[2..3],
            Self::Gateway => &ALL[3..4],
        }
    }

    /// Whether it runs `service`.
    pub fn runs(self, service: ServiceKey) -> bool {
        self.components().iter().any(|c| c.key() == service)
    }

    /// Whether callers from outside reach this process's gRPC API: then every call is
    /// authenticated. The single-service roles sit behind a gateway on the cluster network.
    fn is_edge(self) -> bool {
        self.runs(ServiceKey::Gateway)
    }
}

/// Why the application could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A setting is missing or contradicts the role.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] imprint_platform::listen::BindError),
    /// A database could not be opened.
    #[error(transparent)]
    Database(#[from] db::ConnectError),
    /// Migrations failed.
    #[error("migrating the {service} database: {source}")]
    Migration {
        /// Which service.
        service: ServiceKey,
        /// Why.
        source: sea_orm::DbErr,
    },
    /// A service could not be opened.
    #[error(transparent)]
    Open(#[from] imprint_runtime::OpenError),
    /// The server failed while running.
    #[error(transparent)]
    Serve(#[from] imprint_platform::server::ServeError),
    /// gRPC reflection could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The demo content could not be loaded.
    #[error("loading the demo: {0}")]
    Demo(#[from] crate::demo::DemoError),
    /// An import stopped.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// An evaluation could not run.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// A keys command failed.
    #[error(transparent)]
    Keys(#[from] crate::keys_command::KeysError),
    /// The broker failed an events command.
    #[error(transparent)]
    Broker(#[from] imprint_events::rabbit::BrokerError),
    /// Writing to a service's store failed.
    #[error(transparent)]
    Write(#[from] imprint_platform::store::WriteError),
    /// No key to sign tokens with.
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// The keys of every token this process hands out or takes back: configured, or in the
/// embedded default a key kept in the data directory (one process holds every role, so nothing
/// else must agree with it).
fn signer(settings: &Settings, role: ProcessRole) -> Result<Signer, AppError> {
    if !settings.signing.keys.is_empty() {
        return Ok(Signer::new(&settings.signing.keys)?);
    }
    if role == ProcessRole::All {
        return Ok(Signer::from_file_in(&settings.data_dir)?);
    }
    Err(SigningError::Missing(role.name()).into())
}

/// Without a broker, events travel inside the process: they would never reach a role running
/// elsewhere, nor a consumer switched off here.
fn check_broker(settings: &Settings, role: ProcessRole) -> Result<(), AppError> {
    if settings.amqp.url.is_some() {
        return Ok(());
    }
    if matches!(
        role,
        ProcessRole::Papers | ProcessRole::Authors | ProcessRole::Recommendations
    ) {
        return Err(AppError::Config(format!(
            "amqp.url is required with --role {}: events reach the other roles through RabbitMQ",
            role.name()
        )));
    }
    if !settings.events.consume && role == ProcessRole::All {
        return Err(AppError::Config(
            "events.consume=false needs amqp.url: without a broker this process is the only consumer".to_owned(),
        ));
    }
    Ok(())
}

/// A started, not yet serving, Imprint process.
pub struct Application {
    /// Bound gRPC listener.
    grpc_listener: TcpListener,
    /// Bound HTTP listener.
    http_listener: TcpListener,
    /// Where the gRPC listener really is (port 0 resolved).
    grpc_addr: SocketAddr,
    /// Where the HTTP listener really is.
    http_addr: SocketAddr,
    /// Serves the gRPC services on a listener until a signal.
    serve_grpc: ServeGrpc,
    /// Readiness and gRPC health.
    health: Health,
    /// The components' databases, to close at the end and for `/metrics`.
    databases: Vec<(ServiceKey, Database)>,
    /// Requests served, for metrics.
    requests: Arc<RequestMetrics>,
    /// Relays, consumers and watchers to start with the servers.
    events: Events,
    /// What the components add: tasks to run while serving, lines of `/metrics`, the public
    /// listener of the edge.
    parts: Running,
    /// Settings, for shutdown timings.
    settings: Settings,
}

/// What the components run beside their gRPC services.
struct Running {
    tasks: Vec<imprint_runtime::Task>,
    expositions: Vec<Exposition>,
    public: Option<PublicListener>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds, connects, migrates and opens the components of `role`.
    pub async fn build(settings: Settings, role: ProcessRole) -> Result<Self, AppError> {
        check_broker(&settings, role)?;
        let signer = signer(&settings, role)?;
        let (grpc_listener, grpc_addr) = bind("gRPC", settings.server.grpc_addr).await?;
        let (http_listener, http_addr) = bind("HTTP", settings.server.http_addr).await?;
        // At the edge every call is authenticated, the process's own calls between its
        // services too: with a token that lives only as long as the process.
        let token = role.is_edge().then(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        });
        let local = Local::new();
        let here: Vec<ServiceKey> = role.components().iter().map(|c| c.key()).collect();
        let peers = Peers::new(&settings, role.name(), &here, local.clone(), token.clone());
        let requests = Arc::new(RequestMetrics::default());
        let mut events = Events::new(&settings, role.name());
        let mut cx = Context::new(&settings, &signer, &peers, &mut events, &requests);
        let databases = open_components(role, &settings, &mut cx).await?;
        let mut assembled = cx.assembled();
        if events.has_broker() {
            assembled
                .checks
                .push(("broker".to_owned(), broker_check(&events)));
        }
        let edge = token
            .as_deref()
            .map(|t| imprint_gateway::EdgeLayers::new(&settings, t))
            .transpose()?;
        let Assembled {
            routes,
            names,
            checks,
            tasks,
            expositions,
            public,
        } = assembled;
        let services = grpc::Services {
            routes,
            names,
            checks,
        };
        let (health, serve_grpc) =
            grpc::assemble(services, edge, &requests, &local, &settings.server)?;
        health.set_ready(false).await;
        Ok(Self {
            grpc_listener,
            http_listener,
            grpc_addr,
            http_addr,
            serve_grpc,
            health,
            databases,
            requests,
            events,
            parts: Running {
                tasks,
                expositions,
                public,
            },
            settings,
        })
    }

    /// The gRPC address actually bound.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The HTTP address actually bound.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The public API's address, at the edge.
    pub fn public_addr(&self) -> Option<SocketAddr> {
        self.parts.public.as_ref().map(|p| p.addr)
    }

    /// Serves until `shutdown` is cancelled, then stops gracefully: the listeners (public,
    /// then gRPC and health), then the relays, consumers and tasks, then the databases.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let Self {
            grpc_listener,
            http_listener,
            grpc_addr,
            http_addr,
            serve_grpc,
            health,
            databases,
            requests,
            events,
            parts,
            settings,
        } = self;
        let metrics = Metrics {
            events: events.metrics.clone(),
            requests,
            pools: databases.clone(),
            expositions: Arc::new(parts.expositions),
        };
        let stop_events = CancellationToken::new();
        let mut event_tasks = events.start(&stop_events);
        for task in parts.tasks {
            event_tasks.spawn(task(stop_events.clone()));
        }
        let stop_public = CancellationToken::new();
        let public_task = parts.public.map(|p| {
            tracing::info!(addr = %p.addr, "public API");
            tokio::spawn(imprint_platform::listen::serve_http(
                p.listener,
                p.router,
                http_limits(&settings),
                stop_public.clone(),
            ))
        });
        health.set_ready(true).await;
        tracing::info!(%grpc_addr, %http_addr, "serving");
        let http = health.router().route("/metrics", metrics.route());
        let outcome = imprint_platform::server::run(
            move |signal| serve_grpc(grpc_listener, signal),
            http_listener,
            http,
            http_limits(&settings),
            health.clone(),
            shutdown,
            &settings.server,
        )
        .await;
        stop_public.cancel();
        if let Some(task) = public_task {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "public API server"),
                Ok(Err(e)) => tracing::warn!(error = %e, "public API server task"),
                Err(_) => tracing::warn!("public API requests still running after 10s"),
            }
        }
        stop_background(stop_events, event_tasks).await;
        for (_, db) in &databases {
            db.close().await;
        }
        tracing::info!("stopped");
        Ok(outcome?)
    }
}

/// Opens the database of each component of `role` (migrating it when the settings say so),
/// with its readiness check, and the component over it.
async fn open_components(
    role: ProcessRole,
    settings: &Settings,
    cx: &mut Context<'_>,
) -> Result<Vec<(ServiceKey, Database)>, AppError> {
    let mut databases = Vec::new();
    for component in role.components() {
        let db = open_service(*component, settings, settings.database.migrate_on_start).await?;
        cx.check(
            format!("{} database", component.key()),
            component.migrated(&db),
        );
        databases.push((component.key(), db.clone()));
        component.open(db, cx).await?;
    }
    Ok(databases)
}

/// Readiness: the broker connections this process consumes and watches through are up.
fn broker_check(events: &Events) -> Check {
    let metrics = events.metrics.clone();
    Arc::new(move || {
        Box::pin(std::future::ready(metrics.broker_ready()))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
    })
}

/// Calls are done: no new events will be written. Lets relays, consumers and the components'
/// tasks finish the batch or delivery in hand (whatever is unsent or unacknowledged is sent
/// again later), at most 10 s.
async fn stop_background(stop: CancellationToken, mut tasks: tokio::task::JoinSet<()>) {
    stop.cancel();
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("event relays and consumers still busy after 10s; stopping them");
        tasks.abort_all();
    }
}

/// How this process's HTTP listeners treat connections: the header-read timeout of the
/// settings, and the public API's JSON for requests nobody could read.
fn http_limits(settings: &Settings) -> imprint_platform::listen::HttpLimits {
    imprint_platform::listen::HttpLimits {
        header_read_timeout: Duration::from_secs(settings.server.header_read_timeout_secs),
        drain: Duration::from_secs(settings.server.shutdown_grace_secs),
        unreadable: Arc::new(imprint_gateway::public::unreadable),
    }
}

/// Everything `/metrics` shows.
#[derive(Clone)]
struct Metrics {
    events: imprint_events::EventMetrics,
    requests: Arc<RequestMetrics>,
    pools: Vec<(ServiceKey, Database)>,
    expositions: Arc<Vec<Exposition>>,
}

impl Metrics {
    /// The `/metrics` route.
    fn route(self) -> axum::routing::MethodRouter {
        axum::routing::get(move || {
            let text = self.exposition();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
            }
        })
    }

    /// In the Prometheus text format.
    fn exposition(&self) -> String {
        use imprint_platform::metrics::sample;
        let mut text = self.events.prometheus();
        text.push_str(&self.requests.prometheus());
        let mut in_use = Vec::new();
        let mut idle = Vec::new();
        let mut max = Vec::new();
        for (service, db) in &self.pools {
            let (size, idle_now, most) = db.pool_use();
            let label = format!("service=\"{service}\"");
            in_use.push((label.clone(), f64::from(size.saturating_sub(idle_now))));
            idle.push((label.clone(), f64::from(idle_now)));
            max.push((label, f64::from(most)));
        }
        fn refs(v: &[(String, f64)]) -> Vec<(&str, f64)> {
            v.iter().map(|(l, x)| (l.as_str(), *x)).collect()
        }
        for (name, help, values) in [
            (
                "imprint_db_pool_connections_in_use",
                "Database connections lent out to queries now.",
                &in_use,
            ),
            (
                "imprint_db_pool_connections_idle",
                "Open database connections waiting for a query.",
                &idle,
            ),
            (
                "imprint_db_pool_connections_max",
                "Most database connections the pool opens (database.max_connections).",
                &max,
            ),
        ] {
            sample(&mut text, name, "gauge", help, &refs(values));
        }
        for expose in self.expositions.iter() {
            expose(&mut text);
        }
        text
    }
}

/// Runs every pending migration of the services of `role`, then returns.
pub async fn migrate(settings: &Settings, role: ProcessRole) -> Result<(), AppError> {
    for component in role.components() {
        open_service(*component, settings, true)
            .await?
            .close()
            .await;
        tracing::info!("{} database migrated", component.key());
    }
    Ok(())
}

/// Opens the database of `component` and, when `migrate`, applies its pending migrations.
pub async fn open_service(
    component: &dyn Component,
    settings: &Settings,
    migrate: bool,
) -> Result<Database, AppError> {
    let service = component.key();
    let url = settings.database_url_for(service);
    let db = Database::connect(&url, &settings.database).await?;
    tracing::info!(%service, url = %db::redact(&url), "database open");
    if migrate {
        component
            .migrate(&db)
            .await
            .map_err(|source| AppError::Migration { service, source })?;
    }
    Ok(db)
}
