//! Preview links over the public API: a draft's page through its link only, private and not
//! indexed, never in the shared cache nor in any list, search, feed, sitemap or rail; a
//! revoked, expired or forged link 404 like a paper nobody has; bad requests named by field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_TOKEN, Backend, TestApp, authorized, draft, expect_code, violated_fields};
use imprint_proto::gateway::preview_link_service_client::PreviewLinkServiceClient;
use imprint_proto::gateway::{
    CreatePreviewLinkRequest, CreatePreviewLinkResponse, ListPreviewLinksRequest,
    RevokePreviewLinkRequest,
};
use imprint_testkit::get;
use tonic::Code;

async fn link(
    app: &TestApp,
    paper_id: &str,
    lifetime_seconds: i64,
) -> Result<CreatePreviewLinkResponse, tonic::Status> {
    PreviewLinkServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)))
        .create_preview_link(CreatePreviewLinkRequest {
            paper_id: paper_id.to_owned(),
            lifetime_seconds,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn a_draft_is_readable_through_its_link_only(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let neighbour = app
        .publish(draft(
            "Countering Violent Extremism in Pakistan",
            &[&author],
        ))
        .await;
    let mut secret = draft("Zanzibarian Findings on Violent Extremism", &[&author]);
    secret.summary = "Violent extremism in Pakistan, zanzibarian findings.".into();
    let secret = app.create(secret).await.unwrap();
    let made = link(&app, &secret.id, 0).await.unwrap();
    let stored = made.preview_link.clone().unwrap();
    let week = stored.expire_time.unwrap().seconds - stored.create_time.unwrap().seconds;
    assert!((604_799..=604_800).contains(&week), "{week}");

    let path = format!("/v1/preview/{}", made.token);
    for _ in 0..2 {
        let r = get(app.public, &path, &[]).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["paper"]["title"], secret.title);
        assert_eq!(r.json()["authors"][0]["name"], "Imran Khan");
        assert_eq!(r.header("cache-control"), Some("private, no-store"));
        assert_eq!(r.header("x-robots-tag"), Some("noindex"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("etag"), None);
    }
    // Nowhere else, and not in the shared cache: the slug stays nobody's.
    for path in [
        format!("/v1/papers/{}", secret.slug),
        format!("/v1/pages/{}", secret.slug),
    ] {
        let r = get(app.public, &path, &[]).await.unwrap();
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    for path in [
        "/v1/papers?limit=100".to_owned(),
        "/v1/search?q=zanzibarian".to_owned(),
        format!("/v1/papers/{}/related?limit=50", neighbour.slug),
        "/feed.atom".to_owned(),
        "/sitemap.xml".to_owned(),
    ] {
        let r = get(app.public, &path, &[]).await.unwrap();
        assert!(
            !r.body.to_lowercase().contains("zanzibarian"),
            "{path} shows the draft: {}",
            r.body
        );
        assert!(!r.body.contains(&secret.id), "{path} shows the draft's id");
    }

    // Forged, revoked and expired links are 404, the same as a paper nobody has.
    let nobody = get(app.public, "/v1/papers/no-such-paper", &[])
        .await
        .unwrap();
    let mut forged = made.token.clone();
    forged.replace_range(..1, if forged.starts_with('A') { "B" } else { "A" });
    for token in [forged.as_str(), "", "not-a-token", &"x".repeat(5000)] {
        let r = get(app.public, &format!("/v1/preview/{token}"), &[])
            .await
            .unwrap();
        assert_eq!(r.status, 404, "{token}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], nobody.json()["error"]["code"]);
    }
    let mut links = PreviewLinkServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)));
    links
        .revoke_preview_link(RevokePreviewLinkRequest {
            id: stored.id.clone(),
        })
        .await
        .unwrap();
    let r = get(app.public, &path, &[]).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let listed = links
        .list_preview_links(ListPreviewLinksRequest {
            paper_id: secret.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .preview_links;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoke_time.is_some());
    // Who shared the draft, and who took the link back.
    for who in [&listed[0].creator, &listed[0].revoker] {
        let who = who.as_ref().unwrap();
        assert_eq!(
            (who.subject.as_str(), who.role(), who.system),
            ("tests", imprint_proto::audit::Role::Admin, false)
        );
    }

    let expiring = link(&app, &secret.id, 3600).await.unwrap();
    let expiring_path = format!("/v1/preview/{}", expiring.token);
    assert_eq!(
        get(app.public, &expiring_path, &[]).await.unwrap().status,
        200
    );
    // Expired in the database (the token still seals an hour): the stored expiry rules.
    app.execute(
        "gateway",
        "UPDATE preview_links SET expire_time = create_time WHERE revoke_time IS NULL",
    )
    .await;
    assert_eq!(
        get(app.public, &expiring_path, &[]).await.unwrap().status,
        404
    );
    app.stop().await;
}

async fn bad_links_are_refused_naming_the_field(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let published = app.publish(draft("Already Public", &[&author])).await;
    let created = app
        .create(draft("Still a Draft", &[&author]))
        .await
        .unwrap();
    expect_code(link(&app, &published.id, 0).await, Code::FailedPrecondition);
    for (lifetime, field) in [
        (2_592_001, "lifetime_seconds"),
        (59, "lifetime_seconds"),
        (-1, "lifetime_seconds"),
    ] {
        let status = expect_code(
            link(&app, &created.id, lifetime).await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), [field]);
    }
    let status = expect_code(link(&app, "not-an-id", 0).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper_id"]);
    expect_code(
        link(&app, "01a236dd-54d4-70d7-bd89-8f5c027d14b9", 0).await,
        Code::NotFound,
    );
    // The longest lifetime works.
    link(&app, &created.id, 2_592_000).await.unwrap();
    app.stop().await;
}

/// A draft's report and cover through its preview link: linked from the preview's page under
/// the link, served private and unindexed, and nowhere else; not once the link is revoked.
async fn a_drafts_files_are_served_through_its_link_only(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let secret = app
        .create(draft("Unpublished Findings", &[&author]))
        .await
        .unwrap();
    let report = imprint_files::pdf::Report {
        title: "Unpublished Findings".to_owned(),
        byline: "Imran Khan".to_owned(),
        sections: vec![("Findings".to_owned(), vec!["Not yet public.".to_owned()])],
    }
    .render()
    .unwrap();
    let uploaded = imprint::upload::Uploader::new(format!("http://{}", app.public), ADMIN_TOKEN)
        .bytes("findings.pdf", report.clone())
        .await
        .unwrap();
    let updated = app
        .papers
        .update_paper(imprint_proto::papers::UpdatePaperRequest {
            paper: Some(imprint_proto::papers::Paper {
                id: secret.id.clone(),
                version: secret.version,
                attachments: vec![imprint_proto::papers::Attachment {
                    file_key: uploaded.key.clone(),
                    kind: imprint_proto::papers::AttachmentKind::Report.into(),
                    name: "findings.pdf".to_owned(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["attachments".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let made = link(&app, &secret.id, 0).await.unwrap();
    let page = get(app.public, &format!("/v1/preview/{}", made.token), &[])
        .await
        .unwrap()
        .json();
    let url = page["paper"]["downloads"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &url[url.find("/v1/preview/").unwrap()..];
    assert!(
        path.starts_with(&format!("/v1/preview/{}/files/", made.token)),
        "{url}"
    );
    let r = get(app.public, path, &[]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(r.header("x-robots-tag"), Some("noindex"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let bytes = reqwest::get(format!("http://{}{path}", app.public))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), report.as_slice());
    // Not under the paper's public path, and not for another link's paper.
    let hex = uploaded.key.trim_start_matches("sha256:");
    let public = format!("/v1/papers/{}/files/{hex}/findings.pdf", updated.slug);
    assert_eq!(get(app.public, &public, &[]).await.unwrap().status, 404);
    let other = app
        .create(draft("Another Draft", &[&author]))
        .await
        .unwrap();
    let other_link = link(&app, &other.id, 0).await.unwrap();
    let elsewhere = path.replace(&made.token, &other_link.token);
    assert_eq!(get(app.public, &elsewhere, &[]).await.unwrap().status, 404);
    PreviewLinkServiceClient::new(authorized(app.grpc, Some(ADMIN_TOKEN)))
        .revoke_preview_link(RevokePreviewLinkRequest {
            id: made.preview_link.unwrap().id,
        })
        .await
        .unwrap();
    assert_eq!(get(app.public, path, &[]).await.unwrap().status, 404);
    app.stop().await;
}

on_both_backends!(
    a_drafts_files_are_served_through_its_link_only,
    a_draft_is_readable_through_its_link_only,
    bad_links_are_refused_naming_the_field,
);
