//! The outbox relay: publishes unsent rows in order, marks them sent only after the transport
//! confirmed them, retries with backoff while the transport is away, prunes sent rows on a
//! schedule, and measures the backlog. On PostgreSQL only one replica relays at a time (the one
//! holding an advisory lock), so events of one aggregate keep their order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use imprint_platform::Database;
use imprint_platform::leader::Leadership;
use sea_orm::DbErr;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bus::InProcessBus;
use crate::envelope::decode;
use crate::metrics::EventMetrics;
use crate::outbox::{Outbox, OutboxRow};
use crate::rabbit::{BrokerError, Publisher};

/// Where events travel: the one answer to "is there a broker?" in a process. Relays send
/// through it; consumers and watchers subscribe through it.
#[derive(Debug, Clone)]
pub enum Broker {
    /// Handlers in this process (no broker configured).
    InProcess(InProcessBus),
    /// RabbitMQ, exchange `imprint.events`.
    Rabbit(Arc<Publisher>),
}

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Rows read and published per batch.
    pub batch: u64,
    /// How often the outbox is checked when no write signalled new rows.
    pub poll: Duration,
    /// How long sent rows are kept before pruning.
    pub keep_sent: Duration,
    /// Longest wait between retries while the transport is away.
    pub max_backoff: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch: 500,
            poll: Duration::from_millis(500),
            keep_sent: Duration::from_secs(24 * 3600),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// One service's relay.
#[derive(Debug, Clone)]
pub struct Relay {
    /// The service's database, holding its outbox.
    db: Database,
    /// The outbox table.
    outbox: Outbox,
    /// Where events go.
    broker: Broker,
    /// Rung by the service after each commit that wrote events, so they go out at once.
    wake: Arc<Notify>,
    /// Counters.
    metrics: EventMetrics,
    /// Pacing.
    settings: RelaySettings,
    /// The row whose in-process delivery keeps failing, and how often it failed.
    failing: Arc<std::sync::Mutex<Option<(i64, u32)>>>,
}

/// Bodies read per batch at most (a paper may carry megabytes).
const BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// In-process deliveries of one event before the relay gives up on it.
const IN_PROCESS_ATTEMPTS: u32 = 10;

/// When the backlog was last measured and the outbox pruned.
#[derive(Debug)]
struct Housekeeping {
    last: Instant,
}

impl Housekeeping {
    fn due_now() -> Self {
        Self {
            last: Instant::now()
                .checked_sub(Duration::from_secs(3600))
                .unwrap_or_else(Instant::now),
        }
    }
}

/// Why a round of relaying stopped; the relay retries after a pause.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    /// The outbox could not be read.
    #[error("reading the outbox: {0}")]
    ReadOutbox(sea_orm::DbErr),
    /// Confirmed rows could not be marked sent (they go out again: consumers ignore duplicates).
    #[error("marking rows sent: {0}")]
    MarkSent(sea_orm::DbErr),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// A handler in this process failed the first event of a batch.
    #[error("{0}")]
    Delivery(String),
    /// Only some of a batch was confirmed.
    #[error("{missing} of {of} events were not confirmed")]
    Unconfirmed {
        /// Not confirmed.
        missing: usize,
        /// In the batch.
        of: usize,
    },
}

impl Relay {
    /// A relay of `outbox` in `db` to `broker`.
    pub fn new(
        db: Database,
        outbox: Outbox,
        broker: Broker,
        metrics: EventMetrics,
        settings: RelaySettings,
    ) -> Self {
        Self {
            db,
            outbox,
            broker,
            wake: Arc::new(Notify::new()),
            metrics,
            settings,
            failing: Arc::default(),
        }
    }

