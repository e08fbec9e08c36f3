//! Clicks cannot be forged: recommendation ids are signed and bound to the partner they were
//! served to, each serving of a rail carries a view, and each impression and click counts once
//! per view and position however often it is sent. The partner is who calls (a key at the public
//! API), never a field an editor fills in. Rates per position are kept per partner. And keyed
//! requests without an `Origin` (servers) have a budget of their own, so they cannot use up the
//! one the partner's visitors' browsers share.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_TOKEN, Backend, TestApp, authorized, draft, eventually, expect_code};
use imprint_proto::gateway::CreatePartnerKeyRequest;
use imprint_proto::gateway::partner_key_service_client::PartnerKeyServiceClient;
use imprint_proto::recommendations::{
    GetClickThroughRatesRequest, GetClickThroughRatesResponse, GetRelatedPublicationsRequest,
    InteractionKind, RecordInteractionRequest, get_related_publications_request::Key,
};
use imprint_testkit::{HttpResponse, get, http_raw, parse_response};
use tonic::Code;

const ORIGIN: &str = "http://partner.localhost:8000";

async fn post(app: &TestApp, path: &str, body: &str) -> HttpResponse {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {ORIGIN}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.public,
        body.len()
    );
    parse_response(&http_raw(app.public, request.as_bytes()).await.unwrap())
}

async fn key(app: &TestApp, partner: &str, per_minute: i32) -> String {
    PartnerKeyServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)))
        .create_partner_key(CreatePartnerKeyRequest {
            partner: partner.to_owned(),
            allowed_origins: vec![ORIGIN.to_owned()],
            requests_per_minute: per_minute,
        })
        .await
        .unwrap()
        .into_inner()
        .key
}

async fn rates(app: &TestApp) -> GetClickThroughRatesResponse {
    app.recommendations
        .clone()
        .get_click_through_rates(GetClickThroughRatesRequest::default())
        .await
        .unwrap()
        .into_inner()
}

/// (position, impressions, clicks) of `partner`.
fn of(rates: &GetClickThroughRatesResponse, partner: &str) -> Vec<(String, i64, i64)> {
    rates
        .by_partner_position
        .iter()
        .find(|p| p.partner == partner)
        .map(|p| {
            p.by_position
                .iter()
                .map(|r| (r.key.clone(), r.impressions, r.clicks))
                .collect()
        })
        .unwrap_or_default()
}

