//! Who consumes which events: one durable queue per consuming service, bound to the routing
//! keys it needs. Every publisher declares all of them before its first publication, so an
//! event is never routed nowhere because its consumer has not started yet; each consumer
//! declares its own as well. Handlers take their bindings from here, the one list.

/// Deliveries of one event to a consumer before the broker dead-letters it. Fixed, not
/// configured: every process declares the queues with the same arguments (RabbitMQ refuses a
/// declaration whose arguments differ). A deployment tunes it with a RabbitMQ policy.
pub const DELIVERY_LIMIT: u32 = 20;

/// A consuming service's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerQueue {
    /// The service: its queue is `<service>.events`.
    pub service: &'static str,
    /// The routing-key patterns it is bound to.
    pub bindings: &'static [&'static str],
    /// Whether one consumer at a time takes its events, in the order they were published
    /// (RabbitMQ's single active consumer): for a consumer that must keep their order across
    /// replicas. The others share their queue's events among every replica.
    pub single_active: bool,
}

impl ConsumerQueue {
    /// The queue of `service`, if it is one of [`CONSUMERS`].
    pub fn of(service: &str) -> Option<Self> {
        CONSUMERS.iter().copied().find(|c| c.service == service)
    }
}

/// The authors service learns paper credits.
pub const AUTHORS: ConsumerQueue = ConsumerQueue {
    service: "authors",
    single_active: false,
    bindings: &["paper.*"],
};

/// The papers service learns of deleted authors.
pub const PAPERS: ConsumerQueue = ConsumerQueue {
    service: "papers",
    single_active: false,
    bindings: &["author.deleted"],
};

/// The recommendations service keeps a read model of published papers, authors' names and
/// taxonomy terms.
pub const RECOMMENDATIONS: ConsumerQueue = ConsumerQueue {
    service: "recommendations",
    single_active: false,
    bindings: &["paper.*", "author.*", "term.*"],
};

/// The gateway's webhooks hear of every change, to deliver what endpoints asked for, in the
/// order of each aggregate's changes: one replica consumes at a time.
pub const WEBHOOKS: ConsumerQueue = ConsumerQueue {
    service: "webhooks",
    bindings: &["#"],
    single_active: true,
};

/// The gateway's file store learns which files papers and authors reference, so that it keeps
/// those and removes the others after a grace period.
pub const FILES: ConsumerQueue = ConsumerQueue {
    service: "files",
    bindings: &["paper.*", "author.*"],
    single_active: false,
};

/// Every consuming service.
pub const CONSUMERS: &[ConsumerQueue] = &[AUTHORS, PAPERS, RECOMMENDATIONS, WEBHOOKS, FILES];
