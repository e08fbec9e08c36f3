//! The read model's only source: `paper.*`, `author.*` and `term.*` events. Each applies when newer than
//! what the read model holds, then rings the refresher so this process's index follows at once
//! (other replicas follow from the change log).

use std::sync::Arc;

use imprint_domain::{AuthorId, PaperId, PaperTerms, TermId, TermIds};
use imprint_events::{
    BatchError, BatchFuture, Handled, Handler, HandlerError, HandlerFuture, Outcome, topology,
};
use imprint_proto::events::Event;
use imprint_proto::events::event::Payload;
use imprint_proto::papers::PaperStatus;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::storage::{Change, RecPaper, RecStore, RecTerm};

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
        let change = change_of(event).map_err(|e| HandlerError::Reject(e.to_string()))?;
        let outcome = self
            .store
            .apply_all(&[change])
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?
            .first()
            .copied()
            .unwrap_or(Outcome::Stale);
        if outcome == Outcome::Applied {
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// Applies a batch in one transaction; malformed events are rejected one by one.
    async fn apply_batch(&self, events: &[&Event]) -> Result<Vec<Handled>, BatchError> {
        let mut changes = Vec::with_capacity(events.len());
        let mut handled: Vec<Handled> = Vec::with_capacity(events.len());
        for event in events {
            match change_of(event) {
                Ok(change) => {
                    changes.push(change);
                    handled.push(Ok(Outcome::Stale));
                }
                Err(e) => handled.push(Err(e.to_string())),
            }
        }
        let outcomes = self
            .store
            .apply_all(&changes)
            .await
            .map_err(|e| BatchError {
                handled: Vec::new(),
                error: e.to_string(),
            })?;
        let mut outcomes = outcomes.into_iter();
        for slot in handled.iter_mut().filter(|h| h.is_ok()) {
            *slot = Ok(outcomes.next().unwrap_or(Outcome::Stale));
        }
        if handled.iter().any(|h| matches!(h, Ok(Outcome::Applied))) {
            self.wake.notify_one();
        }
        Ok(handled)
    }
}

/// What `event` changes in the read model, or why it can never apply.
fn change_of(event: &Event) -> Result<Change, Unknown> {
    let id = Uuid::try_parse(&event.aggregate_id).map_err(Unknown::AggregateId)?;
    let version = event.aggregate_version;
    let change = match (&event.payload, event.r#type.as_str()) {
        (Some(Payload::Paper(p)), _) => {
            let paper = RecPaper {
                id: PaperId::from_uuid(id),
                version,
                published: p.status == PaperStatus::Published as i32,
                slug: p.slug.clone(),
                external_id: Some(p.external_id.clone()).filter(|e| !e.is_empty()),
                title: p.title.clone(),
                summary: p.summary.clone(),
                body: p.body.clone(),
                // An unknown number from a newer papers service reads as no type.
                publication_type: imprint_proto::convert::publication_type_from_proto(
                    p.publication_type,
                )
                .ok()
                .flatten(),
                topics: p.topics.clone(),
                author_ids: p
                    .author_ids
                    .iter()
                    .filter_map(|a| AuthorId::parse(a).ok())
                    .collect(),
                publish_time: p
                    .publish_time
                    .as_ref()
                    .and_then(|t| imprint_proto::convert::from_timestamp(t).ok()),
                terms: terms_of(p),
                cover: p
                    .cover
                    .as_ref()
                    .and_then(imprint_proto::convert::cover_from_proto)
                    .map(Box::new),
            };
            Change::Paper(paper)
        }
        (Some(Payload::Deleted(_)), key) if key.starts_with("paper.") => {
            let tombstone = RecPaper {
                id: PaperId::from_uuid(id),
                version,
                published: false,
                slug: String::new(),
                external_id: None,
                title: String::new(),
                summary: String::new(),
                body: String::new(),
                publication_type: None,
                topics: Vec::new(),
                author_ids: Vec::new(),
                publish_time: None,
                terms: imprint_domain::PaperTerms::default(),
                cover: None,
            };
            Change::Paper(tombstone)
        }
        (Some(Payload::Term(t)), _) => Change::Term(term_of(id, version, t)?),
        (Some(Payload::Author(a)), _) => Change::Author {
            id: AuthorId::from_uuid(id),
            version,
            name: a.name.clone(),
            deleted: false,
        },
        (Some(Payload::Deleted(_)), key) if key.starts_with("author.") => Change::Author {
            id: AuthorId::from_uuid(id),
            version,
            name: String::new(),
            deleted: true,
        },
        (other, key) => {
            return Err(Unknown::Payload {
                key: key.to_owned(),
                payload: format!("{other:?}"),
            });
        }
    };
    Ok(change)
}

/// A paper's terms as its event carries them; ids that do not parse (a newer papers service's)
/// are left out.
fn terms_of(p: &imprint_proto::papers::Paper) -> PaperTerms {
    let ids = |raw: &[String]| {
        TermIds::from_trusted(raw.iter().filter_map(|t| TermId::parse(t).ok()).collect())
    };
    PaperTerms {
        programs: ids(&p.program_ids),
        regions: ids(&p.region_ids),
        series: ids(&p.series_ids),
    }
}

/// The read model's term from a `term.*` event's payload.
fn term_of(id: Uuid, version: i64, t: &imprint_proto::papers::Term) -> Result<RecTerm, Unknown> {
    let vocabulary = imprint_proto::convert::vocabulary_from_proto(t.vocabulary)
        .ok()
        .flatten()
        .ok_or_else(|| Unknown::Payload {
            key: "term.*".to_owned(),
            payload: format!("a term of vocabulary {}", t.vocabulary),
        })?;
    let optional = |raw: &str| TermId::parse(raw).ok();
    let mut slugs = vec![t.slug.clone()];
    slugs.extend(t.former_slugs.iter().cloned());
    Ok(RecTerm {
        id: TermId::from_uuid(id),
        version,
        vocabulary,
        slug: t.slug.clone(),
        name: t.name.clone(),
        parent: optional(&t.parent_id),
        merged_into: optional(&t.merged_into_id),
        slugs,
    })
}

/// An event the read model can never apply (it is dead-lettered).
#[derive(Debug, thiserror::Error)]
enum Unknown {
    /// Its aggregate id is not a UUID.
    #[error("aggregate_id: {0}")]
    AggregateId(uuid::Error),
    /// A payload its routing key does not go with.
    #[error("{key} carries {payload}, which the read model does not know")]
    Payload {
        /// The routing key.
        key: String,
        /// The payload, as debug output.
        payload: String,
    },
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

    fn handle_batch<'a>(&'a self, events: &'a [&'a Event]) -> BatchFuture<'a> {
        Box::pin(self.apply_batch(events))
    }
}
