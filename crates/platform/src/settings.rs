//! Configuration, layered: built-in defaults < a TOML file (`--config`) < `IMPRINT__SECTION__KEY`
//! environment variables < command-line flags. Unknown keys and bad values are refused before
//! any port is bound, with the key named.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::auth::Role;

use serde::{Deserialize, Serialize};

/// Every setting of the `imprint` binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded default keeps its SQLite files.
    pub data_dir: PathBuf,
    /// Listening addresses and shutdown.
    pub server: ServerSettings,
    /// The database every service in this process uses unless it has its own.
    pub database: DatabaseSettings,
    /// The papers service.
    pub papers: ServiceSettings,
    /// The authors service.
    pub authors: ServiceSettings,
    /// The recommendations service.
    pub recommendations: ServiceSettings,
    /// Logging.
    pub log: LogSettings,
    /// Traces, exported over OTLP.
    pub tracing: TracingSettings,
    /// The RabbitMQ broker; without one, events travel inside the process.
    pub amqp: AmqpSettings,
    /// Event relaying and consuming.
    pub events: EventsSettings,
    /// Who may call the editorial API at the edge (`--role all` or `gateway`).
    pub auth: AuthSettings,
    /// What the edge itself serves: publication pages.
    pub gateway: GatewaySettings,
    /// Keys of the tokens Imprint hands out and takes back.
    #[serde(default)]
    pub signing: SigningSettings,
    /// Deliveries to the webhook endpoints admins register (`--role all` or `gateway`).
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Where uploaded files (reports, images, data) are kept, and how large they may be.
    #[serde(default)]
    pub storage: StorageSettings,
}

/// Which object store keeps the files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageBackend {
    /// A directory (`storage.dir`, or `data_dir/files`): the embedded default. Every process
    /// of a deployment must see the same directory.
    #[default]
    Filesystem,
    /// An S3-compatible store (`storage.bucket`, `storage.endpoint`, `storage.region`);
    /// credentials from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`).
    S3,
}

/// Where files are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `filesystem` or `s3`.
    pub backend: StorageBackend,
    /// The filesystem store's directory; unset: `data_dir/files`.
    #[serde(with = "optional")]
    pub dir: Option<String>,
    /// The S3 bucket.
    #[serde(with = "optional")]
    pub bucket: Option<String>,
    /// The S3 endpoint, for stores other than AWS (`http://minio:9000`); unset: AWS.
    #[serde(with = "optional")]
    pub endpoint: Option<String>,
    /// The S3 region.
    pub region: String,
    /// The endpoint may be plain http (a store on a private network).
    pub allow_http: bool,
    /// The largest file an editor may upload, in megabytes (10^6 bytes).
    pub max_upload_mb: u64,
    /// How long an unfinished resumable upload may wait for its next part.
    pub upload_expiry_hours: u64,
    /// How long a file no paper or author references is kept before it is removed, in seconds.
    pub grace_secs: u64,
    /// How often the replica that leads looks for such files, in seconds.
    pub sweep_secs: u64,
}

