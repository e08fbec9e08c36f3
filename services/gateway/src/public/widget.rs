//! `/widget.js`: the related-publications widget partner pages include (`widget/widget.js`).

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::cache;

/// The script.
const SCRIPT: &str = include_str!("../../widget/widget.js");

/// Its ETag, computed once.
static ETAG: LazyLock<String> = LazyLock::new(|| cache::etag(SCRIPT.as_bytes()));

/// Serves the script: cached by browsers for five minutes, then revalidated.
pub(super) async fn script(headers: HeaderMap) -> Response {
    let etag = ETAG.as_str();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| cache::matches(v, etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            )],
            Bytes::from_static(SCRIPT.as_bytes()),
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
