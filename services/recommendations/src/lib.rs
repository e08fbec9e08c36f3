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

use imprint_events::Handler;
use imprint_platform::Database;
use imprint_platform::signing::Signer;
use imprint_proto::recommendations::recommendation_service_server::RecommendationServiceServer;
use tokio::sync::Notify;

pub use migration::Migrator;
pub use ranking::Weights;
pub use refresh::Refresher;
pub use service::RecommendationsService;

/// The full gRPC name of the service, for health reporting.
pub const SERVICE_NAME: &str = "imprint.recommendations.v1.RecommendationService";

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
/// serves (recommendation ids, views, page tokens) with `signer`.
pub async fn build(db: Database, weights: Weights, signer: Signer) -> Result<Parts, BuildError> {
    let store = storage::RecStore::new(db);
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
    let service = RecommendationsService::new(store.clone(), state, search, weights, signer);
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
