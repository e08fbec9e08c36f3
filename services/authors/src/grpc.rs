//! `imprint.authors.v1.AuthorService` over gRPC: requests become domain input, results become
//! messages, and every error becomes a status in `ServiceError`'s one mapping.

use imprint_domain::{Author, AuthorField, AuthorId, MaskField, RevisionKind, Violations};
use imprint_platform::ServiceError;
use imprint_platform::caller::actor;
use imprint_platform::paging::{MAX_PAGE_SIZE, page_size};
use imprint_platform::request::{optional_version, required, required_revision, required_version};
use imprint_proto::authors as pb;
use imprint_proto::authors::author_service_server::AuthorService;
use imprint_proto::authors::{
    BatchCreateAuthorsRequest, BatchCreateAuthorsResponse, BatchGetAuthorsRequest,
    BatchGetAuthorsResponse, CreateAuthorRequest, CreateAuthorResponse, DeleteAuthorRequest,
    DeleteAuthorResponse, GetAuthorRequest, GetAuthorResponse, ListAuthorsRequest,
    ListAuthorsResponse, UpdateAuthorRequest, UpdateAuthorResponse, get_author_request,
};
use imprint_proto::convert::{author_input, field_change, timestamp};
use tonic::{Request, Response, Status};

use crate::service::{AuthorKey, Authors};
use crate::storage::Revision;

/// The gRPC face of [`Authors`].
#[derive(Debug, Clone)]
pub struct AuthorsGrpc {
    /// The use cases.
    service: Authors,
}

impl AuthorsGrpc {
    /// Serves `service`.
    pub fn new(service: Authors) -> Self {
        Self { service }
    }
}

fn parse_id(field: &str, raw: &str) -> Result<AuthorId, ServiceError> {
    AuthorId::parse(raw).map_err(|e| Violations::one(field, e).into())
}

fn revision_to_proto(r: &Revision) -> pb::AuthorRevision {
    let kind = match r.kind {
        RevisionKind::Created => pb::AuthorRevisionKind::Created,
        RevisionKind::Restored => pb::AuthorRevisionKind::Restored,
        // Authors are only created, edited and restored.
        RevisionKind::Updated
        | RevisionKind::Published
        | RevisionKind::Unpublished
        | RevisionKind::Scheduled => pb::AuthorRevisionKind::Updated,
    };
    pb::AuthorRevision {
        version: r.state.version,
        kind: kind.into(),
        changed_fields: r.changed.iter().map(|f| f.path().to_owned()).collect(),
        create_time: Some(timestamp(r.time)),
        author: Some((&r.state).into()),
        actor: r.actor.as_ref().map(Into::into),
        restored_version: r.restored_from.unwrap_or(0),
    }
}

#[tonic::async_trait]
impl AuthorService for AuthorsGrpc {
    async fn create_author(
        &self,
        request: Request<CreateAuthorRequest>,
    ) -> Result<Response<CreateAuthorResponse>, Status> {
        let actor = actor(&request)?;
        let author = required("author", request.into_inner().author)?;
        let created = self
            .service
            .create(&author_input(&author), &actor)
            .await
            .map_err(|e| e.under("author"))?;
        Ok(Response::new(CreateAuthorResponse {
            author: Some((&created).into()),
        }))
    }

    async fn batch_create_authors(
        &self,
        request: Request<BatchCreateAuthorsRequest>,
    ) -> Result<Response<BatchCreateAuthorsResponse>, Status> {
        let actor = actor(&request)?;
        let requests = request.into_inner().requests;
        let mut v = Violations::new();
        let mut inputs = Vec::with_capacity(requests.len());
        for (i, create) in requests.iter().enumerate() {
            match &create.author {
                Some(author) => inputs.push(author_input(author)),
                None => v.push(format!("requests[{i}].author"), "is required"),
            }
        }
        if !v.is_empty() {
            return Err(ServiceError::from(v).into());
        }
        let created = self.service.batch_create(&inputs, &actor).await?;
        Ok(Response::new(BatchCreateAuthorsResponse {
            authors: created.iter().map(Into::into).collect(),
        }))
    }

