//! The public JSON API over real HTTP: published content only, filters and cursors, ETags and
//! 304s, event-driven cache invalidation, pages with JSON-LD, citations, feeds and the sitemap;
//! and no draft reachable by any of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, draft, eventually};
use imprint_proto::authors::Author;
use imprint_proto::papers::{Paper, PublicationType, UnpublishPaperRequest, UpdatePaperRequest};
use imprint_testkit::{HttpResponse, get};

async fn fetch(app: &TestApp, path: &str) -> HttpResponse {
    get(app.public, path, &[]).await.unwrap()
}

struct Site {
    imran: Author,
    hamza: Author,
    seed: Paper,
    neighbour: Paper,
    brief: Paper,
    draft: Paper,
    withdrawn: Paper,
}

/// Three published papers, a draft and a withdrawn paper, each with a word of its own.
async fn site(app: &mut TestApp) -> Site {
    let imran = app.author("Imran Khan").await;
    let hamza = app.author("Hamza Ijaz").await;
    // Withdrawn first: one relay delivers the papers' events in order, so once the neighbour
    // (published later) is in a rail, the withdrawal has reached the rails too.
    let mut gone = draft("Quixotic Withdrawn Report on Pakistan", &[&imran]);
    gone.topics = vec!["Violent Extremism".into()];
    let gone = app.publish(gone).await;
    let withdrawn = app
        .papers
        .unpublish_paper(UnpublishPaperRequest {
            id: gone.id,
            ..UnpublishPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    let mut seed = draft("A Rethinking of US-Pakistan Relations", &[&hamza, &imran]);
    seed.topics = vec!["Global Policy".into(), "Violent Extremism".into()];
    seed.publication_type = PublicationType::DiscussionPaper.into();
    seed.funding_note = "This research was funded by USIP's Asia Center.".into();
    let seed = app.publish(seed).await;
    let mut neighbour = draft("Countering Violent Extremism in Pakistan", &[&imran]);
    neighbour.topics = vec!["Violent Extremism".into()];
    let neighbour = app.publish(neighbour).await;
    let mut brief = draft("Monsoon Floods and Governance", &[&hamza]);
    brief.publication_type = PublicationType::PolicyBrief.into();
    brief.topics = vec!["Climate".into()];
    let brief = app.publish(brief).await;
    let mut secret = draft("Zanzibarian Negotiations, Not Yet Public", &[&imran]);
    secret.topics = vec!["Violent Extremism".into(), "Secret Topic".into()];
    secret.summary = "Violent extremism in Pakistan, zanzibarian draft.".into();
    let secret = app.create(secret).await.unwrap();
    // Let the rails and the search index catch up with every event above.
    eventually("the neighbour is in the seed's rail", || async {
        fetch(app, &format!("/v1/papers/{}/related?limit=10", seed.slug))
            .await
            .body
            .contains(&neighbour.id)
    })
    .await;
    Site {
        imran,
        hamza,
        seed,
        neighbour,
        brief,
        draft: secret,
        withdrawn,
    }
}

async fn published_content_with_filters_cursors_and_errors(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let s = site(&mut app).await;

    let all = fetch(&app, "/v1/papers").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.header("content-type"), Some("application/json"));
    let listed: Vec<String> = all.json()["papers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        [
            s.brief.slug.clone(),
            s.neighbour.slug.clone(),
            s.seed.slug.clone()
        ],
        "newest first, published only"
    );
    let seed_json = &all.json()["papers"][2];
    assert_eq!(seed_json["type"], "discussion_paper");
    assert_eq!(seed_json["type_label"], "Discussion Paper");
    assert_eq!(
        seed_json["authors"][0]["name"], "Hamza Ijaz",
        "byline order"
    );
    assert_eq!(seed_json["authors"][1]["slug"], s.imran.slug.as_str());

    // Filters.
    let by_topic = fetch(&app, "/v1/papers?topic=violent%20extremism")
        .await
        .json();
    assert_eq!(by_topic["papers"].as_array().unwrap().len(), 2);
    let by_type = fetch(&app, "/v1/papers?type=policy_brief").await.json();
    assert_eq!(by_type["papers"][0]["id"], s.brief.id.as_str());
    let by_author = fetch(&app, &format!("/v1/papers?author={}", s.hamza.slug))
        .await
        .json();
    assert_eq!(by_author["papers"].as_array().unwrap().len(), 2);
    eventually("search has caught up", || async {
        fetch(&app, "/v1/papers?q=monsoon")
            .await
            .body
            .contains(&s.brief.id)
    })
    .await;
    let by_q = fetch(&app, "/v1/papers?q=monsoon").await.json();
    assert_eq!(by_q["papers"][0]["id"], s.brief.id.as_str());
    assert_eq!(by_q["papers"][0]["authors"][0]["name"], "Hamza Ijaz");

    // Cursor paging, one at a time, until the end.
    let mut seen = Vec::new();
    let mut path = "/v1/papers?limit=1".to_owned();
    loop {
        let page = fetch(&app, &path).await.json();
        seen.extend(
            page["papers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["slug"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/papers?limit=1&cursor={}", url_encode(c)),
            None => break,
        }
        assert!(seen.len() <= 3, "{seen:?}");
    }
    assert_eq!(seen, listed);

    // Bad parameters: 400 naming the parameter, JSON body.
    for (path, parameter) in [
        ("/v1/papers?limit=0", "limit"),
        ("/v1/papers?limit=101", "limit"),
        ("/v1/papers?limit=ten", "limit"),
        ("/v1/papers?type=novel", "type"),
        ("/v1/papers?cursor=not-a-cursor", "cursor"),
        ("/v1/papers?q=x&author=imran-khan", "author"),
        ("/v1/search?limit=500", "limit"),
        (
            &format!("/v1/papers/{}/related?limit=51", s.seed.slug) as &str,
            "limit",
        ),
        (
            &format!("/v1/papers/{}/citation?format=docx", s.seed.slug) as &str,
            "format",
        ),
        (
            &format!("/v1/papers/{}/citation", s.seed.slug) as &str,
            "format",
        ),
        ("/v1/pages/x?related_limit=-1", "related_limit"),
    ] {
        let r = fetch(&app, path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let e = r.json();
        assert_eq!(e["error"]["parameter"], parameter, "{path}: {e}");
        assert_eq!(e["error"]["code"], "bad_parameter");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(parameter),
            "{e}"
        );
    }

    // One paper, whole.
    let one = fetch(&app, &format!("/v1/papers/{}", s.seed.slug)).await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(
        one["funding_note"],
        "This research was funded by USIP's Asia Center."
    );
    assert!(
        one["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/publications/{}", s.seed.slug))
    );

    // An author with their published papers only.
    let author = fetch(&app, &format!("/v1/authors/{}", s.imran.slug))
        .await
        .json();
    assert_eq!(author["author"]["name"], "Imran Khan");
    let theirs: Vec<&str> = author["papers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, [s.neighbour.id.as_str(), s.seed.id.as_str()]);
    assert_eq!(fetch(&app, "/v1/authors/nobody-at-all").await.status, 404);
    let nobody = fetch(&app, "/v1/papers?author=nobody-at-all").await.json();
    assert_eq!(nobody["papers"].as_array().unwrap().len(), 0);

    // Search and topics.
    let found = fetch(&app, "/v1/search?q=pakistan").await.json();
    assert_eq!(found["total"], 2, "{found}");
    assert!(
        found["results"][0]["title_html"]
            .as_str()
            .unwrap()
            .contains("<mark>Pakistan</mark>")
    );
    let topics = fetch(&app, "/v1/topics").await.json();
    assert_eq!(topics["topics"][0]["value"], "Violent Extremism");
    assert_eq!(topics["topics"][0]["count"], 2);

    // The whole page, with JSON-LD.
    let page = fetch(&app, &format!("/v1/pages/{}", s.seed.slug))
        .await
        .json();
    assert_eq!(page["paper"]["id"], s.seed.id.as_str());
    assert_eq!(page["authors"][0]["name"], "Hamza Ijaz");
    assert_eq!(page["related_unavailable"], false);
    assert!(
        page["related"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == s.neighbour.id.as_str())
    );
    let ld = &page["json_ld"];
    assert_eq!(ld["@type"], "ScholarlyArticle");
    assert_eq!(ld["headline"], "A Rethinking of US-Pakistan Relations");
    assert_eq!(ld["author"][1]["name"], "Imran Khan");
    assert!(ld["datePublished"].as_str().unwrap().ends_with('Z'));
    let script = page["json_ld_script"].as_str().unwrap();
    assert!(!script.contains('<') && !script.contains('>'));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(script).unwrap(),
        *ld
    );

    // Citations.
    let bib = fetch(
        &app,
        &format!("/v1/papers/{}/citation?format=bibtex", s.seed.slug),
    )
    .await;
    assert_eq!(
        bib.header("content-type"),
        Some("application/x-bibtex; charset=utf-8")
    );
    assert!(
        bib.body.starts_with("@techreport{")
            && bib.body.contains("author = {Ijaz, Hamza and Khan, Imran}"),
        "{}",
        bib.body
    );
    let ris = fetch(
        &app,
        &format!("/v1/papers/{}/citation?format=ris", s.seed.slug),
    )
    .await;
    assert!(ris.body.starts_with("TY  - RPRT"), "{}", ris.body);
    let csl = fetch(
        &app,
        &format!("/v1/papers/{}/citation?format=csl-json", s.seed.slug),
    )
    .await;
    assert_eq!(
        csl.json()[0]["title"],
        "A Rethinking of US-Pakistan Relations"
    );

    // Feeds and the sitemap.
    let feed = fetch(&app, "/feed.atom").await;
    assert_eq!(
        feed.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    assert!(feed.body.contains(&format!("urn:uuid:{}", s.brief.id)));
    let topic_feed = fetch(&app, "/topics/Climate/feed.atom").await;
    assert!(topic_feed.body.contains(&s.brief.id) && !topic_feed.body.contains(&s.seed.id));
    let map = fetch(&app, "/sitemap.xml").await;
    for p in [&s.seed, &s.neighbour, &s.brief] {
        assert!(
            map.body
                .contains(&format!("/publications/{}</loc>", p.slug)),
            "{}",
            map.body
        );
    }

    let doc = fetch(&app, "/openapi.json").await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    app.stop().await;
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn no_draft_is_reachable_publicly(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let s = site(&mut app).await;
    for hidden in [&s.draft, &s.withdrawn] {
        let not_found = fetch(&app, "/v1/papers/no-such-paper-at-all").await;
        for path in [
            format!("/v1/papers/{}", hidden.slug),
            format!("/v1/papers/{}", hidden.id),
            format!("/v1/papers/{}/related", hidden.slug),
            format!("/v1/papers/{}/citation?format=bibtex", hidden.slug),
            format!("/v1/pages/{}", hidden.slug),
        ] {
            let r = fetch(&app, &path).await;
            assert_eq!(r.status, 404, "{path}: {}", r.body);
            assert_eq!(r.json()["error"]["code"], not_found.json()["error"]["code"]);
            assert!(!r.body.contains(&hidden.title), "{path}: {}", r.body);
        }
        // Nowhere in lists, search, facets, rails, feeds or the sitemap either.
        let word = hidden
            .title
            .split_whitespace()
            .next()
            .unwrap()
            .to_lowercase();
        for path in [
            "/v1/papers?limit=100".to_owned(),
            "/v1/papers?topic=violent%20extremism".to_owned(),
            format!("/v1/papers?q={word}"),
            format!("/v1/search?q={word}"),
            "/v1/search?q=pakistan&limit=100".to_owned(),
            "/v1/topics".to_owned(),
            format!("/v1/authors/{}", s.imran.slug),
            format!("/v1/papers/{}/related?limit=50", s.seed.slug),
            format!("/v1/papers/{}/related?limit=50", s.neighbour.slug),
            format!("/v1/pages/{}?related_limit=50", s.neighbour.slug),
            "/feed.atom".to_owned(),
            "/topics/Violent%20Extremism/feed.atom".to_owned(),
            "/sitemap.xml".to_owned(),
        ] {
            let r = fetch(&app, &path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            for leak in [&hidden.id, &hidden.slug, &hidden.title] {
                assert!(
                    !r.body.contains(leak.as_str()),
                    "{path} shows '{leak}': {}",
                    r.body
                );
            }
            assert!(
                !r.body.to_lowercase().contains(&word),
                "{path} shows '{word}'"
            );
        }
    }
    assert!(
        !fetch(&app, "/v1/topics")
            .await
            .body
            .contains("Secret Topic")
    );
    // An author credited only on a draft is not announced before the paper is.
    let newcomer = app.author("Nadia Newcomer").await;
    app.create(draft("Her First Report, Not Yet Out", &[&newcomer]))
        .await
        .unwrap();
    let r = fetch(&app, &format!("/v1/authors/{}", newcomer.slug)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let listed = fetch(&app, &format!("/v1/papers?author={}", newcomer.slug))
        .await
        .json();
    assert_eq!(listed["papers"].as_array().unwrap().len(), 0);
    app.stop().await;
}

async fn etags_304s_and_edits_within_a_second(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let s = site(&mut app).await;
    let path = format!("/v1/pages/{}", s.seed.slug);
    // The setup's events may still move the rail: once the page holds still, a client that
    // has it gets a 304 with no body.
    let etag = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    eventually("a client with the current page gets 304", || async {
        let first = fetch(&app, &path).await;
        let tag = first.header("etag").unwrap().to_owned();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        assert_eq!(first.header("cache-control"), Some("public, no-cache"));
        let again = get(app.public, &path, &[("If-None-Match", &tag)])
            .await
            .unwrap();
        *etag.lock().unwrap() = tag.clone();
        again.status == 304 && again.body.is_empty() && again.header("etag") == Some(tag.as_str())
    })
    .await;
    let etag = etag.lock().unwrap().clone();
    let other = get(
        app.public,
        &path,
        &[("If-None-Match", "\"something-else\"")],
    )
    .await
    .unwrap();
    assert_eq!(other.status, 200);
    // Once the events of the setup are through, a repeat is answered from the cache.
    eventually("a repeated page is a cache hit", || async {
        let before = app.metric("imprint_gateway_cache_hits_total").await;
        fetch(&app, &path).await;
        app.metric("imprint_gateway_cache_hits_total").await == before + 1
    })
    .await;

    // An edit through the editorial API shows on the public page within a second.
    let current = app
        .papers
        .get_paper(imprint_proto::papers::GetPaperRequest {
            key: Some(imprint_proto::papers::get_paper_request::Key::Id(
                s.seed.id.clone(),
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    app.papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: s.seed.id.clone(),
                version: current.version,
                title: "US-Pakistan Relations at 75".into(),
                ..Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap();
    let edited = Instant::now();
    loop {
        let r = get(app.public, &path, &[("If-None-Match", &etag)])
            .await
            .unwrap();
        if r.status == 200 && r.body.contains("US-Pakistan Relations at 75") {
            assert_ne!(r.header("etag"), Some(etag.as_str()));
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(1),
            "the edit did not show within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("edit visible after {:?}", edited.elapsed());
    // An editor's exclusion shows on the public rail at once too (it raises no event).
    let rail = format!("/v1/papers/{}/related?limit=10", s.seed.slug);
    assert!(fetch(&app, &rail).await.body.contains(&s.neighbour.id));
    app.recommendations
        .set_related_overrides(imprint_proto::recommendations::SetRelatedOverridesRequest {
            overrides: Some(imprint_proto::recommendations::RelatedOverrides {
                paper_id: s.seed.id.clone(),
                excluded_paper_ids: vec![s.neighbour.id.clone()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let excluded = Instant::now();
    while fetch(&app, &rail).await.body.contains(&s.neighbour.id) {
        assert!(
            excluded.elapsed() < Duration::from_secs(3),
            "the exclusion did not show"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Errors are not cached and say so.
    let missing = fetch(&app, "/v1/pages/no-such-paper").await;
    assert_eq!(missing.header("cache-control"), Some("no-store"));
    app.stop().await;
}

on_both_backends!(
    published_content_with_filters_cursors_and_errors,
    no_draft_is_reachable_publicly,
    etags_304s_and_edits_within_a_second,
);

/// Readers arriving together at a page nobody has asked for since the last change cost the
/// services one computation, not one per reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_one_page_are_computed_once() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let s = site(&mut app).await;
    // Once the setup's events are through (and their trailing invalidation), nothing drops
    // the cache while the readers come.
    let warm = format!("/v1/papers/{}", s.brief.slug);
    eventually("the cache holds still", || async {
        let before = app.metric("imprint_gateway_cache_hits_total").await;
        fetch(&app, &warm).await;
        app.metric("imprint_gateway_cache_hits_total").await == before + 1
    })
    .await;
    // Each burst asks for a page no one has asked for (a rail size of its own). A page's reads
    // may run without yielding (SQLite reads by key on the request's thread), so a burst's
    // readers do not always overlap the first one's computation: bursts go on until one does.
    let readers = 24;
    let mut overlapped = false;
    for limit in 4..=20 {
        let path = format!("/v1/pages/{}?related_limit={limit}", s.seed.slug);
        let (hits, misses) = (
            app.metric("imprint_gateway_cache_hits_total").await,
            app.metric("imprint_gateway_cache_misses_total").await,
        );
        let before = app.rpc_calls().await;
        let answers = futures::future::join_all((0..readers).map(|_| fetch(&app, &path))).await;
        let after = app.rpc_calls().await;
        let misses = app.metric("imprint_gateway_cache_misses_total").await - misses;
        let hits = app.metric("imprint_gateway_cache_hits_total").await - hits;
        let etags: std::collections::BTreeSet<_> = answers
            .iter()
            .map(|a| {
                assert_eq!(a.status, 200, "{}", a.body);
                a.header("etag").unwrap().to_owned()
            })
            .collect();
        assert_eq!(etags.len(), 1, "every reader got the same answer");
        assert_eq!(hits + misses, readers);
        let made = |method: &str| -> i64 {
            after
                .iter()
                .filter(|((_, m, _), _)| m == method)
                .map(|(k, n)| n - before.get(k).copied().unwrap_or(0))
                .sum()
        };
        eprintln!("related_limit={limit}: {misses} misses, {hits} hits");
        // However many readers missed together, the services were asked once.
        assert_eq!(made("GetPaper"), 1, "the paper was read once");
        assert_eq!(
            made("GetRelatedPublications"),
            1,
            "the rail was asked for once"
        );
        assert_eq!(made("BatchGetAuthors"), 1, "the byline was read once");
        // Some readers came while the first one's answer was being computed (else this
        // burst proves nothing).
        if misses >= 2 {
            overlapped = true;
            break;
        }
    }
    assert!(overlapped, "no burst had two concurrent misses");
    app.stop().await;
}
