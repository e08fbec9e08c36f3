//! `imprint import` against a running application on both databases: records become published
//! papers with their external ids, authors are matched by name, every bad record is reported
//! with its line and reason while the rest goes in, and a second run resumes without
//! duplicating anything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use common::{Backend, TestApp, eventually};
use imprint::import::{Options, run};
use imprint_proto::authors::ListAuthorsRequest;
use imprint_proto::papers::{ListPapersRequest, PaperStatus, PublicationType};
use imprint_proto::recommendations::GetRelatedPublicationsRequest;
use imprint_proto::recommendations::get_related_publications_request::Key;

const RECORDS: &str = r#"{"id": "acl:1", "title": "Neural Machine Translation by Jointly Learning to Align", "abstract": "Attention for translation.", "authors": ["Dzmitry Bahdanau", "Kyunghyun Cho"], "topics": ["Machine Translation"], "date": "2015-05", "pub_type": "conference-paper"}
{"id": "acl:2", "title": "Effective Approaches to Attention-based Neural Machine Translation", "abstract": "Global and local attention.", "authors": ["Minh-Thang Luong", "kyunghyun  CHO"], "topics": ["Machine Translation"], "date": "2015-09", "pub_type": "conference-paper"}
{"id": "acl:3", "title": "", "abstract": "No title.", "authors": ["Somebody"], "date": "2016"}
this is not json
{"id": "acl:4", "title": "Nobody Wrote This", "authors": [], "date": "2017"}

{"id": "acl:1", "title": "Again", "authors": ["Dzmitry Bahdanau"]}
{"id": "acl:5", "title": "A Long Name", "authors": ["NAME_TOO_LONG"], "date": "2018"}
{"id": "acl:6", "title": "Attention Is All You Need", "abstract": "Transformers for translation.", "authors": ["Ashish Vaswani"], "topics": ["Machine Translation"], "date": "2017-06", "pub_type": "preprint"}
{"id": "acl:7", "title": "From the Future", "authors": ["Ashish Vaswani"], "date": "2999-01"}
"#;

fn write_records(dir: &std::path::Path, gzip: bool) -> std::path::PathBuf {
    let text = RECORDS.replace("NAME_TOO_LONG", &"x".repeat(201));
    if gzip {
        let path = dir.join("records.jsonl.gz");
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        path
    } else {
        let path = dir.join("records.jsonl");
        std::fs::write(&path, text).unwrap();
        path
    }
}

