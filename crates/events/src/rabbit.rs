//! RabbitMQ: the topology, the publisher (publisher confirms kept in flight) and the consumer
//! (a durable quorum queue per consuming service, with a delivery limit and dead-lettering,
//! reconnecting and re-declaring by itself).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::bus::{Handler, HandlerError, Outcome};
use crate::envelope::{CONTENT_TYPE, decode};
use crate::metrics::EventMetrics;
use crate::outbox::OutboxRow;

/// The topic exchange every event is published to.
pub const EXCHANGE: &str = "imprint.events";
/// The exchange dead letters go to, routed to `<service>.events.dead`.
pub const DEAD_EXCHANGE: &str = "imprint.dead";

/// How a process talks to RabbitMQ.
#[derive(Debug, Clone)]
pub struct RabbitSettings {
    /// `amqp://user:pass@host:5672/%2f`.
    pub url: String,
    /// Unacknowledged deliveries a consumer may hold.
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub delivery_limit: u32,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
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

/// Opens a connection.
pub async fn connect(settings: &RabbitSettings) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(LongString::from(
        settings.connection_name.clone().into_bytes(),
    ));
    Connection::connect(&settings.url, properties).await
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
/// queues take the delivery limit and dead-lettering as explicit arguments.
pub async fn declare_consumer(
    channel: &Channel,
    service: &str,
    bindings: &[&str],
    delivery_limit: u32,
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
        AMQPValue::LongInt(i32::try_from(delivery_limit).unwrap_or(i32::MAX)),
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
    channel
        .queue_declare(queue.as_str().into(), durable, args)
        .await?;
    for binding in bindings {
        channel
            .queue_bind(
                queue.as_str().into(),
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

/// The AMQP properties of an outbox row's message.
fn properties(row: &OutboxRow) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("traceparent".into(), long_string(&row.traceparent));
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

    async fn channel(&self) -> Result<Channel, String> {
        let mut open = self.open.lock().await;
        if let Some((conn, channel)) = open.as_ref()
            && conn.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        *open = None;
        let conn = connect(&self.settings)
            .await
            .map_err(|e| format!("connecting to RabbitMQ: {e}"))?;
        let channel = conn
            .create_channel()
            .await
            .map_err(|e| format!("opening a channel: {e}"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("enabling publisher confirms: {e}"))?;
        // Every consumer's queue exists before the first event goes out, whatever order the
        // processes started in.
        for queue in crate::topology::CONSUMERS {
            declare_consumer(
                &channel,
                queue.service,
                queue.bindings,
                self.settings.delivery_limit,
            )
            .await
            .map_err(|e| format!("declaring the queue of {}: {e}", queue.service))?;
        }
        *open = Some((conn, channel.clone()));
        Ok(channel)
    }

    async fn forget_connection(&self) {
        *self.open.lock().await = None;
    }

    /// Publishes `rows` in order, all in flight at once, then waits for their confirms. Returns
    /// how many leading rows the broker confirmed: the relay marks those sent and retries the
    /// rest, so order is kept.
    pub async fn publish(
        &self,
        rows: &[OutboxRow],
        metrics: &EventMetrics,
    ) -> Result<usize, String> {
        let channel = self.channel().await?;
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
                    self.forget_connection().await;
                    break;
                }
            }
        }
        EventMetrics::add(&metrics.counters().published, confirms.len() as u64);
        let mut confirmed = 0;
        let mut broken = false;
        for confirm in confirms {
            match confirm.await {
                Ok(c) if c.is_ack() && !broken => confirmed += 1,
                Ok(_) => {
                    broken = true;
                    EventMetrics::add(&metrics.counters().publish_failures, 1);
                }
                Err(e) => {
                    if !broken {
                        tracing::warn!(error = %e, "waiting for a publisher confirm failed");
                    }
                    broken = true;
                    EventMetrics::add(&metrics.counters().publish_failures, 1);
                }
            }
        }
        if broken {
            self.forget_connection().await;
        }
        EventMetrics::add(&metrics.counters().confirmed, confirmed as u64);
        if confirmed == 0 && !rows.is_empty() {
            return Err("the broker confirmed none of the batch".to_owned());
        }
        Ok(confirmed)
    }
}

/// Consumes a service's queue until `shutdown`, reconnecting and re-declaring its topology
/// whenever the connection or channel is lost. Each delivery is acknowledged only after the
/// handler's own commit; a passing failure is requeued (the broker counts deliveries and
/// dead-letters past the limit); a malformed event is dead-lettered at once.
pub async fn consume(
    settings: RabbitSettings,
    handler: Arc<dyn Handler>,
    metrics: EventMetrics,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match consume_once(&settings, handler.as_ref(), &metrics, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(service = handler.service(), error = %e, retry_in_ms = backoff.as_millis(), "consumer lost the broker; reconnecting");
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
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let conn = connect(settings).await.map_err(|e| e.to_string())?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    declare_consumer(
        &channel,
        handler.service(),
        handler.bindings(),
        settings.delivery_limit,
    )
    .await
    .map_err(|e| format!("declaring the topology: {e}"))?;
    let queue = queue_name(handler.service());
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            format!("{}-{}", settings.connection_name, std::process::id()).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(service = handler.service(), %queue, "consuming");
    let counters = metrics.counters();
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => {
                // Unacknowledged deliveries return to the queue when the channel closes.
                let _ = channel.close(200, "shutting down".into()).await;
                let _ = conn.close(200, "shutting down".into()).await;
                return Ok(());
            }
            next = consumer.next() => next,
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the broker cancelled the consumer".to_owned()),
        };
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
        match handler.handle(&event).await {
            Ok(outcome) => {
                EventMetrics::add(&counters.consumed, 1);
                if outcome == Outcome::Stale {
                    EventMetrics::add(&counters.stale, 1);
                }
                delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(HandlerError::Retry(e)) => {
                tracing::warn!(service = handler.service(), event_id = %event.event_id, error = %e, "handling failed; requeueing");
                nack(&delivery, true).await?;
                // Give the passing failure (a database restart, say) a moment.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(HandlerError::Reject(e)) => {
                tracing::error!(service = handler.service(), event_id = %event.event_id, error = %e, "event rejected; dead-lettering it");
                EventMetrics::add(&counters.dead_lettered, 1);
                nack(&delivery, false).await?;
            }
        }
    }
}

async fn nack(delivery: &lapin::message::Delivery, requeue: bool) -> Result<(), String> {
    delivery
        .nack(BasicNackOptions {
            requeue,
            ..BasicNackOptions::default()
        })
        .await
        .map(drop)
        .map_err(|e| e.to_string())
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
) -> Result<Vec<DeadLetter>, String> {
    let conn = connect(settings).await.map_err(|e| e.to_string())?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    let queue = dead_queue_name(service);
    let mut out = Vec::new();
    while out.len() < limit {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(|e| format!("reading {queue}: {e}"))?;
        let Some(message) = got else { break };
        out.push(dead_letter(&message.delivery));
    }
    // Closing the channel returns every unacknowledged message to the queue, in order.
    let _ = channel.close(200, "listed".into()).await;
    let _ = conn.close(200, "listed".into()).await;
    Ok(out)
}

/// Publishes every dead letter of `service` back to `imprint.events` under its routing key, and
/// removes it from the dead-letter queue once the broker confirmed the copy. Returns how many.
pub async fn requeue_dead_letters(settings: &RabbitSettings, service: &str) -> Result<u32, String> {
    let conn = connect(settings).await.map_err(|e| e.to_string())?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let queue = dead_queue_name(service);
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
        .map_err(|e| format!("{queue}: {e}"))?
        .message_count();
    let mut moved = 0;
    while moved < waiting {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(|e| format!("reading {queue}: {e}"))?;
        let Some(message) = got else { break };
        let d = &message.delivery;
        let letter = dead_letter(d);
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
        let confirm = channel
            .basic_publish(
                EXCHANGE.into(),
                letter.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &d.data,
                props,
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        if !confirm.is_ack() {
            return Err(format!(
                "the broker refused to take back {}",
                letter.message_id
            ));
        }
        d.ack(BasicAckOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        moved += 1;
    }
    let _ = conn.close(200, "requeued".into()).await;
    Ok(moved)
}

fn dead_letter(d: &lapin::message::Delivery) -> DeadLetter {
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
