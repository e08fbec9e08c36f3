//! The public JSON API, published content only, under `/v1`; Atom feeds; the sitemap; and the
//! OpenAPI document generated from the handlers below.
//!
//! Every GET answers with a strong ETag and `Cache-Control`, and 304 to a matching
//! `If-None-Match`. Responses are cached by URL and dropped on any paper or author event
//! ([`crate::cache`]). A bad parameter is a 400 whose JSON body names it; a draft is a 404
//! exactly like a slug nobody has.

mod cite;
mod downloads;
mod feeds;
mod handlers;
pub mod json;
mod partner;
mod query;
mod widget;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use imprint_platform::clients::Peer;
use imprint_platform::served::View;
use imprint_platform::signing::Signer;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::taxonomy_service_client::TaxonomyServiceClient;
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use tonic::Code;
use utoipa::OpenApi;

use crate::cache::{self, Cache, Entry};
use crate::page::Pages;
use json::{ErrorBody, ErrorJson};
pub use json::{FilesScope, Site};

/// `Cache-Control` of cacheable answers: shared caches may keep them, and must ask again
/// (cheaply, with the ETag) before reusing one, so an edit shows at once.
const CACHE_CONTROL: &str = "public, no-cache";

/// The response header carrying the view of a served rail, which `/v1/interactions` needs.
pub const VIEW_HEADER: &str = "imprint-view";

/// `Cache-Control` of answers that serve a rail: each response is a serving with a view of its
/// own, which a shared cache would hand to many readers (undercounting them); browsers still
/// keep the body and revalidate it with the ETag, getting a new view each time.
const CACHE_CONTROL_SERVING: &str = "private, no-cache";

/// Channels to the services behind the public API.
#[derive(Debug, Clone)]
pub struct Services {
    /// The papers service.
    pub papers: Peer,
    /// The authors service.
    pub authors: Peer,
    /// The recommendations service.
    pub recommendations: Peer,
}

/// What the public API needs.
#[derive(Debug)]
pub struct PublicApi {
    /// The papers service.
    papers: PaperServiceClient<Peer>,
    /// Its taxonomies (programs, regions, series).
    taxonomy: TaxonomyServiceClient<Peer>,
    /// The authors service.
    authors: AuthorServiceClient<Peer>,
    /// The recommendations service.
    recommendations: RecommendationServiceClient<Peer>,
    /// Publication pages.
    pages: Pages,
    /// Responses by URL.
    cache: Arc<Cache>,
    /// Answers being computed, by cache key.
    flights: cache::Flights<Result<Entry, ApiError>>,
    /// Links to the site.
    site: Site,
    /// Partner keys.
    keys: Arc<crate::partner_keys::Keys>,
    /// Preview links.
    previews: crate::preview_links::Links,
    /// Longest a request may take before it is answered 503.
    timeout: Duration,
    /// Seals the view each serving of a rail carries.
    signer: Signer,
    /// Proxies whose `X-Forwarded-For` names the client.
    trusted_proxies: Arc<[ipnet::IpNet]>,
    /// The file store.
    files: imprint_files::Blobs,
    /// Download counts.
    downloads: crate::files::stats::Downloads,
}

/// Who may read what beyond the published: partners' keys and preview links.
#[derive(Debug, Clone)]
pub struct Access {
    /// Partner keys.
    pub keys: Arc<crate::partner_keys::Keys>,
    /// Preview links.
    pub previews: crate::preview_links::Links,
}

/// How the public API is served.
#[derive(Debug, Clone)]
pub struct Options {
    /// Links to the site.
    pub site: Site,
    /// Longest a request may take before it is answered 503.
    pub timeout: Duration,
    /// `gateway.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The file store: published papers' downloads.
    pub files: imprint_files::Blobs,
    /// Where downloads are counted.
    pub downloads: crate::files::stats::Downloads,
}

