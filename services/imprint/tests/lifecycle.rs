//! The application as a whole: data survives a restart, health and readiness answer, the demo
//! loads the seed page once, and configuration mistakes stop it before it serves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft};
use imprint::{Application, ProcessRole};
use imprint_platform::Settings;
use imprint_proto::papers::{
    AttachmentKind, GetPaperRequest, ListPapersRequest, PaperStatus, PublicationType,
    PublishPaperRequest, TextExtractionState, get_paper_request::Key,
};
use imprint_proto::recommendations::SearchPublicationsRequest;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn everything_survives_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Hamza Ijaz").await;
    let created = app.create(draft("Durable", &[&a])).await.unwrap();
    let published = app
        .papers
        .publish_paper(PublishPaperRequest {
            id: created.id.clone(),
            ..PublishPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let mut app = app.restart().await;
    let after = app
        .papers
        .get_paper(GetPaperRequest {
            key: Some(Key::Slug("durable".into())),
            ..GetPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(after, published);
    // The restarted process still talks to its other half.
    app.create(draft("After Restart", &[&a])).await.unwrap();
    app.stop().await;
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = imprint_testkit::http_get(app.http, "/healthz")
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = imprint_testkit::http_get(app.http, "/readyz")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in [
        "",
        "imprint.papers.v1.PaperService",
        "imprint.authors.v1.AuthorService",
    ] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status, 1, "{service} is SERVING");
    }
    app.stop().await;
}

/// The seed paper carries its report, a real PDF typeset by the demo and uploaded through the
/// gateway: it downloads as a PDF, its text was read (the attachment says so) and became the
/// body, and search finds the paper by words that are only in the PDF (an author's bio).
async fn seed_report_is_a_searchable_pdf(app: &TestApp, main: &imprint_proto::papers::Paper) {
    let report = &main.attachments[0];
    assert_eq!(report.kind(), AttachmentKind::Report);
    assert_eq!(report.media_type, "application/pdf");
    let text = report.text.as_ref().expect("the report's text was read");
    assert_eq!(text.state(), TextExtractionState::Extracted, "{text:?}");
    assert!(text.pages >= 1 && text.characters > 2000, "{text:?}");
    let words = main.body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("Quaid-e-Azam University"), "{}", main.body);
    assert!(main.summary.find("Quaid-e-Azam").is_none());
    let url = format!(
        "http://{}/v1/papers/{}/files/{}/report.pdf",
        app.public, main.slug, report.file_key
    );
    let pdf = reqwest::get(&url).await.unwrap();
    assert_eq!(pdf.status(), 200, "{url}");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    let search = || SearchPublicationsRequest {
        query: "Quaid-e-Azam University".to_owned(),
        ..SearchPublicationsRequest::default()
    };
    common::eventually(
        "search finds the seed paper by its report's text",
        || async {
            app.recommendations
                .clone()
                .search_publications(search())
                .await
                .is_ok_and(|r| r.into_inner().results.iter().any(|r| r.paper_id == main.id))
        },
    )
    .await;
}

