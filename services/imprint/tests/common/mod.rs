//! Starts the real application in-process on port 0 with a fresh database, on SQLite or on
//! PostgreSQL, and hands out gRPC clients generated from `proto/`.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::Duration;

use imprint::{AppError, Application, ProcessRole};
use imprint_platform::Settings;
use imprint_platform::auth::Bearer;
use imprint_platform::clients::Peer;
use imprint_platform::settings::TokenSettings;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{Author, CreateAuthorRequest};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::taxonomy_service_client::TaxonomyServiceClient;
use imprint_proto::papers::{CreatePaperRequest, Paper, PublicationType, PublishPaperRequest};
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use imprint_testkit::PgDatabase;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Status};

/// Which database the application runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::common::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::common::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// The admin token every test app accepts; its clients carry it.
pub const ADMIN_TOKEN: &str = "tests-admin-token-0123456789";

/// A channel to `grpc` carrying `token`.
pub fn authorized(grpc: SocketAddr, token: Option<&str>) -> Peer {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    InterceptedService::new(channel.into(), Bearer::new(token).unwrap())
}

/// A running application and clients for it.
pub struct TestApp {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// The public JSON API.
    pub public: SocketAddr,
    pub papers: PaperServiceClient<Peer>,
    pub taxonomy: TaxonomyServiceClient<Peer>,
    pub authors: AuthorServiceClient<Peer>,
    pub recommendations: RecommendationServiceClient<Peer>,
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), AppError>>,
    settings: Settings,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    /// The RabbitMQ vhost, when events go through the broker.
    pub rabbit: Option<std::sync::Arc<imprint_testkit::RabbitVhost>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, None, |_| {}).await
    }

    /// As [`spawn`](Self::spawn), with `tweak` applied to the settings.
    pub async fn spawn_configured(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with(backend, None, tweak).await
    }

    /// As [`spawn`](Self::spawn), with events over RabbitMQ in a vhost of its own.
    pub async fn spawn_rabbit(backend: Backend) -> Self {
        Self::spawn_rabbit_with(backend, |_| {}).await
    }

    /// As [`spawn_rabbit`](Self::spawn_rabbit), with `tweak` applied to the settings.
    pub async fn spawn_rabbit_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Self {
        let vhost = tokio::task::spawn_blocking(imprint_testkit::RabbitVhost::create)
            .await
            .unwrap();
        Self::spawn_with(backend, Some(std::sync::Arc::new(vhost)), tweak).await
    }

    async fn spawn_with(
        backend: Backend,
        rabbit: Option<std::sync::Arc<imprint_testkit::RabbitVhost>>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await),
        };
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.server.grpc_addr = "127.0.0.1:0".parse().unwrap();
        settings.server.http_addr = "127.0.0.1:0".parse().unwrap();
        settings.server.public_addr = "127.0.0.1:0".parse().unwrap();
        settings.database.max_connections = 5;
        settings.log.level = "warn".to_owned();
        settings.auth.tokens.insert(
            "tests".to_owned(),
            TokenSettings {
                token: ADMIN_TOKEN.to_owned(),
                role: imprint_platform::auth::Role::Admin,
            },
        );
        if let Some(pg) = &pg {
            settings.database.url = Some(pg.url.clone());
        }
        if let Some(vhost) = &rabbit {
            settings.amqp.url = Some(vhost.url.clone());
            settings.amqp.max_backoff_secs = 1;
        }
        tweak(&mut settings);
        let _ = imprint_platform::telemetry::init(&settings.log, &settings.tracing, "imprint-test");
        Self::start(settings, dir, pg, rabbit).await
    }

    async fn start(
        settings: Settings,
        dir: tempfile::TempDir,
        pg: Option<PgDatabase>,
        rabbit: Option<std::sync::Arc<imprint_testkit::RabbitVhost>>,
    ) -> Self {
        let app = Application::build(settings.clone(), ProcessRole::All)
            .await
            .expect("application starts");
        let grpc = app.grpc_addr();
        let http = app.http_addr();
        let public = app
            .public_addr()
            .expect("the all-in-one process serves the public API");
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        let channel = authorized(grpc, Some(ADMIN_TOKEN));
        Self {
            grpc,
            http,
            public,
            papers: PaperServiceClient::new(channel.clone()),
            taxonomy: TaxonomyServiceClient::new(channel.clone()),
            authors: AuthorServiceClient::new(channel.clone()),
            recommendations: RecommendationServiceClient::new(channel),
            shutdown,
            handle,
            settings,
            dir,
            pg,
            rabbit,
        }
    }

    /// Where the SQLite files are.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops the application and starts it again on the same database and ports.
    pub async fn restart(self) -> Self {
        self.restart_after(Duration::ZERO).await
    }

    /// Stops the application, waits `down`, and starts it again on the same database and ports.
    pub async fn restart_after(self, down: Duration) -> Self {
        let Self {
            grpc,
            http,
            public,
            shutdown,
            handle,
            mut settings,
            dir,
            pg,
            rabbit,
            ..
        } = self;
        shutdown.cancel();
        handle.await.unwrap().expect("clean stop");
        tokio::time::sleep(down).await;
        settings.server.grpc_addr = grpc;
        settings.server.http_addr = http;
        settings.server.public_addr = public;
        Self::start(settings, dir, pg, rabbit).await
    }

    /// Runs `sql` on `service`'s database, behind the service's back (to break or repair it).
    pub async fn execute(&self, service: &str, sql: &str) {
        use sea_orm::ConnectionTrait;
        let db = imprint_platform::Database::connect(
            &self.settings.database_url_for(
                imprint_platform::settings::ServiceKey::from_name(service).unwrap(),
            ),
            &self.settings.database,
        )
        .await
        .unwrap();
        db.conn().execute_unprepared(sql).await.unwrap();
        db.close().await;
    }

    /// Counts the rows of `table` whose `paper_id` is `id`, straight from the papers database.
    pub async fn count_paper_rows(&self, table: &str, id: &str) -> i64 {
        use sea_orm::sea_query::{Alias, Expr, Func, Query};
        use sea_orm::{ConnectionTrait, StatementBuilder};
        let db = imprint_platform::Database::connect(
            &self
                .settings
                .database_url_for(imprint_platform::settings::ServiceKey::Papers),
            &self.settings.database,
        )
        .await
        .unwrap();
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        let stmt = Query::select()
            .expr(Func::count(Expr::col(Alias::new("paper_id"))))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("paper_id")).eq(uuid))
            .to_owned();
        let row = db
            .conn()
            .query_one(StatementBuilder::build(&stmt, &db.backend()))
            .await
            .unwrap()
            .unwrap();
        let count: i64 = row.try_get_by_index(0).unwrap();
        db.close().await;
        count
    }

    /// The value of a counter or gauge at `/metrics`.
    pub async fn metric(&self, name: &str) -> i64 {
        let (_, body) = imprint_testkit::http_get(self.http, "/metrics")
            .await
            .unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {body}"))
    }

    /// gRPC calls served so far, by (service, method, code).
    pub async fn rpc_calls(&self) -> std::collections::BTreeMap<(String, String, String), i64> {
        let (_, body) = imprint_testkit::http_get(self.http, "/metrics")
            .await
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for line in body.lines() {
            let Some(rest) = line.strip_prefix("imprint_rpc_requests_total{") else {
                continue;
            };
            let (labels, value) = rest.split_once("} ").unwrap();
            let label = |name: &str| {
                labels
                    .split(',')
                    .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
                    .map(|v| v.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            out.insert(
                (label("service"), label("method"), label("code")),
                value.trim().parse().unwrap(),
            );
        }
        out
    }

    /// The number of papers the authors service counts for `author_id`.
    pub async fn paper_count(&self, author_id: &str) -> i32 {
        self.authors
            .clone()
            .get_author(imprint_proto::authors::GetAuthorRequest {
                key: Some(imprint_proto::authors::get_author_request::Key::Id(
                    author_id.to_owned(),
                )),
            })
            .await
            .unwrap()
            .into_inner()
            .author
            .unwrap()
            .paper_count
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.unwrap().expect("clean stop");
    }

    /// Creates an author named `name`.
    pub async fn author(&mut self, name: &str) -> Author {
        self.authors
            .create_author(CreateAuthorRequest {
                author: Some(Author {
                    name: name.to_owned(),
                    ..Author::default()
                }),
            })
            .await
            .expect("author created")
            .into_inner()
            .author
            .unwrap()
    }

    /// Paper `id` as stored now.
    pub async fn paper(&self, id: &str) -> Paper {
        self.papers
            .clone()
            .get_paper(imprint_proto::papers::GetPaperRequest {
                key: Some(imprint_proto::papers::get_paper_request::Key::Id(
                    id.to_owned(),
                )),
                ..imprint_proto::papers::GetPaperRequest::default()
            })
            .await
            .expect("paper read")
            .into_inner()
            .paper
            .unwrap()
    }

    /// Creates a term of `vocabulary` named `name`.
    pub async fn term(
        &mut self,
        vocabulary: imprint_proto::papers::Vocabulary,
        name: &str,
    ) -> imprint_proto::papers::Term {
        self.term_under(vocabulary, name, "").await
    }

    /// Creates a term of `vocabulary` named `name` under `parent_id` (a region's country).
    pub async fn term_under(
        &mut self,
        vocabulary: imprint_proto::papers::Vocabulary,
        name: &str,
        parent_id: &str,
    ) -> imprint_proto::papers::Term {
        self.taxonomy
            .create_term(imprint_proto::papers::CreateTermRequest {
                term: Some(imprint_proto::papers::Term {
                    vocabulary: vocabulary.into(),
                    name: name.to_owned(),
                    parent_id: parent_id.to_owned(),
                    ..imprint_proto::papers::Term::default()
                }),
            })
            .await
            .expect("term created")
            .into_inner()
            .term
            .unwrap()
    }

    /// Creates `paper` and publishes it.
    pub async fn publish(&mut self, paper: Paper) -> Paper {
        let created = self.create(paper).await.expect("draft created");
        self.papers
            .publish_paper(PublishPaperRequest {
                id: created.id,
                ..PublishPaperRequest::default()
            })
            .await
            .expect("published")
            .into_inner()
            .paper
            .unwrap()
    }

    /// Creates a draft from `paper`.
    pub async fn create(&mut self, paper: Paper) -> Result<Paper, Status> {
        self.papers
            .create_paper(CreatePaperRequest { paper: Some(paper) })
            .await
            .map(|r| r.into_inner().paper.unwrap())
    }
}

/// A valid draft titled `title` crediting `authors`.
pub fn draft(title: &str, authors: &[&Author]) -> Paper {
    Paper {
        title: title.to_owned(),
        summary: format!("About {title}."),
        publication_type: PublicationType::Report.into(),
        topics: vec!["Global Policy".to_owned()],
        author_ids: authors.iter().map(|a| a.id.clone()).collect(),
        ..Paper::default()
    }
}

/// Asserts `result` failed with `code`, returning the status.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(s) => {
            assert_eq!(s.code(), code, "unexpected status: {s:?}");
            s
        }
    }
}

