//! `RecommendationService` over real gRPC, fed by real events (RabbitMQ, on SQLite and on
//! PostgreSQL): related lists follow publishing within a second, drafts never appear, reasons
//! name what is shared, editors' pins and exclusions hold, search finds and highlights, clicks
//! count once per served rail, and a restart serves the same lists without a replay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, draft, expect_code, violated_fields};
use imprint_proto::authors::Author;
use imprint_proto::papers::{Paper, PublicationType, UnpublishPaperRequest};
use imprint_proto::recommendations::{
    GetClickThroughRatesRequest, GetRelatedOverridesRequest, GetRelatedPublicationsRequest,
    GetRelatedPublicationsResponse, InteractionKind, RecordInteractionRequest, RelatedOverrides,
    RelatedPublication, SearchPublicationsRequest, SetRelatedOverridesRequest,
    get_related_publications_request::Key,
};
use tonic::Code;

fn rail(paper_id: &str, limit: i32) -> GetRelatedPublicationsRequest {
    GetRelatedPublicationsRequest {
        key: Some(Key::PaperId(paper_id.to_owned())),
        limit,
        ..GetRelatedPublicationsRequest::default()
    }
}

async fn related(app: &TestApp, request: GetRelatedPublicationsRequest) -> Vec<RelatedPublication> {
    app.recommendations
        .clone()
        .get_related_publications(request)
        .await
        .expect("related publications")
        .into_inner()
        .publications
}

/// The ids on a paper's rail; none while the paper is not (yet, or any more) published there.
async fn related_ids(app: &TestApp, paper_id: &str) -> Vec<String> {
    match app
        .recommendations
        .clone()
        .get_related_publications(rail(paper_id, 10))
        .await
    {
        Ok(r) => r
            .into_inner()
            .publications
            .into_iter()
            .map(|p| p.paper_id)
            .collect(),
        Err(s) if s.code() == Code::NotFound => Vec::new(),
        Err(s) => panic!("related publications: {s:?}"),
    }
}

/// Polls every 10 ms until `check` holds; returns how long it took, failing after `limit`.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn paper(title: &str, summary: &str, topics: &[&str], authors: &[&Author]) -> Paper {
    Paper {
        summary: summary.to_owned(),
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        ..draft(title, authors)
    }
}

struct Corpus {
    imran: Author,
    extremism: Paper,
    online: Paper,
    economy: Paper,
    sahel: Paper,
    draft: Paper,
}

async fn corpus(app: &mut TestApp) -> Corpus {
    let imran = app.author("Imran Khan").await;
    let maryam = app.author("Maryam Kiyani").await;
    let bates = app.author("Bates Gill").await;
    let extremism = app
        .publish(paper(
            "Countering Violent Extremism in Pakistan",
            "How militant recruitment works and what policy can do against it.",
            &["Violent Extremism"],
            &[&imran],
        ))
        .await;
    let online = app
        .publish(paper(
            "Militant Recruitment Online",
            "Extremist groups recruit on social networks; platforms respond.",
            &["Violent Extremism", "Technology"],
            &[&maryam],
        ))
        .await;
    let economy = app
        .publish(paper(
            "Pakistan's Economy After the Floods",
            "Reconstruction, debt and growth.",
            &["Economy"],
            &[&imran],
        ))
        .await;
    let sahel = app
        .publish(paper(
            "Water Policy in the Sahel",
            "Rivers, dams and drought.",
            &["Climate"],
            &[&bates],
        ))
        .await;
    let draft = app
        .create(paper(
            "Violent Extremism in Pakistan: a Draft",
            "Militant recruitment, policy and Pakistan, unpublished.",
            &["Violent Extremism"],
            &[&imran],
        ))
        .await
        .unwrap();
    Corpus {
        imran,
        extremism,
        online,
        economy,
        sahel,
        draft,
    }
}

