//! Faults of the broker and of consumers, each test alone on the machine: they stop the shared
//! RabbitMQ or load it with ten thousand events. `scripts/test` runs them after the rest
//! (their names start with `exclusive_`), one at a time.

#![allow(clippy::panic)]

use std::time::Instant;

use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_system_tests::{
    Cluster, Process, counts, create_authors, create_papers, eventually, run_imprint,
};

/// Runs `rabbitmqctl` with `args`.
fn rabbitmqctl(args: &[&str]) {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl: {e}"));
    assert!(output.status.success(), "rabbitmqctl {args:?}: {output:?}");
}

/// Starts the broker's application again even when the test fails half-way.
struct StartAppOnDrop;

impl Drop for StartAppOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-q", "start_app"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_broker_outage_loses_no_event() {
    let cluster = Cluster::start(&[]).await;
    let mut authors = AuthorServiceClient::new(cluster.gateway.channel().await);
    let papers = PaperServiceClient::new(cluster.gateway.channel().await);
    let ids = create_authors(&mut authors, 2).await;

    let _restart = StartAppOnDrop;
    rabbitmqctl(&["-q", "stop_app"]);
    // Writes through the gateway go on while the broker is away.
    create_papers(&papers, &ids, 40, 4).await;
    eventually(20, "the outbox holds the unsent events", || async {
        cluster.papers.metric("imprint_outbox_backlog").await >= 40
    })
    .await;
    eventually(
        20,
        "the age of the oldest unsent event is measured",
        || async {
            cluster
                .papers
                .metric("imprint_outbox_oldest_age_seconds")
                .await
                >= 1
        },
    )
    .await;
    assert_eq!(counts(&cluster.authors, &ids).await, [0, 0]);

    rabbitmqctl(&["-q", "start_app"]);
    rabbitmqctl(&["-q", "await_startup"]);
    eventually(
        90,
        "every event is delivered after the broker is back",
        || async { counts(&cluster.authors, &ids).await == [20, 20] },
    )
    .await;
    eventually(20, "the outbox is empty again", || async {
        cluster.papers.metric("imprint_outbox_backlog").await == 0
    })
    .await;

    // Duplicates are counted and harmless: republish everything, the consumer finds every
    // event stale, and the counts stay exact.
    let stale_before = cluster.authors.metric("imprint_events_stale_total").await;
    let (ok, stdout, stderr) = run_imprint(
        &[
            "events",
            "republish",
            "--role",
            "papers",
            "--since",
            "1970-01-01T00:00:00Z",
        ],
        &[("IMPRINT__DATABASE__URL", cluster.papers_db.url.clone())],
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("papers: 40 event(s)"), "{stdout}");
    eventually(60, "the republished events are found stale", || async {
        cluster.authors.metric("imprint_events_stale_total").await >= stale_before + 40
    })
    .await;
    assert_eq!(counts(&cluster.authors, &ids).await, [20, 20]);

    // Nothing was given up on.
    let (ok, stdout, stderr) = run_imprint(
        &["events", "dead-letters", "list"],
        &[("IMPRINT__AMQP__URL", cluster.vhost.url.clone())],
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("0 dead letter(s)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_consumer_killed_mid_stream_loses_none() {
    const AUTHORS: usize = 10;
    const PAPERS: usize = 10_000;
    // The authors role that serves the API does not consume: the stream waits in the queue
    // until a consuming replica starts.
    let cluster = Cluster::start(&[("IMPRINT__EVENTS__CONSUME", "false".to_owned())]).await;
    let mut authors = AuthorServiceClient::new(cluster.authors.channel().await);
    let papers = PaperServiceClient::new(cluster.papers.channel().await);
    let ids = create_authors(&mut authors, AUTHORS).await;
    let started = Instant::now();
    create_papers(&papers, &ids, PAPERS, 16).await;
    eprintln!("created {PAPERS} papers in {:?}", started.elapsed());
    eventually(120, "every event is in the broker", || async {
        cluster.papers.metric("imprint_outbox_backlog").await == 0
    })
    .await;

    let total = |c: Vec<i32>| c.iter().map(|n| i64::from(*n)).sum::<i64>();
    let consumer = Process::serve(&["--role", "authors"], &cluster.authors_env()).await;
    eventually(120, "the consumer is part-way through", || async {
        total(counts(&cluster.authors, &ids).await) >= (PAPERS / 5) as i64
    })
    .await;
    consumer.kill().await;
    let at_kill = total(counts(&cluster.authors, &ids).await);
    eprintln!("killed the consumer with {at_kill} of {PAPERS} events applied");
    assert!(
        at_kill < PAPERS as i64,
        "the stream was over before the kill; the test proves nothing"
    );

    let consumer = Process::serve(&["--role", "authors"], &cluster.authors_env()).await;
    eventually(300, "every event is applied after the restart", || async {
        counts(&cluster.authors, &ids).await == vec![(PAPERS / AUTHORS) as i32; AUTHORS]
    })
    .await;
    eprintln!(
        "all {PAPERS} applied {:?} after the kill",
        started.elapsed()
    );
    // What the killed consumer held unacknowledged came back, marked redelivered; what it had
    // already applied was found stale. The restarted consumer applied exactly the rest: each
    // event once in effect.
    assert!(consumer.metric("imprint_events_redelivered_total").await > 0);
    let applied = consumer.metric("imprint_events_consumed_total").await
        - consumer.metric("imprint_events_stale_total").await;
    assert_eq!(
        applied,
        PAPERS as i64 - at_kill,
        "applied by the restarted consumer"
    );
    let (ok, stdout, stderr) = run_imprint(
        &["events", "dead-letters", "list", "--service", "authors"],
        &[("IMPRINT__AMQP__URL", cluster.vhost.url.clone())],
    )
    .await;
    assert!(
        ok && stdout.contains("0 dead letter(s)"),
        "{stdout}\n{stderr}"
    );
}
