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
}

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

    /// Hands `event` to every handler bound to its routing key. An error means "deliver it
    /// again later"; an event that can never be handled is logged and counted as dead-lettered.
    pub async fn deliver(&self, event: &Event) -> Result<(), String> {
        let handlers: Vec<Arc<dyn Handler>> = self
            .handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|h| h.bindings().iter().any(|b| topic_matches(b, &event.r#type)))
            .cloned()
            .collect();
        for handler in handlers {
            let counters = self.metrics.counters();
            match handler.handle(event).await {
                Ok(outcome) => self.metrics.handled(outcome),
                Err(HandlerError::Retry(e)) => {
                    return Err(format!(
                        "{} could not handle {}: {e}",
                        handler.service(),
                        event.event_id
                    ));
                }
                Err(HandlerError::Reject(e)) => {
                    EventMetrics::add(&counters.dead_lettered, 1);
                    tracing::error!(service = handler.service(), event_id = %event.event_id, error = %e, "event rejected");
                }
            }
        }
        Ok(())
    }
}
