//! `imprint-loadgen`: the load generator behind `BENCHMARKS.md`.
//!
//! `run` sends requests open-loop at a fixed rate (each request starts at its scheduled time,
//! whether or not earlier ones finished, and its latency counts from that time, so a stalled
//! server cannot hide its stalls), then reports latency percentiles and the CPU time the
//! measured processes spent per request, read from `/proc`. `echo-server` is the baseline: a
//! bare tonic server answering `grpc.health.v1.Health/Check`.

#![allow(clippy::print_stdout)] // Its output is the report.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

mod error;
mod http_load;
mod relay_bench;

use error::LoadError;
use imprint_platform::auth::Bearer;
use imprint_platform::clients::Peer;
use imprint_proto::papers::GetPaperRequest;
use imprint_proto::papers::get_paper_request::Key;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::recommendations::GetRelatedPublicationsRequest;
use imprint_proto::recommendations::get_related_publications_request::Key as RelatedKey;
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use tokio::sync::mpsc;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Debug, Parser)]
#[command(
    name = "imprint-loadgen",
    about = "Fixed-rate gRPC load with latency and CPU figures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the baseline: a bare tonic server with grpc.health.v1 only.
    EchoServer {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:50100")]
        addr: SocketAddr,
    },
    /// Serve the HTTP baseline: a bare axum handler answering `GET /v1/hello` with a small
    /// JSON document.
    AxumServer {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:50101")]
        addr: SocketAddr,
    },
    /// Send load and report.
    Run(Box<RunArgs>),
    /// Print a loopback port nobody listens on, for scripts.
    FreePort,
    /// Measure how fast the outbox relay empties an outbox into RabbitMQ.
    Relay {
        /// The broker (use a vhost of its own: the queues fill up).
        #[arg(long)]
        amqp_url: String,
        /// Events to relay.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Rows per batch; 1 awaits each confirm before the next publication.
        #[arg(long, default_value_t = 500)]
        batch: u64,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// gRPC target, `http://host:port`.
    #[arg(long)]
    target: String,
    /// What to call.
    #[arg(long, value_enum)]
    rpc: Rpc,
    /// The path for `http` (`/v1/pages/some-slug`).
    #[arg(long, default_value = "/")]
    path: String,
    /// The slug for `get-paper-by-slug`.
    #[arg(long, default_value = "")]
    slug: String,
    /// For `related`: a file of paper ids, one per line, asked about in turn.
    #[arg(long)]
    ids: Option<std::path::PathBuf>,
    /// The server's Prometheus endpoint (`http://127.0.0.1:8080/metrics`): the percentiles of
    /// `--histogram` over the measured window are reported as server time.
    #[arg(long)]
    metrics: Option<String>,
    /// The histogram read from `--metrics`.
    #[arg(long, default_value = "imprint_recommendations_related_seconds")]
    histogram: String,
    /// Requests per second.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured warm-up seconds at the same rate.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// HTTP/2 connections, used round-robin.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Process ids whose CPU time counts as the server's (repeatable).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// Processes, by command name (e.g. `postgres`), whose CPU is reported as the database's.
    #[arg(long = "db-comm")]
    db_comms: Vec<String>,
    /// A label for the report line.
    #[arg(long, default_value = "")]
    label: String,
    /// Bearer token for the editorial API (`IMPRINT_TOKEN`).
    #[arg(long, env = "IMPRINT_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// The allocator `imprint` runs with, so that the bare handlers measured as baselines and
/// Imprint are measured alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Rpc {
    /// grpc.health.v1.Health/Check.
    Health,
    /// imprint.papers.v1.PaperService/GetPaper by slug.
    GetPaperBySlug,
    /// imprint.recommendations.v1.RecommendationService/GetRelatedPublications (3, by id).
    Related,
    /// HTTP/1.1 `GET --path` on `--target http://host:port` (keep-alive connections).
    Http,
}

