//! The demo content: the seed publication page (a paper, its four authors with their bios, and
//! the three related publications with their dates, types and topics, and the programs and
//! regions they belong to), loaded through the
//! public gRPC API exactly as an editor's front end would, into an empty database. The seed
//! paper's full report is a PDF typeset from the page's text and uploaded to the gateway, so
//! that its downloads, its `citation_pdf_url` and its text (the paper's body, searchable) are
//! there to see.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use imprint_domain::PublicationType;
use imprint_files::pdf::Report;
use imprint_platform::auth::Bearer;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{Author, CreateAuthorRequest, ListAuthorsRequest, Position};
use imprint_proto::convert::{publication_type_to_proto, timestamp, vocabulary_to_proto};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::taxonomy_service_client::TaxonomyServiceClient;
use imprint_proto::papers::{
    Attachment, AttachmentKind, CoverImage, CreatePaperRequest, CreateTermRequest,
    ListPapersRequest, Paper, PublishPaperRequest, Term,
};
use serde::Deserialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::command::{CallFailed, failed};
use crate::upload::{UploadFailed, Uploader};

/// The fixture, transcribed from `shared/seed/publication-page.txt`.
const FIXTURE: &str = include_str!("../fixtures/demo.json");

#[derive(Debug, Deserialize)]
struct Fixture {
    authors: Vec<FixtureAuthor>,
    terms: Vec<FixtureTerm>,
    papers: Vec<FixturePaper>,
}

/// A program or region; a country names its region's key.
#[derive(Debug, Deserialize)]
struct FixtureTerm {
    key: String,
    vocabulary: String,
    name: String,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FixtureAuthor {
    key: String,
    name: String,
    bio: String,
    positions: Vec<FixturePosition>,
}

#[derive(Debug, Deserialize)]
struct FixturePosition {
    title: String,
    organization: String,
}

#[derive(Debug, Deserialize)]
struct FixturePaper {
    title: String,
    summary: String,
    publication_type: String,
    topics: Vec<String>,
    authors: Vec<String>,
    funding_note: String,
    publish_time: Option<DateTime<Utc>>,
    programs: Vec<String>,
    regions: Vec<String>,
}

/// What the demo loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The papers created, the seed page's paper first.
    pub papers: Vec<Paper>,
    /// The authors created.
    pub authors: Vec<Author>,
}

