//! Controlled vocabularies through the editorial API, on SQLite and PostgreSQL: terms are
//! created, renamed (the old slug still resolves, in lookups and in list filters), merged
//! (papers follow, with a revision by the admin who merged; repeating the merge is harmless),
//! retired (kept where it is, refused anew); papers name terms by id or slug and are refused,
//! by field, for a term that does not exist or is of another vocabulary; a region filter finds
//! the papers of its countries; only admins change vocabularies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, authorized, draft, expect_code, violated_fields};
use imprint_platform::auth::Role;
use imprint_platform::settings::TokenSettings;
use imprint_proto::papers::taxonomy_service_client::TaxonomyServiceClient;
use imprint_proto::papers::{
    CreateTermRequest, GetTermRequest, ListPaperRevisionsRequest, ListPapersRequest,
    ListTermsRequest, MergeTermsRequest, Paper, Term, UpdatePaperRequest, UpdateTermRequest,
    Vocabulary, get_term_request,
};
use prost_types::FieldMask;
use tonic::Code;

const EDITOR: &str = "tests-taxonomy-editor-token-0123456789";

async fn app(backend: Backend) -> TestApp {
    TestApp::spawn_configured(backend, |s| {
        s.auth.tokens.insert(
            "editor".to_owned(),
            TokenSettings {
                token: EDITOR.to_owned(),
                role: Role::Editor,
            },
        );
    })
    .await
}

async fn list(app: &mut TestApp, request: ListPapersRequest) -> Vec<String> {
    let mut titles: Vec<String> = app
        .papers
        .list_papers(request)
        .await
        .unwrap()
        .into_inner()
        .papers
        .into_iter()
        .map(|p| p.title)
        .collect();
    titles.sort();
    titles
}

