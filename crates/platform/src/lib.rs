//! What every Imprint service shares, written once: layered configuration, logging, database
//! pools and migrations, the error type and its mapping to gRPC statuses, list paging, signed
//! tokens, the TLS provider of outgoing HTTPS, channels to other services, health and readiness, and graceful shutdown.

pub mod auth;
pub mod caller;
pub mod clients;
pub mod db;
pub mod error;
pub mod leader;
pub mod listen;
pub mod metrics;
pub mod observe;
pub mod paging;
pub mod request;
pub mod revisions;
pub mod served;
pub mod server;
pub mod settings;
pub mod signing;
pub mod slugs;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod wire;

pub use db::Database;
pub use error::ServiceError;
pub use settings::Settings;
