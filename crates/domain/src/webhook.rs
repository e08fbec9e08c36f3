//! Webhooks: the endpoints operators register to hear of changes over HTTP, what each one wants
//! (event types and terms), the addresses it may point at, and the retry schedule of a delivery.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Violations;
use crate::id::{TermId, shorten};
use crate::text::{TextError, clean};
use crate::web::{HttpUrl, UrlError};

/// Most event-type patterns on one endpoint.
pub const MAX_EVENT_TYPES: usize = 20;
/// Most terms an endpoint filters by.
pub const MAX_FILTER_TERMS: usize = 20;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// Longest event-type pattern (and stored event type).
pub const MAX_EVENT_TYPE_CHARS: usize = 100;

/// What an endpoint may point at, from `webhooks.allow_http` and `webhooks.allow_private`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain http (for tests and private networks); https otherwise.
    pub allow_http: bool,
    /// Loopback, private and link-local addresses (else a webhook could reach what only the
    /// server may: its metadata service, its database).
    pub allow_private: bool,
}

/// Why an endpoint's URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not a URL at all.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// Plain http where only https is allowed.
    #[error(
        "'{0}' is not https: deliveries are signed, but their content would travel in clear (set webhooks.allow_http to allow it)"
    )]
    NotHttps(String),
    /// A host that is, or resolves to, an address the server keeps to itself.
    #[error(
        "'{host}' is {kind} address: webhooks may not reach the server's own network (set webhooks.allow_private to allow it)"
    )]
    Private {
        /// The host as given.
        host: String,
        /// "a loopback", "a private", "a link-local" …
        kind: &'static str,
    },
}

/// An endpoint's URL, checked against a [`UrlPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(HttpUrl);

impl WebhookUrl {
    /// Parses `input` and checks its scheme and, when it is an address, its host. A name is
    /// checked again at each delivery, against every address it resolves to then.
    pub fn parse(input: &str, policy: UrlPolicy) -> Result<Self, WebhookUrlError> {
        let url = HttpUrl::parse(input)?;
        let parsed = url::Url::parse(url.as_str()).map_err(|reason| UrlError::NotAbsolute {
            input: shorten(input),
            reason,
        })?;
        if parsed.scheme() != "https" && !policy.allow_http {
            return Err(WebhookUrlError::NotHttps(shorten(input)));
        }
        if !policy.allow_private {
            let host = parsed.host_str().unwrap_or_default();
            let literal = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            let kind = match literal {
                Some(ip) => reserved(ip),
                None if host == "localhost" || host.ends_with(".localhost") => Some("a loopback"),
                None => None,
            };
            if let Some(kind) = kind {
                return Err(WebhookUrlError::Private {
                    host: shorten(host),
                    kind,
                });
            }
        }
        Ok(Self(url))
    }

    /// Wraps a URL read back from storage.
    pub fn from_trusted(stored: String) -> Self {
        Self(HttpUrl::from_trusted(stored))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// What kind of address `ip` is when the server keeps it to itself (loopback, private,
/// link-local, unspecified, carrier-grade NAT, unique local), else `None`.
pub fn reserved(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback")
            } else if v4.is_private() {
                Some("a private")
            } else if v4.is_link_local() {
                Some("a link-local")
            } else if v4.is_unspecified() || v4.is_broadcast() || a == 0 {
                Some("an unspecified")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a shared (carrier-grade NAT)")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return reserved(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback")
            } else if v6.is_unspecified() {
                Some("an unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique local")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local")
            } else {
                None
            }
        }
    }
}

/// What an endpoint wants: event types (AMQP topic patterns) and terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookFilter {
    /// Patterns such as `paper.published`, `paper.*`, `#`; empty means every event.
    pub event_types: Vec<String>,
    /// Only papers carrying one of these terms (or a country under one), and these terms'
    /// own changes; empty means no such restriction.
    pub term_ids: Vec<TermId>,
}

