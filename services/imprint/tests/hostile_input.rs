//! No input makes the server panic or answer INTERNAL: seeded random requests (odd Unicode,
//! control characters, NUL bytes, huge strings, unknown enum values, malformed ids, tokens and
//! masks) against every RPC, on SQLite and PostgreSQL; malformed protobuf and gRPC framing on
//! every method; every list and string of every request at 100 times its limit, refused before
//! any work in proportion to it while `/readyz` answers within a second; status messages short
//! whatever they echo. Afterwards the server still serves and what was stored is unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, draft};
use imprint_proto::authors::{
    Author, BatchGetAuthorsRequest, CreateAuthorRequest, DeleteAuthorRequest, GetAuthorRequest,
    ListAuthorsRequest, Position, UpdateAuthorRequest, get_author_request,
};
use imprint_proto::papers::taxonomy_service_client::TaxonomyServiceClient;
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
    let region = app
        .term(imprint_proto::papers::Vocabulary::Region, "South Asia")
        .await;
    let ids = vec![
        author.id.clone(),
        paper.id.clone(),
        region.id.clone(),
        region.slug.clone(),
    ];

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
        let mut taxonomy = app.taxonomy.clone();
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
            program_ids: rng.strings(&ids),
            region_ids: rng.strings(&ids),
            series_ids: rng.strings(&ids),
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
        let result: Result<(), tonic::Status> = match round % 21 {
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
                    program: rng.string(&ids),
                    region: rng.string(&ids),
                    series: rng.string(&ids),
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
            14..=17 => random_taxonomy_call(&mut rng, round % 21, &mut taxonomy, &ids).await,
            18 | 19 => random_webhook_call(&mut rng, round % 21, app.grpc, &ids).await,
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

/// One random call of the webhook service: `which` 18 creates or updates, 19 lists, deletes
/// and redelivers.
async fn random_webhook_call(
    rng: &mut Rng,
    which: u64,
    grpc: std::net::SocketAddr,
    ids: &[String],
) -> Result<(), tonic::Status> {
    use imprint_proto::gateway::webhook_service_client::WebhookServiceClient;
    use imprint_proto::gateway::{
        CreateWebhookRequest, DeleteWebhookRequest, ListWebhookDeliveriesRequest,
        RedeliverWebhookRequest, UpdateWebhookRequest, Webhook,
    };
    let mut hooks = WebhookServiceClient::new(common::authorized(grpc, Some(common::ADMIN_TOKEN)));
    let webhook = Webhook {
        id: rng.string(ids),
        // Refused at registration (loopback): nothing is ever sent off this machine.
        url: rng.string(&["https://[::1]/hook".to_owned()]),
        description: rng.string(&[]),
        event_types: rng.strings(&["paper.*".to_owned(), "#".to_owned()]),
        term_ids: rng.strings(ids),
        enabled: rng.below(2) == 0,
        version: rng.int(),
        ..Webhook::default()
    };
    if which == 18 {
        let created = hooks
            .create_webhook(CreateWebhookRequest {
                webhook: Some(webhook.clone()),
            })
            .await
            .map(drop);
        let updated = hooks
            .update_webhook(UpdateWebhookRequest {
                webhook: Some(webhook),
                update_mask: rng.mask(),
            })
            .await
            .map(drop);
        return created.and(updated);
    }
    let listed = hooks
        .list_webhook_deliveries(ListWebhookDeliveriesRequest {
            webhook_id: rng.string(ids),
            status: rng.enum_value(),
            page_size: i32::try_from(rng.int() % 1000).unwrap_or(0),
            page_token: rng.string(&[]),
        })
        .await
        .map(drop);
    let redelivered = hooks
        .redeliver_webhook(RedeliverWebhookRequest {
            delivery_id: rng.string(ids),
        })
        .await
        .map(drop);
    let deleted = hooks
        .delete_webhook(DeleteWebhookRequest {
            id: rng.string(ids),
        })
        .await
        .map(drop);
    listed.and(redelivered).and(deleted)
}

/// One random call of the taxonomy service, `which` of four.
async fn random_taxonomy_call(
    rng: &mut Rng,
    which: u64,
    taxonomy: &mut TaxonomyServiceClient<imprint_platform::clients::Peer>,
    ids: &[String],
) -> Result<(), tonic::Status> {
    use imprint_proto::papers::{
        CreateTermRequest, GetTermRequest, ListTermsRequest, MergeTermsRequest, Term,
        UpdateTermRequest, get_term_request,
    };
    let term = Term {
        id: rng.string(ids),
        vocabulary: rng.enum_value(),
        slug: rng.string(&[]),
        name: rng.string(&[]),
        parent_id: rng.string(ids),
        retired: rng.below(2) == 0,
        version: rng.int(),
        ..Term::default()
    };
    match which {
        14 => taxonomy
            .create_term(CreateTermRequest { term: Some(term) })
            .await
            .map(drop),
        15 => taxonomy
            .update_term(UpdateTermRequest {
                term: Some(term),
                update_mask: rng.mask(),
            })
            .await
            .map(drop),
        16 => taxonomy
            .get_term(GetTermRequest {
                key: Some(if rng.below(2) == 0 {
                    get_term_request::Key::Slug(rng.string(ids))
                } else {
                    get_term_request::Key::Id(rng.string(ids))
                }),
                vocabulary: rng.enum_value(),
            })
            .await
            .map(drop),
        _ => {
            let listed = taxonomy
                .list_terms(ListTermsRequest {
                    vocabulary: rng.enum_value(),
                    show_retired: rng.below(2) == 0,
                    page_size: i32::try_from(rng.int() % 1000).unwrap_or(0),
                    page_token: rng.string(&[]),
                    parent_id: rng.string(ids),
                })
                .await
                .map(drop);
            let merged = taxonomy
                .merge_terms(MergeTermsRequest {
                    source_id: rng.string(ids),
                    target_id: rng.string(ids),
                })
                .await
                .map(drop);
            listed.and(merged)
        }
    }
}

/// Sends encoded request bytes to any method, as a client with its own encoder would.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(buf, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let bytes = bytes::Buf::copy_to_bytes(buf, bytes::Buf::remaining(buf));
        Ok(Some(bytes.to_vec()))
    }
}

