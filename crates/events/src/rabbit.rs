//! RabbitMQ: the topology, the publisher (publisher confirms kept in flight) and the consumer
//! (a durable quorum queue per consuming service, with a delivery limit and dead-lettering,
//! reconnecting and re-declaring by itself).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Handler, HandlerError};
use crate::envelope::{CONTENT_TYPE, decode};
use crate::metrics::{EventMetrics, Link};
use crate::outbox::OutboxRow;
use crate::topology::{self, DELIVERY_LIMIT};

/// The topic exchange every event is published to.
pub const EXCHANGE: &str = "imprint.events";
/// The exchange dead letters go to, routed to `<service>.events.dead`.
pub const DEAD_EXCHANGE: &str = "imprint.dead";

/// How long connecting and declaring may take before the attempt counts as failed.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the broker may take to confirm a batch (it withholds confirms under a resource
/// alarm); the unconfirmed rows are sent again.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// How a process talks to RabbitMQ.
#[derive(Debug, Clone)]
pub struct RabbitSettings {
    /// `amqp://user:pass@host:5672/%2f`.
    pub url: String,
    /// Unacknowledged deliveries a consumer may hold.
    pub prefetch: u16,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Attempts at a delivery whose handler failed passingly, in this process with doubling
    /// pauses from 200 ms, before it goes back to the queue, where the broker counts it
    /// against the delivery limit: a database restart of a few seconds must not dead-letter
    /// the events in flight.
    pub attempts: u32,
    /// Names this process's connections in the broker's management views.
    pub connection_name: String,
}

/// The queue of a consuming service.
pub fn queue_name(service: &str) -> String {
    format!("{service}.events")
}

/// The dead-letter queue of a consuming service.
pub fn dead_queue_name(service: &str) -> String {
    format!("{service}.events.dead")
}

/// What went wrong talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A step did not finish within its time.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The broker or the connection failed a step.
    #[error("{doing}: {source}")]
    Amqp {
        /// The step.
        doing: String,
        /// What lapin said.
        source: lapin::Error,
    },
    /// The broker ended a consumer (its queue was deleted, or the node is going down).
    #[error("the broker cancelled the {0}")]
    Cancelled(&'static str),
    /// Not one event of a batch was confirmed.
    #[error("the broker confirmed none of the batch")]
    NoneConfirmed,
    /// The broker refused a message back into a queue (its id).
    #[error("the broker refused to take back {0}")]
    Refused(String),
}

impl BrokerError {
    /// A failure of `doing`, for `map_err`.
    fn amqp(doing: impl Into<String>) -> impl FnOnce(lapin::Error) -> Self {
        move |source| Self::Amqp {
            doing: doing.into(),
            source,
        }
    }
}

/// Opens a connection, giving up after [`SETUP_TIMEOUT`].
pub async fn connect(settings: &RabbitSettings) -> Result<Connection, BrokerError> {
    let properties = ConnectionProperties::default().with_connection_name(LongString::from(
        settings.connection_name.clone().into_bytes(),
    ));
    tokio::time::timeout(
        SETUP_TIMEOUT,
        Connection::connect(&settings.url, properties),
    )
    .await
    .map_err(|_| BrokerError::Timeout("connecting to RabbitMQ"))?
    .map_err(BrokerError::amqp("connecting to RabbitMQ"))
}

/// Closes `conn` without waiting long for a broker that may be going away. (A connection that
/// is merely dropped stays open.)
async fn close(conn: &Connection, why: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, why.into())).await;
}

/// Declares the exchanges (idempotent).
pub async fn declare_exchanges(channel: &Channel) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            DEAD_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
}

