//! The public API's handlers, each with its OpenAPI description.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use imprint_domain::limits::MAX_REPORTED_INTERACTIONS;
use imprint_domain::{Slug, Vocabulary};
use imprint_platform::caller;
use imprint_proto::authors::{
    Author, BatchGetAuthorsRequest, GetAuthorRequest, get_author_request,
};
use imprint_proto::papers::{
    GetPaperRequest, ListPapersRequest, Paper, PaperStatus, PaperView, get_paper_request,
};
use imprint_proto::recommendations::{
    GetRelatedPublicationsRequest, SearchPublicationsRequest, get_related_publications_request,
};
use tonic::Code;

use super::json::{
    AuthorJson, AuthorPage, CitationFormat, ErrorJson, Facet, InteractionsJson, PageJson,
    PaperJson, PaperList, PaperSummary, RelatedJson, RelatedList, SearchHit, SearchJson, TermList,
    TopicList, json_ld,
};
use super::query::{
    CitationQuery, NoQuery, PageQuery, Paging, PaperListQuery, Query, RailQuery, SearchQuery,
    TermParams,
};
use super::{Answer, ApiError, PublicApi, cite, feeds, json_body};
use crate::page::{Audience, PageOf};
use imprint_proto::convert::{publication_type_to_proto, vocabulary_to_proto};

type Api = State<Arc<PublicApi>>;

/// A slug (or topic) from the path. One that is not UTF-8 text is one nobody has: 404, like
/// any other.
pub(super) struct Key(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Key {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(key)| Self(key))
            .map_err(|_| ApiError::not_found("nothing has that name: it is not UTF-8 text"))
    }
}

/// Papers in a feed.
const FEED_ENTRIES: i32 = 50;
/// URLs in one sitemap file (the protocol's limit).
const SITEMAP_URLS: usize = 50_000;

pub(super) fn routes(body_timeout: std::time::Duration) -> Router<Arc<PublicApi>> {
    // The body of a report is read before the handler runs: a client that sends it slowly
    // is answered 408, not waited for.
    let reading = axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            use axum::response::IntoResponse;
            match tokio::time::timeout(body_timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    ApiError::for_status(axum::http::StatusCode::REQUEST_TIMEOUT).into_response()
                }
            }
        },
    );
    Router::new()
        .route("/v1/papers", get(list_papers))
        .route("/v1/papers/{slug}", get(get_paper))
        .route("/v1/papers/{slug}/related", get(related))
        .route("/v1/papers/{slug}/citation", get(citation))
        .route(
            "/v1/papers/{slug}/files/{key}/{name}",
            get(super::downloads::paper_file),
        )
        .route(
            "/v1/papers/{slug}/cover/{key}",
            get(super::downloads::cover),
        )
        .route(
            "/v1/authors/{slug}/photo/{key}",
            get(super::downloads::photo),
        )
        .route("/v1/pages/{slug}", get(page))
        .route("/v1/preview/{token}", get(preview))
        .route(
            "/v1/preview/{token}/files/{key}/{name}",
            get(super::downloads::preview_file),
        )
        .route(
            "/v1/preview/{token}/cover/{key}",
            get(super::downloads::preview_cover),
        )
        .route("/v1/authors/{slug}", get(author))
        .route("/v1/search", get(search))
        .route("/v1/topics", get(topics))
        .route("/feed.atom", get(feed))
        .route("/topics/{topic}/feed.atom", get(topic_feed))
        .route("/programs/{slug}/feed.atom", get(program_feed))
        .route("/regions/{slug}/feed.atom", get(region_feed))
        .route("/series/{slug}/feed.atom", get(series_feed))
        .route("/v1/terms/{vocabulary}", get(terms))
        .route("/sitemap.xml", get(sitemap))
        .route(
            "/v1/interactions",
            axum::routing::post(interactions).layer(reading),
        )
        .fallback(nothing_here)
}

/// Any other path: a JSON 404 like every other error of this API.
async fn nothing_here(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "nothing at {}; /openapi.json lists what there is",
        imprint_domain::shorten(uri.path())
    ))
}

/// The paper field names of the services, as this API calls them.
const LIST_FIELDS: &[(&str, &str)] = &[
    ("page_token", "cursor"),
    ("page_size", "limit"),
    ("topic", "topic"),
    ("topics", "topic"),
    ("query", "q"),
    ("publication_type", "type"),
    ("program", "program"),
    ("region", "region"),
    ("series", "series"),
    ("programs[0]", "program"),
    ("regions[0]", "region"),
    ("series[0]", "series"),
];

/// The term filters of a rail or a search, as the recommendations service takes them.
fn term_lists(terms: TermParams) -> [Vec<String>; 3] {
    [
        terms.program.into_iter().collect(),
        terms.region.into_iter().collect(),
        terms.series.into_iter().collect(),
    ]
}

fn no_paper(slug: &str) -> ApiError {
    ApiError::not_found(format!(
        "no published paper has the slug '{}'",
        imprint_domain::shorten(slug)
    ))
}