/// Calls `path` with `body` as the encoded request.
async fn raw_call(app: &TestApp, path: &str, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let channel = common::authorized(app.grpc, Some(common::ADMIN_TOKEN));
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::try_from(path).unwrap();
    grpc.unary(tonic::Request::new(body), path, Raw)
        .await
        .map(tonic::Response::into_inner)
}

/// Every method of the contract, by path.
const METHODS: [&str; 49] = [
    "/imprint.papers.v1.PaperService/CreatePaper",
    "/imprint.papers.v1.PaperService/BatchCreatePapers",
    "/imprint.papers.v1.PaperService/GetPaper",
    "/imprint.papers.v1.PaperService/ListPapers",
    "/imprint.papers.v1.PaperService/UpdatePaper",
    "/imprint.papers.v1.PaperService/PublishPaper",
    "/imprint.papers.v1.PaperService/UnpublishPaper",
    "/imprint.papers.v1.PaperService/DeletePaper",
    "/imprint.papers.v1.PaperService/ListPaperRevisions",
    "/imprint.papers.v1.PaperService/SchedulePublish",
    "/imprint.papers.v1.PaperService/ScheduleUnpublish",
    "/imprint.papers.v1.PaperService/CancelSchedule",
    "/imprint.papers.v1.PaperService/GetPaperRevisionDiff",
    "/imprint.papers.v1.PaperService/RestorePaperRevision",
    "/imprint.papers.v1.TaxonomyService/CreateTerm",
    "/imprint.papers.v1.TaxonomyService/GetTerm",
    "/imprint.papers.v1.TaxonomyService/ListTerms",
    "/imprint.papers.v1.TaxonomyService/UpdateTerm",
    "/imprint.papers.v1.TaxonomyService/MergeTerms",
    "/imprint.authors.v1.AuthorService/CreateAuthor",
    "/imprint.authors.v1.AuthorService/BatchCreateAuthors",
    "/imprint.authors.v1.AuthorService/GetAuthor",
    "/imprint.authors.v1.AuthorService/BatchGetAuthors",
    "/imprint.authors.v1.AuthorService/ListAuthors",
    "/imprint.authors.v1.AuthorService/UpdateAuthor",
    "/imprint.authors.v1.AuthorService/DeleteAuthor",
    "/imprint.authors.v1.AuthorService/ListAuthorRevisions",
    "/imprint.authors.v1.AuthorService/GetAuthorRevisionDiff",
    "/imprint.authors.v1.AuthorService/RestoreAuthorRevision",
    "/imprint.recommendations.v1.RecommendationService/GetRelatedPublications",
    "/imprint.recommendations.v1.RecommendationService/SearchPublications",
    "/imprint.recommendations.v1.RecommendationService/SetRelatedOverrides",
    "/imprint.recommendations.v1.RecommendationService/GetRelatedOverrides",
    "/imprint.recommendations.v1.RecommendationService/RecordInteraction",
    "/imprint.recommendations.v1.RecommendationService/GetClickThroughRates",
    "/imprint.gateway.v1.PublicationPageService/GetPublicationPage",
    "/imprint.gateway.v1.PartnerKeyService/CreatePartnerKey",
    "/imprint.gateway.v1.PartnerKeyService/ListPartnerKeys",
    "/imprint.gateway.v1.PartnerKeyService/RevokePartnerKey",
    "/imprint.gateway.v1.PreviewLinkService/CreatePreviewLink",
    "/imprint.gateway.v1.PreviewLinkService/ListPreviewLinks",
    "/imprint.gateway.v1.PreviewLinkService/RevokePreviewLink",
    "/imprint.gateway.v1.WebhookService/CreateWebhook",
    "/imprint.gateway.v1.WebhookService/ListWebhooks",
    "/imprint.gateway.v1.WebhookService/UpdateWebhook",
    "/imprint.gateway.v1.WebhookService/DeleteWebhook",
    "/imprint.gateway.v1.WebhookService/ListWebhookDeliveries",
    "/imprint.gateway.v1.WebhookService/RedeliverWebhook",
    "/imprint.gateway.v1.DownloadStatsService/GetDownloadStats",
];

