//! The one Imprint binary, as a library so tests can start it in-process: the command line,
//! the composition of the services into roles, and the demo content.

pub mod app;
pub mod cli;
pub mod command;
pub mod dataset;
pub mod demo;
pub mod eval;
pub mod grpc;
pub mod import;
pub mod keys_command;
pub mod ops;
pub mod upload;

pub use app::{AppError, Application, ProcessRole};
