//! The component: what one service is to the process that runs it.
//!
//! Each service crate exports one ([`Component`]): which service it is, its migrations and
//! the check that they ran, and `open`, which builds the service over its migrated database
//! and puts its parts into the process's [`Context`]: its gRPC services (named by the generated
//! code), the relay of its outbox and the handlers of the events it consumes, the tasks it runs
//! while the process serves, what it adds to `/metrics`, and, for the edge, the public
//! listener. The process loops over the components its role runs.

use std::convert::Infallible;
use std::sync::Arc;

use futures::future::BoxFuture;
use imprint_platform::Database;
use imprint_platform::observe::RequestMetrics;
use imprint_platform::server::Check;
use imprint_platform::settings::{ServiceKey, Settings};
use imprint_platform::signing::Signer;
use sea_orm::DbErr;
use sea_orm_migration::MigratorTrait;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;

use crate::events::Events;
use crate::peers::Peers;

/// One service, as a process runs it.
pub trait Component: Send + Sync {
    /// Which service it is.
    fn key(&self) -> ServiceKey;

    /// Applies its pending migrations to `db`.
    fn migrate<'a>(&'a self, db: &'a Database) -> BoxFuture<'a, Result<(), DbErr>>;

    /// Readiness: `db` answers and holds every one of its migrations.
    fn migrated(&self, db: &Database) -> Check;

    /// Builds the service over `db` (migrated) and adds its parts to `cx`.
    fn open<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>>;
}

/// What sets one service's component apart: which service, its migrations, and how it opens.
/// Its [`Component`] follows (the migrations applied and checked the same way for every one).
pub trait ServiceComponent: Send + Sync {
    /// Which service it is.
    const KEY: ServiceKey;
    /// Its migrations.
    type Migrator: MigratorTrait;

    /// Builds the service over `db` (migrated) and adds its parts to `cx`.
    fn open_service<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>>;
}

impl<T: ServiceComponent> Component for T {
    fn key(&self) -> ServiceKey {
        T::KEY
    }

    fn migrate<'a>(&'a self, db: &'a Database) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(db.migrate::<T::Migrator>())
    }

    fn migrated(&self, db: &Database) -> Check {
        imprint_platform::server::Health::migrations_check::<T::Migrator>(db)
    }

    fn open<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>> {
        self.open_service(db, cx)
    }
}

/// Why a component could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A setting is missing or contradicts the role.
    #[error("configuration: {0}")]
    Config(String),
    /// A link to another service cannot be made from its settings.
    #[error("configuration: {0}")]
    Link(#[from] imprint_platform::clients::LinkError),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] imprint_platform::listen::BindError),
    /// Anything else that stopped it, said by the service.
    #[error("{service}: {source}")]
    Service {
        /// Which service.
        service: ServiceKey,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Work a component runs while the process serves, until the token is cancelled (after the
/// listeners have stopped).
pub type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// Lines a component adds to `/metrics`, in the Prometheus text format.
pub type Exposition = Box<dyn Fn(&mut String) + Send + Sync>;

/// The public listener of the edge, bound and routed, not yet serving.
#[derive(Debug)]
pub struct PublicListener {
    /// The bound listener.
    pub listener: tokio::net::TcpListener,
    /// Where it really is.
    pub addr: std::net::SocketAddr,
    /// Its routes.
    pub router: axum::Router,
}

/// What the process gives a component to open with, and collects its parts in.
pub struct Context<'a> {
    /// The process's settings.
    pub settings: &'a Settings,
    /// Seals what the services hand out (page tokens, recommendation ids, views).
    pub signer: &'a Signer,
    /// Links to the other services.
    pub peers: &'a Peers,
    /// Relays, consumers and watchers of events.
    pub events: &'a mut Events,
    /// Requests served, by the process's listeners.
    pub requests: &'a Arc<RequestMetrics>,
    /// The gRPC services of the process.
    routes: RoutesBuilder,
    /// Their full names, for health.
    names: Vec<&'static str>,
    /// Readiness checks.
    checks: Vec<(String, Check)>,
    /// Tasks to run while serving.
    tasks: Vec<Task>,
    /// Lines of `/metrics`.
    expositions: Vec<Exposition>,
    /// The edge's public listener, when this process is an edge.
    public: Option<PublicListener>,
}

/// What the components of a process put together.
pub struct Assembled {
    /// Every gRPC service.
    pub routes: RoutesBuilder,
    /// Their full names.
    pub names: Vec<&'static str>,
    /// Readiness checks.
    pub checks: Vec<(String, Check)>,
    /// Tasks to run while serving.
    pub tasks: Vec<Task>,
    /// Lines of `/metrics`.
    pub expositions: Vec<Exposition>,
    /// The public listener, at the edge.
    pub public: Option<PublicListener>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("services", &self.names)
            .field("checks", &self.checks.len())
            .field("tasks", &self.tasks.len())
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Assembled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembled")
            .field("services", &self.names)
            .field("checks", &self.checks.len())
            .field("tasks", &self.tasks.len())
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl<'a> Context<'a> {
    /// An empty context.
    pub fn new(
        settings: &'a Settings,
        signer: &'a Signer,
        peers: &'a Peers,
        events: &'a mut Events,
        requests: &'a Arc<RequestMetrics>,
    ) -> Self {
        Self {
            settings,
            signer,
            peers,
            events,
            requests,
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            checks: Vec::new(),
            tasks: Vec::new(),
            expositions: Vec::new(),
            public: None,
        }
    }

    /// Serves `service` on the gRPC listener (and to the process's own calls), reported in
    /// health under its generated name.
    pub fn serve<S>(&mut self, service: S)
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(service);
    }

    /// Adds a readiness check.
    pub fn check(&mut self, name: impl Into<String>, check: Check) {
        self.checks.push((name.into(), check));
    }

    /// Runs `task` while the process serves.
    pub fn run(&mut self, task: Task) {
        self.tasks.push(task);
    }

    /// Adds lines to `/metrics`.
    pub fn expose(&mut self, exposition: Exposition) {
        self.expositions.push(exposition);
    }

    /// Serves the edge's public API on `public`.
    pub fn public(&mut self, public: PublicListener) {
        self.public = Some(public);
    }

    /// The parts collected.
    pub fn assembled(self) -> Assembled {
        Assembled {
            routes: self.routes,
            names: self.names,
            checks: self.checks,
            tasks: self.tasks,
            expositions: self.expositions,
            public: self.public,
        }
    }
}