    async fn get_author(
        &self,
        request: Request<GetAuthorRequest>,
    ) -> Result<Response<GetAuthorResponse>, Status> {
        let key = match request.into_inner().key {
            Some(get_author_request::Key::Id(id)) => AuthorKey::Id(parse_id("id", &id)?),
            Some(get_author_request::Key::Slug(slug)) => AuthorKey::Slug(slug),
            None => {
                return Err(
                    ServiceError::from(Violations::one("key", "set either id or slug")).into(),
                );
            }
        };
        let author = self.service.get(&key).await?;
        Ok(Response::new(GetAuthorResponse {
            author: Some((&author).into()),
        }))
    }

    async fn batch_get_authors(
        &self,
        request: Request<BatchGetAuthorsRequest>,
    ) -> Result<Response<BatchGetAuthorsResponse>, Status> {
        let (authors, missing_ids) = self.service.batch_get(&request.into_inner().ids).await?;
        Ok(Response::new(BatchGetAuthorsResponse {
            authors: authors.iter().map(Into::into).collect(),
            missing_ids,
        }))
    }

    async fn list_authors(
        &self,
        request: Request<ListAuthorsRequest>,
    ) -> Result<Response<ListAuthorsResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.page_size, MAX_PAGE_SIZE)?;
        let (authors, next_page_token) = self
            .service
            .list(&request.query, size, &request.page_token)
            .await?;
        Ok(Response::new(ListAuthorsResponse {
            authors: authors.iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn update_author(
        &self,
        request: Request<UpdateAuthorRequest>,
    ) -> Result<Response<UpdateAuthorResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let author = required("author", request.author)?;
        let id = parse_id("author.id", &author.id)?;
        let version = required_version("author.version", author.version)?;
        let mask =
            AuthorField::parse_mask(&request.update_mask.map(|m| m.paths).unwrap_or_default())
                .map_err(ServiceError::from)?;
        let updated = self
            .service
            .update(id, version, &author_input(&author), &mask, &actor)
            .await
            .map_err(|e| e.under("author"))?;
        Ok(Response::new(UpdateAuthorResponse {
            author: Some((&updated).into()),
        }))
    }

    async fn delete_author(
        &self,
        request: Request<DeleteAuthorRequest>,
    ) -> Result<Response<DeleteAuthorResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = optional_version("version", request.version)?;
        self.service.delete(id, version, &actor).await?;
        Ok(Response::new(DeleteAuthorResponse {}))
    }

    async fn list_author_revisions(
        &self,
        request: Request<pb::ListAuthorRevisionsRequest>,
    ) -> Result<Response<pb::ListAuthorRevisionsResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let size = page_size(request.page_size, MAX_PAGE_SIZE)?;
        let (revisions, next_page_token) = self
            .service
            .revisions(id, size, &request.page_token)
            .await?;
        Ok(Response::new(pb::ListAuthorRevisionsResponse {
            revisions: revisions.iter().map(revision_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_author_revision_diff(
        &self,
        request: Request<pb::GetAuthorRevisionDiffRequest>,
    ) -> Result<Response<pb::GetAuthorRevisionDiffResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let from = required_revision("from_version", request.from_version)?;
        let to = optional_version("to_version", request.to_version)?;
        let compared = self.service.diff(id, from, to).await?;
        Ok(Response::new(pb::GetAuthorRevisionDiffResponse {
            from_version: compared.from,
            to_version: compared.to,
            changes: compared
                .changes
                .iter()
                .map(field_change::<Author>)
                .collect(),
        }))
    }

    async fn restore_author_revision(
        &self,
        request: Request<pb::RestoreAuthorRevisionRequest>,
    ) -> Result<Response<pb::RestoreAuthorRevisionResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let version = required_version("version", request.version)?;
        let from = required_revision("revision_version", request.revision_version)?;
        let author = self.service.restore(id, version, from, &actor).await?;
        Ok(Response::new(pb::RestoreAuthorRevisionResponse {
            author: Some((&author).into()),
        }))
    }
}
