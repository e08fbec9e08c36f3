//! Preview links end to end: `imprint serve` as a process, a draft shared with a link made over
//! gRPC, and headless Chromium (`tests/widget/preview_test.mjs`) reading the draft's page
//! through it, then finding the same URL a 404 once the link is revoked. The draft is in no
//! shared cache entry: an anonymous request for its slug stays 404 throughout.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use imprint_proto::gateway::preview_link_service_client::PreviewLinkServiceClient;
use imprint_proto::gateway::{CreatePreviewLinkRequest, RevokePreviewLinkRequest};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_system_tests::{Process, create_authors, create_paper, repo_root};

async fn browser(url: &str, title: &str, expect: &str) {
    let node = std::env::var("IMPRINT_NODE").unwrap_or_else(|_| "node".to_owned());
    let output = tokio::process::Command::new(&node)
        .arg(repo_root().join("tests/widget/preview_test.mjs"))
        .args(["--url", url, "--title", title, "--expect", expect])
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {node}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("every preview check passed"),
        "the browser test failed (scripts/test installs chromium and playwright-core)\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_reads_a_draft_through_its_link_until_it_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let server = Process::serve(&["--data-dir", &data_dir], &[]).await;
    let channel = server.channel().await;
    let mut authors =
        imprint_proto::authors::author_service_client::AuthorServiceClient::new(channel.clone());
    let ids = create_authors(&mut authors, 1).await;
    let title = "Embargoed Findings on Counterterrorism in South Asia";
    let draft = create_paper(
        &mut PaperServiceClient::new(channel.clone()),
        title,
        &ids[0],
    )
    .await;
    let anonymous = || async {
        imprint_testkit::get(server.public, &format!("/v1/papers/{}", draft.slug), &[])
            .await
            .unwrap()
            .status
    };
    assert_eq!(anonymous().await, 404);

    let mut links = PreviewLinkServiceClient::new(channel);
    let made = links
        .create_preview_link(CreatePreviewLinkRequest {
            paper_id: draft.id.clone(),
            lifetime_seconds: 3600,
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    assert!(
        made.url.ends_with(&format!("/v1/preview/{}", made.token)),
        "{}",
        made.url
    );
    let url = format!("http://{}/v1/preview/{}", server.public, made.token);
    browser(&url, title, "shown").await;
    // The preview put nothing in the shared cache: the slug is still nobody's to the public.
    assert_eq!(anonymous().await, 404);

    let link = made.preview_link.unwrap();
    links
        .revoke_preview_link(RevokePreviewLinkRequest { id: link.id })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    browser(&url, title, "gone").await;
    assert_eq!(anonymous().await, 404);
}