/// A channel to the demo's server, carrying the loader's token.
type Loader = InterceptedService<Channel, Bearer>;

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The fixture compiled into the binary is not what the loader expects (a bug).
    #[error("demo fixture: {0}")]
    Fixture(String),
    /// The loader's token cannot travel in a header.
    #[error(transparent)]
    Token(#[from] imprint_platform::auth::BadToken),
    /// The gRPC listener did not answer within ten seconds.
    #[error("cannot reach the gRPC listener at {addr}: {source}")]
    Unreachable {
        /// Where it was called.
        addr: SocketAddr,
        /// Why.
        source: tonic::transport::Error,
    },
    /// A call failed.
    #[error(transparent)]
    Call(#[from] CallFailed),
    /// A service answered a create with no resource.
    #[error("the {0} service returned no {0}")]
    Empty(&'static str),
    /// The tokens could not be signed.
    #[error("signing the demo's tokens: {0}")]
    Tokens(#[from] imprint_gateway::access::JwtError),
    /// The loading task failed.
    #[error("the loading task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The seed paper's report could not be uploaded.
    #[error("the demo's report: {0}")]
    Upload(#[from] UploadFailed),
}

/// Loads the demo through the gRPC API at `grpc`, as a caller with `token` (it publishes and
/// makes programs and regions, so an admin), unless the databases already hold papers or
/// authors (then `None`: the demo never touches real content). With the public listener
/// (`public`), the seed paper gets its report as a PDF.
pub async fn load(
    grpc: SocketAddr,
    public: Option<SocketAddr>,
    token: &str,
) -> Result<Option<Loaded>, DemoError> {
    let fixture: Fixture =
        serde_json::from_str(FIXTURE).map_err(|e| DemoError::Fixture(e.to_string()))?;
    let channel = InterceptedService::new(connect(grpc).await?, Bearer::new(Some(token))?);
    let mut papers = PaperServiceClient::new(channel.clone());
    let mut taxonomy = TaxonomyServiceClient::new(channel.clone());
    let mut authors = AuthorServiceClient::new(channel);
    if holds_content(&mut papers, &mut authors).await? {
        return Ok(None);
    }
    let created_authors = create_authors(&mut authors, &fixture.authors).await?;
    let terms = create_terms(&mut taxonomy, &fixture.terms).await?;
    let mut created_papers = Vec::new();
    let uploader = public.map(|a| {
        let base = format!("http://{}", imprint_platform::listen::loopback_for(a));
        Uploader::new(base, token)
    });
    for (i, p) in fixture.papers.iter().enumerate() {
        let mut draft = draft(p, &created_authors, &terms)?;
        // The seed paper's report, and a cover for the first related publication.
        match (&uploader, i) {
            (Some(up), 0) => draft
                .attachments
                .push(upload_report(up, p, &created_authors).await?),
            (Some(up), 1) => draft.cover = Some(upload_cover(up).await?),
            _ => {}
        }
        created_papers.push(publish(&mut papers, draft, p).await?);
    }
    Ok(Some(Loaded {
        papers: created_papers,
        authors: created_authors.into_iter().map(|(_, a)| a).collect(),
    }))
}

/// Whether the databases hold any paper or author already.
async fn holds_content(
    papers: &mut PaperServiceClient<Loader>,
    authors: &mut AuthorServiceClient<Loader>,
) -> Result<bool, DemoError> {
    let has_papers = !papers
        .list_papers(ListPapersRequest {
            page_size: 1,
            ..ListPapersRequest::default()
        })
        .await
        .map_err(failed("listing papers"))?
        .into_inner()
        .papers
        .is_empty();
    let has_authors = !authors
        .list_authors(ListAuthorsRequest {
            page_size: 1,
            ..ListAuthorsRequest::default()
        })
        .await
        .map_err(failed("listing authors"))?
        .into_inner()
        .authors
        .is_empty();
    Ok(has_papers || has_authors)
}

/// The fixture's authors, created, by their keys in the fixture.
async fn create_authors(
    authors: &mut AuthorServiceClient<Loader>,
    fixture: &[FixtureAuthor],
) -> Result<Vec<(String, Author)>, DemoError> {
    let mut created_authors = Vec::new();
    for a in fixture {
        let author = Author {
            name: a.name.clone(),
            bio: a.bio.clone(),
            positions: a
                .positions
                .iter()
                .map(|p| Position {
                    title: p.title.clone(),
                    organization: p.organization.clone(),
                })
                .collect(),
            ..Author::default()
        };
        let created = authors
            .create_author(CreateAuthorRequest {
                author: Some(author),
            })
            .await
            .map_err(failed(format!("creating author {}", a.name)))?
            .into_inner()
            .author
            .ok_or(DemoError::Empty("author"))?;
        created_authors.push((a.key.clone(), created));
    }
    Ok(created_authors)
}

/// The fixture's programs and regions, created in order (a region before its countries), by
/// their keys.
async fn create_terms(
    taxonomy: &mut TaxonomyServiceClient<Loader>,
    fixture: &[FixtureTerm],
) -> Result<Vec<(String, Term)>, DemoError> {
    let mut created: Vec<(String, Term)> = Vec::new();
    for t in fixture {
        let vocabulary = imprint_domain::Vocabulary::from_str_opt(&t.vocabulary)
            .ok_or_else(|| DemoError::Fixture(format!("unknown vocabulary {}", t.vocabulary)))?;
        let parent_id = match &t.parent {
            None => String::new(),
            Some(key) => key_of(&created, key)?.id.clone(),
        };
        let term = Term {
            vocabulary: vocabulary_to_proto(vocabulary).into(),
            name: t.name.clone(),
            parent_id,
            ..Term::default()
        };
        let term = taxonomy
            .create_term(CreateTermRequest { term: Some(term) })
            .await
            .map_err(failed(format!("creating {} {}", t.vocabulary, t.name)))?
            .into_inner()
            .term
            .ok_or(DemoError::Empty("term"))?;
        created.push((t.key.clone(), term));
    }
    Ok(created)
}

/// The resource `key` names in `created`.
fn key_of<'a, T>(created: &'a [(String, T)], key: &str) -> Result<&'a T, DemoError> {
    created
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, t)| t)
        .ok_or_else(|| DemoError::Fixture(format!("nothing has the key '{key}'")))
}

