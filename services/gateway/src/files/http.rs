//! The editors' file endpoints on the public listener, behind bearer tokens (editor to upload,
//! viewer to download) and CORS for `auth.editor_origins`:
//!
//! - `POST /editor/v1/files?name=report.pdf`: a whole file as the body, optionally with its
//!   `Content-Digest: sha-256=:…:` (RFC 9530), answered `201` with the file.
//! - tus 1.0 (core, creation, termination, expiration) at `/editor/v1/uploads`: `POST` with
//!   `Upload-Length` and `Upload-Metadata` (`filename`, optionally `sha256` in hex), `HEAD` for
//!   the offset, `PATCH` parts, `DELETE`; `GET` of an upload tells its file once whole.
//! - `GET /editor/v1/files/{key}?name=…`: a file, drafts' included, with ranges.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use imprint_domain::{Actor, FileKey, FileName, Role};
use imprint_files::IngestError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::download::{self, Offer};
use super::{Files, UploadError, Uploaded};
use crate::Authenticator;
use crate::public::ApiError;

/// The tus version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The tus extensions supported.
const TUS_EXTENSIONS: &str = "creation,termination,expiration";
/// How long a body may send nothing before the upload is cut (and, for tus, resumable).
const IDLE: Duration = Duration::from_secs(60);
/// Where uploads live, for `Location`.
const UPLOADS: &str = "/editor/v1/uploads";

/// What the endpoints share.
#[derive(Debug)]
pub struct Editorial {
    /// Uploads.
    pub files: Files,
    /// Bearer tokens and JWTs, as for gRPC.
    pub auth: Arc<Authenticator>,
}

/// The routes, with CORS for `origins` (empty: none).
pub fn router(state: Arc<Editorial>, origins: &[HeaderValue]) -> Router {
    let routes = Router::new()
        .route("/editor/v1/files", post(upload_whole))
        .route("/editor/v1/files/{key}", get(download_file))
        .route(UPLOADS, post(tus_create).options(tus_options))
        .route(
            "/editor/v1/uploads/{id}",
            get(upload_status)
                .head(tus_head)
                .patch(tus_patch)
                .delete(tus_delete)
                .post(tus_override)
                .options(tus_options),
        )
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(close_after_refusal))
        .layer(axum::middleware::map_response(crate::public::json_errors));
    if origins.is_empty() {
        routes
    } else {
        routes.layer(cors(origins.to_vec()))
    }
}

/// A refused upload may leave its body unread: the connection is closed after the answer, so
/// that no client sends its next request into what is left of the last one.
async fn close_after_refusal(mut response: Response) -> Response {
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// CORS for editors' browsers: the tus headers in and out.
fn cors(origins: Vec<HeaderValue>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed = [
        "authorization",
        "content-type",
        "content-digest",
        "tus-resumable",
        "upload-length",
        "upload-metadata",
        "upload-offset",
        "x-requested-with",
        "x-http-method-override",
        "range",
        "if-range",
        "if-none-match",
    ]
    .map(header::HeaderName::from_static);
    let exposed = [
        "location",
        "upload-offset",
        "upload-length",
        "upload-expires",
        "tus-resumable",
        "tus-version",
        "tus-extension",
        "tus-max-size",
        "imprint-file-key",
        "etag",
        "content-range",
        "content-disposition",
    ]
    .map(header::HeaderName::from_static);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            http::Method::GET,
            http::Method::HEAD,
            http::Method::POST,
            http::Method::PATCH,
            http::Method::DELETE,
            http::Method::OPTIONS,
        ])
        .allow_headers(allowed)
        .expose_headers(exposed)
        .max_age(Duration::from_secs(3600))
}

/// A file as the endpoints describe it.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileJson {
    /// `sha256:<hex>`: what papers and authors reference it by.
    pub key: String,
    /// The name it was uploaded under.
    pub name: String,
    /// Its length.
    pub size: u64,
    /// Its media type, from its bytes.
    pub media_type: String,
    /// An image's width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// An image's height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The same bytes were stored already.
    pub existed: bool,
    /// For a PDF: whether its text was read (`state`: `extracted`, with `characters` and
    /// `pages`, or `failed`, with the `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<imprint_domain::file::TextExtraction>,
    /// For an image: its smaller copies (WebP), narrowest first, each a file of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<imprint_domain::file::Rendition>,
}

