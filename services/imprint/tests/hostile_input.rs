//! No input makes the server panic or answer INTERNAL: seeded random requests (odd Unicode,
//! control characters, NUL bytes, huge strings, unknown enum values, malformed ids, tokens and
//! masks) against every RPC, on SQLite and PostgreSQL. Afterwards the server still serves and
//! what was stored before is unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft};
use imprint_proto::authors::{
    Author, BatchGetAuthorsRequest, CreateAuthorRequest, DeleteAuthorRequest, GetAuthorRequest,
    ListAuthorsRequest, Position, UpdateAuthorRequest, get_author_request,
};
use imprint_proto::papers::{
    CreatePaperRequest, DeletePaperRequest, GetPaperRequest, ListPaperRevisionsRequest,
    ListPapersRequest, Paper, PublishPaperRequest, UnpublishPaperRequest, UpdatePaperRequest,
    get_paper_request,
};
use prost_types::{FieldMask, Timestamp};
use tonic::Code;

/// A small deterministic generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }

    fn string(&mut self, valid: &[String]) -> String {
        const NASTY: &[&str] = &[
            "",
            " ",
            "\0",
            "a\0b",
            "\u{7}",
            "\n\r\t",
            "%",
            "_",
            "\\",
            "'; DROP TABLE papers; --",
            "Ω≈ç√∫˜µ",
            "🙂🙃",
            "\u{202e}rtl",
            "\u{FEFF}",
            "ｆｕｌｌｗｉｄｔｈ",
            "0190f2a4-7d1c-7b3e-8f00-0123456789ab",
            "00000000-0000-0000-0000-000000000000",
            "not-a-uuid",
            "-",
            "a--b",
            "https://",
            "javascript:alert(1)",
            "0000-0002-1825-0097",
            "0000-0002-1825-009X",
        ];
        match self.below(6) {
            0 => (*self.pick(NASTY)).to_owned(),
            1 if !valid.is_empty() => self.pick(valid).clone(),
            2 => "é".repeat(usize::try_from(self.below(400)).unwrap()),
            3 => "x".repeat(usize::try_from(self.below(20_000)).unwrap()),
            4 => (0..self.below(40))
                .filter_map(|_| char::from_u32(u32::try_from(self.below(0x11_0000)).unwrap()))
                .collect(),
            _ => format!("{}-{}", self.pick(NASTY), self.below(1000)),
        }
    }

    fn int(&mut self) -> i64 {
        *self.pick(&[0, 1, 2, -1, 7, i64::MAX, i64::MIN, 999])
    }

    fn enum_value(&mut self) -> i32 {
        *self.pick(&[0, 1, 2, 3, 5, 11, 12, -1, 999, i32::MAX])
    }

    fn strings(&mut self, valid: &[String]) -> Vec<String> {
        (0..self.below(5)).map(|_| self.string(valid)).collect()
    }

    fn timestamp(&mut self) -> Option<Timestamp> {
        match self.below(4) {
            0 => None,
            1 => Some(Timestamp {
                seconds: self.int(),
                nanos: i32::try_from(self.int() % 2_000_000_000).unwrap_or(0),
            }),
            2 => Some(Timestamp {
                seconds: 1_717_070_400,
                nanos: 0,
            }),
            _ => Some(Timestamp {
                seconds: -5_000_000_000,
                nanos: 0,
            }),
        }
    }

    fn mask(&mut self) -> Option<FieldMask> {
        let paths = [
            "title",
            "slug",
            "summary",
            "topics",
            "author_ids",
            "name",
            "orcid",
            "status",
            "*",
            "",
            "paper.title",
        ];
        match self.below(3) {
            0 => None,
            _ => Some(FieldMask {
                paths: (0..self.below(4))
                    .map(|_| (*self.pick(&paths)).to_owned())
                    .collect(),
            }),
        }
    }
}