impl StorageSettings {
    /// An S3 store needs its bucket, and an endpoint URL that is one; sizes must be positive.
    fn validate(&self) -> Result<(), SettingsError> {
        // S3 copies (which name a file once it is whole) take 5 GB at most.
        if !(1..=5_000).contains(&self.max_upload_mb) {
            return Err(SettingsError(format!(
                "storage.max_upload_mb: {} is not between 1 and 5000",
                self.max_upload_mb
            )));
        }
        if !(1..=8_760).contains(&self.upload_expiry_hours) {
            return Err(SettingsError(format!(
                "storage.upload_expiry_hours: {} is not between 1 and 8760 (a year)",
                self.upload_expiry_hours
            )));
        }
        if self.backend != StorageBackend::S3 {
            return Ok(());
        }
        if self.bucket.is_none() {
            return Err(SettingsError(
                "storage.bucket: the s3 backend needs the bucket's name".to_owned(),
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let allowed = endpoint.starts_with("https://")
                || (self.allow_http && endpoint.starts_with("http://"));
            if !allowed {
                return Err(SettingsError(format!(
                    "storage.endpoint: '{endpoint}' must be an https:// URL (or http:// with storage.allow_http = true)"
                )));
            }
        }
        Ok(())
    }

    /// The largest upload, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb.saturating_mul(1_000_000)
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Filesystem,
            dir: None,
            bucket: None,
            endpoint: None,
            region: "us-east-1".to_owned(),
            allow_http: false,
            max_upload_mb: 200,
            upload_expiry_hours: 24,
            grace_secs: 86_400,
            sweep_secs: 600,
        }
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Endpoints may be plain http (tests, private networks); otherwise https only.
    pub allow_http: bool,
    /// Endpoints may be, or resolve to, loopback, private and link-local addresses.
    pub allow_private: bool,
    /// The wait after a delivery's first failure; it doubles with each failure after.
    pub initial_backoff_ms: u64,
    /// The longest wait between two attempts.
    pub max_backoff_ms: u64,
    /// How long after its first attempt a delivery is retried before it is given up.
    pub retry_hours: u64,
    /// An endpoint whose deliveries all failed for this long is disabled.
    pub disable_after_hours: u64,
    /// How long an endpoint may take to answer one delivery.
    pub timeout_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private: false,
            initial_backoff_ms: 5_000,
            max_backoff_ms: 3_600_000,
            retry_hours: 25,
            disable_after_hours: 24,
            timeout_ms: 15_000,
        }
    }
}

/// Keys that seal page tokens, recommendation ids and views ([`crate::signing`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSettings {
    /// Secrets of at least 32 bytes, newest first: the first signs, all verify. Every process
    /// of a deployment needs the same list. Empty in the embedded default (`imprint serve`
    /// with every role) means a key made once and kept in `data_dir/signing.key`; the
    /// single-service roles refuse to start without one.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// What the edge itself serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// How long a publication page waits for its related publications before it is served
    /// without them (flagged), so that a slow recommendations service never holds pages up.
    pub related_budget_ms: u64,
    /// The public site's base URL (`https://www.example.org`), for links in JSON, feeds,
    /// sitemaps and citations; unset means the public listener's own address.
    #[serde(default, with = "optional")]
    pub site_url: Option<String>,
    /// The public API's own base URL as readers reach it (`https://api.example.org`), for the
    /// links to downloads and images; unset means the public listener's own address.
    #[serde(default, with = "optional")]
    pub api_url: Option<String>,
    /// The institute's name: publisher in citations and JSON-LD, title of feeds.
    pub site_name: String,
    /// Public API responses kept in memory; 0 turns the cache off.
    pub cache_entries: usize,
    /// Longest a cached response is served, should an event be missed (a broker outage).
    pub cache_max_age_secs: u64,
    /// After the last change, when the cache is dropped once more: by then the related
    /// publications and search have caught up with it.
    pub cache_settle_ms: u64,
    /// Longest a public request may take before it is answered 503.
    pub request_timeout_ms: u64,
    /// Proxies in front of the public API (load balancers, ingress), as addresses or CIDR
    /// blocks: a request from one of them is from the client its `X-Forwarded-For` names,
    /// for the partner keys' per-client limits. Empty: every request is from its peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// A proxy address or block of `gateway.trusted_proxies`: `10.0.0.0/8`, `192.0.2.1`, `fd00::/8`.
pub fn parse_proxy(text: &str) -> Result<ipnet::IpNet, NotAProxy> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| NotAProxy(text.to_owned()))
}

/// An entry of `gateway.trusted_proxies` that is neither an address nor a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an address or a CIDR block like 10.0.0.0/8")]
pub struct NotAProxy(pub String);

/// Authentication of editorial callers at the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Static bearer tokens for scripts and other systems, by name (the name is logged, the
    /// token never): `[auth.tokens.importer] token = "…", role = "publisher"`.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSettings>,
    /// Bearer JWTs from an identity provider.
    pub jwt: JwtSettings,
    /// Browser origins of editorial front ends allowed to call over gRPC-Web
    /// (`https://editor.example.org`); none means no cross-origin browser calls.
    #[serde(default)]
    pub editor_origins: Vec<String>,
}