/// Whether a refusal names a term filter (`regions[0]`) rather than the paper asked about.
fn names_a_term(status: &tonic::Status) -> bool {
    imprint_proto::status::field_violations(status)
        .iter()
        .any(|(field, _)| {
            ["programs", "regions", "series"]
                .iter()
                .any(|f| field.starts_with(f))
        })
}

/// A slug nobody can have is 404 without asking anyone.
fn check_key(slug: &str) -> Result<(), ApiError> {
    if !Slug::is_valid(slug) {
        return Err(no_paper(slug));
    }
    Ok(())
}

/// The author id a list is asked for when nobody has the slug: no author has it, so the list is
/// empty, and it is asked all the same. An unknown author and one credited only on drafts then
/// take the same path at the same cost, so that a 404's timing does not tell that the profile
/// exists.
fn nobody() -> String {
    uuid::Uuid::nil().to_string()
}

impl PublicApi {
    /// The published paper with `slug` (current or former), whole.
    pub(super) async fn published(&self, slug: &str) -> Result<Paper, ApiError> {
        check_key(slug)?;
        let paper = self
            .papers
            .clone()
            .get_paper(GetPaperRequest {
                key: Some(get_paper_request::Key::Slug(slug.to_owned())),
                view: PaperView::Full.into(),
                published_only: true,
            })
            .await
            .map_err(|s| match s.code() {
                Code::NotFound | Code::InvalidArgument => no_paper(slug),
                _ => ApiError::from_status(&s, &[]),
            })?
            .into_inner()
            .paper
            .ok_or_else(|| no_paper(slug))?;
        if paper.status() != PaperStatus::Published {
            return Err(no_paper(slug));
        }
        Ok(paper)
    }

    /// Paper `id` whatever its status (for a preview link, which names it), `None` when it is
    /// gone.
    pub(super) async fn paper_by_id(
        &self,
        id: imprint_domain::PaperId,
    ) -> Result<Option<Paper>, ApiError> {
        let found = self
            .papers
            .clone()
            .get_paper(GetPaperRequest {
                key: Some(get_paper_request::Key::Id(id.to_string())),
                view: PaperView::Basic.into(),
                published_only: false,
            })
            .await;
        match found {
            Ok(r) => Ok(r.into_inner().paper),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(ApiError::from_status(&s, &[])),
        }
    }

    /// The author with `slug`, `None` when nobody has it.
    pub(super) async fn author_by_slug(&self, slug: &str) -> Result<Option<Author>, ApiError> {
        if !Slug::is_valid(slug) {
            return Ok(None);
        }
        match self
            .authors
            .clone()
            .get_author(GetAuthorRequest {
                key: Some(get_author_request::Key::Slug(slug.to_owned())),
            })
            .await
        {
            Ok(found) => Ok(found.into_inner().author),
            Err(s) if matches!(s.code(), Code::NotFound | Code::InvalidArgument) => Ok(None),
            Err(s) => Err(ApiError::from_status(&s, &[])),
        }
    }

    /// The authors credited by `papers`, in one call.
    async fn authors_of(&self, papers: &[Paper]) -> Result<Vec<Author>, ApiError> {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<String> = papers
            .iter()
            .flat_map(|p| &p.author_ids)
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect();
        // BatchGetAuthors takes at most 1000 ids a call.
        let mut authors = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            authors.extend(
                self.authors
                    .clone()
                    .batch_get_authors(BatchGetAuthorsRequest {
                        ids: chunk.to_vec(),
                    })
                    .await
                    .map_err(|s| ApiError::from_status(&s, &[]))?
                    .into_inner()
                    .authors,
            );
        }
        Ok(authors)
    }

    /// A page of the results of `search`.
    async fn search_page(
        &self,
        search: SearchQuery,
    ) -> Result<imprint_proto::recommendations::SearchPublicationsResponse, ApiError> {
        let [programs, regions, series] = term_lists(search.terms);
        Ok(self
            .recommendations
            .clone()
            .search_publications(SearchPublicationsRequest {
                query: search.q,
                publication_types: search
                    .kind
                    .map(|t| i32::from(publication_type_to_proto(t)))
                    .into_iter()
                    .collect(),
                topics: search.topic.into_iter().collect(),
                page_size: search.paging.limit,
                page_token: search.paging.cursor,
                programs,
                regions,
                series,
                ..SearchPublicationsRequest::default()
            })
            .await
            .map_err(|s| ApiError::from_status(&s, LIST_FIELDS))?
            .into_inner())
    }

    /// A page of the published papers `q` finds, most relevant first, with their bylines.
    async fn searched_papers(&self, search: SearchQuery) -> Result<Answer, ApiError> {
        let found = self.search_page(search).await?;
        // Search results do not carry bylines: read the page's papers (at most 100, at once).
        let papers = futures::future::join_all(found.results.iter().map(|r| {
            let mut papers = self.papers.clone();
            let id = r.paper_id.clone();
            async move {
                papers
                    .get_paper(GetPaperRequest {
                        key: Some(get_paper_request::Key::Id(id)),
                        view: PaperView::Basic.into(),
                        published_only: true,
                    })
                    .await
            }
        }))
        .await;
        let papers: Vec<Paper> = papers
            .into_iter()
            .filter_map(|r| r.ok().and_then(|r| r.into_inner().paper))
            .filter(|p| p.status() == PaperStatus::Published)
            .collect();
        let authors = self.authors_of(&papers).await?;
        json_body(&PaperList {
            papers: papers
                .iter()
                .map(|p| PaperSummary::new(p, &authors, &self.site))
                .collect(),
            next_cursor: (!found.next_page_token.is_empty()).then_some(found.next_page_token),
        })
    }

    /// A page of published papers, newest first.
    pub(super) async fn list(
        &self,
        filter: ListPapersRequest,
    ) -> Result<(Vec<Paper>, Option<String>), ApiError> {
        let page = self
            .papers
            .clone()
            .list_papers(ListPapersRequest {
                status: PaperStatus::Published.into(),
                view: PaperView::Basic.into(),
                ..filter
            })
            .await
            .map_err(|s| ApiError::from_status(&s, LIST_FIELDS))?
            .into_inner();
        let next = (!page.next_page_token.is_empty()).then_some(page.next_page_token);
        Ok((page.papers, next))
    }
}

