//! Each route's query parameters, parsed once per request into a struct of its own.
//!
//! The struct is both what the handler reads and what its answer is cached under
//! ([`super::PublicApi::cached`] keys on its `Debug` form and hands it to the computation): a
//! parameter a handler reads is a field, so it is in the cache key, and two URLs that parse to
//! the same values (`limit=20` and no limit, `q=peace` and `q=%20peace`) share one answer.
//! Unknown parameters (partners' cache busters) are ignored and neither miss nor fill the cache.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use imprint_domain::PublicationType;

use super::{ApiError, Params};
use crate::page::{DEFAULT_RELATED, MAX_RELATED};

/// A route's parsed query.
pub(super) trait RouteQuery: std::fmt::Debug + Sized {
    /// The values of `params`, or the first parameter at fault.
    fn from_params(params: &Params) -> Result<Self, ApiError>;
}

/// Extracts a route's query: a bad parameter is answered 400, naming it, before anything is
/// looked up.
pub(super) struct Query<T>(pub T);

impl<S: Send + Sync, T: RouteQuery> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        T::from_params(&Params::parse(parts.uri.query())).map(Self)
    }
}

/// A route that reads no parameter.
#[derive(Debug)]
pub(super) struct NoQuery;

impl RouteQuery for NoQuery {
    fn from_params(_: &Params) -> Result<Self, ApiError> {
        Ok(Self)
    }
}

/// `limit` and `cursor` of a list.
#[derive(Debug)]
pub(super) struct Paging {
    /// Items per page.
    pub limit: i32,
    /// The previous page's `next_cursor`, empty for the first page.
    pub cursor: String,
}

impl RouteQuery for Paging {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            limit: p.limit()?,
            cursor: p.cursor()?,
        })
    }
}

/// `type`: one publication type, as a filter.
fn publication_type(p: &Params) -> Result<Option<PublicationType>, ApiError> {
    let Some(name) = p.text("type", 40)? else {
        return Ok(None);
    };
    PublicationType::from_str_opt(&name)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad(
                "type",
                format!(
                    "'{name}' is not a publication type; use one of {}",
                    super::json::type_names().join(", ")
                ),
            )
        })
}

/// `program`, `region` and `series`: one term of each vocabulary, by its slug (current or
/// former) or id. A region takes in its countries.
#[derive(Debug, Default)]
pub(super) struct TermParams {
    /// Only papers of this program.
    pub program: Option<String>,
    /// Only papers of this region, or of a country under it.
    pub region: Option<String>,
    /// Only papers of this series.
    pub series: Option<String>,
}

impl RouteQuery for TermParams {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        let max = imprint_domain::taxonomy::MAX_TERM_KEY_CHARS;
        Ok(Self {
            program: p.text("program", max)?,
            region: p.text("region", max)?,
            series: p.text("series", max)?,
        })
    }
}

/// `/v1/search`.
#[derive(Debug)]
pub(super) struct SearchQuery {
    /// The words, empty for every paper.
    pub q: String,
    /// Only papers of this type.
    pub kind: Option<PublicationType>,
    /// Only papers with this topic.
    pub topic: Option<String>,
    /// Only papers of these terms.
    pub terms: TermParams,
    /// Which page.
    pub paging: Paging,
}

impl RouteQuery for SearchQuery {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            q: p.query()?.unwrap_or_default(),
            kind: publication_type(p)?,
            topic: p.topic()?,
            terms: TermParams::from_params(p)?,
            paging: Paging::from_params(p)?,
        })
    }
}

/// `/v1/papers`: a list, or with `q` a search.
#[derive(Debug)]
pub(super) struct PaperListQuery {
    /// Only papers of this type.
    pub kind: Option<PublicationType>,
    /// Only papers with this topic.
    pub topic: Option<String>,
    /// Only papers by the author with this slug.
    pub author: Option<String>,
    /// Words to search for: then the list is a search.
    pub q: Option<String>,
    /// Only papers of these terms.
    pub terms: TermParams,
    /// Which page.
    pub paging: Paging,
}

impl RouteQuery for PaperListQuery {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        let limit = p.limit()?;
        let kind = publication_type(p)?;
        let topic = p.topic()?;
        let author = p.text("author", imprint_domain::slug::MAX_SLUG_LEN)?;
        let paging = Paging {
            limit,
            cursor: p.cursor()?,
        };
        let q = p.query()?;
        if q.is_some() && author.is_some() {
            return Err(ApiError::bad("author", "cannot be combined with q"));
        }
        Ok(Self {
            kind,
            topic,
            author,
            q,
            terms: TermParams::from_params(p)?,
            paging,
        })
    }
}

/// A rail's `limit` and terms (`/v1/papers/{slug}/related`): the widget's `data-region`.
#[derive(Debug)]
pub(super) struct RailQuery {
    /// How many related publications.
    pub limit: i32,
    /// Only publications of these terms.
    pub terms: TermParams,
}

impl RouteQuery for RailQuery {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            limit: p.int("limit", DEFAULT_RELATED, 1, MAX_RELATED)?,
            terms: TermParams::from_params(p)?,
        })
    }
}

/// A page's `related_limit` (`/v1/pages/{slug}`).
#[derive(Debug)]
pub(super) struct PageQuery {
    /// How many related publications.
    pub related_limit: i32,
}

impl RouteQuery for PageQuery {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            related_limit: p.int("related_limit", DEFAULT_RELATED, 1, MAX_RELATED)?,
        })
    }
}

/// `format` of a citation.
#[derive(Debug)]
pub(super) struct CitationQuery {
    /// The format asked for.
    pub format: super::cite::Format,
}

impl RouteQuery for CitationQuery {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        let format = match p.text("format", 20)? {
            None => return Err(ApiError::bad("format", "required: bibtex, ris or csl-json")),
            Some(f) => super::cite::Format::parse(&f).ok_or_else(|| {
                ApiError::bad(
                    "format",
                    format!("'{f}' is not a citation format; use bibtex, ris or csl-json"),
                )
            })?,
        };
        Ok(Self { format })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key<T: RouteQuery>(raw: &str) -> String {
        format!("{:?}", T::from_params(&Params::parse(Some(raw))).unwrap())
    }

    #[test]
    fn urls_that_mean_the_same_share_a_key_and_others_do_not() {
        assert_eq!(
            key::<PaperListQuery>("limit=20&topic=%20peace&utm=x"),
            key::<PaperListQuery>("topic=peace")
        );
        assert_ne!(
            key::<PaperListQuery>("topic=peace"),
            key::<PaperListQuery>("topic=peace&type=report")
        );
        assert_ne!(
            key::<PaperListQuery>("author=a"),
            key::<PaperListQuery>("author=b")
        );
        assert_eq!(key::<RailQuery>(""), key::<RailQuery>("limit=3"));
        assert_ne!(
            key::<RailQuery>("region=south-asia"),
            key::<RailQuery>("region=europe")
        );
        assert_ne!(
            key::<PaperListQuery>("program=asia-center"),
            key::<PaperListQuery>("series=asia-center")
        );
        assert_eq!(key::<NoQuery>("anything=1"), key::<NoQuery>(""));
    }

    #[test]
    fn the_first_bad_parameter_is_named() {
        let e = PaperListQuery::from_params(&Params::parse(Some("author=x&q=peace"))).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("author"));
        let e = SearchQuery::from_params(&Params::parse(Some("type=poem"))).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("type"));
        let e = CitationQuery::from_params(&Params::parse(None)).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("format"));
    }
}
