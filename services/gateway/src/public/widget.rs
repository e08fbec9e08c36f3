//! `/widget.js`: the related-publications widget partner pages include (`widget/widget.js`).

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::cache::Entry;

/// The script, with its ETag computed once.
static SCRIPT: LazyLock<Entry> = LazyLock::new(|| {
    Entry::new(
        Bytes::from_static(include_str!("../../widget/widget.js").as_bytes()),
        "text/javascript; charset=utf-8",
    )
});

/// Serves the script: cached by browsers for five minutes, then revalidated.
pub(super) async fn script(headers: HeaderMap) -> Response {
    super::respond(&SCRIPT, &headers, "public, max-age=300")
}