#[allow(clippy::print_stderr)] // The command's error, said once.
fn main() -> std::process::ExitCode {
    match run_command(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imprint-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_command(cli: Cli) -> Result<(), LoadError> {
    match cli.command {
        // The baseline server gets the same runtime as `imprint serve`.
        Command::EchoServer { addr } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(LoadError::io("starting the runtime"))?
            .block_on(echo_server(addr)),
        Command::AxumServer { addr } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(LoadError::io("starting the runtime"))?
            .block_on(http_load::axum_server(addr)),
        // The generator runs on one thread, pinned to its own core: pacing and response
        // handling interleave cooperatively instead of fighting over the core.
        Command::FreePort => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(LoadError::io("binding a free port"))?;
            let port = listener
                .local_addr()
                .map_err(LoadError::io("reading the port"))?
                .port();
            println!("{port}");
            Ok(())
        }
        Command::Relay {
            amqp_url,
            events,
            batch,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(LoadError::io("starting the runtime"))?
            .block_on(relay_bench::run(&amqp_url, events, batch)),
        Command::Run(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LoadError::io("starting the runtime"))?
            .block_on(run(*args)),
    }
}

async fn echo_server(addr: SocketAddr) -> Result<(), LoadError> {
    let (_reporter, service) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(service)
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|source| LoadError::Transport {
            doing: format!("serving on {addr}"),
            source,
        })
}

#[derive(Clone)]
enum Client {
    Health(HealthClient<Channel>),
    Paper(PaperServiceClient<Peer>, String),
    Related(
        RecommendationServiceClient<Peer>,
        std::sync::Arc<Vec<String>>,
    ),
    Http(
        std::sync::Arc<http_load::HttpConnection>,
        std::sync::Arc<str>,
    ),
}

impl Client {
    async fn call(&mut self, i: u64) -> Result<(), tonic::Status> {
        match self {
            Self::Related(c, ids) => {
                let id = ids
                    .get(usize::try_from(i).unwrap_or(0) % ids.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                c.get_related_publications(GetRelatedPublicationsRequest {
                    key: Some(RelatedKey::PaperId(id)),
                    limit: 3,
                    ..GetRelatedPublicationsRequest::default()
                })
                .await
                .map(|_| ())
            }
            Self::Health(c) => c.check(HealthCheckRequest::default()).await.map(|_| ()),
            Self::Http(c, path) => c
                .get(path)
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string())),
            Self::Paper(c, slug) => c
                .get_paper(GetPaperRequest {
                    key: Some(Key::Slug(slug.clone())),
                    ..GetPaperRequest::default()
                })
                .await
                .map(|_| ()),
        }
    }
}

/// This process's user + system CPU time, in clock ticks.
pub(crate) fn self_cpu_ticks() -> u64 {
    cpu_ticks(&[std::process::id()], &[])
}

/// Total user + system CPU time of the given processes, in clock ticks.
fn cpu_ticks(pids: &[u32], comms: &[String]) -> u64 {
    let mut total = 0;
    let mut add = |stat: &str| {
        // Fields after the command name (which may hold spaces) start after the last ')'.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
            let utime = fields
                .get(11)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let stime = fields
                .get(12)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            total += utime + stime;
        }
    };
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            add(&stat);
        }
    }
    if !comms.is_empty()
        && let Ok(entries) = std::fs::read_dir("/proc")
    {
        for entry in entries.flatten() {
            let path = entry.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comms.iter().any(|c| c == comm.trim())
                && let Ok(stat) = std::fs::read_to_string(path.join("stat"))
            {
                add(&stat);
            }
        }
    }
    total
}

