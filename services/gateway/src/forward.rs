//! Transparent forwarding of one gRPC service to the process that serves it.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::Service;

/// The gRPC service a [`Forward`] stands for.
pub trait ForwardedService: Send + Sync + 'static {
    /// Its full name.
    const NAME: &'static str;
}

/// `imprint.papers.v1.PaperService`.
#[derive(Debug, Clone, Copy)]
pub struct Papers;

impl ForwardedService for Papers {
    const NAME: &'static str = imprint_proto::papers::paper_service_server::SERVICE_NAME;
}

/// `imprint.papers.v1.TaxonomyService`, served by the papers role.
#[derive(Debug, Clone, Copy)]
pub struct Taxonomy;

impl ForwardedService for Taxonomy {
    const NAME: &'static str = imprint_proto::papers::taxonomy_service_server::SERVICE_NAME;
}

/// `imprint.authors.v1.AuthorService`.
#[derive(Debug, Clone, Copy)]
pub struct Authors;

impl ForwardedService for Authors {
    const NAME: &'static str = imprint_proto::authors::author_service_server::SERVICE_NAME;
}

/// `imprint.recommendations.v1.RecommendationService`.
#[derive(Debug, Clone, Copy)]
pub struct Recommendations;

impl ForwardedService for Recommendations {
    const NAME: &'static str =
        imprint_proto::recommendations::recommendation_service_server::SERVICE_NAME;
}

/// Forwards every call of service `S` over `channel`.
#[derive(Debug)]
pub struct Forward<S> {
    /// A lazily connecting channel with a per-call deadline, to the owning role.
    channel: Channel,
    /// Which service.
    service: PhantomData<S>,
}

impl<S> Clone for Forward<S> {
    fn clone(&self) -> Self {
        Self {
            channel: self.channel.clone(),
            service: PhantomData,
        }
    }
}

/// Forwards `PaperService`.
pub type PapersForward = Forward<Papers>;
/// Forwards `TaxonomyService`.
pub type TaxonomyForward = Forward<Taxonomy>;
/// Forwards `AuthorService`.
pub type AuthorsForward = Forward<Authors>;
/// Forwards `RecommendationService`.
pub type RecommendationsForward = Forward<Recommendations>;

impl<S> Forward<S> {
    /// Forwarding over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            service: PhantomData,
        }
    }
}

impl<S: ForwardedService> NamedService for Forward<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: ForwardedService> Service<http::Request<Body>> for Forward<S> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The channel is polled for readiness in `call`, so that an unreachable role becomes a
        // gRPC status on that call rather than a stalled server.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let mut channel = self.channel.clone();
        // The owning role continues this edge call's span, not the caller's.
        imprint_platform::telemetry::inject_headers(request.headers_mut());
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let outcome = async {
                std::future::poll_fn(|cx| channel.poll_ready(cx)).await?;
                channel.call(request).await
            }
            .await;
            Ok(match outcome {
                Ok(response) => response,
                Err(e) => {
                    let status = status_of(&e, S::NAME);
                    tracing::warn!(%path, code = ?status.code(), error = %e, "forwarding failed");
                    status.into_http()
                }
            })
        })
    }
}

/// The status a caller gets when the owning role could not be reached in time.
fn status_of(error: &tonic::transport::Error, service: &str) -> Status {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    // A call that timed out may have run: DEADLINE_EXCEEDED, which clients do not retry
    // blindly. UNAVAILABLE only for calls that never reached the role.
    let mut timed_out = false;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<tonic::TimeoutExpired>() {
            timed_out = true;
        }
        cause = e.source();
    }
    let code = if timed_out {
        Code::DeadlineExceeded
    } else {
        Code::Unavailable
    };
    Status::new(code, format!("{service} is not reachable now: {text}"))
}
