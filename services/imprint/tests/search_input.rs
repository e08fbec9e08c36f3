//! Search takes words, not a query language. Deeply nested brackets, field names, ranges and
//! wildcards sent to the public `q` of `/v1/search` and `/v1/papers` and to gRPC
//! `SearchPublications` get results or a 400 / INVALID_ARGUMENT naming the parameter: never a
//! 5xx, never INTERNAL, never an aborted process (nested brackets once overflowed a worker's
//! stack in the engine's parser and killed every role). And any string at all, fed to the
//! public `q`, is answered below 500.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft, eventually};
use imprint_proto::recommendations::SearchPublicationsRequest;
use imprint_testkit::{HttpResponse, get};
use proptest::prelude::*;
use tonic::Code;

fn encoded(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn public(app: &TestApp, path: &str, q: &str) -> HttpResponse {
    get(app.public, &format!("{path}?q={}", encoded(q)), &[])
        .await
        .unwrap()
}

async fn published_water_paper(app: &mut TestApp) {
    let author = app.author("Amina Yusuf").await;
    let mut paper = draft("Water Policy in the Sahel", &[&author]);
    paper.summary = "Rivers, dams and drought in the Sahel.".to_owned();
    app.publish(paper).await;
    eventually("search finds the paper", || async {
        public(app, "/v1/search", "water").await.json()["total"] == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_and_query_syntax_are_words_on_every_path() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    published_water_paper(&mut app).await;

    // Up to the 500-character cap of brackets of every kind around a word: the process lives
    // and the word is found.
    for open in ["(", "[", "{", "\"(", "-(", "+(", "((\"", "(-"] {
        let q = format!("{}water", open.repeat(495 / open.len()));
        for path in ["/v1/search", "/v1/papers"] {
            let r = public(&app, path, &q).await;
            assert_eq!(r.status, 200, "{path} {open}: {}", r.body);
        }
        let found = app
            .recommendations
            .search_publications(SearchPublicationsRequest {
                query: q.clone(),
                ..SearchPublicationsRequest::default()
            })
            .await;
        assert!(found.is_ok(), "gRPC {open}: {found:?}");
    }
    let r = public(&app, "/v1/search", &format!("{}water", "(".repeat(495))).await;
    assert_eq!(
        r.json()["total"],
        1,
        "the word inside the brackets is searched"
    );

    // The engine's syntax is text: field names and wildcards are words no paper has, a range
    // is four words; none is a 500, none is logged as an error.
    for q in [
        "body:*",
        "title:*",
        "summary:*",
        "id:*",
        "nosuchfield:*",
        "publication_type:[0 TO 100]",
        "publish_ts:>0",
        "title:water^100",
        "wat?r",
        "water~2",
    ] {
        let r = public(&app, "/v1/search", q).await;
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        assert_eq!(r.json()["total"], 0, "{q} is not query syntax");
        let r = public(&app, "/v1/papers", q).await;
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        let found = app
            .recommendations
            .search_publications(SearchPublicationsRequest {
                query: q.to_owned(),
                ..SearchPublicationsRequest::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{q}: {s:?}"))
            .into_inner();
        assert_eq!(found.total_size, 0, "{q}");
    }
    // What visitors do type works: a phrase, a word left out.
    assert_eq!(
        public(&app, "/v1/search", "\"water policy\"").await.json()["total"],
        1
    );
    assert_eq!(
        public(&app, "/v1/search", "water -sahel").await.json()["total"],
        0
    );

    // Too long, or too many words: a 400 naming q, INVALID_ARGUMENT naming query.
    for q in ["x".repeat(501), "word ".repeat(65)] {
        for path in ["/v1/search", "/v1/papers"] {
            let r = public(&app, path, &q).await;
            assert_eq!(r.status, 400, "{path}: {}", r.body);
            assert_eq!(r.json()["error"]["parameter"], "q", "{}", r.body);
        }
        let status = app
            .recommendations
            .search_publications(SearchPublicationsRequest {
                query: q.clone(),
                ..SearchPublicationsRequest::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(common::violated_fields(&status), ["query"]);
    }
    let (status, _) = imprint_testkit::http_get(app.http, "/readyz")
        .await
        .unwrap();
    assert_eq!(status, 200);
    app.stop().await;
}

/// Strings a hostile or careless visitor might send: brackets of every kind, quotes, colons,
/// operators, escapes, control characters and any Unicode.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        r#"[()\[\]{}<>"'`:*?~^+\-!&|\\/ a-zA-Z0-9]{0,520}"#,
        r"[\x00-\x1f\x7f\u{80}-\u{10ffff} a-z]{0,80}",
        (1usize..600, "[(\\[{\"]").prop_map(|(n, open)| format!("{}a", open.repeat(n))),
        prop::collection::vec("[a-z]{1,3}", 0..90).prop_map(|w| w.join(" ")),
    ]
}

#[test]
fn any_public_query_is_answered_below_500() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut app = runtime.block_on(TestApp::spawn(Backend::Sqlite));
    runtime.block_on(published_water_paper(&mut app));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let outcome = runner.run(&hostile_text(), |q| {
        runtime.block_on(async {
            for path in ["/v1/search", "/v1/papers"] {
                let r = public(&app, path, &q).await;
                prop_assert!(
                    (200..500).contains(&r.status),
                    "{path}?q={q:?}: {} {}",
                    r.status,
                    r.body
                );
                if r.status == 400 {
                    prop_assert_eq!(&r.json()["error"]["parameter"], "q");
                }
            }
            Ok(())
        })
    });
    runtime.block_on(app.stop());
    outcome.unwrap();
}
