//! Support for system tests: the real `imprint` binary started as its own process on free
//! ports, configured by flags and `IMPRINT__…` variables as an operator would, and stopped with
//! the signals an orchestrator sends.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use imprint_platform::auth::Bearer;
use imprint_platform::clients::Peer;
use tonic::service::interceptor::InterceptedService;

/// The admin token every process started here accepts (as `auth.tokens.tests`).
pub const ADMIN_TOKEN: &str = "system-tests-admin-token-0123";

/// The signing key every process of a test shares, as every role of a deployment must.
pub const SIGNING_KEY: &str = "system-tests-signing-key-0123456789abcdef";

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{Author, CreateAuthorRequest, GetAuthorRequest, get_author_request};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{CreatePaperRequest, Paper, PublicationType};
use tokio::process::{Child, Command};

/// The `imprint` binary under test: `IMPRINT_BIN`, or the one built beside this test.
pub fn imprint_binary() -> PathBuf {
    if let Ok(path) = std::env::var("IMPRINT_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> → target/<profile>/imprint
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("imprint");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p imprint), or set IMPRINT_BIN",
        bin.display()
    );
    bin
}

/// The Python with the contract test's packages: `IMPRINT_PYTHON`, else `python3`.
pub fn python() -> PathBuf {
    PathBuf::from(std::env::var("IMPRINT_PYTHON").unwrap_or_else(|_| "python3".to_owned()))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// A port nobody listens on right now, from below the kernel's ephemeral range (which starts at
/// 32768 on Linux): a port the kernel hands out for a connection some test opens, or for a
/// listener bound to port 0, can then never be the one a process is about to bind. Each test
/// process (nextest runs one test per process) starts in its own slice of the range, by pid, and
/// checks each port before taking it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 15_000;
    const SPAN: u32 = 17_500;
    const SLICE: u32 = 50;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = (std::process::id() % (SPAN / SLICE)) * SLICE;
    for _ in 0..SPAN {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let Ok(port) = u16::try_from(LOW + offset) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `imprint serve`.
#[derive(Debug)]
pub struct Process {
    /// The child process.
    child: Child,
    /// Its gRPC address.
    pub grpc: SocketAddr,
    /// Its HTTP address.
    pub http: SocketAddr,
    /// Its public API address (edge roles).
    pub public: SocketAddr,
    /// What it printed to stdout, when captured.
    stdout: Option<std::sync::Arc<tokio::sync::Mutex<String>>>,
    /// What it printed to stderr (its logs), when captured.
    stderr: Option<std::sync::Arc<tokio::sync::Mutex<String>>>,
}

/// Collects what `out` prints, line by line.
fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    out: R,
) -> std::sync::Arc<tokio::sync::Mutex<String>> {
    let buffer = std::sync::Arc::new(tokio::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&buffer);
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut sink = sink.lock().await;
            sink.push_str(&line);
            sink.push('\n');
        }
    });
    buffer
}

impl Process {
    /// Starts `imprint serve` with `args` and `env` on fresh ports, and waits until `/readyz`
    /// answers 200.
    pub async fn serve(args: &[&str], env: &[(&str, String)]) -> Self {
        Self::serve_on(free_port(), args, env).await
    }

    /// As [`serve`](Self::serve), with gRPC on `grpc_port` (for peers that must know it first).
    pub async fn serve_on(grpc_port: u16, args: &[&str], env: &[(&str, String)]) -> Self {
        Self::start(grpc_port, args, env, false).await
    }

    /// As [`serve`](Self::serve), keeping what the process prints to stdout.
    pub async fn serve_capturing(args: &[&str], env: &[(&str, String)]) -> Self {
        Self::start(free_port(), args, env, true).await
    }

