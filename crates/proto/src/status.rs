//! gRPC statuses for the errors every service shares, with the standard rich details that
//! clients in any language can decode (`google.rpc.BadRequest`, `google.rpc.ResourceInfo`).

use imprint_domain::Violations;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Most field violations sent back in the details, and most repeated in the message. Both
/// travel in HTTP/2 headers (the message percent-encoded, the details in base64 with the message
/// again), which clients cap at 16 KiB by default; a request with thousands of bad fields gets
/// the first ones and a count, and every response stays well under the cap.
const MAX_VIOLATIONS: usize = 20;
const MAX_IN_MESSAGE: usize = 3;
/// Longest field path and description kept.
const MAX_FIELD: usize = 100;
const MAX_DESCRIPTION: usize = 200;

/// `INVALID_ARGUMENT` with one `BadRequest.FieldViolation` per bad field (the first 20).
pub fn invalid_argument(violations: &Violations) -> Status {
    let mut details = ErrorDetails::new();
    let mut message = String::from("invalid request: ");
    let total = violations.iter().count();
    for (i, v) in violations.iter().take(MAX_VIOLATIONS).enumerate() {
        let field = cut(&v.field, MAX_FIELD);
        let description = cut(&v.description, MAX_DESCRIPTION);
        if i < MAX_IN_MESSAGE {
            if i > 0 {
                message.push_str("; ");
            }
            message.push_str(&format!("{field}: {description}"));
        }
        details.add_bad_request_violation(field, description);
    }
    if total > MAX_IN_MESSAGE {
        message.push_str(&format!("; and {} more", total - MAX_IN_MESSAGE));
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max).collect();
        out.push('…');
        out
    }
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

    #[test]
    fn many_violations_stay_small() {
        let mut v = Violations::new();
        for i in 0..1000 {
            v.push(format!("paper.author_ids[{i}]"), "x".repeat(5000));
        }
        let status = invalid_argument(&v);
        assert_eq!(field_violations(&status).len(), 20);
        assert!(status.message().ends_with("and 997 more"));
        assert!(status.message().len() < 1000);
        assert!(status.details().len() < 6000);
    }
}
