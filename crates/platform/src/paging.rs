//! List paging (AIP-158): a page size with a default and a cap, and opaque page tokens that
//! carry the last key seen and the filters they were issued for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use imprint_domain::Violations;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ServiceError;

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page served; larger requests are served this many.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The page size to serve for a requested `page_size`: 0 means the default, above `max` means
/// `max`, negative is an error naming the field.
pub fn page_size(requested: i32, max: u64) -> Result<u64, ServiceError> {
    match u64::try_from(requested) {
        Err(_) => Err(Violations::one(
            "page_size",
            format!("must not be negative (got {requested})"),
        )
        .into()),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Ok(n) => Ok(n.min(max)),
    }
}

/// The key a `page_token` resumes after under `filters`, as an error naming the field when the
/// token is not one of ours.
pub fn resume_after<T: DeserializeOwned>(
    filters: &str,
    page_token: &str,
) -> Result<Option<T>, ServiceError> {
    decode_token(filters, page_token).map_err(|e| Violations::one("page_token", e).into())
}

/// Cuts a page from the `size + 1` rows a store returned: the first `size`, and a token to
/// resume after the last of them when there were more.
pub fn finish_page<T, K: Serialize>(
    mut rows: Vec<T>,
    size: u64,
    filters: &str,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, String) {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() <= size {
        return (rows, String::new());
    }
    rows.truncate(size);
    let token = rows
        .last()
        .map(|last| encode_token(filters, &key(last)))
        .unwrap_or_default();
    (rows, token)
}

#[derive(Serialize, Deserialize)]
struct Token<T> {
    /// The filters the token was issued for.
    f: String,
    /// The sort key of the last item served.
    k: T,
}

/// A token resuming after `last_key` under `filters`.
pub fn encode_token<T: Serialize>(filters: &str, last_key: &T) -> String {
    let token = Token {
        f: filters.to_owned(),
        k: last_key,
    };
    serde_json::to_vec(&token)
        .map(|json| URL_SAFE_NO_PAD.encode(json))
        .unwrap_or_default()
}

/// The key a token resumes after; `None` for the first page. Refuses tokens that are not ours
/// or were issued for other filters.
pub fn decode_token<T: DeserializeOwned>(filters: &str, token: &str) -> Result<Option<T>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || "is not a page token issued by this list; start again without one".to_owned();
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    // Keys go into queries; a NUL, which no stored key holds, would only make the database fail.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        return Err(invalid());
    }
    let token: Token<T> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.f != filters {
        return Err(
            "was issued for other filters; repeat the same filters or start again without a token"
                .to_owned(),
        );
    }
    Ok(Some(token.k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(page_size(0, MAX_PAGE_SIZE).ok(), Some(20));
        assert_eq!(page_size(7, MAX_PAGE_SIZE).ok(), Some(7));
        assert_eq!(page_size(1000, MAX_PAGE_SIZE).ok(), Some(100));
        assert_eq!(page_size(0, 10).ok(), Some(10));
        assert!(page_size(-1, MAX_PAGE_SIZE).is_err());
    }

    #[test]
    fn pages_are_cut_with_a_token_only_when_more_exist() {
        let (rows, token) = finish_page(vec![1, 2, 3], 3, "f", |r| *r);
        assert_eq!((rows, token.as_str()), (vec![1, 2, 3], ""));
        let (rows, token) = finish_page(vec![1, 2, 3, 4], 3, "f", |r| *r);
        assert_eq!(rows, [1, 2, 3]);
        assert_eq!(decode_token::<i32>("f", &token), Ok(Some(3)));
    }

    #[test]
    fn tokens_round_trip_and_bind_filters() {
        let t = encode_token("topic=x", &("name", 3));
        assert_eq!(
            decode_token::<(String, i32)>("topic=x", &t),
            Ok(Some(("name".to_owned(), 3)))
        );
        assert!(
            decode_token::<(String, i32)>("topic=y", &t)
                .unwrap_err()
                .contains("other filters")
        );
        assert!(decode_token::<(String, i32)>("", "garbage!").is_err());
        assert!(decode_token::<(String, i32)>("", "Zm9v").is_err());
        assert_eq!(decode_token::<i32>("", ""), Ok(None));
    }
}