async fn rails_follow_publishing_with_reasons(backend: Backend) {
    let mut app = TestApp::spawn_rabbit(backend).await;
    let c = corpus(&mut app).await;
    within(
        Duration::from_secs(10),
        "the read model has the corpus",
        || async { related_ids(&app, &c.extremism.id).await.len() == 3 },
    )
    .await;
    let items = related(&app, rail(&c.extremism.id, 0)).await;
    assert_eq!(items.len(), 3, "the default limit is 3: {items:?}");
    let ids: Vec<&str> = items.iter().map(|p| p.paper_id.as_str()).collect();
    assert!(
        !ids.contains(&c.extremism.id.as_str()),
        "never the paper itself"
    );
    assert!(!ids.contains(&c.draft.id.as_str()), "never a draft");
    let online = items.iter().find(|p| p.paper_id == c.online.id).unwrap();
    assert!(
        online
            .reasons
            .contains(&"shared topic: Violent Extremism".to_owned()),
        "{:?}",
        online.reasons
    );
    let economy = items.iter().find(|p| p.paper_id == c.economy.id).unwrap();
    assert!(
        economy
            .reasons
            .contains(&"same author: Imran Khan".to_owned()),
        "{:?}",
        economy.reasons
    );
    assert_eq!(items[2].paper_id, c.sahel.id, "unrelated papers come last");
    assert_eq!(online.title, "Militant Recruitment Online");
    assert_eq!(online.slug, c.online.slug);
    assert_eq!(online.topics, ["Violent Extremism", "Technology"]);
    assert!(online.publish_time.is_some());
    assert!(items[0].score >= items[1].score && items[1].score >= items[2].score);
    // By slug too.
    let by_slug = related(
        &app,
        GetRelatedPublicationsRequest {
            key: Some(Key::Slug(c.extremism.slug.clone())),
            ..GetRelatedPublicationsRequest::default()
        },
    )
    .await;
    assert_eq!(by_slug.len(), 3);

    // A new paper enters its neighbours' rails within a second of being published.
    let youth = app
        .publish(paper(
            "Violent Extremism and Youth in Pakistan",
            "Militant recruitment of young people, and the policy response.",
            &["Violent Extremism"],
            &[&c.imran],
        ))
        .await;
    let took = within(Duration::from_secs(1), "a new paper enters", || async {
        related_ids(&app, &c.extremism.id).await.first() == Some(&youth.id)
    })
    .await;
    eprintln!("published paper entered the rail after {took:?}");

    // An unpublished one leaves within a second.
    app.papers
        .unpublish_paper(UnpublishPaperRequest {
            id: c.online.id.clone(),
            version: 0,
        })
        .await
        .unwrap();
    let took = within(
        Duration::from_secs(1),
        "an unpublished paper leaves",
        || async {
            !related_ids(&app, &c.extremism.id)
                .await
                .contains(&c.online.id)
        },
    )
    .await;
    eprintln!("unpublished paper left the rail after {took:?}");
    expect_code(
        app.recommendations
            .get_related_publications(rail(&c.online.id, 3))
            .await,
        Code::NotFound,
    );

    // A draft published later joins like any other; the read model survives a restart and
    // the indexes are rebuilt from it without a replay.
    let before = related_ids(&app, &c.extremism.id).await;
    let app = app.restart().await;
    within(
        Duration::from_secs(10),
        "the restarted service serves",
        || async {
            app.recommendations
                .clone()
                .get_related_publications(rail(&c.extremism.id, 10))
                .await
                .is_ok()
        },
    )
    .await;
    assert_eq!(related_ids(&app, &c.extremism.id).await, before);
    app.stop().await;
}

