//! `imprint.gateway.v1.PublicationPageService`: a whole page in one call, through a real gRPC
//! client, with the rail degrading (and saying so) when recommendations is down or slow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    ADMIN_TOKEN, Backend, TestApp, authorized, draft, eventually, expect_code, violated_fields,
};
use imprint_proto::gateway::publication_page_service_client::PublicationPageServiceClient;
use imprint_proto::gateway::{GetPublicationPageRequest, PublicationPage};
use imprint_proto::papers::PaperStatus;
use tonic::Code;

fn pages(app: &TestApp) -> PublicationPageServiceClient<imprint_platform::clients::Peer> {
    PublicationPageServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)))
}

async fn page(
    app: &TestApp,
    slug: &str,
    related_limit: i32,
) -> Result<PublicationPage, tonic::Status> {
    pages(app)
        .get_publication_page(GetPublicationPageRequest {
            slug: slug.to_owned(),
            related_limit,
        })
        .await
        .map(|r| r.into_inner().page.unwrap())
}

async fn the_page_has_paper_byline_and_rail(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let hamza = app.author("Hamza Ijaz").await;
    let imran = app.author("Imran Khan").await;
    let maryam = app.author("Maryam Kiyani").await;
    // Byline order is the paper's, not creation order nor the alphabet.
    let mut seed = draft(
        "A Rethinking of US-Pakistan Relations",
        &[&maryam, &hamza, &imran],
    );
    seed.topics = vec!["Global Policy".into(), "Violent Extremism".into()];
    let seed = app.publish(seed).await;
    let mut neighbour = draft("Countering Violent Extremism in Pakistan", &[&imran]);
    neighbour.topics = vec!["Violent Extremism".into()];
    let neighbour = app.publish(neighbour).await;
    let _other = app
        .publish(draft("Pakistan's Economy After the Floods", &[&hamza]))
        .await;

    eventually("the rail shows the neighbour", || async {
        page(&app, &seed.slug, 0)
            .await
            .is_ok_and(|p| p.related.iter().any(|r| r.paper_id == neighbour.id))
    })
    .await;
    let full = page(&app, &seed.slug, 0).await.unwrap();
    assert_eq!(full.paper.as_ref().unwrap().id, seed.id);
    let byline: Vec<&str> = full.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(byline, ["Maryam Kiyani", "Hamza Ijaz", "Imran Khan"]);
    assert!(!full.related_unavailable);
    assert!(full.related.len() <= 3 && full.related.iter().all(|r| r.paper_id != seed.id));
    assert_eq!(page(&app, &seed.slug, 1).await.unwrap().related.len(), 1);

    // A draft is previewed, without a rail and without claiming one is missing.
    let preview = app
        .create(draft("Not Yet Published", &[&imran]))
        .await
        .unwrap();
    let draft_page = page(&app, &preview.slug, 0).await.unwrap();
    assert_eq!(draft_page.paper.unwrap().status(), PaperStatus::Draft);
    assert!(draft_page.related.is_empty() && !draft_page.related_unavailable);
    assert_eq!(draft_page.authors.len(), 1);

    let missing = expect_code(page(&app, "no-such-paper", 0).await, Code::NotFound);
    assert!(missing.message().contains("no-such-paper"), "{missing:?}");
    let bad = expect_code(page(&app, " ", 51).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["slug", "related_limit"]);
    app.stop().await;
}

async fn the_page_comes_back_when_recommendations_is_down_or_slow(backend: Backend) {
    // Down: nothing listens where the page looks for recommendations.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut app = TestApp::spawn_configured(backend, |s| {
        s.recommendations.url = Some(dead_url);
    })
    .await;
    let author = app.author("Imran Khan").await;
    let paper = app
        .publish(draft("When the Rail Is Down", &[&author]))
        .await;
    let started = Instant::now();
    let down = page(&app, &paper.slug, 0)
        .await
        .expect("the page without its rail");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(down.related_unavailable && down.related.is_empty());
    assert_eq!(down.paper.unwrap().id, paper.id);
    assert_eq!(down.authors.len(), 1);
    app.stop().await;

    // Slow: a listener that takes connections and never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            open.push(socket);
        }
    });
    let mut app = TestApp::spawn_configured(backend, |s| {
        s.recommendations.url = Some(hole_url);
        s.gateway.related_budget_ms = 300;
    })
    .await;
    let author = app.author("Hamza Ijaz").await;
    let paper = app
        .publish(draft("When the Rail Is Slow", &[&author]))
        .await;
    let started = Instant::now();
    let slow = page(&app, &paper.slug, 0)
        .await
        .expect("the page without its rail");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(slow.related_unavailable);
    held.abort();
    app.stop().await;
}

on_both_backends!(
    the_page_has_paper_byline_and_rail,
    the_page_comes_back_when_recommendations_is_down_or_slow,
);