/// Published papers, newest first; with `q`, most relevant first.
#[utoipa::path(
    get,
    path = "/v1/papers",
    tag = "papers",
    params(
        ("topic" = Option<String>, Query, description = "Only papers with this topic (any case)"),
        ("type" = Option<String>, Query, description = "Only papers of this type: report, discussion_paper, question_and_answer, analysis, article, policy_brief, working_paper, preprint, conference_paper, journal_article, book"),
        ("author" = Option<String>, Query, description = "Only papers by the author with this slug (none when no such author has published); not with q"),
        ("program" = Option<String>, Query, description = "Only papers of this program: its slug, current or former"),
        ("region" = Option<String>, Query, description = "Only papers of this region or of a country under it: its slug, current or former"),
        ("series" = Option<String>, Query, description = "Only papers of this series: its slug, current or former"),
        ("q" = Option<String>, Query, description = "Words to search for in titles, summaries and text: every word must appear; \"quoted words\" must appear together; -word leaves out papers with it. Nothing else is syntax. At most 500 characters and 64 words"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 100, description = "Papers per page, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page, with the same filters"),
    ),
    responses(
        (status = 200, description = "A page of papers", body = PaperList),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
    )
)]
pub(super) async fn list_papers(
    State(api): Api,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<PaperListQuery>,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), query, |query| async move {
        let api = inner;
        let PaperListQuery {
            kind,
            topic,
            author,
            q,
            terms,
            paging,
        } = query;
        if let Some(q) = q {
            let search = SearchQuery {
                q,
                kind,
                topic,
                terms,
                paging,
            };
            return api.searched_papers(search).await;
        }
        // Nobody by that slug: an empty list, by the same path as for an author whose
        // papers are all drafts (which must not be told apart).
        let author_id = match author {
            None => String::new(),
            Some(slug) => api
                .author_by_slug(&slug)
                .await?
                .map_or_else(nobody, |a| a.id),
        };
        let (papers, next_cursor) = api
            .list(ListPapersRequest {
                page_size: paging.limit,
                page_token: paging.cursor,
                topic: topic.unwrap_or_default(),
                publication_type: kind
                    .map(|t| i32::from(publication_type_to_proto(t)))
                    .unwrap_or_default(),
                author_id,
                program: terms.program.unwrap_or_default(),
                region: terms.region.unwrap_or_default(),
                series: terms.series.unwrap_or_default(),
                ..ListPapersRequest::default()
            })
            .await?;
        let authors = api.authors_of(&papers).await?;
        json_body(&PaperList {
            papers: papers
                .iter()
                .map(|p| PaperSummary::new(p, &authors, &api.site))
                .collect(),
            next_cursor,
        })
    })
    .await
}

/// A published paper, by its slug (current or former).
#[utoipa::path(
    get,
    path = "/v1/papers/{slug}",
    tag = "papers",
    params(("slug" = String, Path, description = "The paper's slug")),
    responses(
        (status = 200, description = "The paper", body = PaperJson),
        (status = 404, description = "No published paper has this slug", body = ErrorJson),
    )
)]
pub(super) async fn get_paper(
    State(api): Api,
    Key(slug): Key,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        let paper = inner.published(&slug).await?;
        let authors = inner.authors_of(std::slice::from_ref(&paper)).await?;
        json_body(&PaperJson::new(&paper, &authors, &inner.site))
    })
    .await
}