/// The seed paper's full report: a PDF of its page's text (title, byline, summary, the
/// authors' bios and the funding note), uploaded through the gateway.
async fn upload_report(
    uploader: &Uploader,
    p: &FixturePaper,
    authors: &[(String, Author)],
) -> Result<Attachment, DemoError> {
    let credited = p
        .authors
        .iter()
        .map(|key| key_of(authors, key))
        .collect::<Result<Vec<_>, _>>()?;
    let report = Report {
        title: p.title.clone(),
        byline: credited
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        sections: vec![
            ("About the Paper".to_owned(), vec![p.summary.clone()]),
            (
                "About the Authors".to_owned(),
                credited.iter().map(|a| a.bio.clone()).collect(),
            ),
            ("Funding".to_owned(), vec![p.funding_note.clone()]),
        ],
    };
    let bytes = report
        .render()
        .map_err(|e| DemoError::Fixture(e.to_string()))?;
    let uploaded = uploader.bytes("report.pdf", bytes).await?;
    Ok(Attachment {
        file_key: uploaded.key,
        kind: AttachmentKind::Report.into(),
        name: "report.pdf".to_owned(),
        label: "Download the report".to_owned(),
        ..Attachment::default()
    })
}

/// A cover for a related publication, so that the rail and the widget show one: a 1200 × 675
/// pattern drawn here (the seed page has no image to reuse), uploaded through the gateway,
/// which makes its smaller copies.
async fn upload_cover(uploader: &Uploader) -> Result<CoverImage, DemoError> {
    let (width, height) = (1200u32, 675u32);
    let pattern = image::RgbImage::from_fn(width, height, |x, y| {
        let band = ((x + 2 * y) / 75) % 2 == 0;
        let shade = u8::try_from(40 + 120 * y / height).unwrap_or(160);
        if band {
            image::Rgb([11, 61, shade.saturating_add(60)])
        } else {
            image::Rgb([242, 169, shade / 4])
        }
    });
    let mut png = std::io::Cursor::new(Vec::new());
    pattern
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| DemoError::Fixture(e.to_string()))?;
    let uploaded = uploader.bytes("cover.png", png.into_inner()).await?;
    Ok(CoverImage {
        file_key: uploaded.key,
        alt: "Diagonal bands of deep blue and gold".to_owned(),
        ..CoverImage::default()
    })
}

/// The fixture's paper `p` as a draft, crediting `authors` and carrying `terms` by their
/// keys.
fn draft(
    p: &FixturePaper,
    authors: &[(String, Author)],
    terms: &[(String, Term)],
) -> Result<Paper, DemoError> {
    let publication_type = PublicationType::from_str_opt(&p.publication_type)
        .ok_or_else(|| DemoError::Fixture(format!("unknown type {}", p.publication_type)))?;
    let mut author_ids = Vec::new();
    for key in &p.authors {
        author_ids.push(key_of(authors, key)?.id.clone());
    }
    let ids = |keys: &[String]| -> Result<Vec<String>, DemoError> {
        keys.iter()
            .map(|k| Ok(key_of(terms, k)?.id.clone()))
            .collect()
    };
    let draft = Paper {
        title: p.title.clone(),
        summary: p.summary.clone(),
        publication_type: publication_type_to_proto(publication_type).into(),
        topics: p.topics.clone(),
        author_ids,
        funding_note: p.funding_note.clone(),
        program_ids: ids(&p.programs)?,
        region_ids: ids(&p.regions)?,
        ..Paper::default()
    };
    Ok(draft)
}

