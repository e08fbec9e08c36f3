//! The errors a service's use cases return, and their one mapping to gRPC statuses. Input
//! errors become statuses a client can act on; storage failures are logged in full and answered
//! without internal detail.

use imprint_domain::Violations;
use imprint_proto::status;
use tonic::{Code, Status};

/// What went wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is invalid; each violation names its field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// No such resource.
    #[error("{resource} '{key}' not found")]
    NotFound {
        /// `paper`, `author`.
        resource: &'static str,
        /// The id or slug asked for.
        key: String,
    },
    /// A unique value (slug, ORCID) belongs to another resource.
    #[error("{0}")]
    AlreadyExists(String),
    /// The client's version is stale: someone else saved first. Nothing was written.
    #[error("{0}")]
    Aborted(String),
    /// The resource is not in a state that allows this.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A dependency (database, another service) cannot be reached now; retrying may work.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or a broken invariant: logged, answered as INTERNAL without detail.
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// Shorthand for [`ServiceError::NotFound`].
    pub fn not_found(resource: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            key: imprint_domain::shorten(&key.into()),
        }
    }
}

impl ServiceError {
    /// The same error with violation paths placed under `prefix` (`title` → `paper.title`),
    /// for the request field the resource came in.
    #[must_use]
    pub fn under(self, prefix: &str) -> Self {
        match self {
            Self::Invalid(v) => Self::Invalid(v.prefixed(prefix)),
            other => other,
        }
    }
}

impl From<Violations> for ServiceError {
    fn from(v: Violations) -> Self {
        Self::Invalid(v)
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match err {
            DbErr::ConnectionAcquire(e) => {
                Self::Unavailable(format!("the database is not reachable now ({e})"))
            }
            DbErr::Conn(e) => Self::Unavailable(format!("the database is not reachable now ({e})")),
            other => Self::Internal(format!("database: {other}")),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(v) => status::invalid_argument(&v),
            ServiceError::NotFound { resource, key } => status::not_found(resource, &key),
            ServiceError::AlreadyExists(m) => Status::new(Code::AlreadyExists, m),
            ServiceError::Aborted(m) => Status::new(Code::Aborted, m),
            ServiceError::FailedPrecondition(m) => Status::new(Code::FailedPrecondition, m),
            ServiceError::Unavailable(m) => {
                tracing::warn!(error = %m, "dependency unavailable");
                Status::new(Code::Unavailable, m)
            }
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Status::new(
                    Code::Internal,
                    "internal error; the details are in the server log",
                )
            }
        }
    }
}

/// Maps a failed call to another Imprint service: its client errors stay client errors, its
/// unavailability becomes ours.
pub fn from_peer(service: &str, status: &Status) -> ServiceError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted => {
            ServiceError::Unavailable(format!(
                "the {service} service is unavailable: {}",
                status.message()
            ))
        }
        _ => ServiceError::Internal(format!(
            "the {service} service answered {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}
