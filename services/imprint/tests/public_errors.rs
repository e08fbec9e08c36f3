//! The public listener's edges: a 404 for a draft, for an author credited only on drafts and for
//! a slug nobody has take the same path (the same calls to the services); every error, down to
//! those hyper and axum make themselves (413, 414, 431, 405, bad UTF-8), is the documented JSON;
//! cursors are opaque and signed; connections that send nothing, or headers too slowly, are
//! closed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Backend, TestApp, draft, eventually};
use imprint_testkit::{HttpResponse, get, http_raw, parse_response};

async fn fetch(app: &TestApp, path: &str) -> HttpResponse {
    get(app.public, path, &[]).await.unwrap()
}

/// The calls `path` made to the services, by (service, method, code).
async fn path_of(app: &TestApp, path: &str) -> (u16, BTreeMap<(String, String, String), i64>) {
    let before = app.rpc_calls().await;
    let status = fetch(app, path).await.status;
    let after = app.rpc_calls().await;
    let made = after
        .into_iter()
        .filter_map(|(k, v)| {
            let n = v - before.get(&k).copied().unwrap_or(0);
            (n > 0).then_some((k, n))
        })
        .collect();
    (status, made)
}

fn without_codes(
    calls: &BTreeMap<(String, String, String), i64>,
) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for ((service, method, _), n) in calls {
        *out.entry((service.clone(), method.clone())).or_default() += n;
    }
    out
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_draft_only_authors_and_unknown_slugs_take_the_same_path() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let published = app.author("Imran Khan").await;
    let newcomer = app.author("Nadia Newcomer").await;
    let seed = app
        .publish(draft("A Published Report", &[&published]))
        .await;
    let mut secret = draft("Her First Report, Not Yet Out", &[&newcomer]);
    secret.body = "A long draft. ".repeat(20_000);
    let secret = app.create(secret).await.unwrap();
    eventually("the published paper's page is served", || async {
        fetch(&app, &format!("/v1/pages/{}", seed.slug))
            .await
            .status
            == 200
    })
    .await;

    for (hidden, nothing, codes_too) in [
        (
            format!("/v1/papers/{}", secret.slug),
            "/v1/papers/nobody-has-this".to_owned(),
            true,
        ),
        (
            format!("/v1/pages/{}", secret.slug),
            "/v1/pages/nobody-has-this".to_owned(),
            true,
        ),
        (
            format!("/v1/papers/{}/citation?format=ris", secret.slug),
            "/v1/papers/nobody-has-this/citation?format=ris".to_owned(),
            true,
        ),
        (
            format!("/v1/authors/{}", newcomer.slug),
            "/v1/authors/nobody-has-this".to_owned(),
            false,
        ),
        (
            format!("/v1/papers?author={}", newcomer.slug),
            "/v1/papers?author=nobody-has-this".to_owned(),
            false,
        ),
    ] {
        let (hidden_status, hidden_calls) = path_of(&app, &hidden).await;
        let (nothing_status, nothing_calls) = path_of(&app, &nothing).await;
        assert_eq!(hidden_status, nothing_status, "{hidden}");
        assert!(!hidden_calls.is_empty(), "{hidden} asked nobody");
        if codes_too {
            assert_eq!(hidden_calls, nothing_calls, "{hidden} against {nothing}");
        } else {
            // The author service answers OK for a profile and NOT_FOUND for nobody; what
            // follows is the same.
            assert_eq!(
                without_codes(&hidden_calls),
                without_codes(&nothing_calls),
                "{hidden} against {nothing}"
            );
        }
    }

    // What that costs, measured: medians of interleaved requests.
    let mut times: [Vec<Duration>; 4] = Default::default();
    let paths = [
        format!("/v1/authors/{}", newcomer.slug),
        "/v1/authors/nobody-has-this".to_owned(),
        format!("/v1/papers/{}", secret.slug),
        "/v1/papers/nobody-has-this".to_owned(),
    ];
    for _ in 0..150 {
        for (i, path) in paths.iter().enumerate() {
            let started = Instant::now();
            assert_eq!(fetch(&app, path).await.status, 404);
            times[i].push(started.elapsed());
        }
    }
    let [a, b, c, d] = times.map(median);
    eprintln!(
        "median 404: draft-only author {a:?}, unknown author {b:?}; draft paper {c:?}, unknown paper {d:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_are_opaque_and_signed() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let author = app.author("Imran Khan").await;
    for i in 0..3 {
        app.publish(draft(&format!("Report {i}"), &[&author])).await;
    }
    let first = fetch(&app, "/v1/papers?limit=1").await.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cursor).unwrap();
    let text = String::from_utf8_lossy(&raw);
    for internal in ["status", "Some(", "topic=", "published"] {
        assert!(
            !text.contains(internal),
            "the cursor shows '{internal}': {text}"
        );
    }
    let second = fetch(&app, &format!("/v1/papers?limit=1&cursor={cursor}")).await;
    assert_eq!(second.status, 200, "{}", second.body);
    // Changed in one place, or made up: refused, naming the cursor.
    let mut bytes = raw.clone();
    bytes[9] ^= 0x01;
    let tampered = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    for bad in [tampered, "eyJmIjoiIiwiayI6MX0".to_owned()] {
        let r = fetch(&app, &format!("/v1/papers?limit=1&cursor={bad}")).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.json()["error"]["parameter"], "cursor");
    }
    app.stop().await;
}