async fn demo_loads_the_seed_page_once(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let loaded = imprint::demo::load(app.grpc, Some(app.public), common::ADMIN_TOKEN)
        .await
        .unwrap()
        .expect("loaded");
    assert_eq!(loaded.authors.len(), 8);
    let main = &loaded.papers[0];
    assert_eq!(main.publication_type(), PublicationType::DiscussionPaper);
    assert_eq!(main.status(), PaperStatus::Published);
    let byline: Vec<String> = {
        let got = app
            .authors
            .batch_get_authors(imprint_proto::authors::BatchGetAuthorsRequest {
                ids: main.author_ids.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        got.authors.into_iter().map(|a| a.name).collect()
    };
    assert_eq!(
        byline,
        ["Hamza Ijaz", "Imran Khan", "Maryam Kiyani", "Adnan Rafiq"]
    );
    assert!(
        main.funding_note
            .starts_with("This research was funded by USIP’s Asia Center")
    );
    seed_report_is_a_searchable_pdf(&app, main).await;
    let sco = &loaded.papers[1];
    assert_eq!(sco.publication_type(), PublicationType::QuestionAndAnswer);
    let cover = sco
        .cover
        .as_ref()
        .expect("the first related publication has a cover");
    let widths: Vec<i32> = cover.renditions.iter().map(|r| r.width).collect();
    assert_eq!((cover.width, widths), (1200, vec![320, 640]));
    assert_eq!(
        sco.publish_time.as_ref().map(|t| t.seconds),
        Some(1_717_070_400),
        "Thursday, May 30, 2024"
    );
    assert_eq!(
        loaded.papers[3].topics,
        ["Global Policy", "Violent Extremism"]
    );
    // A second run leaves the content alone.
    assert!(
        imprint::demo::load(app.grpc, Some(app.public), common::ADMIN_TOKEN)
            .await
            .unwrap()
            .is_none()
    );
    let all = app
        .papers
        .list_papers(ListPapersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.papers.len(), 4);
    app.stop().await;
}

on_both_backends!(
    everything_survives_a_restart,
    health_and_readiness_answer,
    demo_loads_the_seed_page_once,
);

#[tokio::test]
async fn a_role_without_its_peer_is_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.server.grpc_addr = "127.0.0.1:0".parse().unwrap();
    settings.server.http_addr = "127.0.0.1:0".parse().unwrap();
    let err = Application::build(settings.clone(), ProcessRole::Papers)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("amqp.url is required with --role papers"),
        "{err}"
    );
    settings.amqp.url = Some("amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    settings.signing.keys = vec!["the lifecycle test's signing key, 32 bytes".to_owned()];
    let err = Application::build(settings, ProcessRole::Papers)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("authors.url is required with --role papers"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_reported_with_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.server.grpc_addr = "127.0.0.1:0".parse().unwrap();
    settings.server.http_addr = "127.0.0.1:0".parse().unwrap();
    settings.database.url = Some("sqlite:///proc/no-such-dir/x.db?mode=rwc".to_owned());
    let err = Application::build(settings, ProcessRole::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/proc/no-such-dir"), "{err}");
}

async fn events_reach_the_other_service_in_process(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    common::events_reach_the_other_service(app).await;
}

on_both_backends!(events_reach_the_other_service_in_process);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_is_not_ready_until_its_migrations_ran() {
    let pg = imprint_testkit::PgDatabase::create().await;
    let vhost = tokio::task::spawn_blocking(imprint_testkit::RabbitVhost::create)
        .await
        .unwrap();
    let mut settings = Settings::default();
    settings.server.grpc_addr = "127.0.0.1:0".parse().unwrap();
    settings.server.http_addr = "127.0.0.1:0".parse().unwrap();
    settings.database.url = Some(pg.url.clone());
    settings.database.migrate_on_start = false;
    settings.amqp.url = Some(vhost.url.clone());
    settings.amqp.max_backoff_secs = 1;
    settings.authors.url = Some("http://127.0.0.1:9".to_owned());
    // A single-service role hands out signed page tokens that every replica must read back:
    // without the deployment's key it does not start.
    let err = Application::build(settings.clone(), ProcessRole::Papers)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("signing.keys"), "{err}");
    settings.signing.keys = vec!["the lifecycle test's signing key, 32 bytes".to_owned()];
    let app = Application::build(settings.clone(), ProcessRole::Papers)
        .await
        .expect("the role starts without its tables");
    let http = app.http_addr();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let readiness = || async { imprint_testkit::http_get(http, "/readyz").await.unwrap() };
    common::eventually("the process is up", || async {
        imprint_testkit::http_get(http, "/healthz").await.is_ok()
    })
    .await;
    let (status, body) = readiness().await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("migrations pending (run `imprint migrate`)"),
        "{body}"
    );
    imprint::app::migrate(&settings, ProcessRole::Papers)
        .await
        .expect("migrations run");
    common::eventually("ready once migrated", || async {
        readiness().await.0 == 200
    })
    .await;
    shutdown.cancel();
    handle.await.unwrap().unwrap();
}
