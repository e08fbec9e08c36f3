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
    let mut base = HeaderMap::new();
    put(&mut base, header::ETAG, &tag);
    put(&mut base, header::CACHE_CONTROL, offer.cache_control);
    put(&mut base, header::ACCEPT_RANGES, "bytes");
    put(&mut base, header::CONTENT_TYPE, offer.media_type.mime());
    put(
        &mut base,
        header::CONTENT_DISPOSITION,
        &disposition(offer.name, offer.inline),
    );
    put(&mut base, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if matches_none(headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, base).into_response());
    }
    let wanted = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_holds(headers, &tag));
    // The length decides what a range means; HEAD and unranged GETs need it too.
    let reading = match wanted {
        None => blobs.read(offer.key, None).await?,
        Some(spec) => {
            let Some(size) = blobs.size(offer.key).await? else {
                return Err(DownloadError::Missing(*offer.key));
            };
            match parse_range(spec, size) {
                RangeAsk::Whole => blobs.read(offer.key, None).await?,
                RangeAsk::Unsatisfiable => {
                    put(&mut base, header::CONTENT_RANGE, &format!("bytes */{size}"));
                    return Ok((StatusCode::RANGE_NOT_SATISFIABLE, base).into_response());
                }
                RangeAsk::Part(range) => blobs.read(offer.key, Some(range)).await?,
            }
        }
    };
    let Some(reading) = reading else {
        return Err(DownloadError::Missing(*offer.key));
    };
    let partial = reading.range.start != 0 || reading.range.end != reading.size;
    let len = reading.range.end - reading.range.start;
    put(&mut base, header::CONTENT_LENGTH, &len.to_string());
    let status = if partial {
        put(
            &mut base,
            header::CONTENT_RANGE,
            &format!(
                "bytes {}-{}/{}",
                reading.range.start,
                reading.range.end.saturating_sub(1),
                reading.size
            ),
        );
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
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
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
            match end {
                None => RangeAsk::Whole,
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