fn report(view: &str, events: &[(&str, &str)]) -> String {
    let events: Vec<String> = events
        .iter()
        .map(|(id, kind)| format!(r#"{{"recommendation_id": "{id}", "kind": "{kind}"}}"#))
        .collect();
    format!(r#"{{"view": "{view}", "events": [{}]}}"#, events.join(", "))
}

async fn clicks_cannot_be_forged_or_repeated_and_partners_are_who_calls(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let imran = app.author("Imran Khan").await;
    let seed = app
        .publish(draft("Countering Violent Extremism", &[&imran]))
        .await;
    let mut others = Vec::new();
    for title in ["Violent Extremism Online", "Extremism in South Asia"] {
        others.push(app.publish(draft(title, &[&imran])).await);
    }
    let other_slug = others[0].slug.clone();
    let related = format!("/v1/papers/{}/related", seed.slug);
    eventually("the rail is full", || async {
        get(app.public, &related, &[]).await.unwrap().json()["related"]
            .as_array()
            .is_some_and(|r| r.len() == 2)
    })
    .await;
    let key = key(&app, "partner.localhost", 600).await;
    let serve = || async {
        let r = get(
            app.public,
            &format!("{related}?key={key}"),
            &[("Origin", ORIGIN)],
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let view = r.header("imprint-view").unwrap().to_owned();
        let ids: Vec<String> = r.json()["related"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["recommendation_id"].as_str().unwrap().to_owned())
            .collect();
        (view, ids)
    };
    let interactions = format!("/v1/interactions?key={key}");

    // One serving, reported fifty times over: one impression per item, one click.
    let (view, ids) = serve().await;
    for _ in 0..25 {
        let body = report(
            &view,
            &[
                (&ids[0], "impression"),
                (&ids[1], "impression"),
                (&ids[0], "click"),
            ],
        );
        let r = post(&app, &interactions, &body).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = post(&app, &interactions, &report(&view, &[(&ids[0], "click")])).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let counted = rates(&app).await;
    assert_eq!(
        of(&counted, "partner.localhost"),
        [("1".to_owned(), 1, 1), ("2".to_owned(), 1, 0)]
    );
    // Another serving (the body from the cache, the view new) counts again.
    let (again, same_ids) = serve().await;
    assert_ne!(again, view);
    assert_eq!(same_ids, ids, "the body came from the cache");
    let r = post(&app, &interactions, &report(&again, &[(&ids[1], "click")])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let counted = rates(&app).await;
    assert_eq!(
        of(&counted, "partner.localhost"),
        [("1".to_owned(), 1, 1), ("2".to_owned(), 2, 1)]
    );
    assert!(counted.by_position.iter().all(|r| r.rate <= 1.0));

    // Made-up pairs in the old, unsigned form are refused.
    let made_up = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!(
            "1|{}|{}|1|partner.localhost",
            uuid::Uuid::now_v7().simple(),
            uuid::Uuid::now_v7().simple()
        ),
    );
    let r = post(&app, &interactions, &report(&view, &[(&made_up, "click")])).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["error"]["parameter"],
        "events[0].recommendation_id"
    );
    // A view covers its own rail only: not another paper's items, not positions past its
    // length (a rail asked with ?limit=1 cannot carry clicks for position 2).
    let short = get(
        app.public,
        &format!("{related}?key={key}&limit=1"),
        &[("Origin", ORIGIN)],
    )
    .await
    .unwrap();
    let short_view = short.header("imprint-view").unwrap().to_owned();
    let r = post(
        &app,
        &interactions,
        &report(&short_view, &[(&ids[1], "click")]),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not on the rail"), "{}", r.body);
    let other = get(
        app.public,
        &format!("/v1/papers/{}/related?key={key}", other_slug),
        &[("Origin", ORIGIN)],
    )
    .await
    .unwrap();
    let other_ids = other.json()["related"][0]["recommendation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(
        &app,
        &interactions,
        &report(&view, &[(&other_ids, "click")]),
    )
    .await;
    assert_eq!(
        r.status, 400,
        "another rail's item with this rail's view: {}",
        r.body
    );
    let r = post(
        &app,
        &interactions,
        &report("not-a-view", &[(&ids[0], "click")]),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["parameter"], "view");

    // An editor over gRPC is first-party, whatever metadata they send: the partner's ids are
    // not theirs to report (before, an empty `partner` field reported for anyone).
    let mut forged = tonic::Request::new(RecordInteractionRequest {
        recommendation_id: ids[1].clone(),
        kind: InteractionKind::Click.into(),
        view_id: view.clone(),
    });
    imprint_platform::caller::for_partner(&mut forged, Some("partner.localhost"));
    let status = expect_code(
        app.recommendations.record_interaction(forged).await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().contains("not served to the partner"),
        "{status:?}"
    );
    // Nor can an editor have a rail attributed to a partner.
    let mut asked = tonic::Request::new(GetRelatedPublicationsRequest {
        key: Some(Key::PaperId(seed.id.clone())),
        limit: 3,
        ..GetRelatedPublicationsRequest::default()
    });
    imprint_platform::caller::for_partner(&mut asked, Some("partner.localhost"));
    let rail = app
        .recommendations
        .get_related_publications(asked)
        .await
        .unwrap()
        .into_inner();
    app.recommendations
        .record_interaction(RecordInteractionRequest {
            recommendation_id: rail.publications[0].recommendation_id.clone(),
            kind: InteractionKind::Click.into(),
            view_id: rail.view_id.clone(),
        })
        .await
        .unwrap();
    let counted = rates(&app).await;
    assert_eq!(of(&counted, ""), [("1".to_owned(), 1, 1)], "first-party");
    assert_eq!(
        of(&counted, "partner.localhost"),
        [("1".to_owned(), 1, 1), ("2".to_owned(), 2, 1)],
        "the partner's rates are its own"
    );
    // Per position overall pools both; per partner they stay apart.
    let first: Vec<(String, i64, i64)> = counted
        .by_position
        .iter()
        .map(|r| (r.key.clone(), r.impressions, r.clicks))
        .collect();
    assert_eq!(first, [("1".to_owned(), 2, 2), ("2".to_owned(), 2, 1)]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_an_origin_have_a_budget_of_their_own() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let imran = app.author("Imran Khan").await;
    let seed = app.publish(draft("A Paper", &[&imran])).await;
    // 12 a minute: a burst of 2 for browsers, 2 more for servers.
    let key = key(&app, "small.localhost", 12).await;
    let path = format!("/v1/papers/{}?key={key}", seed.slug);
    let mut server_statuses = Vec::new();
    for _ in 0..4 {
        server_statuses.push(get(app.public, &path, &[]).await.unwrap().status);
    }
    assert_eq!(
        server_statuses,
        [200, 200, 429, 429],
        "a server calling without an Origin is limited"
    );
    // ...but its requests did not spend what the partner's visitors' browsers share.
    let browser = get(app.public, &path, &[("Origin", ORIGIN)]).await.unwrap();
    assert_eq!(browser.status, 200, "{}", browser.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_forging_an_origin_spends_only_its_own_share() {
    // Behind a proxy (here, loopback), the client is the address X-Forwarded-For names.
    let mut app = TestApp::spawn_configured(Backend::Sqlite, |s| {
        s.gateway.trusted_proxies = vec!["127.0.0.1".to_owned()];
    })
    .await;
    let imran = app.author("Imran Khan").await;
    let seed = app.publish(draft("A Paper", &[&imran])).await;
    // 600 a minute: a burst of 100 for the key, 10 for any one client.
    let key = key(&app, "busy.localhost", 600).await;
    let path = format!("/v1/papers/{}?key={key}", seed.slug);
    let from = |client: &'static str| [("Origin", ORIGIN), ("X-Forwarded-For", client)];
    let mut forged = Vec::new();
    for _ in 0..15 {
        forged.push(
            get(app.public, &path, &from("203.0.113.7"))
                .await
                .unwrap()
                .status,
        );
    }
    assert_eq!(
        forged.iter().filter(|s| **s == 200).count(),
        10,
        "{forged:?}"
    );
    assert!(forged[10..].iter().all(|s| *s == 429), "{forged:?}");
    for reader in ["198.51.100.20", "198.51.100.21"] {
        let r = get(app.public, &path, &from(reader)).await.unwrap();
        assert_eq!(
            r.status, 200,
            "{reader}: the partner's readers are still served"
        );
    }
    // A client cannot pass for another by writing the header itself: the proxy's own hop
    // (the nearest untrusted address) is the one that counts.
    let r = get(
        app.public,
        &path,
        &[
            ("Origin", ORIGIN),
            ("X-Forwarded-For", "198.51.100.99, 203.0.113.7"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 429, "{}", r.body);
    app.stop().await;
}

on_both_backends!(clicks_cannot_be_forged_or_repeated_and_partners_are_who_calls);
