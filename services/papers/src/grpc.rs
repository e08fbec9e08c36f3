//! `imprint.papers.v1.PaperService` over gRPC: requests become domain input, results become
//! messages, and every error becomes a status in `ServiceError`'s one mapping.

use imprint_domain::{
    AuthorId, MaskField, Paper, PaperField, PaperId, RevisionKind, ScheduleAction, Term, Topic,
    Violations, Vocabulary,
};
use imprint_platform::ServiceError;
use imprint_platform::caller::actor;
use imprint_platform::paging::{MAX_PAGE_SIZE, page_size};
use imprint_platform::request::{optional_version, required, required_revision, required_version};
use imprint_proto::convert::{
    field_change, from_timestamp, paper_input, publication_type_from_proto,
    schedule_action_from_proto, status_from_proto, term_ref, timestamp,
};
use imprint_proto::papers::paper_service_server::PaperService;
use imprint_proto::papers::{
    self as pb, BatchCreatePapersRequest, BatchCreatePapersResponse, CreatePaperRequest,
    CreatePaperResponse, DeletePaperRequest, DeletePaperResponse, GetPaperRequest,
    GetPaperResponse, ListPaperRevisionsRequest, ListPaperRevisionsResponse, ListPapersRequest,
    ListPapersResponse, PublishPaperRequest, PublishPaperResponse, UnpublishPaperRequest,
    UnpublishPaperResponse, UpdatePaperRequest, UpdatePaperResponse, get_paper_request,
};
use tonic::{Request, Response, Status};

use crate::service::{BatchItem, PaperKey, Papers};
use crate::storage::{ListFilter, Revision};

/// The gRPC face of [`Papers`].
#[derive(Debug, Clone)]
pub struct PapersGrpc {
    /// The use cases.
    service: Papers,
}

impl PapersGrpc {
    /// Serves `service`.
    pub fn new(service: Papers) -> Self {
        Self { service }
    }
}

/// Most papers in a page of FULL views: bodies can be large.
const MAX_FULL_PAGE: u64 = 10;

/// The view asked for, `default` when unspecified.
fn view(value: i32, default: pb::PaperView) -> Result<pb::PaperView, ServiceError> {
    match pb::PaperView::try_from(value) {
        Ok(pb::PaperView::Unspecified) => Ok(default),
        Ok(view) => Ok(view),
        Err(_) => {
            Err(Violations::one("view", format!("{value} is not a known PaperView value")).into())
        }
    }
}

/// The largest page for `view`.
fn max_page(view: pb::PaperView) -> u64 {
    if view == pb::PaperView::Full {
        MAX_FULL_PAGE
    } else {
        MAX_PAGE_SIZE
    }
}

/// A paper as `view` shows it, with its terms described from `terms`.
fn present(paper: &imprint_domain::Paper, view: pb::PaperView, terms: &[Term]) -> pb::Paper {
    let mut message = pb::Paper::from(paper);
    if view == pb::PaperView::Basic {
        message.body.clear();
    }
    message.terms = paper
        .fields
        .terms
        .all()
        .filter_map(|id| terms.iter().find(|t| t.id == id))
        .map(term_ref)
        .collect();
    message
}

fn parse_id(field: &str, raw: &str) -> Result<PaperId, ServiceError> {
    PaperId::parse(raw).map_err(|e| Violations::one(field, e).into())
}

/// The terms the program, region and series filters of `request` match, one set each.
async fn term_filters(
    service: &Papers,
    request: &ListPapersRequest,
) -> Result<Vec<Vec<imprint_domain::TermId>>, ServiceError> {
    let mut sets = Vec::new();
    for (vocabulary, field, raw) in [
        (Vocabulary::Program, "program", &request.program),
        (Vocabulary::Region, "region", &request.region),
        (Vocabulary::Series, "series", &request.series),
    ] {
        if let Some(set) = service.term_filter(vocabulary, field, raw).await? {
            sets.push(set);
        }
    }
    Ok(sets)
}