#[test]
fn the_methods_tried_are_every_method_of_the_contract() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(imprint_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut contract: Vec<String> = set
        .file
        .iter()
        .filter(|f| f.package().starts_with("imprint."))
        .flat_map(|f| {
            f.service.iter().flat_map(move |s| {
                s.method
                    .iter()
                    .map(move |m| format!("/{}.{}/{}", f.package(), s.name(), m.name()))
            })
        })
        .collect();
    contract.sort();
    let mut tried: Vec<String> = METHODS.iter().map(|m| (*m).to_owned()).collect();
    tried.sort();
    assert_eq!(tried, contract);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_invalid_argument_on_every_method() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cases: [(&str, Vec<u8>); 4] = [
        // Field 1, length-delimited, whose bytes are not UTF-8: a bad string, or a bad
        // message, or the wrong wire type, whatever field 1 is.
        ("invalid UTF-8 in field 1", vec![0x0a, 0x02, 0xff, 0xfe]),
        ("a length past the end", vec![0x0a, 0x7f, 0x01]),
        ("wire type 7", vec![0x0f, 0x01]),
        ("a truncated varint", vec![0x08, 0xff]),
    ];
    for method in METHODS {
        for (what, bytes) in &cases {
            let status = raw_call(&app, method, bytes.clone()).await.unwrap_err();
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{method}, {what}: {status:?}"
            );
        }
    }
    // Invalid UTF-8 deep inside: CreatePaperRequest.paper.title.
    let nested = vec![0x0a, 0x04, 0x1a, 0x02, 0xc3, 0x28];
    let status = raw_call(&app, METHODS[0], nested).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("title"), "{}", status.message());
    app.stop().await;
}

