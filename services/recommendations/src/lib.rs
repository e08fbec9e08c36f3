//! The recommendations service: the "Related Publications" rail and search. It holds a read
//! model of published papers and authors in its own database, fed only by `paper.*` and
//! `author.*` events, and in-memory indexes rebuilt from it at start and refreshed from its
//! change log, so a restart needs no replay and every replica serves every change.

pub mod events;
pub mod grpc;
pub mod index;
pub mod metrics;
pub mod migration;
pub mod ranking;
pub mod refresh;
pub mod search;
pub mod service;
pub mod stop_words;
pub mod storage;

use std::sync::Arc;

use futures::future::BoxFuture;
use imprint_events::Handler;
use imprint_platform::Database;
use imprint_platform::settings::ServiceKey;
use imprint_platform::signing::Signer;
use imprint_proto::recommendations::recommendation_service_server::RecommendationServiceServer;
use imprint_runtime::{Context, OpenError, ServiceComponent};
use tokio::sync::Notify;

pub use migration::Migrator;
pub use ranking::Weights;
pub use refresh::Refresher;
pub use service::Recommendations;

/// The full gRPC name of the service, for health reporting.
pub use imprint_proto::recommendations::recommendation_service_server::SERVICE_NAME;

/// The outbox of `recommendation.*` events (overrides set by editors).
pub const OUTBOX: imprint_events::Outbox = imprint_events::Outbox {
    table: "rec_outbox",
};

/// The recommendations service's parts.
#[derive(Debug)]
pub struct Parts {
    /// `imprint.recommendations.v1.RecommendationService`.
    pub server: RecommendationServiceServer<grpc::RecommendationsGrpc>,
    /// The handler of the events it consumes.
    pub handler: Arc<dyn Handler>,
    /// Keeps the indexes in step with the read model; run it until shutdown.
    pub refresher: Refresher,
    /// Server time of `GetRelatedPublications`, for `/metrics`.
    pub related_latency: Arc<metrics::Latency>,
}

/// The recommendations service as a process runs it.
#[derive(Debug, Clone, Copy)]
pub struct RecommendationsComponent;

/// The recommendations service's component.
pub static COMPONENT: RecommendationsComponent = RecommendationsComponent;

impl ServiceComponent for RecommendationsComponent {
    const KEY: ServiceKey = ServiceKey::Recommendations;
    type Migrator = Migrator;

    fn open_service<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>> {
        Box::pin(async move {
            let emitter = cx.events.producer(&db, OUTBOX);
            let parts = build(db, Weights::default(), cx.signer.clone(), emitter)
                .await
                .map_err(|e| OpenError::Service {
                    service: ServiceKey::Recommendations,
                    source: Box::new(e),
                })?;
            cx.events.consumer(parts.handler);
            cx.serve(parts.server);
            let refresher = parts.refresher;
            cx.run(Box::new(move |stop| Box::pin(refresher.run(stop))));
            let latency = parts.related_latency;
            cx.expose(Box::new(move |text: &mut String| {
                text.push_str(&latency.prometheus(
                    "imprint_recommendations_related_seconds",
                    "Server time of GetRelatedPublications.",
                ));
            }));
            Ok(())
        })
    }
}

/// What can stop the service from starting.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The read model cannot be read.
    #[error("loading the recommendations read model: {0}")]
    Load(#[from] sea_orm::DbErr),
    /// The search index cannot be created.
    #[error("creating the search index: {0}")]
    Search(#[from] search::SearchError),
}

/// The recommendations service over `db` (migrated), with its indexes loaded, sealing what it
/// serves (recommendation ids, views, page tokens) with `signer` and writing its events
/// through `events`.
pub async fn build(
    db: Database,
    weights: Weights,
    signer: Signer,
    events: imprint_events::Emitter,
) -> Result<Parts, BuildError> {
    let store = storage::RecStore::new(db, events);
    let state = Arc::new(service::State {
        index: std::sync::RwLock::new(index::Index::new(
            index::FieldWeights::default(),
            index::Bm25 {
                k1: weights.k1,
                b: weights.b,
            },
        )),
        overrides: std::sync::RwLock::default(),
    });
    let search = Arc::new(search::SearchIndex::new(signer.clone())?);
    let wake = Arc::new(Notify::new());
    let refresher = Refresher::load(
        store.clone(),
        Arc::clone(&state),
        Arc::clone(&search),
        Arc::clone(&wake),
    )
    .await?;
    let service = Recommendations::new(store.clone(), state, search, weights, signer);
    let related_latency = Arc::new(metrics::Latency::default());
    Ok(Parts {
        server: RecommendationServiceServer::new(grpc::RecommendationsGrpc::new(
            service,
            Arc::clone(&related_latency),
        ))
        .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
        related_latency,
        handler: Arc::new(events::ReadModel::new(store, wake)),
        refresher,
    })
}
