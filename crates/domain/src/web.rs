//! Web links stored on profiles: absolute http(s) URLs only, so nothing stored can become a
//! `javascript:` or `data:` link on a partner's page.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::shorten;

/// Longest URL accepted; browsers and CDNs handle this much everywhere.
pub const MAX_URL_LEN: usize = 2048;

/// An absolute `http` or `https` URL with a host and no embedded credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HttpUrl(String);

/// Why a URL was refused (inputs shortened for the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Longer than a URL may be.
    #[error("must be at most {MAX_URL_LEN} characters")]
    TooLong,
    /// Not a URL with a scheme.
    #[error("'{input}' is not an absolute URL ({reason}); use http:// or https://")]
    NotAbsolute {
        /// As sent.
        input: String,
        /// What the URL parser found.
        reason: url::ParseError,
    },
    /// A scheme other than http or https (`javascript:`, `file:`).
    #[error("'{input}' uses the scheme '{scheme}': only http and https URLs are allowed")]
    Scheme {
        /// As sent.
        input: String,
        /// Its scheme.
        scheme: String,
    },
    /// No host to link to.
    #[error("'{0}' has no host")]
    NoHost(String),
    /// Credentials in the URL, which a public page would show.
    #[error("must not contain a user name or password")]
    Credentials,
    /// Within the limit as sent, over it once percent-encoded.
    #[error("must be at most {MAX_URL_LEN} characters once percent-encoded (got {got})")]
    TooLongEncoded {
        /// Characters once encoded.
        got: usize,
    },
}

impl HttpUrl {
    /// Parses and normalises (`HTTPS://Example.org` becomes `https://example.org/`).
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let trimmed = input.trim();
        if trimmed.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let url = url::Url::parse(trimmed).map_err(|reason| UrlError::NotAbsolute {
            input: shorten(trimmed),
            reason,
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(UrlError::Scheme {
                input: shorten(trimmed),
                scheme: url.scheme().to_owned(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::NoHost(shorten(trimmed)));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let normalised: String = url.into();
        if normalised.len() > MAX_URL_LEN {
            return Err(UrlError::TooLongEncoded {
                got: normalised.len(),
            });
        }
        Ok(Self(normalised))
    }

    /// Wraps a URL read back from storage, where only parsed URLs are written.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The normalised URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_http_and_https() {
        assert_eq!(
            HttpUrl::parse("HTTPS://Example.org/a b").unwrap().as_str(),
            "https://example.org/a%20b"
        );
        assert!(HttpUrl::parse("http://127.0.0.1:8080/x.jpg").is_ok());
    }

    #[test]
    fn refuses_other_schemes_relative_and_credentials() {
        assert!(
            HttpUrl::parse("javascript:alert(1)")
                .unwrap_err()
                .to_string()
                .contains("only http and https")
        );
        assert!(HttpUrl::parse("ftp://example.org/").is_err());
        assert!(HttpUrl::parse("/photo.jpg").is_err());
        assert!(HttpUrl::parse("https://u:p@example.org/").is_err());
        assert!(HttpUrl::parse("").is_err());
        let long = format!("https://example.org/{}", "é".repeat(1000));
        assert!(
            HttpUrl::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("percent-encoded")
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_output_reparses(s in ".*") {
            if let Ok(url) = HttpUrl::parse(&s) {
                prop_assert_eq!(HttpUrl::parse(url.as_str()), Ok(url));
            }
        }
    }
}
