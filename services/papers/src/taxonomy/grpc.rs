//! `imprint.papers.v1.TaxonomyService` over gRPC: requests become domain input, terms become
//! messages (with the slugs that still resolve to them).

use imprint_domain::{MaskField, Term, TermField, TermId, Violations};
use imprint_platform::ServiceError;
use imprint_platform::caller::actor;
use imprint_platform::paging::{MAX_PAGE_SIZE, page_size};
use imprint_platform::request::{required, required_version};
use imprint_proto::convert::{term_input, term_to_proto, vocabulary_from_proto};
use imprint_proto::papers::taxonomy_service_server::TaxonomyService;
use imprint_proto::papers::{self as pb, get_term_request};
use tonic::{Request, Response, Status};

use super::{Taxonomy, TermKey};
use crate::storage::TermFilter;

/// The gRPC face of [`Taxonomy`].
#[derive(Debug, Clone)]
pub struct TaxonomyGrpc {
    /// The use cases.
    service: Taxonomy,
}

impl TaxonomyGrpc {
    /// Serves `service`.
    pub fn new(service: Taxonomy) -> Self {
        Self { service }
    }

    /// `term` as a message.
    async fn present(&self, term: &Term) -> Result<pb::Term, ServiceError> {
        let former = self.service.former_slugs(term).await?;
        Ok(term_to_proto(term, former))
    }
}

fn parse_id(field: &str, raw: &str) -> Result<TermId, ServiceError> {
    TermId::parse(raw).map_err(|e| Violations::one(field, e).into())
}

fn vocabulary(field: &str, value: i32) -> Result<Option<imprint_domain::Vocabulary>, ServiceError> {
    vocabulary_from_proto(value).map_err(|e| Violations::one(field, e).into())
}

#[tonic::async_trait]
impl TaxonomyService for TaxonomyGrpc {
    async fn create_term(
        &self,
        request: Request<pb::CreateTermRequest>,
    ) -> Result<Response<pb::CreateTermResponse>, Status> {
        let actor = actor(&request)?;
        let term = required("term", request.into_inner().term)?;
        let input = term_input(&term).map_err(|v| ServiceError::from(v).under("term"))?;
        let created = self
            .service
            .create(&input, &actor)
            .await
            .map_err(|e| e.under("term"))?;
        Ok(Response::new(pb::CreateTermResponse {
            term: Some(self.present(&created).await?),
        }))
    }

    async fn get_term(
        &self,
        request: Request<pb::GetTermRequest>,
    ) -> Result<Response<pb::GetTermResponse>, Status> {
        let request = request.into_inner();
        let key = match request.key {
            Some(get_term_request::Key::Id(id)) => TermKey::Id(parse_id("id", &id)?),
            Some(get_term_request::Key::Slug(slug)) => {
                let v = vocabulary("vocabulary", request.vocabulary)?.ok_or_else(|| {
                    ServiceError::from(Violations::one(
                        "vocabulary",
                        "is required with a slug: slugs are unique within a vocabulary",
                    ))
                })?;
                TermKey::Slug(v, slug)
            }
            None => {
                return Err(
                    ServiceError::from(Violations::one("key", "set either id or slug")).into(),
                );
            }
        };
        let term = self.service.get(&key).await?;
        Ok(Response::new(pb::GetTermResponse {
            term: Some(self.present(&term).await?),
        }))
    }

    async fn list_terms(
        &self,
        request: Request<pb::ListTermsRequest>,
    ) -> Result<Response<pb::ListTermsResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.page_size, MAX_PAGE_SIZE)?;
        let parent = if request.parent_id.trim().is_empty() {
            None
        } else {
            Some(parse_id("parent_id", &request.parent_id)?)
        };
        let filter = TermFilter {
            vocabulary: vocabulary("vocabulary", request.vocabulary)?,
            show_retired: request.show_retired,
            parent,
        };
        let (terms, next_page_token) = self.service.list(filter, size, &request.page_token).await?;
        let mut messages = Vec::with_capacity(terms.len());
        for term in &terms {
            messages.push(self.present(term).await?);
        }
        Ok(Response::new(pb::ListTermsResponse {
            terms: messages,
            next_page_token,
        }))
    }

    async fn update_term(
        &self,
        request: Request<pb::UpdateTermRequest>,
    ) -> Result<Response<pb::UpdateTermResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let term = required("term", request.term)?;
        let id = parse_id("term.id", &term.id)?;
        let version = required_version("term.version", term.version)?;
        let mask = TermField::parse_mask(&request.update_mask.map(|m| m.paths).unwrap_or_default())
            .map_err(ServiceError::from)?;
        let input = term_input(&term).map_err(|v| ServiceError::from(v).under("term"))?;
        let updated = self
            .service
            .update(id, version, &input, &mask, &actor)
            .await
            .map_err(|e| e.under("term"))?;
        Ok(Response::new(pb::UpdateTermResponse {
            term: Some(self.present(&updated).await?),
        }))
    }

    async fn merge_terms(
        &self,
        request: Request<pb::MergeTermsRequest>,
    ) -> Result<Response<pb::MergeTermsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let source = parse_id("source_id", &request.source_id)?;
        let target = parse_id("target_id", &request.target_id)?;
        let merged = self.service.merge(source, target, &actor).await?;
        Ok(Response::new(pb::MergeTermsResponse {
            source: Some(self.present(&merged.source).await?),
            target: Some(self.present(&merged.target).await?),
            papers_moved: i64::try_from(merged.papers_moved).unwrap_or(i64::MAX),
        }))
    }
}
