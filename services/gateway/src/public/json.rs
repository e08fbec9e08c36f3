//! The public API's JSON shapes, and their OpenAPI schemas. Every field is always present
//! (`null` when empty where the type says so), so that partners can rely on the shape.

use imprint_domain::PublicationType;
use imprint_proto::authors::Author;
use imprint_proto::papers::Paper;
use imprint_proto::recommendations::{RelatedPublication, SearchResult};
use prost_types::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

/// Where the public site shows papers and authors, for links in JSON, feeds and sitemaps.
#[derive(Debug, Clone)]
pub struct Site {
    /// The site's name, as publisher in citations and title of feeds.
    pub name: String,
    /// Its base URL, without a trailing slash.
    pub url: String,
    /// The public API's base URL, without a trailing slash: where downloads are.
    pub api_url: String,
    /// Whose files the links name.
    pub files: FilesScope,
}

/// Where a representation's download and cover links go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FilesScope {
    /// A published paper's: public URLs that CDNs may keep.
    #[default]
    Published,
    /// An unpublished paper's, through its preview link (the token): private, never cached.
    Preview(String),
}

impl Site {
    /// A paper's page on the site.
    pub fn paper_url(&self, slug: &str) -> String {
        format!("{}/publications/{slug}", self.url)
    }

    /// An author's page on the site.
    pub fn author_url(&self, slug: &str) -> String {
        format!("{}/people/{slug}", self.url)
    }

    /// Where the public API serves a paper's download: by the file's key, which never names
    /// other bytes, so that caches may keep it.
    pub fn download_url(&self, slug: &str, key: &str, name: &str) -> String {
        let hex = key.strip_prefix("sha256:").unwrap_or(key);
        format!(
            "{}/files/{hex}/{}",
            self.paper_base(slug),
            path_segment(name)
        )
    }

    /// Where a paper's files are under the public API: its own path, or its preview link's.
    fn paper_base(&self, slug: &str) -> String {
        match &self.files {
            FilesScope::Published => format!("{}/v1/papers/{slug}", self.api_url),
            FilesScope::Preview(token) => format!("{}/v1/preview/{token}", self.api_url),
        }
    }

    /// This site, linking published papers' files.
    pub fn published(&self) -> Self {
        Self {
            files: FilesScope::Published,
            ..self.clone()
        }
    }

    /// This site, linking the files of the paper previewed with `token`.
    pub fn previewing(&self, token: &str) -> Self {
        Self {
            files: FilesScope::Preview(token.to_owned()),
            ..self.clone()
        }
    }

    /// Where the public API serves an author's uploaded photo.
    pub fn photo_url(&self, slug: &str, key: &str) -> String {
        let hex = key.strip_prefix("sha256:").unwrap_or(key);
        format!("{}/v1/authors/{slug}/photo/{hex}", self.api_url)
    }

    /// Where the public API serves a paper's cover image.
    pub fn cover_url(&self, slug: &str, key: &str) -> String {
        let hex = key.strip_prefix("sha256:").unwrap_or(key);
        format!("{}/cover/{hex}", self.paper_base(slug))
    }
}

/// `name` percent-encoded as one path segment (RFC 3986 unreserved characters kept).
fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A file a paper offers for download.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DownloadJson {
    /// What it is: `report`, `summary`, `translation`, `data` or `supplement`.
    pub kind: String,
    /// What the link says.
    pub label: String,
    /// The name it downloads under.
    pub name: String,
    /// Its BCP 47 language, when not the paper's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Its length in bytes.
    pub size: i64,
    /// Its media type.
    pub media_type: String,
    /// Where to download it.
    pub url: String,
}

/// An image: a paper's cover, an author's photo.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageJson {
    /// Where the image is.
    pub url: String,
    /// What it shows.
    pub alt: String,
    /// Its width in pixels.
    pub width: i32,
    /// Its height in pixels.
    pub height: i32,
    /// Its media type.
    pub media_type: String,
    /// Smaller copies (WebP), narrowest first.
    pub renditions: Vec<RenditionJson>,
    /// The copies and the original as an `<img srcset>` ("…/a 320w, …/b 640w, …/c 1600w").
    pub srcset: String,
}

