//! List paging (AIP-158): a page size with a default and a cap, and opaque page tokens that
//! carry the last key seen and the filters they were issued for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page served; larger requests are served this many.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The page size to serve for a requested one: 0 means the default, above the cap means the
/// cap, negative is an error.
pub fn page_size(requested: i32) -> Result<u64, String> {
    match u64::try_from(requested) {
        Err(_) => Err(format!("must not be negative (got {requested})")),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
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
        assert_eq!(page_size(0), Ok(20));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(1000), Ok(100));
        assert!(page_size(-1).is_err());
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