/// A published paper's related publications, best first.
#[utoipa::path(
    get,
    path = "/v1/papers/{slug}/related",
    tag = "papers",
    params(
        ("slug" = String, Path, description = "The paper's slug"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 50, description = "How many, default 3"),
        ("program" = Option<String>, Query, description = "Only publications of this program: its slug, current or former"),
        ("region" = Option<String>, Query, description = "Only publications of this region or of a country under it: its slug, current or former"),
        ("series" = Option<String>, Query, description = "Only publications of this series: its slug, current or former"),
        ("key" = Option<String>, Query, description = "A partner's publishable key: attributes the rail to the partner, and lets pages at the key's origins read it"),
    ),
    responses(
        (status = 200, description = "Related publications", body = RelatedList, headers(
            ("Imprint-View" = String, description = "This serving of the rail: send it as `view` with the interactions of its items (within 24 hours)")
        )),
        (status = 401, description = "The key does not work", body = ErrorJson),
        (status = 403, description = "The key is not bound to the page's origin", body = ErrorJson),
        (status = 429, description = "The key is past its rate limit", body = ErrorJson),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
        (status = 404, description = "No published paper has this slug", body = ErrorJson),
    )
)]
pub(super) async fn related(
    State(api): Api,
    Key(slug): Key,
    via: Option<axum::Extension<super::Via>>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<RailQuery>,
) -> Response {
    let inner = api.clone();
    // A rail served to a partner is the partner's (its views name it): cached apart.
    let partner = via.map(|v| v.0.0.name.clone());
    let key = (query, partner);
    api.cached(&headers, uri.path(), key, |(query, partner)| async move {
        let limit = query.limit;
        check_key(&slug)?;
        let [programs, regions, series] = term_lists(query.terms);
        let mut request = tonic::Request::new(GetRelatedPublicationsRequest {
            key: Some(get_related_publications_request::Key::Slug(slug.clone())),
            limit,
            programs,
            regions,
            series,
            ..GetRelatedPublicationsRequest::default()
        });
        caller::for_partner(&mut request, partner.as_deref());
        let found = inner
            .recommendations
            .clone()
            .get_related_publications(request)
            .await
            .map_err(|s| match s.code() {
                // A term nobody has is the client's, by name; the key is the paper's.
                Code::InvalidArgument if names_a_term(&s) => ApiError::from_status(&s, LIST_FIELDS),
                // The recommendations service knows published papers only.
                Code::NotFound | Code::InvalidArgument => no_paper(&slug),
                _ => ApiError::from_status(&s, &[]),
            })?
            .into_inner();
        let rail = inner.rail_of(&found.view_id);
        json_body(&RelatedList {
            related: found
                .publications
                .iter()
                .map(|r| RelatedJson::new(r, &inner.site))
                .collect(),
        })
        .map(|answer| answer.serving(rail))
    })
    .await
}

/// The whole publication page: paper, authors in byline order, related publications and
/// schema.org JSON-LD.
#[utoipa::path(
    get,
    path = "/v1/pages/{slug}",
    tag = "pages",
    params(
        ("slug" = String, Path, description = "The paper's slug"),
        ("related_limit" = Option<i32>, Query, minimum = 1, maximum = 50, description = "Related publications, default 3"),
    ),
    responses(
        (status = 200, description = "The page", body = PageJson, headers(
            ("Imprint-View" = String, description = "This serving of the page's rail, for RecordInteraction of its items")
        )),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
        (status = 404, description = "No published paper has this slug", body = ErrorJson),
    )
)]
pub(super) async fn page(
    State(api): Api,
    Key(slug): Key,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<PageQuery>,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), query, |query| async move {
        let limit = query.related_limit;
        check_key(&slug)?;
        let page = inner
            .pages
            .page(PageOf::Slug(&slug), limit, Audience::Public, None)
            .await
            .map_err(|s| match s.code() {
                Code::NotFound | Code::InvalidArgument => no_paper(&slug),
                _ => ApiError::from_status(&s, &[]),
            })?;
        let complete = !page.related_unavailable;
        let json = page_json(page, &inner.site).ok_or_else(|| no_paper(&slug))?;
        json_body(&json).map(|answer| answer.store_if(complete))
    })
    .await
}

/// The JSON of a publication page; `None` without its paper.
fn page_json(
    page: imprint_proto::gateway::PublicationPage,
    site: &super::Site,
) -> Option<PageJson> {
    let paper = page.paper?;
    let ld = json_ld(&paper, &page.authors, site);
    Some(PageJson {
        json_ld_script: super::json::script_safe(&ld),
        json_ld: ld,
        paper: PaperJson::new(&paper, &page.authors, site),
        authors: page
            .authors
            .iter()
            .map(|a| AuthorJson::new(a, site))
            .collect(),
        related: page
            .related
            .iter()
            .map(|r| RelatedJson::new(r, site))
            .collect(),
        related_unavailable: page.related_unavailable,
    })
}