/// A smaller copy of an image.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RenditionJson {
    /// Where it is.
    pub url: String,
    /// Its width in pixels.
    pub width: i32,
    /// Its height in pixels.
    pub height: i32,
    /// Its media type (image/webp).
    pub media_type: String,
}

impl ImageJson {
    /// An image whose original and copies are served at `url(key)`.
    fn new(
        alt: &str,
        original: (&str, i32, i32, &str),
        renditions: &[imprint_proto::files::ImageRendition],
        url: impl Fn(&str) -> String,
    ) -> Self {
        let (key, width, height, media_type) = original;
        let renditions: Vec<RenditionJson> = renditions
            .iter()
            .map(|r| RenditionJson {
                url: url(&r.file_key),
                width: r.width,
                height: r.height,
                media_type: r.media_type.clone(),
            })
            .collect();
        let url = url(key);
        let srcset = renditions
            .iter()
            .map(|r| (r.url.as_str(), r.width))
            .chain(std::iter::once((url.as_str(), width)))
            .map(|(u, w)| format!("{u} {w}w"))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            url,
            alt: alt.to_owned(),
            width,
            height,
            media_type: media_type.to_owned(),
            renditions,
            srcset,
        }
    }
}

/// A paper's downloads, in its order.
fn downloads(p: &Paper, site: &Site) -> Vec<DownloadJson> {
    p.attachments
        .iter()
        .map(|a| {
            let kind = imprint_proto::convert::attachment_kind_from_proto(a.kind);
            DownloadJson {
                kind: kind.map(|k| k.name().to_owned()).unwrap_or_default(),
                label: if a.label.is_empty() {
                    kind.map(|k| k.default_label().to_owned())
                        .unwrap_or_default()
                } else {
                    a.label.clone()
                },
                name: a.name.clone(),
                language: (!a.language.is_empty()).then(|| a.language.clone()),
                size: a.size_bytes,
                media_type: a.media_type.clone(),
                url: site.download_url(&p.slug, &a.file_key, &a.name),
            }
        })
        .collect()
}

/// The full report's download URL, what Google Scholar's `citation_pdf_url` names.
pub fn report_url(p: &Paper, site: &Site) -> Option<String> {
    let report = imprint_proto::papers::AttachmentKind::Report as i32;
    p.attachments
        .iter()
        .find(|a| a.kind == report)
        .map(|a| site.download_url(&p.slug, &a.file_key, &a.name))
}

fn cover(p: &Paper, site: &Site) -> Option<ImageJson> {
    p.cover.as_ref().map(|c| {
        ImageJson::new(
            &c.alt,
            (&c.file_key, c.width, c.height, &c.media_type),
            &c.renditions,
            |key| site.cover_url(&p.slug, key),
        )
    })
}

/// RFC 3339 in UTC, or `None`.
pub fn rfc3339(t: Option<&Timestamp>) -> Option<String> {
    let t = t?;
    let nanos = u32::try_from(t.nanos).ok()?;
    chrono::DateTime::from_timestamp(t.seconds, nanos)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A publication type's stable name and label.
fn kind(value: i32) -> (String, String) {
    match imprint_proto::convert::publication_type_from_proto(value) {
        Ok(Some(t)) => (t.as_str().to_owned(), t.label().to_owned()),
        _ => (String::new(), String::new()),
    }
}

/// `report`, `question_and_answer`, …: the names the `type` filter takes.
pub fn type_names() -> Vec<&'static str> {
    PublicationType::ALL.iter().map(|t| t.as_str()).collect()
}

/// An author as a byline names them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthorRef {
    /// Their id.
    pub id: String,
    /// Their slug: `/v1/authors/{slug}`.
    pub slug: String,
    /// Their name.
    pub name: String,
}

impl From<&Author> for AuthorRef {
    fn from(a: &Author) -> Self {
        Self {
            id: a.id.clone(),
            slug: a.slug.clone(),
            name: a.name.clone(),
        }
    }
}