/// Sends `request` as is and reads the answer.
async fn raw(app: &TestApp, request: &[u8]) -> HttpResponse {
    parse_response(&http_raw(app.public, request).await.unwrap())
}

#[track_caller]
fn assert_json_error(r: &HttpResponse, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
    let body = r.json();
    assert_eq!(body["error"]["status"], status, "{what}: {}", r.body);
    assert!(body["error"]["code"].is_string(), "{what}: {}", r.body);
    assert!(body["error"]["message"].is_string(), "{what}: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_the_documented_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let host = app.public;
    // A slug that is not UTF-8 is a slug nobody has.
    let r = raw(
        &app,
        format!("GET /v1/papers/%FF%FE HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_json_error(&r, 404, "non-UTF-8 slug");
    let r = raw(
        &app,
        format!("GET /v1/authors/%C3%28 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_json_error(&r, 404, "non-UTF-8 author slug");
    // A body past the limit.
    let body = "x".repeat(100_000);
    let r = raw(
        &app,
        format!(
            "POST /v1/interactions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    assert_json_error(&r, 413, "a body too large");
    // A method the route does not take.
    let r = raw(
        &app,
        format!("DELETE /v1/papers HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_json_error(&r, 405, "DELETE");
    // A URI too long, headers too large, too many headers: hyper's own answers, in JSON too.
    for (what, request, status) in [
        (
            "a 100 KB URI",
            format!(
                "GET /v1/papers/{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                "a".repeat(100_000)
            ),
            414,
        ),
        (
            "a 70 KB URI",
            format!(
                "GET /v1/search?q={} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                "a".repeat(70_000)
            ),
            414,
        ),
        (
            "a 1 MB header",
            format!(
                "GET /v1/papers HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
                "a".repeat(1_000_000)
            ),
            431,
        ),
        (
            "200 headers",
            format!(
                "GET /v1/papers HTTP/1.1\r\nHost: {host}\r\n{}Connection: close\r\n\r\n",
                (0..200)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            ),
            431,
        ),
        (
            "a request line that is not HTTP",
            "GARBAGE\r\n\r\n".to_owned(),
            400,
        ),
    ] {
        let r = raw(&app, request.as_bytes()).await;
        assert_json_error(&r, status, what);
    }
    // Still serving.
    assert_eq!(fetch(&app, "/v1/papers").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_configured(Backend::Sqlite, |s| {
        s.server.header_read_timeout_secs = 1;
    })
    .await;
    let closed_within = |addr: std::net::SocketAddr, trickle: bool| async move {
        let started = Instant::now();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buffer = [0u8; 1024];
        loop {
            if trickle {
                // A slow-header client: a byte now and then, never the end of the head.
                let _ = stream.write_all(b"G").await;
            }
            match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await {
                Ok(Ok(0) | Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => {}
                Err(_) if started.elapsed() > Duration::from_secs(10) => {
                    panic!("{addr}: still open after 10 s")
                }
                Err(_) => {}
            }
        }
    };
    for (what, addr) in [
        ("public", app.public),
        ("health", app.http),
        ("gRPC", app.grpc),
    ] {
        let idle = closed_within(addr, false).await;
        assert!(
            idle < Duration::from_secs(5),
            "{what}: an idle connection lived {idle:?}"
        );
        let slow = closed_within(addr, true).await;
        assert!(
            slow < Duration::from_secs(5),
            "{what}: a slow-header connection lived {slow:?}"
        );
        eprintln!("{what}: idle closed after {idle:?}, slow headers after {slow:?}");
    }
    // A connection that asked something and then sat idle is closed too.
    let mut stream = tokio::net::TcpStream::connect(app.public).await.unwrap();
    stream
        .write_all(format!("GET /v1/papers HTTP/1.1\r\nHost: {}\r\n\r\n", app.public).as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut all)).await;
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "kept alive {:?}",
        started.elapsed()
    );
    app.stop().await;
}