fn list_filter(request: &ListPapersRequest) -> Result<ListFilter, ServiceError> {
    let mut v = Violations::new();
    let status = v
        .check("status", status_from_proto(request.status))
        .flatten();
    let publication_type = v
        .check(
            "publication_type",
            publication_type_from_proto(request.publication_type),
        )
        .flatten();
    let author_id = if request.author_id.is_empty() {
        None
    } else {
        v.check("author_id", AuthorId::parse(&request.author_id))
    };
    let topic_key = if request.topic.trim().is_empty() {
        None
    } else {
        v.check("topic", Topic::parse(&request.topic))
            .map(|t| t.key())
    };
    v.into_result(|| ListFilter {
        status,
        topic_key,
        publication_type,
        author_id,
        updated_since: None,
        external_id: Some(request.external_id.trim().to_owned()).filter(|e| !e.is_empty()),
        terms: Vec::new(),
    })
    .map_err(ServiceError::from)
}

/// A timestamp the request may carry, as a time.
fn optional_time(
    field: &'static str,
    t: Option<&prost_types::Timestamp>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    t.map(|t| from_timestamp(t).map_err(|e| Violations::one(field, e).into()))
        .transpose()
}

/// A timestamp the request must carry, as a time.
fn required_time(
    field: &'static str,
    t: Option<&prost_types::Timestamp>,
) -> Result<chrono::DateTime<chrono::Utc>, ServiceError> {
    required(field, optional_time(field, t)?)
}

fn revision_to_proto(r: &Revision, view: pb::PaperView, terms: &[Term]) -> pb::PaperRevision {
    let kind = match r.kind {
        RevisionKind::Created => pb::RevisionKind::Created,
        RevisionKind::Updated => pb::RevisionKind::Updated,
        RevisionKind::Published => pb::RevisionKind::Published,
        RevisionKind::Unpublished => pb::RevisionKind::Unpublished,
        RevisionKind::Scheduled => pb::RevisionKind::Scheduled,
        RevisionKind::Restored => pb::RevisionKind::Restored,
    };
    pb::PaperRevision {
        version: r.state.version,
        kind: kind.into(),
        changed_fields: r.changed.paths().into_iter().map(str::to_owned).collect(),
        create_time: Some(timestamp(r.time)),
        paper: Some(present(&r.state, view, terms)),
        actor: r.actor.as_ref().map(Into::into),
        restored_version: r.restored_from.unwrap_or(0),
    }
}

impl PapersGrpc {
    /// `paper` as a full message, its terms described.
    async fn full(&self, paper: &Paper) -> Result<pb::Paper, ServiceError> {
        let terms = self.service.terms_of(&[paper]).await?;
        Ok(present(paper, pb::PaperView::Full, &terms))
    }
}

#[tonic::async_trait]
impl PaperService for PapersGrpc {
    async fn create_paper(
        &self,
        request: Request<CreatePaperRequest>,
    ) -> Result<Response<CreatePaperResponse>, Status> {
        let actor = actor(&request)?;
        let paper = required("paper", request.into_inner().paper)?;
        let input = paper_input(&paper).map_err(|v| ServiceError::from(v).under("paper"))?;
        let created = self
            .service
            .create(&input, &actor)
            .await
            .map_err(|e| e.under("paper"))?;
        Ok(Response::new(CreatePaperResponse {
            paper: Some(self.full(&created).await?),
        }))
    }

