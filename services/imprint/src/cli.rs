//! The command line. Flags are the last configuration layer: they override the file and the
//! `IMPRINT__…` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use imprint_platform::settings::LogFormat;

use crate::app::ProcessRole;

/// Imprint: the back end of a research institute's publications website.
#[derive(Debug, Parser)]
#[command(name = "imprint", version, about, long_about = None)]
pub struct Cli {
    /// A TOML configuration file (keys as in `IMPRINT__SECTION__KEY`, lowercase).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format: `text` for people, `json` for collectors.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one role, or all of them in one process (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(MigrateArgs),
    /// Load publication metadata (JSON Lines, gzip or plain) into a running Imprint through its
    /// API: authors matched by name, papers created and published in batches. Resumable: run
    /// it again to pick up where it stopped.
    Import(ImportArgs),
    /// Measure related publications against citation pairs (precision@10, nDCG@10), beside a
    /// TF-IDF baseline computed in the same run.
    Eval(EvalArgs),
    /// Operate the event backbone: dead letters, republishing.
    Events {
        /// What to do.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Partner keys for the widget and the public API: create, list, revoke (an admin's token).
    Keys(KeysArgs),
    /// Reads one PDF's text from standard input to standard output, as JSON: the server runs
    /// it as a child process for each PDF uploaded, so that a hostile file cannot crash it.
    #[command(name = "read-pdf-text", hide = true)]
    ReadPdfText,
}

/// `imprint keys …`
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The gRPC URL of the Imprint (an `all` process or a gateway).
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// An admin's bearer token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMPRINT_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `imprint keys …` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a partner; prints the key, which is shown only this once.
    Create {
        /// The partner's name, recorded with clicks (e.g. example.org).
        #[arg(long)]
        partner: String,
        /// An origin whose pages may use the key (scheme://host[:port]); repeat for more.
        #[arg(long = "origin", value_name = "ORIGIN", required = true)]
        origins: Vec<String>,
        /// Requests a minute (default 600).
        #[arg(long, value_name = "N", default_value_t = 0)]
        rate: i32,
    },
    /// List the keys, newest first.
    List {
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key by its id: it stops working at once.
    Revoke {
        /// The key's id (from `imprint keys list`).
        id: String,
    },
}

/// Options of `imprint import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The records, one JSON object a line, gzip or plain, shaped like `shared/data`: `id`,
    /// `title`, `abstract`, `authors`, `topics`, `date`, `pub_type`, and `file`: the path of
    /// the paper's full report (a PDF), absolute or relative to this file's directory.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The gRPC URL of the Imprint to load into (an `all` process or a gateway).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Bearer token for the server's editorial API (a publisher's: import publishes).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMPRINT_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Papers per call, at most 200.
    #[arg(long, value_name = "N", default_value_t = crate::import::DEFAULT_BATCH)]
    pub batch: usize,
    /// The gateway's public listener, where the records' files are uploaded
    /// (`/editor/v1/files`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8081")]
    pub files_url: String,
    /// Print a progress line every 10 seconds instead of drawing a bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Options of `imprint eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The corpus: JSON Lines, gzip or plain (`shared/data/acl/papers.jsonl.gz`).
    #[arg(long, value_name = "FILE")]
    pub papers: PathBuf,
    /// The related pairs: `query_id<TAB>related_id` (`shared/data/acl/related-dev.tsv`).
    #[arg(long, value_name = "FILE")]
    pub related: PathBuf,
    /// Only the first N queries (in corpus order).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The gRPC URL of the Imprint holding the corpus (imported with `imprint import`), whose
    /// `GetRelatedPublications` is measured.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Bearer token for the server's editorial API (a viewer's is enough).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMPRINT_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Rank in this process from the corpus file instead of asking a server (for tuning).
    #[arg(long)]
    pub offline: bool,
    /// Ranking weights to try, `name=value,…` (offline only): query_terms, k1, b,
    /// shared_author, rare_author, coauthor, shared_topic, shared_term, time, same_type_decay,
    /// max_df.
    #[arg(long, value_name = "WEIGHTS")]
    pub weights: Option<String>,
}