impl PublicApi {
    /// The API over these services.
    pub fn new(
        Services {
            papers,
            authors,
            recommendations,
        }: Services,
        pages: Pages,
        cache: Arc<Cache>,
        Access { keys, previews }: Access,
        signer: Signer,
        Options {
            site,
            timeout,
            trusted_proxies,
            files,
            downloads,
        }: Options,
    ) -> Arc<Self> {
        Arc::new(Self {
            taxonomy: TaxonomyServiceClient::new(papers.clone()),
            papers: PaperServiceClient::new(papers),
            authors: AuthorServiceClient::new(authors),
            recommendations: RecommendationServiceClient::new(recommendations),
            pages,
            cache,
            flights: cache::Flights::default(),
            site,
            keys,
            previews,
            timeout,
            signer,
            trusted_proxies: trusted_proxies.into(),
            files,
            downloads,
        })
    }

    /// The file store.
    pub(crate) fn files(&self) -> &imprint_files::Blobs {
        &self.files
    }

    /// Download counts.
    pub(crate) fn downloads(&self) -> &crate::files::stats::Downloads {
        &self.downloads
    }

    /// The rail a service's `view_id` names: what each response of a cached answer serves
    /// again, with a view of its own.
    fn rail_of(&self, view_id: &str) -> Option<View> {
        View::open(&self.signer, view_id, chrono::Utc::now()).ok()
    }

    /// The routes, every error in the documented JSON. Answers are computed within the
    /// request timeout (503 past it); the one route that reads a body reads it within the
    /// timeout too (408 for a client sending it slowly).
    pub fn router(self: Arc<Self>) -> Router {
        let gate = partner::Gate {
            keys: self.keys.clone(),
            proxies: self.trusted_proxies.clone(),
        };
        // A little past the answers' own timeout, which says more (503 naming the wait).
        let limit = self.timeout + Duration::from_secs(1);
        handlers::routes(limit)
            .route("/widget.js", axum::routing::get(widget::script))
            .with_state(self)
            .layer(axum::middleware::from_fn_with_state(gate, partner::gate))
            .layer(axum::middleware::map_response(json_errors))
    }

    /// Answers from the cache, or computes, caches and answers; 304 when the client has it.
    /// The answer is cached under `path` and `query`, the route's parsed parameters, which
    /// `compute` is handed: what the computation reads is what the key holds
    /// ([`query`](self::query)). Concurrent misses of one key are computed once.
    async fn cached<Q, F, Fut>(
        &self,
        headers: &HeaderMap,
        path: &str,
        query: Q,
        compute: F,
    ) -> Response
    where
        Q: std::fmt::Debug,
        F: FnOnce(Q) -> Fut,
        Fut: Future<Output = Result<Answer, ApiError>>,
    {
        let key = format!("{path}?{query:?}");
        let entry = match self.cache.get(&key) {
            Some(entry) => entry,
            None => {
                let generation = self.cache.generation();
                let computed = self
                    .flights
                    .run(&key, generation, || async {
                        match tokio::time::timeout(self.timeout, compute(query)).await {
                            Ok(Ok(answer)) if answer.store => {
                                Ok(self.cache.put(key.clone(), generation, answer.entry()))
                            }
                            Ok(Ok(answer)) => Ok(answer.entry()),
                            Ok(Err(e)) => Err(e),
                            Err(_) => Err(ApiError::new(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "timeout",
                                format!(
                                    "no answer within {} ms; try again",
                                    self.timeout.as_millis()
                                ),
                            )),
                        }
                    })
                    .await;
                match computed {
                    Ok(entry) => entry,
                    Err(e) => return e.into_response(),
                }
            }
        };
        let mut response = respond(&entry, headers, CACHE_CONTROL);
        // Every response of a rail is a serving of its own: a fresh view, the body cached or not.
        if let Some(view) = &entry.view
            && let Ok(value) = HeaderValue::from_str(&view.again().seal(&self.signer))
        {
            let h = response.headers_mut();
            h.insert(VIEW_HEADER, value);
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL_SERVING),
            );
        }
        response
    }
}