/// Declares a consuming service's queues and bindings (idempotent). RabbitMQ 3.10's quorum
/// queues take the delivery limit and dead-lettering as explicit arguments; they are fixed
/// (`topology::DELIVERY_LIMIT`), so that every process declares the same and none is refused
/// for "inequivalent arguments". Operators tune a deployment with a policy instead.
pub async fn declare_consumer(
    channel: &Channel,
    service: &str,
    bindings: &[&str],
) -> Result<(), lapin::Error> {
    declare_exchanges(channel).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let dead = dead_queue_name(service);
    let mut dead_args = FieldTable::default();
    dead_args.insert("x-queue-type".into(), long_string("quorum"));
    channel
        .queue_declare(dead.as_str().into(), durable, dead_args)
        .await?;
    channel
        .queue_bind(
            dead.as_str().into(),
            DEAD_EXCHANGE.into(),
            dead.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let queue = queue_name(service);
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(i32::try_from(DELIVERY_LIMIT).unwrap_or(i32::MAX)),
    );
    args.insert("x-dead-letter-exchange".into(), long_string(DEAD_EXCHANGE));
    args.insert("x-dead-letter-routing-key".into(), long_string(&dead));
    // Dead-letter at least once: a message is removed only after the dead-letter queue
    // confirmed it (needs reject-publish overflow).
    args.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    args.insert("x-overflow".into(), long_string("reject-publish"));
    if topology::ConsumerQueue::of(service).is_some_and(|c| c.single_active) {
        args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    }
    channel
        .queue_declare(queue.as_str().into(), durable, args)
        .await?;
    bind(channel, &queue.as_str().into(), bindings).await
}

