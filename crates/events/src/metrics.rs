//! Event counters kept in the process; the operations issue exposes them at `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use imprint_platform::server::NotReady;

/// Counters of one process's event traffic. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct EventMetrics(Arc<Counters>);

/// The counters themselves.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events handed to the transport.
    pub published: AtomicU64,
    /// Events the transport confirmed (broker ack, or every in-process handler done).
    pub confirmed: AtomicU64,
    /// Events the broker refused (nack) or that failed to publish; they are retried.
    pub publish_failures: AtomicU64,
    /// Deliveries consumers received from the broker (each redelivery again).
    pub delivered: AtomicU64,
    /// Events a consumer handled (applied or found stale).
    pub consumed: AtomicU64,
    /// Events a consumer found not newer than what it holds: duplicates and reordering.
    pub stale: AtomicU64,
    /// Deliveries the broker marked as redelivered.
    pub redelivered: AtomicU64,
    /// Events given up on: rejected as malformed, or over the delivery limit.
    pub dead_lettered: AtomicU64,
    /// Broker connections this process keeps open for consuming and watching.
    pub links: AtomicI64,
    /// Of them, those connected and set up right now.
    pub links_up: AtomicI64,
    /// Of them, those that have been up at least once since start.
    pub links_started: AtomicI64,
    /// Unsent outbox rows, as last measured.
    pub outbox_backlog: AtomicI64,
    /// Age in seconds of the oldest unsent outbox row, as last measured (0 when none).
    pub outbox_oldest_age_secs: AtomicI64,
}

impl EventMetrics {
    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.0
    }

    /// Counts a handled event: consumed, and stale when it was not newer.
    pub fn handled(&self, outcome: crate::bus::Outcome) {
        Self::add(&self.0.consumed, 1);
        if outcome == crate::bus::Outcome::Stale {
            Self::add(&self.0.stale, 1);
        }
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters as (name, value) pairs, for exposition and tests.
    pub fn snapshot(&self) -> Vec<(&'static str, i64)> {
        let c = &self.0;
        let u = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        vec![
            ("imprint_events_published_total", u(&c.published)),
            ("imprint_events_confirmed_total", u(&c.confirmed)),
            (
                "imprint_events_publish_failures_total",
                u(&c.publish_failures),
            ),
            ("imprint_events_delivered_total", u(&c.delivered)),
            ("imprint_events_consumed_total", u(&c.consumed)),
            ("imprint_events_stale_total", u(&c.stale)),
            ("imprint_events_redelivered_total", u(&c.redelivered)),
            ("imprint_events_dead_lettered_total", u(&c.dead_lettered)),
            ("imprint_amqp_connections", c.links.load(Ordering::Relaxed)),
            (
                "imprint_amqp_connections_up",
                c.links_up.load(Ordering::Relaxed),
            ),
            (
                "imprint_outbox_backlog",
                c.outbox_backlog.load(Ordering::Relaxed),
            ),
            (
                "imprint_outbox_oldest_age_seconds",
                c.outbox_oldest_age_secs.load(Ordering::Relaxed),
            ),
        ]
    }

    /// A broker connection this process needs for consuming or watching: counted until the
    /// returned value is dropped. Readiness waits until each is up.
    pub fn link(&self) -> Link {
        self.0.links.fetch_add(1, Ordering::Relaxed);
        Link {
            metrics: self.clone(),
            up: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }

    /// `Err` naming how many broker connections have not come up yet since start. Once each
    /// has, a later broker outage does not make the process unready: writes go on into the
    /// outbox and reads from the databases and caches, and the outage shows in
    /// `imprint_amqp_connections_up` instead.
    pub fn broker_ready(&self) -> Result<(), NotReady> {
        let links = self.0.links.load(Ordering::Relaxed);
        let started = self.0.links_started.load(Ordering::Relaxed);
        if started >= links {
            Ok(())
        } else {
            Err(NotReady::BrokerDown {
                down: links - started,
                of: links,
            })
        }
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, value) in self.snapshot() {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            out.push_str(&format!("# TYPE {name} {kind}\n{name} {value}\n"));
        }
        out
    }
}

/// One broker connection a process keeps (see [`EventMetrics::link`]).
#[derive(Debug)]
pub struct Link {
    metrics: EventMetrics,
    up: AtomicBool,
    started: AtomicBool,
}

impl Link {
    /// Marks it connected (and set up) or lost.
    pub fn set_up(&self, up: bool) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            let delta = if up { 1 } else { -1 };
            self.metrics.0.links_up.fetch_add(delta, Ordering::Relaxed);
        }
        if up && !self.started.swap(true, Ordering::Relaxed) {
            self.metrics.0.links_started.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.set_up(false);
        if self.started.load(Ordering::Relaxed) {
            self.metrics.0.links_started.fetch_sub(1, Ordering::Relaxed);
        }
        self.metrics.0.links.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_is_ready_once_every_link_came_up_and_stays_so_through_outages() {
        let metrics = EventMetrics::default();
        assert!(
            metrics.broker_ready().is_ok(),
            "no links, nothing to wait for"
        );
        let consumer = metrics.link();
        let watcher = metrics.link();
        let waiting = metrics.broker_ready().unwrap_err().to_string();
        assert!(waiting.contains("2 of 2"), "{waiting}");
        consumer.set_up(true);
        assert!(
            metrics
                .broker_ready()
                .unwrap_err()
                .to_string()
                .contains("1 of 2")
        );
        watcher.set_up(true);
        assert!(metrics.broker_ready().is_ok());
        // An outage later: still ready (pods keep serving), and the gauge shows it.
        consumer.set_up(false);
        assert!(metrics.broker_ready().is_ok());
        assert_eq!(metrics.counters().links_up.load(Ordering::Relaxed), 1);
        drop(consumer);
        drop(watcher);
        assert_eq!(metrics.counters().links.load(Ordering::Relaxed), 0);
        assert_eq!(metrics.counters().links_up.load(Ordering::Relaxed), 0);
        assert!(metrics.broker_ready().is_ok());
    }
}
