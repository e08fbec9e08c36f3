//! The gateway: the only public edge of a distributed Imprint. This first part forwards the
//! editorial gRPC services (`imprint.papers.v1.PaperService`, `imprint.authors.v1.AuthorService`,
//! `imprint.recommendations.v1.RecommendationService`) to the roles that own them, unchanged on the wire: the client's deadline (`grpc-timeout`)
//! travels on, every call also gets the gateway's own deadline, and a role that is down answers
//! UNAVAILABLE at once instead of hanging.

pub mod forward;

pub use forward::{AuthorsForward, Forward, PapersForward, RecommendationsForward};