/// Binds `queue` to the event exchange under each of `bindings`.
async fn bind(
    channel: &Channel,
    queue: &ShortString,
    bindings: &[&str],
) -> Result<(), lapin::Error> {
    for binding in bindings {
        channel
            .queue_bind(
                queue.clone(),
                EXCHANGE.into(),
                (*binding).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// The AMQP properties of an outbox row's message. Its `traceparent` is that of a producer span,
/// a child of the change's own trace context (stored with the row), so that the trace shows
/// the hop through the outbox and the broker.
fn properties(row: &OutboxRow) -> BasicProperties {
    let span = tracing::info_span!(
        "publish",
        otel.name = %format!("{} publish", row.routing_key),
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.destination.name = EXCHANGE,
        messaging.message.id = %row.event_id,
        messaging.rabbitmq.destination.routing_key = %row.routing_key,
        imprint.outbox.waited_ms = (chrono::Utc::now() - row.created_at).num_milliseconds(),
    );
    imprint_platform::telemetry::set_parent(&span, Some(&row.traceparent));
    let traceparent = span
        .in_scope(imprint_platform::telemetry::traceparent)
        .unwrap_or_else(|| row.traceparent.clone());
    let mut headers = FieldTable::default();
    headers.insert("traceparent".into(), long_string(&traceparent));
    BasicProperties::default()
        .with_message_id(row.event_id.to_string().into())
        .with_type(row.routing_key.as_str().into())
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(2)
        .with_timestamp(u64::try_from(row.created_at.timestamp()).unwrap_or(0))
        .with_headers(headers)
}

/// Publishes outbox rows with publisher confirms, keeping one connection and reconnecting
/// when it is lost.
#[derive(Debug)]
pub struct Publisher {
    /// How to connect.
    settings: RabbitSettings,
    /// The open connection and its confirm-mode channel, when there is one.
    open: Mutex<Option<(Connection, Channel)>>,
}

impl Publisher {
    /// A publisher that connects on first use.
    pub fn new(settings: RabbitSettings) -> Self {
        Self {
            settings,
            open: Mutex::new(None),
        }
    }

    /// How it reaches the broker: what consumers and watchers of the same process use too.
    pub fn settings(&self) -> &RabbitSettings {
        &self.settings
    }

    async fn channel(&self) -> Result<Channel, BrokerError> {
        let mut open = self.open.lock().await;
        if let Some((conn, channel)) = open.as_ref() {
            if conn.status().connected() && channel.status().connected() {
                return Ok(channel.clone());
            }
            close(conn, "reconnecting").await;
        }
        *open = None;
        let conn = connect(&self.settings).await?;
        let setup = async {
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            // Every consumer's queue exists before the first event goes out, whatever order
            // the processes started in.
            for queue in topology::CONSUMERS {
                declare_consumer(&channel, queue.service, queue.bindings).await?;
            }
            Ok::<Channel, lapin::Error>(channel)
        };
        match tokio::time::timeout(SETUP_TIMEOUT, setup).await {
            Ok(Ok(channel)) => {
                *open = Some((conn, channel.clone()));
                Ok(channel)
            }
            Ok(Err(e)) => {
                close(&conn, "setup failed").await;
                Err(BrokerError::amqp("setting up the publishing channel")(e))
            }
            Err(_) => {
                close(&conn, "setup timed out").await;
                Err(BrokerError::Timeout("setting up the publishing channel"))
            }
        }
    }

    async fn forget_connection(&self) {
        if let Some((conn, _)) = self.open.lock().await.take() {
            close(&conn, "reconnecting").await;
        }
    }

    /// Publishes `rows` in order, all in flight at once, then waits for their confirms. Returns
    /// how many leading rows the broker confirmed: the relay marks those sent and retries the
    /// rest, so order is kept.
    pub async fn publish(
        &self,
        rows: &[OutboxRow],
        metrics: &EventMetrics,
    ) -> Result<usize, BrokerError> {
        let channel = self.channel().await?;
        let counters = metrics.counters();
        let mut confirms = Vec::with_capacity(rows.len());
        for row in rows {
            let sent = channel
                .basic_publish(
                    EXCHANGE.into(),
                    row.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &row.body,
                    properties(row),
                )
                .await;
            match sent {
                Ok(confirm) => confirms.push(confirm),
                Err(e) => {
                    tracing::warn!(error = %e, "publishing failed; reconnecting");
                    break;
                }
            }
        }
        EventMetrics::add(&counters.published, confirms.len() as u64);
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let mut confirmed = 0;
        let mut broken = confirms.len() < rows.len();
        for confirm in confirms {
            let outcome = tokio::time::timeout_at(deadline, confirm).await;
            match outcome {
                Ok(Ok(c)) if c.is_ack() && !broken => confirmed += 1,
                Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
                    if !broken {
                        tracing::warn!(outcome = ?outcome.map(|r| r.map(|c| c.is_ack())), "a publisher confirm was negative or did not come");
                    }
                    broken = true;
                    EventMetrics::add(&counters.publish_failures, 1);
                }
            }
        }
        if broken {
            self.forget_connection().await;
        }
        EventMetrics::add(&counters.confirmed, confirmed as u64);
        if confirmed == 0 && !rows.is_empty() {
            return Err(BrokerError::NoneConfirmed);
        }
        Ok(confirmed)
    }
}

/// Consumes a service's queue until `shutdown`, reconnecting and re-declaring its topology
/// whenever the connection or channel is lost. Each delivery is acknowledged only after the
/// handler's own commit; a passing failure is retried here, then requeued (the broker counts
/// deliveries and dead-letters past the limit); a malformed event is dead-lettered at once.
pub fn consume(
    settings: RabbitSettings,
    handler: Arc<dyn Handler>,
    metrics: EventMetrics,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    // Counted at once, so that readiness waits for it from the start.
    let link = metrics.link();
    consume_loop(settings, handler, metrics, link, shutdown)
}

async fn consume_loop(
    settings: RabbitSettings,
    handler: Arc<dyn Handler>,
    metrics: EventMetrics,
    link: Link,
    shutdown: CancellationToken,
) {
    let (settings, handler, metrics, link, stop) =
        (&settings, handler.as_ref(), &metrics, &link, &shutdown);
    reconnecting(
        settings,
        "consumer",
        handler.service(),
        link,
        stop,
        move || consume_once(settings, handler, metrics, link, stop),
    )
    .await;
}

/// Runs `attempt` (connect, set up, work until the connection fails) again and again with
/// doubling pauses, until it returns `Ok` (shutdown) or `shutdown` is cancelled; `link` is
/// marked down after each attempt. `what` and `service` name it in the log.
async fn reconnecting<F, Fut>(
    settings: &RabbitSettings,
    what: &str,
    service: &str,
    link: &Link,
    shutdown: &CancellationToken,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BrokerError>>,
{
    let initial = Duration::from_millis(200);
    let mut backoff = initial;
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let outcome = attempt().await;
        link.set_up(false);
        match outcome {
            Ok(()) => return,
            Err(e) => {
                // One that ran a while before losing the broker starts over quickly.
                if started.elapsed() > Duration::from_secs(30) {
                    backoff = initial;
                }
                tracing::warn!(service, error = %e, retry_in_ms = backoff.as_millis(), "{what} lost the broker; reconnecting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(settings.max_backoff);
    }
}

async fn consume_once(
    settings: &RabbitSettings,
    handler: &dyn Handler,
    metrics: &EventMetrics,
    link: &Link,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let conn = connect(settings).await?;
    let outcome = consume_on(&conn, settings, handler, metrics, link, shutdown).await;
    // Unacknowledged deliveries return to the queue when the connection closes.
    close(
        &conn,
        if outcome.is_ok() {
            "shutting down"
        } else {
            "reconnecting"
        },
    )
    .await;
    outcome
}

async fn consume_on(
    conn: &Connection,
    settings: &RabbitSettings,
    handler: &dyn Handler,
    metrics: &EventMetrics,
    link: &Link,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let queue = queue_name(handler.service());
    let setup = async {
        let channel = conn.create_channel().await?;
        channel
            .basic_qos(settings.prefetch, BasicQosOptions::default())
            .await?;
        declare_consumer(&channel, handler.service(), handler.bindings()).await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                format!("{}-{}", settings.connection_name, std::process::id()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok::<_, lapin::Error>(consumer)
    };
    let mut consumer = tokio::time::timeout(SETUP_TIMEOUT, setup)
        .await
        .map_err(|_| BrokerError::Timeout("setting up the consumer"))?
        .map_err(BrokerError::amqp("setting up the consumer"))?;
    tracing::info!(service = handler.service(), %queue, "consuming");
    link.set_up(true);
    let counters = metrics.counters();
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = consumer.next() => next,
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(BrokerError::amqp("consuming")(e)),
            None => return Err(BrokerError::Cancelled("consumer")),
        };
        EventMetrics::add(&counters.delivered, 1);
        if delivery.redelivered {
            EventMetrics::add(&counters.redelivered, 1);
        }
        let event = match decode(&delivery.data) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(service = handler.service(), error = %e, "malformed event; dead-lettering it");
                EventMetrics::add(&counters.dead_lettered, 1);
                nack(&delivery, false).await?;
                continue;
            }
        };
        // The consumer's span continues the trace of the change that caused the event.
        let span = tracing::info_span!(
            "consume",
            otel.name = %format!("{} process", event.r#type),
            otel.kind = "consumer",
            otel.status_code = tracing::field::Empty,
            messaging.system = "rabbitmq",
            messaging.operation.type = "process",
            messaging.destination.name = %queue,
            messaging.message.id = %event.event_id,
            messaging.rabbitmq.destination.routing_key = %event.r#type,
            imprint.consumer = handler.service(),
        );
        imprint_platform::telemetry::set_parent(&span, header(&delivery, "traceparent").as_deref());
        let mut pause = Duration::from_millis(200);
        let mut attempt = 1;
        let outcome = loop {
            match handler.handle(&event).instrument(span.clone()).await {
                Err(HandlerError::Retry(e)) if attempt < settings.attempts => {
                    tracing::warn!(service = handler.service(), event_id = %event.event_id, attempt, error = %e, "handling failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause *= 2;
                    attempt += 1;
                }
                other => break other,
            }
        };
        if outcome.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        drop(span);
        match outcome {
            Ok(outcome) => {
                metrics.handled(outcome);
                delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(BrokerError::amqp("acknowledging a delivery"))?;
            }
            Err(HandlerError::Retry(e)) => {
                // Back to the queue; the broker dead-letters it once it has been delivered
                // DELIVERY_LIMIT times.
                let deliveries = delivery_count(&delivery) + 1;
                tracing::warn!(service = handler.service(), event_id = %event.event_id, deliveries, error = %e, "handling keeps failing; returning it to the queue");
                if deliveries >= u64::from(DELIVERY_LIMIT) {
                    tracing::error!(service = handler.service(), event_id = %event.event_id, "delivery limit reached; the broker dead-letters it");
                    EventMetrics::add(&counters.dead_lettered, 1);
                }
                nack(&delivery, true).await?;
                // Do not hammer a dependency that is down with the next delivery at once.
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            Err(HandlerError::Reject(e)) => {
                tracing::error!(service = handler.service(), event_id = %event.event_id, error = %e, "event rejected; dead-lettering it");
                EventMetrics::add(&counters.dead_lettered, 1);
                nack(&delivery, false).await?;
            }
        }
    }
}

/// A header of `delivery` that is a string.
fn header(delivery: &Delivery, name: &str) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// How often the broker delivered this message before (quorum queues' `x-delivery-count`).
fn delivery_count(delivery: &Delivery) -> u64 {
    let count = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned());
    match count {
        Some(AMQPValue::LongLongInt(n)) => u64::try_from(n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u64::try_from(n).unwrap_or(0),
        Some(AMQPValue::LongUInt(n)) => u64::from(n),
        Some(AMQPValue::ShortInt(n)) => u64::try_from(n).unwrap_or(0),
        _ => 0,
    }
}

async fn nack(delivery: &Delivery, requeue: bool) -> Result<(), BrokerError> {
    delivery
        .nack(BasicNackOptions {
            requeue,
            ..BasicNackOptions::default()
        })
        .await
        .map(drop)
        .map_err(BrokerError::amqp("rejecting a delivery"))
}

/// A message waiting in a dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The event id.
    pub message_id: String,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Why it was dead-lettered and how often it was delivered, from the `x-death` header.
    pub reason: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Reads up to `limit` dead letters of `service` without removing them.
pub async fn dead_letters(
    settings: &RabbitSettings,
    service: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, BrokerError> {
    let conn = connect(settings).await?;
    let listed = async {
        let channel = conn
            .create_channel()
            .await
            .map_err(BrokerError::amqp("opening a channel"))?;
        let queue = dead_queue_name(service);
        let mut out = Vec::new();
        while out.len() < limit {
            let got = channel
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .map_err(BrokerError::amqp(format!("reading {queue}")))?;
            let Some(message) = got else { break };
            out.push(dead_letter(&message.delivery));
        }
        Ok(out)
    }
    .await;
    // Closing returns every unacknowledged message to the queue, in order.
    close(&conn, "listed").await;
    listed
}

/// Sends every dead letter of `service` waiting now back to that service's queue only (other
/// consumers of the same routing key, partners' queues among them, already have it), and
/// removes it from the dead-letter queue once the broker confirmed the copy. Returns how many.
pub async fn requeue_dead_letters(
    settings: &RabbitSettings,
    service: &str,
) -> Result<u32, BrokerError> {
    let conn = connect(settings).await?;
    let moved = requeue_on(&conn, service).await;
    close(&conn, "requeued").await;
    moved
}

async fn requeue_on(conn: &Connection, service: &str) -> Result<u32, BrokerError> {
    let channel = conn
        .create_channel()
        .await
        .map_err(BrokerError::amqp("opening a channel"))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(BrokerError::amqp("turning on publisher confirms"))?;
    let queue = dead_queue_name(service);
    let target = queue_name(service);
    // Only the letters there now: one that fails again comes back behind them and must not be
    // picked up a second time.
    let waiting = channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(BrokerError::amqp(queue.clone()))?
        .message_count();
    let mut moved = 0;
    while moved < waiting {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(BrokerError::amqp(format!("reading {queue}")))?;
        let Some(message) = got else { break };
        let d = &message.delivery;
        let mut props = d.properties.clone();
        if let Some(headers) = props.headers().clone() {
            let kept: std::collections::BTreeMap<ShortString, AMQPValue> = headers
                .inner()
                .iter()
                .filter(|(k, _)| !k.as_str().starts_with("x-"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            props = props.with_headers(FieldTable::from(kept));
        }
        // The default exchange routes by queue name: to this service's queue and no other.
        let confirm = channel
            .basic_publish(
                "".into(),
                target.as_str().into(),
                BasicPublishOptions::default(),
                &d.data,
                props,
            )
            .await
            .map_err(BrokerError::amqp("requeueing a letter"))?;
        let confirm = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(|_| BrokerError::Timeout("confirming a requeued letter"))?
            .map_err(BrokerError::amqp("confirming a requeued letter"))?;
        if !confirm.is_ack() {
            return Err(BrokerError::Refused(dead_letter(d).message_id));
        }
        d.ack(BasicAckOptions::default())
            .await
            .map_err(BrokerError::amqp("removing a requeued letter"))?;
        moved += 1;
    }
    Ok(moved)
}

fn dead_letter(d: &Delivery) -> DeadLetter {
    let text = |v: &AMQPValue| match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        other => format!("{other:?}"),
    };
    let mut reason = String::new();
    if let Some(headers) = d.properties.headers()
        && let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death")
        && let Some(AMQPValue::FieldTable(first)) = deaths.as_slice().first()
    {
        let get = |k: &str| first.inner().get(k).map(text).unwrap_or_default();
        reason = format!(
            "{} after {} deliveries from {}",
            get("reason"),
            get("count"),
            get("queue")
        );
    }
    let routing_key = d
        .properties
        .kind()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| d.routing_key.to_string());
    DeadLetter {
        message_id: d
            .properties
            .message_id()
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        routing_key,
        reason,
        body: d.data.clone(),
    }
}

/// What a watcher calls: once per event it hears of, and once per (re)connection, since events
/// may have passed while it was away.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// Follows the events matching `bindings` on a queue of this process's own (server-named,
/// exclusive, gone with the connection), calling `on_change` for each. For caches: every
/// replica hears every change, and none keeps a queue alive after it stops. Reconnects on its
/// own until `shutdown`.
pub fn watch(
    settings: RabbitSettings,
    bindings: &'static [&'static str],
    on_change: OnChange,
    metrics: &EventMetrics,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + use<> {
    // Counted at once, so that readiness waits for it from the start.
    let link = metrics.link();
    watch_loop(settings, bindings, on_change, link, shutdown)
}

async fn watch_loop(
    settings: RabbitSettings,
    bindings: &'static [&'static str],
    on_change: OnChange,
    link: Link,
    shutdown: CancellationToken,
) {
    let (settings, on_change, link, stop) = (&settings, on_change.as_ref(), &link, &shutdown);
    reconnecting(settings, "watcher", "watch", link, stop, move || {
        watch_once(settings, bindings, on_change, link, stop)
    })
    .await;
}

async fn watch_once(
    settings: &RabbitSettings,
    bindings: &[&str],
    on_change: &(dyn Fn() + Send + Sync),
    link: &Link,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let conn = connect(settings).await?;
    let outcome = async {
        let setup = async {
            let channel = conn.create_channel().await?;
            declare_exchanges(&channel).await?;
            let queue = channel
                .queue_declare(
                    "".into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            bind(&channel, queue.name(), bindings).await?;
            channel
                .basic_consume(
                    queue.name().clone(),
                    "watch".into(),
                    BasicConsumeOptions {
                        no_ack: true,
                        ..BasicConsumeOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
        };
        let mut consumer = tokio::time::timeout(SETUP_TIMEOUT, setup)
            .await
            .map_err(|_| BrokerError::Timeout("setting up the watcher"))?
            .map_err(BrokerError::amqp("setting up the watcher"))?;
        link.set_up(true);
        on_change();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                next = consumer.next() => match next {
                    Some(Ok(_)) => on_change(),
                    Some(Err(e)) => return Err(BrokerError::amqp("watching")(e)),
                    None => return Err(BrokerError::Cancelled("watcher")),
                },
            }
        }
    }
    .await;
    close(
        &conn,
        if outcome.is_ok() {
            "shutting down"
        } else {
            "reconnecting"
        },
    )
    .await;
    outcome
}
