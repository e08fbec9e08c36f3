//! Composition of the roles into one process: listeners, databases, migrations, the gRPC server
//! with health and reflection, and the run loop that stops gracefully.
//!
//! `Application::build` does everything that can fail before serving (configuration is already
//! validated, ports are bound, databases opened and migrated), so a bad setting stops the
//! process before it takes traffic; `run_until_stopped` then serves until the token is
//! cancelled.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use imprint_gateway::cache::Cache;
use imprint_gateway::forward::ForwardedService;
use imprint_gateway::public::{PublicApi, Site};
use imprint_gateway::{
    AuthLayer, Authenticator, AuthorsForward, PapersForward, RecommendationsForward,
};
use imprint_platform::observe::{ObserveLayer, RequestMetrics};
use imprint_platform::server::{Check, Health};
use imprint_platform::settings::ServiceSettings;
use imprint_platform::signing::{Signer, SigningError};
use imprint_platform::{Database, Settings, clients, db};
use imprint_proto::gateway::partner_key_service_server::PartnerKeyServiceServer;
use imprint_proto::gateway::publication_page_service_server::PublicationPageServiceServer;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::wiring::Events;

/// Which services this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
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

impl Role {
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

    fn runs_papers(self) -> bool {
        matches!(self, Self::All | Self::Papers)
    }

    fn runs_authors(self) -> bool {
        matches!(self, Self::All | Self::Authors)
    }

    fn runs_recommendations(self) -> bool {
        matches!(self, Self::All | Self::Recommendations)
    }

    /// Whether callers from outside reach this process's gRPC API: then every call is
    /// authenticated. The single-service roles sit behind a gateway on the cluster network.
    fn is_edge(self) -> bool {
        matches!(self, Self::All | Self::Gateway)
    }
}

