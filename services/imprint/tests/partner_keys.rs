//! Partner keys: created, listed and revoked by admins over gRPC; at the public API bound to
//! their origins (CORS for exactly those, `Vary: Origin`, no credentials) and to a rate limit
//! (429 with `Retry-After`); a revoked key stops at once; impressions and clicks reported with
//! a key reach the click-through rates, attributed to the partner.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    ADMIN_TOKEN, Backend, TestApp, authorized, draft, eventually, expect_code, violated_fields,
};
use imprint_platform::auth::Role;
use imprint_platform::settings::TokenSettings;
use imprint_proto::gateway::partner_key_service_client::PartnerKeyServiceClient;
use imprint_proto::gateway::{
    CreatePartnerKeyRequest, ListPartnerKeysRequest, RevokePartnerKeyRequest,
};
use imprint_proto::recommendations::GetClickThroughRatesRequest;
use imprint_testkit::{HttpResponse, get, http_raw, parse_response};
use tonic::Code;

const PARTNER: &str = "http://partner.localhost:8000";
const PUBLISHER: &str = "publisher-token-0123456789";

async fn post(app: &TestApp, path: &str, origin: &str, body: &str) -> HttpResponse {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.public,
        body.len()
    );
    parse_response(&http_raw(app.public, request.as_bytes()).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_bind_origins_and_rates_and_revocation_is_immediate() {
    let mut app = TestApp::spawn_configured(Backend::Sqlite, |s| {
        s.auth.tokens.insert(
            "publisher".to_owned(),
            TokenSettings {
                token: PUBLISHER.to_owned(),
                role: Role::Publisher,
            },
        );
    })
    .await;
    let imran = app.author("Imran Khan").await;
    let seed = app
        .publish(draft("Countering Violent Extremism", &[&imran]))
        .await;
    let other = app
        .publish(draft("Violent Extremism Online", &[&imran]))
        .await;
    let related = format!("/v1/papers/{}/related", seed.slug);
    eventually("the rail is there", || async {
        get(app.public, &related, &[])
            .await
            .unwrap()
            .body
            .contains(&other.id)
    })
    .await;

    // Admins only; bad input names the field.
    let mut admin = PartnerKeyServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)));
    expect_code(
        PartnerKeyServiceClient::new(authorized(app.grpc, Some(PUBLISHER)))
            .list_partner_keys(ListPartnerKeysRequest::default())
            .await,
        Code::PermissionDenied,
    );
    let bad = expect_code(
        admin
            .create_partner_key(CreatePartnerKeyRequest {
                partner: String::new(),
                allowed_origins: vec!["https://example.org/page".into()],
                requests_per_minute: -1,
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&bad),
        ["partner", "allowed_origins[0]", "requests_per_minute"]
    );
    let created = admin
        .create_partner_key(CreatePartnerKeyRequest {
            partner: "partner.localhost".into(),
            allowed_origins: vec![format!("{PARTNER}/")],
            requests_per_minute: 600,
        })
        .await
        .unwrap()
        .into_inner();
    let key = created.key.clone();
    let stored = created.partner_key.unwrap();
    assert!(key.starts_with("pk_") && key.len() > 40, "{key}");
    assert_eq!(stored.allowed_origins, [PARTNER]);
    assert!(key.starts_with(&stored.key_prefix));
    // Stored hashed: the key itself is nowhere in the database file.
    let db = std::fs::read(app.data_dir().join("gateway.db")).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()));

    // From the partner's origin: data, CORS for that origin only, no credentials.
    let with_key = format!("{related}?key={key}");
    let ok = get(app.public, &with_key, &[("Origin", PARTNER)])
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("access-control-allow-origin"), Some(PARTNER));
    assert!(
        ok.headers
            .iter()
            .any(|(n, v)| n == "vary" && v.contains("Origin"))
    );
    assert!(ok.header("access-control-allow-credentials").is_none());
    let served = ok.json();
    let recommendation_id = served["related"][0]["recommendation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let view = ok
        .header("imprint-view")
        .expect("a view per serving")
        .to_owned();
    let exposed = ok
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("Imprint-View"), "{exposed}");

    // From any other origin: refused, and no CORS permission.
    let elsewhere = get(
        app.public,
        &with_key,
        &[("Origin", "http://evil.localhost:9000")],
    )
    .await
    .unwrap();
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(elsewhere.header("access-control-allow-origin").is_none());
    assert_eq!(elsewhere.json()["error"]["code"], "origin_not_allowed");
    // Without a key a browser elsewhere gets no permission either.
    let keyless = get(app.public, &related, &[("Origin", PARTNER)])
        .await
        .unwrap();
    assert!(keyless.header("access-control-allow-origin").is_none());
    let unknown = get(
        app.public,
        &format!("{related}?key=pk_nope"),
        &[("Origin", PARTNER)],
    )
    .await
    .unwrap();
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["error"]["parameter"], "key");

    // Impressions and clicks, reported with the key, reach the partner's click-through rate.
    let report = format!(
        r#"{{"view": "{view}", "events": [{{"recommendation_id": "{recommendation_id}", "kind": "impression"}}, {{"recommendation_id": "{recommendation_id}", "kind": "click"}}]}}"#
    );
    let recorded = post(
        &app,
        &format!("/v1/interactions?key={key}"),
        PARTNER,
        &report,
    )
    .await;
    assert_eq!(recorded.status, 204, "{}", recorded.body);
    assert_eq!(
        recorded.header("access-control-allow-origin"),
        Some(PARTNER)
    );
    let rates = app
        .recommendations
        .get_click_through_rates(GetClickThroughRatesRequest {
            partner: "partner.localhost".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let total = format!("{rates:?}");
    assert!(
        total.contains("clicks: 1") && total.contains("impressions: 1"),
        "{total}"
    );
    let no_key = post(&app, "/v1/interactions", PARTNER, &report).await;
    assert_eq!(no_key.status, 401);
    let junk = post(
        &app,
        &format!("/v1/interactions?key={key}"),
        PARTNER,
        "{\"events\": 3}",
    )
    .await;
    assert_eq!(junk.status, 400);
    assert_eq!(junk.json()["error"]["parameter"], "body");
    let forged = post(
        &app,
        &format!("/v1/interactions?key={key}"),
        PARTNER,
        &format!(r#"{{"view": "{view}", "events": [{{"recommendation_id": "forged", "kind": "click"}}]}}"#),
    )
    .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    // An id served to first-party pages (no key) cannot be reported through a partner's key.
    let first_party = get(app.public, &related, &[]).await.unwrap();
    let their_view = first_party.header("imprint-view").unwrap().to_owned();
    let first_party = first_party.json();
    let theirs = first_party["related"][0]["recommendation_id"]
        .as_str()
        .unwrap();
    let stolen = post(
        &app,
        &format!("/v1/interactions?key={key}"),
        PARTNER,
        &format!(r#"{{"view": "{view}", "events": [{{"recommendation_id": "{theirs}", "kind": "click"}}]}}"#),
    )
    .await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    assert!(
        stolen.body.contains("not served to the partner"),
        "{}",
        stolen.body
    );
    let stolen_view = post(
        &app,
        &format!("/v1/interactions?key={key}"),
        PARTNER,
        &format!(r#"{{"view": "{their_view}", "events": [{{"recommendation_id": "{recommendation_id}", "kind": "click"}}]}}"#),
    )
    .await;
    assert_eq!(stolen_view.status, 400, "{}", stolen_view.body);
    assert_eq!(stolen_view.json()["error"]["parameter"], "view");
    assert_eq!(
        forged.json()["error"]["parameter"],
        "events[0].recommendation_id"
    );

    // 12 a minute allows a burst of 2; the rest wait, told how long.
    let slow = admin
        .create_partner_key(CreatePartnerKeyRequest {
            partner: "slow.localhost".into(),
            allowed_origins: vec![PARTNER.into()],
            requests_per_minute: 12,
        })
        .await
        .unwrap()
        .into_inner()
        .key;
    let mut limited = None;
    for _ in 0..5 {
        let r = get(
            app.public,
            &format!("{related}?key={slow}"),
            &[("Origin", PARTNER)],
        )
        .await
        .unwrap();
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the rate limit is reached");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&wait), "{wait}");
    assert_eq!(limited.json()["error"]["code"], "rate_limited");

    // Revoked: stops at once.
    let listed = admin
        .list_partner_keys(ListPartnerKeysRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.partner_keys.len(), 2);
    admin
        .revoke_partner_key(RevokePartnerKeyRequest {
            id: stored.id.clone(),
        })
        .await
        .unwrap();
    let after = get(app.public, &with_key, &[("Origin", PARTNER)])
        .await
        .unwrap();
    assert_eq!(after.status, 401, "{}", after.body);
    let listed = admin
        .list_partner_keys(ListPartnerKeysRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.partner_keys.len(), 1, "the slow key is left");
    let all = admin
        .list_partner_keys(ListPartnerKeysRequest {
            include_revoked: true,
        })
        .await
        .unwrap()
        .into_inner();
    let revoked = all
        .partner_keys
        .iter()
        .find(|k| k.id == stored.id && k.revoke_time.is_some())
        .unwrap();
    // Who made the key and who revoked it.
    for who in [&revoked.creator, &revoked.revoker] {
        let who = who.as_ref().unwrap();
        assert_eq!(
            (who.subject.as_str(), who.role(), who.system),
            ("tests", imprint_proto::audit::Role::Admin, false)
        );
    }
    app.stop().await;
}
