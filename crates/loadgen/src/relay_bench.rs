//! Outbox relay throughput: how fast a relay empties an outbox into RabbitMQ, with publisher
//! confirms kept in flight (batches) or awaited one at a time (batch of one).

use crate::error::LoadError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imprint_domain::{PaperFields, PaperInput, PublicationType, Slug};
use imprint_events::envelope::{NewEvent, PAPER_UPDATED};
use imprint_events::rabbit::{Publisher, RabbitSettings};
use imprint_events::{Broker, EventMetrics, Outbox, Relay, RelaySettings};
use imprint_platform::Database;
use imprint_platform::settings::Settings;
use imprint_proto::events::event::Payload;
use sea_orm::{ConnectionTrait, StatementBuilder};
use tokio_util::sync::CancellationToken;

const OUTBOX: Outbox = Outbox {
    table: "bench_outbox",
};

/// Fills a fresh SQLite outbox with `events` paper events (about 1.5 KB each, like the seed
/// page's paper), relays them to `amqp_url` in batches of `batch`, and prints events per second
/// and the process's CPU per event.
#[allow(clippy::print_stdout)] // The report.
pub(crate) async fn run(amqp_url: &str, events: u64, batch: u64) -> Result<(), LoadError> {
    let dir = std::env::temp_dir().join(format!("imprint-relay-bench-{}", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}?mode=rwc", dir.join("outbox.db").display());
    let db = Database::connect(&url, &Settings::default().database).await?;
    let backend = db.backend();
    for stmt in [
        StatementBuilder::build(&OUTBOX.create_table(), &backend),
        StatementBuilder::build(&OUTBOX.create_index(), &backend),
    ] {
        db.conn().execute(stmt).await?;
    }
    let (_, fields) = PaperFields::parse(&PaperInput {
        title: "A Rethinking of US-Pakistan Relations".into(),
        summary: "As the United States and Pakistan approach 75 years of bilateral engagement, the relationship between the two countries is at a critical crossroads. ".repeat(8),
        publication_type: Some(PublicationType::DiscussionPaper),
        topics: vec!["Global Policy".into()],
        author_ids: vec![uuid::Uuid::now_v7().to_string()],
        ..PaperInput::default()
    })
    .map_err(LoadError::Paper)?;
    let paper = imprint_domain::Paper::new_draft(
        Slug::derive("a rethinking", "paper"),
        fields,
        imprint_domain::time::now(),
    );
    let tx = db.begin_write().await?;
    let mut appended = Ok(());
    for _ in 0..events {
        let event = NewEvent::new(
            PAPER_UPDATED,
            paper.id.as_uuid(),
            paper.version,
            paper.update_time,
            Payload::Paper((&paper).into()),
        );
        appended = OUTBOX.append(&*tx, &event).await;
        if appended.is_err() {
            break;
        }
    }
    tx.finish(appended).await?;

    let publisher = Publisher::new(RabbitSettings {
        url: amqp_url.to_owned(),
        prefetch: 1,
        max_backoff: Duration::from_secs(1),
        attempts: 1,
        connection_name: "imprint-relay-bench".to_owned(),
    });
    let metrics = EventMetrics::default();
    let relay = Relay::new(
        db.clone(),
        OUTBOX,
        Broker::Rabbit(Arc::new(publisher)),
        metrics.clone(),
        RelaySettings {
            batch,
            poll: Duration::from_millis(10),
            ..RelaySettings::default()
        },
    );
    let stop = CancellationToken::new();
    let cpu_before = crate::self_cpu_ticks();
    let started = Instant::now();
    let task = tokio::spawn(relay.run(stop.clone()));
    loop {
        let (left, _) = OUTBOX.backlog(db.conn()).await?;
        if left == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(LoadError::Unsent(left));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let cpu = crate::self_cpu_ticks().saturating_sub(cpu_before);
    stop.cancel();
    let _ = task.await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let n = events as f64;
    println!(
        "relay batch {batch:>4}: {events} events in {:.2} s = {:>7.0} events/s, process CPU {:>6.1} µs/event",
        elapsed.as_secs_f64(),
        n / elapsed.as_secs_f64(),
        cpu as f64 * 1e6 / 100.0 / n,
    );
    Ok(())
}