/// An unpublished paper's page (a draft, or a paper under embargo) through a preview link
/// an editor made: never stored in the shared cache, kept by nobody's cache, not indexed.
/// A revoked, expired or forged link is 404, like a paper nobody has.
#[utoipa::path(
    get,
    path = "/v1/preview/{token}",
    tag = "pages",
    params(
        ("token" = String, Path, description = "The preview link's token"),
        ("related_limit" = Option<i32>, Query, minimum = 1, maximum = 50, description = "Related publications, default 3"),
    ),
    responses(
        (status = 200, description = "The page, as it will be published", body = PageJson, headers(
            ("Cache-Control" = String, description = "private, no-store"),
            ("X-Robots-Tag" = String, description = "noindex")
        )),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
        (status = 404, description = "No working preview link has this token", body = ErrorJson),
    )
)]
pub(super) async fn preview(
    State(api): Api,
    Key(token): Key,
    Query(query): Query<PageQuery>,
) -> Response {
    use axum::response::IntoResponse;
    let answer = tokio::time::timeout(api.timeout, preview_page(&api, &token, query)).await;
    let mut response = match answer {
        Ok(Ok(json)) => match json_body(&json) {
            Ok(answer) => answer.into_private_response(),
            Err(e) => e.into_response(),
        },
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::for_status(axum::http::StatusCode::SERVICE_UNAVAILABLE).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        "x-robots-tag",
        axum::http::HeaderValue::from_static("noindex"),
    );
    // The token is in the URL: pages linked from the preview must not learn it.
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The page a preview link shows, or 404 alike for every link that does not work.
async fn preview_page(
    api: &PublicApi,
    token: &str,
    query: PageQuery,
) -> Result<PageJson, ApiError> {
    let no_preview = || ApiError::not_found("no working preview link has this token");
    let id = api
        .previews
        .resolve(token, chrono::Utc::now())
        .await
        .map_err(|e| ApiError::from_status(&tonic::Status::from(e), &[]))?
        .ok_or_else(no_preview)?;
    // By id: the link names the paper, not whatever holds its slug now.
    let page = api
        .pages
        .page(
            PageOf::Id(id),
            query.related_limit,
            Audience::Editorial,
            None,
        )
        .await
        .map_err(|s| match s.code() {
            Code::NotFound => no_preview(),
            _ => ApiError::from_status(&s, &[]),
        })?;
    // Its downloads and cover through the link too: a draft's files are not public.
    page_json(page, &api.site.previewing(token)).ok_or_else(no_preview)
}

/// An author and their published papers, newest first.
#[utoipa::path(
    get,
    path = "/v1/authors/{slug}",
    tag = "authors",
    params(
        ("slug" = String, Path, description = "The author's slug"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 100, description = "Papers per page, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "The author", body = AuthorPage),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
        (status = 404, description = "No author with this slug has published a paper", body = ErrorJson),
    )
)]
pub(super) async fn author(
    State(api): Api,
    Key(slug): Key,
    headers: HeaderMap,
    uri: Uri,
    Query(paging): Query<Paging>,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), paging, |paging| async move {
        let Paging { limit, cursor } = paging;
        let none = || {
            ApiError::not_found(format!(
                "no author has the slug '{}'",
                imprint_domain::shorten(&slug)
            ))
        };
        let author = inner.author_by_slug(&slug).await?;
        let first_page = cursor.is_empty();
        let (papers, next_cursor) = inner
            .list(ListPapersRequest {
                page_size: limit,
                page_token: cursor,
                author_id: author.as_ref().map_or_else(nobody, |a| a.id.clone()),
                ..ListPapersRequest::default()
            })
            .await?;
        // An author public readers can see is one with a published paper: someone credited
        // only on drafts is not announced before the paper is.
        let Some(author) = author.filter(|_| !(first_page && papers.is_empty())) else {
            return Err(none());
        };
        let authors = inner.authors_of(&papers).await?;
        json_body(&AuthorPage {
            author: AuthorJson::new(&author, &inner.site),
            papers: papers
                .iter()
                .map(|p| PaperSummary::new(p, &authors, &inner.site))
                .collect(),
            next_cursor,
        })
    })
    .await
}

