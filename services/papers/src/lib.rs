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

/// Largest request accepted.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// The full gRPC name of the service, for health reporting.
pub const SERVICE_NAME: &str = "imprint.papers.v1.PaperService";

/// The gRPC server of the papers service over `db` (migrated), checking credits with `authors`.
pub fn server(db: Database, authors: Channel) -> PaperServiceServer<grpc::PapersGrpc> {
    let service = PapersService::new(
        storage::PaperStore::new(db),
        AuthorServiceClient::new(authors),
    );
    // A body may hold a million characters, up to 4 MiB of UTF-8: leave room beyond tonic's
    // 4 MiB default so that the length check, not the transport, answers.
    PaperServiceServer::new(grpc::PapersGrpc::new(service))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
}
