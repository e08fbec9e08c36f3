//! Imprint's change events, so that every service learns of the others' changes without losing
//! any: the envelope (`imprint.events.v1.Event`, carrying the aggregate's whole state), the
//! transactional outbox each producing service writes in the same transaction as its change,
//! the relay that publishes the outbox with confirms, the handler a consuming service
//! implements, and two transports: RabbitMQ (exchange `imprint.events`, a quorum queue per
//! consuming service) and an in-process bus for the embedded default.

pub mod bus;
pub mod envelope;
pub mod metrics;
pub mod outbox;
pub mod rabbit;
pub mod relay;
pub mod topology;

pub use bus::{
    BatchError, BatchFuture, Handled, Handler, HandlerError, HandlerFuture, InProcessBus, Outcome,
};
pub use envelope::NewEvent;
pub use metrics::EventMetrics;
pub use outbox::{Emitter, Outbox, OutboxRow};
pub use relay::{Broker, Relay, RelaySettings};
