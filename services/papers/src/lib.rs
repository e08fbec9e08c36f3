//! The papers service: papers, their editorial workflow (draft → published → archived),
//! revisions, slugs that keep resolving after a rename, topics and ordered author credits, in
//! its own database, served as `imprint.papers.v1.PaperService`. Every saved change is written
//! with its `paper.*` event to the service's outbox. It also owns the controlled vocabularies
//! papers are organised by (programs, regions with their countries, series), served as
//! `imprint.papers.v1.TaxonomyService`, with `term.*` events in the same outbox. It talks to the authors service only
//! through its gRPC client (do credited authors exist?) and through events (`author.deleted`).

pub mod events;
pub mod grpc;
pub mod migration;
pub mod scheduler;
pub mod service;
pub mod storage;
pub mod taxonomy;

use std::sync::Arc;

use futures::future::BoxFuture;
use imprint_events::{Emitter, Handler, Outbox};
use imprint_platform::Database;
use imprint_platform::clients::Peer;
use imprint_platform::settings::ServiceKey;
use imprint_platform::signing::Signer;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::papers::paper_service_server::PaperServiceServer;
use imprint_proto::papers::taxonomy_service_server::TaxonomyServiceServer;
use imprint_runtime::{Context, OpenError, ServiceComponent};

pub use migration::Migrator;
pub use service::Papers;

/// The full gRPC name of the service, for health reporting (the generated one).
pub use imprint_proto::papers::paper_service_server::SERVICE_NAME;

/// The outbox of `paper.*` events.
pub const OUTBOX: Outbox = Outbox {
    table: "paper_outbox",
};

/// The papers service's parts: its gRPC servers, its event handler and its scheduler.
#[derive(Debug)]
pub struct Parts {
    /// `imprint.papers.v1.PaperService`.
    pub server: PaperServiceServer<grpc::PapersGrpc>,
    /// `imprint.papers.v1.TaxonomyService`.
    pub taxonomy: TaxonomyServiceServer<taxonomy::grpc::TaxonomyGrpc>,
    /// The handler of the events it consumes.
    pub handler: Arc<dyn Handler>,
    /// Publishes and withdraws papers on schedule.
    pub scheduler: scheduler::Scheduler,
    /// What the scheduler did.
    pub schedule_metrics: Arc<scheduler::ScheduleMetrics>,
}

/// The papers service over `db` (migrated), checking credits with `authors`, the files papers
/// reference in `files`, writing events through `events` and signing page tokens with `signer`.
pub fn build(
    db: Database,
    authors: Peer,
    files: imprint_files::Blobs,
    events: Emitter,
    signer: Signer,
) -> Parts {
    let terms = taxonomy::Terms::new(storage::TermStore::new(db.clone(), events.clone()));
    let service = Papers::new(
        storage::PaperStore::new(db.clone(), events),
        AuthorServiceClient::new(authors),
        terms.clone(),
        files,
        signer.clone(),
    );
    let taxonomy = taxonomy::Taxonomy::new(terms, service.clone(), signer);
    let schedule_metrics = Arc::new(scheduler::ScheduleMetrics::default());
    Parts {
        server: PaperServiceServer::new(grpc::PapersGrpc::new(service.clone()))
            .max_decoding_message_size(imprint_domain::limits::PAPERS_MESSAGE_BYTES),
        taxonomy: TaxonomyServiceServer::new(taxonomy::grpc::TaxonomyGrpc::new(taxonomy))
            .max_decoding_message_size(imprint_domain::limits::SMALL_MESSAGE_BYTES),
        handler: Arc::new(events::DeletedAuthors::new(service.clone())),
        scheduler: scheduler::Scheduler::new(service, db, schedule_metrics.clone()),
        schedule_metrics,
    }
}

/// The papers service as a process runs it.
#[derive(Debug, Clone, Copy)]
pub struct PapersComponent;

/// The papers service's component.
pub static COMPONENT: PapersComponent = PapersComponent;

impl ServiceComponent for PapersComponent {
    const KEY: ServiceKey = ServiceKey::Papers;
    type Migrator = Migrator;

    fn open_service<'a>(
        &'a self,
        db: Database,
        cx: &'a mut Context<'_>,
    ) -> BoxFuture<'a, Result<(), OpenError>> {
        Box::pin(async move {
            let authors = cx.peers.link(ServiceKey::Authors)?;
            let emitter = cx.events.producer(&db, OUTBOX);
            let settings = cx.settings;
            let files =
                imprint_files::Blobs::open(&settings.storage, &settings.data_dir).map_err(|e| {
                    OpenError::Service {
                        service: ServiceKey::Papers,
                        source: e.to_string().into(),
                    }
                })?;
            let parts = build(db, authors, files, emitter, cx.signer.clone());
            cx.events.consumer(parts.handler);
            cx.serve(parts.server);
            cx.serve(parts.taxonomy);
            let scheduler = parts.scheduler;
            cx.run(Box::new(move |stop| Box::pin(scheduler.run(stop))));
            let metrics = parts.schedule_metrics;
            cx.expose(Box::new(move |text: &mut String| metrics.prometheus(text)));
            Ok(())
        })
    }
}

/// Writes the current state of every paper saved since `since` to the outbox of `db`
/// (`imprint events republish`); the running service's relay publishes them. Returns how many.
pub async fn republish_since(
    db: Database,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<usize, imprint_platform::store::WriteError> {
    let emitter = Emitter::new(OUTBOX, Arc::new(tokio::sync::Notify::new()));
    storage::PaperStore::new(db, emitter)
        .republish_since(since)
        .await
}
