//! The gRPC contract, generated from `proto/` at build time, plus what every edge needs to speak
//! it: conversions between the generated messages and the domain types, the mapping of domain
//! validation errors to `google.rpc.BadRequest` details, and the codec that refuses malformed
//! and oversized requests before any handler sees them. The `.proto` files are the API;
//! this crate only mirrors them.

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]
mod generated {
    pub mod imprint {
        pub mod audit {
            pub mod v1 {
                tonic::include_proto!("imprint.audit.v1");
            }
        }
        pub mod authors {
            pub mod v1 {
                tonic::include_proto!("imprint.authors.v1");
            }
        }
        pub mod events {
            pub mod v1 {
                tonic::include_proto!("imprint.events.v1");
            }
        }
        pub mod files {
            pub mod v1 {
                tonic::include_proto!("imprint.files.v1");
            }
        }
        pub mod gateway {
            pub mod v1 {
                tonic::include_proto!("imprint.gateway.v1");
            }
        }
        pub mod papers {
            pub mod v1 {
                tonic::include_proto!("imprint.papers.v1");
            }
        }
        pub mod recommendations {
            pub mod v1 {
                tonic::include_proto!("imprint.recommendations.v1");
            }
        }
    }
}

mod bounds;
pub mod codec;
pub mod convert;
pub mod status;

pub use generated::imprint::audit::v1 as audit;
pub use generated::imprint::authors::v1 as authors;
pub use generated::imprint::events::v1 as events;
pub use generated::imprint::files::v1 as files;
pub use generated::imprint::gateway::v1 as gateway;
pub use generated::imprint::papers::v1 as papers;
pub use generated::imprint::recommendations::v1 as recommendations;

/// Encoded `FileDescriptorSet` of every Imprint proto and its imports, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/imprint_descriptor.bin"));
