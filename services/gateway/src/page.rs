//! Whole publication pages: `imprint.gateway.v1.PublicationPageService`, and the same assembly
//! for the public JSON API.
//!
//! The paper and its related publications are asked for at once (the recommendations service
//! resolves slugs, former ones too); the authors follow as soon as the paper names them. The
//! rail is an extra: when the recommendations service is down or slow the page still comes
//! back, without it and saying so, within the rail's time budget.

use std::time::Duration;

use imprint_domain::Violations;
use imprint_platform::clients::Peer;
use imprint_proto::authors::BatchGetAuthorsRequest;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::gateway::publication_page_service_server::PublicationPageService;
use imprint_proto::gateway::{
    GetPublicationPageRequest, GetPublicationPageResponse, PublicationPage,
};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{GetPaperRequest, PaperStatus, get_paper_request};
use imprint_proto::recommendations::get_related_publications_request::Key;
use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use imprint_proto::recommendations::{
    GetRelatedPublicationsRequest, GetRelatedPublicationsResponse, RelatedPublication,
};
use tonic::{Code, Request, Response, Status};

/// The full gRPC name of the service, for health reporting.
pub use imprint_proto::gateway::publication_page_service_server::SERVICE_NAME;

/// Related publications a page shows unless asked otherwise, and at most.
pub const DEFAULT_RELATED: i32 = imprint_domain::limits::DEFAULT_RAIL as i32;
/// The most related publications a page may ask for.
pub const MAX_RELATED: i32 = imprint_domain::limits::MAX_RAIL as i32;

/// Assembles publication pages from the three services.
#[derive(Debug, Clone)]
pub struct Pages {
    /// The papers service.
    papers: PaperServiceClient<Peer>,
    /// The authors service.
    authors: AuthorServiceClient<Peer>,
    /// The recommendations service.
    recommendations: RecommendationServiceClient<Peer>,
    /// How long a page waits for its rail before going without it.
    related_budget: Duration,
}

/// Which paper a page is of: by its slug (what readers and editors ask for), or by its id (a
/// preview link, which names the paper, not whatever holds its slug now).
#[derive(Debug, Clone, Copy)]
pub enum PageOf<'a> {
    /// A slug, current or former.
    Slug(&'a str),
    /// The paper's id.
    Id(imprint_domain::PaperId),
}

impl PageOf<'_> {
    fn paper_key(self) -> get_paper_request::Key {
        match self {
            Self::Slug(slug) => get_paper_request::Key::Slug(slug.to_owned()),
            Self::Id(id) => get_paper_request::Key::Id(id.to_string()),
        }
    }

    fn related_key(self) -> Key {
        match self {
            Self::Slug(slug) => Key::Slug(slug.to_owned()),
            Self::Id(id) => Key::PaperId(id.to_string()),
        }
    }
}

impl std::fmt::Display for PageOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Slug(slug) => write!(f, "the slug '{}'", imprint_domain::shorten(slug)),
            Self::Id(id) => write!(f, "the id {id}"),
        }
    }
}

/// Who is asking: editors preview drafts, the public sees published papers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Editorial callers (any role): drafts too.
    Editorial,
    /// The public API: a draft is NOT_FOUND, exactly like a slug no paper has.
    Public,
}

impl Pages {
    /// Pages from these services; the rail waits at most `related_budget`.
    pub fn new(
        papers: Peer,
        authors: Peer,
        recommendations: Peer,
        related_budget: Duration,
    ) -> Self {
        Self {
            papers: PaperServiceClient::new(papers),
            authors: AuthorServiceClient::new(authors),
            recommendations: RecommendationServiceClient::new(recommendations),
            related_budget,
        }
    }

