//! Consumers' side: the handler a consuming service implements, and the in-process bus that
//! delivers to handlers when no broker is configured (`imprint serve` without `amqp.url`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use imprint_proto::events::Event;

use crate::envelope::topic_matches;
use crate::metrics::EventMetrics;

/// What handling an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event was newer than what the consumer held, and is now applied.
    Applied,
    /// The consumer already held this version or a newer one: a duplicate or a reordered
    /// event, harmlessly ignored.
    Stale,
}

/// Why an event was not handled.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A passing failure (the database is down): deliver again later.
    #[error("retry: {0}")]
    Retry(String),
    /// The event can never be handled (malformed): dead-letter it.
    #[error("reject: {0}")]
    Reject(String),
}

/// A boxed handler future.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Outcome, HandlerError>> + Send + 'a>>;

/// A consuming service's event handler. It applies an event in its own database transaction,
/// and only when the event's version is newer than the one it holds.
pub trait Handler: Send + Sync + 'static {
    /// The consuming service: names its queue, `<service>.events`.
    fn service(&self) -> &'static str;
    /// The routing-key patterns it needs (`paper.*`).
    fn bindings(&self) -> &'static [&'static str];
    /// Applies `event`; the future resolves after the handler's own commit.
    fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a>;
    /// Applies `events` in order: per event its outcome, or why it can never be handled. A
    /// handler may commit them together (one transaction for a bulk import's thousands of
    /// events); the default handles them one by one. On a passing failure, the events it
    /// handled before are in the error and the rest are delivered again.
    fn handle_batch<'a>(&'a self, events: &'a [&'a Event]) -> BatchFuture<'a> {
        Box::pin(async move {
            let mut handled = Vec::with_capacity(events.len());
            for event in events {
                match self.handle(event).await {
                    Ok(outcome) => handled.push(Ok(outcome)),
                    Err(HandlerError::Reject(e)) => handled.push(Err(e)),
                    Err(HandlerError::Retry(error)) => return Err(BatchError { handled, error }),
                }
            }
            Ok(handled)
        })
    }
}

/// What handling one event of a batch did: its outcome, or why it can never be handled.
pub type Handled = Result<Outcome, String>;

/// A batch stopped by a passing failure.
#[derive(Debug)]
pub struct BatchError {
    /// The events handled before it, in order.
    pub handled: Vec<Handled>,
    /// What failed on the next one.
    pub error: String,
}

/// A boxed batch handler future.
pub type BatchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Handled>, BatchError>> + Send + 'a>>;

impl std::fmt::Debug for dyn Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handler({})", self.service())
    }
}

/// Delivers events to the handlers of this process, in outbox order.
#[derive(Clone, Default)]
pub struct InProcessBus {
    /// Handlers with their bindings.
    handlers: Arc<RwLock<Vec<Arc<dyn Handler>>>>,
    /// Counters.
    metrics: EventMetrics,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessBus").finish_non_exhaustive()
    }
}

impl InProcessBus {
    /// An empty bus sharing `metrics`.
    pub fn new(metrics: EventMetrics) -> Self {
        Self {
            handlers: Arc::default(),
            metrics,
        }
    }

    /// Adds a handler.
    pub fn subscribe(&self, handler: Arc<dyn Handler>) {
        let mut handlers = self
            .handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        handlers.push(handler);
    }

