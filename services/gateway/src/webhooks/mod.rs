//! Webhooks: endpoints admins register to hear of changes over HTTP. Every event is matched
//! against the endpoints' filters when it is consumed ([`events`]) and written as a delivery
//! to the gateway's database, which the [`dispatch`]er sends, signed, in order per aggregate,
//! retried with backoff for at least a day, and logged. Served as
//! `imprint.gateway.v1.WebhookService` ([`grpc`]).

pub mod dispatch;
pub mod events;
pub mod grpc;
pub(crate) mod migration;
pub mod store;

mod entity;

use chrono::Utc;
use imprint_domain::webhook::{UrlPolicy, WebhookFilter, WebhookUrl, description};
use imprint_domain::{Actor, MaskField, Violations};
use imprint_platform::ServiceError;
use imprint_platform::paging::{finish_page, resume_after};
use imprint_platform::request::check_version;
use imprint_platform::signing::Signer;
use uuid::Uuid;

use store::{Attempt, Delivery, Endpoint, Status, WebhookStore};

/// An endpoint's fields as sent.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    /// The URL.
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Event type patterns.
    pub event_types: Vec<String>,
    /// Term ids.
    pub term_ids: Vec<String>,
    /// Whether deliveries are sent.
    pub enabled: bool,
}

/// A field of an endpoint an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointField {
    /// `url`
    Url,
    /// `description`
    Description,
    /// `event_types`
    EventTypes,
    /// `term_ids`
    TermIds,
    /// `enabled`
    Enabled,
}

impl MaskField for EndpointField {
    const ALL: &'static [Self] = &[
        Self::Url,
        Self::Description,
        Self::EventTypes,
        Self::TermIds,
        Self::Enabled,
    ];

    fn path(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Description => "description",
            Self::EventTypes => "event_types",
            Self::TermIds => "term_ids",
            Self::Enabled => "enabled",
        }
    }
}

/// The webhooks' use cases.
#[derive(Debug, Clone)]
pub struct Webhooks {
    /// Endpoints and deliveries.
    store: WebhookStore,
    /// What endpoints may point at.
    urls: UrlPolicy,
    /// Signs page tokens.
    signer: Signer,
    /// Rung when a delivery is due at once (a redelivery, an endpoint enabled).
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Webhooks {
    /// The use cases over `store`.
    pub fn new(
        store: WebhookStore,
        urls: UrlPolicy,
        signer: Signer,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            store,
            urls,
            signer,
            wake,
        }
    }

