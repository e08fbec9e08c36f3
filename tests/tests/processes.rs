//! The binary as operators run it: graceful shutdown on SIGTERM, and the roles in separate
//! processes on PostgreSQL, talking to each other over gRPC.

use std::time::{Duration, Instant};

use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{Author, CreateAuthorRequest, DeleteAuthorRequest};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{CreatePaperRequest, ListPapersRequest, Paper, PublicationType};
use imprint_system_tests::Process;
use imprint_testkit::{PgDatabase, http_get};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn paper(title: &str, authors: Vec<String>) -> CreatePaperRequest {
    CreatePaperRequest {
        paper: Some(Paper {
            title: title.to_owned(),
            publication_type: PublicationType::Report.into(),
            author_ids: authors,
            ..Paper::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_not_serving_finishes_calls_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::serve(
        &["--data-dir", dir.path().to_str().unwrap()],
        &[("IMPRINT__SERVER__SHUTDOWN_DELAY_SECS", "2".to_owned())],
    )
    .await;
    let channel = server.channel().await;
    let mut health = HealthClient::new(channel.clone());
    let serving = health
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(serving, 1, "SERVING before the signal");

    // A client keeps calling through the shutdown, noting when each call started.
    let papers = PaperServiceClient::new(channel.clone());
    let origin = Instant::now();
    let caller = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        while origin.elapsed() < Duration::from_secs(6) {
            let started = origin.elapsed();
            let result = papers
                .clone()
                .list_papers(ListPapersRequest::default())
                .await;
            outcomes.push((started, result.map(|_| ()).map_err(|s| s.code())));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        outcomes
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = origin.elapsed();
    server.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // During the delay: not ready anywhere, yet still answering.
    let status = health
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 2, "NOT_SERVING after SIGTERM");
    let (code, _) = http_get(server.http, "/readyz").await.unwrap();
    assert_eq!(code, 503);
    let (code, _) = http_get(server.public, "/v1/papers").await.unwrap();
    assert_eq!(
        code, 200,
        "the public API answers while load balancers catch up"
    );
    assert_eq!(server.wait().await, Some(0), "exit code 0");

    // Every call started before the listeners closed (SIGTERM + 2 s delay) was answered; later
    // ones were refused as a closed or closing server refuses, never cut off half-done.
    let closing = signalled + Duration::from_millis(1900);
    let outcomes = caller.await.unwrap();
    let answered_during_drain = outcomes
        .iter()
        .filter(|(at, r)| *at > signalled && *at < closing && r.is_ok())
        .count();
    assert!(answered_during_drain > 10, "{outcomes:?}");
    for (at, outcome) in &outcomes {
        match outcome {
            Ok(()) => {}
            Err(code) if *at >= closing => assert!(
                matches!(code, Code::Unavailable | Code::Cancelled),
                "a call after the drain failed with {code:?}"
            ),
            Err(code) => {
                panic!("a call started at {at:?}, before the drain ended, failed: {code:?}")
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_run_as_separate_processes_on_postgres() {
    let papers_db = PgDatabase::create().await;
    let authors_db = PgDatabase::create().await;
    let vhost = tokio::task::spawn_blocking(imprint_testkit::RabbitVhost::create)
        .await
        .unwrap();
    let authors_port = imprint_system_tests::free_port();
    let papers_port = imprint_system_tests::free_port();
    let authors_url = format!("http://127.0.0.1:{authors_port}");
    let papers_url = format!("http://127.0.0.1:{papers_port}");

    // Each role gets only environment variables, as a container would.
    let authors = Process::serve_on(
        authors_port,
        &["--role", "authors"],
        &[
            ("IMPRINT__DATABASE__URL", authors_db.url.clone()),
            ("IMPRINT__AMQP__URL", vhost.url.clone()),
            ("IMPRINT__PAPERS__URL", papers_url.clone()),
        ],
    )
    .await;
    let papers = Process::serve_on(
        papers_port,
        &["--role", "papers"],
        &[
            ("IMPRINT__DATABASE__URL", papers_db.url.clone()),
            ("IMPRINT__AMQP__URL", vhost.url.clone()),
            ("IMPRINT__AUTHORS__URL", authors_url.clone()),
            ("IMPRINT__AUTHORS__TIMEOUT_MS", "1000".to_owned()),
        ],
    )
    .await;
    let mut author_client = AuthorServiceClient::new(authors.channel().await);
    let mut paper_client = PaperServiceClient::new(papers.channel().await);

    // Each process serves only its own service.
    let status = PaperServiceClient::new(authors.channel().await)
        .list_papers(ListPapersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    let author = author_client
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                name: "Imran Khan".into(),
                ..Author::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    let created = paper_client
        .create_paper(paper("Across Processes", vec![author.id.clone()]))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(created.author_ids, std::slice::from_ref(&author.id));
    let unknown = paper_client
        .create_paper(paper(
            "Ghost Credit",
            vec!["01900000-0000-7000-8000-000000000000".into()],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        unknown.code(),
        Code::InvalidArgument,
        "papers asked authors: {unknown:?}"
    );
    let refused = author_client
        .delete_author(DeleteAuthorRequest {
            id: author.id.clone(),
            version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "authors asked papers: {refused:?}"
    );

    // With the authors role gone, papers answers UNAVAILABLE at once rather than hanging.
    authors.terminate();
    assert_eq!(authors.wait().await, Some(0));
    let started = Instant::now();
    let down = paper_client
        .create_paper(paper("While Authors Is Down", vec![author.id.clone()]))
        .await
        .unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered in {:?}",
        started.elapsed()
    );
    // Reads that need no other service keep working.
    let listed = paper_client
        .list_papers(ListPapersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.papers.len(), 1);
    papers.terminate();
    assert_eq!(papers.wait().await, Some(0));
}

#[tokio::test]
async fn a_bad_setting_stops_the_process_naming_the_key() {
    let output = tokio::process::Command::new(imprint_system_tests::imprint_binary())
        .arg("serve")
        .env("IMPRINT__SERVER__GRPC_ADDR", "not-an-address")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.grpc_addr"), "{stderr}");

    let output = tokio::process::Command::new(imprint_system_tests::imprint_binary())
        .args(["serve", "--role", "papers"])
        .env("IMPRINT__DATABASE__URL", "mysql://nope")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database.url"), "{stderr}");
}

#[tokio::test]
async fn migrate_logs_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(imprint_system_tests::imprint_binary())
        .args(["migrate", "--log-format", "json", "--data-dir"])
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in &lines {
        assert!(
            line.starts_with('{') && line.ends_with('}') && line.contains("\"level\""),
            "not a JSON log line: {line}"
        );
    }
    assert!(stderr.contains("papers database migrated"), "{stderr}");
    assert!(dir.path().join("papers.db").exists());
    assert!(dir.path().join("authors.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_loads_the_seed_page_once_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    for run in 0..2 {
        let server = Process::serve_capturing(&["--demo", "--data-dir", &data_dir], &[]).await;
        let expected = if run == 0 {
            "Imprint demo loaded: 4 papers and 8 authors"
        } else {
            "already holds papers or authors"
        };
        let stdout = server.wait_for_stdout(expected).await;
        assert!(stdout.contains("public JSON API:"), "{stdout}");
        // The printed editor token works: it reads and edits, but may not publish.
        let token = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("export IMPRINT_TOKEN="))
            .unwrap_or_else(|| panic!("no editor token printed:\n{stdout}"))
            .to_owned();
        let mut as_editor = PaperServiceClient::new(server.channel_with(Some(&token)).await);
        let seed = as_editor
            .get_paper(imprint_proto::papers::GetPaperRequest {
                key: Some(imprint_proto::papers::get_paper_request::Key::Slug(
                    "a-rethinking-of-us-pakistan-relations".into(),
                )),
                ..Default::default()
            })
            .await
            .expect("the printed editor token reads")
            .into_inner()
            .paper
            .unwrap();
        let refused = as_editor
            .unpublish_paper(imprint_proto::papers::UnpublishPaperRequest {
                id: seed.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
        let anonymous = PaperServiceClient::new(server.channel_with(None).await)
            .get_paper(imprint_proto::papers::GetPaperRequest {
                key: Some(imprint_proto::papers::get_paper_request::Key::Id(seed.id)),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
        let mut papers = PaperServiceClient::new(server.channel().await);
        let paper = papers
            .get_paper(imprint_proto::papers::GetPaperRequest {
                key: Some(imprint_proto::papers::get_paper_request::Key::Slug(
                    "a-rethinking-of-us-pakistan-relations".into(),
                )),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .paper
            .unwrap();
        assert_eq!(paper.author_ids.len(), 4);
        let all = papers
            .list_papers(ListPapersRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.papers.len(), 4, "run {run}: the demo is loaded once");
        let authors = AuthorServiceClient::new(server.channel().await)
            .list_authors(imprint_proto::authors::ListAuthorsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(authors.authors.len(), 8, "run {run}");
        server.terminate();
        assert_eq!(server.wait().await, Some(0));
    }
}
