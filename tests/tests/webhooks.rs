//! Webhooks end to end: `imprint serve` as a process, endpoints registered over gRPC, and
//! receivers Imprint did not write (`tests/contract/webhook_receiver.py`: Python's standard
//! HTTP server verifying each delivery with the Standard Webhooks reference verifier). Every
//! change reaches a healthy receiver, verified; one that fails its first 5 attempts and one
//! that is down for a minute still get every event once in effect; a receiver taking 10 s per
//! request delays no other's deliveries; the delivery log shows the failed attempts; a
//! redelivery arrives again; a filtered endpoint gets only what it asked for. Bad endpoints are
//! refused by field.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imprint_proto::gateway::webhook_service_client::WebhookServiceClient;
use imprint_proto::gateway::{
    CreateWebhookRequest, DeliveryStatus, ListWebhookDeliveriesRequest, RedeliverWebhookRequest,
    Webhook,
};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::taxonomy_service_client::TaxonomyServiceClient;
use imprint_proto::papers::{CreateTermRequest, PublishPaperRequest, Term, Vocabulary};
use imprint_system_tests::{Process, create_authors, create_paper, free_port, python, repo_root};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// A running receiver and what it printed.
struct Receiver {
    _child: tokio::process::Child,
    port: u16,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    async fn start(port: u16) -> Self {
        let mut child = tokio::process::Command::new(python())
            .arg(repo_root().join("tests/contract/webhook_receiver.py"))
            .args(["--port", &port.to_string()])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", python().display()));
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), out.next_line())
            .await
            .expect("the receiver starts")
            .unwrap()
            .unwrap_or_default();
        let port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!("the receiver said {first:?} (scripts/test installs standardwebhooks)")
            });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Self {
            _child: child,
            port,
            lines,
        }
    }

    fn url(&self, mode: &str, name: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}/{name}", self.port)
    }

    async fn secret(&self, name: &str, secret: &str) {
        let body = serde_json::json!({"name": name, "secret": secret}).to_string();
        let request = format!(
            "POST /secrets HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut answer)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 204"));
    }

    /// The event ids `name` received verified, with how often each came.
    fn received(&self, name: &str) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for line in self.lines.lock().unwrap().iter() {
            if line["name"] == name && line["verified"] == true {
                *seen
                    .entry(line["id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        seen
    }

    /// The types `name` received, in order.
    fn types(&self, name: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["name"] == name && l["verified"] == true)
            .map(|l| l["type"].as_str().unwrap().to_owned())
            .collect()
    }

    fn refused(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.get("refused").is_some())
            .cloned()
            .collect()
    }
}