/// Full-text search over published papers, with facets and highlighted snippets.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(
        ("q" = Option<String>, Query, description = "Words to search for: every word must appear; \"quoted words\" must appear together; -word leaves out papers with it. Nothing else is syntax. At most 500 characters and 64 words; empty lists every paper, newest first"),
        ("topic" = Option<String>, Query, description = "Only papers with this topic"),
        ("type" = Option<String>, Query, description = "Only papers of this type"),
        ("program" = Option<String>, Query, description = "Only papers of this program: its slug, current or former"),
        ("region" = Option<String>, Query, description = "Only papers of this region or of a country under it: its slug, current or former"),
        ("series" = Option<String>, Query, description = "Only papers of this series: its slug, current or former"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 100, description = "Results per page, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page, with the same q and filters"),
    ),
    responses(
        (status = 200, description = "Results", body = SearchJson),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
    )
)]
pub(super) async fn search(
    State(api): Api,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<SearchQuery>,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), query, |query| async move {
        let found = inner.search_page(query).await?;
        let facets =
            |f: &[imprint_proto::recommendations::FacetCount], types: bool| -> Vec<Facet> {
                f.iter()
                    .map(|c| Facet {
                        value: if types {
                            imprint_proto::papers::PublicationType::from_str_name(&c.value)
                                .and_then(|t| {
                                    imprint_proto::convert::publication_type_from_proto(t.into())
                                        .ok()
                                        .flatten()
                                })
                                .map_or_else(|| c.value.clone(), |t| t.as_str().to_owned())
                        } else {
                            c.value.clone()
                        },
                        count: c.count,
                        label: None,
                    })
                    .collect()
            };
        let term_facets = |f: &[imprint_proto::recommendations::FacetCount]| -> Vec<Facet> {
            f.iter()
                .map(|c| Facet {
                    value: c.value.clone(),
                    count: c.count,
                    label: Some(c.label.clone()),
                })
                .collect()
        };
        json_body(&SearchJson {
            results: found
                .results
                .iter()
                .map(|r| SearchHit::new(r, &inner.site))
                .collect(),
            total: found.total_size,
            next_cursor: (!found.next_page_token.is_empty()).then_some(found.next_page_token),
            topics: facets(&found.topic_facets, false),
            types: facets(&found.type_facets, true),
            years: facets(&found.year_facets, false),
            programs: term_facets(&found.program_facets),
            regions: term_facets(&found.region_facets),
            series: term_facets(&found.series_facets),
        })
    })
    .await
}

/// The topics of published papers, most used first (at most 30).
#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "search",
    responses((status = 200, description = "Topics", body = TopicList))
)]
pub(super) async fn topics(State(api): Api, headers: HeaderMap, uri: Uri) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        let found = inner
            .recommendations
            .clone()
            .search_publications(SearchPublicationsRequest {
                page_size: 1,
                ..SearchPublicationsRequest::default()
            })
            .await
            .map_err(|s| ApiError::from_status(&s, &[]))?
            .into_inner();
        json_body(&TopicList {
            topics: found
                .topic_facets
                .into_iter()
                .map(|c| Facet {
                    value: c.value,
                    count: c.count,
                    label: None,
                })
                .collect(),
        })
    })
    .await
}

/// A published paper's citation for reference managers.
#[utoipa::path(
    get,
    path = "/v1/papers/{slug}/citation",
    tag = "papers",
    params(
        ("slug" = String, Path, description = "The paper's slug"),
        ("format" = CitationFormat, Query, description = "bibtex, ris or csl-json"),
    ),
    responses(
        (status = 200, description = "The citation", content(
            (String = "application/x-bibtex"),
            (String = "application/x-research-info-systems"),
            (Vec<serde_json::Value> = "application/vnd.citationstyles.csl+json"),
        )),
        (status = 400, description = "A bad parameter, named", body = ErrorJson),
        (status = 404, description = "No published paper has this slug", body = ErrorJson),
    )
)]
pub(super) async fn citation(
    State(api): Api,
    Key(slug): Key,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<CitationQuery>,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), query, |query| async move {
        let format = query.format;
        let paper = inner.published(&slug).await?;
        let authors = inner.authors_of(std::slice::from_ref(&paper)).await?;
        Ok(Answer::new(
            cite::render(format, &paper, &authors, &inner.site),
            format.content_type(),
        ))
    })
    .await
}

impl PublicApi {
    /// The newest papers `filter` lists as a feed about `subject` (the site's when `None`).
    async fn atom(
        &self,
        subject: Option<&str>,
        filter: ListPapersRequest,
        self_url: String,
    ) -> Result<Answer, ApiError> {
        let title = match subject {
            Some(t) => format!("{}: {t}", self.site.name),
            None => format!("{}: publications", self.site.name),
        };
        let (papers, _) = self
            .list(ListPapersRequest {
                page_size: FEED_ENTRIES,
                ..filter
            })
            .await?;
        let authors = self.authors_of(&papers).await?;
        Ok(Answer::new(
            feeds::atom(&title, &self_url, &papers, &authors, &self.site),
            "application/atom+xml; charset=utf-8",
        ))
    }
}

/// The newest published papers as an Atom feed.
#[utoipa::path(
    get,
    path = "/feed.atom",
    tag = "feeds",
    responses((status = 200, description = "Atom feed", content_type = "application/atom+xml", body = String))
)]
pub(super) async fn feed(State(api): Api, headers: HeaderMap, uri: Uri) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        let url = format!("{}/feed.atom", inner.site.url);
        inner.atom(None, ListPapersRequest::default(), url).await
    })
    .await
}

