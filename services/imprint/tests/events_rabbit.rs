//! Events over a real RabbitMQ (a vhost per test): end to end between the services, dead
//! letters and the operators' requeue, and consumers that come back after the broker closed
//! their connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft, eventually};
use imprint_events::envelope::NewEvent;
use imprint_events::rabbit::{self, DEAD_EXCHANGE, EXCHANGE, RabbitSettings};
use imprint_proto::events::event::Payload;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, ConnectionProperties};

fn settings(app: &TestApp) -> RabbitSettings {
    RabbitSettings {
        url: app.rabbit.as_ref().unwrap().url.clone(),
        prefetch: 8,
        max_backoff: std::time::Duration::from_secs(1),
        attempts: 1,
        connection_name: "test".to_owned(),
    }
}

/// Publishes `body` as an event of type `event_type` to `exchange` under `routing_key`.
async fn publish_raw(
    app: &TestApp,
    exchange: &str,
    routing_key: &str,
    event_type: &str,
    body: &[u8],
) {
    let conn = lapin::Connection::connect(&settings(app).url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_type(event_type.into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
    conn.close(200, "done".into()).await.unwrap();
}

async fn rabbit_events_reach_the_other_service(backend: Backend) {
    let app = TestApp::spawn_rabbit(backend).await;
    common::events_reach_the_other_service(app).await;
}

async fn rabbit_dead_letters_can_be_listed_and_requeued(backend: Backend) {
    let mut app = TestApp::spawn_rabbit(backend).await;
    let author = app.author("Maryam Kiyani").await;
    // Wait until the authors consumer has declared its queues.
    let first = app.create(draft("First", &[&author])).await.unwrap();
    eventually("the consumer is running", || async {
        app.paper_count(&author.id).await == 1
    })
    .await;

    // A message nobody can decode is dead-lettered at once, not retried forever.
    publish_raw(
        &app,
        EXCHANGE,
        "paper.updated",
        "paper.updated",
        b"\x08\xff not protobuf",
    )
    .await;
    let settings = settings(&app);
    eventually("the malformed message is dead-lettered", || async {
        rabbit::dead_letters(&settings, "authors", 10)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    let listed = rabbit::dead_letters(&settings, "authors", 10)
        .await
        .unwrap();
    assert_eq!(listed[0].routing_key, "paper.updated");
    assert!(listed[0].reason.contains("rejected"), "{:?}", listed[0]);
    assert_eq!(
        rabbit::dead_letters(&settings, "authors", 10)
            .await
            .unwrap()
            .len(),
        1,
        "listing leaves the letters in place"
    );
    assert!(app.metric("imprint_events_dead_lettered_total").await >= 1);

    // A valid event waiting among the dead letters is applied once requeued: a paper crediting
    // the author, as another papers deployment might have published it.
    let mut ghost = imprint_proto::papers::Paper::from(&imprint_domain::Paper::new_draft(
        imprint_domain::Slug::parse("ghost").unwrap(),
        imprint_domain::PaperFields::parse(&imprint_domain::PaperInput {
            title: "Ghost".into(),
            publication_type: Some(imprint_domain::PublicationType::Report),
            author_ids: vec![author.id.clone()],
            ..imprint_domain::PaperInput::default()
        })
        .unwrap()
        .1,
        imprint_domain::time::now(),
    ));
    ghost.version = 1;
    let event = NewEvent::new(
        "paper.updated",
        uuid::Uuid::parse_str(&ghost.id).unwrap(),
        1,
        imprint_domain::time::now(),
        Payload::Paper(ghost),
    );
    publish_raw(
        &app,
        DEAD_EXCHANGE,
        "authors.events.dead",
        "paper.updated",
        &event.encode(),
    )
    .await;
    let moved = rabbit::requeue_dead_letters(&settings, "authors")
        .await
        .unwrap();
    assert_eq!(moved, 2);
    eventually("the requeued event is applied", || async {
        app.paper_count(&author.id).await == 2
    })
    .await;
    // The malformed one comes straight back to the dead letters.
    eventually("the malformed message is dead-lettered again", || async {
        rabbit::dead_letters(&settings, "authors", 10)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    assert_eq!(first.author_ids, std::slice::from_ref(&author.id));
    app.stop().await;
}

async fn rabbit_consumers_reconnect_after_the_broker_drops_them(backend: Backend) {
    let mut app = TestApp::spawn_rabbit(backend).await;
    let author = app.author("Imran Khan").await;
    app.create(draft("Before", &[&author])).await.unwrap();
    eventually("the first event is applied", || async {
        app.paper_count(&author.id).await == 1
    })
    .await;
    let vhost = app.rabbit.as_ref().unwrap().name.clone();
    let closed = tokio::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "close_all_connections",
            "--vhost",
            &vhost,
            "test: dropped",
        ])
        .output()
        .await
        .unwrap();
    assert!(closed.status.success(), "{closed:?}");
    // Written while the connections are down; delivered once they are back.
    for i in 0..5 {
        app.create(draft(&format!("After {i}"), &[&author]))
            .await
            .unwrap();
    }
    eventually("the consumer came back and caught up", || async {
        app.paper_count(&author.id).await == 6
    })
    .await;
    app.stop().await;
}

/// A consumer that keeps failing gives the event up after the delivery limit; once the cause
/// is repaired, requeueing the dead letter applies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbit_failing_deliveries_are_dead_lettered_at_the_limit_and_requeued() {
    // One attempt per delivery, so that the limit is reached in seconds.
    let mut app =
        TestApp::spawn_rabbit_with(Backend::Postgres, |s| s.amqp.retry_attempts = 1).await;
    let author = app.author("Carla Freeman").await;
    app.create(draft("One", &[&author])).await.unwrap();
    eventually("the consumer is running", || async {
        app.paper_count(&author.id).await == 1
    })
    .await;
    app.execute(
        "authors",
        "ALTER TABLE author_paper_versions RENAME TO author_paper_versions_away",
    )
    .await;
    app.create(draft("Two", &[&author])).await.unwrap();
    let settings = settings(&app);
    eventually(
        "the event is dead-lettered at the delivery limit",
        || async {
            rabbit::dead_letters(&settings, "authors", 10)
                .await
                .unwrap()
                .iter()
                .any(|l| l.reason.contains("delivery_limit"))
        },
    )
    .await;
    assert!(app.metric("imprint_events_redelivered_total").await >= 10);
    assert!(app.metric("imprint_events_dead_lettered_total").await >= 1);
    assert_eq!(app.paper_count(&author.id).await, 1);

    app.execute(
        "authors",
        "ALTER TABLE author_paper_versions_away RENAME TO author_paper_versions",
    )
    .await;
    assert_eq!(
        rabbit::requeue_dead_letters(&settings, "authors")
            .await
            .unwrap(),
        1
    );
    eventually("the requeued event is applied", || async {
        app.paper_count(&author.id).await == 2
    })
    .await;
    app.stop().await;
}

on_both_backends!(
    rabbit_events_reach_the_other_service,
    rabbit_dead_letters_can_be_listed_and_requeued,
    rabbit_consumers_reconnect_after_the_broker_drops_them,
);
