//! Checks on request fields that every service reads the same way.

use imprint_domain::Violations;

use crate::ServiceError;

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
