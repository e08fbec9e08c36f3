//! `AuthorService` over real gRPC, each case on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft, expect_code, violated_fields};
use imprint_proto::authors::{
    Author, BatchGetAuthorsRequest, CreateAuthorRequest, DeleteAuthorRequest, GetAuthorRequest,
    ListAuthorsRequest, Position, UpdateAuthorRequest, get_author_request::Key,
};
use imprint_proto::papers::{DeletePaperRequest, Paper, UpdatePaperRequest};
use prost_types::FieldMask;
use tonic::Code;

fn create(author: Author) -> CreateAuthorRequest {
    CreateAuthorRequest {
        author: Some(author),
    }
}

async fn create_and_get(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let khan = app
        .authors
        .create_author(create(Author {
            name: "Imran  Khan".into(),
            bio: "Imran Khan is USIP’s country director in Pakistan.".into(),
            positions: vec![Position {
                title: "Country Director".into(),
                organization: "USIP".into(),
            }],
            orcid: "https://orcid.org/0000-0002-1825-0097".into(),
            photo_url: "https://example.org/khan.jpg".into(),
            ..Author::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    assert_eq!(khan.name, "Imran Khan");
    assert_eq!(khan.slug, "imran-khan");
    assert_eq!(khan.orcid, "0000-0002-1825-0097");
    assert_eq!(khan.version, 1);
    // A namesake gets the next free slug.
    let namesake = app.author("Imran Khan").await;
    assert_eq!(namesake.slug, "imran-khan-2");

    for key in [Key::Id(khan.id.clone()), Key::Slug("imran-khan".into())] {
        let got = app
            .authors
            .get_author(GetAuthorRequest { key: Some(key) })
            .await
            .unwrap()
            .into_inner()
            .author
            .unwrap();
        assert_eq!(got, khan);
    }
    expect_code(
        app.authors
            .get_author(GetAuthorRequest {
                key: Some(Key::Slug("nobody".into())),
            })
            .await,
        Code::NotFound,
    );
    let status = expect_code(
        app.authors.get_author(GetAuthorRequest { key: None }).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["key"]);
    app.stop().await;
}

async fn create_refuses_bad_fields(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let status = expect_code(
        app.authors
            .create_author(create(Author {
                name: String::new(),
                orcid: "0000-0002-1825-0098".into(),
                photo_url: "javascript:alert(1)".into(),
                positions: vec![Position::default()],
                ..Author::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        [
            "author.name",
            "author.positions[0]",
            "author.orcid",
            "author.photo_url"
        ]
    );
    assert!(
        status.message().contains("check character"),
        "{}",
        status.message()
    );

    app.authors
        .create_author(create(Author {
            name: "First".into(),
            orcid: "0000-0002-1825-0097".into(),
            ..Author::default()
        }))
        .await
        .unwrap();
    let status = expect_code(
        app.authors
            .create_author(create(Author {
                name: "Second".into(),
                orcid: "0000000218250097".into(),
                ..Author::default()
            }))
            .await,
        Code::AlreadyExists,
    );
    assert!(status.message().contains("ORCID"), "{}", status.message());
    expect_code(
        app.authors
            .create_author(create(Author {
                name: "Third".into(),
                slug: "first".into(),
                ..Author::default()
            }))
            .await,
        Code::AlreadyExists,
    );
    app.stop().await;
}

async fn batch_get_keeps_order_and_reports_missing(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("A").await;
    let b = app.author("B").await;
    let ghost = "01900000-0000-7000-8000-000000000000".to_owned();
    let got = app
        .authors
        .batch_get_authors(BatchGetAuthorsRequest {
            ids: vec![b.id.clone(), ghost.clone(), a.id.clone(), b.id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = got.authors.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["B", "A"]);
    assert_eq!(got.missing_ids, [ghost]);
    let status = expect_code(
        app.authors
            .batch_get_authors(BatchGetAuthorsRequest {
                ids: vec![a.id.clone(), "bad".into()],
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["ids[1]"]);
    expect_code(
        app.authors
            .batch_get_authors(BatchGetAuthorsRequest {
                ids: vec![a.id.clone(); 1001],
            })
            .await,
        Code::InvalidArgument,
    );
    app.stop().await;
}

async fn list_by_name_with_paging(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for name in [
        "Zoë Ziegler",
        "Benoit Thouîn",
        "Imran Khan",
        "Ayesha Khan",
        "Bates Gill",
    ] {
        app.author(name).await;
    }
    let names = |authors: &[Author]| authors.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    let khans = app
        .authors
        .list_authors(ListAuthorsRequest {
            query: "KHAN".into(),
            ..ListAuthorsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&khans.authors), ["Ayesha Khan", "Imran Khan"]);
    let folded = app
        .authors
        .list_authors(ListAuthorsRequest {
            query: "thouin".into(),
            ..ListAuthorsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&folded.authors), ["Benoit Thouîn"]);
    let wildcard = app
        .authors
        .list_authors(ListAuthorsRequest {
            query: "%".into(),
            ..ListAuthorsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(wildcard.authors.is_empty(), "% is matched literally");

    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .authors
            .list_authors(ListAuthorsRequest {
                page_size: 2,
                page_token: token,
                query: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(names(&page.authors));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        all,
        [
            "Ayesha Khan",
            "Bates Gill",
            "Benoit Thouîn",
            "Imran Khan",
            "Zoë Ziegler"
        ]
    );
    expect_code(
        app.authors
            .list_authors(ListAuthorsRequest {
                page_token: "x".into(),
                ..ListAuthorsRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );
    app.stop().await;
}

async fn update_with_mask_and_versions(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Adnan Rafiq").await;
    let authors = app.authors.clone();
    let update = |author: Author, paths: &[&str]| {
        let mut client = authors.clone();
        let update_mask = Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        });
        async move {
            client
                .update_author(UpdateAuthorRequest {
                    author: Some(author),
                    update_mask,
                })
                .await
                .map(|r| r.into_inner().author.unwrap())
        }
    };
    let v2 = update(
        Author {
            id: author.id.clone(),
            version: 1,
            bio: "Dr. Adnan Rafiq formerly served as USIP’s country director in Pakistan.".into(),
            slug: "dr-adnan-rafiq".into(),
            ..Author::default()
        },
        &["bio", "slug"],
    )
    .await
    .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.name, "Adnan Rafiq");
    assert_eq!(v2.slug, "dr-adnan-rafiq");
    let old = app
        .authors
        .get_author(GetAuthorRequest {
            key: Some(Key::Slug("adnan-rafiq".into())),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    assert_eq!(old.id, author.id, "the former slug still resolves");

    expect_code(
        update(
            Author {
                id: author.id.clone(),
                version: 1,
                bio: "stale".into(),
                ..Author::default()
            },
            &["bio"],
        )
        .await,
        Code::Aborted,
    );
    let status = expect_code(
        update(
            Author {
                id: author.id.clone(),
                version: 2,
                orcid: "1234".into(),
                ..Author::default()
            },
            &["orcid"],
        )
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["author.orcid"]);
    let status = expect_code(
        update(v2.clone(), &["version"]).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["update_mask"]);
    let stored = app
        .authors
        .get_author(GetAuthorRequest {
            key: Some(Key::Id(author.id.clone())),
        })
        .await
        .unwrap()
        .into_inner()
        .author
        .unwrap();
    assert_eq!(stored, v2, "refused updates wrote nothing");
    app.stop().await;
}

async fn delete_refused_while_credited(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let a = app.author("Hamza Ijaz").await;
    let b = app.author("Imran Khan").await;
    let paper = app.create(draft("Credited", &[&a, &b])).await.unwrap();
    let status = expect_code(
        app.authors
            .delete_author(DeleteAuthorRequest {
                id: a.id.clone(),
                version: 0,
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains(&paper.slug),
        "{}",
        status.message()
    );

    // Once no paper credits the author, the delete goes through.
    app.papers
        .update_paper(UpdatePaperRequest {
            paper: Some(Paper {
                id: paper.id.clone(),
                version: paper.version,
                author_ids: vec![b.id.clone()],
                ..Paper::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["author_ids".into()],
            }),
        })
        .await
        .unwrap();
    app.authors
        .delete_author(DeleteAuthorRequest {
            id: a.id.clone(),
            version: 1,
        })
        .await
        .unwrap();
    expect_code(
        app.authors
            .get_author(GetAuthorRequest {
                key: Some(Key::Id(a.id.clone())),
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        app.authors
            .delete_author(DeleteAuthorRequest {
                id: a.id.clone(),
                version: 0,
            })
            .await,
        Code::NotFound,
    );
    // Deleting the paper frees the last author too.
    app.papers
        .delete_paper(DeletePaperRequest {
            id: paper.id.clone(),
            version: 0,
        })
        .await
        .unwrap();
    app.authors
        .delete_author(DeleteAuthorRequest {
            id: b.id.clone(),
            version: 0,
        })
        .await
        .unwrap();
    app.stop().await;
}

/// The longest names, in scripts that fold to long ASCII (an emoji becomes its name), page on:
/// their page tokens stay within what the service takes back.
async fn the_longest_names_page_on(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for face in ["😀", "🙃", "😶"] {
        app.author(&face.repeat(200)).await;
    }
    let mut token = String::new();
    let mut seen = 0;
    loop {
        let page = app
            .authors
            .list_authors(ListAuthorsRequest {
                page_size: 1,
                page_token: token.clone(),
                ..ListAuthorsRequest::default()
            })
            .await
            .unwrap_or_else(|s| panic!("page {seen}: {s:?}"))
            .into_inner();
        seen += page.authors.len();
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(
            page.next_page_token.len() > 1_024,
            "a long token: {}",
            page.next_page_token.len()
        );
        token = page.next_page_token;
    }
    assert_eq!(seen, 3);
    app.stop().await;
}

on_both_backends!(
    the_longest_names_page_on,
    create_and_get,
    create_refuses_bad_fields,
    batch_get_keeps_order_and_reports_missing,
    list_by_name_with_paging,
    update_with_mask_and_versions,
    delete_refused_while_credited,
);
