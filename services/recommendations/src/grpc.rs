//! `imprint.recommendations.v1.RecommendationService` over gRPC: requests are validated field
//! by field, results become messages, errors become statuses through `ServiceError`.

use chrono::{DateTime, Utc};
use imprint_domain::PaperId;
use imprint_domain::PublicationType;
use imprint_domain::Violations;
use imprint_platform::ServiceError;
use imprint_platform::caller;
use imprint_platform::request::required;
use imprint_proto::convert::{
    from_timestamp, publication_type_from_proto, publication_type_to_proto, timestamp,
};
use imprint_proto::recommendations::recommendation_service_server::RecommendationService;
use imprint_proto::recommendations::{
    ClickThroughRate, FacetCount, GetClickThroughRatesRequest, GetClickThroughRatesResponse,
    GetRelatedOverridesRequest, GetRelatedOverridesResponse, GetRelatedPublicationsRequest,
    GetRelatedPublicationsResponse, InteractionKind, PartnerPositionRates,
    RecordInteractionRequest, RecordInteractionResponse, RelatedOverrides, RelatedPublication,
    SearchPublicationsRequest, SearchPublicationsResponse, SearchResult,
    SetRelatedOverridesRequest, SetRelatedOverridesResponse, get_related_publications_request,
};
use prost_types::Timestamp;
use tonic::{Request, Response, Status};

use crate::ranking::Filters;
use crate::search::SearchRequest;
use crate::service::{PaperRef, RailRequest, Recommendations};
use crate::storage::{self, Counts, Overrides, SliceKey};
use imprint_domain::limits::{MAX_FILTER_TOPICS, MAX_PARTNER_CHARS};

/// The gRPC face of [`Recommendations`].
#[derive(Debug, Clone)]
pub struct RecommendationsGrpc {
    /// The use cases.
    service: Recommendations,
    /// Server time of `GetRelatedPublications`.
    related_latency: std::sync::Arc<crate::metrics::Latency>,
}

impl RecommendationsGrpc {
    /// Serves `service`, timing related-publications calls into `related_latency`.
    pub fn new(
        service: Recommendations,
        related_latency: std::sync::Arc<crate::metrics::Latency>,
    ) -> Self {
        Self {
            service,
            related_latency,
        }
    }

    /// The program, region and series filters of a request, resolved.
    async fn term_filters(
        &self,
        programs: &[String],
        regions: &[String],
        series: &[String],
    ) -> Result<Vec<Vec<imprint_domain::TermId>>, ServiceError> {
        use imprint_domain::Vocabulary;
        self.service
            .term_filters([
                (Vocabulary::Program, "programs", programs),
                (Vocabulary::Region, "regions", regions),
                (Vocabulary::Series, "series", series),
            ])
            .await
    }

    /// `GetRelatedPublications` for `partner` (who calls), untimed.
    fn related_publications(
        &self,
        r: GetRelatedPublicationsRequest,
        partner: Option<String>,
        terms: Vec<Vec<imprint_domain::TermId>>,
    ) -> Result<Response<GetRelatedPublicationsResponse>, Status> {
        let mut v = Violations::new();
        let paper = match r.key {
            Some(get_related_publications_request::Key::PaperId(id)) => {
                paper_id(&mut v, "paper_id", &id).map(PaperRef::Id)
            }
            Some(get_related_publications_request::Key::Slug(slug)) if !slug.trim().is_empty() => {
                Some(PaperRef::Slug(slug.trim().to_owned()))
            }
            _ => {
                v.push("key", "set either paper_id or slug");
                None
            }
        };
        let limit = imprint_domain::limits::rail_size(r.limit).unwrap_or_else(|why| {
            v.push("limit", why);
            0
        });
        let filters = Filters {
            types: types(&mut v, "publication_types", &r.publication_types),
            topic_keys: topics(&mut v, "topics", &r.topics),
            published_after: time(&mut v, "published_after", r.published_after.as_ref()),
            excluded: std::collections::HashSet::new(),
            terms,
        };
        let (Some(paper), true) = (paper, v.is_empty()) else {
            return Err(ServiceError::from(v).into());
        };
        let rail = self.service.related(
            &paper,
            &RailRequest {
                limit,
                filters,
                partner,
            },
        )?;
        Ok(Response::new(GetRelatedPublicationsResponse {
            view_id: rail.view_id,
            publications: rail
                .items
                .into_iter()
                .map(|item| RelatedPublication {
                    paper_id: item.entry.id.to_string(),
                    slug: item.entry.slug,
                    title: item.entry.title,
                    summary: item.entry.summary,
                    publication_type: type_to_proto(item.entry.publication_type),
                    topics: item.entry.topics,
                    publish_time: item.entry.publish_time.map(timestamp),
                    score: f64::from(item.score),
                    reasons: item.reasons,
                    recommendation_id: item.recommendation_id,
                    external_id: item.entry.external_id.unwrap_or_default(),
                    cover: item
                        .entry
                        .cover
                        .as_deref()
                        .map(imprint_proto::convert::cover_to_proto),
                })
                .collect(),
        }))
    }
}

