//! The authors service: author profiles (name, slug, bio, positions, ORCID, photo) in its own
//! database, served as `imprint.authors.v1.AuthorService`. It talks to the papers service only
//! through its gRPC client, to learn whether an author is still credited before a delete.

pub mod grpc;
pub mod migration;
pub mod service;
pub mod storage;

use imprint_platform::Database;
use imprint_proto::authors::author_service_server::AuthorServiceServer;
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use tonic::transport::Channel;

pub use migration::Migrator;
pub use service::AuthorsService;

/// The full gRPC name of the service, for health reporting.
pub const SERVICE_NAME: &str = "imprint.authors.v1.AuthorService";

/// The gRPC server of the authors service over `db` (migrated), asking `papers` about credits.
pub fn server(db: Database, papers: Channel) -> AuthorServiceServer<grpc::AuthorsGrpc> {
    let service = AuthorsService::new(
        storage::AuthorStore::new(db),
        PaperServiceClient::new(papers),
    );
    AuthorServiceServer::new(grpc::AuthorsGrpc::new(service))
}
