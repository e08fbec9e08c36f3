//! What stops a benchmark run, said with what was being done.

/// Why the load generator, a baseline server or a bench stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// A socket, file or runtime failed.
    #[error("{doing}: {source}")]
    Io {
        /// What was being done.
        doing: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Arguments that cannot work together.
    #[error("{0}")]
    Usage(&'static str),
    /// `--target` is not an address the HTTP client can use.
    #[error("--target: {target} is not http://ip:port ({source})")]
    Target {
        /// As given.
        target: String,
        /// Why.
        source: std::net::AddrParseError,
    },
    /// A gRPC channel could not be made.
    #[error("{doing}: {source}")]
    Transport {
        /// What was being done.
        doing: String,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The token cannot travel in a header.
    #[error(transparent)]
    Token(#[from] imprint_platform::auth::BadToken),
    /// The call made before the load failed.
    #[error("the first call failed: {0:?}")]
    FirstCall(tonic::Status),
    /// `--metrics` did not give a histogram.
    #[error("{url} has no histogram {name}")]
    NoHistogram {
        /// The endpoint.
        url: String,
        /// The histogram asked for.
        name: String,
    },
    /// `--metrics` is not plain HTTP.
    #[error("--metrics: {0} is not an http:// URL")]
    MetricsUrl(String),
    /// The relay bench's database failed.
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    /// The relay bench's database could not be opened.
    #[error(transparent)]
    Connect(#[from] imprint_platform::db::ConnectError),
    /// The relay bench's paper is not valid (a bug in the bench).
    #[error("the bench's paper: {0:?}")]
    Paper(imprint_domain::Violations),
    /// The relay did not drain the outbox in time.
    #[error("{0} events still unsent after 10 minutes")]
    Unsent(i64),
}

impl LoadError {
    /// An I/O failure while `doing`, for `map_err`.
    pub(crate) fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io {
            doing: doing.into(),
            source,
        }
    }
}

/// Why one HTTP exchange failed (the connection is dropped and made again).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The first line is not an HTTP status line.
    #[error("not an HTTP response: {0:?}")]
    NotHttp(String),
    /// A `Content-Length` that is not a number.
    #[error("bad content-length")]
    Length,
    /// A chunked body, which this client does not read.
    #[error("chunked answers are not supported here")]
    Chunked,
    /// A status other than 200 or 304.
    #[error("HTTP {0}")]
    Status(u16),
}
