//! What goes wrong in the commands that talk to a running Imprint as its clients do (`import`,
//! `eval`, `keys`, the demo loader): a call the server refused or could not answer, said with
//! what the call was for, the fields the server named, and what to try.

use tonic::{Code, Status};

/// A call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}{}", described(status), hint(status))]
pub struct CallFailed {
    /// What the call was for ("listing keys").
    pub what: String,
    /// How it failed.
    pub status: Status,
}

impl CallFailed {
    /// Whether the caller's token was the reason.
    pub fn is_authorization(&self) -> bool {
        matches!(
            self.status.code(),
            Code::Unauthenticated | Code::PermissionDenied
        )
    }
}

/// `map_err` for a call made for `what`.
pub fn failed(what: impl Into<String>) -> impl FnOnce(Status) -> CallFailed {
    move |status| CallFailed {
        what: what.into(),
        status,
    }
}

/// The fields the server named, or its message when it named none.
fn described(status: &Status) -> String {
    let fields: Vec<String> = imprint_proto::status::field_violations(status)
        .into_iter()
        .map(|(f, d)| format!("{f}: {d}"))
        .collect();
    if fields.is_empty() {
        format!("{} ({:?})", status.message(), status.code())
    } else {
        fields.join("; ")
    }
}

/// What to try, for the failures a command's user can do something about.
fn hint(status: &Status) -> &'static str {
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => {
            "; pass a token with the role this needs with --token or IMPRINT_TOKEN"
        }
        Code::Unavailable => "; is the server running at --server?",
        _ => "",
    }
}
