//! A stored file as an HTTP answer, for editors and the public alike: its name in
//! `Content-Disposition`, a strong ETag (its SHA-256: the bytes never change under a key),
//! `304` to a matching `If-None-Match`, one `Range` (resumed downloads, PDF viewers' partial
//! loads; `If-Range` respected), and the `Cache-Control` the caller decides.

use std::ops::Range;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use imprint_domain::{FileKey, FileName, MediaType};
use imprint_files::{Blobs, StoreError};

/// What to send.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// The file.
    pub key: &'a FileKey,
    /// The name it is downloaded under.
    pub name: &'a FileName,
    /// Its type.
    pub media_type: MediaType,
    /// Shown in the browser (images, PDFs) or saved.
    pub inline: bool,
    /// Who may keep it how long.
    pub cache_control: &'static str,
}

/// Why a download was not answered with the file.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A referenced file is not in the store.
    #[error("the file {0} is referenced but not stored")]
    Missing(FileKey),
}

/// The strong ETag of file `key`.
pub fn etag(key: &FileKey) -> String {
    format!("\"{}\"", key.hex())
}

/// The answer to a GET (or HEAD, with `head`) of `offer` with request `headers`.
pub async fn respond(
    blobs: &Blobs,
    offer: Offer<'_>,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, DownloadError> {
    let tag = etag(offer.key);
    // What a 304 carries (RFC 9110 §15.4.5): the validator and the caching rules.
    let mut base = HeaderMap::new();
    put(&mut base, header::ETAG, &tag);
    put(&mut base, header::CACHE_CONTROL, offer.cache_control);
    if matches_none(headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, base).into_response());
    }
    put(&mut base, header::ACCEPT_RANGES, "bytes");
    let wanted = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_holds(headers, &tag));
    // The length decides what a range means, and is all a HEAD needs.
    let ask = match wanted {
        None if !head => RangeAsk::Whole,
        wanted => {
            let Some(size) = blobs.size(offer.key).await? else {
                return Err(DownloadError::Missing(*offer.key));
            };
            match wanted.map(|spec| parse_range(spec, size)) {
                None => {
                    describe(&mut base, offer);
                    put(&mut base, header::CONTENT_LENGTH, &size.to_string());
                    return Ok((StatusCode::OK, base).into_response());
                }
                Some(RangeAsk::Unsatisfiable) => {
                    put(&mut base, header::CONTENT_RANGE, &format!("bytes */{size}"));
                    return Ok((StatusCode::RANGE_NOT_SATISFIABLE, base).into_response());
                }
                Some(ask) => ask,
            }
        }
    };
    let range = match ask {
        RangeAsk::Part(range) => Some(range),
        RangeAsk::Whole | RangeAsk::Unsatisfiable => None,
    };
    let Some(reading) = blobs.read(offer.key, range).await? else {
        return Err(DownloadError::Missing(*offer.key));
    };
    describe(&mut base, offer);
    let partial = reading.range.start != 0 || reading.range.end != reading.size;
    let len = reading.range.end - reading.range.start;
    put(&mut base, header::CONTENT_LENGTH, &len.to_string());
    let status = if partial {
        let last = reading.range.end.saturating_sub(1);
        let content_range = format!("bytes {}-{last}/{}", reading.range.start, reading.size);
        put(&mut base, header::CONTENT_RANGE, &content_range);
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let body = if head {
        Body::empty()
    } else {
        Body::from_stream(reading.bytes)
    };
    Ok((status, base, body).into_response())
}

/// What the bytes are and what they are called: on answers that carry them.
fn describe(headers: &mut HeaderMap, offer: Offer<'_>) {
    put(headers, header::CONTENT_TYPE, offer.media_type.mime());
    let disposition = disposition(offer.name, offer.inline);
    put(headers, header::CONTENT_DISPOSITION, &disposition);
    put(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
}

/// Sets `name` unless `value` cannot be a header value.
fn put(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// `attachment` (or `inline`) with an ASCII `filename` and the exact UTF-8 `filename*`
/// (RFC 6266).
fn disposition(name: &FileName, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let mut encoded = String::new();
    for b in name.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{encoded}",
        name.ascii_fallback()
    )
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn matches_none(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

/// A range applies unless `If-Range` names another version.
fn if_range_holds(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == tag)
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// All of it: no range this answers in part (several ranges, another unit, nonsense).
    Whole,
    /// Bytes past the end.
    Unsatisfiable,
    /// These bytes.
    Part(Range<u64>),
}

/// One `bytes=` range: `a-b`, `a-` or `-n` (RFC 9110 §14.1.2).
fn parse_range(spec: &str, size: u64) -> RangeAsk {
    let Some((unit, set)) = spec.trim().split_once('=') else {
        return RangeAsk::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAsk::Whole;
    }
    if set.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        (true, false) => match number(last) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part(size.saturating_sub(n)..size),
            None => RangeAsk::Whole,
        },
        (false, _) => {
            let Some(start) = number(first) else {
                return RangeAsk::Whole;
            };
            let end = if last.is_empty() {
                Some(size)
            } else {
                number(last).map(|l| l.saturating_add(1).min(size))
            };
            // A last before the first is no range at all (RFC 9110 §14.1.1): ignored.
            let backwards = number(last).is_some_and(|l| l < start);
            match end {
                None => RangeAsk::Whole,
                Some(_) if backwards => RangeAsk::Whole,
                Some(_) if start >= size => RangeAsk::Unsatisfiable,
                Some(end) if end <= start => RangeAsk::Whole,
                Some(end) => RangeAsk::Part(start..end),
            }
        }
        (true, true) => RangeAsk::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        assert_eq!(parse_range("bytes=0-99", 1000), RangeAsk::Part(0..100));
        assert_eq!(parse_range("bytes=900-", 1000), RangeAsk::Part(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), RangeAsk::Part(900..1000));
        assert_eq!(parse_range("bytes=-5000", 1000), RangeAsk::Part(0..1000));
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            RangeAsk::Part(990..1000)
        );
        assert_eq!(parse_range("bytes=1000-", 1000), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("Bytes=0-9", 1000), RangeAsk::Part(0..10));
        assert_eq!(parse_range("bytes=2000-1000", 1000), RangeAsk::Whole);
        for whole in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-2",
            "bytes=x-",
            "bytes=-",
            "0-1",
        ] {
            assert_eq!(parse_range(whole, 1000), RangeAsk::Whole, "{whole}");
        }
    }

    #[test]
    fn names_travel_exactly_and_safely() {
        let name = FileName::parse("Rapport été \"final\".pdf").unwrap();
        assert_eq!(
            disposition(&name, false),
            "attachment; filename=\"Rapport__t___final_.pdf\"; filename*=UTF-8''Rapport%20%C3%A9t%C3%A9%20%22final%22.pdf"
        );
    }
}