/// Why the application could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A setting is missing or contradicts the role.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A database could not be opened.
    #[error(transparent)]
    Database(#[from] db::ConnectError),
    /// Migrations failed.
    #[error("migrating the {service} database: {source}")]
    Migration {
        /// Which service.
        service: &'static str,
        /// Why.
        source: sea_orm::DbErr,
    },
    /// The server failed while running.
    #[error("{0}")]
    Serve(String),
    /// The demo content could not be loaded.
    #[error("loading the demo: {0}")]
    Demo(String),
    /// The recommendations service could not load its read model.
    #[error(transparent)]
    Recommendations(#[from] imprint_recommendations::BuildError),
    /// No key to sign tokens with.
    #[error(transparent)]
    Signing(#[from] imprint_platform::signing::SigningError),
}

/// The keys of every token this process hands out or takes back: configured, or in the
/// embedded default a key kept in the data directory (one process holds every role, so nothing
/// else must agree with it).
fn signer(settings: &Settings, role: Role) -> Result<Signer, AppError> {
    if !settings.signing.keys.is_empty() {
        return Ok(Signer::new(&settings.signing.keys)?);
    }
    if role == Role::All {
        return Ok(Signer::from_file_in(&settings.data_dir)?);
    }
    Err(SigningError::Missing(role.name()).into())
}

/// Largest request body the public API takes (it reads none but small JSON).
const PUBLIC_BODY_LIMIT: usize = 16 * 1024;

/// The public HTTP API of an edge role.
struct Public {
    /// Its bound listener.
    listener: TcpListener,
    /// Where it really is.
    addr: SocketAddr,
    /// Its routes.
    router: axum::Router,
    /// Its response cache, for metrics.
    cache: std::sync::Arc<Cache>,
    /// Partner keys, reloaded while serving.
    keys: std::sync::Arc<imprint_gateway::keys::Keys>,
}

/// The full gRPC name of the partner key service.
const PARTNER_KEYS: &str = "imprint.gateway.v1.PartnerKeyService";

/// Serves the layered gRPC router (whose type spells out every layer) on a listener until the
/// signal.
type ServeGrpc = Box<
    dyn FnOnce(
            TcpListener,
            std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), tonic::transport::Error>> + Send>,
        > + Send,
>;

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
    /// Serves the gRPC services, with health and reflection, behind the edge's layers, on a
    /// listener until a signal.
    serve_grpc: ServeGrpc,
    /// Readiness and gRPC health.
    health: Health,
    /// Pools to close at the end.
    databases: Vec<Database>,
    /// Pools by service, for metrics.
    pools: Vec<(String, Database)>,
    /// Requests served, for metrics.
    requests: std::sync::Arc<RequestMetrics>,
    /// Relays and consumers to start with the servers.
    events: Events,
    /// Keeps the recommendations indexes fresh, and times related publications, when this
    /// process serves them.
    refresher: Option<(
        imprint_recommendations::Refresher,
        std::sync::Arc<imprint_recommendations::metrics::Latency>,
    )>,
    /// The public API, at the edge.
    public: Option<Public>,
    /// Settings, for shutdown timings.
    settings: Settings,
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
    /// Binds, connects, migrates and assembles the services of `role`.
    pub async fn build(settings: Settings, role: Role) -> Result<Self, AppError> {
        if settings.amqp.url.is_empty() {
            // Without a broker, events travel inside the process: they would never reach a
            // role running elsewhere, nor a consumer switched off here.
            if matches!(role, Role::Papers | Role::Authors | Role::Recommendations) {
                return Err(AppError::Config(format!(
                    "amqp.url is required with --role {}: events reach the other roles through RabbitMQ",
                    role.name()
                )));
            }
            if !settings.events.consume && role == Role::All {
                return Err(AppError::Config(
                    "events.consume=false needs amqp.url: without a broker this process is the only consumer".to_owned(),
                ));
            }
        }
        let signer = signer(&settings, role)?;
        let (grpc_listener, grpc_addr) = bind("gRPC", settings.server.grpc_addr).await?;
        let (http_listener, http_addr) = bind("HTTP", settings.server.http_addr).await?;
        let own_url = format!("http://{}", loopback_for(grpc_addr));
        // This process's services call each other through its own, authenticated, listener
        // with a token that lives only as long as the process.
        let internal_token = role.is_edge().then(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        });
        let authenticator = if role.is_edge() {
            let auth = Authenticator::new(&settings.auth, internal_token.as_deref())
                .map_err(AppError::Config)?;
            if settings.auth.tokens.is_empty() && !settings.auth.jwt.is_enabled() {
                tracing::warn!(
                    "no editorial tokens configured: every editorial gRPC call will be refused; set auth.tokens.<name>.token and .role, or auth.jwt.*"
                );
            }
            Some(std::sync::Arc::new(auth))
        } else {
            None
        };
        // A channel to another service: the configured URL, else this very process when it runs
        // that service too; a role without its peer is a configuration error.
        let url_of = |peer: &ServiceSettings, name: &str, runs_here: bool| {
            if !peer.url.is_empty() {
                Ok((peer.url.clone(), false))
            } else if runs_here {
                Ok((own_url.clone(), true))
            } else {
                Err(AppError::Config(format!(
                    "{name}.url is required with --role {}: the address of the {name} service, e.g. http://{name}:50051",
                    role.name()
                )))
            }
        };
        let peer = |peer: &ServiceSettings, name: &str, runs_here: bool| {
            let (url, own) = url_of(peer, name, runs_here)?;
            let token = if own { internal_token.as_deref() } else { None };
            clients::peer(&url, peer.timeout_ms, token).map_err(AppError::Config)
        };
        let forward = |peer: &ServiceSettings, name: &str| {
            let (url, _) = url_of(peer, name, false)?;
            clients::channel(&url, peer.timeout_ms).map_err(AppError::Config)
        };
        let migrate = settings.database.migrate_on_start;
        let requests = std::sync::Arc::new(RequestMetrics::default());
        let mut pools: Vec<(String, Database)> = Vec::new();
        let mut databases = Vec::new();
        let mut checks: Vec<(String, Check)> = Vec::new();
        let mut services = Vec::new();
        // Readiness: each database answers and holds its service's migrations.
        let mut register = |db: &Database, service: &str, grpc_name: &str, check: Check| {
            checks.push((format!("{service} database"), check));
            services.push(grpc_name.to_owned());
            databases.push(db.clone());
            pools.push((service.to_owned(), db.clone()));
        };

        let mut events = Events::new(&settings, role.name());
        let papers = if role.runs_papers() {
            let db = open_service::<imprint_papers::Migrator>("papers", &settings, migrate).await?;
            let authors = peer(&settings.authors, "authors", role.runs_authors())?;
            register(
                &db,
                "papers",
                imprint_papers::SERVICE_NAME,
                Health::migrations_check::<imprint_papers::Migrator>(&db),
            );
            let emitter = events.producer(&db, imprint_papers::OUTBOX);
            let parts = imprint_papers::build(db, authors, emitter, signer.clone());
            events.consumer(parts.handler);
            Some(parts.server)
        } else {
            None
        };
        let authors = if role.runs_authors() {
            let db =
                open_service::<imprint_authors::Migrator>("authors", &settings, migrate).await?;
            let papers = peer(&settings.papers, "papers", role.runs_papers())?;
            register(
                &db,
                "authors",
                imprint_authors::SERVICE_NAME,
                Health::migrations_check::<imprint_authors::Migrator>(&db),
            );
            let emitter = events.producer(&db, imprint_authors::OUTBOX);
            let parts = imprint_authors::build(db, papers, emitter, signer.clone());
            events.consumer(parts.handler);
            Some(parts.server)
        } else {
            None
        };
        let (recommendations, refresher) = if role.runs_recommendations() {
            let db = open_service::<imprint_recommendations::Migrator>(
                "recommendations",
                &settings,
                migrate,
            )
            .await?;
            register(
                &db,
                "recommendations",
                imprint_recommendations::SERVICE_NAME,
                Health::migrations_check::<imprint_recommendations::Migrator>(&db),
            );
            let parts = imprint_recommendations::build(
                db,
                imprint_recommendations::Weights::default(),
                signer.clone(),
            )
            .await?;
            events.consumer(parts.handler);
            (
                Some(parts.server),
                Some((parts.refresher, parts.related_latency)),
            )
        } else {
            (None, None)
        };
        // Readiness: the broker connections this process consumes and watches through are up.
        if !settings.amqp.url.is_empty() {
            let metrics = events.metrics.clone();
            checks.push((
                "broker".to_owned(),
                std::sync::Arc::new(move || {
                    Box::pin(std::future::ready(metrics.broker_ready()))
                        as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
                }),
            ));
        }
        // Publication pages, at the edge: from this process's own services, or from the roles
        // behind a gateway, and the public API beside them, on a listener of its own.
        let (pages, public, partner_keys) = if role.is_edge() {
            services.push(imprint_gateway::page::SERVICE_NAME.to_owned());
            services.push(PARTNER_KEYS.to_owned());
            let db = open_service::<imprint_gateway::keys::Migrator>("gateway", &settings, migrate)
                .await?;
            checks.push((
                "gateway database".to_owned(),
                Health::migrations_check::<imprint_gateway::keys::Migrator>(&db),
            ));
            databases.push(db.clone());
            pools.push(("gateway".to_owned(), db.clone()));
            let keys = imprint_gateway::keys::Keys::open(db)
                .await
                .map_err(|e| AppError::Serve(format!("loading partner keys: {e}")))?;
            let all = role == Role::All;
            let papers = peer(&settings.papers, "papers", all)?;
            let authors = peer(&settings.authors, "authors", all)?;
            let recommendations = peer(&settings.recommendations, "recommendations", all)?;
            let pages = imprint_gateway::Pages::new(
                papers.clone(),
                authors.clone(),
                recommendations.clone(),
                Duration::from_millis(settings.gateway.related_budget_ms),
            );
            let (public_listener, public_addr) =
                bind("public HTTP", settings.server.public_addr).await?;
            let gateway = &settings.gateway;
            let cache = Cache::new(
                gateway.cache_entries,
                Duration::from_secs(gateway.cache_max_age_secs),
                Duration::from_millis(gateway.cache_settle_ms),
            );
            let invalidate = cache.clone();
            events.watcher(
                &["paper.*", "author.*"],
                std::sync::Arc::new(move || invalidate.changed()),
            );
            let site = Site {
                name: gateway.site_name.clone(),
                url: if gateway.site_url.is_empty() {
                    format!("http://{}", loopback_for(public_addr))
                } else {
                    gateway.site_url.trim_end_matches('/').to_owned()
                },
            };
            let api = PublicApi::new(
                imprint_gateway::public::Services {
                    papers,
                    authors,
                    recommendations,
                },
                pages.clone(),
                cache.clone(),
                keys.clone(),
                signer.clone(),
                imprint_gateway::public::Options {
                    site,
                    timeout: Duration::from_millis(gateway.request_timeout_ms),
                    // Checked when the settings were loaded.
                    trusted_proxies: gateway
                        .trusted_proxies
                        .iter()
                        .filter_map(|p| imprint_platform::settings::parse_proxy(p).ok())
                        .collect(),
                },
            );
            let router = api
                .router()
                .route(
                    "/openapi.json",
                    axum::routing::get(|| async {
                        (
                            [(http::header::CONTENT_TYPE, "application/json")],
                            imprint_gateway::public::openapi_json(),
                        )
                    }),
                )
                .layer(axum::extract::DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
                .layer(ObserveLayer::http(requests.clone()));
            (
                Some(
                    PublicationPageServiceServer::new(pages)
                        .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
                ),
                Some(Public {
                    listener: public_listener,
                    addr: public_addr,
                    router,
                    cache,
                    keys: keys.clone(),
                }),
                Some(
                    PartnerKeyServiceServer::new(
                        imprint_gateway::keys::grpc::PartnerKeysGrpc::new(keys),
                    )
                    .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
                ),
            )
        } else {
            (None, None, None)
        };
        let (papers_forward, authors_forward, recommendations_forward) = if role == Role::Gateway {
            services.push(imprint_gateway::forward::Papers::NAME.to_owned());
            services.push(imprint_gateway::forward::Authors::NAME.to_owned());
            services.push(imprint_gateway::forward::Recommendations::NAME.to_owned());
            (
                Some(PapersForward::new(forward(&settings.papers, "papers")?)),
                Some(AuthorsForward::new(forward(&settings.authors, "authors")?)),
                Some(RecommendationsForward::new(forward(
                    &settings.recommendations,
                    "recommendations",
                )?)),
            )
        } else {
            (None, None, None)
        };

        let mut known_services = services.clone();
        known_services.extend(
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ]
            .map(str::to_owned),
        );
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health = Health::new(reporter, services, checks);
        health.set_ready(false).await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(imprint_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| AppError::Serve(format!("reflection: {e}")))?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(imprint_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| AppError::Serve(format!("reflection: {e}")))?;

        // Browsers speak gRPC-Web (HTTP/1.1 too); CORS for the editorial front ends' origins
        // only; then authentication, so that a refusal is translated to gRPC-Web as well.
        let cors = (!settings.auth.editor_origins.is_empty())
            .then(|| editor_cors(&settings.auth.editor_origins))
            .transpose()?;
        let layers = tower::ServiceBuilder::new()
            .option_layer(cors)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(ObserveLayer::grpc(requests.clone(), &known_services))
            .layer(imprint_platform::wire::WireLayer)
            .option_layer(authenticator.map(AuthLayer::new))
            .option_layer(
                public
                    .as_ref()
                    .map(|p| imprint_gateway::cache::InvalidateAfterLayer::new(p.cache.clone())),
            );
        let router = Server::builder()
            .accept_http1(true)
            .layer(layers)
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_optional_service(papers)
            .add_optional_service(authors)
            .add_optional_service(recommendations)
            .add_optional_service(papers_forward)
            .add_optional_service(authors_forward)
            .add_optional_service(recommendations_forward)
            .add_optional_service(pages)
            .add_optional_service(partner_keys);
        // Connections must start speaking in time (imprint_platform::listen).
        let head_timeout = Duration::from_secs(settings.server.header_read_timeout_secs);
        let serve_grpc: ServeGrpc = Box::new(move |listener, signal| {
            let incoming = imprint_platform::listen::grpc_incoming(listener, head_timeout);
            Box::pin(router.serve_with_incoming_shutdown(incoming, signal))
        });

        Ok(Self {
            grpc_listener,
            http_listener,
            grpc_addr,
            http_addr,
            serve_grpc,
            health,
            databases,
            pools,
            requests,
            events,
            refresher,
            public,
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
        self.public.as_ref().map(|p| p.addr)
    }

    /// Serves until `shutdown` is cancelled, then stops gracefully.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let Self {
            grpc_listener,
            http_listener,
            grpc_addr,
            http_addr,
            serve_grpc,
            health,
            databases,
            pools,
            requests,
            events,
            refresher,
            public,
            settings,
        } = self;
        let metrics = events.metrics.clone();
        let stop_events = CancellationToken::new();
        let mut event_tasks = events.start(&stop_events);
        let related_latency = refresher.map(|(refresher, latency)| {
            event_tasks.spawn(refresher.run(stop_events.clone()));
            latency
        });
        let stop_public = CancellationToken::new();
        let (public_task, cache) = match public {
            Some(Public {
                listener,
                addr,
                router,
                cache,
                keys,
            }) => {
                event_tasks.spawn(keys.follow(stop_events.clone()));
                tracing::info!(%addr, "public API");
                let limits = http_limits(&settings);
                let task = tokio::spawn(imprint_platform::listen::serve_http(
                    listener,
                    router,
                    limits,
                    stop_public.clone(),
                ));
                (Some(task), Some(cache))
            }
            None => (None, None),
        };
        health.set_ready(true).await;
        tracing::info!(%grpc_addr, %http_addr, "serving");
        let http = health.router().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                let related_latency = related_latency.clone();
                let requests = requests.clone();
                let pools = pools.clone();
                let cache = cache.clone();
                async move {
                    let text = exposition(
                        &metrics,
                        &requests,
                        &pools,
                        cache.as_deref(),
                        related_latency.as_deref(),
                    );
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
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
        // Calls are done: no new events will be written. Let relays and consumers finish the
        // batch or delivery in hand (whatever is unsent or unacknowledged is sent again later).
        stop_events.cancel();
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while event_tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("event relays and consumers still busy after 10s; stopping them");
            event_tasks.abort_all();
        }
        for db in &databases {
            db.close().await;
        }
        tracing::info!("stopped");
        outcome.map_err(AppError::Serve)
    }
}

