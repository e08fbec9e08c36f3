//! List paging (AIP-158): a page size with a default and a cap, and opaque, signed page tokens
//! that carry the last key seen and are bound to the filters they were issued for.

use imprint_domain::Violations;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::ServiceError;
use crate::signing::{Purpose, Signer};

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page served; larger requests are served this many.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The page size to serve for a requested `page_size`: 0 means the default, above `max` means
/// `max`, negative is an error naming the field.
pub fn page_size(requested: i32, max: u64) -> Result<u64, ServiceError> {
    let mut v = Violations::new();
    let size = checked_page_size(&mut v, requested, max);
    v.into_result(|| size).map_err(Into::into)
}

/// [`page_size`], a negative one noted in `v` with the request's other faults.
pub fn checked_page_size(v: &mut Violations, requested: i32, max: u64) -> u64 {
    match u64::try_from(requested) {
        Err(_) => {
            v.push(
                "page_size",
                format!("must not be negative (got {requested})"),
            );
            0
        }
        Ok(0) => DEFAULT_PAGE_SIZE.min(max),
        Ok(n) => n.min(max),
    }
}

/// The key a `page_token` resumes after under `filters`, as an error naming the field when the
/// token is not one of ours.
pub fn resume_after<T: DeserializeOwned>(
    signer: &Signer,
    filters: &str,
    page_token: &str,
) -> Result<Option<T>, ServiceError> {
    decode_token(signer, filters, page_token)
        .map_err(|e| Violations::one("page_token", e.to_string()).into())
}

/// Cuts a page from the `size + 1` rows a store returned: the first `size`, and a token to
/// resume after the last of them when there were more.
pub fn finish_page<T, K: Serialize>(
    signer: &Signer,
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
        .map(|last| encode_token(signer, filters, &key(last)))
        .unwrap_or_default();
    (rows, token)
}

/// Why a page token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this list issued (made up, changed, or signed by a retired key).
    #[error("is not a page token issued by this list; start again without one")]
    NotOurs,
    /// Issued for the same list under other filters.
    #[error("was issued for other filters; repeat the same filters or start again without a token")]
    OtherFilters,
}

/// Bytes of the filters' digest a token carries: enough to tell filters apart, nothing to read.
const DIGEST_BYTES: usize = 8;

fn digest(filters: &str) -> [u8; DIGEST_BYTES] {
    let full = Sha256::digest(filters.as_bytes());
    let mut out = [0u8; DIGEST_BYTES];
    out.copy_from_slice(&full[..DIGEST_BYTES]);
    out
}

/// A token resuming after `last_key` under `filters`: the key (values of the last item
/// served, which the client has seen), a digest of the filters and a tag. Opaque to clients:
/// nothing internal is in it, and nothing in it can be changed.
pub fn encode_token<T: Serialize>(signer: &Signer, filters: &str, last_key: &T) -> String {
    let Ok(key) = serde_json::to_vec(last_key) else {
        return String::new();
    };
    let mut payload = digest(filters).to_vec();
    payload.extend_from_slice(&key);
    signer.seal(Purpose::PageToken, b"", &payload)
}

/// The key a token resumes after; `None` for the first page. Refuses tokens that are not ours
/// or were issued for other filters.
pub fn decode_token<T: DeserializeOwned>(
    signer: &Signer,
    filters: &str,
    token: &str,
) -> Result<Option<T>, TokenError> {
    if token.is_empty() {
        return Ok(None);
    }
    let payload = signer
        .open(Purpose::PageToken, b"", token)
        .ok_or(TokenError::NotOurs)?;
    let (issued_for, key) = payload
        .split_at_checked(DIGEST_BYTES)
        .ok_or(TokenError::NotOurs)?;
    if issued_for != digest(filters) {
        return Err(TokenError::OtherFilters);
    }
    serde_json::from_slice(key)
        .map_err(|_| TokenError::NotOurs)
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(&["a signing key for the paging tests, 32+ bytes".to_owned()])
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

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
        let s = signer();
        let (rows, token) = finish_page(&s, vec![1, 2, 3], 3, "f", |r| *r);
        assert_eq!((rows, token.as_str()), (vec![1, 2, 3], ""));
        let (rows, token) = finish_page(&s, vec![1, 2, 3, 4], 3, "f", |r| *r);
        assert_eq!(rows, [1, 2, 3]);
        assert_eq!(decode_token::<i32>(&s, "f", &token), Ok(Some(3)));
    }

    #[test]
    fn tokens_round_trip_bind_filters_and_hide_them() {
        let s = signer();
        let t = encode_token(&s, "status=Some(Published);topic=x", &("name", 3));
        assert_eq!(
            decode_token::<(String, i32)>(&s, "status=Some(Published);topic=x", &t),
            Ok(Some(("name".to_owned(), 3)))
        );
        assert_eq!(
            decode_token::<(String, i32)>(&s, "topic=y", &t),
            Err(TokenError::OtherFilters)
        );
        let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &t)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("status") && !text.contains("Some("),
            "{text}"
        );
        assert_eq!(
            decode_token::<(String, i32)>(&s, "", "garbage!"),
            Err(TokenError::NotOurs)
        );
        assert_eq!(
            decode_token::<(String, i32)>(&s, "", "Zm9v"),
            Err(TokenError::NotOurs)
        );
        assert_eq!(decode_token::<i32>(&s, "", ""), Ok(None));
        let other = Signer::new(&["another deployment's key, 32 bytes or more".to_owned()])
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            decode_token::<(String, i32)>(&other, "topic=x", &t),
            Err(TokenError::NotOurs),
            "made up, or signed by a key this deployment does not hold"
        );
    }
}
