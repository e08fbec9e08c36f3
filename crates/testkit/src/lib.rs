//! Test support shared by every crate's tests: a fresh PostgreSQL database per test (dropped
//! afterwards), SQLite files in a temporary directory, and PostgreSQL started when it is down,
//! so a run never collides with another and never needs hand-made setup.

#![allow(clippy::expect_used, clippy::panic)] // Test support: failing loudly is the point.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

/// The server tests create their databases on; `IMPRINT_TEST_POSTGRES_URL` overrides it.
pub fn postgres_admin_url() -> String {
    std::env::var("IMPRINT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test, dropped when this goes out of scope.
#[derive(Debug)]
pub struct PgDatabase {
    /// Connection URL of the new database.
    pub url: String,
    /// Its name.
    name: String,
}

impl PgDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> Self {
        ensure_postgres().await;
        let name = format!("imprint_test_{}", uuid::Uuid::now_v7().simple());
        let admin = postgres_admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let url = match admin.rfind('/') {
            Some(slash) => format!("{}/{name}", &admin[..slash]),
            None => panic!("{admin} has no database part"),
        };
        Self { url, name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a small runtime on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&postgres_admin_url()).await.ok()?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("testkit: could not drop database {}", self.name);
        }
    }
}

/// Makes sure PostgreSQL answers, starting the local cluster when it does not.
pub async fn ensure_postgres() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.get().is_some() {
        return;
    }
    let admin = postgres_admin_url();
    if PgConnection::connect(&admin).await.is_ok() {
        let _ = STARTED.set(());
        return;
    }
    start_local_postgres();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match PgConnection::connect(&admin).await {
            Ok(_) => {
                let _ = STARTED.set(());
                return;
            }
            Err(e) if Instant::now() > deadline => {
                panic!("PostgreSQL at {admin} does not answer and could not be started: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Starts Debian's PostgreSQL cluster (`pg_ctlcluster`), as `scripts/test` would.
fn start_local_postgres() {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return;
    };
    for version in versions.flatten() {
        let version = version.file_name();
        let status = Command::new("pg_ctlcluster")
            .arg("--skip-systemctl-redirect")
            .arg(&version)
            .arg("main")
            .arg("start")
            .status();
        eprintln!("testkit: starting PostgreSQL {version:?}: {status:?}");
    }
}

/// A SQLite URL for a file `name` in `dir`, created on first connect.
pub fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(name).display())
}

/// A plain HTTP/1.1 GET, for health endpoints: the status code and the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// An HTTP response, as a client sees it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, as text.
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET path` on `addr` over HTTP/1.1 with extra `headers`, read to the end.
pub async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let raw = http_raw(addr, request.as_bytes()).await?;
    Ok(parse_response(&raw))
}

/// Parses a whole HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw.get(split + 4..).unwrap_or(&[]).to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..eol])
                    .split(';')
                    .next()
                    .unwrap_or("0")
                    .trim(),
                16,
            )
            .unwrap_or(0);
            if size == 0 {
                break;
            }
            let start = eol + 2;
            out.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
            rest = rest.get(start + size + 2..).unwrap_or(&[]);
        }
        body = out;
    }
    HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Sends `request` (a whole HTTP/1.1 request, with `Connection: close`) to `addr` and returns
/// the raw response.
pub async fn http_raw(addr: std::net::SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(raw)
}

/// A RabbitMQ virtual host created for one test (so runs never share queues), deleted when
/// this goes out of scope. Needs `rabbitmqctl` (the tests run where the broker does).
#[derive(Debug)]
pub struct RabbitVhost {
    /// `amqp://guest:guest@127.0.0.1:5672/<vhost>`.
    pub url: String,
    /// The vhost's name.
    pub name: String,
}

impl RabbitVhost {
    /// Creates a fresh vhost that `guest` may use fully.
    pub fn create() -> Self {
        ensure_rabbitmq();
        let name = format!("imprint_test_{}", uuid::Uuid::now_v7().simple());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        let host =
            std::env::var("IMPRINT_TEST_AMQP_HOST").unwrap_or_else(|_| "127.0.0.1:5672".to_owned());
        Self {
            url: format!("amqp://guest:guest@{host}/{name}"),
            name,
        }
    }
}

impl Drop for RabbitVhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
    }
}

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running rabbitmqctl {args:?}: {e}"));
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes sure RabbitMQ answers on 127.0.0.1:5672, starting it when it does not.
pub fn ensure_rabbitmq() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let up = || {
            std::net::TcpStream::connect("127.0.0.1:5672").is_ok()
                && Command::new("rabbitmqctl")
                    .args(["-q", "await_startup"])
                    .output()
                    .is_ok_and(|o| o.status.success())
        };
        if up() {
            return;
        }
        eprintln!("testkit: starting RabbitMQ");
        let _ = Command::new("rabbitmq-server").arg("-detached").status();
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "start_app"])
            .status();
        let deadline = Instant::now() + Duration::from_secs(90);
        while !up() {
            assert!(
                Instant::now() < deadline,
                "RabbitMQ did not start within 90s"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    });
}
