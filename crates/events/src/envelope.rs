//! The event envelope: routing keys, building events from the changed aggregate, and the W3C
//! trace context carried beside them.

use chrono::{DateTime, Utc};
use imprint_proto::convert::timestamp;
use imprint_proto::events::{Deleted, Event, event::Payload};
use prost::Message;
use uuid::Uuid;

/// A draft was created or a paper's fields changed (published or not).
pub const PAPER_UPDATED: &str = "paper.updated";
/// A paper became public.
pub const PAPER_PUBLISHED: &str = "paper.published";
/// A paper was withdrawn.
pub const PAPER_UNPUBLISHED: &str = "paper.unpublished";
/// A paper was deleted.
pub const PAPER_DELETED: &str = "paper.deleted";
/// An author was created.
pub const AUTHOR_CREATED: &str = "author.created";
/// An author's profile changed.
pub const AUTHOR_UPDATED: &str = "author.updated";
/// An author was deleted.
pub const AUTHOR_DELETED: &str = "author.deleted";
/// An editor set a paper's related-publication overrides (pins and exclusions).
pub const OVERRIDES_CHANGED: &str = "recommendation.overrides_changed";

/// An admin created a taxonomy term (a program, a region, a series).
pub const TERM_CREATED: &str = "term.created";
/// A term was renamed, moved, retired or merged (into another, or another into it).
pub const TERM_UPDATED: &str = "term.updated";

/// Every routing key, for documentation and operators' tools.
pub const ROUTING_KEYS: [&str; 10] = [
    PAPER_PUBLISHED,
    PAPER_UPDATED,
    PAPER_UNPUBLISHED,
    PAPER_DELETED,
    AUTHOR_CREATED,
    AUTHOR_UPDATED,
    AUTHOR_DELETED,
    OVERRIDES_CHANGED,
    TERM_CREATED,
    TERM_UPDATED,
];

/// The AMQP content type of an encoded [`Event`].
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// An event about to be written to an outbox.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The envelope with its payload.
    pub event: Event,
    /// The W3C trace context of the change, carried to consumers.
    pub traceparent: String,
}

impl NewEvent {
    /// An event of `routing_key` about aggregate `aggregate_id` at `version`.
    pub fn new(
        routing_key: &str,
        aggregate_id: Uuid,
        version: i64,
        occurred_at: DateTime<Utc>,
        payload: Payload,
    ) -> Self {
        Self {
            event: Event {
                event_id: Uuid::now_v7().to_string(),
                occurred_at: Some(timestamp(occurred_at)),
                aggregate_id: aggregate_id.to_string(),
                aggregate_version: version,
                r#type: routing_key.to_owned(),
                payload: Some(payload),
                actor: None,
            },
            // The trace of the request that made the change, else a trace of its own.
            traceparent: imprint_platform::telemetry::traceparent().unwrap_or_else(new_traceparent),
        }
    }

    /// The deletion of aggregate `aggregate_id` (`"paper"`), whose last version was
    /// `last_version`.
    pub fn deleted(
        routing_key: &str,
        aggregate_type: &str,
        aggregate_id: Uuid,
        last_version: i64,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self::new(
            routing_key,
            aggregate_id,
            last_version + 1,
            occurred_at,
            Payload::Deleted(Deleted {
                aggregate_type: aggregate_type.to_owned(),
            }),
        )
    }

    /// The same event, saying that `actor` made the change (`None`: a restatement, which no
    /// one made).
    #[must_use]
    pub fn by(mut self, actor: Option<&imprint_domain::Actor>) -> Self {
        self.event.actor = actor.map(Into::into);
        self
    }

    /// The protobuf encoding of the envelope.
    pub fn encode(&self) -> Vec<u8> {
        self.event.encode_to_vec()
    }
}

/// Decodes an event body, naming what is wrong with it.
pub fn decode(body: &[u8]) -> Result<Event, DecodeError> {
    let event = Event::decode(body)?;
    if Uuid::try_parse(&event.aggregate_id).is_err() {
        return Err(DecodeError::AggregateId(event.aggregate_id));
    }
    if event.payload.is_none() {
        return Err(DecodeError::NoPayload(event.event_id));
    }
    Ok(event)
}

/// Why an event body was refused (it is dead-lettered: no retry can fix it).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not the protobuf message.
    #[error("not an imprint.events.v1.Event: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// An aggregate id that is not a UUID.
    #[error("aggregate_id '{0}' is not a UUID")]
    AggregateId(String),
    /// No payload (the event's id).
    #[error("event {0} has no payload")]
    NoPayload(String),
}

/// A W3C `traceparent` for a change made outside any request (a republish, a script): a new
/// trace id and span id, not sampled, so that bulk work does not flood the trace collector.
pub fn new_traceparent() -> String {
    let trace = Uuid::new_v4().simple().to_string();
    let span = &Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-00")
}

/// Whether `routing_key` matches an AMQP topic binding `pattern`: the domain's rule, which
/// webhook filters use too.
pub use imprint_domain::webhook::topic_matches;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns() {
        assert!(topic_matches("paper.*", "paper.published"));
        assert!(topic_matches("#", "author.deleted"));
        assert!(topic_matches("paper.#", "paper.published"));
        assert!(!topic_matches("paper.*", "author.created"));
        assert!(!topic_matches("paper.published", "paper.updated"));
    }

    #[test]
    fn envelopes_round_trip_and_junk_is_refused() {
        let id = Uuid::now_v7();
        let e = NewEvent::deleted(PAPER_DELETED, "paper", id, 4, imprint_domain::time::now());
        let back = decode(&e.encode()).unwrap();
        assert_eq!(back.aggregate_version, 5);
        assert_eq!(back.r#type, "paper.deleted");
        assert!(decode(b"\xff\xff").is_err());
        assert!(decode(&Event::default().encode_to_vec()).is_err());
        let tp = new_traceparent();
        assert_eq!(tp.len(), 55);
        assert!(tp.starts_with("00-") && tp.ends_with("-00"));
    }
}