/// How this process's HTTP listeners treat connections: the header-read timeout of the
/// settings, and the public API's JSON for requests nobody could read.
fn http_limits(settings: &Settings) -> imprint_platform::listen::HttpLimits {
    imprint_platform::listen::HttpLimits {
        header_read_timeout: Duration::from_secs(settings.server.header_read_timeout_secs),
        drain: Duration::from_secs(settings.server.shutdown_grace_secs),
        unreadable: std::sync::Arc::new(imprint_gateway::public::unreadable),
    }
}

/// Everything `/metrics` shows, in the Prometheus text format.
fn exposition(
    events: &imprint_events::EventMetrics,
    requests: &RequestMetrics,
    pools: &[(String, Database)],
    cache: Option<&Cache>,
    related_latency: Option<&imprint_recommendations::metrics::Latency>,
) -> String {
    use imprint_platform::metrics::sample;
    let mut text = events.prometheus();
    text.push_str(&requests.prometheus());
    let mut in_use = Vec::new();
    let mut idle = Vec::new();
    let mut max = Vec::new();
    for (service, db) in pools {
        let (size, idle_now, most) = db.pool_use();
        in_use.push((
            format!("service=\"{service}\""),
            f64::from(size.saturating_sub(idle_now)),
        ));
        idle.push((format!("service=\"{service}\""), f64::from(idle_now)));
        max.push((format!("service=\"{service}\""), f64::from(most)));
    }
    fn refs(v: &[(String, f64)]) -> Vec<(&str, f64)> {
        v.iter().map(|(l, x)| (l.as_str(), *x)).collect()
    }
    sample(
        &mut text,
        "imprint_db_pool_connections_in_use",
        "gauge",
        "Database connections lent out to queries now.",
        &refs(&in_use),
    );
    sample(
        &mut text,
        "imprint_db_pool_connections_idle",
        "gauge",
        "Open database connections waiting for a query.",
        &refs(&idle),
    );
    sample(
        &mut text,
        "imprint_db_pool_connections_max",
        "gauge",
        "Most database connections the pool opens (database.max_connections).",
        &refs(&max),
    );
    if let Some(cache) = cache {
        let (hits, misses) = cache.stats();
        #[allow(clippy::cast_precision_loss)] // Counts far below 2^52.
        let (hits, misses) = (hits as f64, misses as f64);
        let total = hits + misses;
        sample(
            &mut text,
            "imprint_gateway_cache_hits_total",
            "counter",
            "Public API answers served from the cache.",
            &[("", hits)],
        );
        sample(
            &mut text,
            "imprint_gateway_cache_misses_total",
            "counter",
            "Public API answers computed.",
            &[("", misses)],
        );
        sample(
            &mut text,
            "imprint_gateway_cache_hit_ratio",
            "gauge",
            "Share of public API answers served from the cache since start (0 before any).",
            &[("", if total > 0.0 { hits / total } else { 0.0 })],
        );
    }
    if let Some(latency) = related_latency {
        text.push_str(&latency.prometheus(
            "imprint_recommendations_related_seconds",
            "Server time of GetRelatedPublications.",
        ));
    }
    text
}