async fn no_input_panics_or_answers_internal(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let author = app.author("Imran Khan").await;
    let paper = app
        .create(draft("Keep Me Intact", &[&author]))
        .await
        .unwrap();
    let ids = vec![author.id.clone(), paper.id.clone()];

    // Text the domain accepts but storage could trip over: names that grow when folded for
    // search, URLs that grow when percent-encoded.
    for name in ["🙂".repeat(200), "漢".repeat(200), "ﷺ".repeat(200)] {
        app.authors
            .create_author(CreateAuthorRequest {
                author: Some(Author {
                    name: name.clone(),
                    photo_url: format!("https://example.org/{}", "é".repeat(300)),
                    ..Author::default()
                }),
            })
            .await
            .unwrap_or_else(|s| panic!("{}…: {s:?}", &name[..8]));
    }
    let status = app
        .authors
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                name: "Long Url".into(),
                photo_url: format!("https://example.org/{}", "é".repeat(1000)),
                ..Author::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..700 {
        let mut papers = app.papers.clone();
        let mut authors = app.authors.clone();
        let random_paper = Paper {
            id: rng.string(&ids),
            slug: rng.string(&[]),
            title: rng.string(&[]),
            summary: rng.string(&[]),
            body: rng.string(&[]),
            publication_type: rng.enum_value(),
            topics: rng.strings(&[]),
            author_ids: rng.strings(&ids),
            funding_note: rng.string(&[]),
            external_id: rng.string(&[]),
            status: rng.enum_value(),
            publish_time: rng.timestamp(),
            version: rng.int(),
            ..Paper::default()
        };
        let random_author = Author {
            id: rng.string(&ids),
            slug: rng.string(&[]),
            name: rng.string(&[]),
            bio: rng.string(&[]),
            positions: (0..rng.below(3))
                .map(|_| Position {
                    title: rng.string(&[]),
                    organization: rng.string(&[]),
                })
                .collect(),
            orcid: rng.string(&[]),
            photo_url: rng.string(&[]),
            version: rng.int(),
            ..Author::default()
        };
        let result: Result<(), tonic::Status> = match round % 14 {
            0 => papers
                .create_paper(CreatePaperRequest {
                    paper: Some(random_paper),
                })
                .await
                .map(drop),
            1 => papers
                .get_paper(GetPaperRequest {
                    key: Some(if rng.below(2) == 0 {
                        get_paper_request::Key::Slug(rng.string(&[]))
                    } else {
                        get_paper_request::Key::Id(rng.string(&ids))
                    }),
                    ..GetPaperRequest::default()
                })
                .await
                .map(drop),
            2 => papers
                .list_papers(ListPapersRequest {
                    page_size: i32::try_from(rng.int() % 1000).unwrap_or(0),
                    page_token: rng.string(&[]),
                    status: rng.enum_value(),
                    topic: rng.string(&[]),
                    publication_type: rng.enum_value(),
                    author_id: rng.string(&ids),
                    view: rng.enum_value(),
                    external_id: rng.string(&[]),
                })
                .await
                .map(drop),
            3 => papers
                .update_paper(UpdatePaperRequest {
                    paper: Some(Paper {
                        id: paper.id.clone(),
                        ..random_paper
                    }),
                    update_mask: rng.mask(),
                })
                .await
                .map(drop),
            4 => papers
                .publish_paper(PublishPaperRequest {
                    id: rng.string(&ids),
                    version: rng.int(),
                    publish_time: rng.timestamp(),
                })
                .await
                .map(drop),
            5 => papers
                .unpublish_paper(UnpublishPaperRequest {
                    id: rng.string(&ids),
                    version: rng.int(),
                })
                .await
                .map(drop),
            6 => papers
                .list_paper_revisions(ListPaperRevisionsRequest {
                    id: rng.string(&ids),
                    page_size: i32::try_from(rng.int() % 1000).unwrap_or(0),
                    page_token: rng.string(&[]),
                    view: rng.enum_value(),
                })
                .await
                .map(drop),
            7 => papers
                .delete_paper(DeletePaperRequest {
                    id: rng.string(&[]),
                    version: rng.int(),
                })
                .await
                .map(drop),
            8 => authors
                .create_author(CreateAuthorRequest {
                    author: Some(random_author),
                })
                .await
                .map(drop),
            9 => authors
                .get_author(GetAuthorRequest {
                    key: Some(if rng.below(2) == 0 {
                        get_author_request::Key::Slug(rng.string(&[]))
                    } else {
                        get_author_request::Key::Id(rng.string(&ids))
                    }),
                })
                .await
                .map(drop),
            10 => authors
                .batch_get_authors(BatchGetAuthorsRequest {
                    ids: rng.strings(&ids),
                })
                .await
                .map(drop),
            11 => authors
                .list_authors(ListAuthorsRequest {
                    page_size: i32::try_from(rng.int() % 1000).unwrap_or(0),
                    page_token: rng.string(&[]),
                    query: rng.string(&[]),
                })
                .await
                .map(drop),
            12 => authors
                .update_author(UpdateAuthorRequest {
                    author: Some(Author {
                        id: author.id.clone(),
                        version: 1,
                        ..random_author
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["bio".into()],
                    }),
                })
                .await
                .map(drop),
            _ => authors
                .delete_author(DeleteAuthorRequest {
                    id: rng.string(&[]),
                    version: rng.int(),
                })
                .await
                .map(drop),
        };
        if let Err(status) = &result {
            assert!(
                !matches!(
                    status.code(),
                    Code::Internal | Code::Unknown | Code::Unavailable
                ),
                "round {round}: {status:?}"
            );
            *codes.entry(format!("{:?}", status.code())).or_default() += 1;
        }
    }
    eprintln!("hostile input outcomes: {codes:?}");
    assert!(
        codes.get("InvalidArgument").copied().unwrap_or(0) > 100,
        "{codes:?}"
    );

    // Still serving, and the paper it was given is still its own (unless a random valid update
    // changed it, which is then a new version, never a corrupted one).
    let stored = app
        .papers
        .get_paper(GetPaperRequest {
            key: Some(get_paper_request::Key::Id(paper.id.clone())),
            ..GetPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!(stored.id, paper.id);
    assert_eq!(stored.author_ids, std::slice::from_ref(&author.id));
    app.stop().await;
}

on_both_backends!(no_input_panics_or_answers_internal);