/// The newest published papers on a topic as an Atom feed.
#[utoipa::path(
    get,
    path = "/topics/{topic}/feed.atom",
    tag = "feeds",
    params(("topic" = String, Path, description = "The topic, any case")),
    responses(
        (status = 200, description = "Atom feed", content_type = "application/atom+xml", body = String),
        (status = 400, description = "A bad topic", body = ErrorJson),
    )
)]
pub(super) async fn topic_feed(
    State(api): Api,
    Key(topic): Key,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        let topic = topic.trim().to_owned();
        if topic.is_empty() || topic.chars().count() > 100 || topic.chars().any(char::is_control) {
            return Err(ApiError::bad("topic", "a topic of 1 to 100 characters"));
        }
        let url = format!(
            "{}/topics/{}/feed.atom",
            inner.site.url,
            url::form_urlencoded::byte_serialize(topic.as_bytes()).collect::<String>()
        );
        let filter = ListPapersRequest {
            topic: topic.clone(),
            ..ListPapersRequest::default()
        };
        inner.atom(Some(&topic), filter, url).await
    })
    .await
}

/// A vocabulary as this API's paths name it: `programs`, `regions`, `series`.
fn segment(vocabulary: Vocabulary) -> &'static str {
    match vocabulary {
        Vocabulary::Program => "programs",
        Vocabulary::Region => "regions",
        Vocabulary::Series => "series",
    }
}

/// A list filter for `term` (an id) of `vocabulary`.
fn term_filter(vocabulary: Vocabulary, term: String) -> ListPapersRequest {
    let mut filter = ListPapersRequest::default();
    match vocabulary {
        Vocabulary::Program => filter.program = term,
        Vocabulary::Region => filter.region = term,
        Vocabulary::Series => filter.series = term,
    }
    filter
}

impl PublicApi {
    /// The term of `vocabulary` with `slug` (current or former), or 404.
    async fn term(
        &self,
        vocabulary: Vocabulary,
        slug: &str,
    ) -> Result<imprint_proto::papers::Term, ApiError> {
        use imprint_proto::papers::{GetTermRequest, get_term_request};
        let none = || {
            ApiError::not_found(format!(
                "nothing in {} has the slug '{}'",
                segment(vocabulary),
                imprint_domain::shorten(slug)
            ))
        };
        if !Slug::is_valid(slug) {
            return Err(none());
        }
        self.taxonomy
            .clone()
            .get_term(GetTermRequest {
                key: Some(get_term_request::Key::Slug(slug.to_owned())),
                vocabulary: vocabulary_to_proto(vocabulary).into(),
            })
            .await
            .map_err(|s| match s.code() {
                Code::NotFound | Code::InvalidArgument => none(),
                _ => ApiError::from_status(&s, &[]),
            })?
            .into_inner()
            .term
            .ok_or_else(none)
    }

    /// The newest papers of a program, region (with its countries) or series as a feed.
    async fn term_feed(&self, vocabulary: Vocabulary, slug: &str) -> Result<Answer, ApiError> {
        let term = self.term(vocabulary, slug).await?;
        let url = format!(
            "{}/{}/{}/feed.atom",
            self.site.url,
            segment(vocabulary),
            term.slug
        );
        self.atom(
            Some(&term.name),
            term_filter(vocabulary, term.id.clone()),
            url,
        )
        .await
    }
}

/// The feed of the term of `vocabulary` with `slug`, cached by its URL.
async fn term_feed(
    State(api): Api,
    vocabulary: Vocabulary,
    Key(slug): Key,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        inner.term_feed(vocabulary, &slug).await
    })
    .await
}

/// The newest published papers of a program (center) as an Atom feed.
#[utoipa::path(
    get,
    path = "/programs/{slug}/feed.atom",
    tag = "feeds",
    params(("slug" = String, Path, description = "The program's slug, current or former")),
    responses(
        (status = 200, description = "Atom feed", content_type = "application/atom+xml", body = String),
        (status = 404, description = "No program has this slug", body = ErrorJson),
    )
)]
pub(super) async fn program_feed(api: Api, key: Key, headers: HeaderMap, uri: Uri) -> Response {
    term_feed(api, Vocabulary::Program, key, headers, uri).await
}

/// The newest published papers of a region, or of a country under it, as an Atom feed.
#[utoipa::path(
    get,
    path = "/regions/{slug}/feed.atom",
    tag = "feeds",
    params(("slug" = String, Path, description = "The region's or country's slug, current or former")),
    responses(
        (status = 200, description = "Atom feed", content_type = "application/atom+xml", body = String),
        (status = 404, description = "No region has this slug", body = ErrorJson),
    )
)]
pub(super) async fn region_feed(api: Api, key: Key, headers: HeaderMap, uri: Uri) -> Response {
    term_feed(api, Vocabulary::Region, key, headers, uri).await
}

/// The newest published papers of a series as an Atom feed.
#[utoipa::path(
    get,
    path = "/series/{slug}/feed.atom",
    tag = "feeds",
    params(("slug" = String, Path, description = "The series' slug, current or former")),
    responses(
        (status = 200, description = "Atom feed", content_type = "application/atom+xml", body = String),
        (status = 404, description = "No series has this slug", body = ErrorJson),
    )
)]
pub(super) async fn series_feed(api: Api, key: Key, headers: HeaderMap, uri: Uri) -> Response {
    term_feed(api, Vocabulary::Series, key, headers, uri).await
}

