//! Editorial roles, and the bearer token a client attaches to every call.
//!
//! The gateway decides who may call what (`imprint-gateway`'s `auth`); this module holds what
//! both sides of a call need: the role ladder and the interceptor that carries a token.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// What an editorial caller may do. Each role can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, drafts included.
    Viewer,
    /// Creates and edits drafts and authors.
    Editor,
    /// Publishes, unpublishes and deletes.
    Publisher,
    /// Pins related publications and manages partner keys.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Publisher, Role::Admin];

    /// Its name in tokens and settings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Publisher => "publisher",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("'{s}' is not a role; use viewer, editor, publisher or admin"))
    }
}

/// Adds `authorization: Bearer <token>` to every call, when there is a token, and the current
/// span's `traceparent`, so that the service called continues the trace.
#[derive(Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token.
        f.debug_tuple("Bearer")
            .field(&self.0.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A token that cannot travel in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token has characters a header cannot carry")]
pub struct BadToken;

impl Bearer {
    /// Carries `token`, or nothing when it is `None` or empty.
    pub fn new(token: Option<&str>) -> Result<Self, BadToken> {
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(Self(None)),
            Some(t) => MetadataValue::try_from(format!("Bearer {t}"))
                .map(|v| Self(Some(v)))
                .map_err(|_| BadToken),
        }
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(traceparent) =
            crate::telemetry::traceparent().and_then(|t| MetadataValue::try_from(t).ok())
        {
            request.metadata_mut().insert("traceparent", traceparent);
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_by_name() {
        assert!(Role::Viewer < Role::Editor && Role::Publisher < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().unwrap_err().contains("'root'"));
    }

    #[test]
    fn bearer_sets_the_header_only_with_a_token() {
        let mut with = Bearer::new(Some("abc")).unwrap();
        let request = with.call(Request::new(())).unwrap();
        assert_eq!(
            request.metadata().get("authorization").unwrap(),
            "Bearer abc"
        );
        let mut without = Bearer::new(Some("  ")).unwrap();
        assert!(
            without
                .call(Request::new(()))
                .unwrap()
                .metadata()
                .is_empty()
        );
        assert!(Bearer::new(Some("a\nb")).is_err());
        assert_eq!(format!("{with:?}"), "Bearer(Some(\"…\"))");
    }
}