    async fn start(grpc_port: u16, args: &[&str], env: &[(&str, String)], capture: bool) -> Self {
        let grpc: SocketAddr = format!("127.0.0.1:{grpc_port}").parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let public: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command = Command::new(imprint_binary());
        command
            .arg("serve")
            .args(args)
            .env("IMPRINT__SERVER__GRPC_ADDR", grpc.to_string())
            .env("IMPRINT__SERVER__HTTP_ADDR", http.to_string())
            .env("IMPRINT__SERVER__PUBLIC_ADDR", public.to_string())
            .env("RUST_LOG", "warn")
            .env("IMPRINT__AUTH__TOKENS__TESTS__TOKEN", ADMIN_TOKEN)
            .env("IMPRINT__AUTH__TOKENS__TESTS__ROLE", "admin")
            .env("IMPRINT__SIGNING__KEYS", SIGNING_KEY)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        if capture {
            command.stdout(Stdio::piped());
        }
        Self::launch(command, grpc, http, public).await
    }

    /// Starts `imprint` with `args` and nothing in its environment but `env` (no defaults of
    /// this harness: not even its admin token or log level), keeping its stdout and stderr, and
    /// waits until the `/readyz` at `http` answers 200.
    pub async fn serve_exactly(
        args: &[String],
        env: &[(String, String)],
        grpc: SocketAddr,
        http: SocketAddr,
        public: SocketAddr,
    ) -> Self {
        let mut command = Command::new(imprint_binary());
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Self::launch(command, grpc, http, public).await
    }

    async fn launch(
        mut command: Command,
        grpc: SocketAddr,
        http: SocketAddr,
        public: SocketAddr,
    ) -> Self {
        let mut child = command.spawn().expect("imprint starts");
        let stdout = child.stdout.take().map(collect);
        let stderr = child.stderr.take().map(collect);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = imprint_testkit::http_get(http, "/readyz").await {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let logs = match &stderr {
                    Some(buffer) => buffer.lock().await.clone(),
                    None => String::new(),
                };
                panic!("imprint exited at start with {status}\n{logs}");
            }
            assert!(Instant::now() < deadline, "imprint not ready within 60s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            child,
            grpc,
            http,
            public,
            stdout,
            stderr,
        }
    }

    /// What the process has logged so far, when its stderr is kept.
    pub async fn logs(&self) -> String {
        match &self.stderr {
            Some(buffer) => buffer.lock().await.clone(),
            None => String::new(),
        }
    }