/// The answer for `entry`: 304 when `If-None-Match` has it, else the body.
fn respond(entry: &Entry, headers: &HeaderMap, cache_control: &'static str) -> Response {
    let etag = HeaderValue::from_str(&entry.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| cache::matches(v, &entry.etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(entry.content_type),
            )],
            entry.body.clone(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

/// A computed answer.
#[derive(Debug)]
pub(super) struct Answer {
    /// Its body.
    body: Bytes,
    /// Its media type.
    content_type: &'static str,
    /// Whether it may be cached: not when it is degraded (a page without its rail because
    /// the recommendations service was slow), which the next request should try to better.
    store: bool,
    /// The rail it serves, when it serves one.
    view: Option<View>,
}

impl Answer {
    /// A cacheable answer.
    pub(super) fn new(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        Self {
            body: body.into(),
            content_type,
            store: true,
            view: None,
        }
    }

    /// The same answer, serving the rail `view` describes.
    pub(super) fn serving(mut self, view: Option<View>) -> Self {
        self.view = view;
        self
    }

    fn entry(self) -> Entry {
        Entry::new(self.body, self.content_type).serving(self.view)
    }

    /// The answer for one reader alone: no ETag to revalidate, nothing for a cache to keep.
    pub(super) fn into_private_response(self) -> Response {
        let mut response = Response::new(axum::body::Body::from(self.body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        response
    }

    /// The same answer, cached only if `store`.
    pub(super) fn store_if(mut self, store: bool) -> Self {
        self.store = store;
        self
    }
}

/// A JSON answer.
fn json_body<T: serde::Serialize>(value: &T) -> Result<Answer, ApiError> {
    serde_json::to_vec(value)
        .map(|v| Answer::new(v, "application/json"))
        .map_err(|e| ApiError::internal(&format!("serializing: {e}")))
}

/// An error answer: status and a JSON body naming what was wrong.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    status: StatusCode,
    /// A stable code.
    code: &'static str,
    /// For a person.
    message: String,
    /// The parameter at fault.
    parameter: Option<String>,
}

impl ApiError {
    /// An error of `status`, with a stable `code` and a `message` for a person.
    pub fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        Self {
            status,
            code,
            message,
            parameter: None,
        }
    }

    /// A bad query or path parameter.
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_parameter",
            message: format!("{parameter}: {}", message.into()),
            parameter: Some(parameter.to_owned()),
        }
    }

    /// A partner key that does not work.
    pub fn unauthorized(parameter: &str, message: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "bad_key",
            message: format!("{parameter}: {message}"),
            parameter: Some(parameter.to_owned()),
        }
    }

    /// A partner key used where it may not be.
    pub fn forbidden(parameter: &str, message: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "origin_not_allowed",
            message: format!("{parameter}: {message}"),
            parameter: Some(parameter.to_owned()),
        }
    }

    /// Past a partner's rate limit.
    pub fn rate_limited(partner: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "the key of {partner} is past its rate limit; try again after Retry-After seconds"
            ),
        )
    }

    /// Nothing public there.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message.into())
    }

    /// An error the server made; `detail` goes to the log, not to the client.
    pub fn internal(detail: &str) -> Self {
        tracing::error!(error = %detail, "public API");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the details are in the server log".to_owned(),
        )
    }

    /// A failed call to a service, with the service's field names mapped to ours.
    pub fn from_status(status: &tonic::Status, fields: &[(&str, &str)]) -> Self {
        match status.code() {
            Code::InvalidArgument => {
                let violations = imprint_proto::status::field_violations(status);
                let (field, why) = violations
                    .first()
                    .cloned()
                    .unwrap_or_else(|| (String::new(), status.message().to_owned()));
                // A field of ours the service refused is the client's fault; any other is a
                // request the gateway made wrong.
                match fields.iter().find(|(theirs, _)| {
                    field == *theirs || field.starts_with(&format!("{theirs}."))
                }) {
                    Some((_, ours)) => Self::bad(ours, why),
                    None => Self::internal(&format!("a service refused {field}: {why}")),
                }
            }
            Code::NotFound => Self::not_found(status.message().to_owned()),
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "a service behind the API is unavailable just now; try again shortly".to_owned(),
            ),
            _ => Self::internal(&format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

impl ApiError {
    /// The error for a bare `status`, for answers nothing more is known of: those hyper makes
    /// for requests it cannot read, and axum's own (an unknown method, a body too large).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "the request could not be read as HTTP"),
            StatusCode::NOT_FOUND => (
                "not_found",
                "nothing here; /openapi.json lists what there is",
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this path does not take that method; /openapi.json lists what it takes",
            ),
            StatusCode::REQUEST_TIMEOUT => (
                "request_timeout",
                "the request took too long to arrive or to answer",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("too_large", "the body is larger than this API takes")
            }
            StatusCode::URI_TOO_LONG => ("uri_too_long", "the URI is longer than this API reads"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
                "headers_too_large",
                "the request's headers are larger than this API reads",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "the body is not of a type this path takes",
            ),
            _ => ("error", status.canonical_reason().unwrap_or("error")),
        };
        Self::new(status, code, message.to_owned())
    }

    /// Names the parameter or header at fault.
    pub fn at(mut self, parameter: &str) -> Self {
        self.parameter = Some(parameter.to_owned());
        self
    }

    fn body(self) -> ErrorJson {
        ErrorJson {
            error: ErrorBody {
                status: self.status.as_u16(),
                code: self.code.to_owned(),
                message: self.message,
                parameter: self.parameter,
            },
        }
    }
}