/// A published paper in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaperSummary {
    /// Its id.
    pub id: String,
    /// Its slug: `/v1/papers/{slug}`.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its summary ("About the Paper").
    pub summary: String,
    /// Its type's name: `report`, `question_and_answer`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Its type as readers see it: "Question and Answer".
    pub type_label: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// Its authors in byline order.
    pub authors: Vec<AuthorRef>,
    /// Its programs, regions and series.
    #[serde(flatten)]
    pub terms: PaperTerms,
    /// When it was published (RFC 3339).
    pub published: Option<String>,
    /// Its page on the site.
    pub url: String,
}

impl PaperSummary {
    /// From a paper and its authors (any order; those the paper credits are picked).
    pub fn new(p: &Paper, authors: &[Author], site: &Site) -> Self {
        let (kind, type_label) = kind(p.publication_type);
        Self {
            id: p.id.clone(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            summary: p.summary.clone(),
            kind,
            type_label,
            topics: p.topics.clone(),
            authors: byline(p, authors).map(AuthorRef::from).collect(),
            terms: PaperTerms::of(p),
            published: rfc3339(p.publish_time.as_ref()),
            url: site.paper_url(&p.slug),
        }
    }
}

/// A program, region or series a paper belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TermJson {
    /// Its slug, which the `program`, `region` and `series` filters and feeds take.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// A paper's programs, regions and series, in the paper's order.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PaperTerms {
    /// Its programs (centers), the main one first.
    pub programs: Vec<TermJson>,
    /// Its regions and countries.
    pub regions: Vec<TermJson>,
    /// The series it belongs to.
    pub series: Vec<TermJson>,
}

impl PaperTerms {
    /// The terms `p` carries, as the papers service described them.
    pub fn of(p: &Paper) -> Self {
        use imprint_proto::papers::Vocabulary;
        let of = |vocabulary: Vocabulary| {
            p.terms
                .iter()
                .filter(|t| t.vocabulary() == vocabulary)
                .map(|t| TermJson {
                    slug: t.slug.clone(),
                    name: t.name.clone(),
                })
                .collect()
        };
        Self {
            programs: of(Vocabulary::Program),
            regions: of(Vocabulary::Region),
            series: of(Vocabulary::Series),
        }
    }
}

/// The authors of `p` among `authors`, in byline order.
pub fn byline<'a>(p: &'a Paper, authors: &'a [Author]) -> impl Iterator<Item = &'a Author> {
    p.author_ids
        .iter()
        .filter_map(|id| authors.iter().find(|a| &a.id == id))
}

/// A published paper, whole.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaperJson {
    /// Its id.
    pub id: String,
    /// Its slug.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its summary ("About the Paper").
    pub summary: String,
    /// Its text (Markdown), possibly empty.
    pub body: String,
    /// Its type's name: `report`, `question_and_answer`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Its type as readers see it.
    pub type_label: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// Its authors in byline order.
    pub authors: Vec<AuthorRef>,
    /// Who funded it, as printed.
    pub funding_note: String,
    /// Its programs, regions and series.
    #[serde(flatten)]
    pub terms: PaperTerms,
    /// When it was published (RFC 3339).
    pub published: Option<String>,
    /// When it last changed (RFC 3339).
    pub updated: Option<String>,
    /// Its page on the site.
    pub url: String,
    /// The files it offers for download, in order.
    pub downloads: Vec<DownloadJson>,
    /// The full report's download URL: Google Scholar's `citation_pdf_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citation_pdf_url: Option<String>,
    /// Its cover image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover: Option<ImageJson>,
}

