//! Authentication and roles at the edge, through real gRPC and gRPC-Web clients: every
//! editorial RPC refuses a call without a token, each role can do what it should and no more,
//! JWTs from the configured issuer are accepted, and browsers get gRPC-Web with CORS for the
//! editorial origins only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::str::FromStr;
use std::time::Duration;

use common::{ADMIN_TOKEN, Backend, TestApp, authorized, draft, expect_code};
use imprint_platform::auth::Role;
use imprint_platform::settings::TokenSettings;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{
    GetPaperRequest, PaperStatus, PublishPaperRequest, UpdatePaperRequest, get_paper_request,
};
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use imprint_proto::recommendations::{RelatedOverrides, SetRelatedOverridesRequest};
use prost::Message;
use tonic::Code;

const VIEWER: &str = "viewer-token-0123456789";
const EDITOR: &str = "editor-token-0123456789";
const PUBLISHER: &str = "publisher-token-0123456789";
const HS256_SECRET: &str = "a test secret of at least thirty-two bytes";
const EDITOR_ORIGIN: &str = "http://editor.localhost:5173";

async fn spawn() -> TestApp {
    TestApp::spawn_configured(Backend::Sqlite, |s| {
        for (name, token, role) in [
            ("viewer", VIEWER, Role::Viewer),
            ("editor", EDITOR, Role::Editor),
            ("publisher", PUBLISHER, Role::Publisher),
        ] {
            s.auth.tokens.insert(
                name.to_owned(),
                TokenSettings {
                    token: token.to_owned(),
                    role,
                },
            );
        }
        s.auth.jwt.issuer = Some("https://id.example.org".to_owned());
        s.auth.jwt.audience = Some("imprint".to_owned());
        s.auth.jwt.hs256_secret = Some(HS256_SECRET.to_owned());
        s.auth.editor_origins = vec![EDITOR_ORIGIN.to_owned()];
    })
    .await
}

/// `/package.Service/Method` of every RPC in `proto/`.
fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(imprint_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut paths = Vec::new();
    for file in set.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_editorial_rpc_without_a_valid_token_is_unauthenticated() {
    let app = spawn().await;
    let paths = every_rpc();
    assert!(paths.len() >= 22, "{paths:?}");
    for token in [None, Some("not-a-token-this-server-knows")] {
        let channel = authorized(app.grpc, token);
        for path in &paths {
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            grpc.ready().await.unwrap();
            let status = grpc
                .unary::<(), (), _>(
                    tonic::Request::new(()),
                    http::uri::PathAndQuery::from_str(path).unwrap(),
                    tonic_prost::ProstCodec::default(),
                )
                .await
                .unwrap_err();
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{path} with {token:?}"
            );
        }
    }
    // Health stays open: load balancers and probes carry no token.
    let mut health = tonic_health::pb::health_client::HealthClient::new(authorized(app.grpc, None));
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health needs no token");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_what_it_may_and_no_more() {
    let mut app = spawn().await;
    let author = app.author("Imran Khan").await;
    let paper = app.create(draft("Roles", &[&author])).await.unwrap();
    let client = |token: &str| PaperServiceClient::new(authorized(app.grpc, Some(token)));
    let get = GetPaperRequest {
        key: Some(get_paper_request::Key::Id(paper.id.clone())),
        ..Default::default()
    };
    let publish = PublishPaperRequest {
        id: paper.id.clone(),
        ..Default::default()
    };

    // A viewer reads the draft, and can neither edit nor publish it.
    let seen = client(VIEWER)
        .get_paper(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.paper.unwrap().status(), PaperStatus::Draft);
    let edit = |title: &str, version: i64| UpdatePaperRequest {
        paper: Some(imprint_proto::papers::Paper {
            id: paper.id.clone(),
            version,
            title: title.to_owned(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".to_owned()],
        }),
    };
    let denied = expect_code(
        client(VIEWER)
            .update_paper(edit("By a viewer", paper.version))
            .await,
        Code::PermissionDenied,
    );
    assert!(
        denied.message().contains("needs the editor role"),
        "{denied:?}"
    );
    let denied = expect_code(
        client(VIEWER).publish_paper(publish.clone()).await,
        Code::PermissionDenied,
    );
    assert_eq!(
        denied.message(),
        "PublishPaper needs the publisher role; this token has viewer"
    );

    // An editor edits but cannot publish.
    let edited = client(EDITOR)
        .update_paper(edit("By an editor", paper.version))
        .await
        .expect("an editor edits")
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(edited.title, "By an editor");
    expect_code(
        client(EDITOR).publish_paper(publish.clone()).await,
        Code::PermissionDenied,
    );
    let unchanged = client(VIEWER)
        .get_paper(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.paper.unwrap().status(), PaperStatus::Draft);

    // A publisher publishes; pinning related publications is an admin's.
    let published = client(PUBLISHER)
        .publish_paper(publish)
        .await
        .expect("a publisher publishes")
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(published.status(), PaperStatus::Published);
    let pin = SetRelatedOverridesRequest {
        overrides: Some(RelatedOverrides {
            paper_id: paper.id.clone(),
            ..Default::default()
        }),
    };
    expect_code(
        RecommendationServiceClient::new(authorized(app.grpc, Some(PUBLISHER)))
            .set_related_overrides(pin.clone())
            .await,
        Code::PermissionDenied,
    );
    RecommendationServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)))
        .set_related_overrides(pin)
        .await
        .expect("an admin pins");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_of_the_configured_issuer_are_accepted() {
    let app = spawn().await;
    let mut jwt = imprint_platform::Settings::default().auth.jwt;
    jwt.issuer = Some("https://id.example.org".to_owned());
    jwt.audience = Some("imprint".to_owned());
    jwt.hs256_secret = Some(HS256_SECRET.to_owned());
    let viewer =
        imprint_gateway::access::issue_hs256(&jwt, "ada", Role::Viewer, Duration::from_secs(60))
            .unwrap();
    let mut papers = PaperServiceClient::new(authorized(app.grpc, Some(&viewer)));
    papers
        .list_papers(imprint_proto::papers::ListPapersRequest::default())
        .await
        .expect("a viewer's JWT lists papers");
    expect_code(
        papers
            .delete_paper(imprint_proto::papers::DeletePaperRequest::default())
            .await,
        Code::PermissionDenied,
    );
    jwt.audience = Some("another-service".to_owned());
    let elsewhere =
        imprint_gateway::access::issue_hs256(&jwt, "ada", Role::Admin, Duration::from_secs(60))
            .unwrap();
    let refused = expect_code(
        PaperServiceClient::new(authorized(app.grpc, Some(&elsewhere)))
            .list_papers(imprint_proto::papers::ListPapersRequest::default())
            .await,
        Code::Unauthenticated,
    );
    assert!(refused.message().contains("wrong audience"), "{refused:?}");
    app.stop().await;
}

