//! Editorial roles, and the bearer token a client attaches to every call.
//!
//! The gateway decides who may call what (`imprint-gateway`'s `auth`); this module holds what
//! both sides of a call need: the role ladder and the interceptor that carries a token.

use std::fmt;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

pub use imprint_domain::audit::Role;

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
