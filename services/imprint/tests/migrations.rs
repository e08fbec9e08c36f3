//! Databases an earlier release wrote migrate with nothing lost: the fixture under
//! `tests/fixtures/` is every SQLite database of `imprint serve` at that release, as SQL text
//! (written by `scripts/make-migration-fixture` with that release's binary, before this
//! release's schema changes). This release opens them, migrates them and finds every paper,
//! revision, author, read-model row, pin, exclusion and partner key there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Backend, TestApp, eventually};
use imprint_proto::authors::ListAuthorsRequest;
use imprint_proto::gateway::ListPartnerKeysRequest;
use imprint_proto::gateway::partner_key_service_client::PartnerKeyServiceClient;
use imprint_proto::papers::{ListPaperRevisionsRequest, ListPapersRequest, PaperView};
use imprint_proto::recommendations::{
    GetRelatedOverridesRequest, GetRelatedPublicationsRequest, SearchPublicationsRequest,
    get_related_publications_request,
};
use sea_orm::ConnectionTrait;

/// The release whose databases the fixture holds: the last commit before the schema changes
/// of issue 13.
const RELEASE: &str = "release-5113cbb";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(RELEASE)
}

/// Rows the fixture inserts into each table.
fn rows(sql: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in sql.lines() {
        if let Some(rest) = line.strip_prefix("INSERT INTO \"") {
            let table = rest.split('"').next().unwrap().to_owned();
            *out.entry(table).or_default() += 1;
        }
    }
    out
}

/// What the fixture's README names: `seed <id>`, `pinned <id>`, `excluded <id>`.
fn named(what: &str) -> String {
    let readme = std::fs::read_to_string(fixture().join("README.txt")).unwrap();
    readme
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{what} ")))
        .unwrap_or_else(|| panic!("no {what} in the fixture's README"))
        .to_owned()
}

/// The fixture's databases, written into `dir` as this release's data directory holds them.
async fn restore(dir: &Path) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let sql = std::fs::read_to_string(&path).unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{name}.db")).display()
        );
        let db = sea_orm::Database::connect(&url).await.unwrap();
        // The dump lists tables by name, not in the order their foreign keys need.
        db.execute_unprepared(&format!("PRAGMA foreign_keys = OFF;\n{sql}"))
            .await
            .unwrap_or_else(|e| panic!("restoring {name}: {e}"));
        db.close().await.unwrap();
        counts.insert(name, rows(&sql));
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_of_the_previous_release_migrate_with_nothing_lost() {
    let data = tempfile::tempdir().unwrap();
    let counts = restore(data.path()).await;
    let count = |db: &str, table: &str| counts[db].get(table).copied().unwrap_or(0);
    assert!(count("papers", "papers") >= 4, "{counts:?}");
    let path = data.path().to_path_buf();
    let app = TestApp::spawn_configured(Backend::Sqlite, move |s| s.data_dir = path).await;

    // Every paper, and every revision of the one that was edited.
    let papers = app
        .papers
        .clone()
        .list_papers(ListPapersRequest {
            page_size: 100,
            ..ListPapersRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .papers;
    assert_eq!(papers.len(), count("papers", "papers"));
    let seed = named("seed");
    let revisions = app
        .papers
        .clone()
        .list_paper_revisions(ListPaperRevisionsRequest {
            id: seed.clone(),
            page_size: 100,
            view: PaperView::Basic.into(),
            ..ListPaperRevisionsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert!(
        revisions
            .iter()
            .any(|r| r.changed_fields == ["funding_note"]),
        "{revisions:?}"
    );
    let all_revisions = count("papers", "paper_revisions");
    assert!(revisions.len() < all_revisions, "other papers have theirs");

    // Every author.
    let authors = app
        .authors
        .clone()
        .list_authors(ListAuthorsRequest {
            page_size: 100,
            ..ListAuthorsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .authors;
    assert_eq!(authors.len(), count("authors", "authors"));

    // The read model: every published paper searchable, the pin first and the exclusion gone.
    let found = app
        .recommendations
        .clone()
        .search_publications(SearchPublicationsRequest {
            page_size: 1,
            ..SearchPublicationsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        usize::try_from(found.total_size).unwrap(),
        count("recommendations", "rec_papers")
    );
    // Every paper's type came through the read model's conversion (numbers to names): the
    // type facets count what the papers service says.
    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    for p in &papers {
        *by_type
            .entry(p.publication_type().as_str_name().to_owned())
            .or_default() += 1;
    }
    let facets: BTreeMap<String, i64> = found
        .type_facets
        .iter()
        .map(|f| (f.value.clone(), f.count))
        .collect();
    assert_eq!(facets, by_type);
    let overrides = app
        .recommendations
        .clone()
        .get_related_overrides(GetRelatedOverridesRequest {
            paper_id: seed.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .overrides
        .unwrap();
    assert_eq!(overrides.pinned_paper_ids, [named("pinned")]);
    assert_eq!(overrides.excluded_paper_ids, [named("excluded")]);
    let rail = app
        .recommendations
        .clone()
        .get_related_publications(GetRelatedPublicationsRequest {
            key: Some(get_related_publications_request::Key::PaperId(seed.clone())),
            limit: 10,
            ..GetRelatedPublicationsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .publications;
    assert_eq!(
        rail.first().map(|p| p.paper_id.clone()),
        Some(named("pinned"))
    );
    assert!(rail.iter().all(|p| p.paper_id != named("excluded")));

    // Every partner key, still working at the public API.
    let keys =
        PartnerKeyServiceClient::new(common::authorized(app.grpc, Some(common::ADMIN_TOKEN)))
            .list_partner_keys(ListPartnerKeysRequest::default())
            .await
            .unwrap()
            .into_inner()
            .partner_keys;
    assert_eq!(keys.len(), count("gateway", "partner_keys"));
    assert!(keys.iter().any(|k| k.partner == "Fixture Partner"));

    // And the migrated overrides change as new ones do: the public rail follows at once.
    let slug = papers.iter().find(|p| p.id == seed).unwrap().slug.clone();
    app.recommendations
        .clone()
        .set_related_overrides(imprint_proto::recommendations::SetRelatedOverridesRequest {
            overrides: Some(imprint_proto::recommendations::RelatedOverrides {
                paper_id: seed.clone(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    eventually("the excluded paper is back on the public rail", || async {
        imprint_testkit::get(
            app.public,
            &format!("/v1/papers/{slug}/related?limit=10"),
            &[],
        )
        .await
        .unwrap()
        .body
        .contains(&named("excluded"))
    })
    .await;
    app.stop().await;
}
