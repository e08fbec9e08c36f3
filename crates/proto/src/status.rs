//! gRPC statuses for the errors every service shares, with the standard rich details that
//! clients in any language can decode (`google.rpc.BadRequest`, `google.rpc.ResourceInfo`).

use imprint_domain::Violations;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` with one `BadRequest.FieldViolation` per bad field.
pub fn invalid_argument(violations: &Violations) -> Status {
    let mut details = ErrorDetails::new();
    for v in violations.iter() {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: {violations}"),
        details,
    )
}

/// `NOT_FOUND` naming the resource, with `ResourceInfo` details.
pub fn not_found(resource_type: &str, key: &str) -> Status {
    let details = ErrorDetails::with_resource_info(resource_type, key, "", "not found");
    Status::with_error_details(
        Code::NotFound,
        format!("{resource_type} '{key}' not found"),
        details,
    )
}

/// The field violations carried by a status, as `(field, description)` pairs; for clients and
/// tests.
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_error_details()
        .bad_request()
        .map(|br| {
            br.field_violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_travel_in_details() {
        let mut v = Violations::one("paper.title", "must not be empty");
        v.push("paper.author_ids[0]", "unknown");
        let status = invalid_argument(&v);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            field_violations(&status),
            [
                ("paper.title".to_owned(), "must not be empty".to_owned()),
                ("paper.author_ids[0]".to_owned(), "unknown".to_owned())
            ]
        );
        assert!(status.message().contains("paper.title: must not be empty"));
    }
}