/// `imprint events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Dead letters: events a consumer gave up on.
    DeadLetters {
        /// What to do with them.
        #[command(subcommand)]
        command: DeadLettersCommand,
    },
    /// Write the current state of everything saved since a time to the outbox again, so a new
    /// consumer learns the past (existing consumers ignore what they already hold).
    Republish {
        /// Whose data: papers, authors, or all.
        #[arg(long, value_enum, default_value = "all")]
        role: ProcessRole,
        /// RFC 3339 time, e.g. 2024-01-01T00:00:00Z; use 1970-01-01T00:00:00Z for everything.
        #[arg(long, value_name = "TIME")]
        since: chrono::DateTime<chrono::Utc>,
        /// Database URL for the services of this role.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Where the embedded SQLite files live.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// `imprint events dead-letters …`
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// Print them (they stay where they are).
    List {
        /// Only this consuming service's (authors, papers); all by default.
        #[arg(long)]
        service: Option<String>,
        /// At most this many per service.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Publish them to imprint.events again, under their routing keys.
    Requeue {
        /// Only this consuming service's; all by default.
        #[arg(long)]
        service: Option<String>,
    },
}

/// Options of `imprint serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which services to run in this process.
    #[arg(long, value_enum, default_value = "all")]
    pub role: ProcessRole,
    /// Where the embedded SQLite files live (when no database URL is set).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// gRPC listen address (every service, health and reflection).
    #[arg(long, value_name = "ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// HTTP listen address (`/healthz`, `/readyz`).
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Public API listen address (JSON API, feeds, sitemap, widget).
    #[arg(long, value_name = "ADDR")]
    pub public_addr: Option<SocketAddr>,
    /// Database URL for every service of this process (`postgres://…`, `sqlite://…`).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Load the demo publication page into an empty database and print where to look.
    #[arg(long)]
    pub demo: bool,
}

/// Options of `imprint migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Whose databases to migrate.
    #[arg(long, value_enum, default_value = "all")]
    pub role: ProcessRole,
    /// Where the embedded SQLite files live (when no database URL is set).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL for every service of this role.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

fn parse_log_format(s: &str) -> Result<LogFormat, UnknownLogFormat> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(UnknownLogFormat(other.to_owned())),
    }
}

/// A `--log-format` other than text or json.
#[derive(Debug, Clone, thiserror::Error)]
#[error("'{0}' is not a log format; use text or json")]
pub struct UnknownLogFormat(String);

impl Cli {
    /// The settings the flags override, as (key, value) pairs.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(format) = self.log_format {
            let name = match format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            };
            out.push(("log.format", name.to_owned()));
        }
        let (data_dir, database_url) = match &self.command {
            Command::Serve(a) => {
                if let Some(addr) = a.grpc_addr {
                    out.push(("server.grpc_addr", addr.to_string()));
                }
                if let Some(addr) = a.http_addr {
                    out.push(("server.http_addr", addr.to_string()));
                }
                if let Some(addr) = a.public_addr {
                    out.push(("server.public_addr", addr.to_string()));
                }
                (&a.data_dir, &a.database_url)
            }
            Command::Migrate(a) => (&a.data_dir, &a.database_url),
            Command::Events {
                command:
                    EventsCommand::Republish {
                        data_dir,
                        database_url,
                        ..
                    },
            } => (data_dir, database_url),
            Command::Events { .. }
            | Command::Eval(_)
            | Command::Import(_)
            | Command::Keys(_)
            | Command::ReadPdfText => (&None, &None),
        };
        if let Some(dir) = data_dir {
            out.push(("data_dir", dir.display().to_string()));
        }
        if let Some(url) = database_url {
            out.push(("database.url", url.clone()));
        }
        out
    }
}
