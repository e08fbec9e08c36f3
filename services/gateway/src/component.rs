//! The edge as a process runs it: publication pages, partner keys and preview links over gRPC,
//! the public JSON API (with `/openapi.json`) on a listener of its own, its response cache
//! dropped on every `paper.*`, `author.*` and `recommendation.*` event, and forwarding of the
//! editorial services that run elsewhere. Also the layers the edge puts around the process's
//! gRPC listener: CORS for the editorial front ends and the check of every caller.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use imprint_platform::Database;
use imprint_platform::observe::ObserveLayer;
use imprint_platform::settings::{ServiceKey, Settings};
use imprint_proto::gateway::partner_key_service_server::PartnerKeyServiceServer;
use imprint_proto::gateway::preview_link_service_server::PreviewLinkServiceServer;
use imprint_proto::gateway::publication_page_service_server::PublicationPageServiceServer;
use imprint_runtime::{Context, OpenError, PublicListener, ServiceComponent};

use crate::cache::Cache;
use crate::partner_keys::{self, Keys};
use crate::preview_links::Links;
use crate::preview_links::grpc::PreviewLinksGrpc;
use crate::public::{PublicApi, Site};
use crate::{
    AuthLayer, Authenticator, AuthorsForward, Pages, PapersForward, RecommendationsForward,
    TaxonomyForward,
};

/// Largest request body the public API takes (it reads none but small JSON).
const PUBLIC_BODY_LIMIT: usize = 16 * 1024;

/// The edge's component.
#[derive(Debug, Clone, Copy)]
pub struct GatewayComponent;

/// The edge's component.
pub static COMPONENT: GatewayComponent = GatewayComponent;

impl ServiceComponent for GatewayComponent {
    const KEY: ServiceKey = ServiceKey::Gateway;
    type Migrator = crate::migration::Migrator;

    fn open_service<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>> {
        Box::pin(open(db, cx))
    }
}

async fn open(db: Database, cx: &mut Context<'_>) -> Result<(), OpenError> {
    let db_for_webhooks = db.clone();
    let db_for_files = db.clone();
    let previews = Links::new(
        db.clone(),
        cx.signer.clone(),
        cx.peers.link(ServiceKey::Papers)?,
    );
    let keys = Keys::open(db).await.map_err(|e| OpenError::Service {
        service: ServiceKey::Gateway,
        source: format!("loading partner keys: {e}").into(),
    })?;
    let settings = cx.settings;
    // Pages and the public API call the same services.
    let services = crate::public::Services {
        papers: cx.peers.link(ServiceKey::Papers)?,
        authors: cx.peers.link(ServiceKey::Authors)?,
        recommendations: cx.peers.link(ServiceKey::Recommendations)?,
    };
    let pages = Pages::new(
        services.papers.clone(),
        services.authors.clone(),
        services.recommendations.clone(),
        Duration::from_millis(settings.gateway.related_budget_ms),
    );
    let cache = Cache::new(
        settings.gateway.cache_entries,
        Duration::from_secs(settings.gateway.cache_max_age_secs),
        Duration::from_millis(settings.gateway.cache_settle_ms),
    );
    let invalidate = cache.clone();
    cx.events.watcher(
        &["paper.*", "author.*", "recommendation.*", "term.*"],
        Arc::new(move || invalidate.changed()),
    );
    let files = open_files(db_for_files, cx)?;
    let (public, site_url) = public_api(
        Edge {
            settings,
            services,
            signer: cx.signer,
            requests: cx.requests,
            files,
        },
        pages.clone(),
        cache.clone(),
        keys.clone(),
        previews.clone(),
    )
    .await?;
    cx.public(public);
    open_webhooks(db_for_webhooks, cx)?;
    cx.serve(
        PreviewLinkServiceServer::new(PreviewLinksGrpc::new(previews, site_url))
            .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
    );
    cx.serve(
        PublicationPageServiceServer::new(pages)
            .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
    );
    cx.serve(
        PartnerKeyServiceServer::new(partner_keys::grpc::PartnerKeysGrpc::new(keys.clone()))
            .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
    );
    cx.run(Box::new(move |stop| Box::pin(keys.follow(stop))));
    cx.expose(Box::new(move |text: &mut String| cache.prometheus(text)));
    forward_what_runs_elsewhere(cx)
}

/// What the public listener is made from.
struct Edge<'a> {
    settings: &'a Settings,
    services: crate::public::Services,
    signer: &'a imprint_platform::signing::Signer,
    requests: &'a Arc<imprint_platform::observe::RequestMetrics>,
    /// The editors' file endpoints, the store and download counts.
    files: OpenedFiles,
}

