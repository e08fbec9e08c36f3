//! The read model's only source: `paper.*` and `author.*` events. Each applies when newer than
//! what the read model holds, then rings the refresher so this process's index follows at once
//! (other replicas follow from the change log).

use std::sync::Arc;

use imprint_events::{Handler, HandlerError, HandlerFuture, Outcome, topology};
use imprint_proto::events::Event;
use imprint_proto::events::event::Payload;
use imprint_proto::papers::PaperStatus;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::storage::{RecPaper, RecStore};

/// Applies events to the read model.
#[derive(Debug, Clone)]
pub struct ReadModel {
    /// The read model.
    store: RecStore,
    /// The refresher's bell.
    wake: Arc<Notify>,
}

impl ReadModel {
    /// The handler over `store`, ringing `wake` after each applied change.
    pub fn new(store: RecStore, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }

    async fn apply(&self, event: &Event) -> Result<Outcome, HandlerError> {
        let id = Uuid::try_parse(&event.aggregate_id)
            .map_err(|e| HandlerError::Reject(format!("aggregate_id: {e}")))?;
        let version = event.aggregate_version;
        let retry = |e: sea_orm::DbErr| HandlerError::Retry(e.to_string());
        let outcome = match (&event.payload, event.r#type.as_str()) {
            (Some(Payload::Paper(p)), _) => {
                let paper = RecPaper {
                    id,
                    version,
                    published: p.status == PaperStatus::Published as i32,
                    slug: p.slug.clone(),
                    external_id: Some(p.external_id.clone()).filter(|e| !e.is_empty()),
                    title: p.title.clone(),
                    summary: p.summary.clone(),
                    body: p.body.clone(),
                    publication_type: p.publication_type,
                    topics: p.topics.clone(),
                    author_ids: p
                        .author_ids
                        .iter()
                        .filter_map(|a| Uuid::try_parse(a).ok())
                        .collect(),
                    publish_time: p
                        .publish_time
                        .as_ref()
                        .and_then(|t| imprint_proto::convert::from_timestamp(t).ok()),
                };
                self.store.apply_paper(&paper).await.map_err(retry)?
            }
            (Some(Payload::Deleted(_)), key) if key.starts_with("paper.") => {
                let tombstone = RecPaper {
                    id,
                    version,
                    published: false,
                    slug: String::new(),
                    external_id: None,
                    title: String::new(),
                    summary: String::new(),
                    body: String::new(),
                    publication_type: 0,
                    topics: Vec::new(),
                    author_ids: Vec::new(),
                    publish_time: None,
                };
                self.store.apply_paper(&tombstone).await.map_err(retry)?
            }
            (Some(Payload::Author(a)), _) => self
                .store
                .apply_author(id, version, &a.name, false)
                .await
                .map_err(retry)?,
            (Some(Payload::Deleted(_)), key) if key.starts_with("author.") => self
                .store
                .apply_author(id, version, "", true)
                .await
                .map_err(retry)?,
            (other, key) => {
                return Err(HandlerError::Reject(format!(
                    "{key} carries {other:?}, which the read model does not know"
                )));
            }
        };
        if outcome == Outcome::Applied {
            self.wake.notify_one();
        }
        Ok(outcome)
    }
}

impl Handler for ReadModel {
    fn service(&self) -> &'static str {
        topology::RECOMMENDATIONS.service
    }

    fn bindings(&self) -> &'static [&'static str] {
        topology::RECOMMENDATIONS.bindings
    }

    fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a> {
        Box::pin(self.apply(event))
    }
}