    async fn batch_create_papers(
        &self,
        request: Request<BatchCreatePapersRequest>,
    ) -> Result<Response<BatchCreatePapersResponse>, Status> {
        // The codec has bounded the batch (imprint_domain::limits::MAX_PAPER_BATCH).
        let actor = actor(&request)?;
        let request = request.into_inner();
        let mut v = Violations::new();
        let mut items = Vec::with_capacity(request.requests.len());
        for (i, create) in request.requests.iter().enumerate() {
            let prefix = format!("requests[{i}].paper");
            let Some(paper) = &create.paper else {
                v.push(prefix, "is required");
                continue;
            };
            let publish_at = match paper.publish_time.as_ref().map(from_timestamp) {
                Some(Ok(at)) if request.publish => Some(at),
                Some(Err(e)) if request.publish => {
                    v.push(format!("{prefix}.publish_time"), e);
                    None
                }
                _ => None,
            };
            if let Some(input) = v.nested(&prefix, paper_input(paper)) {
                items.push(BatchItem { input, publish_at });
            }
        }
        if !v.is_empty() {
            return Err(ServiceError::from(v).into());
        }
        let created = self
            .service
            .batch_create(&items, request.publish, &actor)
            .await?;
        let refs: Vec<&Paper> = created.iter().collect();
        let terms = self.service.terms_of(&refs).await?;
        Ok(Response::new(BatchCreatePapersResponse {
            papers: created
                .iter()
                .map(|p| present(p, pb::PaperView::Full, &terms))
                .collect(),
        }))
    }

    async fn get_paper(
        &self,
        request: Request<GetPaperRequest>,
    ) -> Result<Response<GetPaperResponse>, Status> {
        let request = request.into_inner();
        let view = view(request.view, pb::PaperView::Full)?;
        let key = match request.key {
            Some(get_paper_request::Key::Id(id)) => PaperKey::Id(parse_id("id", &id)?),
            Some(get_paper_request::Key::Slug(slug)) => PaperKey::Slug(slug),
            None => {
                return Err(
                    ServiceError::from(Violations::one("key", "set either id or slug")).into(),
                );
            }
        };
        let paper = if request.published_only {
            self.service.get_published(&key).await?
        } else {
            self.service.get(&key).await?
        };
        let terms = self.service.terms_of(&[&paper]).await?;
        Ok(Response::new(GetPaperResponse {
            paper: Some(present(&paper, view, &terms)),
        }))
    }

    async fn list_papers(
        &self,
        request: Request<ListPapersRequest>,
    ) -> Result<Response<ListPapersResponse>, Status> {
        let request = request.into_inner();
        let view = view(request.view, pb::PaperView::Basic)?;
        let size = page_size(request.page_size, max_page(view))?;
        let mut filter = list_filter(&request)?;
        filter.terms = term_filters(&self.service, &request).await?;
        let (papers, next_page_token) = self
            .service
            .list(&filter, size, &request.page_token)
            .await?;
        let refs: Vec<&Paper> = papers.iter().collect();
        let terms = self.service.terms_of(&refs).await?;
        Ok(Response::new(ListPapersResponse {
            papers: papers.iter().map(|p| present(p, view, &terms)).collect(),
            next_page_token,
        }))
    }

