//! `PaperService` over real gRPC, each case on SQLite and on PostgreSQL: the success and error
//! paths of every RPC, as an editor's front end would meet them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft, expect_code, violated_fields};
use imprint_proto::convert::timestamp;
use imprint_proto::papers::{
    DeletePaperRequest, GetPaperRequest, ListPaperRevisionsRequest, ListPapersRequest, Paper,
    PaperStatus, PaperView, PublicationType, PublishPaperRequest, RevisionKind,
    UnpublishPaperRequest, UpdatePaperRequest, get_paper_request::Key,
};
use prost_types::FieldMask;
use tonic::Code;

fn by_id(id: &str) -> GetPaperRequest {
    GetPaperRequest {
        key: Some(Key::Id(id.to_owned())),
        ..GetPaperRequest::default()
    }
}

fn by_slug(slug: &str) -> GetPaperRequest {
    GetPaperRequest {
        key: Some(Key::Slug(slug.to_owned())),
        ..GetPaperRequest::default()
    }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn create_stores_a_draft_with_ordered_credits(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Hamza Ijaz").await;
    let b = app.author("Imran Khan").await;
    let c = app.author("Maryam Kiyani").await;
    let mut paper = draft("Rethinking US–Pakistan Relations", &[&c, &a, &b]);
    paper.topics = vec![
        " Global  Policy ".into(),
        "global policy".into(),
        "Violent Extremism".into(),
    ];
    paper.funding_note = "Funded by the Asia Center.".into();
    let created = app.create(paper).await.unwrap();
    assert_eq!(created.slug, "rethinking-us-pakistan-relations");
    assert_eq!(created.status(), PaperStatus::Draft);
    assert_eq!(created.version, 1);
    assert_eq!(
        created.author_ids,
        [c.id.clone(), a.id.clone(), b.id.clone()]
    );
    assert_eq!(created.topics, ["Global Policy", "Violent Extremism"]);
    assert!(created.publish_time.is_none());
    assert!(created.create_time.is_some());
    let fetched = app.papers.get_paper(by_id(&created.id)).await.unwrap();
    assert_eq!(fetched.into_inner().paper.unwrap(), created);

    // An imported paper keeps its id from elsewhere: unique, and a list filter.
    let mut imported = draft("Imported", &[&a]);
    imported.external_id = " arXiv:2508.11582 ".into();
    let imported = app.create(imported).await.unwrap();
    assert_eq!(imported.external_id, "arXiv:2508.11582");
    let by_external = app
        .papers
        .list_papers(ListPapersRequest {
            external_id: "arXiv:2508.11582".into(),
            ..ListPapersRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .papers;
    assert_eq!(by_external.len(), 1);
    assert_eq!(by_external[0].id, imported.id);
    let mut twin = draft("Imported Twice", &[&a]);
    twin.external_id = "arXiv:2508.11582".into();
    let status = expect_code(app.create(twin).await, Code::AlreadyExists);
    assert!(
        status.message().contains("external id"),
        "{}",
        status.message()
    );
    let mut bad = draft("Bad External", &[&a]);
    bad.external_id = "a\u{0}b".into();
    let status = expect_code(app.create(bad).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper.external_id"]);

    // The same title again gets the next free slug.
    let again = app
        .create(draft("Rethinking US–Pakistan Relations", &[&a]))
        .await
        .unwrap();
    assert_eq!(again.slug, "rethinking-us-pakistan-relations-2");
    app.stop().await;
}

async fn create_refuses_bad_input_naming_each_field(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Adnan Rafiq").await;
    let ghost = "01900000-0000-7000-8000-000000000000";
    let mut paper = draft("", &[&a]);
    paper.author_ids.push(ghost.to_owned());
    paper.slug = "Not A Slug".into();
    paper.summary = "x".repeat(10_001);
    let status = expect_code(app.create(paper).await, Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["paper.slug", "paper.title", "paper.summary"]
    );

    let mut unknown_author = draft("Valid", &[&a]);
    unknown_author.author_ids.push(ghost.to_owned());
    let status = expect_code(app.create(unknown_author).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper.author_ids[1]"]);
    assert!(status.message().contains(ghost), "{}", status.message());

    let mut dup = draft("Valid", &[&a, &a]);
    dup.publication_type = PublicationType::Unspecified.into();
    let status = expect_code(app.create(dup).await, Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["paper.publication_type", "paper.author_ids[1]"]
    );

    let mut bad_enum = draft("Valid", &[&a]);
    bad_enum.publication_type = 999;
    let status = expect_code(app.create(bad_enum).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper.publication_type"]);

    let status = expect_code(
        app.papers
            .create_paper(imprint_proto::papers::CreatePaperRequest { paper: None })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["paper"]);

    let mut taken = draft("First", &[&a]);
    taken.slug = "chosen".into();
    app.create(taken.clone()).await.unwrap();
    taken.title = "Second".into();
    expect_code(app.create(taken).await, Code::AlreadyExists);

    // Nothing half-written: only the one paper exists.
    let all = app
        .papers
        .list_papers(ListPapersRequest::default())
        .await
        .unwrap();
    assert_eq!(all.into_inner().papers.len(), 1);
    app.stop().await;
}

async fn get_by_id_slug_and_former_slug(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Imran Khan").await;
    let created = app.create(draft("Original Title", &[&a])).await.unwrap();
    let renamed = app
        .papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: created.id.clone(),
                version: created.version,
                slug: "new-title".into(),
                title: "New Title".into(),
                ..Paper::default()
            }),
            update_mask: mask(&["slug", "title"]),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(renamed.slug, "new-title");
    for slug in ["original-title", "new-title"] {
        let got = app.papers.get_paper(by_slug(slug)).await.unwrap();
        let got = got.into_inner().paper.unwrap();
        assert_eq!(got.id, created.id);
        assert_eq!(got.slug, "new-title", "the current slug comes back");
    }
    // A former slug stays reserved for its paper.
    let mut squatter = draft("Squatter", &[&a]);
    squatter.slug = "original-title".into();
    expect_code(app.create(squatter).await, Code::AlreadyExists);

    expect_code(
        app.papers.get_paper(by_slug("no-such-paper")).await,
        Code::NotFound,
    );
    expect_code(
        app.papers
            .get_paper(by_id("01900000-0000-7000-8000-000000000000"))
            .await,
        Code::NotFound,
    );
    let status = expect_code(
        app.papers.get_paper(by_id("42")).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["id"]);
    let status = expect_code(
        app.papers
            .get_paper(GetPaperRequest {
                key: None,
                ..GetPaperRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["key"]);
    app.stop().await;
}

async fn list_filters_and_pages(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Bates Gill").await;
    let b = app.author("Carla Freeman").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let credits: Vec<&_> = if i % 2 == 0 { vec![&a] } else { vec![&a, &b] };
        let mut p = draft(&format!("Paper {i}"), &credits);
        p.topics = if i < 3 {
            vec!["Global Policy".into()]
        } else {
            vec!["Violent Extremism".into()]
        };
        if i == 6 {
            p.publication_type = PublicationType::QuestionAndAnswer.into();
        }
        let created = app.create(p).await.unwrap();
        if i < 4 {
            app.papers
                .publish_paper(PublishPaperRequest {
                    id: created.id.clone(),
                    ..PublishPaperRequest::default()
                })
                .await
                .unwrap();
        }
        ids.push(created.id);
    }
    let papers = app.papers.clone();
    let list = |req: ListPapersRequest| {
        let mut client = papers.clone();
        async move { client.list_papers(req).await.map(|r| r.into_inner()) }
    };

    // Paging through everything, newest first, 3 at a time.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(ListPapersRequest {
            page_size: 3,
            page_token: token.clone(),
            ..ListPapersRequest::default()
        })
        .await
        .unwrap();
        assert!(page.papers.len() <= 3);
        seen.extend(page.papers.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let published = list(ListPapersRequest {
        status: PaperStatus::Published.into(),
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(published.papers.len(), 4);
    let topic = list(ListPapersRequest {
        topic: "GLOBAL policy".into(),
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(topic.papers.len(), 3);
    let by_author = list(ListPapersRequest {
        author_id: b.id.clone(),
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(by_author.papers.len(), 3);
    let combined = list(ListPapersRequest {
        status: PaperStatus::Published.into(),
        topic: "Violent Extremism".into(),
        author_id: b.id.clone(),
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(
        combined.papers.iter().map(|p| &p.id).collect::<Vec<_>>(),
        [&ids[3]]
    );
    let qa = list(ListPapersRequest {
        publication_type: PublicationType::QuestionAndAnswer.into(),
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(qa.papers.len(), 1);

    // Paging with filters keeps the filters; a token used with other filters is refused.
    let first = list(ListPapersRequest {
        page_size: 1,
        author_id: b.id.clone(),
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    let status = expect_code(
        list(ListPapersRequest {
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..ListPapersRequest::default()
        })
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["page_token"]);
    for bad in [
        ListPapersRequest {
            page_size: -1,
            ..ListPapersRequest::default()
        },
        ListPapersRequest {
            page_token: "garbage".into(),
            ..ListPapersRequest::default()
        },
        ListPapersRequest {
            author_id: "someone".into(),
            ..ListPapersRequest::default()
        },
        ListPapersRequest {
            status: 77,
            ..ListPapersRequest::default()
        },
    ] {
        expect_code(list(bad).await, Code::InvalidArgument);
    }
    // Above the cap is served at the cap.
    let big = list(ListPapersRequest {
        page_size: 1000,
        ..ListPapersRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(big.papers.len(), 7);
    app.stop().await;
}

async fn update_applies_masks_and_refuses_stale_versions(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Hamza Ijaz").await;
    let b = app.author("Imran Khan").await;
    let created = app.create(draft("A Title", &[&a])).await.unwrap();
    let papers = app.papers.clone();
    let update = |paper: Paper, paths: &[&str]| {
        let mut client = papers.clone();
        let update_mask = mask(paths);
        async move {
            client
                .update_paper(UpdatePaperRequest {
                    paper: Some(paper),
                    update_mask,
                })
                .await
                .map(|r| r.into_inner().paper.unwrap())
        }
    };
    let v2 = update(
        Paper {
            id: created.id.clone(),
            version: 1,
            summary: "A new summary.".into(),
            author_ids: vec![b.id.clone(), a.id.clone()],
            ..Paper::default()
        },
        &["summary", "author_ids"],
    )
    .await
    .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.summary, "A new summary.");
    assert_eq!(v2.title, "A Title", "fields outside the mask are kept");
    assert_eq!(v2.author_ids, [b.id.clone(), a.id.clone()]);

    // A client still holding version 1 is refused and nothing is overwritten.
    let status = expect_code(
        update(
            Paper {
                id: created.id.clone(),
                version: 1,
                summary: "Lost edit".into(),
                ..Paper::default()
            },
            &["summary"],
        )
        .await,
        Code::Aborted,
    );
    assert!(
        status.message().contains("version 1"),
        "{}",
        status.message()
    );
    let stored = app.papers.get_paper(by_id(&created.id)).await.unwrap();
    assert_eq!(stored.into_inner().paper.unwrap(), v2);

    // An empty mask replaces every field; validation covers them all.
    let mut full = v2.clone();
    full.title = String::new();
    let status = expect_code(update(full, &[]).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper.title"]);

    // Saving the same values is not a new version.
    let same = update(v2.clone(), &["title", "summary"]).await.unwrap();
    assert_eq!(same.version, 2);

    let status = expect_code(update(v2.clone(), &["status"]).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["update_mask"]);
    let mut no_version = v2.clone();
    no_version.version = 0;
    let status = expect_code(update(no_version, &["title"]).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper.version"]);
    let mut ghost = v2.clone();
    ghost.id = "01900000-0000-7000-8000-000000000000".into();
    expect_code(update(ghost, &["title"]).await, Code::NotFound);
    let mut unknown_author = v2.clone();
    unknown_author.author_ids = vec!["01900000-0000-7000-8000-000000000001".into()];
    let status = expect_code(
        update(unknown_author, &["author_ids"]).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["paper.author_ids[0]"]);

    // New topics and credits are what the list filters see from then on.
    let v3 = update(
        Paper {
            id: created.id.clone(),
            version: 2,
            topics: vec!["Trade".into()],
            author_ids: vec![a.id.clone()],
            ..Paper::default()
        },
        &["topics", "author_ids"],
    )
    .await
    .unwrap();
    let listed = |topic: &str, author: &str| {
        let mut client = papers.clone();
        let request = ListPapersRequest {
            topic: topic.to_owned(),
            author_id: author.to_owned(),
            ..ListPapersRequest::default()
        };
        async move {
            client
                .list_papers(request)
                .await
                .unwrap()
                .into_inner()
                .papers
                .len()
        }
    };
    assert_eq!(listed("trade", "").await, 1);
    assert_eq!(listed("global policy", "").await, 0);
    assert_eq!(listed("", &b.id).await, 0);
    assert_eq!(listed("", &a.id).await, 1);

    let other = app.create(draft("Other", &[&a])).await.unwrap();
    let mut steal = v3.clone();
    steal.slug = other.slug.clone();
    expect_code(update(steal, &["slug"]).await, Code::AlreadyExists);
    app.stop().await;
}

async fn publish_unpublish_and_republish(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Adnan Rafiq").await;
    let lonely = app.create(draft("No Authors Yet", &[])).await.unwrap();
    let status = expect_code(
        app.papers
            .publish_paper(PublishPaperRequest {
                id: lonely.id.clone(),
                ..PublishPaperRequest::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("at least one author"));
    let status = expect_code(
        app.papers
            .unpublish_paper(UnpublishPaperRequest {
                id: lonely.id.clone(),
                version: 0,
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("never published"));

    let created = app.create(draft("Ready", &[&a])).await.unwrap();
    let papers = app.papers.clone();
    let publish = |version: i64, at: Option<prost_types::Timestamp>| {
        let mut client = papers.clone();
        let id = created.id.clone();
        async move {
            client
                .publish_paper(PublishPaperRequest {
                    id,
                    version,
                    publish_time: at,
                })
                .await
                .map(|r| r.into_inner().paper.unwrap())
        }
    };
    expect_code(publish(7, None).await, Code::Aborted);
    let published = publish(1, None).await.unwrap();
    assert_eq!(published.status(), PaperStatus::Published);
    assert_eq!(published.version, 2);
    let first_time = published.publish_time.unwrap();
    let again = publish(0, None).await.unwrap();
    assert_eq!(again.version, 2, "publishing twice changes nothing");

    let archived = app
        .papers
        .unpublish_paper(UnpublishPaperRequest {
            id: created.id.clone(),
            version: 2,
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(archived.status(), PaperStatus::Archived);
    assert_eq!(archived.publish_time, Some(first_time));
    let republished = publish(0, None).await.unwrap();
    assert_eq!(republished.status(), PaperStatus::Published);
    assert_eq!(
        republished.publish_time,
        Some(first_time),
        "first date kept"
    );

    // A published paper keeps a byline.
    let status = expect_code(
        app.papers
            .update_paper(UpdatePaperRequest {
                paper: Some(Paper {
                    id: created.id.clone(),
                    version: republished.version,
                    ..Paper::default()
                }),
                update_mask: mask(&["author_ids"]),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("at least one author"));

    let date = chrono::DateTime::parse_from_rfc3339("2024-05-30T12:00:00Z")
        .unwrap()
        .to_utc();
    let backdated = publish(0, Some(timestamp(date))).await.unwrap();
    assert_eq!(backdated.publish_time, Some(timestamp(date)));
    let future = chrono::Utc::now() + chrono::TimeDelta::days(30);
    let status = expect_code(
        publish(0, Some(timestamp(future))).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["publish_time"]);
    let status = expect_code(
        publish(
            0,
            Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -5,
            }),
        )
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["publish_time"]);
    app.stop().await;
}

async fn delete_then_not_found(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Imran Khan").await;
    let created = app.create(draft("Short Lived", &[&a])).await.unwrap();
    expect_code(
        app.papers
            .delete_paper(DeletePaperRequest {
                id: created.id.clone(),
                version: 9,
            })
            .await,
        Code::Aborted,
    );
    app.papers
        .delete_paper(DeletePaperRequest {
            id: created.id.clone(),
            version: 1,
        })
        .await
        .unwrap();
    expect_code(
        app.papers.get_paper(by_id(&created.id)).await,
        Code::NotFound,
    );
    expect_code(
        app.papers.get_paper(by_slug(&created.slug)).await,
        Code::NotFound,
    );
    for table in [
        "paper_revisions",
        "paper_topics",
        "paper_authors",
        "paper_slugs",
    ] {
        assert_eq!(
            app.count_paper_rows(table, &created.id).await,
            0,
            "{table} rows of a deleted paper remain"
        );
    }
    expect_code(
        app.papers
            .list_paper_revisions(ListPaperRevisionsRequest {
                id: created.id.clone(),
                ..ListPaperRevisionsRequest::default()
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        app.papers
            .delete_paper(DeletePaperRequest {
                id: created.id.clone(),
                version: 0,
            })
            .await,
        Code::NotFound,
    );
    // Its slug is free again.
    let reborn = app.create(draft("Short Lived", &[&a])).await.unwrap();
    assert_eq!(reborn.slug, created.slug);
    app.stop().await;
}

async fn revisions_newest_first(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Maryam Kiyani").await;
    let mut first_draft = draft("Draft One", &[&a]);
    first_draft.body = "The body.".into();
    let created = app.create(first_draft).await.unwrap();
    app.papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: created.id.clone(),
                version: 1,
                title: "Draft Two".into(),
                ..Paper::default()
            }),
            update_mask: mask(&["title"]),
        })
        .await
        .unwrap();
    app.papers
        .publish_paper(PublishPaperRequest {
            id: created.id.clone(),
            version: 2,
            publish_time: None,
        })
        .await
        .unwrap();
    app.papers
        .unpublish_paper(UnpublishPaperRequest {
            id: created.id.clone(),
            version: 3,
        })
        .await
        .unwrap();
    let first = app
        .papers
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: created.id.clone(),
            page_size: 3,
            page_token: String::new(),
            view: PaperView::Full.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<_> = first.revisions.iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds,
        [
            RevisionKind::Unpublished,
            RevisionKind::Published,
            RevisionKind::Updated
        ]
    );
    assert_eq!(first.revisions[2].changed_fields, ["title"]);
    assert_eq!(
        first.revisions[2].paper.as_ref().unwrap().title,
        "Draft Two"
    );
    assert_eq!(first.revisions[2].paper.as_ref().unwrap().body, "The body.");
    let rest = app
        .papers
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: created.id.clone(),
            page_size: 3,
            page_token: first.next_page_token,
            view: PaperView::Unspecified.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.revisions.len(), 1);
    assert_eq!(rest.revisions[0].kind(), RevisionKind::Created);
    assert_eq!(rest.revisions[0].paper.as_ref().unwrap().title, "Draft One");
    assert_eq!(rest.revisions[0].version, 1);
    assert_eq!(
        rest.revisions[0].paper.as_ref().unwrap().body,
        "",
        "BASIC by default"
    );
    assert!(rest.next_page_token.is_empty());
    let status = expect_code(
        app.papers
            .list_paper_revisions(ListPaperRevisionsRequest {
                id: created.id.clone(),
                page_token: "bm90LWEtdG9rZW4".into(),
                ..ListPaperRevisionsRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["page_token"]);
    expect_code(
        app.papers
            .list_paper_revisions(ListPaperRevisionsRequest {
                id: "01900000-0000-7000-8000-000000000000".into(),
                ..ListPaperRevisionsRequest::default()
            })
            .await,
        Code::NotFound,
    );
    app.stop().await;
}

async fn views_leave_bodies_out_of_lists(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Bates Gill").await;
    for i in 0..12 {
        let mut p = draft(&format!("Long {i}"), &[&a]);
        p.body = "Body text.".repeat(100);
        app.create(p).await.unwrap();
    }
    let list = |view: PaperView, page_size: i32| {
        let mut client = app.papers.clone();
        async move {
            client
                .list_papers(ListPapersRequest {
                    view: view.into(),
                    page_size,
                    ..ListPapersRequest::default()
                })
                .await
                .unwrap()
                .into_inner()
                .papers
        }
    };
    let basic = list(PaperView::Unspecified, 50).await;
    assert_eq!(basic.len(), 12);
    assert!(
        basic
            .iter()
            .all(|p| p.body.is_empty() && !p.summary.is_empty())
    );
    let full = list(PaperView::Full, 50).await;
    assert_eq!(full.len(), 10, "FULL pages hold at most 10");
    assert!(full.iter().all(|p| p.body.len() == 1000));
    let got = app
        .papers
        .get_paper(by_slug("long-3"))
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(got.body.len(), 1000, "GetPaper is FULL by default");
    let basic_one = app
        .papers
        .get_paper(GetPaperRequest {
            key: Some(Key::Slug("long-3".into())),
            view: PaperView::Basic.into(),
            ..GetPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert!(basic_one.body.is_empty());
    let status = expect_code(
        app.papers
            .get_paper(GetPaperRequest {
                key: Some(Key::Slug("long-3".into())),
                view: 42,
                ..GetPaperRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["view"]);
    app.stop().await;
}

async fn concurrent_writers_never_lose_an_edit(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Carla Freeman").await;
    let created = app.create(draft("Contested", &[&a])).await.unwrap();
    // Sixteen editors save the version they all read, at once: one wins, the rest are told.
    let edits = (0..16).map(|i| {
        let mut client = app.papers.clone();
        let id = created.id.clone();
        async move {
            client
                .update_paper(UpdatePaperRequest {
                    paper: Some(Paper {
                        id,
                        version: 1,
                        summary: format!("Edit {i}"),
                        ..Paper::default()
                    }),
                    update_mask: mask(&["summary"]),
                })
                .await
                .map(|r| r.into_inner().paper.unwrap())
        }
    });
    let results = futures::future::join_all(edits).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Err(status) = result {
            assert_eq!(status.code(), Code::Aborted, "{status:?}");
        }
    }
    let stored = app.papers.get_paper(by_id(&created.id)).await.unwrap();
    let stored = stored.into_inner().paper.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.summary, winners[0].summary,
        "the winner's edit is the one stored"
    );

    // Eight creates with one title at once: eight papers, eight slugs.
    let creates = (0..8).map(|_| {
        let mut client = app.papers.clone();
        let paper = draft("Same Title", &[&a]);
        async move {
            client
                .create_paper(imprint_proto::papers::CreatePaperRequest { paper: Some(paper) })
                .await
                .map(|r| r.into_inner().paper.unwrap().slug)
        }
    });
    let mut slugs: Vec<String> = futures::future::join_all(creates)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 8, "{slugs:?}");
    assert!(slugs.contains(&"same-title".to_owned()));
    app.stop().await;
}

async fn batches_are_all_or_nothing_and_name_each_request(backend: Backend) {
    use imprint_proto::authors::{Author, BatchCreateAuthorsRequest, CreateAuthorRequest};
    use imprint_proto::papers::{BatchCreatePapersRequest, CreatePaperRequest};

    let mut app = TestApp::spawn(backend).await;
    let new_author = |name: &str| CreateAuthorRequest {
        author: Some(Author {
            name: name.to_owned(),
            ..Author::default()
        }),
    };
    let authors = app
        .authors
        .batch_create_authors(BatchCreateAuthorsRequest {
            requests: vec![new_author("Hamza Ijaz"), new_author("Imran Khan")],
        })
        .await
        .unwrap()
        .into_inner()
        .authors;
    assert_eq!(
        authors.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["Hamza Ijaz", "Imran Khan"]
    );
    let too_many = app
        .authors
        .batch_create_authors(BatchCreateAuthorsRequest {
            requests: (0..501)
                .map(|i| new_author(&format!("Author {i}")))
                .collect(),
        })
        .await;
    assert_eq!(
        violated_fields(&expect_code(too_many, Code::InvalidArgument)),
        ["requests"]
    );

    let request = |title: &str, external_id: &str, authors: &[&Author]| {
        let mut paper = draft(title, authors);
        paper.external_id = external_id.to_owned();
        CreatePaperRequest { paper: Some(paper) }
    };
    let (a, b) = (&authors[0], &authors[1]);
    let ghost = Author {
        id: "019a1f3c-0000-7000-8000-000000000000".into(),
        ..Author::default()
    };
    // One bad request spoils the batch, and every bad one is named.
    let bad = app
        .papers
        .batch_create_papers(BatchCreatePapersRequest {
            requests: vec![
                request("Fine", "x-1", &[a]),
                request("", "x-2", &[a]),
                request("Ghostwritten", "x-3", &[&ghost]),
                request("Repeated", "x-1", &[b]),
                request("Nobody wrote it", "x-5", &[]),
            ],
            publish: true,
        })
        .await;
    let status = expect_code(bad, Code::InvalidArgument);
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "requests[1].paper.title",
            "requests[2].paper.author_ids[0]",
            "requests[3].paper.external_id",
            "requests[4].paper.author_ids",
        ],
        "{status:?}"
    );
    let stored = |app: &mut TestApp| {
        let mut papers = app.papers.clone();
        async move {
            papers
                .list_papers(ListPapersRequest::default())
                .await
                .unwrap()
                .into_inner()
                .papers
        }
    };
    assert!(
        stored(&mut app).await.is_empty(),
        "nothing of a refused batch is stored"
    );
    // Unknown authors alone spoil it too.
    let ghostly = app
        .papers
        .batch_create_papers(BatchCreatePapersRequest {
            requests: vec![
                request("Fine", "x-1", &[a]),
                request("Ghostwritten", "x-3", &[b, &ghost]),
            ],
            publish: true,
        })
        .await;
    assert_eq!(
        violated_fields(&expect_code(ghostly, Code::InvalidArgument)),
        ["requests[1].paper.author_ids[1]"]
    );
    assert!(stored(&mut app).await.is_empty());

    // A good batch is stored in order, published, back-dated where asked.
    let mut dated = request("Dated", "x-2", &[b]);
    let when = chrono::DateTime::parse_from_rfc3339("2023-05-17T00:00:00Z")
        .unwrap()
        .to_utc();
    dated.paper.as_mut().unwrap().publish_time = Some(timestamp(when));
    let created = app
        .papers
        .batch_create_papers(BatchCreatePapersRequest {
            requests: vec![request("Fine", "x-1", &[a, b]), dated],
            publish: true,
        })
        .await
        .unwrap()
        .into_inner()
        .papers;
    assert_eq!(
        created.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(),
        ["Fine", "Dated"]
    );
    assert!(created.iter().all(|p| p.status() == PaperStatus::Published));
    assert_eq!(created[1].publish_time, Some(timestamp(when)));
    assert_eq!(stored(&mut app).await.len(), 2);
    // An external id already stored is refused, and the batch with it.
    let again = app
        .papers
        .batch_create_papers(BatchCreatePapersRequest {
            requests: vec![
                request("New", "x-9", &[a]),
                request("Fine again", "x-1", &[a]),
            ],
            publish: false,
        })
        .await;
    expect_code(again, Code::AlreadyExists);
    assert_eq!(stored(&mut app).await.len(), 2);
    app.stop().await;
}

on_both_backends!(
    batches_are_all_or_nothing_and_name_each_request,
    views_leave_bodies_out_of_lists,
    concurrent_writers_never_lose_an_edit,
    create_stores_a_draft_with_ordered_credits,
    create_refuses_bad_input_naming_each_field,
    get_by_id_slug_and_former_slug,
    list_filters_and_pages,
    update_applies_masks_and_refuses_stale_versions,
    publish_unpublish_and_republish,
    delete_then_not_found,
    revisions_newest_first,
);
