//! How a service runs inside an Imprint process. Each service crate exports a [`Component`]:
//! its migrations, and an `open` that builds the service over its database and hands the
//! process its gRPC services, event relay and handlers, background tasks, readiness checks and
//! metrics through a [`Context`]. The process (the `imprint` binary) only loops over the
//! components of its role. Services reach each other through [`Peers`]: over the network to a
//! role elsewhere, or in process to a service the same process runs; and their events travel
//! through [`Events`], over RabbitMQ or, without a broker, inside the process.

pub mod component;
pub mod events;
pub mod peers;

pub use component::{
    Assembled, Component, Context, Exposition, OpenError, PublicListener, ServiceComponent, Task,
};
pub use events::Events;
pub use peers::Peers;