/// A gRPC-Web call over HTTP/1.1, as a browser's fetch makes it.
async fn grpc_web(app: &TestApp, path: &str, message: &[u8], token: Option<&str>) -> String {
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(message);
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nOrigin: {EDITOR_ORIGIN}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        app.grpc,
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let raw = imprint_testkit::http_raw(app.grpc, &request).await.unwrap();
    String::from_utf8_lossy(&raw).to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_call_over_grpc_web_with_cors_for_editor_origins_only() {
    let mut app = spawn().await;
    let author = app.author("Hamza Ijaz").await;
    let paper = app
        .create(draft("Over gRPC-Web", &[&author]))
        .await
        .unwrap();
    let request = GetPaperRequest {
        key: Some(get_paper_request::Key::Slug(paper.slug.clone())),
        ..Default::default()
    }
    .encode_to_vec();
    let path = "/imprint.papers.v1.PaperService/GetPaper";

    let ok = grpc_web(&app, path, &request, Some(VIEWER)).await;
    assert!(ok.starts_with("http/1.1 200"), "{ok}");
    assert!(
        ok.contains("over grpc-web") && ok.contains("grpc-status:0"),
        "{ok}"
    );
    assert!(
        ok.contains(&format!("access-control-allow-origin: {EDITOR_ORIGIN}")),
        "{ok}"
    );

    let refused = grpc_web(&app, path, &request, None).await;
    assert!(refused.contains("grpc-status: 16"), "{refused}");
    assert!(!refused.contains("over grpc-web"), "{refused}");

    // Preflight: allowed for the editorial origin, not for another.
    let preflight = |origin: &str| {
        format!(
            "OPTIONS {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization,content-type,x-grpc-web\r\nConnection: close\r\n\r\n",
            app.grpc
        )
    };
    let allowed = imprint_testkit::http_raw(app.grpc, preflight(EDITOR_ORIGIN).as_bytes())
        .await
        .unwrap();
    let allowed = String::from_utf8_lossy(&allowed).to_lowercase();
    assert!(
        allowed.contains(&format!("access-control-allow-origin: {EDITOR_ORIGIN}")),
        "{allowed}"
    );
    assert!(allowed.contains("authorization"), "{allowed}");
    let other = imprint_testkit::http_raw(app.grpc, preflight("http://evil.localhost").as_bytes())
        .await
        .unwrap();
    let other = String::from_utf8_lossy(&other).to_lowercase();
    assert!(!other.contains("access-control-allow-origin"), "{other}");
    app.stop().await;
}
