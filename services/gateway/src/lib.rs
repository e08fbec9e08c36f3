//! The gateway: the only public edge of Imprint. It authenticates editorial callers and checks
//! their role on every gRPC call ([`access`]), serves gRPC-Web to browsers, and forwards the
//! editorial services (`imprint.papers.v1.PaperService`, `imprint.authors.v1.AuthorService`,
//! `imprint.recommendations.v1.RecommendationService`) to the roles that own them, unchanged on
//! the wire: the client's deadline (`grpc-timeout`) travels on, every call also gets the
//! gateway's own deadline, and a role that is down answers UNAVAILABLE at once instead of
//! hanging. It also assembles whole publication pages ([`page`]), serves the public JSON API
//! ([`public`]), and keeps what decides who may read beyond the published: partner keys
//! ([`partner_keys`]) and preview links to unpublished papers ([`preview_links`]), delivers
//! changes to the webhook endpoints admins register ([`webhooks`]), and takes editors' file
//! uploads and answers downloads ([`files`]).

pub mod access;
pub mod actors;
pub mod cache;
pub mod component;
pub mod files;
pub mod forward;
pub mod migration;
pub mod page;
pub mod partner_keys;
pub mod preview_links;
pub mod public;
pub mod webhooks;

pub use access::{AuthLayer, Authenticator, Principal};
pub use component::{COMPONENT, EdgeLayers};
pub use forward::{
    AuthorsForward, Forward, PapersForward, RecommendationsForward, TaxonomyForward,
};
pub use page::Pages;