impl From<&Uploaded> for FileJson {
    fn from(u: &Uploaded) -> Self {
        Self {
            key: u.stored.key.to_string(),
            name: u.name.to_string(),
            size: u.stored.size,
            media_type: u.stored.media_type.mime().to_owned(),
            width: u.stored.dimensions.map(|d| d.0),
            height: u.stored.dimensions.map(|d| d.1),
            existed: u.stored.existed,
            text: u.text.clone(),
            renditions: u.renditions.clone(),
        }
    }
}

/// The answer to an upload's `GET`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadJson {
    /// The upload's id.
    pub id: String,
    /// Its declared length.
    pub length: u64,
    /// Bytes kept.
    pub offset: u64,
    /// The file's name.
    pub name: String,
    /// `sha256:<hex>` once whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_key: Option<String>,
}

/// The caller of `headers`, if they have `needed`.
fn admit(
    state: &Editorial,
    headers: &HeaderMap,
    needed: Role,
    what: &str,
) -> Result<Actor, ApiError> {
    let principal =
        state
            .auth
            .admit(headers, needed, what)
            .map_err(|status| match status.code() {
                tonic::Code::PermissionDenied => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "permission_denied",
                    status.message().to_owned(),
                ),
                _ => ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    status.message().replace("metadata", "header"),
                )
                .at("authorization"),
            })?;
    crate::access::actor_of(&principal).map_err(|status| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            status.message().to_owned(),
        )
    })
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        let message = e.to_string();
        let (status, code) = match &e {
            UploadError::Ingest(i) => ingest_status(i),
            UploadError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            UploadError::Offset { .. } => (StatusCode::CONFLICT, "offset_mismatch"),
            UploadError::Busy => (StatusCode::CONFLICT, "upload_busy"),
            UploadError::Complete(_) => (StatusCode::CONFLICT, "upload_complete"),
            UploadError::Db(db) => {
                tracing::warn!(error = %db, "the files' records failed");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the files' records are unavailable just now; try again shortly".to_owned(),
                );
            }
        };
        ApiError::new(status, code, message)
    }
}

fn ingest_status(e: &IngestError) -> (StatusCode, &'static str) {
    match e {
        IngestError::Empty => (StatusCode::BAD_REQUEST, "empty_file"),
        IngestError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        IngestError::Length { .. } => (StatusCode::BAD_REQUEST, "length_mismatch"),
        IngestError::Checksum { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "checksum_mismatch"),
        IngestError::Unsupported { .. } | IngestError::NotText(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type")
        }
        IngestError::Mismatch { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "type_mismatch"),
        IngestError::ImageHeader | IngestError::ImageTooLarge { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "bad_image")
        }
        IngestError::Cut { .. } => (StatusCode::BAD_REQUEST, "upload_cut"),
        IngestError::Store(store) => {
            tracing::warn!(error = %store, "the file store failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
        }
    }
}

/// A body that sends nothing for [`IDLE`] ends as cut.
fn idle_limited(body: Body) -> super::Incoming {
    use imprint_files::BodyError;
    let stream = body.into_data_stream();
    Box::pin(futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        let quiet = || format!("nothing arrived for {} s", IDLE.as_secs());
        match tokio::time::timeout(IDLE, stream.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(BodyError::Client(e.to_string())), None)),
            Ok(None) => None,
            Err(_) => Some((Err(BodyError::Client(quiet())), None)),
        }
    }))
}

/// A header's value as text.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header that must be a length.
fn length_header(headers: &HeaderMap, name: &'static str) -> Result<Option<u64>, ApiError> {
    header_text(headers, name)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                ApiError::bad(
                    name,
                    format!("'{}' is not a length in bytes", imprint_domain::shorten(v)),
                )
            })
        })
        .transpose()
}

/// The SHA-256 of `Content-Digest: sha-256=:<base64>:` (other algorithms are ignored).
fn content_digest(headers: &HeaderMap) -> Result<Option<FileKey>, ApiError> {
    let Some(value) = header_text(headers, "content-digest") else {
        return Ok(None);
    };
    for member in value.split(',') {
        let Some((algorithm, digest)) = member.trim().split_once('=') else {
            continue;
        };
        if !algorithm.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(digest.trim().trim_matches(':'))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                ApiError::bad(
                    "content-digest",
                    "sha-256 must be 32 bytes in base64 between colons: sha-256=:…:",
                )
            })?;
        return Ok(Some(FileKey::from_digest(bytes)));
    }
    Ok(None)
}