/// The programs, regions (countries under their region) or series papers are organised by.
#[utoipa::path(
    get,
    path = "/v1/terms/{vocabulary}",
    tag = "search",
    params(("vocabulary" = String, Path, description = "programs, regions or series")),
    responses(
        (status = 200, description = "The terms, in the order they were made (at most 100)", body = TermList),
        (status = 404, description = "No such vocabulary", body = ErrorJson),
    )
)]
pub(super) async fn terms(
    State(api): Api,
    Key(vocabulary): Key,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        use imprint_proto::papers::ListTermsRequest;
        let Some(vocabulary) = Vocabulary::ALL
            .into_iter()
            .find(|v| segment(*v) == vocabulary)
        else {
            return Err(ApiError::not_found(format!(
                "no vocabulary is called '{}'; use programs, regions or series",
                imprint_domain::shorten(&vocabulary)
            )));
        };
        let terms = inner
            .taxonomy
            .clone()
            .list_terms(ListTermsRequest {
                vocabulary: vocabulary_to_proto(vocabulary).into(),
                page_size: 100,
                ..ListTermsRequest::default()
            })
            .await
            .map_err(|s| ApiError::from_status(&s, &[]))?
            .into_inner()
            .terms;
        json_body(&TermList::new(&terms))
    })
    .await
}

/// Every published paper's page, for search engines.
#[utoipa::path(
    get,
    path = "/sitemap.xml",
    tag = "feeds",
    responses((status = 200, description = "Sitemap", content_type = "application/xml", body = String))
)]
pub(super) async fn sitemap(State(api): Api, headers: HeaderMap, uri: Uri) -> Response {
    let inner = api.clone();
    api.cached(&headers, uri.path(), NoQuery, |_| async move {
        let mut papers = Vec::new();
        let mut cursor = String::new();
        loop {
            let (page, next) = inner
                .list(ListPapersRequest {
                    page_size: 100,
                    page_token: cursor,
                    ..ListPapersRequest::default()
                })
                .await?;
            papers.extend(page);
            match next {
                Some(n) if papers.len() < SITEMAP_URLS => cursor = n,
                _ => break,
            }
        }
        papers.truncate(SITEMAP_URLS);
        Ok(Answer::new(
            feeds::sitemap(&papers, &inner.site),
            "application/xml; charset=utf-8",
        ))
    })
    .await
}

/// Impressions and clicks of a partner's rail, for click-through rates. Needs the partner's
/// key. The body is JSON, sent as `text/plain` too (so browsers need no preflight).
#[utoipa::path(
    post,
    path = "/v1/interactions",
    tag = "partners",
    params(("key" = String, Query, description = "The partner's publishable key")),
    request_body(content = InteractionsJson, content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "A bad body, naming the field", body = ErrorJson),
        (status = 401, description = "No key, or one that does not work", body = ErrorJson),
        (status = 403, description = "The key is not bound to the page's origin", body = ErrorJson),
        (status = 429, description = "The key is past its rate limit", body = ErrorJson),
    )
)]
pub(super) async fn interactions(
    State(api): Api,
    via: Option<axum::Extension<super::Via>>,
    body: Bytes,
) -> Response {
    use axum::response::IntoResponse;
    use imprint_proto::recommendations::{InteractionKind, RecordInteractionRequest};
    let outcome = async {
        let Some(axum::Extension(super::Via(partner))) = via else {
            return Err(ApiError::unauthorized(
                "key",
                "required: the partner's publishable key",
            ));
        };
        let report: super::json::InteractionsJson = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad("body", format!("not the expected JSON: {e}")))?;
        if report.events.is_empty() || report.events.len() > MAX_REPORTED_INTERACTIONS {
            return Err(ApiError::bad(
                "events",
                format!("from 1 to {MAX_REPORTED_INTERACTIONS} interactions"),
            ));
        }
        let calls = report.events.iter().map(|event| {
            let mut recommendations = api.recommendations.clone();
            let mut request = tonic::Request::new(RecordInteractionRequest {
                recommendation_id: event.recommendation_id.clone(),
                kind: match event.kind {
                    super::json::InteractionKindJson::Impression => InteractionKind::Impression,
                    super::json::InteractionKindJson::Click => InteractionKind::Click,
                }
                .into(),
                view_id: report.view.clone(),
            });
            caller::for_partner(&mut request, Some(&partner.name));
            async move { recommendations.record_interaction(request).await }
        });
        for (i, outcome) in futures::future::join_all(calls)
            .await
            .into_iter()
            .enumerate()
        {
            if let Err(status) = outcome {
                let field = format!("events[{i}].recommendation_id");
                return Err(ApiError::from_status(
                    &status,
                    &[("recommendation_id", field.as_str()), ("view_id", "view")],
                ));
            }
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}