/// `draft` (the fixture's paper `p`) created and published.
async fn publish(
    papers: &mut PaperServiceClient<Loader>,
    draft: Paper,
    p: &FixturePaper,
) -> Result<Paper, DemoError> {
    let created = papers
        .create_paper(CreatePaperRequest { paper: Some(draft) })
        .await
        .map_err(failed(format!("creating paper '{}'", p.title)))?
        .into_inner()
        .paper
        .ok_or(DemoError::Empty("paper"))?;
    papers
        .publish_paper(PublishPaperRequest {
            id: created.id.clone(),
            version: created.version,
            publish_time: p.publish_time.map(timestamp),
        })
        .await
        .map_err(failed(format!("publishing paper '{}'", p.title)))?
        .into_inner()
        .paper
        .ok_or(DemoError::Empty("paper"))
}

/// Loads the demo and prints where to look.
#[allow(clippy::print_stdout)] // Talking to the person who ran `imprint serve --demo`.
pub async fn load_and_announce(
    grpc: SocketAddr,
    http: SocketAddr,
    public: Option<SocketAddr>,
    tokens: &Tokens,
) -> Result<(), DemoError> {
    let loaded = load(grpc, public, &tokens.loader).await?;
    let slug = match &loaded {
        Some(l) => l.papers.first().map(|p| p.slug.clone()).unwrap_or_default(),
        None => String::new(),
    };
    println!();
    match &loaded {
        Some(l) => println!(
            "Imprint demo loaded: {} papers and {} authors from the seed publication page.",
            l.papers.len(),
            l.authors.len()
        ),
        None => {
            println!(
                "The database already holds papers or authors; the demo content was not loaded again."
            );
        }
    }
    println!("  gRPC (with reflection): http://{grpc}");
    println!("  readiness:              http://{http}/readyz");
    if let Some(public) = public {
        let public = imprint_platform::listen::loopback_for(public);
        println!("  public JSON API:        http://{public}/v1/papers  (OpenAPI: /openapi.json)");
        if !slug.is_empty() {
            println!("  the page as JSON:       http://{public}/v1/pages/{slug}");
        }
        let report = loaded
            .as_ref()
            .and_then(|l| l.papers.first())
            .and_then(|p| p.attachments.first());
        if let Some(report) = report {
            println!(
                "  the report (PDF):       http://{public}/v1/papers/{slug}/files/{}/{}",
                report.file_key, report.name
            );
        }
        println!(
            "  widget:                 imprint keys create --partner demo --origin http://localhost:8000, then open\n                          services/gateway/widget/demo-partner.html?gateway=http://{public}&key=<key> from that origin"
        );
    }
    println!(
        "  an editor token, valid for {} hours:",
        tokens.editor_hours
    );
    println!("    export IMPRINT_TOKEN={}", tokens.editor);
    if !slug.is_empty() {
        println!("  try:");
        println!(
            "    npx @bufbuild/buf curl --protocol grpc --http2-prior-knowledge \\\n      -H \"authorization: Bearer $IMPRINT_TOKEN\" \\\n      --data '{{\"slug\": \"{slug}\"}}' \\\n      http://{grpc}/imprint.papers.v1.PaperService/GetPaper"
        );
    }
    println!();
    Ok(())
}

/// The tokens of a demo run.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Loads the content (publishes it).
    pub loader: String,
    /// Printed for the person trying the demo.
    pub editor: String,
    /// How long the editor token lasts.
    pub editor_hours: u64,
}

async fn connect(addr: SocketAddr) -> Result<Channel, DemoError> {
    let endpoint = Endpoint::from_shared(format!(
        "http://{}",
        imprint_platform::listen::loopback_for(addr)
    ))
    .map_err(|source| DemoError::Unreachable { addr, source })?
    .timeout(Duration::from_secs(10));
    let started = Instant::now();
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(error = %e, "waiting for the gRPC listener");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(source) => return Err(DemoError::Unreachable { addr, source }),
        }
    }
}