/// The `name` query parameter.
fn name_param(uri: &http::Uri) -> Result<Option<String>, ApiError> {
    crate::public::Params::parse(uri.query())
        .text("name", imprint_domain::file::MAX_FILE_NAME_BYTES * 4)
}

fn file_name(raw: Option<&str>, parameter: &str) -> Result<FileName, ApiError> {
    let raw = raw
        .ok_or_else(|| ApiError::bad(parameter, "the file's name is required, e.g. report.pdf"))?;
    FileName::parse(raw).map_err(|e| ApiError::bad(parameter, e.to_string()))
}

/// Reads and drops what is left of a small body before an early refusal is answered: a client
/// still sending when the server answers and closes would get a reset instead of the answer.
/// A body declared larger than 1 MiB is left unread (the answer closes the connection).
async fn drain(headers: &HeaderMap, body: Body) {
    const MAX: usize = 1024 * 1024;
    let declared = length_header(headers, "content-length").ok().flatten();
    if declared.is_some_and(|l| l > MAX as u64) {
        return;
    }
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut seen = 0;
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > MAX {
                break;
            }
        }
    })
    .await;
}

/// What a whole upload's request says, checked before its body is read.
fn upload_checked(
    state: &Editorial,
    parts: &http::request::Parts,
) -> Result<(Actor, FileName, Option<u64>, Option<FileKey>), ApiError> {
    let actor = admit(state, &parts.headers, Role::Editor, "uploading a file")?;
    let name = file_name(name_param(&parts.uri)?.as_deref(), "name")?;
    let length = length_header(&parts.headers, "content-length")?;
    let sha256 = content_digest(&parts.headers)?;
    Ok((actor, name, length, sha256))
}

async fn upload_whole(
    State(state): State<Arc<Editorial>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let (actor, name, length, sha256) = match upload_checked(&state, &parts) {
        Ok(checked) => checked,
        Err(refused) => {
            drain(&parts.headers, body).await;
            return Err(refused);
        }
    };
    let body = idle_limited(body);
    let uploaded = state
        .files
        .upload(body, name, length, sha256, &actor)
        .await?;
    tracing::info!(key = %uploaded.stored.key, size = uploaded.stored.size, subject = actor.subject(), "file uploaded");
    Ok((StatusCode::CREATED, axum::Json(FileJson::from(&uploaded))).into_response())
}

async fn download_file(
    State(state): State<Arc<Editorial>>,
    Path(key): Path<String>,
    method: http::Method,
    uri: http::Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admit(&state, &headers, Role::Viewer, "downloading a file")?;
    let key = FileKey::parse(&key).map_err(|e| ApiError::bad("key", e.to_string()))?;
    let Some(record) = state
        .files
        .records
        .file(&key)
        .await
        .map_err(UploadError::Db)?
    else {
        return Err(ApiError::not_found(format!("no file {key} was uploaded")));
    };
    let fallback = format!("{}.{}", key.hex(), record.media_type.extensions()[0]);
    let name = match name_param(&uri)?.as_deref() {
        Some(raw) => file_name(Some(raw), "name")?,
        None => file_name(Some(&fallback), "name")?,
    };
    let offer = Offer {
        key: &key,
        name: &name,
        media_type: record.media_type,
        inline: false,
        cache_control: "private, no-cache",
    };
    download::respond(
        state.files.blobs(),
        offer,
        &headers,
        method == http::Method::HEAD,
    )
    .await
    .map_err(download_error)
}

/// The answer when a download failed.
pub fn download_error(e: download::DownloadError) -> ApiError {
    match e {
        download::DownloadError::Store(store) => {
            tracing::warn!(error = %store, "the file store failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the file store is unavailable just now; try again shortly".to_owned(),
            )
        }
        download::DownloadError::Missing(key) => {
            ApiError::internal(&format!("{key} is referenced but not stored"))
        }
    }
}