impl PaperJson {
    /// From a paper and its authors.
    pub fn new(p: &Paper, authors: &[Author], site: &Site) -> Self {
        let (kind, type_label) = kind(p.publication_type);
        Self {
            id: p.id.clone(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            summary: p.summary.clone(),
            body: p.body.clone(),
            kind,
            type_label,
            topics: p.topics.clone(),
            authors: byline(p, authors).map(AuthorRef::from).collect(),
            funding_note: p.funding_note.clone(),
            terms: PaperTerms::of(p),
            published: rfc3339(p.publish_time.as_ref()),
            updated: rfc3339(p.update_time.as_ref()),
            url: site.paper_url(&p.slug),
            downloads: downloads(p, site),
            citation_pdf_url: report_url(p, site),
            cover: cover(p, site),
        }
    }
}

/// One related publication, as the rail shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelatedJson {
    /// Its id.
    pub id: String,
    /// Its slug.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its summary.
    pub summary: String,
    /// Its type's name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its type as readers see it.
    pub type_label: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// When it was published (RFC 3339).
    pub published: Option<String>,
    /// Its page on the site.
    pub url: String,
    /// Identifies this item of this rail, for reporting impressions and clicks.
    pub recommendation_id: String,
    /// Its cover image, with a ready `srcset`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover: Option<ImageJson>,
}

impl RelatedJson {
    /// From the recommendations service's item.
    pub fn new(r: &RelatedPublication, site: &Site) -> Self {
        let (kind, type_label) = kind(r.publication_type);
        Self {
            id: r.paper_id.clone(),
            slug: r.slug.clone(),
            title: r.title.clone(),
            summary: r.summary.clone(),
            kind,
            type_label,
            topics: r.topics.clone(),
            published: rfc3339(r.publish_time.as_ref()),
            url: site.paper_url(&r.slug),
            recommendation_id: r.recommendation_id.clone(),
            // Another paper's cover: its public URLs, even on a preview's page.
            cover: r.cover.as_ref().map(|c| {
                let published = site.published();
                ImageJson::new(
                    &c.alt,
                    (&c.file_key, c.width, c.height, &c.media_type),
                    &c.renditions,
                    |key| published.cover_url(&r.slug, key),
                )
            }),
        }
    }
}

/// A paper's related publications.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelatedList {
    /// Best first.
    pub related: Vec<RelatedJson>,
}

/// A position an author holds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PositionJson {
    /// "Senior Program Officer".
    pub title: String,
    /// "United States Institute of Peace".
    pub organization: String,
}

/// An author's profile ("About the Authors").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthorJson {
    /// Their id.
    pub id: String,
    /// Their slug.
    pub slug: String,
    /// Their name.
    pub name: String,
    /// Their bio.
    pub bio: String,
    /// Their positions, current first.
    pub positions: Vec<PositionJson>,
    /// Their ORCID iD, if known.
    pub orcid: Option<String>,
    /// Their photo's URL, if any: the uploaded one's where there is one.
    pub photo_url: Option<String>,
    /// Their uploaded photo, with what it shows and its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<ImageJson>,
    /// Their page on the site.
    pub url: String,
}

impl AuthorJson {
    /// From the authors service's author.
    pub fn new(a: &Author, site: &Site) -> Self {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let photo = a.photo.as_ref().map(|p| {
            ImageJson::new(
                &p.alt,
                (&p.file_key, p.width, p.height, &p.media_type),
                &p.renditions,
                |key| site.photo_url(&a.slug, key),
            )
        });
        Self {
            id: a.id.clone(),
            slug: a.slug.clone(),
            name: a.name.clone(),
            bio: a.bio.clone(),
            positions: a
                .positions
                .iter()
                .map(|p| PositionJson {
                    title: p.title.clone(),
                    organization: p.organization.clone(),
                })
                .collect(),
            orcid: some(&a.orcid),
            photo_url: photo
                .as_ref()
                .map(|p| p.url.clone())
                .or_else(|| some(&a.photo_url)),
            photo,
            url: site.author_url(&a.slug),
        }
    }
}

/// An author with their published papers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthorPage {
    /// The author.
    pub author: AuthorJson,
    /// Their published papers, newest first.
    pub papers: Vec<PaperSummary>,
    /// Pass as `cursor` for more papers; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of published papers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaperList {
    /// Newest first, or most relevant first with `q`.
    pub papers: Vec<PaperSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A whole publication page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PageJson {
    /// The paper.
    pub paper: PaperJson,
    /// Its authors in byline order.
    pub authors: Vec<AuthorJson>,
    /// Related publications, best first.
    pub related: Vec<RelatedJson>,
    /// True when related publications could not be had just now (the list is then empty).
    pub related_unavailable: bool,
    /// schema.org `ScholarlyArticle`.
    #[schema(value_type = Object)]
    pub json_ld: serde_json::Value,
    /// The same, serialized with `<`, `>` and `&` escaped, ready to put inside
    /// `<script type="application/ld+json">` as it is.
    pub json_ld_script: String,
}

