//! From events to deliveries: every event (`#`) is matched against the enabled endpoints'
//! filters and written, once per endpoint, as a delivery with the JSON body the endpoint will
//! receive (`{"type", "timestamp", "data"}`, as the Standard Webhooks specification suggests).

use chrono::Utc;
use imprint_domain::TermId;
use imprint_events::{Handler, HandlerError, HandlerFuture, Outcome, topology};
use imprint_proto::events::Event;
use imprint_proto::events::event::Payload;
use serde_json::{Value, json};
use uuid::Uuid;

use super::store::{Delivery, Status, WebhookStore};

/// Writes the deliveries of each event.
#[derive(Debug, Clone)]
pub struct Deliveries {
    /// Endpoints and deliveries.
    store: WebhookStore,
    /// Rung when deliveries were written, so that the dispatcher sends them at once.
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Deliveries {
    /// The handler over `store`, ringing `wake` when it wrote something.
    pub fn new(store: WebhookStore, wake: std::sync::Arc<tokio::sync::Notify>) -> Self {
        Self { store, wake }
    }

    async fn apply(&self, event: &Event) -> Result<Outcome, HandlerError> {
        let aggregate = Uuid::try_parse(&event.aggregate_id)
            .map_err(|e| HandlerError::Reject(format!("aggregate_id: {e}")))?;
        // Disabled endpoints too: they collect what happens meanwhile, sent once enabled.
        let endpoints = self
            .store
            .all()
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        let (mut terms, data) = describe(event);
        let kind = event
            .r#type
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        if kind == "paper" {
            // A paper that left a term (an edit, a deletion) is news to that term's endpoints.
            let before = self
                .store
                .swap_terms(aggregate, event.aggregate_version, &terms)
                .await
                .map_err(|e| HandlerError::Retry(e.to_string()))?;
            for t in before {
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
        }
        let now = Utc::now();
        let body = json!({
            "type": event.r#type,
            "timestamp": event
                .occurred_at
                .as_ref()
                .and_then(|t| imprint_proto::convert::from_timestamp(t).ok())
                .unwrap_or(now)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string();
        let deliveries: Vec<Delivery> = endpoints
            .iter()
            .filter(|e| e.filter.wants_type(&event.r#type) && e.filter.wants_terms(&terms))
            .map(|e| Delivery {
                id: Uuid::now_v7(),
                endpoint_id: e.id,
                event_id: event.event_id.clone(),
                event_type: event.r#type.clone(),
                kind: kind.clone(),
                aggregate_id: aggregate,
                aggregate_version: event.aggregate_version,
                body: body.clone(),
                status: Status::Pending,
                failures: 0,
                next_attempt_time: now,
                first_attempt_time: None,
                create_time: now,
            })
            .collect();
        if deliveries.is_empty() {
            return Ok(Outcome::Stale);
        }
        self.store
            .enqueue(&deliveries)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        self.wake.notify_one();
        Ok(Outcome::Applied)
    }
}

/// A vocabulary's name (`region`) from the wire; none for one this release does not know.
fn vocabulary_name(value: i32) -> Option<&'static str> {
    imprint_proto::convert::vocabulary_from_proto(value)
        .ok()
        .flatten()
        .map(imprint_domain::Vocabulary::as_str)
}

/// The terms a change touches (a paper's, with their regions; a term itself, its region and
/// the term it was merged into) and what its delivery's `data` says of it.
fn describe(event: &Event) -> (Vec<TermId>, Value) {
    let ids = |raw: &[&String]| -> Vec<TermId> {
        raw.iter().filter_map(|t| TermId::parse(t).ok()).collect()
    };
    let (terms, mut data) = match &event.payload {
        Some(Payload::Paper(p)) => {
            let mut touched: Vec<&String> = p
                .program_ids
                .iter()
                .chain(&p.region_ids)
                .chain(&p.series_ids)
                .collect();
            touched.extend(p.terms.iter().map(|t| &t.parent_id));
            let status = imprint_proto::convert::status_from_proto(p.status)
                .ok()
                .flatten()
                .map(|s| s.as_str());
            let kind = imprint_proto::convert::publication_type_from_proto(p.publication_type)
                .ok()
                .flatten()
                .map(|t| t.as_str());
            let time = |t: Option<&prost_types::Timestamp>| {
                t.and_then(|t| imprint_proto::convert::from_timestamp(t).ok())
                    .map(|t| t.to_rfc3339())
            };
            let data = json!({"paper": {
                "id": p.id,
                "slug": p.slug,
                "title": p.title,
                "summary": p.summary,
                "status": status,
                "type": kind,
                "topics": p.topics,
                "author_ids": p.author_ids,
                "program_ids": p.program_ids,
                "region_ids": p.region_ids,
                "series_ids": p.series_ids,
                "terms": p.terms.iter().map(|t| json!({
                    "id": t.id, "slug": t.slug, "name": t.name,
                    "vocabulary": vocabulary_name(t.vocabulary),
                })).collect::<Vec<_>>(),
                "publish_time": time(p.publish_time.as_ref()),
                "update_time": time(p.update_time.as_ref()),
            }});
            (ids(&touched), data)
        }
        Some(Payload::Author(a)) => (
            Vec::new(),
            json!({"author": {"id": a.id, "slug": a.slug, "name": a.name}}),
        ),
        Some(Payload::Term(t)) => {
            let touched = [&t.id, &t.parent_id, &t.merged_into_id];
            let vocabulary = vocabulary_name(t.vocabulary);
            (
                ids(&touched),
                json!({"term": {
                    "id": t.id, "vocabulary": vocabulary, "slug": t.slug, "name": t.name,
                    "parent_id": t.parent_id, "retired": t.retired,
                    "merged_into_id": t.merged_into_id, "former_slugs": t.former_slugs,
                }}),
            )
        }
        Some(Payload::Overrides(o)) => (
            Vec::new(),
            json!({"overrides": {
                "paper_id": o.paper_id,
                "pinned_paper_ids": o.pinned_paper_ids,
                "excluded_paper_ids": o.excluded_paper_ids,
            }}),
        ),
        Some(Payload::Deleted(d)) => (Vec::new(), json!({"deleted": {"type": d.aggregate_type}})),
        None => (Vec::new(), json!({})),
    };
    data["id"] = event.aggregate_id.clone().into();
    data["version"] = event.aggregate_version.into();
    data["actor"] = match &event.actor {
        Some(a) => json!({
            "subject": a.subject,
            "role": imprint_proto::audit::Role::try_from(a.role)
                .ok()
                .and_then(imprint_proto::convert::role_from_proto)
                .map(|r| r.name()),
        }),
        None => Value::Null,
    };
    (terms, data)
}

impl Handler for Deliveries {
    fn service(&self) -> &'static str {
        topology::WEBHOOKS.service
    }

    fn bindings(&self) -> &'static [&'static str] {
        topology::WEBHOOKS.bindings
    }

    fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a> {
        Box::pin(self.apply(event))
    }
}