/// The file store, the editors' upload endpoints on the public listener, and the sweep of
/// expired uploads.
fn open_files(db: Database, cx: &mut Context<'_>) -> Result<OpenedFiles, OpenError> {
    use crate::files::{Files, http, records::Records, references, stats};
    use imprint_proto::gateway::download_stats_service_server::DownloadStatsServiceServer;
    let settings = cx.settings;
    let service_error = |e: &dyn std::fmt::Display| OpenError::Service {
        service: ServiceKey::Gateway,
        source: e.to_string().into(),
    };
    let blobs = imprint_files::Blobs::open(&settings.storage, &settings.data_dir)
        .map_err(|e| service_error(&e))?;
    tracing::info!(store = ?blobs, "files");
    let files = Files::new(
        blobs.clone(),
        Records::new(db.clone()),
        settings.storage.max_upload_bytes(),
        Duration::from_secs(settings.storage.upload_expiry_hours.max(1) * 3600),
    );
    let auth = Authenticator::new(&settings.auth, None).map_err(|e| service_error(&e))?;
    let origins = header_values(&settings.auth.editor_origins)?;
    let sweeper = files.clone();
    cx.run(Box::new(move |stop| Box::pin(sweep_uploads(sweeper, stop))));
    let storage = &settings.storage;
    cx.events
        .consumer(Arc::new(references::References::new(db.clone())));
    let collector = references::Collector::new(
        db.clone(),
        blobs.clone(),
        Duration::from_secs(storage.grace_secs),
        Duration::from_secs(storage.sweep_secs.max(1)),
    );
    cx.run(Box::new(move |stop| Box::pin(collector.run(stop))));
    let downloads = stats::Downloads::new(db);
    let flusher = downloads.clone();
    cx.run(Box::new(move |stop| Box::pin(flusher.run(stop))));
    cx.serve(
        DownloadStatsServiceServer::new(stats::DownloadStatsGrpc::new(downloads.clone()))
            .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
    );
    let router = http::router(
        Arc::new(http::Editorial {
            files,
            auth: Arc::new(auth),
        }),
        &origins,
    );
    Ok(OpenedFiles {
        editorial: router,
        blobs,
        downloads,
    })
}

/// The edge's files, as the public listener needs them.
struct OpenedFiles {
    /// The editors' endpoints.
    editorial: axum::Router,
    /// The store.
    blobs: imprint_files::Blobs,
    /// Download counts.
    downloads: crate::files::stats::Downloads,
}

/// Removes expired uploads every ten minutes until `stop` (any replica may: removing what is
/// gone already is no error).
async fn sweep_uploads(files: crate::files::Files, stop: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match files.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "expired uploads removed"),
            Err(e) => tracing::warn!(error = %e, "could not sweep expired uploads"),
        }
    }
}

