//! `imprint.gateway.v1.PreviewLinkService` over [`Links`].

use imprint_platform::caller::actor;
use imprint_proto::convert::timestamp;
use imprint_proto::gateway::preview_link_service_server::PreviewLinkService;
use imprint_proto::gateway::{
    CreatePreviewLinkRequest, CreatePreviewLinkResponse, ListPreviewLinksRequest,
    ListPreviewLinksResponse, PreviewLink, RevokePreviewLinkRequest, RevokePreviewLinkResponse,
};
use tonic::{Request, Response, Status};

use super::{Links, StoredLink};
use crate::actors;

/// The gRPC face of the preview links.
#[derive(Debug, Clone)]
pub struct PreviewLinksGrpc {
    links: Links,
    /// The public API's base URL, for the link's address.
    public_url: String,
}

impl PreviewLinksGrpc {
    /// Serving `links`, whose previews the public API at `public_url` serves.
    pub fn new(links: Links, public_url: String) -> Self {
        Self { links, public_url }
    }
}

fn to_proto(row: &StoredLink) -> PreviewLink {
    PreviewLink {
        id: row.id.to_string(),
        paper_id: row.paper_id.to_string(),
        expire_time: Some(timestamp(row.expire_time)),
        create_time: Some(timestamp(row.create_time)),
        revoke_time: row.revoke_time.map(timestamp),
        creator: actors::stored(row.creator_subject.as_deref(), row.creator_role.as_deref()),
        revoker: actors::stored(row.revoker_subject.as_deref(), row.revoker_role.as_deref()),
    }
}

#[tonic::async_trait]
impl PreviewLinkService for PreviewLinksGrpc {
    async fn create_preview_link(
        &self,
        request: Request<CreatePreviewLinkRequest>,
    ) -> Result<Response<CreatePreviewLinkResponse>, Status> {
        let actor = actor(&request)?;
        let r = request.into_inner();
        let (row, token) = self
            .links
            .create(&r.paper_id, r.lifetime_seconds, &actor)
            .await?;
        Ok(Response::new(CreatePreviewLinkResponse {
            url: format!("{}/v1/preview/{token}", self.public_url),
            preview_link: Some(to_proto(&row)),
            token,
        }))
    }

    async fn list_preview_links(
        &self,
        request: Request<ListPreviewLinksRequest>,
    ) -> Result<Response<ListPreviewLinksResponse>, Status> {
        let rows = self.links.list(&request.into_inner().paper_id).await?;
        Ok(Response::new(ListPreviewLinksResponse {
            preview_links: rows.iter().map(to_proto).collect(),
        }))
    }

    async fn revoke_preview_link(
        &self,
        request: Request<RevokePreviewLinkRequest>,
    ) -> Result<Response<RevokePreviewLinkResponse>, Status> {
        let actor = actor(&request)?;
        let row = self.links.revoke(&request.into_inner().id, &actor).await?;
        Ok(Response::new(RevokePreviewLinkResponse {
            preview_link: Some(to_proto(&row)),
        }))
    }
}