/// The fields named by the `BadRequest` details of `status`.
pub fn violated_fields(status: &Status) -> Vec<String> {
    imprint_proto::status::field_violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

/// Polls `check` every 50 ms for up to 15 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Papers credit authors, the authors service counts them from the events, a deletion is
/// counted too, and every event published was confirmed.
pub async fn events_reach_the_other_service(mut app: TestApp) {
    let a = app.author("Hamza Ijaz").await;
    let b = app.author("Imran Khan").await;
    let mut papers = Vec::new();
    for i in 0..3 {
        let paper = app.create(draft(&format!("Credited {i}"), &[&a, &b])).await;
        papers.push(paper.unwrap());
    }
    eventually("the authors service counts 3 papers", || async {
        app.paper_count(&a.id).await == 3
    })
    .await;
    app.papers
        .delete_paper(imprint_proto::papers::DeletePaperRequest {
            id: papers[0].id.clone(),
            version: 0,
        })
        .await
        .unwrap();
    eventually("the deletion reaches the authors service", || async {
        app.paper_count(&b.id).await == 2
    })
    .await;
    // 2 author.created, 3 paper.updated, 1 paper.deleted: all published and confirmed.
    eventually("every event is confirmed", || async {
        let published = app.metric("imprint_events_published_total").await;
        published >= 6 && app.metric("imprint_events_confirmed_total").await == published
    })
    .await;
    assert!(app.metric("imprint_events_consumed_total").await >= 4);
    app.stop().await;
}