    /// Waits (at most 30 s) until the captured stdout contains `needle`, and returns it all.
    pub async fn wait_for_stdout(&self, needle: &str) -> String {
        let buffer = self.stdout.as_ref().expect("stdout captured");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = buffer.lock().await.clone();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no '{needle}' in stdout:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The gRPC URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// A channel to the gRPC listener, carrying the admin token every test process accepts.
    pub async fn channel(&self) -> Peer {
        self.channel_with(Some(ADMIN_TOKEN)).await
    }

    /// A channel to the gRPC listener carrying `token`, if any.
    pub async fn channel_with(&self, token: Option<&str>) -> Peer {
        let channel = tonic::transport::Endpoint::from_shared(self.url())
            .unwrap()
            .timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connects");
        InterceptedService::new(channel.into(), Bearer::new(token).unwrap())
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Sends SIGTERM and waits (at most 60 s) until the process has exited; its exit code.
    pub async fn stop(&mut self) -> Option<i32> {
        self.terminate();
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("exits within 60s")
            .expect("wait works")
            .code()
    }

    /// Kills the process with SIGKILL, as an out-of-memory killer or a lost node would.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }

    /// The value of a counter or gauge at the process's `/metrics`.
    pub async fn metric(&self, name: &str) -> i64 {
        let (_, body) = imprint_testkit::http_get(self.http, "/metrics")
            .await
            .expect("metrics answer");
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {body}"))
    }

    /// Waits for the process to exit (at most 60 s) and returns its exit code.
    pub async fn wait(mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("exits within 60s")
            .expect("wait works")
            .code()
    }
}

/// Runs `imprint` with `args` and `env` to completion; returns (success, stdout, stderr).
pub async fn run_imprint(args: &[&str], env: &[(&str, String)]) -> (bool, String, String) {
    let mut command = Command::new(imprint_binary());
    command.args(args).env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().await.expect("imprint runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Polls `check` every 100 ms until it holds, for at most `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "never within {secs}s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The papers, authors, recommendations and gateway roles as separate processes on PostgreSQL
/// and RabbitMQ, each configured only by environment variables.
#[derive(Debug)]
pub struct Cluster {
    /// The papers role.
    pub papers: Process,
    /// The authors role (API, and consumer unless told otherwise).
    pub authors: Process,
    /// The recommendations role.
    pub recommendations: Process,
    /// The gateway role.
    pub gateway: Process,
    /// The papers database.
    pub papers_db: imprint_testkit::PgDatabase,
    /// The authors database.
    pub authors_db: imprint_testkit::PgDatabase,
    /// The recommendations database.
    pub recommendations_db: imprint_testkit::PgDatabase,
    /// The broker's vhost.
    pub vhost: imprint_testkit::RabbitVhost,
}

impl Cluster {
    /// Starts the four roles; `authors_env` adds settings of the authors role.
    pub async fn start(authors_env: &[(&str, String)]) -> Self {
        let papers_db = imprint_testkit::PgDatabase::create().await;
        let authors_db = imprint_testkit::PgDatabase::create().await;
        let recommendations_db = imprint_testkit::PgDatabase::create().await;
        let vhost = tokio::task::spawn_blocking(imprint_testkit::RabbitVhost::create)
            .await
            .expect("vhost");
        let papers_port = free_port();
        let authors_port = free_port();
        let papers_url = format!("http://127.0.0.1:{papers_port}");
        let authors_url = format!("http://127.0.0.1:{authors_port}");
        let recommendations_port = free_port();
        let recommendations_url = format!("http://127.0.0.1:{recommendations_port}");
        let common = |db: &str| {
            vec![
                ("IMPRINT__DATABASE__URL", db.to_owned()),
                ("IMPRINT__AMQP__URL", vhost.url.clone()),
                ("IMPRINT__AMQP__MAX_BACKOFF_SECS", "1".to_owned()),
                ("IMPRINT__PAPERS__URL", papers_url.clone()),
                ("IMPRINT__AUTHORS__URL", authors_url.clone()),
            ]
        };
        let mut env = common(&authors_db.url);
        env.extend(authors_env.iter().cloned());
        let authors = Process::serve_on(authors_port, &["--role", "authors"], &env).await;
        let papers =
            Process::serve_on(papers_port, &["--role", "papers"], &common(&papers_db.url)).await;
        let recommendations = Process::serve_on(
            recommendations_port,
            &["--role", "recommendations"],
            &common(&recommendations_db.url),
        )
        .await;
        let gateway = Process::serve(
            &["--role", "gateway"],
            &[
                ("IMPRINT__PAPERS__URL", papers_url.clone()),
                ("IMPRINT__AUTHORS__URL", authors_url.clone()),
                ("IMPRINT__RECOMMENDATIONS__URL", recommendations_url),
            ],
        )
        .await;
        Self {
            papers,
            authors,
            recommendations,
            gateway,
            papers_db,
            authors_db,
            recommendations_db,
            vhost,
        }
    }

    /// The environment of a process of the papers role.
    pub fn papers_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IMPRINT__DATABASE__URL", self.papers_db.url.clone()),
            ("IMPRINT__AMQP__URL", self.vhost.url.clone()),
            ("IMPRINT__AMQP__MAX_BACKOFF_SECS", "1".to_owned()),
            ("IMPRINT__PAPERS__URL", self.papers.url()),
            ("IMPRINT__AUTHORS__URL", self.authors.url()),
        ]
    }

    /// The environment of a process of the recommendations role.
    pub fn recommendations_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "IMPRINT__DATABASE__URL",
                self.recommendations_db.url.clone(),
            ),
            ("IMPRINT__AMQP__URL", self.vhost.url.clone()),
            ("IMPRINT__AMQP__MAX_BACKOFF_SECS", "1".to_owned()),
        ]
    }

    /// The environment of a gateway replica that hears every event (its cache drops what
    /// changed) and keeps partner keys in `database_url`, shared by the replicas.
    pub fn gateway_env(&self, database_url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("IMPRINT__DATABASE__URL", database_url.to_owned()),
            ("IMPRINT__AMQP__URL", self.vhost.url.clone()),
            ("IMPRINT__AMQP__MAX_BACKOFF_SECS", "1".to_owned()),
            ("IMPRINT__PAPERS__URL", self.papers.url()),
            ("IMPRINT__AUTHORS__URL", self.authors.url()),
            ("IMPRINT__RECOMMENDATIONS__URL", self.recommendations.url()),
        ]
    }

    /// The environment of a process of the authors role.
    pub fn authors_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IMPRINT__DATABASE__URL", self.authors_db.url.clone()),
            ("IMPRINT__AMQP__URL", self.vhost.url.clone()),
            ("IMPRINT__AMQP__MAX_BACKOFF_SECS", "1".to_owned()),
            ("IMPRINT__PAPERS__URL", self.papers.url()),
            ("IMPRINT__AUTHORS__URL", self.authors.url()),
        ]
    }
}

