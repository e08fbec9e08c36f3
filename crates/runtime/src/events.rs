//! How the services' events are wired in this process: one relay per producing service, over
//! RabbitMQ when `amqp.url` is set and over the in-process bus otherwise, and the consumers of
//! each service's handler. Started after the listeners, stopped after them.

use std::sync::Arc;
use std::time::Duration;

use imprint_events::rabbit::{self, Publisher, RabbitSettings};
use imprint_events::{
    Broker, Emitter, EventMetrics, Handler, InProcessBus, Outbox, Relay, RelaySettings,
};
use imprint_platform::{Database, Settings};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How this process reaches RabbitMQ, when `amqp.url` is set; `name` labels its connections.
pub fn rabbit_settings(settings: &Settings, name: &str) -> Option<RabbitSettings> {
    settings.amqp.url.as_ref().map(|url| RabbitSettings {
        url: url.clone(),
        prefetch: settings.amqp.prefetch,
        max_backoff: Duration::from_secs(settings.amqp.max_backoff_secs.max(1)),
        attempts: settings.amqp.retry_attempts,
        connection_name: name.to_owned(),
    })
}

/// The event machinery of one process.
#[derive(Debug)]
pub struct Events {
    /// Counters shared by relays and consumers.
    pub metrics: EventMetrics,
    /// Where events travel.
    broker: Broker,
    /// Relays to start.
    relays: Vec<Relay>,
    /// Handlers to start consuming for.
    handlers: Vec<Arc<dyn Handler>>,
    /// Callbacks to call on every matching event, in every replica (caches).
    watchers: Vec<Watch>,
    /// Whether this process consumes.
    consume: bool,
    /// Relay pacing.
    relay_settings: RelaySettings,
}

impl Events {
    /// The wiring the settings ask for.
    pub fn new(settings: &Settings, process: &str) -> Self {
        let metrics = EventMetrics::default();
        let broker = match rabbit_settings(settings, &format!("imprint-{process}")) {
            Some(r) => Broker::Rabbit(Arc::new(Publisher::new(r))),
            None => Broker::InProcess(InProcessBus::new(metrics.clone())),
        };
        let relay_settings = RelaySettings {
            batch: settings.events.relay_batch,
            poll: Duration::from_millis(settings.events.relay_poll_ms),
            keep_sent: Duration::from_secs(settings.events.keep_sent_hours * 3600),
            max_backoff: Duration::from_secs(settings.amqp.max_backoff_secs.max(1)),
        };
        Self {
            metrics,
            broker,
            relays: Vec::new(),
            handlers: Vec::new(),
            watchers: Vec::new(),
            consume: settings.events.consume,
            relay_settings,
        }
    }

    /// Whether events travel through RabbitMQ (else only inside this process).
    pub fn has_broker(&self) -> bool {
        matches!(self.broker, Broker::Rabbit(_))
    }

    /// A relay for a producing service's `outbox` in `db`; returns the emitter the service
    /// writes its events through.
    pub fn producer(&mut self, db: &Database, outbox: Outbox) -> Emitter {
        let relay = Relay::new(
            db.clone(),
            outbox,
            self.broker.clone(),
            self.metrics.clone(),
            self.relay_settings.clone(),
        );
        let emitter = Emitter::new(outbox, relay.waker());
        self.relays.push(relay);
        emitter
    }

    /// A consuming service's handler.
    pub fn consumer(&mut self, handler: Arc<dyn Handler>) {
        self.handlers.push(handler);
    }

    /// Calls `on_change` on every event matching `bindings` this process hears of, whether
    /// or not it consumes: every replica's cache must hear of every change.
    pub fn watcher(&mut self, bindings: &'static [&'static str], on_change: rabbit::OnChange) {
        self.watchers.push(Watch {
            bindings,
            on_change,
        });
    }

    /// Starts relays and consumers; they stop when `stop` is cancelled.
    pub fn start(self, stop: &CancellationToken) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        for watch in self.watchers {
            match &self.broker {
                Broker::InProcess(bus) => bus.subscribe(Arc::new(watch)),
                Broker::Rabbit(publisher) => {
                    tasks.spawn(rabbit::watch(
                        publisher.settings().clone(),
                        watch.bindings,
                        watch.on_change,
                        &self.metrics,
                        stop.clone(),
                    ));
                }
            }
        }
        if self.consume {
            for handler in self.handlers {
                match &self.broker {
                    Broker::InProcess(bus) => bus.subscribe(handler),
                    Broker::Rabbit(publisher) => {
                        tasks.spawn(rabbit::consume(
                            publisher.settings().clone(),
                            handler,
                            self.metrics.clone(),
                            stop.clone(),
                        ));
                    }
                }
            }
        }
        for relay in self.relays {
            tasks.spawn(relay.run(stop.clone()));
        }
        tasks
    }
}

/// A watcher on the in-process bus.
struct Watch {
    /// The events it wants.
    bindings: &'static [&'static str],
    /// What it calls.
    on_change: rabbit::OnChange,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("bindings", &self.bindings)
            .finish()
    }
}

impl Handler for Watch {
    fn service(&self) -> &'static str {
        "watch"
    }

    fn bindings(&self) -> &'static [&'static str] {
        self.bindings
    }

    fn handle<'a>(
        &'a self,
        _event: &'a imprint_proto::events::Event,
    ) -> imprint_events::HandlerFuture<'a> {
        (self.on_change)();
        Box::pin(std::future::ready(Ok(imprint_events::Outcome::Applied)))
    }
}