/// The public API on its own listener, and the base URL its links have.
async fn public_api(
    cx: Edge<'_>,
    pages: Pages,
    cache: Arc<Cache>,
    keys: Arc<Keys>,
    previews: Links,
) -> Result<(PublicListener, String), OpenError> {
    let settings = cx.settings;
    let (listener, addr) =
        imprint_platform::listen::bind("public HTTP", settings.server.public_addr).await?;
    let gateway = &settings.gateway;
    let listener_url = format!("http://{}", imprint_platform::listen::loopback_for(addr));
    let base = |setting: Option<&String>| {
        setting.map_or_else(
            || listener_url.clone(),
            |url| url.trim_end_matches('/').to_owned(),
        )
    };
    let site = Site {
        name: gateway.site_name.clone(),
        url: base(gateway.site_url.as_ref()),
        api_url: base(gateway.api_url.as_ref()),
        files: crate::public::FilesScope::default(),
    };
    let site_url = site.url.clone();
    let api = PublicApi::new(
        cx.services,
        pages,
        cache,
        crate::public::Access { keys, previews },
        cx.signer.clone(),
        crate::public::Options {
            site,
            timeout: Duration::from_millis(gateway.request_timeout_ms),
            // Checked when the settings were loaded.
            trusted_proxies: gateway
                .trusted_proxies
                .iter()
                .filter_map(|p| imprint_platform::settings::parse_proxy(p).ok())
                .collect(),
            files: cx.files.blobs,
            downloads: cx.files.downloads,
        },
    );
    let router = api
        .router()
        .merge(cx.files.editorial)
        .route(
            "/openapi.json",
            axum::routing::get(|| async {
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    crate::public::openapi_json(),
                )
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
        .layer(ObserveLayer::http(cx.requests.clone()));
    Ok((
        PublicListener {
            listener,
            addr,
            router,
        },
        site_url,
    ))
}

/// Webhooks: the service admins register endpoints with, the consumer that writes every
/// matching event as a delivery, and the dispatcher that sends them.
fn open_webhooks(db: Database, cx: &mut Context<'_>) -> Result<(), OpenError> {
    use crate::webhooks::{Webhooks, dispatch, events, grpc, store::WebhookStore};
    use imprint_domain::webhook::{RetryPolicy, UrlPolicy};
    use imprint_proto::gateway::webhook_service_server::WebhookServiceServer;
    let w = &cx.settings.webhooks;
    let urls = UrlPolicy {
        allow_http: w.allow_http,
        allow_private: w.allow_private,
    };
    let settings = dispatch::DispatchSettings {
        retry: RetryPolicy {
            initial: Duration::from_millis(w.initial_backoff_ms.max(1)),
            max: Duration::from_millis(w.max_backoff_ms.max(w.initial_backoff_ms).max(1)),
            window: Duration::from_secs(w.retry_hours.max(1) * 3600),
        },
        timeout: Duration::from_millis(w.timeout_ms.max(1)),
        // 0: at the first failure.
        disable_after: Duration::from_secs(w.disable_after_hours * 3600),
        urls,
    };
    let store = WebhookStore::new(db.clone());
    let wake = Arc::new(tokio::sync::Notify::new());
    let metrics = Arc::new(dispatch::DispatchMetrics::default());
    let dispatcher =
        dispatch::Dispatcher::new(store.clone(), db, settings, wake.clone(), metrics.clone())
            .map_err(|e| OpenError::Service {
                service: ServiceKey::Gateway,
                source: e.to_string().into(),
            })?;
    cx.events.consumer(Arc::new(events::Deliveries::new(
        store.clone(),
        wake.clone(),
    )));
    cx.run(Box::new(move |stop| Box::pin(dispatcher.run(stop))));
    cx.expose(Box::new(move |text: &mut String| metrics.prometheus(text)));
    let service = Webhooks::new(store, urls, cx.signer.clone(), wake);
    cx.serve(
        WebhookServiceServer::new(grpc::WebhooksGrpc::new(service))
            .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
    );
    Ok(())
}

/// Forwards the calls of every editorial service this process does not run to the role that
/// does, unchanged on the wire.
fn forward_what_runs_elsewhere(cx: &mut Context<'_>) -> Result<(), OpenError> {
    if !cx.peers.runs_here(ServiceKey::Papers) {
        let channel = cx.peers.remote(ServiceKey::Papers)?;
        cx.serve(PapersForward::new(channel.clone()));
        cx.serve(TaxonomyForward::new(channel));
    }
    if !cx.peers.runs_here(ServiceKey::Authors) {
        let channel = cx.peers.remote(ServiceKey::Authors)?;
        cx.serve(AuthorsForward::new(channel));
    }
    if !cx.peers.runs_here(ServiceKey::Recommendations) {
        let channel = cx.peers.remote(ServiceKey::Recommendations)?;
        cx.serve(RecommendationsForward::new(channel));
    }
    Ok(())
}

/// What the edge puts around the process's gRPC listener.
#[derive(Debug, Clone)]
pub struct EdgeLayers {
    /// CORS for gRPC-Web calls from the editorial front ends, when origins are configured.
    pub cors: Option<tower_http::cors::CorsLayer>,
    /// Authentication and the role check of every call.
    pub auth: AuthLayer,
}

impl EdgeLayers {
    /// The layers of `settings`, accepting `internal_token` as the process's own calls.
    pub fn new(settings: &Settings, internal_token: &str) -> Result<Self, OpenError> {
        let auth = Authenticator::new(&settings.auth, Some(internal_token))
            .map_err(|e| OpenError::Config(e.to_string()))?;
        if settings.auth.tokens.is_empty() && !settings.auth.jwt.is_enabled() {
            tracing::warn!(
                "no editorial tokens configured: every editorial gRPC call will be refused; set auth.tokens.<name>.token and .role, or auth.jwt.*"
            );
        }
        let cors = (!settings.auth.editor_origins.is_empty())
            .then(|| editor_cors(&settings.auth.editor_origins))
            .transpose()?;
        Ok(Self {
            cors,
            auth: AuthLayer::new(Arc::new(auth)),
        })
    }
}

/// `auth.editor_origins` as header values.
fn header_values(origins: &[String]) -> Result<Vec<http::HeaderValue>, OpenError> {
    origins
        .iter()
        .map(|o| {
            http::HeaderValue::from_str(o).map_err(|_| {
                OpenError::Config(format!("auth.editor_origins: '{o}' is not an origin"))
            })
        })
        .collect()
}

/// CORS for gRPC-Web calls from the editorial front ends at `origins`.
fn editor_cors(origins: &[String]) -> Result<tower_http::cors::CorsLayer, OpenError> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = header_values(origins)?;
    let headers = [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
    ]
    .map(http::HeaderName::from_static);
    let exposed = ["grpc-status", "grpc-message", "grpc-status-details-bin"]
        .map(http::HeaderName::from_static);
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([http::Method::POST])
        .allow_headers(headers)
        .expose_headers(exposed)
        .max_age(Duration::from_secs(3600)))
}
