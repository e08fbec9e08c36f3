//! The scheduler: publishes and withdraws papers when their scheduled time comes. One replica
//! fires schedules at a time (PostgreSQL advisory lock, as the relay); it looks every second,
//! so a schedule fires within about a second of its time, and at start it fires everything
//! that fell due while no replica ran, each with its scheduled time as the publish time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use imprint_domain::{ScheduleAction, time};
use imprint_platform::Database;
use imprint_platform::leader::Leadership;
use tokio_util::sync::CancellationToken;

use crate::service::{FireOutcome, Fired, Papers};

/// How often the leader looks for due schedules.
const POLL: Duration = Duration::from_secs(1);
/// Papers fired per look at most; the rest wait for the next.
const BATCH: u64 = 100;

/// What the scheduler did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ScheduleMetrics {
    /// Papers published on schedule.
    published: AtomicU64,
    /// Papers withdrawn on schedule.
    unpublished: AtomicU64,
    /// Schedules refused when due (the paper had been edited into a state the action refuses).
    failed: AtomicU64,
}

impl ScheduleMetrics {
    /// The counters in the Prometheus text format.
    pub fn prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP imprint_papers_schedules_done_total Papers published or withdrawn on schedule.\n\
             # TYPE imprint_papers_schedules_done_total counter"
        );
        for (action, counter) in [
            ("publish", &self.published),
            ("unpublish", &self.unpublished),
        ] {
            let _ = writeln!(
                out,
                "imprint_papers_schedules_done_total{{action=\"{action}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP imprint_papers_schedule_failures_total Schedules refused when due; the reason is on the paper.\n\
             # TYPE imprint_papers_schedule_failures_total counter\n\
             imprint_papers_schedule_failures_total {}",
            self.failed.load(Ordering::Relaxed)
        );
    }
}

/// Fires due schedules while it leads.
#[derive(Debug)]
pub struct Scheduler {
    /// The use cases (fire_due saves with the paper's version, so an edit in between wins).
    service: Papers,
    /// The papers database, for leadership.
    db: Database,
    /// Counters.
    metrics: Arc<ScheduleMetrics>,
}

impl Scheduler {
    /// A scheduler over `service` and its database `db`, counting into `metrics`.
    pub fn new(service: Papers, db: Database, metrics: Arc<ScheduleMetrics>) -> Self {
        Self {
            service,
            db,
            metrics,
        }
    }

    /// Looks for due schedules every second until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut leader = Leadership::new(&self.db, "papers:scheduler");
        loop {
            if leader.ensure().await {
                self.fire_due().await;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Fires what is due now.
    async fn fire_due(&self) {
        let now = time::now();
        let due = match self.service.due(now, BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "reading due schedules");
                return;
            }
        };
        for id in due {
            match self.service.fire_due(id, now).await {
                Ok(Some(fired)) => self.count(id, fired),
                Ok(None) => {}
                // A conflicting edit or a passing database failure: the next look tries again.
                Err(e) => tracing::warn!(paper_id = %id, error = %e, "firing a schedule"),
            }
        }
    }

    fn count(&self, id: imprint_domain::PaperId, fired: Fired) {
        let action = fired.action;
        match fired.outcome {
            FireOutcome::Done => {
                let counter = match action {
                    ScheduleAction::Publish => &self.metrics.published,
                    ScheduleAction::Unpublish => &self.metrics.unpublished,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::info!(paper_id = %id, action = ?action, "schedule fired");
            }
            FireOutcome::AlreadyDone => {
                tracing::info!(paper_id = %id, action = ?action, "schedule due on a paper already so; cleared");
            }
            FireOutcome::Refused(reason) => {
                self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    paper_id = %id,
                    action = ?action,
                    reason = %reason,
                    "scheduled change refused; recorded on the paper"
                );
            }
        }
    }
}
