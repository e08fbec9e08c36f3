//! What a service's store answers when a write does not happen: the one error of the stores'
//! writes (a slug or another unique value taken, a stale version, nothing there, a contended
//! slug, the database), and how it reads as a use-case error.

use sea_orm::DbErr;

use crate::ServiceError;
use imprint_domain::Slug;

/// Why a write to a service's store did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another resource has or had this slug.
    #[error("slug '{0}' is taken")]
    SlugTaken(Slug),
    /// Another resource holds this unique value (an ORCID iD, say).
    #[error("{what} '{value}' is taken")]
    Taken {
        /// What kind of value: "ORCID iD".
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The stored version is not the one the change was based on.
    #[error("stale version; current is {current}")]
    Stale {
        /// The stored version.
        current: i64,
    },
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// A concurrent create took the free slug found; retrying will work.
    #[error("the free slug found was taken meanwhile")]
    Contended,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl WriteError {
    /// The use-case error for a write to `resource` (`paper`) `id`.
    pub fn for_resource(self, resource: &'static str, id: &dyn std::fmt::Display) -> ServiceError {
        match self {
            Self::SlugTaken(slug) => {
                ServiceError::AlreadyExists(format!("slug '{slug}' is taken by another {resource}"))
            }
            Self::Taken { what, value } => ServiceError::AlreadyExists(format!(
                "{what} {value} already belongs to another {resource}"
            )),
            Self::Stale { current } => ServiceError::Aborted(format!(
                "{resource} {id} was changed by someone else meanwhile (now version {current}); reload it and apply your change again"
            )),
            Self::NotFound => ServiceError::not_found(resource, id.to_string()),
            Self::Contended => ServiceError::Aborted(format!(
                "another {resource} took the same slug at the same moment; retry"
            )),
            Self::Db(e) => e.into(),
        }
    }
}