/// One static bearer token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The secret itself, at least 16 characters.
    pub token: String,
    /// What its holder may do.
    pub role: Role,
}

/// Verification of bearer JWTs. Off while no key is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// The `iss` every token must carry.
    #[serde(default, with = "optional")]
    pub issuer: Option<String>,
    /// The `aud` every token must carry.
    #[serde(default, with = "optional")]
    pub audience: Option<String>,
    /// Shared secret for HS256 tokens, at least 32 bytes; unset means HS256 is not accepted.
    #[serde(default, with = "optional")]
    pub hs256_secret: Option<String>,
    /// PEM files of public keys for RS256 (RSA) and ES256 (P-256) tokens; several during a
    /// key rotation.
    #[serde(default)]
    pub public_key_files: Vec<PathBuf>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
}

/// The RabbitMQ broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:5672/%2f`; unset means in-process events (one process only).
    #[serde(default, with = "optional")]
    pub url: Option<String>,
    /// Unacknowledged deliveries a consumer holds at once.
    pub prefetch: u16,
    /// Longest wait between reconnection attempts.
    pub max_backoff_secs: u64,
    /// Attempts at an event whose handling failed passingly (a database restart), in the
    /// consumer with doubling pauses from 200 ms, before it goes back to the queue.
    pub retry_attempts: u32,
}

/// Event relaying and consuming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// Run this process's consumers. Off for replicas that should only serve the API.
    pub consume: bool,
    /// Outbox rows published per batch.
    pub relay_batch: u64,
    /// How often the relay looks at the outbox when no write woke it.
    pub relay_poll_ms: u64,
    /// How long sent outbox rows are kept before they are pruned.
    pub keep_sent_hours: u64,
}

/// Listening addresses and shutdown behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// gRPC listener for every service of this process, with health and reflection.
    pub grpc_addr: SocketAddr,
    /// HTTP listener for `/healthz`, `/readyz` and `/metrics`: for operators, not the public.
    pub http_addr: SocketAddr,
    /// HTTP listener of the public JSON API, feeds, sitemap and widget (`--role all` and
    /// `gateway`).
    pub public_addr: SocketAddr,
    /// How long in-flight calls get to finish after SIGTERM before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// How long health reports NOT_SERVING before the listeners close, so that load balancers
    /// stop routing here first. Zero on a laptop, a few seconds behind a balancer.
    pub shutdown_delay_secs: u64,
    /// How long a connection may take to send a request's headers (the first bytes of a gRPC
    /// connection included), and an HTTP/1.1 connection may sit idle between requests.
    pub header_read_timeout_secs: u64,
}

/// A database connection pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user@host/db` or `sqlite:///path/file.db`; unset means one SQLite file per
    /// service under `data_dir`.
    #[serde(default, with = "optional")]
    pub url: Option<String>,
    /// Pool size per service.
    pub max_connections: u32,
    /// How long to wait for a connection before answering UNAVAILABLE.
    pub acquire_timeout_secs: u64,
    /// Run pending migrations at start (the embedded default). Production runs
    /// `imprint migrate` once instead, before the roles start.
    pub migrate_on_start: bool,
}

/// Settings of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// This service's own database, overriding `database.url`.
    #[serde(default, with = "optional")]
    pub database_url: Option<String>,
    /// Where other processes reach this service (`http://papers:50051`); unset means it runs
    /// in this process.
    #[serde(default, with = "optional")]
    pub url: Option<String>,
    /// Deadline for calls to this service from other services.
    pub timeout_ms: u64,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter: `info`, `imprint_papers=debug,info`. `RUST_LOG` overrides it.
    pub level: String,
}