    /// The page of the paper `of` names, with up to `related_limit` related publications
    /// (0: the default), within `deadline` when the caller set one.
    pub async fn page(
        &self,
        of: PageOf<'_>,
        related_limit: i32,
        audience: Audience,
        deadline: Option<Duration>,
    ) -> Result<PublicationPage, Status> {
        let of = match of {
            PageOf::Slug(slug) => PageOf::Slug(slug.trim()),
            by_id => by_id,
        };
        let limit = checked_limit(of, related_limit)?;
        // The caller's deadline covers the whole page: each call gets what is left of it.
        let due = deadline.map(|d| tokio::time::Instant::now() + d);
        fn with<T>(due: Option<tokio::time::Instant>, message: T) -> Request<T> {
            let mut request = Request::new(message);
            if let Some(due) = due {
                request.set_timeout(due.saturating_duration_since(tokio::time::Instant::now()));
            }
            request
        }
        let mut papers = self.papers.clone();
        let mut recommendations = self.recommendations.clone();
        let paper_call = papers.get_paper(with(
            due,
            GetPaperRequest {
                key: Some(of.paper_key()),
                // The public never learns a draft exists: NOT_FOUND by the same path as a
                // slug nobody has.
                published_only: audience == Audience::Public,
                ..GetPaperRequest::default()
            },
        ));
        let budget = deadline.map_or(self.related_budget, |d| d.min(self.related_budget));
        let related_call = tokio::time::timeout(
            budget,
            recommendations.get_related_publications(with(
                due,
                GetRelatedPublicationsRequest {
                    key: Some(of.related_key()),
                    limit,
                    ..GetRelatedPublicationsRequest::default()
                },
            )),
        );
        let (paper, related) = tokio::join!(paper_call, related_call);
        let not_found = || Status::not_found(format!("no published paper has {of}"));
        let paper = match paper {
            Ok(response) => response.into_inner().paper.ok_or_else(not_found)?,
            Err(status) if status.code() == Code::NotFound => return Err(not_found()),
            Err(status) => return Err(status),
        };
        if audience == Audience::Public && paper.status() != PaperStatus::Published {
            return Err(not_found());
        }
        let authors = if paper.author_ids.is_empty() {
            Vec::new()
        } else {
            self.authors
                .clone()
                .batch_get_authors(with(
                    due,
                    BatchGetAuthorsRequest {
                        ids: paper.author_ids.clone(),
                    },
                ))
                .await?
                .into_inner()
                .authors
        };
        // Byline order is the paper's; the service answers in request order, but the page
        // does not depend on it.
        let authors = paper
            .author_ids
            .iter()
            .filter_map(|id| authors.iter().find(|a| &a.id == id).cloned())
            .collect();
        let rail = rail_of(of, related, budget);
        // The public never sees a draft's neighbours through a page either: the rail only
        // holds published papers, as the recommendations service knows no others.
        Ok(PublicationPage {
            paper: Some(paper),
            authors,
            related: rail.items,
            related_unavailable: rail.unavailable,
            related_view_id: rail.view_id,
        })
    }
}

/// The number of related publications a page of `of` asks for, or what is wrong.
fn checked_limit(of: PageOf<'_>, related_limit: i32) -> Result<i32, Status> {
    let mut violations = Violations::new();
    if let PageOf::Slug("") = of {
        violations.push("slug", "required: the paper's slug");
    }
    let limit = imprint_domain::limits::rail_size(related_limit).unwrap_or_else(|why| {
        violations.push("related_limit", why);
        0
    });
    if !violations.is_empty() {
        return Err(imprint_proto::status::invalid_argument(&violations));
    }
    Ok(i32::try_from(limit).unwrap_or(MAX_RELATED))
}

/// A page's rail, as the recommendations service answered.
#[derive(Debug, Default)]
struct Rail {
    /// Its items, best first.
    items: Vec<RelatedPublication>,
    /// Its view, for RecordInteraction; empty without a rail.
    view_id: String,
    /// Missing for want of an answer in time.
    unavailable: bool,
}

/// The rail of a page from what the recommendations service answered within `budget`.
fn rail_of(
    of: PageOf<'_>,
    related: Result<
        Result<Response<GetRelatedPublicationsResponse>, Status>,
        tokio::time::error::Elapsed,
    >,
    budget: Duration,
) -> Rail {
    let missing = Rail {
        unavailable: true,
        ..Rail::default()
    };
    match related {
        Ok(Ok(response)) => {
            let rail = response.into_inner();
            Rail {
                items: rail.publications,
                view_id: rail.view_id,
                unavailable: false,
            }
        }
        // A draft has no rail, and a paper published a moment ago may not have one yet.
        Ok(Err(status)) if status.code() == Code::NotFound => Rail::default(),
        Ok(Err(status)) => {
            tracing::warn!(page = %of, code = ?status.code(), error = %status.message(), "page without related publications");
            missing
        }
        Err(_) => {
            tracing::warn!(page = %of, budget_ms = budget.as_millis(), "related publications too slow; page without them");
            missing
        }
    }
}

/// The deadline a gRPC caller set (`grpc-timeout`), to pass on to the services.
pub fn deadline_of<T>(request: &Request<T>) -> Option<Duration> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    // The gRPC spec: 1 to 8 ASCII digits, then the unit.
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[tonic::async_trait]
impl PublicationPageService for Pages {
    async fn get_publication_page(
        &self,
        request: Request<GetPublicationPageRequest>,
    ) -> Result<Response<GetPublicationPageResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let page = self
            .page(
                PageOf::Slug(&request.slug),
                request.related_limit,
                Audience::Editorial,
                deadline,
            )
            .await?;
        Ok(Response::new(GetPublicationPageResponse {
            page: Some(page),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        let with = |v: &str| {
            let mut r = Request::new(());
            r.metadata_mut().insert("grpc-timeout", v.parse().unwrap());
            deadline_of(&r)
        };
        assert_eq!(with("250m"), Some(Duration::from_millis(250)));
        assert_eq!(with("2S"), Some(Duration::from_secs(2)));
        assert_eq!(with("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(with("x"), None);
        assert_eq!(with("10q"), None);
        assert_eq!(with("+5S"), None);
        assert_eq!(with("123456789m"), None);
        assert_eq!(deadline_of(&Request::new(())), None);
    }
}