/// CORS for gRPC-Web calls from the editorial front ends at `origins`.
fn editor_cors(origins: &[String]) -> Result<tower_http::cors::CorsLayer, AppError> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = origins
        .iter()
        .map(|o| {
            http::HeaderValue::from_str(o).map_err(|_| {
                AppError::Config(format!("auth.editor_origins: '{o}' is not an origin"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let headers = [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
    ]
    .map(http::HeaderName::from_static);
    let exposed = ["grpc-status", "grpc-message", "grpc-status-details-bin"]
        .map(http::HeaderName::from_static);
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([http::Method::POST])
        .allow_headers(headers)
        .expose_headers(exposed)
        .max_age(Duration::from_secs(3600)))
}

/// Runs every pending migration of the services of `role`, then returns.
pub async fn migrate(settings: &Settings, role: Role) -> Result<(), AppError> {
    if role.runs_papers() {
        open_service::<imprint_papers::Migrator>("papers", settings, true)
            .await?
            .close()
            .await;
        tracing::info!("papers database migrated");
    }
    if role.runs_authors() {
        open_service::<imprint_authors::Migrator>("authors", settings, true)
            .await?
            .close()
            .await;
        tracing::info!("authors database migrated");
    }
    if role.is_edge() {
        open_service::<imprint_gateway::keys::Migrator>("gateway", settings, true)
            .await?
            .close()
            .await;
        tracing::info!("gateway database migrated");
    }
    if role.runs_recommendations() {
        open_service::<imprint_recommendations::Migrator>("recommendations", settings, true)
            .await?
            .close()
            .await;
        tracing::info!("recommendations database migrated");
    }
    Ok(())
}

/// Opens the database of `service` and, when `migrate`, applies its pending migrations.
pub async fn open_service<M: MigratorTrait>(
    service: &'static str,
    settings: &Settings,
    migrate: bool,
) -> Result<Database, AppError> {
    let url = settings.database_url_for(service);
    let db = Database::connect(&url, &settings.database).await?;
    tracing::info!(service, url = %db::redact(&url), "database open");
    if migrate {
        db.migrate::<M>()
            .await
            .map_err(|source| AppError::Migration { service, source })?;
    }
    Ok(db)
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<(TcpListener, SocketAddr), AppError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { what, addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| AppError::Bind { what, addr, source })?;
    Ok((listener, local))
}

/// An address this process can dial to reach its own listener.
pub fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}