    async fn update_paper(
        &self,
        request: Request<UpdatePaperRequest>,
    ) -> Result<Response<UpdatePaperResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let paper = required("paper", request.paper)?;
        let id = parse_id("paper.id", &paper.id)?;
        let version = required_version("paper.version", paper.version)?;
        let mask =
            PaperField::parse_mask(&request.update_mask.map(|m| m.paths).unwrap_or_default())
                .map_err(ServiceError::from)?;
        let input = paper_input(&paper).map_err(|v| ServiceError::from(v).under("paper"))?;
        let updated = self
            .service
            .update(id, version, &input, &mask, &actor)
            .await
            .map_err(|e| e.under("paper"))?;
        Ok(Response::new(UpdatePaperResponse {
            paper: Some(self.full(&updated).await?),
        }))
    }

    async fn publish_paper(
        &self,
        request: Request<PublishPaperRequest>,
    ) -> Result<Response<PublishPaperResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        let at = optional_time("publish_time", request.publish_time.as_ref())?;
        let paper = self.service.publish(id, version, at, &actor).await?;
        Ok(Response::new(PublishPaperResponse {
            paper: Some(self.full(&paper).await?),
        }))
    }

    async fn unpublish_paper(
        &self,
        request: Request<UnpublishPaperRequest>,
    ) -> Result<Response<UnpublishPaperResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        let paper = self.service.unpublish(id, version, &actor).await?;
        Ok(Response::new(UnpublishPaperResponse {
            paper: Some(self.full(&paper).await?),
        }))
    }

    async fn schedule_publish(
        &self,
        request: Request<pb::SchedulePublishRequest>,
    ) -> Result<Response<pb::SchedulePublishResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        let at = required_time("publish_time", request.publish_time.as_ref())?;
        let paper = self
            .service
            .schedule(id, version, ScheduleAction::Publish, at, &actor)
            .await?;
        Ok(Response::new(pb::SchedulePublishResponse {
            paper: Some(self.full(&paper).await?),
        }))
    }

    async fn schedule_unpublish(
        &self,
        request: Request<pb::ScheduleUnpublishRequest>,
    ) -> Result<Response<pb::ScheduleUnpublishResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        let at = required_time("unpublish_time", request.unpublish_time.as_ref())?;
        let paper = self
            .service
            .schedule(id, version, ScheduleAction::Unpublish, at, &actor)
            .await?;
        Ok(Response::new(pb::ScheduleUnpublishResponse {
            paper: Some(self.full(&paper).await?),
        }))
    }

    async fn cancel_schedule(
        &self,
        request: Request<pb::CancelScheduleRequest>,
    ) -> Result<Response<pb::CancelScheduleResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        let action = schedule_action_from_proto(request.action)
            .map_err(|e| ServiceError::from(Violations::one("action", e)))?;
        let paper = self
            .service
            .cancel_schedule(id, version, action, &actor)
            .await?;
        Ok(Response::new(pb::CancelScheduleResponse {
            paper: Some(self.full(&paper).await?),
        }))
    }

    async fn delete_paper(
        &self,
        request: Request<DeletePaperRequest>,
    ) -> Result<Response<DeletePaperResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        self.service.delete(id, version, &actor).await?;
        Ok(Response::new(DeletePaperResponse {}))
    }

    async fn list_paper_revisions(
        &self,
        request: Request<ListPaperRevisionsRequest>,
    ) -> Result<Response<ListPaperRevisionsResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let view = view(request.view, pb::PaperView::Basic)?;
        let size = page_size(request.page_size, max_page(view))?;
        let (revisions, next_page_token) = self
            .service
            .revisions(id, size, &request.page_token)
            .await?;
        let states: Vec<&Paper> = revisions.iter().map(|r| &r.state).collect();
        let terms = self.service.terms_of(&states).await?;
        Ok(Response::new(ListPaperRevisionsResponse {
            revisions: revisions
                .iter()
                .map(|r| revision_to_proto(r, view, &terms))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_paper_revision_diff(
        &self,
        request: Request<pb::GetPaperRevisionDiffRequest>,
    ) -> Result<Response<pb::GetPaperRevisionDiffResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let from = required_revision("from_version", request.from_version)?;
        let to = optional_version("to_version", request.to_version)?;
        let compared = self.service.diff(id, from, to).await?;
        Ok(Response::new(pb::GetPaperRevisionDiffResponse {
            from_version: compared.from,
            to_version: compared.to,
            changes: compared.changes.iter().map(field_change::<Paper>).collect(),
        }))
    }

    async fn restore_paper_revision(
        &self,
        request: Request<pb::RestorePaperRevisionRequest>,
    ) -> Result<Response<pb::RestorePaperRevisionResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = required_version("version", request.version)?;
        let from = required_revision("revision_version", request.revision_version)?;
        let paper = self.service.restore(id, version, from, &actor).await?;
        Ok(Response::new(pb::RestorePaperRevisionResponse {
            paper: Some(self.full(&paper).await?),
        }))
    }
}