/// Headers every tus answer carries.
fn tus_headers(headers: &mut HeaderMap) {
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A tus request must say which version it speaks: the refusal when it does not.
fn tus_refusal(headers: &HeaderMap) -> Option<Response> {
    if header_text(headers, "tus-resumable").map(str::trim) == Some(TUS_VERSION) {
        return None;
    }
    let mut response = ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "tus_version",
        format!("send Tus-Resumable: {TUS_VERSION}, the tus version this server speaks"),
    )
    .at("tus-resumable")
    .into_response();
    response
        .headers_mut()
        .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    tus_headers(response.headers_mut());
    Some(response)
}

fn with_tus(result: Result<Response, ApiError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    tus_headers(response.headers_mut());
    response
}

async fn tus_options(State(state): State<Arc<Editorial>>) -> Response {
    let mut headers = HeaderMap::new();
    tus_headers(&mut headers);
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    if let Ok(max) = HeaderValue::from_str(&state.files.max_bytes().to_string()) {
        headers.insert("tus-max-size", max);
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// The pairs of `Upload-Metadata`: `key base64,key base64`.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = header_text(headers, "upload-metadata") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let mut parts = pair.trim().splitn(2, ' ');
            let key = parts.next().unwrap_or_default().to_owned();
            let value = parts.next().unwrap_or_default().trim();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::bad(
                        "upload-metadata",
                        format!(
                            "the value of '{}' is not UTF-8 in base64",
                            imprint_domain::shorten(&key)
                        ),
                    )
                })?;
            Ok((key, decoded))
        })
        .collect()
}

async fn tus_create(State(state): State<Arc<Editorial>>, headers: HeaderMap) -> Response {
    if let Some(refused) = tus_refusal(&headers) {
        return refused;
    }
    with_tus(create(&state, &headers).await)
}

async fn create(state: &Editorial, headers: &HeaderMap) -> Result<Response, ApiError> {
    let actor = admit(state, headers, Role::Editor, "uploading a file")?;
    if header_text(headers, "upload-defer-length").is_some() {
        return Err(ApiError::bad(
            "upload-defer-length",
            "send Upload-Length: this server needs the length first",
        ));
    }
    let length = length_header(headers, "upload-length")?
        .ok_or_else(|| ApiError::bad("upload-length", "the file's length is required"))?;
    let meta = metadata(headers)?;
    let value = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let name = file_name(
        value("filename").or(value("name")),
        "upload-metadata.filename",
    )?;
    let sha256 = value("sha256")
        .map(|hex| {
            FileKey::parse(hex).map_err(|e| ApiError::bad("upload-metadata.sha256", e.to_string()))
        })
        .transpose()?;
    let upload = state.files.start(length, name, sha256, &actor).await?;
    let mut out = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("{UPLOADS}/{}", upload.id.simple())) {
        out.insert(header::LOCATION, location);
    }
    expires(&mut out, upload.expire_time);
    Ok((StatusCode::CREATED, out).into_response())
}

fn expires(headers: &mut HeaderMap, at: chrono::DateTime<chrono::Utc>) {
    if let Ok(v) = HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        headers.insert("upload-expires", v);
    }
}

/// The caller of `headers` (an editor) and the upload `id`, if it is theirs.
async fn caller_upload(
    state: &Editorial,
    id: &str,
    headers: &HeaderMap,
) -> Result<(super::records::Upload, Actor), ApiError> {
    let actor = admit(state, headers, Role::Editor, "uploading a file")?;
    let upload = owned(state, id, &actor).await?;
    Ok((upload, actor))
}

/// The upload named in the path, if it is the caller's (an admin's reach is everyone's).
async fn owned(
    state: &Editorial,
    id: &str,
    actor: &Actor,
) -> Result<super::records::Upload, ApiError> {
    let id = Uuid::try_parse(id)
        .map_err(|_| ApiError::not_found(format!("no upload {}", imprint_domain::shorten(id))))?;
    let upload = state.files.status(id).await?;
    let mine = upload
        .creator
        .as_ref()
        .is_some_and(|c| c.subject() == actor.subject());
    if mine || actor.role() == Some(Role::Admin) {
        Ok(upload)
    } else {
        Err(UploadError::NotFound(id).into())
    }
}

