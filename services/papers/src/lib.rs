//! The papers service: papers, their editorial workflow (draft → published → archived),
//! revisions, slugs that keep resolving after a rename, topics and ordered author credits, in
//! its own database, served as `imprint.papers.v1.PaperService`. It talks to the authors
//! service only through its gRPC client, to check that credited authors exist.

pub mod grpc;
pub mod migration;
pub mod service;
pub mod storage;

use imprint_platform::Database;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::papers::paper_service_server::PaperServiceServer;
use tonic::transport::Channel;

pub use migration::Migrator;
pub use service::PapersService;

/// The full gRPC name of the service, for health reporting.
pub const SERVICE_NAME: &str = "imprint.papers.v1.PaperService";

/// The gRPC server of the papers service over `db` (migrated), checking credits with `authors`.
pub fn server(db: Database, authors: Channel) -> PaperServiceServer<grpc::PapersGrpc> {
    let service = PapersService::new(
        storage::PaperStore::new(db),
        AuthorServiceClient::new(authors),
    );
    PaperServiceServer::new(grpc::PapersGrpc::new(service))
}