/// Waits until `at` more precisely than tokio's millisecond timer: sleeps while far, then
/// yields to the other tasks (the responses) until the time comes.
async fn pace(at: Instant) {
    if let Some(far) = at.checked_duration_since(Instant::now())
        && far > Duration::from_millis(2)
    {
        tokio::time::sleep_until((at - Duration::from_millis(1)).into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

fn ticks_per_second() -> u64 {
    // Linux reports CPU times in USER_HZ, 100 on every mainstream architecture.
    100
}

async fn run(args: RunArgs) -> Result<(), LoadError> {
    let ids = match &args.ids {
        Some(path) => std::fs::read_to_string(path)
            .map_err(LoadError::io(format!("reading {}", path.display())))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    if matches!(args.rpc, Rpc::Related) && ids.is_empty() {
        return Err(LoadError::Usage(
            "--rpc related needs --ids FILE with at least one paper id",
        ));
    }
    let ids = std::sync::Arc::new(ids);
    let mut clients = Vec::with_capacity(args.connections);
    if matches!(args.rpc, Rpc::Http) {
        let addr: SocketAddr = args
            .target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|source| LoadError::Target {
                target: args.target.clone(),
                source,
            })?;
        let path: std::sync::Arc<str> = args.path.as_str().into();
        for _ in 0..args.connections.max(1) {
            clients.push(Client::Http(
                http_load::HttpConnection::new(addr),
                std::sync::Arc::clone(&path),
            ));
        }
    }
    let grpc_connections = if clients.is_empty() {
        args.connections.max(1)
    } else {
        0
    };
    for _ in 0..grpc_connections {
        let transport = |source| LoadError::Transport {
            doing: format!("connecting to {}", args.target),
            source,
        };
        let channel = Endpoint::from_shared(args.target.clone())
            .map_err(transport)?
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(10))
            .connect()
            .await
            .map_err(transport)?;
        let bearer = Bearer::new(args.token.as_deref())?;
        let peer = || InterceptedService::new(channel.clone().into(), bearer.clone());
        let client = match args.rpc {
            Rpc::Health => Client::Health(HealthClient::new(channel)),
            Rpc::GetPaperBySlug => {
                Client::Paper(PaperServiceClient::new(peer()), args.slug.clone())
            }
            Rpc::Related => Client::Related(
                RecommendationServiceClient::new(peer()),
                std::sync::Arc::clone(&ids),
            ),
            // Made above, without a gRPC channel.
            Rpc::Http => continue,
        };
        clients.push(client);
    }
    // One call up front: a wrong slug or target fails here, not as a wall of errors.
    clients[0]
        .clone()
        .call(0)
        .await
        .map_err(LoadError::FirstCall)?;

    let interval = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let warmup_n = args.rate * args.warmup;
    let measured_n = args.rate * args.duration;
    let (tx, mut rx) = mpsc::unbounded_channel::<(bool, Duration, bool)>();
    let start = Instant::now() + Duration::from_millis(50);
    let mut cpu_start = None;
    let mut measured_start = None;
    let mut histogram_start = None;
    for i in 0..(warmup_n + measured_n) {
        let scheduled = start + interval.mul_f64(i as f64);
        pace(scheduled).await;
        let measured = i >= warmup_n;
        if measured && cpu_start.is_none() {
            cpu_start = Some((cpu_ticks(&args.pids, &[]), cpu_ticks(&[], &args.db_comms)));
            measured_start = Some(Instant::now());
            if let Some(url) = &args.metrics {
                histogram_start = Some(scrape(url, &args.histogram)?);
            }
        }
        let mut client = clients[usize::try_from(i).unwrap_or(0) % clients.len()].clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let ok = client.call(i).await.is_ok();
            let _ = tx.send((measured, scheduled.elapsed(), ok));
        });
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(usize::try_from(measured_n).unwrap_or(0));
    let mut errors = 0u64;
    while let Some((measured, latency, ok)) = rx.recv().await {
        if measured {
            if ok {
                latencies.push(latency);
            } else {
                errors += 1;
            }
        }
    }
    let wall = measured_start.map(|s| s.elapsed()).unwrap_or_default();
    let server_time = match (&args.metrics, histogram_start) {
        (Some(url), Some(before)) => {
            let after = scrape(url, &args.histogram)?;
            let delta: Vec<(f64, f64)> = after
                .iter()
                .zip(before.iter().map(|(_, c)| *c).chain(std::iter::repeat(0.0)))
                .map(|((le, a), b)| (*le, a - b))
                .collect();
            format!(
                "  server time p50 {:>6.0} µs  p99 {:>6.0} µs",
                quantile(&delta, 0.5) * 1e6,
                quantile(&delta, 0.99) * 1e6
            )
        }
        _ => String::new(),
    };
    let (server_start, db_start) = cpu_start.unwrap_or_default();
    let server_cpu = cpu_ticks(&args.pids, &[]).saturating_sub(server_start);
    let db_cpu = cpu_ticks(&[], &args.db_comms).saturating_sub(db_start);
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let idx = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[idx.min(latencies.len() - 1)].as_secs_f64() * 1e6
    };
    let done = latencies.len() as f64;
    let per_req = |ticks: u64| ticks as f64 * 1e6 / ticks_per_second() as f64 / done.max(1.0);
    let db = if args.db_comms.is_empty() {
        String::new()
    } else {
        format!("  database CPU {:>6.1} µs/req", per_req(db_cpu))
    };
    println!(
        "{label:<28} rate {rate:>6}/s  ok {ok:>7}  errors {errors:>4}  achieved {achieved:>8.0}/s  \
         p50 {p50:>7.0} µs  p90 {p90:>7.0} µs  p99 {p99:>7.0} µs  max {max:>8.0} µs  \
         server CPU {server:>6.1} µs/req{db}{server_time}",
        label = args.label,
        rate = args.rate,
        ok = latencies.len(),
        achieved = done / wall.as_secs_f64().max(1e-9),
        p50 = pct(0.50),
        p90 = pct(0.90),
        p99 = pct(0.99),
        max = pct(1.0),
        server = per_req(server_cpu),
    );
    Ok(())
}

/// The cumulative buckets `(le, count)` of histogram `name` at the Prometheus endpoint `url`
/// (plain HTTP on loopback: one GET, read to the end).
fn scrape(url: &str, name: &str) -> Result<Vec<(f64, f64)>, LoadError> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| LoadError::MetricsUrl(url.to_owned()))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)
        .map_err(LoadError::io(format!("connecting to {url}")))?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(LoadError::io(format!("asking {url}")))?;
    let mut body = String::new();
    stream
        .read_to_string(&mut body)
        .map_err(LoadError::io(format!("reading {url}")))?;
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, f64)> = body
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    if buckets.is_empty() {
        return Err(LoadError::NoHistogram {
            url: url.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(buckets)
}

/// The `q` quantile of cumulative buckets, interpolating linearly within the bucket, as
/// Prometheus' `histogram_quantile` does.
fn quantile(buckets: &[(f64, f64)], q: f64) -> f64 {
    let Some(total) = buckets.last().map(|(_, c)| *c) else {
        return f64::NAN;
    };
    if total <= 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, count) in buckets {
        if *count >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let within = (count - lower.1).max(f64::MIN_POSITIVE);
            return lower.0 + (le - lower.0) * (rank - lower.1) / within;
        }
        lower = (*le, *count);
    }
    lower.0
}