async fn editors_pin_and_exclude(backend: Backend) {
    let mut app = TestApp::spawn_rabbit(backend).await;
    let c = corpus(&mut app).await;
    within(
        Duration::from_secs(10),
        "the read model has the corpus",
        || async { related_ids(&app, &c.extremism.id).await.len() == 3 },
    )
    .await;
    let set = |pinned: Vec<String>, excluded: Vec<String>| SetRelatedOverridesRequest {
        overrides: Some(RelatedOverrides {
            paper_id: c.extremism.id.clone(),
            pinned_paper_ids: pinned,
            excluded_paper_ids: excluded,
            update_time: None,
        }),
    };
    let stored = app
        .recommendations
        .set_related_overrides(set(
            vec![c.sahel.id.clone(), c.draft.id.clone()],
            vec![c.online.id.clone()],
        ))
        .await
        .unwrap()
        .into_inner()
        .overrides
        .unwrap();
    assert_eq!(
        stored.pinned_paper_ids,
        [c.sahel.id.clone(), c.draft.id.clone()]
    );
    assert!(stored.update_time.is_some());
    let items = related(&app, rail(&c.extremism.id, 3)).await;
    let ids: Vec<&str> = items.iter().map(|p| p.paper_id.as_str()).collect();
    assert_eq!(ids[0], c.sahel.id, "the pinned paper leads");
    assert_eq!(items[0].reasons, ["pinned by an editor"]);
    assert!(!ids.contains(&c.online.id.as_str()), "excluded: {ids:?}");
    assert!(
        !ids.contains(&c.draft.id.as_str()),
        "a pinned draft is still a draft"
    );
    assert_eq!(ids.len(), 2, "nothing else is left: {ids:?}");
    let got = app
        .recommendations
        .get_related_overrides(GetRelatedOverridesRequest {
            paper_id: c.extremism.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .overrides
        .unwrap();
    assert_eq!(got, stored);

    // Bad overrides are refused field by field and change nothing.
    let status = expect_code(
        app.recommendations
            .set_related_overrides(set(
                vec![
                    c.online.id.clone(),
                    c.extremism.id.clone(),
                    "nope".to_owned(),
                ],
                vec![c.online.id.clone()],
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        [
            "overrides.pinned_paper_ids[2]",
            "overrides.pinned_paper_ids[0]",
            "overrides.pinned_paper_ids[1]",
        ]
    );
    let mut unknown = set(vec![], vec![]);
    unknown.overrides.as_mut().unwrap().paper_id = uuid::Uuid::now_v7().to_string();
    expect_code(
        app.recommendations.set_related_overrides(unknown).await,
        Code::NotFound,
    );
    let items = related(&app, rail(&c.extremism.id, 3)).await;
    assert_eq!(
        items[0].paper_id, c.sahel.id,
        "the stored overrides still hold"
    );

    // Clearing them brings the ranking back.
    app.recommendations
        .set_related_overrides(set(vec![], vec![]))
        .await
        .unwrap();
    within(Duration::from_secs(1), "cleared overrides", || async {
        related_ids(&app, &c.extremism.id)
            .await
            .contains(&c.online.id)
    })
    .await;
    app.stop().await;
}

async fn clicks_count_once_per_view_and_position(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let c = corpus(&mut app).await;
    within(
        Duration::from_secs(10),
        "the read model has the corpus",
        || async { related_ids(&app, &c.extremism.id).await.len() == 3 },
    )
    .await;
    let serve = |paper: &str| {
        let mut recommendations = app.recommendations.clone();
        let request = rail(paper, 3);
        async move {
            recommendations
                .get_related_publications(request)
                .await
                .unwrap()
                .into_inner()
        }
    };
    let record = |rail: &GetRelatedPublicationsResponse, i: usize, kind: InteractionKind| {
        RecordInteractionRequest {
            recommendation_id: rail.publications[i].recommendation_id.clone(),
            kind: kind.into(),
            view_id: rail.view_id.clone(),
        }
    };
    let first = serve(&c.extremism.id).await;
    let second = serve(&c.extremism.id).await;
    assert_ne!(
        first.view_id, second.view_id,
        "each serving is a view of its own"
    );
    // Sent again and again, an impression or a click counts once per view: before, the same
    // id counted every time it was sent (50 clicks on 10 impressions made a rate of 5.0).
    for _ in 0..5 {
        for i in 0..3 {
            app.recommendations
                .record_interaction(record(&first, i, InteractionKind::Impression))
                .await
                .unwrap();
        }
        app.recommendations
            .record_interaction(record(&first, 0, InteractionKind::Click))
            .await
            .unwrap();
    }
    // A click with no impression reported still counts one: what was clicked was shown.
    app.recommendations
        .record_interaction(record(&second, 1, InteractionKind::Click))
        .await
        .unwrap();
    let rates = app
        .recommendations
        .get_click_through_rates(GetClickThroughRatesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let by_position: Vec<(String, i64, i64)> = rates
        .by_position
        .iter()
        .map(|r| (r.key.clone(), r.impressions, r.clicks))
        .collect();
    assert_eq!(
        by_position,
        [
            ("1".to_owned(), 1, 1),
            ("2".to_owned(), 2, 1),
            ("3".to_owned(), 1, 0)
        ]
    );
    assert!((rates.by_position[1].rate - 0.5).abs() < 1e-9);
    assert!(rates.by_position.iter().all(|r| r.rate <= 1.0));
    assert_eq!(rates.by_partner.len(), 1);
    assert_eq!(
        rates.by_partner[0].key, "",
        "editors' rails are first-party"
    );
    assert_eq!(rates.by_partner_position.len(), 1);
    assert_eq!(rates.by_partner_position[0].by_position.len(), 3);

    // Forged ids, views and kinds are refused, naming the field.
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!(
            "1|{}|{}|1|",
            uuid::Uuid::now_v7().simple(),
            uuid::Uuid::now_v7().simple()
        ),
    );
    let cases = [
        (
            forged.clone(),
            first.view_id.clone(),
            InteractionKind::Click,
            "recommendation_id",
        ),
        (
            String::new(),
            first.view_id.clone(),
            InteractionKind::Click,
            "recommendation_id",
        ),
        (
            first.publications[0].recommendation_id.clone(),
            String::new(),
            InteractionKind::Click,
            "view_id",
        ),
        (
            first.publications[0].recommendation_id.clone(),
            first.publications[1].recommendation_id.clone(),
            InteractionKind::Click,
            "view_id",
        ),
        (
            first.publications[0].recommendation_id.clone(),
            first.view_id.clone(),
            InteractionKind::Unspecified,
            "kind",
        ),
    ];
    for (id, view, kind, field) in cases {
        let status = expect_code(
            app.recommendations
                .record_interaction(RecordInteractionRequest {
                    recommendation_id: id,
                    kind: kind.into(),
                    view_id: view,
                })
                .await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    app.stop().await;
}

async fn search_finds_filters_and_highlights(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let c = corpus(&mut app).await;
    within(
        Duration::from_secs(10),
        "the read model has the corpus",
        || async { related_ids(&app, &c.extremism.id).await.len() == 3 },
    )
    .await;
    let search = |query: &str| SearchPublicationsRequest {
        query: query.to_owned(),
        ..SearchPublicationsRequest::default()
    };
    // The search index commits just after the related-publications index.
    within(Duration::from_secs(10), "search has the corpus", || async {
        app.recommendations
            .clone()
            .search_publications(search(""))
            .await
            .is_ok_and(|r| r.into_inner().total_size == 4)
    })
    .await;
    let found = app
        .recommendations
        .search_publications(search("militant recruiting"))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = found.results.iter().map(|r| r.paper_id.as_str()).collect();
    assert_eq!(found.total_size, 2, "{ids:?}");
    assert!(
        !ids.contains(&c.draft.id.as_str()),
        "drafts are not searchable"
    );
    assert_eq!(ids[0], c.online.id, "the title match ranks first");
    assert_eq!(
        found.results[0].title_highlight,
        "<mark>Militant</mark> <mark>Recruitment</mark> Online"
    );
    assert!(
        found.results[1].snippet.contains("<mark>militant</mark>"),
        "{}",
        found.results[1].snippet
    );
    assert_eq!(found.topic_facets[0].value, "Violent Extremism");
    assert_eq!(found.topic_facets[0].count, 2);
    assert_eq!(found.type_facets[0].value, "PUBLICATION_TYPE_REPORT");

    let mut filtered = search("");
    filtered.topics = vec!["violent extremism".to_owned()];
    filtered.page_size = 1;
    let first = app
        .recommendations
        .search_publications(filtered.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.total_size, 2);
    assert_eq!(first.results[0].paper_id, c.online.id, "newest first");
    filtered.page_token = first.next_page_token;
    let second = app
        .recommendations
        .search_publications(filtered.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.results[0].paper_id, c.extremism.id);
    assert!(second.next_page_token.is_empty());

    // Bad input names the field.
    filtered.query = "other".to_owned();
    let status = expect_code(
        app.recommendations.search_publications(filtered).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["page_token"]);
    let mut bad = search("x");
    bad.publication_types = vec![0, 999];
    let status = expect_code(
        app.recommendations.search_publications(bad).await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        ["publication_types[0]", "publication_types[1]"]
    );
    app.stop().await;
}

async fn rails_refuse_bad_requests(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let c = corpus(&mut app).await;
    for (request, fields) in [
        (rail("nope", 3), vec!["paper_id"]),
        (rail(&c.extremism.id, 51), vec!["limit"]),
        (rail(&c.extremism.id, -1), vec!["limit"]),
        (GetRelatedPublicationsRequest::default(), vec!["key"]),
        (
            GetRelatedPublicationsRequest {
                topics: vec![" ".to_owned()],
                publication_types: vec![42],
                ..rail(&c.extremism.id, 3)
            },
            vec!["publication_types[0]", "topics[0]"],
        ),
    ] {
        let status = expect_code(
            app.recommendations.get_related_publications(request).await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), fields);
    }
    expect_code(
        app.recommendations
            .get_related_publications(rail(&c.draft.id, 3))
            .await,
        Code::NotFound,
    );
    // Filters narrow the rail.
    within(
        Duration::from_secs(10),
        "the read model has the corpus",
        || async { related_ids(&app, &c.extremism.id).await.len() == 3 },
    )
    .await;
    let only_climate = related(
        &app,
        GetRelatedPublicationsRequest {
            topics: vec!["CLIMATE".to_owned()],
            publication_types: vec![PublicationType::Report.into()],
            ..rail(&c.extremism.id, 10)
        },
    )
    .await;
    let ids: Vec<&str> = only_climate.iter().map(|p| p.paper_id.as_str()).collect();
    assert_eq!(ids, [c.sahel.id.as_str()]);
    app.stop().await;
}

on_both_backends!(
    rails_follow_publishing_with_reasons,
    editors_pin_and_exclude,
    clicks_count_once_per_view_and_position,
    search_finds_filters_and_highlights,
    rails_refuse_bad_requests,
);