/// The body of the answer to a request hyper could not read ([`imprint_platform::listen`]).
pub fn unreadable(status: StatusCode) -> (&'static str, Vec<u8>) {
    let body = serde_json::to_vec(&ApiError::for_status(status).body()).unwrap_or_default();
    ("application/json", body)
}

/// Every error the public listener answers is the documented JSON: an error answer that is not
/// (axum's own: an unknown method, a body too large, a malformed one) is replaced by one for
/// its status, keeping its other headers (`Allow` on a 405).
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let replacement = ApiError::for_status(status).into_response();
    let (fresh, body) = replacement.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(fresh.headers);
    Response::from_parts(parts, body)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, axum::Json(self.body())).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Query parameters, decoded leniently (bad percent-encoding becomes U+FFFD rather than an
/// error), first value of a repeated one wins, unknown ones ignored (partners add cache
/// busters).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// From the raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// A text parameter, trimmed, at most `max` characters; `None` when absent or empty.
    pub fn text(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        let Some((_, value)) = self.0.iter().find(|(k, _)| k == name) else {
            return Ok(None);
        };
        let value = value.trim();
        if value.chars().count() > max {
            return Err(ApiError::bad(name, format!("at most {max} characters")));
        }
        if value.chars().any(char::is_control) {
            return Err(ApiError::bad(name, "control characters are not allowed"));
        }
        Ok((!value.is_empty()).then(|| value.to_owned()))
    }

    /// The search words of `q`, checked by the rules the search service reads them with (so
    /// that a query it would refuse is refused here, naming `q`); `None` when absent or empty.
    pub fn query(&self) -> Result<Option<String>, ApiError> {
        let Some(q) = self.text("q", imprint_domain::query::MAX_QUERY_CHARS)? else {
            return Ok(None);
        };
        imprint_domain::query::parse(&q).map_err(|e| ApiError::bad("q", e.to_string()))?;
        Ok(Some(q))
    }

    /// `limit`: a page size, the lists' default when absent, at most their cap.
    pub fn limit(&self) -> Result<i32, ApiError> {
        use imprint_platform::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
        let as_int = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        self.int("limit", as_int(DEFAULT_PAGE_SIZE), 1, as_int(MAX_PAGE_SIZE))
    }

    /// `cursor`: a list's `next_cursor`, empty for the first page.
    pub fn cursor(&self) -> Result<String, ApiError> {
        Ok(self
            .text("cursor", imprint_domain::limits::MAX_PAGE_TOKEN_BYTES)?
            .unwrap_or_default())
    }

    /// `topic`: one topic, as a filter.
    pub fn topic(&self) -> Result<Option<String>, ApiError> {
        self.text("topic", imprint_domain::Topic::MAX)
    }

    /// A whole number between `min` and `max`, `default` when absent.
    pub fn int(&self, name: &str, default: i32, min: i32, max: i32) -> Result<i32, ApiError> {
        match self.text(name, 12)? {
            None => Ok(default),
            Some(v) => match v.parse::<i32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad(
                    name,
                    format!("must be a whole number from {min} to {max}"),
                )),
            },
        }
    }
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Imprint public API",
        description = "Published papers, authors, publication pages, related publications, search, citations and feeds of a research institute's publications. Read-only; every answer has an ETag and answers 304 to If-None-Match.",
        license(name = "Apache-2.0")
    ),
    paths(
        handlers::list_papers,
        handlers::get_paper,
        handlers::related,
        handlers::page,
        handlers::preview,
        handlers::author,
        handlers::search,
        handlers::topics,
        handlers::citation,
        downloads::paper_file,
        downloads::cover,
        downloads::photo,
        downloads::preview_file,
        downloads::preview_cover,
        handlers::feed,
        handlers::topic_feed,
        handlers::program_feed,
        handlers::region_feed,
        handlers::series_feed,
        handlers::terms,
        handlers::sitemap,
        handlers::interactions,
    ),
    components(schemas(
        json::PaperSummary,
        json::PaperJson,
        json::DownloadJson,
        json::ImageJson,
        json::RenditionJson,
        json::AuthorRef,
        json::RelatedJson,
        json::RelatedList,
        json::AuthorJson,
        json::AuthorPage,
        json::PositionJson,
        json::PaperList,
        json::PageJson,
        json::SearchHit,
        json::SearchJson,
        json::Facet,
        json::TopicList,
        json::TermList,
        json::TermEntry,
        json::TermJson,
        json::PaperTerms,
        json::ErrorJson,
        json::ErrorBody,
        json::CitationFormat,
        json::InteractionsJson,
        json::InteractionJson,
        json::InteractionKindJson,
    ))
)]
pub struct ApiDoc;