    /// Hands `events`, in order, to every handler bound to their routing keys, each handler
    /// taking its share as one batch. On a passing failure, the index of the first event not
    /// handled by every handler: those before it are done (handlers ignore what they already
    /// hold, so the rest can simply be delivered again).
    pub async fn deliver_batch(&self, events: &[Event]) -> Result<(), (usize, String)> {
        let handlers: Vec<Arc<dyn Handler>> = self
            .handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let counters = self.metrics.counters();
        let mut failed: Option<(usize, String)> = None;
        for handler in handlers {
            let until = failed.as_ref().map_or(events.len(), |(i, _)| *i);
            let (indexes, matching): (Vec<usize>, Vec<&Event>) = events[..until]
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    handler
                        .bindings()
                        .iter()
                        .any(|b| topic_matches(b, &e.r#type))
                })
                .unzip();
            if matching.is_empty() {
                continue;
            }
            let (handled, error) = match handler.handle_batch(&matching).await {
                Ok(handled) => (handled, None),
                Err(BatchError { handled, error }) => (handled, Some(error)),
            };
            for (result, event) in handled.iter().zip(&matching) {
                match result {
                    Ok(outcome) => self.metrics.handled(*outcome),
                    Err(e) => {
                        EventMetrics::add(&counters.dead_lettered, 1);
                        tracing::error!(service = handler.service(), event_id = %event.event_id, error = %e, "event rejected");
                    }
                }
            }
            if let Some(error) = error {
                let at = indexes.get(handled.len()).copied().unwrap_or(until);
                let event_id = events
                    .get(at)
                    .map(|e| e.event_id.as_str())
                    .unwrap_or_default();
                failed = Some((
                    at,
                    format!("{} could not handle {event_id}: {error}", handler.service()),
                ));
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::Mutex;

    use super::*;

    /// Records what it handled; rejects events whose id starts with `bad`, fails passingly on
    /// the event with id `fail_on`.
    struct Recorder {
        bindings: &'static [&'static str],
        fail_on: Option<&'static str>,
        seen: Mutex<Vec<String>>,
    }

    impl Handler for Recorder {
        fn service(&self) -> &'static str {
            "recorder"
        }

        fn bindings(&self) -> &'static [&'static str] {
            self.bindings
        }

        fn handle<'a>(&'a self, event: &'a Event) -> HandlerFuture<'a> {
            Box::pin(async move {
                if Some(event.event_id.as_str()) == self.fail_on {
                    return Err(HandlerError::Retry("database away".to_owned()));
                }
                if event.event_id.starts_with("bad") {
                    return Err(HandlerError::Reject("malformed".to_owned()));
                }
                self.seen.lock().unwrap().push(event.event_id.clone());
                Ok(Outcome::Applied)
            })
        }
    }

    fn event(id: &str, routing_key: &str) -> Event {
        Event {
            event_id: id.to_owned(),
            r#type: routing_key.to_owned(),
            ..Event::default()
        }
    }

    fn recorder(bindings: &'static [&'static str], fail_on: Option<&'static str>) -> Arc<Recorder> {
        Arc::new(Recorder {
            bindings,
            fail_on,
            seen: Mutex::new(Vec::new()),
        })
    }

    #[tokio::test]
    async fn a_batch_reaches_each_handler_in_order_and_a_failure_names_where_to_resume() {
        let metrics = EventMetrics::default();
        let bus = InProcessBus::new(metrics.clone());
        let papers = recorder(&["paper.*"], None);
        let authors = recorder(&["author.*"], Some("a2"));
        bus.subscribe(papers.clone());
        bus.subscribe(authors.clone());
        let events = [
            event("p1", "paper.published"),
            event("a1", "author.created"),
            event("bad", "paper.updated"),
            event("p2", "paper.updated"),
            event("a2", "author.updated"),
            event("p3", "paper.deleted"),
        ];
        let (at, error) = bus.deliver_batch(&events).await.unwrap_err();
        // The authors' handler stopped at a2 (index 4): everything before is done by both.
        assert_eq!(at, 4);
        assert!(
            error.contains("a2") && error.contains("database away"),
            "{error}"
        );
        assert_eq!(*papers.seen.lock().unwrap(), ["p1", "p2", "p3"]);
        assert_eq!(*authors.seen.lock().unwrap(), ["a1"]);
        let counts: std::collections::HashMap<_, _> = metrics.snapshot().into_iter().collect();
        assert_eq!(counts["imprint_events_dead_lettered_total"], 1);
        assert_eq!(counts["imprint_events_consumed_total"], 4);

        // Delivered again from there, the papers' handler sees p3 again (handlers ignore what
        // they hold) and the authors' handler gets a2 once it works.
        let bus = InProcessBus::new(EventMetrics::default());
        let authors = recorder(&["author.*"], None);
        bus.subscribe(authors.clone());
        bus.deliver_batch(&events[at..]).await.unwrap();
        assert_eq!(*authors.seen.lock().unwrap(), ["a2"]);
    }
}
