//! `imprint.gateway.v1.WebhookService` over gRPC.

use imprint_domain::{MaskField, Violations};
use imprint_platform::ServiceError;
use imprint_platform::caller::actor;
use imprint_platform::paging::{MAX_PAGE_SIZE, page_size};
use imprint_platform::request::{required, required_version};
use imprint_proto::convert::timestamp;
use imprint_proto::gateway::webhook_service_server::WebhookService;
use imprint_proto::gateway::{self as pb, DeliveryStatus};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::store::{self, Attempt, Delivery, Endpoint};
use super::{EndpointField, EndpointInput, Webhooks};

/// The gRPC face of [`Webhooks`].
#[derive(Debug, Clone)]
pub struct WebhooksGrpc {
    service: Webhooks,
}

impl WebhooksGrpc {
    /// Serves `service`.
    pub fn new(service: Webhooks) -> Self {
        Self { service }
    }
}

fn parse_id(field: &str, raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::try_parse(raw.trim()).map_err(|_| {
        Violations::one(
            field,
            format!("'{}' is not an id (a UUID)", imprint_domain::shorten(raw)),
        )
        .into()
    })
}

fn input(w: &pb::Webhook) -> EndpointInput {
    EndpointInput {
        url: w.url.clone(),
        description: w.description.clone(),
        event_types: w.event_types.clone(),
        term_ids: w.term_ids.clone(),
        enabled: w.enabled,
    }
}

fn webhook(e: &Endpoint) -> pb::Webhook {
    pb::Webhook {
        id: e.id.to_string(),
        url: e.url.as_str().to_owned(),
        description: e.description.clone(),
        event_types: e.filter.event_types.clone(),
        term_ids: e.filter.term_ids.iter().map(ToString::to_string).collect(),
        enabled: e.enabled,
        disabled_reason: e.disabled_reason.clone().unwrap_or_default(),
        failing_since: e.failing_since.map(timestamp),
        version: e.version,
        create_time: Some(timestamp(e.create_time)),
        update_time: Some(timestamp(e.update_time)),
        creator: e.creator.as_ref().map(Into::into),
    }
}

fn status_to_proto(s: store::Status) -> DeliveryStatus {
    match s {
        store::Status::Pending => DeliveryStatus::Pending,
        store::Status::Delivered => DeliveryStatus::Delivered,
        store::Status::Failed => DeliveryStatus::Failed,
    }
}

fn delivery(d: &Delivery, attempts: &[Attempt]) -> pb::WebhookDelivery {
    pb::WebhookDelivery {
        id: d.id.to_string(),
        webhook_id: d.endpoint_id.to_string(),
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        aggregate_id: d.aggregate_id.to_string(),
        status: status_to_proto(d.status).into(),
        attempts: attempts
            .iter()
            .map(|a| pb::DeliveryAttempt {
                time: Some(timestamp(a.time)),
                status_code: a.status_code,
                error: a.error.clone(),
                duration_ms: a.duration_ms,
            })
            .collect(),
        next_attempt_time: (d.status == store::Status::Pending)
            .then(|| timestamp(d.next_attempt_time)),
        create_time: Some(timestamp(d.create_time)),
    }
}

#[tonic::async_trait]
impl WebhookService for WebhooksGrpc {
    async fn create_webhook(
        &self,
        request: Request<pb::CreateWebhookRequest>,
    ) -> Result<Response<pb::CreateWebhookResponse>, Status> {
        let actor = actor(&request)?;
        let w = required("webhook", request.into_inner().webhook)?;
        let created = self
            .service
            .create(&input(&w), &actor)
            .await
            .map_err(|e| e.under("webhook"))?;
        Ok(Response::new(pb::CreateWebhookResponse {
            secret: created.secret.clone(),
            webhook: Some(webhook(&created)),
        }))
    }

    async fn list_webhooks(
        &self,
        request: Request<pb::ListWebhooksRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.page_size, MAX_PAGE_SIZE)?;
        let (endpoints, next_page_token) = self.service.list(size, &request.page_token).await?;
        Ok(Response::new(pb::ListWebhooksResponse {
            webhooks: endpoints.iter().map(webhook).collect(),
            next_page_token,
        }))
    }

    async fn update_webhook(
        &self,
        request: Request<pb::UpdateWebhookRequest>,
    ) -> Result<Response<pb::UpdateWebhookResponse>, Status> {
        let request = request.into_inner();
        let w = required("webhook", request.webhook)?;
        let id = parse_id("webhook.id", &w.id)?;
        let version = required_version("webhook.version", w.version)?;
        let mask =
            EndpointField::parse_mask(&request.update_mask.map(|m| m.paths).unwrap_or_default())
                .map_err(ServiceError::from)?;
        let updated = self
            .service
            .update(id, version, &input(&w), &mask)
            .await
            .map_err(|e| e.under("webhook"))?;
        Ok(Response::new(pb::UpdateWebhookResponse {
            webhook: Some(webhook(&updated)),
        }))
    }

    async fn delete_webhook(
        &self,
        request: Request<pb::DeleteWebhookRequest>,
    ) -> Result<Response<pb::DeleteWebhookResponse>, Status> {
        let id = parse_id("id", &request.into_inner().id)?;
        self.service.delete(id).await?;
        Ok(Response::new(pb::DeleteWebhookResponse {}))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("webhook_id", &request.webhook_id)?;
        let size = page_size(request.page_size, MAX_PAGE_SIZE)?;
        let status = match DeliveryStatus::try_from(request.status) {
            Ok(DeliveryStatus::Unspecified) => None,
            Ok(DeliveryStatus::Pending) => Some(store::Status::Pending),
            Ok(DeliveryStatus::Delivered) => Some(store::Status::Delivered),
            Ok(DeliveryStatus::Failed) => Some(store::Status::Failed),
            Err(_) => {
                return Err(ServiceError::from(Violations::one(
                    "status",
                    format!("{} is not a known DeliveryStatus value", request.status),
                ))
                .into());
            }
        };
        let (rows, next_page_token) = self
            .service
            .deliveries(id, status, size, &request.page_token)
            .await?;
        Ok(Response::new(pb::ListWebhookDeliveriesResponse {
            deliveries: rows.iter().map(|(d, a)| delivery(d, a)).collect(),
            next_page_token,
        }))
    }

    async fn redeliver_webhook(
        &self,
        request: Request<pb::RedeliverWebhookRequest>,
    ) -> Result<Response<pb::RedeliverWebhookResponse>, Status> {
        let id = parse_id("delivery_id", &request.into_inner().delivery_id)?;
        let d = self.service.redeliver(id).await?;
        Ok(Response::new(pb::RedeliverWebhookResponse {
            delivery: Some(delivery(&d, &[])),
        }))
    }
}