/// Traces. Every process keeps trace context (it carries it to the services it calls and into
/// the events it writes, and logs the trace id); spans leave the process only when an OTLP
/// endpoint is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingSettings {
    /// OTLP/gRPC collector, `http://otel-collector:4317`; unset means the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` if set, else no export.
    #[serde(default, with = "optional")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of this process's spans; unset means `imprint-<role>`.
    #[serde(default, with = "optional")]
    pub service_name: Option<String>,
    /// Share of new traces kept, 0 to 1. A caller's decision (the `traceparent` sampled flag) is
    /// followed either way, so a trace is never cut in half.
    pub sample_ratio: f64,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        let service = ServiceSettings {
            database_url: None,
            url: None,
            timeout_ms: 5_000,
        };
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerSettings {
                grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
                http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
                public_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
                shutdown_grace_secs: 30,
                shutdown_delay_secs: 0,
                header_read_timeout_secs: 60,
            },
            database: DatabaseSettings {
                url: None,
                max_connections: 10,
                acquire_timeout_secs: 5,
                migrate_on_start: true,
            },
            papers: service.clone(),
            authors: service.clone(),
            recommendations: service,
            log: LogSettings {
                format: LogFormat::Text,
                level: "info".to_owned(),
            },
            tracing: TracingSettings {
                otlp_endpoint: None,
                service_name: None,
                sample_ratio: 1.0,
            },
            amqp: AmqpSettings {
                url: None,
                prefetch: 64,
                max_backoff_secs: 30,
                retry_attempts: 6,
            },
            events: EventsSettings {
                consume: true,
                relay_batch: 500,
                relay_poll_ms: 500,
                keep_sent_hours: 24,
            },
            gateway: GatewaySettings {
                related_budget_ms: 800,
                site_url: None,
                api_url: None,
                site_name: "Imprint".to_owned(),
                cache_entries: 10_000,
                cache_max_age_secs: 300,
                cache_settle_ms: 1_500,
                request_timeout_ms: 10_000,
                trusted_proxies: Vec::new(),
            },
            signing: SigningSettings { keys: Vec::new() },
            webhooks: WebhookSettings::default(),
            storage: StorageSettings::default(),
            auth: AuthSettings {
                tokens: BTreeMap::new(),
                jwt: JwtSettings {
                    issuer: None,
                    audience: None,
                    hs256_secret: None,
                    public_key_files: Vec::new(),
                    leeway_secs: 30,
                },
                editor_origins: Vec::new(),
            },
        }
    }
}

/// The services of Imprint: each has its database (and, but for the edge, a settings section
/// saying where other processes reach it), and runs in the processes whose role includes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// Papers and their workflow.
    Papers,
    /// Authors and their profiles.
    Authors,
    /// Related publications and search.
    Recommendations,
    /// The edge: publication pages, partner keys, the public API.
    Gateway,
}

impl ServiceKey {
    /// Every service.
    pub const ALL: [Self; 4] = [
        Self::Papers,
        Self::Authors,
        Self::Recommendations,
        Self::Gateway,
    ];

    /// Its name in settings (`papers.url`), database files and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Papers => "papers",
            Self::Authors => "authors",
            Self::Recommendations => "recommendations",
            Self::Gateway => "gateway",
        }
    }

    /// The service called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Text settings that may be unset. Unset and set to blank are the same, `None`: an
/// environment variable exported empty (`IMPRINT__AMQP__URL=`) means "not set", here and
/// nowhere else. Written as an empty string, so that every key shows in the defaults.
mod optional {
    use serde::{Deserialize, Deserializer, Serializer};

    // serde's `with` hands the field by reference.
    #[allow(clippy::ref_option)]
    pub(super) fn serialize<S: Serializer>(
        value: &Option<String>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_deref().unwrap_or(""))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|v| !v.trim().is_empty()))
    }
}

