//! The process's gRPC services as one server: every component's services with health and
//! reflection, behind the layers each call passes (CORS and gRPC-Web for browsers; then
//! metrics and trace context, the wire checks and, at the edge, authentication). The same
//! services behind the same layers, but the browsers', also answer the process's own calls
//! between its services, in process ([`imprint_platform::clients::Local`]).

use std::sync::Arc;
use std::time::Duration;

use imprint_gateway::EdgeLayers;
use imprint_platform::clients::{Local, LocalService};
use imprint_platform::observe::{ObserveLayer, RequestMetrics};
use imprint_platform::server::{Check, Health};
use imprint_platform::settings::ServerSettings;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;

use crate::app::AppError;

/// Serves the layered gRPC router (whose type spells out every layer) on a listener until the
/// signal.
pub type ServeGrpc = Box<
    dyn FnOnce(
            TcpListener,
            std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), tonic::transport::Error>> + Send>,
        > + Send,
>;

/// The services of a process, put together.
pub struct Services {
    /// Every component's gRPC services.
    pub routes: RoutesBuilder,
    /// Their full names.
    pub names: Vec<&'static str>,
    /// What readiness needs.
    pub checks: Vec<(String, Check)>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Health and reflection beside `services`, the layers around them, the in-process link
/// connected to them; returns readiness (not yet ready) and the server to start.
pub fn assemble(
    services: Services,
    edge: Option<EdgeLayers>,
    requests: &Arc<RequestMetrics>,
    local: &Local,
    settings: &ServerSettings,
) -> Result<(Health, ServeGrpc), AppError> {
    let Services {
        mut routes,
        names,
        checks,
    } = services;
    let mut known: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    known.extend(
        [
            tonic_health::pb::health_server::SERVICE_NAME,
            tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
            tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
        ]
        .map(str::to_owned),
    );
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health::new(
        reporter,
        names.iter().map(|n| (*n).to_owned()).collect(),
        checks,
    );
    routes.add_service(health_service);
    add_reflection(&mut routes)?;
    let routes = routes.routes();
    let (cors, auth) = edge.map_or((None, None), |e| (e.cors, Some(e.auth)));
    // What every call passes, the process's own included.
    let inner = tower::ServiceBuilder::new()
        .layer(ObserveLayer::grpc(requests.clone(), &known))
        .layer(imprint_platform::wire::WireLayer)
        .option_layer(auth);
    local.connect(LocalService::new(
        tower::ServiceBuilder::new()
            .map_response(|r: http::Response<_>| r.map(tonic::body::Body::new))
            .layer(inner.clone())
            .service(routes.clone()),
    ));
    // Browsers speak gRPC-Web (HTTP/1.1 too); CORS for the editorial front ends' origins only.
    let layers = tower::ServiceBuilder::new()
        .option_layer(cors)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(inner);
    let router = Server::builder()
        .accept_http1(true)
        .layer(layers)
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_routes(routes);
    // Connections must start speaking in time (imprint_platform::listen).
    let head_timeout = Duration::from_secs(settings.header_read_timeout_secs);
    let serve: ServeGrpc = Box::new(move |listener, signal| {
        let incoming = imprint_platform::listen::grpc_incoming(listener, head_timeout);
        Box::pin(router.serve_with_incoming_shutdown(incoming, signal))
    });
    Ok((health, serve))
}

/// gRPC reflection, both versions clients use, of Imprint's and health's protos.
fn add_reflection(routes: &mut RoutesBuilder) -> Result<(), AppError> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(imprint_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(imprint_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    routes.add_service(v1);
    routes.add_service(v1alpha);
    Ok(())
}