async fn until(secs: u64, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "never: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Registers the endpoint `name` at `url`, giving its secret to `receivers`; returns it and
/// its secret.
async fn register(
    client: &mut WebhookServiceClient<imprint_platform::clients::Peer>,
    receivers: &[&Receiver],
    name: &str,
    url: String,
    event_types: &[&str],
    term_ids: &[String],
) -> (Webhook, String) {
    let created = client
        .create_webhook(CreateWebhookRequest {
            webhook: Some(Webhook {
                url,
                description: format!("the {name} receiver"),
                event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
                term_ids: term_ids.to_vec(),
                ..Webhook::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created.secret.starts_with("whsec_"));
    for r in receivers {
        r.secret(name, &created.secret).await;
    }
    (created.webhook.unwrap(), created.secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_reaches_every_receiver_once_in_effect_whatever_the_others_do() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let env = [
        ("IMPRINT__WEBHOOKS__ALLOW_HTTP", "true".to_owned()),
        ("IMPRINT__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned()),
        ("IMPRINT__WEBHOOKS__INITIAL_BACKOFF_MS", "200".to_owned()),
        ("IMPRINT__WEBHOOKS__MAX_BACKOFF_MS", "2000".to_owned()),
    ];
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let channel = server.channel().await;
    let mut hooks = WebhookServiceClient::new(channel.clone());
    let receiver = Receiver::start(0).await;
    // Nothing listens here for the first minute.
    let down_port = free_port();
    let down_url = format!("http://127.0.0.1:{down_port}/ok/down");

    let mut taxonomy = TaxonomyServiceClient::new(channel.clone());
    let region = taxonomy
        .create_term(CreateTermRequest {
            term: Some(Term {
                vocabulary: Vocabulary::Region.into(),
                name: "South Asia".into(),
                ..Term::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .term
        .unwrap();
    // Its event is consumed before the endpoints exist (events are matched when consumed).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok, _) = register(
        &mut hooks,
        &[&receiver],
        "ok",
        receiver.url("ok", "ok"),
        &[],
        &[],
    )
    .await;
    let (flaky, _) = register(
        &mut hooks,
        &[&receiver],
        "flaky",
        receiver.url("flaky", "flaky"),
        &[],
        &[],
    )
    .await;
    register(
        &mut hooks,
        &[&receiver],
        "slow",
        receiver.url("slow", "slow"),
        &[],
        &[],
    )
    .await;
    let (down, down_secret) = register(&mut hooks, &[], "down", down_url, &[], &[]).await;
    register(
        &mut hooks,
        &[&receiver],
        "filtered",
        receiver.url("ok", "filtered"),
        &["paper.published"],
        std::slice::from_ref(&region.id),
    )
    .await;

    // The changes: authors, papers in and out of the region, published.
    let mut authors =
        imprint_proto::authors::author_service_client::AuthorServiceClient::new(channel.clone());
    let ids = create_authors(&mut authors, 2).await;
    let mut papers = PaperServiceClient::new(channel.clone());
    let mut published = Vec::new();
    for (i, title) in ["Violent Extremism in Pakistan", "Baltic Security"]
        .iter()
        .enumerate()
    {
        let mut paper = create_paper(&mut papers, title, &ids[i]).await;
        if i == 0 {
            paper = papers
                .update_paper(imprint_proto::papers::UpdatePaperRequest {
                    paper: Some(imprint_proto::papers::Paper {
                        id: paper.id.clone(),
                        version: paper.version,
                        region_ids: vec!["south-asia".into()],
                        ..imprint_proto::papers::Paper::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["region_ids".into()],
                    }),
                })
                .await
                .unwrap()
                .into_inner()
                .paper
                .unwrap();
        }
        papers
            .publish_paper(PublishPaperRequest {
                id: paper.id.clone(),
                version: paper.version,
                publish_time: None,
            })
            .await
            .unwrap();
        published.push(paper.id);
    }
    // Everything since the endpoints were registered: 2 authors, 2 drafts, a region given, 2
    // publications.
    let expected = 7;

    // The healthy receiver has every event while the slow one (10 s a request) is still on
    // its first ones: the slow endpoint held nobody up.
    let took = until(20, "the healthy receiver has every event", || {
        receiver.received("ok").len() >= expected
    })
    .await;
    assert!(
        took < Duration::from_secs(8),
        "the healthy receiver waited {took:?}"
    );
    assert!(receiver.received("slow").len() < expected);
    let all: BTreeSet<String> = receiver.received("ok").into_keys().collect();
    assert_eq!(all.len(), expected, "{:?}", receiver.types("ok"));

    // The receiver failing its first 5 attempts has every event, each once in effect.
    until(30, "the flaky receiver has every event", || {
        receiver.received("flaky").len() == expected
    })
    .await;
    let flaky_ids: BTreeSet<String> = receiver.received("flaky").into_keys().collect();
    assert_eq!(flaky_ids, all);
    let log = hooks
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            webhook_id: flaky.id.clone(),
            page_size: 100,
            ..ListWebhookDeliveriesRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(log.len(), expected);
    let failed_attempts: usize = log
        .iter()
        .flat_map(|d| &d.attempts)
        .filter(|a| a.status_code == 503 && !a.error.is_empty())
        .count();
    assert_eq!(failed_attempts, 5, "{log:?}");
    assert!(log.iter().all(|d| d.status() == DeliveryStatus::Delivered));

    // The filtered endpoint: only the publication of the paper of the region.
    until(10, "the filtered receiver has its event", || {
        !receiver.received("filtered").is_empty()
    })
    .await;
    assert_eq!(receiver.types("filtered"), ["paper.published"]);

    // In order per paper: each paper's events reach the healthy receiver by version.
    {
        let lines = receiver.lines.lock().unwrap();
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        for line in lines
            .iter()
            .filter(|l| l["name"] == "ok" && l["verified"] == true)
        {
            let aggregate = line["aggregate"].as_str().unwrap().to_owned();
            let version = line["version"].as_i64().unwrap();
            let before = last.insert(aggregate, version).unwrap_or(0);
            assert!(version > before, "out of order: {line}");
        }
    }

    // A redelivery arrives again, with the same webhook-id.
    let ok_log = hooks
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            webhook_id: ok.id.clone(),
            page_size: 1,
            ..ListWebhookDeliveriesRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    let again = &ok_log[0];
    hooks
        .redeliver_webhook(RedeliverWebhookRequest {
            delivery_id: again.id.clone(),
        })
        .await
        .unwrap();
    until(10, "the redelivery arrives", || {
        receiver.received("ok").get(&again.event_id) == Some(&2)
    })
    .await;

    // The receiver that was down for a minute gets everything once it is up.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let log = hooks
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            webhook_id: down.id.clone(),
            page_size: 100,
            ..ListWebhookDeliveriesRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    // All waiting; each aggregate's first retried all along (the later ones of an aggregate
    // wait their turn), every 2 s at most once the backoff reached its cap.
    assert!(
        log.iter().all(|d| d.status() == DeliveryStatus::Pending),
        "{log:?}"
    );
    let most = log.iter().map(|d| d.attempts.len()).max().unwrap_or(0);
    assert!(most >= 20, "retried {most} times in a minute");
    let late = Receiver::start(down_port).await;
    late.secret("down", &down_secret).await;
    until(30, "the receiver that was down has every event", || {
        late.received("down").len() == expected
    })
    .await;
    let late_ids: BTreeSet<String> = late.received("down").into_keys().collect();
    assert_eq!(late_ids, all);

    // The slow receiver got there too, and every delivery verified.
    until(60, "the slow receiver has every event", || {
        receiver.received("slow").len() == expected
    })
    .await;
    assert!(receiver.refused().is_empty(), "{:?}", receiver.refused());
    assert!(late.refused().is_empty(), "{:?}", late.refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoints_are_refused_by_field_and_updates_are_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let server = Process::serve(&["--data-dir", &data_dir], &[]).await;
    let mut hooks = WebhookServiceClient::new(server.channel().await);
    let refused = |url: &str, event_types: &[&str]| CreateWebhookRequest {
        webhook: Some(Webhook {
            url: url.to_owned(),
            event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
            ..Webhook::default()
        }),
    };
    for (request, field, why) in [
        (
            refused("ftp://hooks.example.org/", &[]),
            "webhook.url",
            "only http and https",
        ),
        (
            refused("http://hooks.example.org/", &[]),
            "webhook.url",
            "is not https",
        ),
        (
            refused("https://127.0.0.1:9000/", &[]),
            "webhook.url",
            "loopback",
        ),
        (
            refused("https://10.0.0.7/hook", &[]),
            "webhook.url",
            "private",
        ),
        (
            refused("https://169.254.169.254/", &[]),
            "webhook.url",
            "link-local",
        ),
        (
            refused("https://hooks.example.org/", &["Paper Published"]),
            "webhook.event_types[0]",
            "not an event type pattern",
        ),
    ] {
        let status = hooks.create_webhook(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        let fields: Vec<String> = imprint_proto::status::field_violations(&status)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, [field], "{status:?}");
        assert!(status.message().contains(why), "{status:?}");
    }
    let created = hooks
        .create_webhook(refused("https://hooks.example.org/imprint", &["paper.*"]))
        .await
        .unwrap()
        .into_inner()
        .webhook
        .unwrap();
    assert!(created.enabled);
    assert_eq!(created.creator.unwrap().subject, "tests");
    let update = |version: i64| imprint_proto::gateway::UpdateWebhookRequest {
        webhook: Some(Webhook {
            id: created.id.clone(),
            version,
            enabled: false,
            ..Webhook::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["enabled".into()],
        }),
    };
    let disabled = hooks.update_webhook(update(1)).await.unwrap().into_inner();
    assert!(!disabled.webhook.unwrap().enabled);
    let stale = hooks.update_webhook(update(1)).await.unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_disabled_and_keeps_what_happens_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    // Disabled at its first failure, so that a day of failures takes no day.
    let env = [
        ("IMPRINT__WEBHOOKS__ALLOW_HTTP", "true".to_owned()),
        ("IMPRINT__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned()),
        ("IMPRINT__WEBHOOKS__DISABLE_AFTER_HOURS", "0".to_owned()),
        ("IMPRINT__WEBHOOKS__INITIAL_BACKOFF_MS", "200".to_owned()),
    ];
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let channel = server.channel().await;
    let mut hooks = WebhookServiceClient::new(channel.clone());
    let dead = free_port();
    let (hook, secret) = register(
        &mut hooks,
        &[],
        "dead",
        format!("http://127.0.0.1:{dead}/ok/dead"),
        &[],
        &[],
    )
    .await;
    let mut authors =
        imprint_proto::authors::author_service_client::AuthorServiceClient::new(channel.clone());
    create_authors(&mut authors, 1).await;
    let list = |hooks: &mut WebhookServiceClient<imprint_platform::clients::Peer>| {
        let mut hooks = hooks.clone();
        async move {
            hooks
                .list_webhooks(imprint_proto::gateway::ListWebhooksRequest::default())
                .await
                .unwrap()
                .into_inner()
                .webhooks
                .remove(0)
        }
    };
    let started = Instant::now();
    let disabled = loop {
        let current = list(&mut hooks).await;
        if !current.enabled {
            break current;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never disabled: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        disabled.disabled_reason.contains("cannot connect"),
        "{disabled:?}"
    );
    assert!(disabled.failing_since.is_some());

    // What happens while it is disabled is kept, and sent once it is enabled and answers.
    create_authors(&mut authors, 1).await;
    let receiver = Receiver::start(dead).await;
    receiver.secret("dead", &secret).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        receiver.received("dead").is_empty(),
        "nothing is sent while disabled"
    );
    hooks
        .update_webhook(imprint_proto::gateway::UpdateWebhookRequest {
            webhook: Some(Webhook {
                id: hook.id.clone(),
                version: disabled.version,
                enabled: true,
                ..Webhook::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["enabled".into()],
            }),
        })
        .await
        .unwrap();
    until(20, "both authors' events arrive once enabled", || {
        receiver.received("dead").len() == 2
    })
    .await;
    let enabled = list(&mut hooks).await;
    assert!(
        enabled.enabled && enabled.disabled_reason.is_empty() && enabled.failing_since.is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_of_a_region_hears_of_papers_joining_and_leaving_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let env = [
        ("IMPRINT__WEBHOOKS__ALLOW_HTTP", "true".to_owned()),
        ("IMPRINT__WEBHOOKS__ALLOW_PRIVATE", "true".to_owned()),
    ];
    let server = Process::serve(&["--data-dir", &data_dir], &env).await;
    let channel = server.channel().await;
    let taxonomy = TaxonomyServiceClient::new(channel.clone());
    let term = |name: &str, parent: &str| {
        let request = CreateTermRequest {
            term: Some(Term {
                vocabulary: Vocabulary::Region.into(),
                name: name.to_owned(),
                parent_id: parent.to_owned(),
                ..Term::default()
            }),
        };
        let mut taxonomy = taxonomy.clone();
        async move {
            taxonomy
                .create_term(request)
                .await
                .unwrap()
                .into_inner()
                .term
                .unwrap()
        }
    };
    let region = term("South Asia", "").await;
    term("Pakistan", &region.id).await;
    let receiver = Receiver::start(0).await;
    let mut hooks = WebhookServiceClient::new(channel.clone());
    register(
        &mut hooks,
        &[&receiver],
        "region",
        receiver.url("ok", "region"),
        &["paper.*"],
        std::slice::from_ref(&region.id),
    )
    .await;
    let mut authors =
        imprint_proto::authors::author_service_client::AuthorServiceClient::new(channel.clone());
    let ids = create_authors(&mut authors, 1).await;
    let mut papers = PaperServiceClient::new(channel.clone());
    let paper = create_paper(&mut papers, "Violent Extremism in Pakistan", &ids[0]).await;
    let edit = |version: i64, regions: &[&str], title: &str| {
        let request = imprint_proto::papers::UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: paper.id.clone(),
                version,
                title: title.to_owned(),
                region_ids: regions.iter().map(|r| (*r).to_owned()).collect(),
                ..imprint_proto::papers::Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["region_ids".into(), "title".into()],
            }),
        };
        let mut papers = papers.clone();
        async move {
            papers
                .update_paper(request)
                .await
                .unwrap()
                .into_inner()
                .paper
                .unwrap()
        }
    };
    // Into the region by a country under it, out of it, and an edit outside it.
    let joined = edit(paper.version, &["pakistan"], "In Pakistan").await;
    let left = edit(joined.version, &[], "Nowhere in particular").await;
    edit(left.version, &[], "Still nowhere").await;
    until(
        10,
        "the region's endpoint hears of joining and leaving",
        || receiver.received("region").len() == 2,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.received("region").len(),
        2,
        "the draft's creation and the edit outside the region are not the region's"
    );
}