async fn imports_reports_rejections_and_resumes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_records(dir.path(), matches!(backend, Backend::Postgres));
    let options = Options {
        file,
        server: format!("http://{}", app.grpc),
        batch: 2,
        files_url: String::new(),
        progress: false,
        token: Some(common::ADMIN_TOKEN.to_owned()),
    };
    let summary = run(&options).await.expect("the import runs");
    assert_eq!(summary.records, 9);
    assert_eq!(summary.imported, 3, "{summary:#?}");
    assert_eq!(summary.existing, 0);
    let rejected: Vec<String> = summary.rejected.iter().map(ToString::to_string).collect();
    let expect = [
        "line 3 (id acl:3): title: must not be empty",
        "line 4: not a record",
        "line 5 (id acl:4): author_ids: a paper published at once needs at least one author",
        "line 7 (id acl:1): id: the same id is on line 1",
        "line 8 (id acl:5): author 'xxxx",
        "line 10 (id acl:7): publish_time: must not be in the future",
    ];
    assert_eq!(rejected.len(), expect.len(), "{rejected:#?}");
    for (got, want) in rejected.iter().zip(expect) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
    assert!(
        rejected[4].contains("name: must be at most 200 characters"),
        "{}",
        rejected[4]
    );

    // Authors matched by name across records (ignoring case and spacing): Cho is one author.
    let authors = app
        .authors
        .clone()
        .list_authors(ListAuthorsRequest {
            page_size: 100,
            ..ListAuthorsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .authors;
    let names: Vec<&str> = authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Ashish Vaswani",
            "Dzmitry Bahdanau",
            "Kyunghyun Cho",
            "Minh-Thang Luong",
            "Somebody"
        ],
        "authors of refused papers may stay: they are real people"
    );
    let cho = authors.iter().find(|a| a.name == "Kyunghyun Cho").unwrap();
    eventually("Cho is credited twice", || async {
        app.paper_count(&cho.id).await == 2
    })
    .await;

    // Each paper is published at its record's date, with its external id, type and topics.
    let mut papers = app.papers.clone();
    let found = papers
        .list_papers(ListPapersRequest {
            external_id: "acl:2".to_owned(),
            ..ListPapersRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .papers;
    let paper = &found[0];
    assert_eq!(paper.status(), PaperStatus::Published);
    assert_eq!(paper.publication_type(), PublicationType::ConferencePaper);
    assert_eq!(paper.topics, ["Machine Translation"]);
    assert_eq!(paper.summary, "Global and local attention.");
    assert_eq!(
        paper.publish_time.as_ref().map(|t| t.seconds),
        Some(1_441_108_800),
        "2015-09-01T12:00:00Z"
    );
    assert_eq!(paper.author_ids.len(), 2);
    assert_eq!(paper.author_ids[1], cho.id);

    // The recommendations service learned them from the events.
    let id = paper.id.clone();
    eventually("the imported papers are related", || {
        let mut recommendations = app.recommendations.clone();
        let id = id.clone();
        async move {
            recommendations
                .get_related_publications(GetRelatedPublicationsRequest {
                    key: Some(Key::PaperId(id)),
                    limit: 5,
                    ..GetRelatedPublicationsRequest::default()
                })
                .await
                .is_ok_and(|r| {
                    let related = r.into_inner().publications;
                    related.len() == 2 && related[0].external_id == "acl:1"
                })
        }
    })
    .await;

    // Again: nothing is duplicated, the same records are refused again.
    let again = run(&options).await.expect("the second run");
    assert_eq!(again.imported, 0);
    assert_eq!(again.existing, 3);
    assert_eq!(again.rejected.len(), expect.len());
    let all = papers
        .list_papers(ListPapersRequest {
            page_size: 100,
            ..ListPapersRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .papers;
    assert_eq!(all.len(), 3);
    app.stop().await;
}

async fn an_unreachable_server_a_missing_file_or_no_token_is_a_clear_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = run(&Options {
        file: dir.path().join("nope.jsonl"),
        server: format!("http://{}", app.grpc),
        batch: 10,
        files_url: String::new(),
        progress: false,
        token: Some(common::ADMIN_TOKEN.to_owned()),
    })
    .await
    .expect_err("no file")
    .to_string();
    assert!(missing.contains("nope.jsonl"), "{missing}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let unreachable = run(&Options {
        file: write_records(dir.path(), false),
        server: format!("http://127.0.0.1:{port}"),
        batch: 10,
        files_url: String::new(),
        progress: false,
        token: Some(common::ADMIN_TOKEN.to_owned()),
    })
    .await
    .expect_err("nobody listens")
    .to_string();
    assert!(
        unreachable.contains("Run the same command again"),
        "{unreachable}"
    );
    let too_big = run(&Options {
        file: write_records(dir.path(), false),
        server: format!("http://{}", app.grpc),
        batch: 201,
        files_url: String::new(),
        progress: false,
        token: Some(common::ADMIN_TOKEN.to_owned()),
    })
    .await
    .expect_err("batch too big")
    .to_string();
    assert!(too_big.contains("--batch"), "{too_big}");
    let no_token = run(&Options {
        file: write_records(dir.path(), false),
        server: format!("http://{}", app.grpc),
        batch: 10,
        files_url: String::new(),
        progress: false,
        token: None,
    })
    .await
    .expect_err("no token")
    .to_string();
    assert!(
        no_token.contains("missing bearer token") && no_token.contains("--token"),
        "{no_token}"
    );
    app.stop().await;
}

/// Records naming their report's file: each is uploaded through the gateway and attached as
/// the report (its text the body); a missing file or one that is no PDF rejects its record,
/// naming the file and the reason, and the rest goes in.
async fn records_upload_the_files_they_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    let report = imprint_files::pdf::Report {
        title: "Attention for translation".to_owned(),
        byline: "Dzmitry Bahdanau".to_owned(),
        sections: vec![(
            "Method".to_owned(),
            vec!["A soft alignment model searches the source sentence.".to_owned()],
        )],
    };
    std::fs::write(dir.path().join("reports/one.pdf"), report.render().unwrap()).unwrap();
    std::fs::write(dir.path().join("notes.pdf"), "plain text, not a PDF").unwrap();
    let records = [
        r#"{"id": "f:1", "title": "Aligned", "authors": ["Dzmitry Bahdanau"], "date": "2015", "file": "reports/one.pdf"}"#,
        r#"{"id": "f:2", "title": "Missing", "authors": ["Dzmitry Bahdanau"], "date": "2015", "file": "reports/none.pdf"}"#,
        r#"{"id": "f:3", "title": "Not a PDF", "authors": ["Dzmitry Bahdanau"], "date": "2015", "file": "notes.pdf"}"#,
        r#"{"id": "f:4", "title": "No file", "authors": ["Dzmitry Bahdanau"], "date": "2015"}"#,
    ];
    let file = dir.path().join("records.jsonl");
    std::fs::write(&file, records.join("\n")).unwrap();
    let summary = run(&Options {
        file,
        server: format!("http://{}", app.grpc),
        batch: 10,
        files_url: format!("http://{}", app.public),
        progress: false,
        token: Some(common::ADMIN_TOKEN.to_owned()),
    })
    .await
    .expect("the import runs");
    assert_eq!(summary.imported, 2, "{summary:#?}");
    assert_eq!(summary.files_uploaded, 1);
    let rejected: Vec<String> = summary.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    assert!(
        rejected[0].starts_with("line 2 (id f:2): file: reading ")
            && rejected[0].contains("reports/none.pdf"),
        "{}",
        rejected[0]
    );
    assert!(
        rejected[1].starts_with("line 3 (id f:3): file: the gateway refused notes.pdf (415)"),
        "{}",
        rejected[1]
    );
    let paper = app
        .papers
        .clone()
        .list_papers(ListPapersRequest {
            external_id: "f:1".to_owned(),
            view: imprint_proto::papers::PaperView::Full.into(),
            ..ListPapersRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .papers
        .remove(0);
    assert_eq!(paper.attachments.len(), 1);
    assert_eq!(paper.attachments[0].name, "one.pdf");
    assert_eq!(paper.attachments[0].media_type, "application/pdf");
    assert!(
        paper.body.contains("soft alignment model"),
        "{}",
        paper.body
    );
    app.stop().await;
}

on_both_backends!(
    records_upload_the_files_they_name,
    imports_reports_rejections_and_resumes,
    an_unreachable_server_a_missing_file_or_no_token_is_a_clear_error,
);
