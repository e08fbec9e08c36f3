//! Distributed mode: the papers, authors, recommendations and gateway roles as separate processes on PostgreSQL
//! and RabbitMQ, configured only by environment variables, checked by clients nobody on the
//! team wrote.

#![allow(clippy::panic)]

use imprint_platform::clients::Peer;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{Author, CreateAuthorRequest, GetAuthorRequest, get_author_request};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{
    GetPaperRequest, ListPaperRevisionsRequest, PaperStatus, PublishPaperRequest, RevisionKind,
    SchedulePublishRequest, get_paper_request,
};
use imprint_proto::recommendations::GetRelatedPublicationsRequest;
use imprint_proto::recommendations::get_related_publications_request::Key;
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use imprint_system_tests::{
    Cluster, counts, create_authors, create_paper, create_papers, eventually, python, repo_root,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pika_receives_paper_published_through_the_gateway() {
    let cluster = Cluster::start(&[]).await;
    let output = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/contract/events_test.py"))
        .args(["--gateway", &cluster.gateway.grpc.to_string()])
        .args(["--amqp-url", &cluster.vhost.url])
        .args(["--token", imprint_system_tests::ADMIN_TOKEN])
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", python().display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("every event contract check passed"),
        "{}\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_unavailable_at_once_when_a_role_is_down() {
    let mut cluster = Cluster::start(&[]).await;
    let mut via_gateway = AuthorServiceClient::new(cluster.gateway.channel().await);
    let author = via_gateway
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                name: "Bates Gill".into(),
                ..Author::default()
            }),
        })
        .await
        .expect("forwarded to the authors role")
        .into_inner()
        .author
        .expect("an author");
    assert_eq!(cluster.authors.stop().await, Some(0));
    let started = std::time::Instant::now();
    let down = via_gateway
        .get_author(GetAuthorRequest {
            key: Some(get_author_request::Key::Id(author.id)),
        })
        .await
        .expect_err("the authors role is gone");
    assert_eq!(down.code(), tonic::Code::Unavailable, "{down:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The other role still answers through the same gateway.
    let listed = PaperServiceClient::new(cluster.gateway.channel().await)
        .list_papers(imprint_proto::papers::ListPapersRequest::default())
        .await;
    assert!(listed.is_ok(), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_paper_credit_reaches_the_authors_role() {
    let cluster = Cluster::start(&[]).await;
    let mut authors = AuthorServiceClient::new(cluster.gateway.channel().await);
    let papers = PaperServiceClient::new(cluster.gateway.channel().await);
    let ids = create_authors(&mut authors, 3).await;
    create_papers(&papers, &ids, 30, 4).await;
    eventually(30, "the authors role counts every credit", || async {
        counts(&cluster.authors, &ids).await == [10, 10, 10]
    })
    .await;
    eventually(10, "the papers outbox is empty", || async {
        cluster.papers.metric("imprint_outbox_backlog").await == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_papers_replicas_relay_each_event_once() {
    let cluster = Cluster::start(&[]).await;
    let replica =
        imprint_system_tests::Process::serve(&["--role", "papers"], &cluster.papers_env()).await;
    let mut authors = AuthorServiceClient::new(cluster.authors.channel().await);
    let ids = create_authors(&mut authors, 2).await;
    create_papers(
        &PaperServiceClient::new(cluster.papers.channel().await),
        &ids,
        20,
        4,
    )
    .await;
    create_papers(
        &PaperServiceClient::new(replica.channel().await),
        &ids,
        20,
        4,
    )
    .await;
    eventually(30, "every credit arrives", || async {
        counts(&cluster.authors, &ids).await == [20, 20]
    })
    .await;
    // One relay leads (the PostgreSQL advisory lock): each event went out once, from one of
    // the two replicas, and the consumer saw no duplicate.
    let first = cluster
        .papers
        .metric("imprint_events_published_total")
        .await;
    let second = replica.metric("imprint_events_published_total").await;
    assert_eq!(first + second, 40, "published {first} + {second}");
    assert!(first == 0 || second == 0, "published {first} + {second}");
    assert_eq!(
        cluster.authors.metric("imprint_events_stale_total").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_papers_replicas_publish_a_scheduled_paper_once() {
    let cluster = Cluster::start(&[]).await;
    let replica =
        imprint_system_tests::Process::serve(&["--role", "papers"], &cluster.papers_env()).await;
    let mut authors = AuthorServiceClient::new(cluster.authors.channel().await);
    let ids = create_authors(&mut authors, 1).await;
    let mut papers = PaperServiceClient::new(cluster.papers.channel().await);
    let draft = create_paper(&mut papers, "An Embargoed Report", &ids[0]).await;
    let due = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    // Scheduled through one replica; both run a scheduler on the same database.
    PaperServiceClient::new(replica.channel().await)
        .schedule_publish(SchedulePublishRequest {
            id: draft.id.clone(),
            publish_time: Some(imprint_proto::convert::timestamp(due)),
            ..SchedulePublishRequest::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    eventually(30, "the scheduled paper is published", || async {
        papers
            .clone()
            .get_paper(GetPaperRequest {
                key: Some(get_paper_request::Key::Id(draft.id.clone())),
                ..GetPaperRequest::default()
            })
            .await
            .is_ok_and(|r| {
                r.into_inner()
                    .paper
                    .is_some_and(|p| p.status() == PaperStatus::Published)
            })
    })
    .await;
    // Give the other replica's scheduler a few looks at it.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let fired = r#"imprint_papers_schedules_done_total{action="publish"}"#;
    let first = cluster.papers.metric(fired).await;
    let second = replica.metric(fired).await;
    assert_eq!(
        (first + second, first.min(second)),
        (1, 0),
        "fired {first} + {second}"
    );
    let revisions = papers
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: draft.id.clone(),
            ..ListPaperRevisionsRequest::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner()
        .revisions;
    let published = revisions
        .iter()
        .filter(|r| r.kind() == RevisionKind::Published)
        .count();
    assert_eq!(published, 1, "{revisions:?}");
    eventually(30, "the one credit arrives", || async {
        counts(&cluster.authors, &ids).await == [1]
    })
    .await;
    assert_eq!(
        cluster.authors.metric("imprint_events_stale_total").await,
        0
    );
}

/// Creates and publishes a paper on `topic` through `papers`, returning its id.
async fn publish(papers: &mut PaperServiceClient<Peer>, title: &str, author: &str) -> String {
    let created = create_paper(papers, title, author).await;
    papers
        .publish_paper(PublishPaperRequest {
            id: created.id.clone(),
            ..PublishPaperRequest::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    created.id
}

async fn slug_of(papers: &mut PaperServiceClient<Peer>, id: &str) -> String {
    papers
        .get_paper(imprint_proto::papers::GetPaperRequest {
            key: Some(imprint_proto::papers::get_paper_request::Key::Id(
                id.to_owned(),
            )),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner()
        .paper
        .unwrap_or_else(|| panic!("no paper"))
        .slug
}

async fn related_to(process: &imprint_system_tests::Process, paper: &str) -> Vec<String> {
    RecommendationServiceClient::new(process.channel().await)
        .get_related_publications(GetRelatedPublicationsRequest {
            key: Some(Key::PaperId(paper.to_owned())),
            limit: 10,
            ..GetRelatedPublicationsRequest::default()
        })
        .await
        .map(|r| {
            r.into_inner()
                .publications
                .into_iter()
                .map(|p| p.paper_id)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recommendations_replica_serves_a_new_paper_within_a_second() {
    let cluster = Cluster::start(&[]).await;
    // A second replica on the same read model: the two share the queue, and each follows the
    // read model's change log, so each serves what the other consumed.
    let replica = imprint_system_tests::Process::serve(
        &["--role", "recommendations"],
        &cluster.recommendations_env(),
    )
    .await;
    let mut authors = AuthorServiceClient::new(cluster.gateway.channel().await);
    let mut papers = PaperServiceClient::new(cluster.gateway.channel().await);
    let author = create_authors(&mut authors, 1).await.remove(0);
    let first = publish(&mut papers, "Countering Violent Extremism", &author).await;
    let second = publish(&mut papers, "Militant Recruitment", &author).await;
    eventually(30, "both replicas have both papers", || async {
        related_to(&cluster.recommendations, &first).await == [second.clone()]
            && related_to(&replica, &first).await == [second.clone()]
    })
    .await;
    for round in 0..4 {
        let new = publish(
            &mut papers,
            &format!("Violent Extremism, part {round}"),
            &author,
        )
        .await;
        let published = std::time::Instant::now();
        for process in [&cluster.recommendations, &replica] {
            while !related_to(process, &first).await.contains(&new) {
                assert!(
                    published.elapsed() < std::time::Duration::from_secs(1),
                    "paper {round} not served by every replica within a second"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        eprintln!(
            "round {round}: on both replicas after {:?}",
            published.elapsed()
        );
    }
    // Through the gateway too.
    let via_gateway = related_to(&cluster.gateway, &first).await;
    assert_eq!(via_gateway.len(), 5, "{via_gateway:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_through_the_gateway_survives_recommendations_going_down() {
    use imprint_proto::gateway::GetPublicationPageRequest;
    use imprint_proto::gateway::publication_page_service_client::PublicationPageServiceClient;
    let mut cluster = Cluster::start(&[]).await;
    let mut authors = AuthorServiceClient::new(cluster.gateway.channel().await);
    let mut papers = PaperServiceClient::new(cluster.gateway.channel().await);
    let author = create_authors(&mut authors, 1).await.remove(0);
    let first = publish(&mut papers, "Countering Violent Extremism", &author).await;
    let second = publish(&mut papers, "Militant Recruitment", &author).await;
    let slug = slug_of(&mut papers, &first).await;
    let request = || GetPublicationPageRequest {
        slug: slug.clone(),
        related_limit: 0,
    };
    let anonymous = PublicationPageServiceClient::new(cluster.gateway.channel_with(None).await)
        .get_publication_page(request())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let mut pages = PublicationPageServiceClient::new(cluster.gateway.channel().await);
    eventually(30, "the page's rail shows the other paper", || async {
        pages
            .clone()
            .get_publication_page(request())
            .await
            .is_ok_and(|r| {
                r.into_inner()
                    .page
                    .is_some_and(|p| p.related.iter().any(|r| r.paper_id == second))
            })
    })
    .await;
    cluster.recommendations.stop().await;
    let started = std::time::Instant::now();
    let page = pages
        .get_publication_page(request())
        .await
        .unwrap_or_else(|e| panic!("the page without recommendations: {e:?}"))
        .into_inner()
        .page
        .unwrap_or_else(|| panic!("no page"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(page.related_unavailable && page.related.is_empty());
    assert_eq!(page.paper.map(|p| p.id), Some(first));
    assert_eq!(page.authors.len(), 1);
}

/// The public rail of `slug` as a gateway's public API serves it: the paper ids, in order.
async fn public_rail(gateway: &imprint_system_tests::Process, slug: &str) -> Vec<String> {
    let (status, body) = imprint_testkit::http_get(
        gateway.public,
        &format!("/v1/papers/{slug}/related?limit=10"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    if status != 200 {
        return Vec::new();
    }
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
    json["related"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_set_through_one_gateway_reaches_another_gateways_cached_rail_within_a_second() {
    use imprint_proto::recommendations::{RelatedOverrides, SetRelatedOverridesRequest};
    let cluster = Cluster::start(&[]).await;
    let keys_db = imprint_testkit::PgDatabase::create().await;
    let env = cluster.gateway_env(&keys_db.url);
    let one = imprint_system_tests::Process::serve(&["--role", "gateway"], &env).await;
    let other = imprint_system_tests::Process::serve(&["--role", "gateway"], &env).await;
    let mut authors = AuthorServiceClient::new(one.channel().await);
    let mut papers = PaperServiceClient::new(one.channel().await);
    let author = create_authors(&mut authors, 1).await.remove(0);
    let seed = publish(&mut papers, "Countering Violent Extremism", &author).await;
    let near = publish(
        &mut papers,
        "Violent Extremism and Militant Recruitment",
        &author,
    )
    .await;
    let far = publish(&mut papers, "Monsoon Floods", &author).await;
    let slug = slug_of(&mut papers, &seed).await;
    // The other replica's rail, once it holds the near paper, is served from its cache.
    eventually(
        30,
        "the other replica serves the rail from its cache",
        || async {
            let rail = public_rail(&other, &slug).await;
            let hits = other.metric("imprint_gateway_cache_hits_total").await;
            rail.contains(&near)
                && public_rail(&other, &slug).await == rail
                && other.metric("imprint_gateway_cache_hits_total").await == hits + 1
        },
    )
    .await;
    // An editor pins the far paper first and excludes the near one, through the first replica.
    RecommendationServiceClient::new(one.channel().await)
        .set_related_overrides(SetRelatedOverridesRequest {
            overrides: Some(RelatedOverrides {
                paper_id: seed.clone(),
                pinned_paper_ids: vec![far.clone()],
                excluded_paper_ids: vec![near.clone()],
                ..RelatedOverrides::default()
            }),
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let set = std::time::Instant::now();
    loop {
        let rail = public_rail(&other, &slug).await;
        if rail == [far.clone()] {
            break;
        }
        assert!(
            set.elapsed() < std::time::Duration::from_secs(1),
            "the other replica still serves {rail:?} after a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    eprintln!(
        "the pin showed on the other replica after {:?}",
        set.elapsed()
    );
}