impl WebhookFilter {
    /// Validates the patterns and term ids as sent (violations under `event_types[i]` and
    /// `term_ids[i]`).
    pub fn parse(event_types: &[String], term_ids: &[String]) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if event_types.len() > MAX_EVENT_TYPES {
            v.push(
                "event_types",
                format!(
                    "at most {MAX_EVENT_TYPES} patterns (got {})",
                    event_types.len()
                ),
            );
        }
        if term_ids.len() > MAX_FILTER_TERMS {
            v.push(
                "term_ids",
                format!("at most {MAX_FILTER_TERMS} terms (got {})", term_ids.len()),
            );
        }
        if !v.is_empty() {
            return Err(v);
        }
        let mut types = Vec::with_capacity(event_types.len());
        for (i, pattern) in event_types.iter().enumerate() {
            let pattern = pattern.trim();
            let words_ok = !pattern.is_empty()
                && pattern.len() <= MAX_EVENT_TYPE_CHARS
                && pattern.split('.').all(|w| {
                    w == "*"
                        || w == "#"
                        || (!w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                });
            if words_ok {
                if !types.iter().any(|t: &String| t == pattern) {
                    types.push(pattern.to_owned());
                }
            } else {
                v.push(
                    format!("event_types[{i}]"),
                    format!(
                        "'{}' is not an event type pattern: dot-separated lowercase words, * for one word, # for any (paper.published, paper.*, #)",
                        shorten(pattern)
                    ),
                );
            }
        }
        let mut terms = Vec::with_capacity(term_ids.len());
        for (i, id) in term_ids.iter().enumerate() {
            if let Some(id) = v.check(&format!("term_ids[{i}]"), TermId::parse(id))
                && !terms.contains(&id)
            {
                terms.push(id);
            }
        }
        v.into_result(|| Self {
            event_types: types,
            term_ids: terms,
        })
    }

    /// Whether an event of `event_type` passes the type patterns.
    pub fn wants_type(&self, event_type: &str) -> bool {
        self.event_types.is_empty()
            || self
                .event_types
                .iter()
                .any(|p| topic_matches(p, event_type))
    }

    /// Whether a change touching `terms` (a paper's terms and their regions, or a term
    /// itself) passes the term filter.
    pub fn wants_terms(&self, terms: &[TermId]) -> bool {
        self.term_ids.is_empty() || terms.iter().any(|t| self.term_ids.contains(t))
    }
}

/// Whether `routing_key` matches an AMQP topic pattern (`*` one word, `#` any number): how
/// the broker routes events to queues, and how webhook filters pick them (one rule for both;
/// `imprint_events::envelope` re-exports it).
pub fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &k[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = routing_key.split('.').collect();
    go(&p, &k)
}

/// An endpoint's description.
pub fn description(input: &str) -> Result<String, TextError> {
    clean(input, 0, MAX_DESCRIPTION, false)
}

/// When a delivery is retried: exponential backoff from `initial`, doubling up to `max`, for
/// `window` after the first attempt (then it is given up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// How long after its first attempt a delivery is still retried.
    pub window: Duration,
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure in a row (1 for the first).
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.initial
            .saturating_mul(1_u32 << doublings)
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn urls_must_be_https_and_public_unless_allowed() {
        assert!(WebhookUrl::parse("https://hooks.example.org/imprint", STRICT).is_ok());
        for (url, why) in [
            ("http://hooks.example.org/", "is not https"),
            ("ftp://hooks.example.org/", "only http and https"),
            ("https://127.0.0.1/", "loopback"),
            ("https://localhost:8080/", "loopback"),
            ("https://10.1.2.3/", "private"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[::1]/", "loopback"),
            ("https://[fd00::1]/", "unique local"),
            ("https://[::ffff:192.168.0.1]/", "private"),
            ("https://100.64.0.1/", "carrier-grade"),
        ] {
            let err = WebhookUrl::parse(url, STRICT).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
        let open = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", open).is_ok());
    }

    #[test]
    fn filters_match_types_by_pattern_and_papers_by_terms() {
        let term = TermId::generate();
        let f = WebhookFilter::parse(
            &["paper.*".into(), "term.updated".into()],
            &[term.to_string()],
        )
        .unwrap();
        assert!(f.wants_type("paper.published") && f.wants_type("term.updated"));
        assert!(!f.wants_type("author.created"));
        assert!(f.wants_terms(&[TermId::generate(), term]));
        assert!(!f.wants_terms(&[]));
        assert!(WebhookFilter::default().wants_type("anything.at_all"));
        assert!(topic_matches("#", "paper.deleted"));
        let err = WebhookFilter::parse(&["Paper Published".into()], &["x".into()]).unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["event_types[0]", "term_ids[0]"]);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            window: Duration::from_secs(86_400),
        };
        assert_eq!(p.backoff(1), Duration::from_secs(5));
        assert_eq!(p.backoff(3), Duration::from_secs(20));
        assert_eq!(p.backoff(40), Duration::from_secs(3600));
    }
}