    /// Registers an endpoint, enabled, with a new secret.
    pub async fn create(
        &self,
        input: &EndpointInput,
        actor: &Actor,
    ) -> Result<Endpoint, ServiceError> {
        let mut v = Violations::new();
        let url = v.check("url", WebhookUrl::parse(&input.url, self.urls));
        let description = v.check("description", description(&input.description));
        let filter = v.nested(
            "",
            WebhookFilter::parse(&input.event_types, &input.term_ids),
        );
        let (Some(url), Some(description), Some(filter)) = (url, description, filter) else {
            return Err(v.into());
        };
        let now = Utc::now();
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url,
            description,
            filter,
            secret: dispatch::new_secret(),
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            version: 1,
            create_time: now,
            update_time: now,
            creator: Some(actor.clone()),
        };
        self.store.insert(&endpoint).await?;
        tracing::info!(webhook = %endpoint.id, url = %endpoint.url.as_str(), "webhook registered");
        Ok(endpoint)
    }

    /// A page of endpoints, oldest first.
    pub async fn list(
        &self,
        page_size: u64,
        token: &str,
    ) -> Result<(Vec<Endpoint>, String), ServiceError> {
        let fingerprint = "webhooks";
        let after: Option<Uuid> = resume_after(&self.signer, fingerprint, token)?;
        let rows = self.store.list(after, page_size + 1).await?;
        Ok(finish_page(
            &self.signer,
            rows,
            page_size,
            fingerprint,
            |e| e.id,
        ))
    }

    /// Applies the masked fields of `input` to endpoint `id`, if `version` is still current.
    /// Enabling clears the reason it was disabled and the failing streak.
    pub async fn update(
        &self,
        id: Uuid,
        version: i64,
        input: &EndpointInput,
        mask: &[EndpointField],
    ) -> Result<Endpoint, ServiceError> {
        let current = self
            .store
            .find(id)
            .await?
            .ok_or_else(|| ServiceError::not_found("webhook", id.to_string()))?;
        check_version("webhook", &id, Some(version), current.version)?;
        let mut v = Violations::new();
        let mut next = current.clone();
        for field in mask {
            let path = field.path();
            match field {
                EndpointField::Url => {
                    v.assign(
                        path,
                        &mut next.url,
                        WebhookUrl::parse(&input.url, self.urls),
                    );
                }
                EndpointField::Description => {
                    v.assign(path, &mut next.description, description(&input.description));
                }
                EndpointField::EventTypes => {
                    if let Some(f) = v.nested("", WebhookFilter::parse(&input.event_types, &[])) {
                        next.filter.event_types = f.event_types;
                    }
                }
                EndpointField::TermIds => {
                    if let Some(f) = v.nested("", WebhookFilter::parse(&[], &input.term_ids)) {
                        next.filter.term_ids = f.term_ids;
                    }
                }
                EndpointField::Enabled => {
                    if input.enabled && !current.enabled {
                        next.disabled_reason = None;
                        next.failing_since = None;
                    }
                    next.enabled = input.enabled;
                }
            }
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        if next == current {
            return Ok(current);
        }
        next.version += 1;
        next.update_time = Utc::now();
        let enabling = next.enabled && !current.enabled;
        self.store
            .save(&next, current.version, enabling)
            .await
            .map_err(|e| e.for_resource("webhook", &id))?;
        self.wake.notify_one();
        Ok(next)
    }

    /// Removes endpoint `id` and its deliveries.
    pub async fn delete(&self, id: Uuid) -> Result<(), ServiceError> {
        if self.store.delete(id).await? {
            Ok(())
        } else {
            Err(ServiceError::not_found("webhook", id.to_string()))
        }
    }

    /// A page of endpoint `id`'s deliveries (of `status` when given), newest first.
    pub async fn deliveries(
        &self,
        id: Uuid,
        status: Option<Status>,
        page_size: u64,
        token: &str,
    ) -> Result<(Vec<(Delivery, Vec<Attempt>)>, String), ServiceError> {
        let fingerprint = format!("webhook-deliveries;{id};{:?}", status.map(Status::as_str));
        let before: Option<Uuid> = resume_after(&self.signer, &fingerprint, token)?;
        if self.store.find(id).await?.is_none() {
            return Err(ServiceError::not_found("webhook", id.to_string()));
        }
        let rows = self
            .store
            .deliveries(id, status, before, page_size + 1)
            .await?;
        Ok(finish_page(
            &self.signer,
            rows,
            page_size,
            &fingerprint,
            |(d, _)| d.id,
        ))
    }

    /// Makes delivery `id` pending again, due at once; one still pending is refused (it is
    /// sent when its turn comes).
    pub async fn redeliver(&self, id: Uuid) -> Result<Delivery, ServiceError> {
        match self.store.redeliver(id, Utc::now()).await? {
            store::Redelivered::Due(delivery) => {
                self.wake.notify_one();
                Ok(delivery)
            }
            store::Redelivered::AlreadyPending => Err(ServiceError::FailedPrecondition(format!(
                "webhook delivery {id} is pending: it is sent when its turn comes, and its retries are not reset meanwhile"
            ))),
            store::Redelivered::Missing => {
                Err(ServiceError::not_found("webhook delivery", id.to_string()))
            }
        }
    }
}
