//! Checks on request fields that every service reads the same way.

use std::fmt;

use imprint_domain::{Slug, Violations};

use crate::ServiceError;

/// A message field the request must carry.
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, ServiceError> {
    value.ok_or_else(|| Violations::one(field, "is required").into())
}

/// A `version` precondition that may be left out (0): `Some` when the client set one.
pub fn optional_version(field: &str, version: i64) -> Result<Option<i64>, ServiceError> {
    match version {
        0 => Ok(None),
        v if v > 0 => Ok(Some(v)),
        v => Err(Violations::one(field, format!("must be positive (got {v})")).into()),
    }
}

/// A `version` an update must carry: the one the client read.
pub fn required_version(field: &str, version: i64) -> Result<i64, ServiceError> {
    optional_version(field, version)?.ok_or_else(|| {
        Violations::one(
            field,
            "is required: send the version you read, so that a concurrent change is not overwritten",
        )
        .into()
    })
}

/// A saved version a request must name: the revision to compare or restore.
pub fn required_revision(field: &str, version: i64) -> Result<i64, ServiceError> {
    optional_version(field, version)?
        .ok_or_else(|| Violations::one(field, "is required: name a saved version").into())
}

/// ABORTED when the client sent a `version` and the stored one differs: someone else saved
/// first, and nothing may be overwritten.
pub fn check_version(
    resource: &str,
    id: &dyn fmt::Display,
    sent: Option<i64>,
    stored: i64,
) -> Result<(), ServiceError> {
    match sent {
        Some(v) if v != stored => Err(ServiceError::Aborted(format!(
            "{resource} {id} was changed by someone else: you sent version {v}, the stored one is {stored}; reload it and apply your change again"
        ))),
        _ => Ok(()),
    }
}

/// How a client names a resource: by id, or by any slug it has or had.
#[derive(Debug, Clone)]
pub enum Key<I> {
    /// By id.
    Id(I),
    /// By a current or former slug.
    Slug(String),
}

impl<I: fmt::Display> Key<I> {
    /// The slug to look up, or `None` when the text cannot be a slug and so names nothing: such
    /// text never reaches the database.
    pub fn lookup_slug(&self) -> Option<&str> {
        match self {
            Self::Slug(s) if Slug::is_valid(s) => Some(s),
            _ => None,
        }
    }

    /// NOT_FOUND for this key.
    pub fn not_found(&self, resource: &'static str) -> ServiceError {
        match self {
            Self::Id(id) => ServiceError::not_found(resource, id.to_string()),
            Self::Slug(slug) => ServiceError::not_found(resource, slug.clone()),
        }
    }
}
