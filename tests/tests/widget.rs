//! The widget end to end in headless Chromium (`tests/widget/widget_test.mjs`): `imprint serve
//! --demo`, a partner key made with `imprint keys create` for one localhost origin, the demo
//! partner page served from that origin and from another; the rail shows the demo paper's
//! related publications on the first and nothing on the second; the click the browser makes
//! shows in the click-through rates; the rail restricted to a region (`data-region`) shows only
//! that region's papers; `imprint keys revoke` stops the key at once. The partner's
//! stylesheet, `!important` on `*`, the host element and `:root`, changes nothing of how the
//! rail looks (computed styles and pixels against the same page without it); a screenshot of
//! the rail on that page is kept in `target/tmp/widget/`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use imprint_proto::recommendations::GetClickThroughRatesRequest;
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use imprint_system_tests::{ADMIN_TOKEN, Process, eventually, repo_root, run_imprint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SLUG: &str = "a-rethinking-of-us-pakistan-relations";

/// Serves the demo partner page at every path of a fresh localhost port; returns the port.
async fn partner_site() -> u16 {
    let page =
        std::fs::read_to_string(repo_root().join("services/gateway/widget/demo-partner.html"))
            .expect("the demo partner page");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

/// Titles of the `key` list of a public API answer, in order.
fn titles_in(answer: &serde_json::Value, key: &str) -> Vec<String> {
    answer[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {answer}"))
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The partner page at `url` with `data-region="south-asia"`, in Chromium: its rail holds only
/// papers of South Asia (the demo's Pakistan and Afghanistan papers), where the unrestricted
/// rail (`unrestricted`) also shows a paper of Central Asia.
async fn region_rail(server: &Process, url: &str, unrestricted: &[String]) {
    let get = |path: String| async move {
        imprint_testkit::get(server.public, &path, &[])
            .await
            .unwrap()
            .json()
    };
    let expected = titles_in(
        &get(format!(
            "/v1/papers/{SLUG}/related?limit=3&region=south-asia"
        ))
        .await,
        "related",
    );
    let region = titles_in(
        &get("/v1/papers?region=south-asia&limit=100".to_owned()).await,
        "papers",
    );
    let outside: Vec<&String> = unrestricted
        .iter()
        .filter(|t| !region.contains(t))
        .collect();
    assert!(
        !outside.is_empty(),
        "the demo's rail has a paper of another region: {unrestricted:?}"
    );
    let node = std::env::var("IMPRINT_NODE").unwrap_or_else(|_| "node".to_owned());
    let output = tokio::process::Command::new(&node)
        .arg(repo_root().join("tests/widget/region_test.mjs"))
        .args(["--url", &format!("{url}&region=south-asia")])
        .args(["--expected", &serde_json::to_string(&expected).unwrap()])
        .args(["--region", &serde_json::to_string(&region).unwrap()])
        .args(["--outside", &serde_json::to_string(&outside).unwrap()])
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {node}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("every region check passed"),
        "the region browser test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    eprintln!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_renders_on_the_partners_origin_only_and_reports_clicks() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let server = Process::serve_capturing(&["--demo", "--data-dir", &data_dir], &[]).await;
    server.wait_for_stdout("Imprint demo loaded").await;
    let partner = format!("http://localhost:{}", partner_site().await);
    let elsewhere = format!("http://127.0.0.1:{}", partner_site().await);
    let gateway = format!("http://{}", server.public);

    let admin = [("IMPRINT_TOKEN", ADMIN_TOKEN.to_owned())];
    let (ok, stdout, stderr) = run_imprint(
        &[
            "keys",
            "create",
            "--partner",
            "partner.localhost",
            "--origin",
            &partner,
            "--server",
            &server.url(),
        ],
        &admin,
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"))
        .to_owned();
    let id = stdout.split_whitespace().next().unwrap().to_owned();

    // What the API serves for the demo paper, for the browser to find on the page.
    let related = imprint_testkit::get(
        server.public,
        &format!("/v1/papers/{SLUG}/related?limit=3"),
        &[],
    )
    .await
    .unwrap()
    .json();
    let titles: Vec<String> = related["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles.len(), 3, "{related}");
    let covers = related["related"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["cover"]["srcset"].is_string())
        .count();
    assert_eq!(
        covers, 1,
        "the demo gives one related publication a cover: {related}"
    );

    let query = format!("/?gateway={gateway}&key={key}&slug={SLUG}");
    let screenshot =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("widget/partner-hostile.png");
    let node = std::env::var("IMPRINT_NODE").unwrap_or_else(|_| "node".to_owned());
    let output = tokio::process::Command::new(&node)
        .arg(repo_root().join("tests/widget/widget_test.mjs"))
        .args(["--partner", &format!("{partner}{query}")])
        .args(["--elsewhere", &format!("{elsewhere}{query}")])
        .args(["--titles", &serde_json::to_string(&titles).unwrap()])
        .args(["--covers", &covers.to_string()])
        // What the rail looked like on the partner's hostile page, kept under target/tmp.
        .args(["--screenshot", &screenshot.display().to_string()])
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {node}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("every widget check passed"),
        "the browser test failed (scripts/test installs chromium and playwright-core)\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    eprintln!("{stdout}");
    // What the browser was refused: a 403 without CORS permission.
    let refused = imprint_testkit::get(
        server.public,
        &format!("/v1/papers/{SLUG}/related?limit=3&key={key}"),
        &[("Origin", elsewhere.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.header("access-control-allow-origin").is_none());

    // The click the browser made is in the partner's click-through rate.
    let mut recommendations = RecommendationServiceClient::new(server.channel().await);
    eventually(10, "the click is counted for the partner", || {
        let mut recommendations = recommendations.clone();
        async move {
            let rates = recommendations
                .get_click_through_rates(GetClickThroughRatesRequest {
                    partner: "partner.localhost".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            format!("{rates:?}").contains("clicks: 1")
        }
    })
    .await;
    let _ = &mut recommendations;

    // Restricted to a region (data-region): only the region's and its countries' papers.
    region_rail(&server, &format!("{partner}{query}"), &titles).await;

    // Revoked with the command line: the key stops at once.
    let (ok, stdout, stderr) =
        run_imprint(&["keys", "revoke", &id, "--server", &server.url()], &admin).await;
    assert!(ok && stdout.contains("REVOKED"), "{stdout}\n{stderr}");
    let after = imprint_testkit::get(
        server.public,
        &format!("/v1/papers/{SLUG}/related?key={key}"),
        &[("Origin", partner.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(after.status, 401, "{}", after.body);
    let (ok, stdout, _) = run_imprint(
        &["keys", "list", "--all", "--server", &server.url()],
        &admin,
    )
    .await;
    assert!(
        ok && stdout.contains("1 key(s)") && stdout.contains("REVOKED"),
        "{stdout}"
    );
}