fn paper_id(v: &mut Violations, field: &str, raw: &str) -> Option<PaperId> {
    match imprint_domain::PaperId::parse(raw) {
        Ok(id) => Some(id),
        Err(e) => {
            v.push(field, e);
            None
        }
    }
}

fn time(v: &mut Violations, field: &str, t: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    match t.map(from_timestamp) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            v.push(field, e);
            None
        }
        None => None,
    }
}

fn types(v: &mut Violations, field: &str, raw: &[i32]) -> Vec<PublicationType> {
    let mut types = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        match publication_type_from_proto(*t) {
            Ok(Some(t)) => types.push(t),
            Ok(None) => v.push(
                format!("{field}[{i}]"),
                "PUBLICATION_TYPE_UNSPECIFIED is not a filter; leave the list empty for any type",
            ),
            Err(e) => v.push(format!("{field}[{i}]"), e),
        }
    }
    types
}

/// A type as the wire carries it: unspecified for none.
fn type_to_proto(t: Option<PublicationType>) -> i32 {
    t.map_or(0, |t| publication_type_to_proto(t).into())
}

fn topics(v: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    if raw.len() > MAX_FILTER_TOPICS {
        v.push(
            field,
            format!("at most {MAX_FILTER_TOPICS} topics (got {})", raw.len()),
        );
    }
    let mut keys = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let key = imprint_domain::Topic::key_of(t);
        if key.is_empty() || key.chars().count() > 100 {
            v.push(format!("{field}[{i}]"), "a topic has 1 to 100 characters");
        } else {
            keys.push(key);
        }
    }
    keys
}

/// The rate of a slice; its key is the position ("1" first) or the partner.
fn rate(c: &Counts) -> ClickThroughRate {
    ClickThroughRate {
        key: match &c.key {
            SliceKey::Position(p) | SliceKey::PartnerPosition(_, p) => p.to_string(),
            SliceKey::Partner(partner) => partner.clone(),
        },
        impressions: c.impressions,
        clicks: c.clicks,
        #[allow(clippy::cast_precision_loss)]
        rate: if c.impressions == 0 {
            0.0
        } else {
            c.clicks as f64 / c.impressions as f64
        },
    }
}

fn overrides_message(paper: PaperId, o: &Overrides) -> RelatedOverrides {
    RelatedOverrides {
        paper_id: paper.to_string(),
        pinned_paper_ids: o.pinned.iter().map(PaperId::to_string).collect(),
        excluded_paper_ids: o.excluded.iter().map(PaperId::to_string).collect(),
        update_time: o.update_time.map(timestamp),
    }
}

fn facets(counts: &[(String, u64)]) -> Vec<FacetCount> {
    counts
        .iter()
        .map(|(value, count)| FacetCount {
            value: value.clone(),
            count: i64::try_from(*count).unwrap_or(i64::MAX),
            label: String::new(),
        })
        .collect()
}

#[tonic::async_trait]
impl RecommendationService for RecommendationsGrpc {
    async fn get_related_publications(
        &self,
        request: Request<GetRelatedPublicationsRequest>,
    ) -> Result<Response<GetRelatedPublicationsResponse>, Status> {
        let started = std::time::Instant::now();
        let partner = caller::partner_of(&request);
        let request = request.into_inner();
        let terms = self.term_filters(&request.programs, &request.regions, &request.series);
        let response = self.related_publications(request.clone(), partner, terms.await?);
        self.related_latency.observe(started.elapsed());
        response
    }

    async fn search_publications(
        &self,
        request: Request<SearchPublicationsRequest>,
    ) -> Result<Response<SearchPublicationsResponse>, Status> {
        let r = request.into_inner();
        let terms = self
            .term_filters(&r.programs, &r.regions, &r.series)
            .await?;
        let mut v = Violations::new();
        let page_size = usize::try_from(imprint_platform::paging::checked_page_size(
            &mut v,
            r.page_size,
            imprint_platform::paging::MAX_PAGE_SIZE,
        ))
        .unwrap_or(0);
        let words = match imprint_domain::query::parse(&r.query) {
            Ok(words) => words,
            Err(e) => {
                v.push("query", e.to_string());
                imprint_domain::query::Words::default()
            }
        };
        let search = SearchRequest {
            words,
            types: types(&mut v, "publication_types", &r.publication_types),
            topics: topics(&mut v, "topics", &r.topics),
            published_after: time(&mut v, "published_after", r.published_after.as_ref()),
            published_before: time(&mut v, "published_before", r.published_before.as_ref()),
            page_size,
            page_token: r.page_token,
            terms,
        };
        if !v.is_empty() {
            return Err(ServiceError::from(v).into());
        }
        let (found, page) = self.service.search(search).await?;
        let terms = self.service.term_facets(&page.terms).await?;
        let term_facets = |vocabulary: imprint_domain::Vocabulary| -> Vec<FacetCount> {
            terms
                .iter()
                .filter(|(label, _)| label.vocabulary == vocabulary)
                .map(|(label, n)| FacetCount {
                    value: label.slug.clone(),
                    count: i64::try_from(*n).unwrap_or(i64::MAX),
                    label: label.name.clone(),
                })
                .collect()
        };
        Ok(Response::new(SearchPublicationsResponse {
            results: found
                .into_iter()
                .map(|f| SearchResult {
                    paper_id: f.entry.id.to_string(),
                    slug: f.entry.slug,
                    title: f.entry.title,
                    summary: f.entry.summary,
                    publication_type: type_to_proto(f.entry.publication_type),
                    topics: f.entry.topics,
                    publish_time: f.entry.publish_time.map(timestamp),
                    score: f64::from(f.hit.score),
                    title_highlight: f.hit.title_highlight,
                    snippet: f.hit.snippet,
                })
                .collect(),
            total_size: i64::try_from(page.total).unwrap_or(i64::MAX),
            next_page_token: page.next_page_token,
            topic_facets: facets(&page.topics),
            // On the wire a type facet is the enum's name, as filters take it.
            type_facets: facets(
                &page
                    .types
                    .iter()
                    .map(|(t, n)| (publication_type_to_proto(*t).as_str_name().to_owned(), *n))
                    .collect::<Vec<_>>(),
            ),
            year_facets: facets(&page.years),
            program_facets: term_facets(imprint_domain::Vocabulary::Program),
            region_facets: term_facets(imprint_domain::Vocabulary::Region),
            series_facets: term_facets(imprint_domain::Vocabulary::Series),
        }))
    }