pub use partner::Via;

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn params_are_lenient_in_decoding_and_strict_in_values() {
        let p = Params::parse(Some("limit=7&q=%E2%9C%93+peace&topic=&bad=%ZZ&limit=9"));
        assert_eq!(p.int("limit", 20, 1, 100).unwrap(), 7);
        assert_eq!(p.text("q", 10).unwrap().as_deref(), Some("✓ peace"));
        assert_eq!(p.text("topic", 10).unwrap(), None);
        let e = p.int("q", 1, 1, 2).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("q"));
        let e = Params::parse(Some("limit=101"))
            .int("limit", 20, 1, 100)
            .unwrap_err();
        assert!(e.message.contains("from 1 to 100"), "{}", e.message);
        assert!(Params::parse(Some("q=a%00b")).text("q", 10).is_err());
    }

    #[test]
    fn the_openapi_document_is_3_1_and_lists_every_path() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/v1/papers",
            "/v1/papers/{slug}",
            "/v1/papers/{slug}/related",
            "/v1/pages/{slug}",
            "/v1/authors/{slug}",
            "/v1/search",
            "/v1/topics",
            "/v1/papers/{slug}/citation",
            "/feed.atom",
            "/topics/{topic}/feed.atom",
            "/sitemap.xml",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
    }
}