/// Creates `n` papers through `papers`, each crediting one of `authors` in turn, `parallel` at
/// a time.
pub async fn create_papers(
    papers: &PaperServiceClient<Peer>,
    authors: &[String],
    n: usize,
    parallel: usize,
) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let mut papers = papers.clone();
        let authors = authors.to_vec();
        let next = std::sync::Arc::clone(&next);
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                papers
                    .create_paper(CreatePaperRequest {
                        paper: Some(Paper {
                            title: format!("Paper {i}"),
                            publication_type: PublicationType::Report.into(),
                            author_ids: vec![authors[i % authors.len()].clone()],
                            ..Paper::default()
                        }),
                    })
                    .await
                    .unwrap_or_else(|e| panic!("creating paper {i}: {e:?}"));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Creates a draft report on violent extremism titled `title`, crediting `author`, through
/// `papers` (papers on it are related to each other).
pub async fn create_paper(
    papers: &mut PaperServiceClient<Peer>,
    title: &str,
    author: &str,
) -> Paper {
    papers
        .create_paper(CreatePaperRequest {
            paper: Some(Paper {
                title: title.to_owned(),
                summary: "Militant recruitment and the policy response.".to_owned(),
                publication_type: PublicationType::Report.into(),
                topics: vec!["Violent Extremism".to_owned()],
                author_ids: vec![author.to_owned()],
                ..Paper::default()
            }),
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner()
        .paper
        .unwrap_or_else(|| panic!("no paper"))
}

/// The papers the authors service counts for each of `authors`.
pub async fn counts(authors_role: &Process, authors: &[String]) -> Vec<i32> {
    let mut client = AuthorServiceClient::new(authors_role.channel().await);
    let mut out = Vec::new();
    for id in authors {
        let author = client
            .get_author(GetAuthorRequest {
                key: Some(get_author_request::Key::Id(id.clone())),
            })
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .into_inner()
            .author
            .unwrap_or_else(|| panic!("no author"));
        out.push(author.paper_count);
    }
    out
}

/// Creates `n` authors through `client`.
pub async fn create_authors(client: &mut AuthorServiceClient<Peer>, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let author = client
            .create_author(CreateAuthorRequest {
                author: Some(Author {
                    name: format!("Author {i}"),
                    ..Author::default()
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .into_inner()
            .author
            .unwrap_or_else(|| panic!("no author"));
        ids.push(author.id);
    }
    ids
}

/// A real S3-compatible server on loopback (moto in server mode, `tests/contract/s3_server.py`)
/// with one bucket; killed when dropped.
#[derive(Debug)]
pub struct S3Server {
    /// The server.
    pub child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl S3Server {
    /// Starts one with `bucket` made.
    pub async fn start(bucket: &str) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/contract/s3_server.py"))
            .args(["--bucket", bucket, "--port", &free_port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // moto logs every request.
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", python().display()));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("the S3 server's stdout"));
        let mut out = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), out.next_line())
            .await
            .unwrap_or_else(|_| panic!("the S3 server did not start within 60 s"))
            .unwrap_or_else(|e| panic!("reading the S3 server: {e}"))
            .unwrap_or_default();
        let port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the S3 server said {first:?} (scripts/test installs moto)"));
        Self { child, port }
    }

    /// Its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