fn upload_headers(upload: &super::records::Upload, out: &mut HeaderMap) {
    out.insert("upload-offset", HeaderValue::from(upload.received));
    out.insert("upload-length", HeaderValue::from(upload.length));
    if let Some(key) = upload.file
        && let Ok(v) = HeaderValue::from_str(&key.to_string())
    {
        out.insert("imprint-file-key", v);
    }
    if upload.file.is_none() {
        expires(out, upload.expire_time);
    }
}

async fn tus_head(
    State(state): State<Arc<Editorial>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = tus_refusal(&headers) {
        return refused;
    }
    with_tus(
        async {
            let (upload, _) = caller_upload(&state, &id, &headers).await?;
            let mut out = HeaderMap::new();
            upload_headers(&upload, &mut out);
            Ok((StatusCode::OK, out).into_response())
        }
        .await,
    )
}

async fn upload_status(
    State(state): State<Arc<Editorial>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (upload, _) = caller_upload(&state, &id, &headers).await?;
    let mut out = HeaderMap::new();
    upload_headers(&upload, &mut out);
    let json = UploadJson {
        id: upload.id.simple().to_string(),
        length: upload.length,
        offset: upload.received,
        name: upload.name.to_string(),
        file_key: upload.file.map(|k| k.to_string()),
    };
    Ok((StatusCode::OK, out, axum::Json(json)).into_response())
}

async fn tus_patch(
    State(state): State<Arc<Editorial>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    if let Some(refused) = tus_refusal(request.headers()) {
        return refused;
    }
    with_tus(patch(&state, &id, request).await)
}

async fn patch(state: &Editorial, id: &str, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    match patch_checked(state, id, &parts.headers).await {
        Ok((upload, offset, actor)) => append(state, &upload, offset, body, &actor).await,
        Err(refused) => {
            drain(&parts.headers, body).await;
            Err(refused)
        }
    }
}

/// What a part's headers say, checked before its body is read.
async fn patch_checked(
    state: &Editorial,
    id: &str,
    headers: &HeaderMap,
) -> Result<(super::records::Upload, u64, Actor), ApiError> {
    let (upload, actor) = caller_upload(state, id, headers).await?;
    let content_type = header_text(headers, "content-type").unwrap_or_default();
    if content_type.trim() != "application/offset+octet-stream" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a part's Content-Type must be application/offset+octet-stream".to_owned(),
        )
        .at("content-type"));
    }
    let offset = length_header(headers, "upload-offset")?
        .ok_or_else(|| ApiError::bad("upload-offset", "the part's offset is required"))?;
    Ok((upload, offset, actor))
}

/// Takes a part whose headers were checked.
async fn append(
    state: &Editorial,
    upload: &super::records::Upload,
    offset: u64,
    body: Body,
    actor: &Actor,
) -> Result<Response, ApiError> {
    let body = idle_limited(body);
    let appended = state.files.append(upload.id, offset, body, actor).await?;
    let mut out = HeaderMap::new();
    out.insert("upload-offset", HeaderValue::from(appended.received));
    match &appended.file {
        Some(file) => {
            if let Ok(v) = HeaderValue::from_str(&file.stored.key.to_string()) {
                out.insert("imprint-file-key", v);
            }
            tracing::info!(key = %file.stored.key, size = file.stored.size, subject = actor.subject(), "file uploaded (resumable)");
        }
        None => expires(&mut out, appended.expire_time),
    }
    Ok((StatusCode::NO_CONTENT, out).into_response())
}

/// A POST that says which method it stands for (`X-HTTP-Method-Override`), for clients
/// behind proxies that pass only GET and POST, as tus core requires.
async fn tus_override(
    state: State<Arc<Editorial>>,
    id: Path<String>,
    request: Request,
) -> Response {
    let method = header_text(request.headers(), "x-http-method-override")
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_default();
    match method.as_str() {
        "PATCH" => tus_patch(state, id, request).await,
        "DELETE" => tus_delete(state, id, request.headers().clone()).await,
        "HEAD" => tus_head(state, id, request.headers().clone()).await,
        _ => with_tus(Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "POST to an upload must say X-HTTP-Method-Override: PATCH, DELETE or HEAD".to_owned(),
        )
        .at("x-http-method-override"))),
    }
}

async fn tus_delete(
    State(state): State<Arc<Editorial>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = tus_refusal(&headers) {
        return refused;
    }
    with_tus(
        async {
            let (upload, _) = caller_upload(&state, &id, &headers).await?;
            state.files.terminate(upload.id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}
