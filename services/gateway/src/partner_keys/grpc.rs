//! `imprint.gateway.v1.PartnerKeyService` over [`Keys`].

use crate::actors;
use std::sync::Arc;

use imprint_proto::convert::timestamp;
use imprint_proto::gateway::partner_key_service_server::PartnerKeyService;
use imprint_proto::gateway::{
    CreatePartnerKeyRequest, CreatePartnerKeyResponse, ListPartnerKeysRequest,
    ListPartnerKeysResponse, PartnerKey, RevokePartnerKeyRequest, RevokePartnerKeyResponse,
};
use tonic::{Request, Response, Status};

use super::{Keys, StoredKey};

/// The gRPC face of the partner keys.
#[derive(Debug, Clone)]
pub struct PartnerKeysGrpc {
    keys: Arc<Keys>,
}

impl PartnerKeysGrpc {
    /// Serving `keys`.
    pub fn new(keys: Arc<Keys>) -> Self {
        Self { keys }
    }
}

fn to_proto(row: StoredKey) -> PartnerKey {
    PartnerKey {
        id: row.id.to_string(),
        partner: row.partner,
        allowed_origins: serde_json::from_str(&row.allowed_origins).unwrap_or_default(),
        requests_per_minute: row.requests_per_minute,
        key_prefix: row.key_prefix,
        create_time: Some(timestamp(row.create_time)),
        revoke_time: row.revoke_time.map(timestamp),
        creator: actors::stored(row.creator_subject.as_deref(), row.creator_role.as_deref()),
        revoker: actors::stored(row.revoker_subject.as_deref(), row.revoker_role.as_deref()),
    }
}

#[tonic::async_trait]
impl PartnerKeyService for PartnerKeysGrpc {
    async fn create_partner_key(
        &self,
        request: Request<CreatePartnerKeyRequest>,
    ) -> Result<Response<CreatePartnerKeyResponse>, Status> {
        let actor = imprint_platform::caller::actor(&request)?;
        let r = request.into_inner();
        let (row, key) = self
            .keys
            .create(
                &r.partner,
                &r.allowed_origins,
                r.requests_per_minute,
                &actor,
            )
            .await?;
        Ok(Response::new(CreatePartnerKeyResponse {
            partner_key: Some(to_proto(row)),
            key,
        }))
    }

    async fn list_partner_keys(
        &self,
        request: Request<ListPartnerKeysRequest>,
    ) -> Result<Response<ListPartnerKeysResponse>, Status> {
        let rows = self.keys.list(request.into_inner().include_revoked).await?;
        Ok(Response::new(ListPartnerKeysResponse {
            partner_keys: rows.into_iter().map(to_proto).collect(),
        }))
    }

    async fn revoke_partner_key(
        &self,
        request: Request<RevokePartnerKeyRequest>,
    ) -> Result<Response<RevokePartnerKeyResponse>, Status> {
        let actor = imprint_platform::caller::actor(&request)?;
        let row = self.keys.revoke(&request.into_inner().id, &actor).await?;
        Ok(Response::new(RevokePartnerKeyResponse {
            partner_key: Some(to_proto(row)),
        }))
    }
}