async fn by_slug(app: &mut TestApp, vocabulary: Vocabulary, slug: &str) -> Term {
    app.taxonomy
        .get_term(GetTermRequest {
            key: Some(get_term_request::Key::Slug(slug.to_owned())),
            vocabulary: vocabulary.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .term
        .unwrap()
}

/// UpdateTerm of the `paths` of `term`.
async fn update_term(app: &mut TestApp, term: Term, paths: &[&str]) -> Result<Term, tonic::Status> {
    let response = app
        .taxonomy
        .update_term(UpdateTermRequest {
            term: Some(term),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        })
        .await?;
    Ok(response.into_inner().term.unwrap())
}

async fn terms_are_managed_and_papers_follow_them(backend: Backend) {
    let mut app = app(backend).await;
    let author = app.author("Uzair Younus").await;
    let south_asia = app.term(Vocabulary::Region, "South Asia").await;
    let pakistan = app
        .term_under(Vocabulary::Region, "Pakistan", &south_asia.id)
        .await;
    let europe = app.term(Vocabulary::Region, "Europe").await;
    let asia_center = app.term(Vocabulary::Program, "Asia Center").await;
    let asia_program = app.term(Vocabulary::Program, "Asia Program").await;
    assert_eq!(south_asia.slug, "south-asia");
    assert_eq!(pakistan.parent_id, south_asia.id);

    // A paper names its terms by slug or id; they are stored as ids and described.
    let mut relations = draft("Rethinking US-Pakistan Relations", &[&author]);
    relations.program_ids = vec!["asia-program".into()];
    relations.region_ids = vec![pakistan.id.clone()];
    let relations = app.create(relations).await.unwrap();
    assert_eq!(
        relations.program_ids,
        std::slice::from_ref(&asia_program.id)
    );
    assert_eq!(relations.region_ids, std::slice::from_ref(&pakistan.id));
    let described: Vec<(String, String)> = relations
        .terms
        .iter()
        .map(|t| (t.slug.clone(), t.name.clone()))
        .collect();
    assert_eq!(
        described,
        [
            ("asia-program".to_owned(), "Asia Program".to_owned()),
            ("pakistan".to_owned(), "Pakistan".to_owned())
        ]
    );
    let mut brief = draft("Kashmir Brief", &[&author]);
    brief.program_ids = vec![asia_center.id.clone()];
    brief.region_ids = vec!["south-asia".into()];
    app.create(brief).await.unwrap();
    let mut elsewhere = draft("Baltic Security", &[&author]);
    elsewhere.region_ids = vec!["europe".into()];
    app.create(elsewhere).await.unwrap();

    // Unknown terms, and terms of another vocabulary, are refused by field; nothing is stored.
    let mut bad = draft("Atlantis Report", &[&author]);
    bad.region_ids = vec!["south-asia".into(), "atlantis".into()];
    bad.series_ids = vec![asia_center.id.clone()];
    let status = expect_code(app.create(bad).await, Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["paper.region_ids[1]", "paper.series_ids[0]"],
        "{status:?}"
    );
    assert!(
        status.message().contains("no region is 'atlantis'"),
        "{status:?}"
    );
    assert!(
        status.message().contains("is a program, not a series"),
        "{status:?}"
    );

    // A region filter finds its own papers and its countries'.
    let region = |r: &str| ListPapersRequest {
        region: r.to_owned(),
        ..ListPapersRequest::default()
    };
    assert_eq!(
        list(&mut app, region("south-asia")).await,
        ["Kashmir Brief", "Rethinking US-Pakistan Relations"]
    );
    assert_eq!(
        list(&mut app, region(&pakistan.id)).await,
        ["Rethinking US-Pakistan Relations"]
    );
    assert_eq!(list(&mut app, region("europe")).await, ["Baltic Security"]);
    let status = expect_code(
        app.papers.list_papers(region("atlantis")).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["region"]);

    // Renaming keeps the old slug: in lookups, in filters, and papers show the new one.
    let renamed = update_term(
        &mut app,
        Term {
            id: south_asia.id.clone(),
            version: south_asia.version,
            name: "Southern Asia".into(),
            slug: "southern-asia".into(),
            ..Term::default()
        },
        &["name", "slug"],
    )
    .await
    .unwrap();
    assert_eq!(renamed.former_slugs, ["south-asia"]);
    let old = by_slug(&mut app, Vocabulary::Region, "south-asia").await;
    assert_eq!(
        (old.id, old.slug),
        (south_asia.id.clone(), "southern-asia".to_owned())
    );
    assert_eq!(
        list(&mut app, region("south-asia")).await,
        ["Kashmir Brief", "Rethinking US-Pakistan Relations"]
    );
    // A stale rename is ABORTED.
    let stale = update_term(
        &mut app,
        Term {
            id: south_asia.id.clone(),
            version: south_asia.version,
            name: "South Asia Again".into(),
            ..Term::default()
        },
        &["name"],
    )
    .await;
    expect_code(stale, Code::Aborted);
    // Another region cannot take the old slug.
    let taken = app
        .taxonomy
        .create_term(CreateTermRequest {
            term: Some(Term {
                vocabulary: Vocabulary::Region.into(),
                name: "South Asia".into(),
                slug: "south-asia".into(),
                ..Term::default()
            }),
        })
        .await;
    expect_code(taken, Code::AlreadyExists);

    // Merging programs: the papers follow, with a revision, and the old slug resolves to the
    // target. Repeating the merge moves nothing and fails nothing.
    let merge = MergeTermsRequest {
        source_id: asia_program.id.clone(),
        target_id: asia_center.id.clone(),
    };
    let merged = app
        .taxonomy
        .merge_terms(merge.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.papers_moved, 1);
    let source = merged.source.unwrap();
    assert!(source.retired);
    assert_eq!(source.merged_into_id, asia_center.id);
    assert_eq!(merged.target.unwrap().former_slugs, ["asia-program"]);
    let moved = app.paper(&relations.id).await;
    assert_eq!(moved.program_ids, std::slice::from_ref(&asia_center.id));
    assert_eq!(moved.version, relations.version + 1);
    let revisions = app
        .papers
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: relations.id.clone(),
            ..ListPaperRevisionsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(revisions[0].changed_fields, ["program_ids"]);
    assert_eq!(revisions[0].actor.as_ref().unwrap().subject, "tests");
    assert_eq!(
        by_slug(&mut app, Vocabulary::Program, "asia-program")
            .await
            .id,
        asia_center.id
    );
    let program = |p: &str| ListPapersRequest {
        program: p.to_owned(),
        ..ListPapersRequest::default()
    };
    assert_eq!(
        list(&mut app, program("asia-program")).await,
        ["Kashmir Brief", "Rethinking US-Pakistan Relations"]
    );
    let again = app.taxonomy.merge_terms(merge).await.unwrap().into_inner();
    assert_eq!(again.papers_moved, 0);
    // The merged term's id given to a paper is the target's.
    let mut late = draft("Late Paper", &[&author]);
    late.program_ids = vec![asia_program.id.clone()];
    assert_eq!(
        app.create(late).await.unwrap().program_ids,
        std::slice::from_ref(&asia_center.id)
    );
    // Merges stay within a vocabulary, and a region does not merge into its own country.
    let across = app
        .taxonomy
        .merge_terms(MergeTermsRequest {
            source_id: europe.id.clone(),
            target_id: asia_center.id.clone(),
        })
        .await;
    assert_eq!(
        violated_fields(&expect_code(across, Code::InvalidArgument)),
        ["target_id"]
    );
    let into_own = app
        .taxonomy
        .merge_terms(MergeTermsRequest {
            source_id: south_asia.id.clone(),
            target_id: pakistan.id.clone(),
        })
        .await;
    expect_code(into_own, Code::InvalidArgument);

    // Retired: kept on the paper that has it, refused anew; listed only when asked.
    let retired = update_term(
        &mut app,
        Term {
            id: europe.id.clone(),
            version: europe.version,
            retired: true,
            ..Term::default()
        },
        &["retired"],
    )
    .await
    .unwrap();
    assert!(retired.retired);
    let mut again = draft("Nordic Defence", &[&author]);
    again.region_ids = vec!["europe".into()];
    let status = expect_code(app.create(again).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["paper.region_ids[0]"]);
    assert!(status.message().contains("retired"), "{status:?}");
    let baltic = list(&mut app, region("europe")).await;
    assert_eq!(baltic, ["Baltic Security"]);
    let regions = |show_retired| ListTermsRequest {
        vocabulary: Vocabulary::Region.into(),
        show_retired,
        ..ListTermsRequest::default()
    };
    let names = |terms: Vec<Term>| -> Vec<String> { terms.into_iter().map(|t| t.name).collect() };
    let listed = app
        .taxonomy
        .list_terms(regions(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(listed.terms), ["Southern Asia", "Pakistan"]);
    let listed = app
        .taxonomy
        .list_terms(regions(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(listed.terms), ["Southern Asia", "Pakistan", "Europe"]);

    // Moving a paper's region by update, by slug; the mask names the field.
    let updated = app
        .papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: moved.id.clone(),
                version: moved.version,
                region_ids: vec!["southern-asia".into(), "pakistan".into()],
                ..Paper::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["region_ids".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(
        updated.region_ids,
        [south_asia.id.clone(), pakistan.id.clone()]
    );
    assert_eq!(
        updated.program_ids,
        std::slice::from_ref(&asia_center.id),
        "untouched"
    );

    // A merged term merged again: what was merged into it leads to the new target directly.
    let indo = app.term(Vocabulary::Program, "Indo-Pacific Center").await;
    app.taxonomy
        .merge_terms(MergeTermsRequest {
            source_id: asia_center.id.clone(),
            target_id: indo.id.clone(),
        })
        .await
        .unwrap();
    let first = app
        .taxonomy
        .get_term(GetTermRequest {
            key: Some(get_term_request::Key::Id(asia_program.id.clone())),
            vocabulary: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .term
        .unwrap();
    assert_eq!(first.merged_into_id, indo.id);
    assert_eq!(
        list(&mut app, program("asia-program")).await,
        [
            "Kashmir Brief",
            "Late Paper",
            "Rethinking US-Pakistan Relations"
        ]
    );

    // Only admins change vocabularies; editors read them.
    let mut editor = TaxonomyServiceClient::new(authorized(app.grpc, Some(EDITOR)));
    let denied = editor
        .create_term(CreateTermRequest {
            term: Some(Term {
                vocabulary: Vocabulary::Series.into(),
                name: "Peaceworks".into(),
                ..Term::default()
            }),
        })
        .await;
    expect_code(denied, Code::PermissionDenied);
    editor.list_terms(regions(false)).await.unwrap();
    app.stop().await;
}

on_both_backends!(terms_are_managed_and_papers_follow_them);

/// Published papers of a few regions, all on one topic so that they are in each other's rails.
async fn regional_papers(app: &mut TestApp) -> (Term, Vec<Paper>) {
    let author = app.author("Asfandyar Mir").await;
    let south_asia = app.term(Vocabulary::Region, "South Asia").await;
    app.term_under(Vocabulary::Region, "Pakistan", &south_asia.id)
        .await;
    app.term(Vocabulary::Region, "Europe").await;
    let mut papers = Vec::new();
    for (title, region) in [
        ("Counterterrorism in South Asia", "south-asia"),
        ("Violent Extremism in Pakistan", "pakistan"),
        ("Violent Extremism in Europe", "europe"),
        ("Counterterrorism Cooperation in Europe", "europe"),
    ] {
        let mut paper = draft(title, &[&author]);
        paper.summary = format!("{title}: counterterrorism and violent extremism.");
        paper.topics = vec!["Violent Extremism".into()];
        paper.region_ids = vec![region.into()];
        papers.push(app.publish(paper).await);
    }
    (south_asia, papers)
}

async fn rail(
    app: &mut TestApp,
    source: &Paper,
    regions: &[&str],
) -> Result<Vec<String>, tonic::Status> {
    use imprint_proto::recommendations::{
        GetRelatedPublicationsRequest, get_related_publications_request::Key,
    };
    let related = app
        .recommendations
        .get_related_publications(GetRelatedPublicationsRequest {
            key: Some(Key::PaperId(source.id.clone())),
            limit: 10,
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            ..GetRelatedPublicationsRequest::default()
        })
        .await?
        .into_inner()
        .publications;
    let mut titles: Vec<String> = related.into_iter().map(|p| p.title).collect();
    titles.sort();
    Ok(titles)
}

async fn search_page(
    app: &mut TestApp,
    regions: &[&str],
) -> imprint_proto::recommendations::SearchPublicationsResponse {
    use imprint_proto::recommendations::SearchPublicationsRequest;
    app.recommendations
        .search_publications(SearchPublicationsRequest {
            query: "extremism".into(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            ..SearchPublicationsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn search(app: &mut TestApp, regions: &[&str]) -> Vec<String> {
    let found = search_page(app, regions).await.results;
    let mut titles: Vec<String> = found.into_iter().map(|p| p.title).collect();
    titles.sort();
    titles
}

async fn rails_and_search_filter_by_region(backend: Backend) {
    let mut app = app(backend).await;
    let (south_asia, papers) = regional_papers(&mut app).await;
    let source = papers[0].clone();
    let mut unfiltered = Vec::new();
    for _ in 0..300 {
        // NOT_FOUND until the read model has the paper.
        if let Ok(titles) = rail(&mut app, &source, &[]).await {
            unfiltered = titles;
            if unfiltered.len() == 3 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(unfiltered.len(), 3, "{unfiltered:?}");
    // A region takes in its countries; another region's papers leave the rail.
    assert_eq!(
        rail(&mut app, &source, &["south-asia"]).await.unwrap(),
        ["Violent Extremism in Pakistan"]
    );
    assert_eq!(
        rail(&mut app, &source, &["europe", "pakistan"])
            .await
            .unwrap(),
        [
            "Counterterrorism Cooperation in Europe",
            "Violent Extremism in Europe",
            "Violent Extremism in Pakistan"
        ]
    );
    // The search index commits just after the related-publications index.
    for _ in 0..300 {
        if search(&mut app, &[]).await.len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        search(&mut app, &["south-asia"]).await,
        [
            "Counterterrorism in South Asia",
            "Violent Extremism in Pakistan"
        ]
    );
    // Papers of one region say so in their reasons.
    {
        use imprint_proto::recommendations::{
            GetRelatedPublicationsRequest, get_related_publications_request::Key,
        };
        let related = app
            .recommendations
            .get_related_publications(GetRelatedPublicationsRequest {
                key: Some(Key::PaperId(papers[2].id.clone())),
                limit: 10,
                ..GetRelatedPublicationsRequest::default()
            })
            .await
            .unwrap()
            .into_inner()
            .publications;
        let europe = related
            .iter()
            .find(|p| p.title == "Counterterrorism Cooperation in Europe")
            .unwrap();
        assert!(
            europe.reasons.contains(&"same region".to_owned()),
            "{europe:?}"
        );
        let pakistan = related
            .iter()
            .find(|p| p.title == "Violent Extremism in Pakistan")
            .unwrap();
        assert!(
            !pakistan.reasons.contains(&"same region".to_owned()),
            "{pakistan:?}"
        );
    }
    // Facets name each region with its count, by the slug filters take.
    let facets: Vec<(String, i64, String)> = search_page(&mut app, &[])
        .await
        .region_facets
        .into_iter()
        .map(|f| (f.value, f.count, f.label))
        .collect();
    assert_eq!(
        facets,
        [
            ("europe".to_owned(), 2, "Europe".to_owned()),
            ("pakistan".to_owned(), 1, "Pakistan".to_owned()),
            ("south-asia".to_owned(), 1, "South Asia".to_owned()),
        ]
    );
    let status = expect_code(
        rail(&mut app, &source, &["atlantis"]).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["regions[0]"]);

    // Renamed: the old slug filters as before, once the read model has heard of it.
    update_term(
        &mut app,
        Term {
            id: south_asia.id.clone(),
            version: south_asia.version,
            slug: "southern-asia".into(),
            ..Term::default()
        },
        &["slug"],
    )
    .await
    .unwrap();
    let mut renamed = Err(tonic::Status::unknown("not asked yet"));
    for _ in 0..300 {
        renamed = rail(&mut app, &source, &["southern-asia"]).await;
        if renamed.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(renamed.unwrap(), ["Violent Extremism in Pakistan"]);
    assert_eq!(
        rail(&mut app, &source, &["south-asia"]).await.unwrap(),
        ["Violent Extremism in Pakistan"]
    );
    app.stop().await;
}

on_both_backends!(rails_and_search_filter_by_region);

async fn public(app: &TestApp, path: &str) -> imprint_testkit::HttpResponse {
    imprint_testkit::get(app.public, path, &[]).await.unwrap()
}

fn titles_of(list: &serde_json::Value, key: &str) -> Vec<String> {
    let mut titles: Vec<String> = list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {list}"))
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

async fn the_public_api_filters_describes_and_feeds_by_region(backend: Backend) {
    let mut app = app(backend).await;
    let (south_asia, papers) = regional_papers(&mut app).await;
    app.term(Vocabulary::Program, "Asia Center").await;
    let source = app.paper(&papers[0].id).await;
    app.papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: source.id.clone(),
                version: source.version,
                program_ids: vec!["asia-center".into()],
                ..Paper::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["program_ids".into()],
            }),
        })
        .await
        .unwrap();

    // Lists by region take in its countries; the papers name their terms.
    let list = public(&app, "/v1/papers?region=south-asia").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    assert_eq!(
        titles_of(&list, "papers"),
        [
            "Counterterrorism in South Asia",
            "Violent Extremism in Pakistan"
        ]
    );
    let pakistan = list["papers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Violent Extremism in Pakistan")
        .unwrap();
    assert_eq!(
        pakistan["regions"],
        serde_json::json!([{"slug": "pakistan", "name": "Pakistan"}])
    );
    let bad = public(&app, "/v1/papers?region=atlantis").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["parameter"], "region", "{}", bad.body);
    assert_eq!(
        titles_of(
            &public(&app, "/v1/papers?program=asia-center").await.json(),
            "papers"
        ),
        ["Counterterrorism in South Asia"]
    );

    // The page and its JSON-LD: the program made it, the region is what it covers.
    let page = public(&app, &format!("/v1/pages/{}", source.slug))
        .await
        .json();
    assert_eq!(
        page["paper"]["programs"][0]["name"], "Asia Center",
        "{page}"
    );
    assert_eq!(
        page["json_ld"]["sourceOrganization"],
        serde_json::json!([{"@type": "Organization", "name": "Asia Center"}])
    );
    assert_eq!(
        page["json_ld"]["spatialCoverage"],
        serde_json::json!([{"@type": "Place", "name": "South Asia"}])
    );

    // A rail restricted to a region; an unknown region is named.
    let mut rail = Vec::new();
    for _ in 0..300 {
        let answer = public(
            &app,
            &format!(
                "/v1/papers/{}/related?region=south-asia&limit=10",
                source.slug
            ),
        )
        .await;
        if answer.status == 200 {
            rail = titles_of(&answer.json(), "related");
            if !rail.is_empty() {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(rail, ["Violent Extremism in Pakistan"]);
    let bad = public(
        &app,
        &format!("/v1/papers/{}/related?region=atlantis", source.slug),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["parameter"], "region");

    // A feed per region and per program; nothing for a region nobody has.
    let feed = public(&app, "/regions/south-asia/feed.atom").await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(
        feed.body.contains("Violent Extremism in Pakistan"),
        "{}",
        feed.body
    );
    assert!(!feed.body.contains("in Europe"), "{}", feed.body);
    assert!(feed.body.contains(": South Asia</title>"), "{}", feed.body);
    let feed = public(&app, "/programs/asia-center/feed.atom").await;
    assert!(
        feed.body.contains("Counterterrorism in South Asia"),
        "{}",
        feed.body
    );
    assert_eq!(
        public(&app, "/regions/atlantis/feed.atom").await.status,
        404
    );
    assert_eq!(
        public(&app, "/regions/asia-center/feed.atom").await.status,
        404
    );

    // Search facets by region, and the vocabularies as site menus list them.
    let mut found = serde_json::Value::Null;
    for _ in 0..300 {
        found = public(&app, "/v1/search?q=extremism").await.json();
        if found["total"] == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        found["regions"][0],
        serde_json::json!({"value": "europe", "count": 2, "label": "Europe"}),
        "{found}"
    );
    let searched = public(&app, "/v1/search?q=extremism&region=south-asia")
        .await
        .json();
    assert_eq!(
        titles_of(&searched, "results"),
        [
            "Counterterrorism in South Asia",
            "Violent Extremism in Pakistan"
        ]
    );
    let regions = public(&app, "/v1/terms/regions").await.json();
    assert_eq!(
        regions["terms"],
        serde_json::json!([
            {"slug": "south-asia", "name": "South Asia"},
            {"slug": "pakistan", "name": "Pakistan", "region": "south-asia"},
            {"slug": "europe", "name": "Europe"},
        ])
    );
    assert_eq!(public(&app, "/v1/terms/planets").await.status, 404);

    // Renamed: the old slug still filters and feeds, under the new name.
    update_term(
        &mut app,
        Term {
            id: south_asia.id.clone(),
            version: south_asia.version,
            name: "Southern Asia".into(),
            slug: "southern-asia".into(),
            ..Term::default()
        },
        &["name", "slug"],
    )
    .await
    .unwrap();
    let mut feed = String::new();
    for _ in 0..300 {
        feed = public(&app, "/regions/south-asia/feed.atom").await.body;
        if feed.contains("Southern Asia") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(feed.contains(": Southern Asia</title>"), "{feed}");
    assert!(feed.contains("/regions/southern-asia/feed.atom"), "{feed}");
    assert_eq!(
        titles_of(
            &public(&app, "/v1/papers?region=south-asia").await.json(),
            "papers"
        ),
        [
            "Counterterrorism in South Asia",
            "Violent Extremism in Pakistan"
        ]
    );
    app.stop().await;
}

on_both_backends!(the_public_api_filters_describes_and_feeds_by_region);