/// A search result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    /// The paper's id.
    pub id: String,
    /// Its slug.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// The title with matches in `<mark>`, HTML-escaped otherwise.
    pub title_html: String,
    /// The best passage, matches in `<mark>`, HTML-escaped otherwise.
    pub snippet_html: String,
    /// Its type's name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its type as readers see it.
    pub type_label: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// When it was published (RFC 3339).
    pub published: Option<String>,
    /// Its page on the site.
    pub url: String,
}

impl SearchHit {
    /// From the search service's result.
    pub fn new(r: &SearchResult, site: &Site) -> Self {
        let (kind, type_label) = kind(r.publication_type);
        Self {
            id: r.paper_id.clone(),
            slug: r.slug.clone(),
            title: r.title.clone(),
            title_html: r.title_highlight.clone(),
            snippet_html: r.snippet.clone(),
            kind,
            type_label,
            topics: r.topics.clone(),
            published: rfc3339(r.publish_time.as_ref()),
            url: site.paper_url(&r.slug),
        }
    }
}

/// A facet value and how many matching papers have it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Facet {
    /// The topic, type name or year, or a program's, region's or series' slug.
    pub value: String,
    /// How many.
    pub count: i64,
    /// A program's, region's or series' name; absent for the other facets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Search results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchJson {
    /// Most relevant first.
    pub results: Vec<SearchHit>,
    /// How many papers match in all.
    pub total: i64,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Topics of the matches, most frequent first.
    pub topics: Vec<Facet>,
    /// Types of the matches.
    pub types: Vec<Facet>,
    /// Years of the matches, newest first.
    pub years: Vec<Facet>,
    /// Programs of the matches, most frequent first.
    pub programs: Vec<Facet>,
    /// Regions and countries of the matches, most frequent first.
    pub regions: Vec<Facet>,
    /// Series of the matches, most frequent first.
    pub series: Vec<Facet>,
}

/// A vocabulary's terms.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TermList {
    /// Its terms, in the order they were made.
    pub terms: Vec<TermEntry>,
}

/// One term of a vocabulary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TermEntry {
    /// Its slug, which filters and feeds take.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// For a country, its region's slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl TermList {
    /// From the papers service's terms (a country's region among them).
    pub fn new(terms: &[imprint_proto::papers::Term]) -> Self {
        Self {
            terms: terms
                .iter()
                .map(|t| TermEntry {
                    slug: t.slug.clone(),
                    name: t.name.clone(),
                    region: terms
                        .iter()
                        .find(|p| !t.parent_id.is_empty() && p.id == t.parent_id)
                        .map(|p| p.slug.clone()),
                })
                .collect(),
        }
    }
}

/// Topics in use.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicList {
    /// The most used topics of published papers, most used first.
    pub topics: Vec<Facet>,
}

/// A citation format (for the OpenAPI document; the handler parses the parameter itself so
/// that a bad one is a 400 naming it).
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum CitationFormat {
    /// BibTeX.
    Bibtex,
    /// RIS.
    Ris,
    /// CSL-JSON.
    CslJson,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorJson {
    /// The error.
    pub error: ErrorBody,
}

/// The error's details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status.
    pub status: u16,
    /// A stable code: `bad_parameter`, `not_found`, `rate_limited`, `unavailable`, …
    pub code: String,
    /// What was wrong, for a person.
    pub message: String,
    /// The query parameter at fault, for `bad_parameter`.
    pub parameter: Option<String>,
}