    async fn set_related_overrides(
        &self,
        request: Request<SetRelatedOverridesRequest>,
    ) -> Result<Response<SetRelatedOverridesResponse>, Status> {
        let actor = imprint_platform::caller::actor(&request)?;
        let overrides = required("overrides", request.into_inner().overrides)?;
        let mut v = Violations::new();
        let paper = paper_id(&mut v, "overrides.paper_id", &overrides.paper_id);
        let Some(paper) = paper else {
            return Err(ServiceError::from(v).into());
        };
        let stored = self
            .service
            .set_overrides(
                paper,
                &overrides.pinned_paper_ids,
                &overrides.excluded_paper_ids,
                &actor,
            )
            .await?;
        Ok(Response::new(SetRelatedOverridesResponse {
            overrides: Some(overrides_message(paper, &stored)),
        }))
    }

    async fn get_related_overrides(
        &self,
        request: Request<GetRelatedOverridesRequest>,
    ) -> Result<Response<GetRelatedOverridesResponse>, Status> {
        let mut v = Violations::new();
        let Some(paper) = paper_id(&mut v, "paper_id", &request.into_inner().paper_id) else {
            return Err(ServiceError::from(v).into());
        };
        let overrides = self.service.overrides(paper)?;
        Ok(Response::new(GetRelatedOverridesResponse {
            overrides: Some(overrides_message(paper, &overrides)),
        }))
    }

    async fn record_interaction(
        &self,
        request: Request<RecordInteractionRequest>,
    ) -> Result<Response<RecordInteractionResponse>, Status> {
        let caller = caller::partner_of(&request);
        let r = request.into_inner();
        let kind = match InteractionKind::try_from(r.kind) {
            Ok(InteractionKind::Click) => storage::InteractionKind::Click,
            Ok(InteractionKind::Impression) => storage::InteractionKind::Impression,
            _ => {
                return Err(ServiceError::from(Violations::one(
                    "kind",
                    "must be INTERACTION_KIND_IMPRESSION or INTERACTION_KIND_CLICK",
                ))
                .into());
            }
        };
        self.service
            .record(&r.recommendation_id, &r.view_id, kind, caller.as_deref())
            .await?;
        Ok(Response::new(RecordInteractionResponse {}))
    }

    async fn get_click_through_rates(
        &self,
        request: Request<GetClickThroughRatesRequest>,
    ) -> Result<Response<GetClickThroughRatesResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let since = time(&mut v, "since", r.since.as_ref());
        if r.partner.chars().count() > MAX_PARTNER_CHARS {
            v.push("partner", format!("at most {MAX_PARTNER_CHARS} characters"));
        }
        if !v.is_empty() {
            return Err(ServiceError::from(v).into());
        }
        let partner = Some(r.partner.trim()).filter(|p| !p.is_empty());
        let rates = self.service.click_through(partner, since).await?;
        let mut by_partner_position: Vec<PartnerPositionRates> = Vec::new();
        for counts in &rates.by_partner_position {
            let SliceKey::PartnerPosition(partner, _) = &counts.key else {
                continue;
            };
            if by_partner_position
                .last()
                .is_none_or(|p| &p.partner != partner)
            {
                by_partner_position.push(PartnerPositionRates {
                    partner: partner.clone(),
                    by_position: Vec::new(),
                });
            }
            if let Some(last) = by_partner_position.last_mut() {
                last.by_position.push(rate(counts));
            }
        }
        Ok(Response::new(GetClickThroughRatesResponse {
            by_position: rates.by_position.iter().map(rate).collect(),
            by_partner: rates.by_partner.iter().map(rate).collect(),
            by_partner_position,
        }))
    }
}
