//! The authors service: author profiles (name, slug, bio, positions, ORCID, photo) in its own
//! database, served as `imprint.authors.v1.AuthorService`. Every change is written with its
//! `author.*` event to the service's outbox; the service learns which papers credit each
//! author from `paper.*` events. It talks to the papers service only through its gRPC client
//! (whether an author is still credited, before a delete) and through events.

pub mod events;
pub mod grpc;
pub mod migration;
pub mod service;
pub mod storage;

use std::sync::Arc;

use futures::future::BoxFuture;
use imprint_events::{Emitter, Handler, Outbox};
use imprint_platform::Database;
use imprint_platform::clients::Peer;
use imprint_platform::settings::ServiceKey;
use imprint_platform::signing::Signer;
use imprint_proto::authors::author_service_server::AuthorServiceServer;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_runtime::{Context, OpenError, ServiceComponent};

pub use migration::Migrator;
pub use service::Authors;

/// The full gRPC name of the service, for health reporting.
pub use imprint_proto::authors::author_service_server::SERVICE_NAME;

/// The outbox of `author.*` events.
pub const OUTBOX: Outbox = Outbox {
    table: "author_outbox",
};

/// The authors service's parts: its gRPC server and its event handler.
#[derive(Debug)]
pub struct Parts {
    /// `imprint.authors.v1.AuthorService`.
    pub server: AuthorServiceServer<grpc::AuthorsGrpc>,
    /// The handler of the events it consumes.
    pub handler: Arc<dyn Handler>,
}

/// The authors service over `db` (migrated), asking `papers` about credits, writing events
/// through `events` and signing page tokens with `signer`.
pub fn build(
    db: Database,
    papers: Peer,
    files: imprint_files::Blobs,
    events: Emitter,
    signer: Signer,
) -> Parts {
    let store = storage::AuthorStore::new(db, events);
    let service = Authors::new(
        store.clone(),
        PaperServiceClient::new(papers),
        files,
        signer,
    );
    Parts {
        server: AuthorServiceServer::new(grpc::AuthorsGrpc::new(service))
            .max_decoding_message_size(imprint_domain::limits::AUTHORS_MESSAGE_BYTES),
        handler: Arc::new(events::PaperCredits::new(store)),
    }
}

/// The authors service as a process runs it.
#[derive(Debug, Clone, Copy)]
pub struct AuthorsComponent;

/// The authors service's component.
pub static COMPONENT: AuthorsComponent = AuthorsComponent;

impl ServiceComponent for AuthorsComponent {
    const KEY: ServiceKey = ServiceKey::Authors;
    type Migrator = Migrator;

    fn open_service<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>> {
        Box::pin(async move {
            let papers = cx.peers.link(ServiceKey::Papers)?;
            let emitter = cx.events.producer(&db, OUTBOX);
            let settings = cx.settings;
            let files =
                imprint_files::Blobs::open(&settings.storage, &settings.data_dir).map_err(|e| {
                    OpenError::Service {
                        service: ServiceKey::Authors,
                        source: e.to_string().into(),
                    }
                })?;
            let parts = build(db, papers, files, emitter, cx.signer.clone());
            cx.events.consumer(parts.handler);
            cx.serve(parts.server);
            Ok(())
        })
    }
}

/// Writes the current state of every author saved since `since` to the outbox of `db`
/// (`imprint events republish`); the running service's relay publishes them. Returns how many.
pub async fn republish_since(
    db: Database,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<usize, imprint_platform::store::WriteError> {
    let emitter = Emitter::new(OUTBOX, Arc::new(tokio::sync::Notify::new()));
    storage::AuthorStore::new(db, emitter)
        .republish_since(since)
        .await
}
