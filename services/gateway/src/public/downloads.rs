//! A published paper's downloads and cover image, from the public listener: only files the
//! paper references now, and only while it is published (a draft's are 404, as its slug is).
//! URLs name the file's key, whose bytes never change, so CDNs may keep an answer for an hour
//! without asking again; revalidation is by the key's strong ETag.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, Method};
use imprint_domain::{FileKey, FileName, MediaType};

use super::{ApiError, PublicApi};
use crate::files::download::{self, Offer};

/// How long shared caches keep a download: unpublishing a paper takes this long to reach them.
const CACHE_CONTROL: &str = "public, max-age=3600";

fn no_file(slug: &str) -> ApiError {
    ApiError::not_found(format!(
        "the published paper '{}' offers no such file",
        imprint_domain::shorten(slug)
    ))
}

/// `/v1/papers/{slug}/files/{key}/{name}`.
#[utoipa::path(
    get,
    path = "/v1/papers/{slug}/files/{key}/{name}",
    tag = "papers",
    params(
        ("slug" = String, Path, description = "The paper's slug"),
        ("key" = String, Path, description = "The file's SHA-256 in hex, as the paper's downloads link it"),
        ("name" = String, Path, description = "The file's name (the download is named as the paper names it)"),
        ("Range" = Option<String>, Header, description = "One range of bytes: bytes=0-1023, bytes=1024-, bytes=-500"),
    ),
    responses(
        (status = 200, description = "The file, with a strong ETag (its SHA-256) and Content-Disposition", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream"),
        (status = 304, description = "The ETag in If-None-Match is current"),
        (status = 404, description = "No published paper has this slug, or it offers no such file", body = super::json::ErrorJson),
        (status = 416, description = "The range starts past the end"),
        (status = 503, description = "The file store is unavailable just now", body = super::json::ErrorJson),
    )
)]
pub(super) async fn paper_file(
    State(api): State<Arc<PublicApi>>,
    Path((slug, key, _name)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = FileKey::parse(&key).map_err(|_| no_file(&slug))?;
    let paper = api.published(&slug).await?;
    let (name, media_type) = attachment_offer(&paper, &key).ok_or_else(|| no_file(&slug))??;
    let head = method == Method::HEAD;
    let response = serve(
        &api,
        (&key, &name, media_type),
        &headers,
        head,
        CACHE_CONTROL,
    )
    .await?;
    if !head
        && begins_the_file(&response)
        && let Ok(paper_id) = imprint_domain::PaperId::parse(&paper.id)
    {
        api.downloads().count(paper_id, &key);
    }
    Ok(response)
}

/// Whether `response` sends a file from its first byte: a download begun, not a revalidation
/// or the later ranges of one.
fn begins_the_file(response: &Response) -> bool {
    match response.status() {
        http::StatusCode::OK => true,
        http::StatusCode::PARTIAL_CONTENT => response
            .headers()
            .get(http::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("bytes 0-")),
        _ => false,
    }
}

/// `/v1/papers/{slug}/cover/{key}`.
#[utoipa::path(
    get,
    path = "/v1/papers/{slug}/cover/{key}",
    tag = "papers",
    params(
        ("slug" = String, Path, description = "The paper's slug"),
        ("key" = String, Path, description = "The image's SHA-256 in hex, as the paper's cover links it"),
    ),
    responses(
        (status = 200, description = "The image, with a strong ETag", content_type = "image/*"),
        (status = 304, description = "The ETag in If-None-Match is current"),
        (status = 404, description = "No published paper has this slug, or this cover", body = super::json::ErrorJson),
        (status = 503, description = "The file store is unavailable just now", body = super::json::ErrorJson),
    )
)]
pub(super) async fn cover(
    State(api): State<Arc<PublicApi>>,
    Path((slug, key)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = FileKey::parse(&key).map_err(|_| no_file(&slug))?;
    let paper = api.published(&slug).await?;
    let (name, media_type) = cover_offer(&paper, &key).ok_or_else(|| no_file(&slug))??;
    let head = method == Method::HEAD;
    serve(
        &api,
        (&key, &name, media_type),
        &headers,
        head,
        CACHE_CONTROL,
    )
    .await
}

/// A preview link's paper, or 404 alike for every link that does not work.
async fn previewed(api: &PublicApi, token: &str) -> Result<imprint_proto::papers::Paper, ApiError> {
    let no_preview = || ApiError::not_found("no working preview link has this token");
    let id = api
        .previews
        .resolve(token, chrono::Utc::now())
        .await
        .map_err(|e| ApiError::from_status(&tonic::Status::from(e), &[]))?
        .ok_or_else(no_preview)?;
    api.paper_by_id(id).await?.ok_or_else(no_preview)
}

/// What a preview's file answer carries besides the file: kept by nobody, indexed by nobody,
/// and the token in its URL told to nobody.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-robots-tag", http::HeaderValue::from_static("noindex"));
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// How a preview's files are kept: by nobody.
const PRIVATE: &str = "private, no-store";

/// `/v1/preview/{token}/files/{key}/{name}`: a download of the paper a preview link shows,
/// published or not (not counted: editors and reviewers are not readers).
#[utoipa::path(
    get,
    path = "/v1/preview/{token}/files/{key}/{name}",
    tag = "pages",
    params(
        ("token" = String, Path, description = "The preview link's token"),
        ("key" = String, Path, description = "The file's SHA-256 in hex, as the preview's downloads link it"),
        ("name" = String, Path, description = "The file's name"),
        ("Range" = Option<String>, Header, description = "One range of bytes"),
    ),
    responses(
        (status = 200, description = "The file, private and not indexed", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream"),
        (status = 304, description = "The ETag in If-None-Match is current"),
        (status = 404, description = "No working preview link has this token, or its paper offers no such file", body = super::json::ErrorJson),
        (status = 416, description = "The range starts past the end"),
        (status = 503, description = "The file store is unavailable just now", body = super::json::ErrorJson),
    )
)]
pub(super) async fn preview_file(
    State(api): State<Arc<PublicApi>>,
    Path((token, key, _name)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let none = || ApiError::not_found("the previewed paper offers no such file");
    let key = FileKey::parse(&key).map_err(|_| none())?;
    let paper = previewed(&api, &token).await?;
    let (name, media_type) = attachment_offer(&paper, &key).ok_or_else(none)??;
    let head = method == Method::HEAD;
    serve(&api, (&key, &name, media_type), &headers, head, PRIVATE)
        .await
        .map(private)
}

/// `/v1/preview/{token}/cover/{key}`: the cover (or one of its copies) of the paper a preview
/// link shows.
#[utoipa::path(
    get,
    path = "/v1/preview/{token}/cover/{key}",
    tag = "pages",
    params(
        ("token" = String, Path, description = "The preview link's token"),
        ("key" = String, Path, description = "The cover's (or a copy's) SHA-256 in hex"),
    ),
    responses(
        (status = 200, description = "The image, private and not indexed", content_type = "image/*"),
        (status = 304, description = "The ETag in If-None-Match is current"),
        (status = 404, description = "No working preview link has this token, or its paper has no such cover", body = super::json::ErrorJson),
        (status = 503, description = "The file store is unavailable just now", body = super::json::ErrorJson),
    )
)]
pub(super) async fn preview_cover(
    State(api): State<Arc<PublicApi>>,
    Path((token, key)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let none = || ApiError::not_found("the previewed paper has no such cover");
    let key = FileKey::parse(&key).map_err(|_| none())?;
    let paper = previewed(&api, &token).await?;
    let (name, media_type) = cover_offer(&paper, &key).ok_or_else(none)??;
    let head = method == Method::HEAD;
    serve(&api, (&key, &name, media_type), &headers, head, PRIVATE)
        .await
        .map(private)
}

/// `/v1/authors/{slug}/photo/{key}`: an author's uploaded photo, once they have a published
/// paper (as their profile is).
#[utoipa::path(
    get,
    path = "/v1/authors/{slug}/photo/{key}",
    tag = "authors",
    params(
        ("slug" = String, Path, description = "The author's slug"),
        ("key" = String, Path, description = "The photo's SHA-256 in hex, as the author's profile links it"),
    ),
    responses(
        (status = 200, description = "The image, with a strong ETag", content_type = "image/*"),
        (status = 304, description = "The ETag in If-None-Match is current"),
        (status = 404, description = "No author with this slug has published a paper, or has this photo", body = super::json::ErrorJson),
        (status = 503, description = "The file store is unavailable just now", body = super::json::ErrorJson),
    )
)]
pub(super) async fn photo(
    State(api): State<Arc<PublicApi>>,
    Path((slug, key)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let none = || {
        ApiError::not_found(format!(
            "no author '{}' with a published paper has this photo",
            imprint_domain::shorten(&slug)
        ))
    };
    let key = FileKey::parse(&key).map_err(|_| none())?;
    let author = api.author_by_slug(&slug).await?.ok_or_else(none)?;
    let (media_type, width) = author
        .photo
        .as_ref()
        .and_then(|p| offered(&key, &p.file_key, &p.media_type, &p.renditions))
        .ok_or_else(none)?;
    let (papers, _) = api
        .list(imprint_proto::papers::ListPapersRequest {
            page_size: 1,
            author_id: author.id.clone(),
            ..Default::default()
        })
        .await?;
    if papers.is_empty() {
        return Err(none());
    }
    let media_type = media_type?;
    let name = image_name(&author.slug, width, media_type)?;
    let head = method == Method::HEAD;
    serve(
        &api,
        (&key, &name, media_type),
        &headers,
        head,
        CACHE_CONTROL,
    )
    .await
}

/// The download `key` of `paper`, its name and type; `None` if the paper offers no such file.
fn attachment_offer(
    paper: &imprint_proto::papers::Paper,
    key: &FileKey,
) -> Option<Result<(FileName, MediaType), ApiError>> {
    let wanted = key.to_string();
    let attachment = paper.attachments.iter().find(|a| a.file_key == wanted)?;
    Some(
        FileName::parse(&attachment.name)
            .map_err(|e| ApiError::internal(&format!("a stored download name: {e}")))
            .and_then(|name| {
                MediaType::from_mime(&attachment.media_type)
                    .map(|t| (name, t))
                    .map_err(|e| ApiError::internal(&format!("a stored media type: {e}")))
            }),
    )
}

/// The cover (or one of its copies) `key` of `paper`, its name and type; `None` if it has no
/// such cover.
fn cover_offer(
    paper: &imprint_proto::papers::Paper,
    key: &FileKey,
) -> Option<Result<(FileName, MediaType), ApiError>> {
    let c = paper.cover.as_ref()?;
    let (media_type, width) = offered(key, &c.file_key, &c.media_type, &c.renditions)?;
    Some(
        media_type.and_then(|t| {
            image_name(&format!("{}-cover", paper.slug), width, t).map(|name| (name, t))
        }),
    )
}

/// Whether `key` is the image `original` (of `media_type`) or one of its `renditions`: the
/// type, and the copy's width.
fn offered(
    key: &FileKey,
    original: &str,
    media_type: &str,
    renditions: &[imprint_proto::files::ImageRendition],
) -> Option<(Result<MediaType, ApiError>, Option<i32>)> {
    let wanted = key.to_string();
    let parse = |mime: &str| {
        MediaType::from_mime(mime)
            .map_err(|e| ApiError::internal(&format!("a stored media type: {e}")))
    };
    if original == wanted {
        return Some((parse(media_type), None));
    }
    renditions
        .iter()
        .find(|r| r.file_key == wanted)
        .map(|r| (parse(&r.media_type), Some(r.width)))
}

/// The name an image downloads under: `stem`, its copy's width, its type's extension.
fn image_name(stem: &str, width: Option<i32>, media_type: MediaType) -> Result<FileName, ApiError> {
    let width = width.map(|w| format!("-{w}w")).unwrap_or_default();
    FileName::parse(&format!("{stem}{width}.{}", media_type.extensions()[0]))
        .map_err(|e| ApiError::internal(&format!("an image's name: {e}")))
}

/// The file `key`, downloaded as `name` of `media_type`, kept by caches as `cache_control`
/// says.
async fn serve(
    api: &PublicApi,
    (key, name, media_type): (&FileKey, &FileName, MediaType),
    headers: &HeaderMap,
    head: bool,
    cache_control: &'static str,
) -> Result<Response, ApiError> {
    let offer = Offer {
        key,
        name,
        media_type,
        // PDFs and images open in the browser; data downloads.
        inline: media_type == MediaType::Pdf || media_type.is_image(),
        cache_control,
    };
    download::respond(api.files(), offer, headers, head)
        .await
        .map_err(crate::files::http::download_error)
}