/// A setting that could not be loaded, naming the key or file.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Loads defaults, then `file` if given, then `IMPRINT__…` variables from `env`, then the
    /// `overrides` (flag key, value) pairs; then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[(&str, String)],
    ) -> Result<Self, SettingsError> {
        let defaults = config::Config::try_from(&Settings::default())
            .map_err(|e| SettingsError(e.to_string()))?;
        let mut builder = config::Config::builder().add_source(defaults);
        if let Some(path) = file {
            if !path.is_file() {
                return Err(SettingsError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("IMPRINT__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("IMPRINT")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("auth.jwt.public_key_files")
                .with_list_parse_key("auth.editor_origins")
                .with_list_parse_key("signing.keys")
                .with_list_parse_key("gateway.trusted_proxies")
                .source(Some(env)),
        );
        for (key, value) in overrides {
            builder = builder
                .set_override(*key, value.as_str())
                .map_err(|e| SettingsError(format!("{key}: {e}")))?;
        }
        let settings: Settings = builder
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_addresses()?;
        self.validate_telemetry()?;
        self.validate_numbers()?;
        self.auth.validate()?;
        for (i, key) in self.signing.keys.iter().enumerate() {
            crate::signing::check_key(i, key).map_err(|e| SettingsError(e.to_string()))?;
        }
        self.storage.validate()?;
        self.gateway.validate()
    }

    /// Database, peer and broker URLs.
    fn validate_addresses(&self) -> Result<(), SettingsError> {
        for (key, url) in [
            ("database.url", &self.database.url),
            ("papers.database_url", &self.papers.database_url),
            ("authors.database_url", &self.authors.database_url),
            (
                "recommendations.database_url",
                &self.recommendations.database_url,
            ),
        ] {
            if let Some(url) = url
                && !is_supported_database_url(url)
            {
                return Err(SettingsError(format!(
                    "{key}: '{url}' is not a database URL Imprint supports; use postgres://… or sqlite://…"
                )));
            }
        }
        for (key, url) in [
            ("papers.url", &self.papers.url),
            ("authors.url", &self.authors.url),
            ("recommendations.url", &self.recommendations.url),
        ] {
            // Services talk plain HTTP/2 inside the cluster; TLS, where wanted, is the mesh's.
            if let Some(url) = url
                && !url.starts_with("http://")
            {
                return Err(SettingsError(format!(
                    "{key}: '{url}' must be an http:// URL such as http://papers:50051 (TLS between services belongs to the service mesh)"
                )));
            }
        }
        let Some(amqp) = &self.amqp.url else {
            return Ok(());
        };
        if amqp.starts_with("amqps://") {
            return Err(SettingsError(
                "amqp.url: amqps:// needs a build with TLS to the broker; inside a cluster use amqp:// over the service mesh".to_owned(),
            ));
        }
        if !amqp.starts_with("amqp://") {
            return Err(SettingsError(format!(
                "amqp.url: '{}' is not an AMQP URL; use amqp://user:password@host:5672/%2f",
                crate::db::redact(amqp)
            )));
        }
        Ok(())
    }

    /// Logs and traces.
    fn validate_telemetry(&self) -> Result<(), SettingsError> {
        if !is_log_filter(&self.log.level) {
            return Err(SettingsError(format!(
                "log.level: '{}' is not a log filter; use error, warn, info, debug or trace, optionally per module: imprint_papers=debug,info",
                self.log.level
            )));
        }
        if !(0.0..=1.0).contains(&self.tracing.sample_ratio) {
            return Err(SettingsError(format!(
                "tracing.sample_ratio: {} is not between 0 and 1",
                self.tracing.sample_ratio
            )));
        }
        if let Some(otlp) = &self.tracing.otlp_endpoint
            && !url::Url::parse(otlp).is_ok_and(|u| u.scheme() == "http")
        {
            return Err(SettingsError(format!(
                "tracing.otlp_endpoint: '{otlp}' is not an http:// URL; use a collector in the cluster, like http://otel-collector:4317 (this build has no TLS)"
            )));
        }
        Ok(())
    }

    /// Counts and durations that must not be zero.
    fn validate_numbers(&self) -> Result<(), SettingsError> {
        if self.amqp.prefetch == 0 || self.amqp.retry_attempts == 0 {
            return Err(SettingsError(
                "amqp.prefetch and amqp.retry_attempts: must be at least 1".to_owned(),
            ));
        }
        if self.events.relay_batch == 0 || self.events.relay_poll_ms == 0 {
            return Err(SettingsError(
                "events.relay_batch and events.relay_poll_ms: must be at least 1".to_owned(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(SettingsError(
                "database.max_connections: must be at least 1".to_owned(),
            ));
        }
        for (key, value) in [
            ("papers.timeout_ms", self.papers.timeout_ms),
            ("authors.timeout_ms", self.authors.timeout_ms),
            (
                "recommendations.timeout_ms",
                self.recommendations.timeout_ms,
            ),
            (
                "server.header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
        ] {
            if value == 0 {
                return Err(SettingsError(format!("{key}: must be at least 1")));
            }
        }
        Ok(())
    }

    /// The settings section of `service`, for those that have one (the edge has none).
    pub fn service(&self, service: ServiceKey) -> Option<&ServiceSettings> {
        match service {
            ServiceKey::Papers => Some(&self.papers),
            ServiceKey::Authors => Some(&self.authors),
            ServiceKey::Recommendations => Some(&self.recommendations),
            ServiceKey::Gateway => None,
        }
    }

    /// The database URL of a service: its own, else the shared one, else a SQLite file named
    /// after it under `data_dir`.
    pub fn database_url_for(&self, service: ServiceKey) -> String {
        let own = self.service(service).and_then(|s| s.database_url.as_ref());
        if let Some(own) = own {
            own.clone()
        } else if let Some(shared) = &self.database.url {
            shared.clone()
        } else {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir
                    .join(format!("{}.db", service.name()))
                    .display()
            )
        }
    }
}

impl GatewaySettings {
    fn validate(&self) -> Result<(), SettingsError> {
        for (key, value) in [
            ("gateway.related_budget_ms", self.related_budget_ms),
            ("gateway.cache_max_age_secs", self.cache_max_age_secs),
            ("gateway.request_timeout_ms", self.request_timeout_ms),
        ] {
            if value == 0 {
                return Err(SettingsError(format!("{key}: must be at least 1")));
            }
        }
        for proxy in &self.trusted_proxies {
            parse_proxy(proxy)
                .map_err(|e| SettingsError(format!("gateway.trusted_proxies: {e}")))?;
        }
        for (key, value) in [("site_url", &self.site_url), ("api_url", &self.api_url)] {
            if let Some(url) = value
                && !url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            {
                return Err(SettingsError(format!(
                    "gateway.{key}: '{url}' is not an http(s) URL like https://www.example.org"
                )));
            }
        }
        Ok(())
    }
}

impl AuthSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        for (name, token) in &self.tokens {
            // Revisions and events name a token by its name: this one would pass for Imprint.
            if name.eq_ignore_ascii_case(imprint_domain::Actor::SYSTEM) {
                return Err(SettingsError(format!(
                    "auth.tokens.{name}: the name '{}' is what changes Imprint makes itself are recorded under; name the token after who uses it",
                    imprint_domain::Actor::SYSTEM
                )));
            }
            if token.token.trim().chars().count() < 16 {
                return Err(SettingsError(format!(
                    "auth.tokens.{name}.token: must be at least 16 characters; make one with `openssl rand -hex 32`"
                )));
            }
        }
        let jwt = &self.jwt;
        if jwt.hs256_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(SettingsError(
                "auth.jwt.hs256_secret: must be at least 32 bytes".to_owned(),
            ));
        }
        if jwt.is_enabled() {
            for (key, value) in [("issuer", &jwt.issuer), ("audience", &jwt.audience)] {
                if value.is_none() {
                    return Err(SettingsError(format!(
                        "auth.jwt.{key}: required when auth.jwt.hs256_secret or auth.jwt.public_key_files is set; tokens are checked against it"
                    )));
                }
            }
        }
        for origin in &self.editor_origins {
            // Browsers send origins lower-case, without a default port or a slash: one written
            // otherwise would never match, silently.
            let url = url::Url::parse(origin).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/"
            });
            match url.map(|u| u.origin().ascii_serialization()) {
                Some(canonical) if &canonical == origin => {}
                Some(canonical) => {
                    return Err(SettingsError(format!(
                        "auth.editor_origins: write '{origin}' as a browser sends it: {canonical}"
                    )));
                }
                None => {
                    return Err(SettingsError(format!(
                        "auth.editor_origins: '{origin}' is not an origin; use scheme://host[:port], like https://editor.example.org"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl JwtSettings {
    /// Whether any JWT is accepted.
    pub fn is_enabled(&self) -> bool {
        self.hs256_secret.is_some() || !self.public_key_files.is_empty()
    }
}

/// A `tracing` filter of levels, each optionally for a target: `info`, `imprint_papers=debug,warn`.
/// Stricter than `EnvFilter`, which takes a misspelt level for a target name and logs nothing.
fn is_log_filter(filter: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |s: &str| LEVELS.contains(&s.trim().to_ascii_lowercase().as_str());
    !filter.trim().is_empty()
        && filter
            .split(',')
            .all(|directive| match directive.split_once('=') {
                Some((target, level)) => !target.trim().is_empty() && is_level(level),
                None => is_level(directive),
            })
        && tracing_subscriber::EnvFilter::try_new(filter).is_ok()
}

fn is_supported_database_url(url: &str) -> bool {
    ["postgres://", "postgresql://", "sqlite:"]
        .iter()
        .any(|p| url.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment variable of every leaf of `value`, under `prefix`.
    fn variables(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (key, inner) in map {
                    variables(&format!("{prefix}__{}", key.to_uppercase()), inner, out);
                }
            }
            // Maps of named entries (auth.tokens) are documented by their pattern.
            serde_json::Value::Object(_) => out.push(format!("{prefix}__<NAME>")),
            _ => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn every_setting_is_in_the_operators_guide() {
        let guide = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/README.md"),
        )
        .unwrap();
        let mut names = Vec::new();
        let defaults = serde_json::to_value(Settings::default()).unwrap();
        variables("IMPRINT", &defaults, &mut names);
        assert!(names.len() > 40, "{names:?}");
        let missing: Vec<_> = names
            .iter()
            .filter(|n| !guide.contains(&format!("`{n}")))
            .collect();
        assert!(
            missing.is_empty(),
            "deploy/README.md does not document {missing:?}"
        );
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_empty_variable_is_a_setting_not_set() {
        let s = Settings::load(
            None,
            env(&[
                ("IMPRINT__AMQP__URL", ""),
                ("IMPRINT__PAPERS__URL", "  "),
                ("IMPRINT__AUTHORS__URL", "http://authors:50051"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(s.amqp.url, None);
        assert_eq!(s.papers.url, None);
        assert_eq!(s.authors.url.as_deref(), Some("http://authors:50051"));
    }

    #[test]
    fn defaults_load() {
        let s = Settings::load(None, env(&[]), &[]).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(
            s.database_url_for(ServiceKey::Papers),
            "sqlite://./data/papers.db?mode=rwc"
        );
    }

    #[test]
    fn layers_file_env_and_flags_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imprint.toml");
        std::fs::write(
            &file,
            "[server]\ngrpc_addr = \"127.0.0.1:1\"\nhttp_addr = \"127.0.0.1:2\"\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&file),
            env(&[
                ("IMPRINT__SERVER__GRPC_ADDR", "127.0.0.1:3"),
                ("IMPRINT__DATABASE__URL", "postgres://postgres@127.0.0.1/x"),
                ("IMPRINT__DATABASE__MAX_CONNECTIONS", "4"),
                ("OTHER", "ignored"),
            ]),
            &[("server.grpc_addr", "127.0.0.1:4".to_owned())],
        )
        .unwrap();
        assert_eq!(s.server.grpc_addr.port(), 4, "flags beat env");
        assert_eq!(s.server.http_addr.port(), 2, "file beats defaults");
        assert_eq!(s.log.level, "debug");
        assert_eq!(s.database.max_connections, 4);
        assert_eq!(
            s.database_url_for(ServiceKey::Authors),
            "postgres://postgres@127.0.0.1/x"
        );
    }

    #[test]
    fn auth_settings_from_env() {
        let s = Settings::load(
            None,
            env(&[
                ("IMPRINT__AUTH__TOKENS__CI__TOKEN", "0123456789abcdef0123"),
                ("IMPRINT__AUTH__TOKENS__CI__ROLE", "publisher"),
                ("IMPRINT__AUTH__JWT__ISSUER", "https://id.example.org"),
                ("IMPRINT__AUTH__JWT__AUDIENCE", "imprint"),
                ("IMPRINT__AUTH__JWT__PUBLIC_KEY_FILES", "/a.pem,/b.pem"),
                (
                    "IMPRINT__AUTH__EDITOR_ORIGINS",
                    "https://editor.example.org,http://localhost:5173",
                ),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(s.auth.tokens["ci"].role, Role::Publisher);
        assert_eq!(s.auth.jwt.public_key_files.len(), 2);
        assert_eq!(s.auth.editor_origins[1], "http://localhost:5173");
        for (pairs, key) in [
            (
                vec![
                    ("IMPRINT__AUTH__TOKENS__CI__TOKEN", "short"),
                    ("IMPRINT__AUTH__TOKENS__CI__ROLE", "admin"),
                ],
                "auth.tokens.ci.token",
            ),
            (
                vec![
                    ("IMPRINT__AUTH__TOKENS__CI__TOKEN", "0123456789abcdef0123"),
                    ("IMPRINT__AUTH__TOKENS__CI__ROLE", "root"),
                ],
                "role",
            ),
            (
                vec![
                    (
                        "IMPRINT__AUTH__TOKENS__SYSTEM__TOKEN",
                        "0123456789abcdef0123",
                    ),
                    ("IMPRINT__AUTH__TOKENS__SYSTEM__ROLE", "admin"),
                ],
                "auth.tokens.system: the name 'system'",
            ),
            (
                vec![(
                    "IMPRINT__AUTH__JWT__HS256_SECRET",
                    "0123456789abcdef0123456789abcdef",
                )],
                "auth.jwt.issuer",
            ),
            (
                vec![("IMPRINT__AUTH__JWT__HS256_SECRET", "too short")],
                "auth.jwt.hs256_secret",
            ),
            (
                vec![("IMPRINT__AUTH__EDITOR_ORIGINS", "https://a.org/path")],
                "auth.editor_origins",
            ),
            (
                vec![("IMPRINT__AUTH__EDITOR_ORIGINS", "https://A.org:443")],
                "as a browser sends it: https://a.org",
            ),
        ] {
            let err = Settings::load(None, env(&pairs), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Settings::load(None, env(&[("IMPRINT__SERVER__GRPC_ADDR", "nowhere")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.grpc_addr"), "{err}");
        let err = Settings::load(None, env(&[("IMPRINT__DATABASE__URL", "mysql://x")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
        let err = Settings::load(None, env(&[("IMPRINT__LOG__FORMAT", "xml")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.format"), "{err}");
        assert!(is_log_filter("info") && is_log_filter("imprint_papers=debug,WARN"));
        let err = Settings::load(None, env(&[("IMPRINT__LOG__LEVEL", "verbose")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.level"), "{err}");
        let err = Settings::load(None, env(&[("IMPRINT__AUTHORS__URL", "https://a:1")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("authors.url"), "{err}");
        let err = Settings::load(None, env(&[("IMPRINT__AMQP__URL", "http://rabbit")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("amqp.url"), "{err}");
        let ok = Settings::load(
            None,
            env(&[
                (
                    "IMPRINT__AMQP__URL",
                    "amqp://guest:guest@127.0.0.1:5672/%2f",
                ),
                ("IMPRINT__EVENTS__CONSUME", "false"),
            ]),
            &[],
        )
        .unwrap();
        assert!(!ok.events.consume);
        let err = Settings::load(None, env(&[("IMPRINT__SERVER__GRPC_PORT", "1")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("grpc_port"), "{err}");
    }
}
