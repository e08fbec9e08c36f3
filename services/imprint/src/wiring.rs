//! How the services' events are wired in this process: one relay per producing service, over
//! RabbitMQ when `amqp.url` is set and over the in-process bus otherwise, and the consumers of
//! each service's handler. Started after the listeners, stopped after them.

use std::sync::Arc;
use std::time::Duration;

use imprint_events::rabbit::{self, Publisher, RabbitSettings};
use imprint_events::{
    Emitter, EventMetrics, Handler, InProcessBus, Outbox, Relay, RelaySettings, Transport,
};
use imprint_platform::{Database, Settings};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How this process reaches RabbitMQ, when `amqp.url` is set; `name` labels its connections.
pub fn rabbit_settings(settings: &Settings, name: &str) -> Option<RabbitSettings> {
    (!settings.amqp.url.is_empty()).then(|| RabbitSettings {
        url: settings.amqp.url.clone(),
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
    /// Where relays send.
    transport: Transport,
    /// The broker, when there is one.
    rabbit: Option<RabbitSettings>,
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
        let rabbit = rabbit_settings(settings, &format!("imprint-{process}"));
        let transport = match &rabbit {
            Some(r) => Transport::Rabbit(Arc::new(Publisher::new(r.clone()))),
            None => Transport::InProcess(InProcessBus::new(metrics.clone())),
        };
        let relay_settings = RelaySettings {
            batch: settings.events.relay_batch,
            poll: Duration::from_millis(settings.events.relay_poll_ms),
            keep_sent: Duration::from_secs(settings.events.keep_sent_hours * 3600),
            max_backoff: Duration::from_secs(settings.amqp.max_backoff_secs.max(1)),
        };
        Self {
            metrics,
            transport,
            rabbit,
            relays: Vec::new(),
            handlers: Vec::new(),
            watchers: Vec::new(),
            consume: settings.events.consume,
            relay_settings,
        }
    }

    /// A relay for a producing service's `outbox` in `db`; returns the emitter the service
    /// writes its events through.
    pub fn producer(&mut self, db: &Database, outbox: Outbox) -> Emitter {
        let relay = Relay::new(
            db.clone(),
            outbox,
            self.transport.clone(),
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
            match (&self.transport, &self.rabbit) {
                (Transport::InProcess(bus), _) => bus.subscribe(Arc::new(watch)),
                (Transport::Rabbit(_), Some(settings)) => {
                    tasks.spawn(rabbit::watch(
                        settings.clone(),
                        watch.bindings,
                        watch.on_change,
                        &self.metrics,
                        stop.clone(),
                    ));
                }
                (Transport::Rabbit(_), None) => {}
            }
        }
        if self.consume {
            for handler in self.handlers {
                match (&self.transport, &self.rabbit) {
                    (Transport::InProcess(bus), _) => bus.subscribe(handler),
                    (Transport::Rabbit(_), Some(settings)) => {
                        tasks.spawn(rabbit::consume(
                            settings.clone(),
                            handler,
                            self.metrics.clone(),
                            stop.clone(),
                        ));
                    }
                    (Transport::Rabbit(_), None) => {}
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