/// schema.org `ScholarlyArticle` of a page.
pub fn json_ld(p: &Paper, authors: &[Author], site: &Site) -> serde_json::Value {
    let people: Vec<serde_json::Value> = byline(p, authors)
        .map(|a| {
            let mut person = serde_json::json!({
                "@type": "Person",
                "name": a.name,
                "url": site.author_url(&a.slug),
            });
            if !a.orcid.is_empty() {
                person["sameAs"] = format!("https://orcid.org/{}", a.orcid).into();
            }
            if let Some(position) = a.positions.first() {
                person["jobTitle"] = position.title.clone().into();
                person["affiliation"] =
                    serde_json::json!({"@type": "Organization", "name": position.organization});
            }
            person
        })
        .collect();
    let (_, label) = kind(p.publication_type);
    let mut ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "@id": site.paper_url(&p.slug),
        "url": site.paper_url(&p.slug),
        "headline": p.title,
        "name": p.title,
        "abstract": p.summary,
        "genre": label,
        "keywords": p.topics,
        "author": people,
        "publisher": {"@type": "Organization", "name": site.name, "url": site.url},
        "isAccessibleForFree": true,
    });
    if let Some(published) = rfc3339(p.publish_time.as_ref()) {
        ld["datePublished"] = published.into();
    }
    if let Some(updated) = rfc3339(p.update_time.as_ref()) {
        ld["dateModified"] = updated.into();
    }
    if !p.funding_note.is_empty() {
        ld["funding"] = p.funding_note.clone().into();
    }
    let terms = PaperTerms::of(p);
    // The program (center) that made it, the places it is about, the series it is part of.
    let named = |kind: &str, terms: &[TermJson]| -> Vec<serde_json::Value> {
        terms
            .iter()
            .map(|t| serde_json::json!({"@type": kind, "name": t.name}))
            .collect()
    };
    if !terms.programs.is_empty() {
        ld["sourceOrganization"] = named("Organization", &terms.programs).into();
    }
    if !terms.regions.is_empty() {
        ld["spatialCoverage"] = named("Place", &terms.regions).into();
    }
    if !terms.series.is_empty() {
        ld["isPartOf"] = named("CreativeWorkSeries", &terms.series).into();
    }
    files_ld(&mut ld, p, site);
    ld
}

/// The downloads as schema.org `encoding` (`MediaObject`s) and the cover as `image`.
fn files_ld(ld: &mut serde_json::Value, p: &Paper, site: &Site) {
    let encoding: Vec<serde_json::Value> = downloads(p, site)
        .into_iter()
        .map(|d| {
            let mut object = serde_json::json!({
                "@type": "MediaObject",
                "name": d.label,
                "contentUrl": d.url,
                "encodingFormat": d.media_type,
                "contentSize": format!("{} bytes", d.size),
            });
            if let Some(language) = d.language {
                object["inLanguage"] = language.into();
            }
            object
        })
        .collect();
    if !encoding.is_empty() {
        ld["encoding"] = encoding.into();
    }
    if let Some(c) = cover(p, site) {
        ld["image"] = serde_json::json!({
            "@type": "ImageObject",
            "url": c.url,
            "width": c.width,
            "height": c.height,
            "caption": c.alt,
            "encodingFormat": c.media_type,
        });
    }
}

/// What a partner page reports of the rail it showed.
#[derive(Debug, Clone, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionsJson {
    /// The `Imprint-View` header of the response the rail came in: each item's impression and
    /// click count once per view.
    pub view: String,
    /// 1 to 100 interactions: an impression and a click for each item of a rail.
    pub events: Vec<InteractionJson>,
}

/// One impression or click.
#[derive(Debug, Clone, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionJson {
    /// The `recommendation_id` of the item, as served.
    pub recommendation_id: String,
    /// What happened.
    pub kind: InteractionKindJson,
}

/// An item was shown, or clicked.
#[derive(Debug, Clone, Copy, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InteractionKindJson {
    /// Shown.
    Impression,
    /// Clicked.
    Click,
}

/// `value` as JSON that is safe inside an HTML `<script>` element: `<`, `>` and `&` as
/// `\u003c`, `\u003e`, `\u0026` (a title holding `</script>` cannot end the element).
pub fn script_safe(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
