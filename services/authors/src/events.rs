//! What the authors service learns from other services' events: the papers that credit each
//! author (`paper.*`), kept as the credits read model behind `Author.paper_count`.

use imprint_events::{Handler, HandlerError, HandlerFuture, topology};
use imprint_proto::events::Event;
use imprint_proto::events::event::Payload;
use uuid::Uuid;

use crate::storage::AuthorStore;

/// Applies `paper.*` events to the credits read model.
#[derive(Debug, Clone)]
pub struct PaperCredits {
    /// The authors database.
    store: AuthorStore,
}

impl PaperCredits {
    /// The handler over `store`.
    pub fn new(store: AuthorStore) -> Self {
        Self { store }
    }
}

impl Handler for PaperCredits {
    fn service(&self) -> &'static str {
        topology::AUTHORS.service
    }

    fn bindings(&self) -> &'static [&'static str] {
        topology::AUTHORS.bindings
    }

    fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a> {
        Box::pin(async move {
            let paper_id = Uuid::try_parse(&event.aggregate_id)
                .map_err(|e| HandlerError::Reject(format!("aggregate_id: {e}")))?;
            let authors = match &event.payload {
                Some(Payload::Paper(paper)) => Some(
                    paper
                        .author_ids
                        .iter()
                        .map(|id| Uuid::try_parse(id))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| HandlerError::Reject(format!("author_ids: {e}")))?,
                ),
                Some(Payload::Deleted(_)) => None,
                other => {
                    return Err(HandlerError::Reject(format!(
                        "a paper event carries {other:?}"
                    )));
                }
            };
            self.store
                .apply_paper(paper_id, event.aggregate_version, authors)
                .await
                .map_err(|e| HandlerError::Retry(e.to_string()))
        })
    }
}
