//! What the papers service learns from other services' events: an author was deleted
//! (`author.deleted`), so no paper may keep crediting them. This closes the gap between the
//! authors service's credit check and its delete: a paper saved in between loses the credit
//! here.

use imprint_domain::AuthorId;
use imprint_events::{Handler, HandlerError, HandlerFuture, Outcome, topology};
use imprint_platform::ServiceError;
use imprint_proto::events::Event;

use crate::service::Papers;

/// Removes deleted authors' credits.
#[derive(Debug, Clone)]
pub struct DeletedAuthors {
    /// The use cases.
    service: Papers,
}

impl DeletedAuthors {
    /// The handler over `service`.
    pub fn new(service: Papers) -> Self {
        Self { service }
    }
}

impl Handler for DeletedAuthors {
    fn service(&self) -> &'static str {
        topology::PAPERS.service
    }

    fn bindings(&self) -> &'static [&'static str] {
        topology::PAPERS.bindings
    }

    fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a> {
        Box::pin(async move {
            let author = AuthorId::parse(&event.aggregate_id)
                .map_err(|e| HandlerError::Reject(e.to_string()))?;
            match self.service.drop_credits_of(author).await {
                // A deletion is final: applying it again finds nothing left to change.
                Ok(0) => Ok(Outcome::Stale),
                Ok(_) => Ok(Outcome::Applied),
                Err(ServiceError::Invalid(v)) => Err(HandlerError::Reject(v.to_string())),
                Err(e) => Err(HandlerError::Retry(e.to_string())),
            }
        })
    }
}