/// A gRPC-Web call over HTTP/1.1 with `body` as its frames; the status it ends with.
async fn grpc_web(app: &TestApp, path: &str, body: &[u8]) -> (u16, String) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.grpc,
        common::ADMIN_TOKEN,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let raw = imprint_testkit::http_raw(app.grpc, &request).await.unwrap();
    let response = imprint_testkit::parse_response(&raw);
    let status = response
        .header("grpc-status")
        .map(str::to_owned)
        .or_else(|| {
            let text = String::from_utf8_lossy(&raw).into_owned();
            text.split("grpc-status:")
                .nth(1)
                .and_then(|s| s.trim_start().split(|c: char| !c.is_ascii_digit()).next())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (response.status, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_invalid_argument_over_grpc_web_too() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = "/imprint.papers.v1.PaperService/GetPaper";
    let message = prost::Message::encode_to_vec(&GetPaperRequest {
        key: Some(get_paper_request::Key::Slug("nobody-has-this".into())),
        ..GetPaperRequest::default()
    });
    let frame = |flag: u8, payload: &[u8]| {
        let mut out = vec![flag];
        out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        out
    };
    // A well-formed call reaches the service: NOT_FOUND.
    assert_eq!(grpc_web(&app, path, &frame(0, &message)).await.1, "5");
    // Flagged compressed with no grpc-encoding; a flag that means nothing; a frame cut short.
    let truncated = frame(0, &message)[..8].to_vec();
    for (what, body) in [
        ("compressed flag", frame(1, &message)),
        ("flag 2", frame(2, &message)),
        ("truncated", truncated),
    ] {
        let (http, status) = grpc_web(&app, path, &body).await;
        assert_eq!(http, 200, "{what}");
        assert_eq!(status, "3", "{what}: INVALID_ARGUMENT, not INTERNAL (13)");
    }
    // The same over native gRPC: a truncated message.
    let status = raw_call(&app, path, vec![0x12, 0x05, b'a'])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_messages_stay_short_whatever_they_echo() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut pages =
        imprint_proto::gateway::publication_page_service_client::PublicationPageServiceClient::new(
            common::authorized(app.grpc, Some(common::ADMIN_TOKEN)),
        );
    // Slugs of 10,000 and 15,000 characters: the message stays short, the client reads it.
    for n in [10_000, 15_000, 60] {
        let status = pages
            .get_publication_page(imprint_proto::gateway::GetPublicationPageRequest {
                slug: "a".repeat(n),
                related_limit: 0,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(status.code(), Code::NotFound | Code::InvalidArgument),
            "{n}: {status:?}"
        );
        assert!(
            status.message().len() <= 1_000,
            "{n}: {}",
            status.message().len()
        );
    }
    // A message that would be long whatever the service (a 2,000-character NOT_FOUND).
    let status = app
        .papers
        .clone()
        .get_paper(GetPaperRequest {
            key: Some(get_paper_request::Key::Slug("b".repeat(99))),
            ..GetPaperRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().len() < 400, "{}", status.message());
    app.stop().await;
}

/// What a request of `(method, message)` should answer: INVALID_ARGUMENT naming `field`, or,
/// when the message is larger than the service takes at all, OUT_OF_RANGE.
struct Oversized {
    method: &'static str,
    field: &'static str,
    message: Vec<u8>,
}

fn oversized<M: prost::Message>(method: &'static str, field: &'static str, m: &M) -> Oversized {
    Oversized {
        method,
        field,
        message: m.encode_to_vec(),
    }
}

/// The largest request each service takes, by method prefix.
fn message_limit(method: &str) -> usize {
    use imprint_domain::limits::{
        AUTHORS_MESSAGE_BYTES, PAPERS_MESSAGE_BYTES, SMALL_MESSAGE_BYTES,
    };
    if method.contains("PaperService") {
        PAPERS_MESSAGE_BYTES
    } else if method.contains("AuthorService") {
        AUTHORS_MESSAGE_BYTES
    } else {
        SMALL_MESSAGE_BYTES
    }
}

fn x(n: usize) -> String {
    "x".repeat(n)
}

fn many(n: usize, item: &str) -> Vec<String> {
    vec![item.to_owned(); n]
}

/// Every list and string of every request at 100 times its limit.
#[allow(clippy::too_many_lines)] // One table, one row per field.
fn every_field_at_100_times_its_limit() -> Vec<Oversized> {
    use imprint_proto::gateway::{
        CreatePartnerKeyRequest, GetPublicationPageRequest, RevokePartnerKeyRequest,
    };
    use imprint_proto::papers::BatchCreatePapersRequest;
    use imprint_proto::recommendations::{
        GetClickThroughRatesRequest, GetRelatedOverridesRequest, GetRelatedPublicationsRequest,
        RecordInteractionRequest, RelatedOverrides, SearchPublicationsRequest,
        SetRelatedOverridesRequest, get_related_publications_request,
    };
    let id = "0190f2a4-7d1c-7b3e-8f00-0123456789ab";
    let paper = |p: Paper| CreatePaperRequest { paper: Some(p) };
    let author = |a: Author| CreateAuthorRequest { author: Some(a) };
    let update_paper = |paths: Vec<String>| UpdatePaperRequest {
        paper: Some(Paper::default()),
        update_mask: Some(FieldMask { paths }),
    };
    const CREATE_PAPER: &str = "/imprint.papers.v1.PaperService/CreatePaper";
    const CREATE_AUTHOR: &str = "/imprint.authors.v1.AuthorService/CreateAuthor";
    const RELATED: &str =
        "/imprint.recommendations.v1.RecommendationService/GetRelatedPublications";
    const SEARCH: &str = "/imprint.recommendations.v1.RecommendationService/SearchPublications";
    const OVERRIDES: &str = "/imprint.recommendations.v1.RecommendationService/SetRelatedOverrides";
    const RECORD: &str = "/imprint.recommendations.v1.RecommendationService/RecordInteraction";
    const KEYS: &str = "/imprint.gateway.v1.PartnerKeyService/CreatePartnerKey";
    vec![
        oversized(
            "/imprint.gateway.v1.DownloadStatsService/GetDownloadStats",
            "paper_id",
            &imprint_proto::gateway::GetDownloadStatsRequest {
                paper_id: x(10_000),
                ..Default::default()
            },
        ),
        oversized(
            CREATE_PAPER,
            "paper.attachments[0].label",
            &paper(Paper {
                attachments: vec![imprint_proto::papers::Attachment {
                    label: x(20_000),
                    ..Default::default()
                }],
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.id",
            &paper(Paper {
                id: x(6_400),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.slug",
            &paper(Paper {
                slug: x(10_000),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.title",
            &paper(Paper {
                title: x(60_000),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.summary",
            &paper(Paper {
                summary: x(1_000_000),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.body",
            &paper(Paper {
                body: x(100_000_000),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.topics",
            &paper(Paper {
                topics: many(2_000, "t"),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.topics[0]",
            &paper(Paper {
                topics: vec![x(10_000)],
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.author_ids",
            &paper(Paper {
                author_ids: many(100_000, id),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.author_ids[0]",
            &paper(Paper {
                author_ids: vec![x(6_400)],
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.funding_note",
            &paper(Paper {
                funding_note: x(200_000),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.external_id",
            &paper(Paper {
                external_id: x(20_000),
                ..Paper::default()
            }),
        ),
        oversized(
            "/imprint.papers.v1.PaperService/BatchCreatePapers",
            "requests",
            &BatchCreatePapersRequest {
                requests: vec![CreatePaperRequest::default(); 20_000],
                publish: false,
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/GetPaper",
            "id",
            &GetPaperRequest {
                key: Some(get_paper_request::Key::Id(x(6_400))),
                ..GetPaperRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/GetPaper",
            "slug",
            &GetPaperRequest {
                key: Some(get_paper_request::Key::Slug(x(10_000))),
                ..GetPaperRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPapers",
            "page_token",
            &ListPapersRequest {
                page_token: x(102_400),
                ..ListPapersRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPapers",
            "topic",
            &ListPapersRequest {
                topic: x(10_000),
                ..ListPapersRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPapers",
            "author_id",
            &ListPapersRequest {
                author_id: x(6_400),
                ..ListPapersRequest::default()
            },
        ),
        oversized(
            CREATE_PAPER,
            "paper.region_ids",
            &paper(Paper {
                region_ids: many(500, id),
                ..Paper::default()
            }),
        ),
        oversized(
            CREATE_PAPER,
            "paper.program_ids[0]",
            &paper(Paper {
                program_ids: vec![x(10_000)],
                ..Paper::default()
            }),
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPapers",
            "region",
            &ListPapersRequest {
                region: x(10_000),
                ..ListPapersRequest::default()
            },
        ),
        oversized(
            "/imprint.gateway.v1.WebhookService/CreateWebhook",
            "webhook.url",
            &imprint_proto::gateway::CreateWebhookRequest {
                webhook: Some(imprint_proto::gateway::Webhook {
                    url: format!("https://example.org/{}", x(20_000)),
                    ..imprint_proto::gateway::Webhook::default()
                }),
            },
        ),
        oversized(
            "/imprint.gateway.v1.WebhookService/UpdateWebhook",
            "webhook.event_types",
            &imprint_proto::gateway::UpdateWebhookRequest {
                webhook: Some(imprint_proto::gateway::Webhook {
                    event_types: many(2_000, "paper.*"),
                    ..imprint_proto::gateway::Webhook::default()
                }),
                update_mask: None,
            },
        ),
        oversized(
            "/imprint.gateway.v1.WebhookService/ListWebhooks",
            "page_token",
            &imprint_proto::gateway::ListWebhooksRequest {
                page_token: x(50_000),
                ..imprint_proto::gateway::ListWebhooksRequest::default()
            },
        ),
        oversized(
            "/imprint.gateway.v1.WebhookService/DeleteWebhook",
            "id",
            &imprint_proto::gateway::DeleteWebhookRequest { id: x(6_400) },
        ),
        oversized(
            "/imprint.gateway.v1.WebhookService/RedeliverWebhook",
            "delivery_id",
            &imprint_proto::gateway::RedeliverWebhookRequest {
                delivery_id: x(6_400),
            },
        ),
        oversized(
            "/imprint.gateway.v1.WebhookService/ListWebhookDeliveries",
            "webhook_id",
            &imprint_proto::gateway::ListWebhookDeliveriesRequest {
                webhook_id: x(6_400),
                ..imprint_proto::gateway::ListWebhookDeliveriesRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.TaxonomyService/CreateTerm",
            "term.name",
            &imprint_proto::papers::CreateTermRequest {
                term: Some(imprint_proto::papers::Term {
                    name: x(20_000),
                    ..imprint_proto::papers::Term::default()
                }),
            },
        ),
        oversized(
            "/imprint.papers.v1.TaxonomyService/UpdateTerm",
            "update_mask.paths",
            &imprint_proto::papers::UpdateTermRequest {
                term: Some(imprint_proto::papers::Term::default()),
                update_mask: Some(FieldMask {
                    paths: many(2_000, "name"),
                }),
            },
        ),
        oversized(
            "/imprint.papers.v1.TaxonomyService/GetTerm",
            "slug",
            &imprint_proto::papers::GetTermRequest {
                key: Some(imprint_proto::papers::get_term_request::Key::Slug(x(
                    10_000,
                ))),
                vocabulary: 2,
            },
        ),
        oversized(
            "/imprint.papers.v1.TaxonomyService/ListTerms",
            "page_token",
            &imprint_proto::papers::ListTermsRequest {
                page_token: x(50_000),
                ..imprint_proto::papers::ListTermsRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.TaxonomyService/MergeTerms",
            "source_id",
            &imprint_proto::papers::MergeTermsRequest {
                source_id: x(6_400),
                target_id: id.to_owned(),
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPapers",
            "external_id",
            &ListPapersRequest {
                external_id: x(20_000),
                ..ListPapersRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/UpdatePaper",
            "update_mask.paths",
            &update_paper(many(2_000, "title")),
        ),
        oversized(
            "/imprint.papers.v1.PaperService/UpdatePaper",
            "update_mask.paths[0]",
            &update_paper(vec![x(10_000)]),
        ),
        oversized(
            "/imprint.papers.v1.PaperService/UpdatePaper",
            "paper.topics",
            &UpdatePaperRequest {
                paper: Some(Paper {
                    topics: many(2_000, "t"),
                    ..Paper::default()
                }),
                update_mask: None,
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/PublishPaper",
            "id",
            &PublishPaperRequest {
                id: x(6_400),
                ..PublishPaperRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/UnpublishPaper",
            "id",
            &UnpublishPaperRequest {
                id: x(6_400),
                ..UnpublishPaperRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/SchedulePublish",
            "id",
            &imprint_proto::papers::SchedulePublishRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ScheduleUnpublish",
            "id",
            &imprint_proto::papers::ScheduleUnpublishRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/CancelSchedule",
            "id",
            &imprint_proto::papers::CancelScheduleRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/DeletePaper",
            "id",
            &DeletePaperRequest {
                id: x(6_400),
                ..DeletePaperRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPaperRevisions",
            "id",
            &ListPaperRevisionsRequest {
                id: x(6_400),
                ..ListPaperRevisionsRequest::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/ListPaperRevisions",
            "page_token",
            &ListPaperRevisionsRequest {
                page_token: x(102_400),
                ..ListPaperRevisionsRequest::default()
            },
        ),
        oversized(
            CREATE_AUTHOR,
            "author.id",
            &author(Author {
                id: x(6_400),
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.slug",
            &author(Author {
                slug: x(10_000),
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.name",
            &author(Author {
                name: x(20_000),
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.bio",
            &author(Author {
                bio: x(1_000_000),
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.positions",
            &author(Author {
                positions: vec![Position::default(); 2_000],
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.positions[0].title",
            &author(Author {
                positions: vec![Position {
                    title: x(30_000),
                    ..Position::default()
                }],
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.positions[0].organization",
            &author(Author {
                positions: vec![Position {
                    organization: x(30_000),
                    ..Position::default()
                }],
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.orcid",
            &author(Author {
                orcid: x(6_400),
                ..Author::default()
            }),
        ),
        oversized(
            CREATE_AUTHOR,
            "author.photo_url",
            &author(Author {
                photo_url: x(204_800),
                ..Author::default()
            }),
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/BatchCreateAuthors",
            "requests",
            &imprint_proto::authors::BatchCreateAuthorsRequest {
                requests: vec![CreateAuthorRequest::default(); 50_000],
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/GetAuthor",
            "slug",
            &GetAuthorRequest {
                key: Some(get_author_request::Key::Slug(x(10_000))),
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/GetAuthor",
            "id",
            &GetAuthorRequest {
                key: Some(get_author_request::Key::Id(x(6_400))),
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/BatchGetAuthors",
            "ids",
            &BatchGetAuthorsRequest {
                ids: many(100_000, id),
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/BatchGetAuthors",
            "ids[0]",
            &BatchGetAuthorsRequest {
                ids: vec![x(6_400)],
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/ListAuthors",
            "page_token",
            &ListAuthorsRequest {
                page_token: x(102_400),
                ..ListAuthorsRequest::default()
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/ListAuthors",
            "query",
            &ListAuthorsRequest {
                query: x(20_000),
                ..ListAuthorsRequest::default()
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/UpdateAuthor",
            "update_mask.paths",
            &UpdateAuthorRequest {
                author: Some(Author::default()),
                update_mask: Some(FieldMask {
                    paths: many(2_000, "bio"),
                }),
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/DeleteAuthor",
            "id",
            &DeleteAuthorRequest {
                id: x(6_400),
                ..DeleteAuthorRequest::default()
            },
        ),
        oversized(
            RELATED,
            "slug",
            &GetRelatedPublicationsRequest {
                key: Some(get_related_publications_request::Key::Slug(x(10_000))),
                ..GetRelatedPublicationsRequest::default()
            },
        ),
        oversized(
            RELATED,
            "paper_id",
            &GetRelatedPublicationsRequest {
                key: Some(get_related_publications_request::Key::PaperId(x(6_400))),
                ..GetRelatedPublicationsRequest::default()
            },
        ),
        oversized(
            RELATED,
            "publication_types",
            &GetRelatedPublicationsRequest {
                publication_types: vec![1; 2_000],
                ..GetRelatedPublicationsRequest::default()
            },
        ),
        oversized(
            RELATED,
            "regions",
            &GetRelatedPublicationsRequest {
                regions: many(500, "south-asia"),
                ..GetRelatedPublicationsRequest::default()
            },
        ),
        oversized(
            SEARCH,
            "programs[0]",
            &SearchPublicationsRequest {
                programs: vec![x(10_000)],
                ..SearchPublicationsRequest::default()
            },
        ),
        oversized(
            RELATED,
            "topics",
            &GetRelatedPublicationsRequest {
                topics: many(5_000, "t"),
                ..GetRelatedPublicationsRequest::default()
            },
        ),
        oversized(
            RELATED,
            "topics[0]",
            &GetRelatedPublicationsRequest {
                topics: vec![x(10_000)],
                ..GetRelatedPublicationsRequest::default()
            },
        ),
        oversized(
            SEARCH,
            "query",
            &SearchPublicationsRequest {
                query: x(50_000),
                ..SearchPublicationsRequest::default()
            },
        ),
        oversized(
            SEARCH,
            "publication_types",
            &SearchPublicationsRequest {
                publication_types: vec![1; 2_000],
                ..SearchPublicationsRequest::default()
            },
        ),
        oversized(
            SEARCH,
            "topics",
            &SearchPublicationsRequest {
                topics: many(5_000, "t"),
                ..SearchPublicationsRequest::default()
            },
        ),
        oversized(
            SEARCH,
            "page_token",
            &SearchPublicationsRequest {
                page_token: x(102_400),
                ..SearchPublicationsRequest::default()
            },
        ),
        oversized(
            OVERRIDES,
            "overrides.pinned_paper_ids",
            &SetRelatedOverridesRequest {
                overrides: Some(RelatedOverrides {
                    pinned_paper_ids: many(5_000, "p"),
                    ..RelatedOverrides::default()
                }),
            },
        ),
        oversized(
            OVERRIDES,
            "overrides.excluded_paper_ids",
            &SetRelatedOverridesRequest {
                overrides: Some(RelatedOverrides {
                    excluded_paper_ids: many(5_000, "e"),
                    ..RelatedOverrides::default()
                }),
            },
        ),
        oversized(
            OVERRIDES,
            "overrides.paper_id",
            &SetRelatedOverridesRequest {
                overrides: Some(RelatedOverrides {
                    paper_id: x(6_400),
                    ..RelatedOverrides::default()
                }),
            },
        ),
        oversized(
            "/imprint.recommendations.v1.RecommendationService/GetRelatedOverrides",
            "paper_id",
            &GetRelatedOverridesRequest { paper_id: x(6_400) },
        ),
        oversized(
            RECORD,
            "recommendation_id",
            &RecordInteractionRequest {
                recommendation_id: x(102_400),
                ..RecordInteractionRequest::default()
            },
        ),
        oversized(
            RECORD,
            "view_id",
            &RecordInteractionRequest {
                view_id: x(102_400),
                ..RecordInteractionRequest::default()
            },
        ),
        oversized(
            "/imprint.recommendations.v1.RecommendationService/GetClickThroughRates",
            "partner",
            &GetClickThroughRatesRequest {
                partner: x(10_000),
                since: None,
            },
        ),
        oversized(
            "/imprint.gateway.v1.PublicationPageService/GetPublicationPage",
            "slug",
            &GetPublicationPageRequest {
                slug: x(10_000),
                related_limit: 0,
            },
        ),
        oversized(
            KEYS,
            "partner",
            &CreatePartnerKeyRequest {
                partner: x(10_000),
                ..CreatePartnerKeyRequest::default()
            },
        ),
        oversized(
            KEYS,
            "allowed_origins",
            &CreatePartnerKeyRequest {
                allowed_origins: many(2_000, "https://a.org"),
                ..CreatePartnerKeyRequest::default()
            },
        ),
        oversized(
            KEYS,
            "allowed_origins[0]",
            &CreatePartnerKeyRequest {
                allowed_origins: vec![x(30_000)],
                ..CreatePartnerKeyRequest::default()
            },
        ),
        oversized(
            "/imprint.gateway.v1.PartnerKeyService/RevokePartnerKey",
            "id",
            &RevokePartnerKeyRequest { id: x(6_400) },
        ),
        oversized(
            "/imprint.gateway.v1.PreviewLinkService/CreatePreviewLink",
            "paper_id",
            &imprint_proto::gateway::CreatePreviewLinkRequest {
                paper_id: x(6_400),
                lifetime_seconds: 0,
            },
        ),
        oversized(
            "/imprint.gateway.v1.PreviewLinkService/ListPreviewLinks",
            "paper_id",
            &imprint_proto::gateway::ListPreviewLinksRequest { paper_id: x(6_400) },
        ),
        oversized(
            "/imprint.gateway.v1.PreviewLinkService/RevokePreviewLink",
            "id",
            &imprint_proto::gateway::RevokePreviewLinkRequest { id: x(6_400) },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/GetPaperRevisionDiff",
            "id",
            &imprint_proto::papers::GetPaperRevisionDiffRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.papers.v1.PaperService/RestorePaperRevision",
            "id",
            &imprint_proto::papers::RestorePaperRevisionRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/ListAuthorRevisions",
            "id",
            &imprint_proto::authors::ListAuthorRevisionsRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/ListAuthorRevisions",
            "page_token",
            &imprint_proto::authors::ListAuthorRevisionsRequest {
                page_token: x(102_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/GetAuthorRevisionDiff",
            "id",
            &imprint_proto::authors::GetAuthorRevisionDiffRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
        oversized(
            "/imprint.authors.v1.AuthorService/RestoreAuthorRevision",
            "id",
            &imprint_proto::authors::RestoreAuthorRevisionRequest {
                id: x(6_400),
                ..Default::default()
            },
        ),
    ]
}

/// Polls `/readyz` until `stop`; the slowest answer.
async fn slowest_readiness(
    http: std::net::SocketAddr,
    stop: tokio_util::sync::CancellationToken,
) -> std::time::Duration {
    let mut slowest = std::time::Duration::ZERO;
    while !stop.is_cancelled() {
        let started = std::time::Instant::now();
        let answered = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            imprint_testkit::http_get(http, "/readyz"),
        )
        .await;
        let took = started.elapsed();
        assert!(
            matches!(answered, Ok(Ok((200, _)))),
            "/readyz: {answered:?}"
        );
        slowest = slowest.max(took);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_and_string_at_100_times_its_limit_is_refused_while_readyz_answers() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let author = app.author("Imran Khan").await;
    let kept = app.publish(draft("Keep Me Intact", &[&author])).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let readiness = tokio::spawn(slowest_readiness(app.http, stop.clone()));

    let cases = every_field_at_100_times_its_limit();
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.method).collect();
    let without: Vec<&&str> = METHODS
        .iter()
        .filter(|m| !covered.contains(**m) && !m.ends_with("/ListPartnerKeys"))
        .collect();
    assert!(
        without.is_empty(),
        "methods with no oversized field tried: {without:?}"
    );
    let mut refused_whole = 0;
    for case in &cases {
        let status = raw_call(&app, case.method, case.message.clone())
            .await
            .unwrap_err();
        if case.message.len() > message_limit(case.method) {
            // Larger than the service takes at all: refused by its length, unread.
            assert_eq!(
                status.code(),
                Code::OutOfRange,
                "{} {}: {status:?}",
                case.method,
                case.field
            );
            refused_whole += 1;
        } else {
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{} {}: {status:?}",
                case.method,
                case.field
            );
            assert_eq!(
                common::violated_fields(&status).first().map(String::as_str),
                Some(case.field),
                "{}: {status:?}",
                case.method
            );
        }
    }
    eprintln!(
        "{} oversized fields refused, {refused_whole} by the message limit",
        cases.len()
    );

    // What froze the process: three at once, each with 12,000 topics, and 100,000 author ids.
    let calls = (0..3).map(|i| {
        let mut papers = app.papers.clone();
        async move {
            papers
                .create_paper(CreatePaperRequest {
                    paper: Some(Paper {
                        title: format!("Attack {i}"),
                        topics: (0..12_000).map(|t| format!("topic {t}")).collect(),
                        author_ids: vec!["0190f2a4-7d1c-7b3e-8f00-0123456789ab".into(); 100_000],
                        ..Paper::default()
                    }),
                })
                .await
        }
    });
    for outcome in futures::future::join_all(calls).await {
        assert_eq!(outcome.unwrap_err().code(), Code::InvalidArgument);
    }
    stop.cancel();
    let slowest = readiness.await.unwrap();
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "/readyz took {slowest:?} at worst"
    );
    eprintln!("slowest /readyz while attacked: {slowest:?}");
    // Nothing stored was touched.
    let stored = app
        .papers
        .get_paper(GetPaperRequest {
            key: Some(get_paper_request::Key::Id(kept.id.clone())),
            ..GetPaperRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .paper
        .unwrap();
    assert_eq!((stored.title, stored.version), (kept.title, kept.version));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_stops_when_the_callers_deadline_passes() {
    use imprint_proto::papers::BatchCreatePapersRequest;
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let author = app.author("Imran Khan").await;
    let batch = |tag: &str| BatchCreatePapersRequest {
        requests: (0..150)
            .map(|i| CreatePaperRequest {
                paper: Some(Paper {
                    external_id: format!("{tag}-{i}"),
                    body: format!("{tag} paper {i} ").repeat(800),
                    ..draft(&format!("Batch {tag} {i}"), &[&author])
                }),
            })
            .collect(),
        publish: false,
    };
    // How long the batch takes when nobody hurries it.
    let started = std::time::Instant::now();
    app.papers.batch_create_papers(batch("calm")).await.unwrap();
    let takes = started.elapsed();
    // The same work with a tenth of that time: the caller gets DEADLINE_EXCEEDED, and the
    // server stops too (the batch is all or nothing: none of it is stored, then or later).
    let mut hurried = tonic::Request::new(batch("hurried"));
    hurried.set_timeout(takes / 10);
    let status = app.papers.batch_create_papers(hurried).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    tokio::time::sleep(takes * 2).await;
    for i in [0, 75, 149] {
        let found = app
            .papers
            .list_papers(ListPapersRequest {
                external_id: format!("hurried-{i}"),
                ..ListPapersRequest::default()
            })
            .await
            .unwrap()
            .into_inner()
            .papers;
        assert!(
            found.is_empty(),
            "hurried-{i} was stored after its deadline"
        );
    }
    eprintln!(
        "the batch takes {takes:?}; with {:?} it was abandoned",
        takes / 10
    );
    app.stop().await;
}