    /// The handle a service rings after committing events.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Relays until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut leader = Leadership::new(&self.db, format!("relay:{}", self.outbox.table));
        let mut housekeeping = Housekeeping::due_now();
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            // A batch in flight when shutdown comes is abandoned: its rows are not marked sent
            // and go out again later (consumers ignore the duplicates).
            let outcome = tokio::select! {
                () = shutdown.cancelled() => return,
                outcome = self.drain(&mut leader, &mut housekeeping) => outcome,
            };
            self.housekeep_if_due(&mut housekeeping).await;
            match outcome {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(self.settings.poll) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(outbox = self.outbox.table, error = %e, retry_in_ms = backoff.as_millis(), "relaying failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    /// Publishes every pending row, batch after batch, checking before each batch that this
    /// replica still leads.
    async fn drain(
        &self,
        leader: &mut Leadership,
        housekeeping: &mut Housekeeping,
    ) -> Result<(), RelayError> {
        loop {
            if !leader.ensure().await {
                return Ok(());
            }
            let rows = self
                .outbox
                .pending(self.db.conn(), self.settings.batch, BATCH_BYTES)
                .await
                .map_err(RelayError::ReadOutbox)?;
            if rows.is_empty() {
                return Ok(());
            }
            let sent = self.send(&rows).await;
            let confirmed = match &sent {
                Ok(n) => *n,
                Err(_) => 0,
            };
            if confirmed > 0 {
                let ids: Vec<i64> = rows[..confirmed].iter().map(|r| r.id).collect();
                self.mark_sent(&ids).await.map_err(RelayError::MarkSent)?;
            }
            sent?;
            if confirmed < rows.len() {
                return Err(RelayError::Unconfirmed {
                    missing: rows.len() - confirmed,
                    of: rows.len(),
                });
            }
            // A long drain still measures and prunes on schedule.
            self.housekeep_if_due(housekeeping).await;
        }
    }

    /// Sends rows in order; returns how many leading rows were confirmed.
    async fn send(&self, rows: &[OutboxRow]) -> Result<usize, RelayError> {
        match &self.broker {
            Broker::Rabbit(publisher) => Ok(publisher.publish(rows, &self.metrics).await?),
            Broker::InProcess(bus) => {
                let counters = self.metrics.counters();
                let mut events = Vec::with_capacity(rows.len());
                let mut row_of = Vec::with_capacity(rows.len());
                for (i, row) in rows.iter().enumerate() {
                    EventMetrics::add(&counters.published, 1);
                    match decode(&row.body) {
                        Ok(event) => {
                            events.push(event);
                            row_of.push(i);
                        }
                        Err(e) => {
                            // Written by this very service: a bug, not an input. Skip it.
                            tracing::error!(outbox = self.outbox.table, id = row.id, error = %e, "undecodable outbox row");
                            EventMetrics::add(&counters.dead_lettered, 1);
                        }
                    }
                }
                let Err((at, e)) = bus.deliver_batch(&events).await else {
                    EventMetrics::add(&counters.confirmed, events.len() as u64);
                    return Ok(rows.len());
                };
                EventMetrics::add(&counters.confirmed, at as u64);
                EventMetrics::add(&counters.publish_failures, 1);
                let i = row_of.get(at).copied().unwrap_or(rows.len());
                if let (Some(row), Some(event)) = (rows.get(i), events.get(at))
                    && self.give_up_on(row.id)
                {
                    // Without a broker there is no dead-letter queue: after this many
                    // attempts the event is logged and skipped, so that one bad event does
                    // not hold back every later one. `imprint events republish` restates the
                    // data once the cause is fixed.
                    tracing::error!(outbox = self.outbox.table, event_id = %event.event_id, routing_key = %row.routing_key, error = %e, "giving up on an event after {IN_PROCESS_ATTEMPTS} attempts");
                    EventMetrics::add(&counters.dead_lettered, 1);
                    return Ok(i + 1);
                }
                if i == 0 {
                    Err(RelayError::Delivery(e))
                } else {
                    Ok(i)
                }
            }
        }
    }

    /// Counts a failed in-process delivery of row `id`; true once it failed often enough.
    fn give_up_on(&self, id: i64) -> bool {
        let mut failing = self
            .failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *failing {
            Some((row, n)) if row == id && n + 1 >= IN_PROCESS_ATTEMPTS => {
                *failing = None;
                true
            }
            Some((row, n)) if row == id => {
                *failing = Some((row, n + 1));
                false
            }
            _ => {
                *failing = Some((id, 1));
                false
            }
        }
    }

    async fn housekeep_if_due(&self, housekeeping: &mut Housekeeping) {
        if housekeeping.last.elapsed() > Duration::from_secs(5) {
            self.housekeeping().await;
            housekeeping.last = Instant::now();
        }
    }

    async fn mark_sent(&self, ids: &[i64]) -> Result<(), DbErr> {
        let tx = self.db.begin_write().await?;
        let result = self.outbox.mark_sent(&*tx, ids, Utc::now()).await;
        tx.finish(result).await
    }

    /// Measures the backlog and prunes old sent rows.
    async fn housekeeping(&self) {
        match self.outbox.backlog(self.db.conn()).await {
            Ok((count, oldest)) => {
                let counters = self.metrics.counters();
                counters
                    .outbox_backlog
                    .store(count, std::sync::atomic::Ordering::Relaxed);
                let age = oldest.map_or(0, |t| (Utc::now() - t).num_seconds().max(0));
                counters
                    .outbox_oldest_age_secs
                    .store(age, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(outbox = self.outbox.table, error = %e, "measuring the outbox");
            }
        }
        let keep = chrono::TimeDelta::from_std(self.settings.keep_sent).unwrap_or_default();
        let pruned = async {
            let tx = self.db.begin_write().await?;
            let result = self.outbox.prune(&*tx, Utc::now() - keep).await;
            tx.finish(result).await
        }
        .await;
        match pruned {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                outbox = self.outbox.table,
                rows = n,
                "pruned sent outbox rows"
            ),
            Err(e) => tracing::warn!(outbox = self.outbox.table, error = %e, "pruning the outbox"),
        }
    }
}
