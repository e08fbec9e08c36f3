//! A tower layer on every listener that serves requests: each request gets a span (a child of
//! the caller's `traceparent`, so that a trace runs across services), and is counted and timed
//! by method and outcome when its response ends: `imprint_rpc_*` for gRPC (by service, method
//! and status code, read from the trailers), `imprint_http_*` for HTTP (by route, method and
//! status).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::metrics::Requests;
use crate::telemetry;

/// Request metrics of one process.
#[derive(Debug)]
pub struct RequestMetrics {
    /// gRPC calls served.
    pub rpc: Requests,
    /// HTTP requests served by the public API.
    pub http: Requests,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            rpc: Requests::new("imprint_rpc", "gRPC calls", &["service", "method", "code"]),
            http: Requests::new(
                "imprint_http",
                "HTTP requests",
                &["route", "method", "status"],
            ),
        }
    }
}

impl RequestMetrics {
    /// Both families in the text format.
    pub fn prometheus(&self) -> String {
        let mut out = self.rpc.prometheus();
        out.push_str(&self.http.prometheus());
        out
    }
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http,
}

/// Traces and measures every request of a gRPC server or an axum router.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<RequestMetrics>,
    protocol: Protocol,
    /// The gRPC services served, by full name: calls to others are labelled `unknown`.
    known: Arc<HashSet<String>>,
}

impl ObserveLayer {
    /// For a gRPC server serving `services` (behind gRPC-Web translation, so it sees gRPC
    /// only). Callers' trace context is continued: editorial front ends and peers.
    pub fn grpc(metrics: Arc<RequestMetrics>, services: &[String]) -> Self {
        Self {
            metrics,
            protocol: Protocol::Grpc,
            known: Arc::new(services.iter().cloned().collect()),
        }
    }

    /// For the public HTTP API (added with `Router::layer`, so that routes are known). Each
    /// request starts a trace of its own, sampled by this process's ratio: anyone on the
    /// internet could otherwise force every trace to be kept.
    pub fn http(metrics: Arc<RequestMetrics>) -> Self {
        Self {
            metrics,
            protocol: Protocol::Http,
            known: Arc::new(HashSet::new()),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
            protocol: self.protocol,
            known: self.known.clone(),
        }
    }
}

/// See [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<RequestMetrics>,
    protocol: Protocol,
    known: Arc<HashSet<String>>,
}

impl<S, B, R> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Observed<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        // Standard methods only: hyper accepts any token as one.
        let method = match request.method().as_str() {
            m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
            _ => "other",
        }
        .to_owned();
        let (span, labels) = match self.protocol {
            Protocol::Grpc => {
                let path = request.uri().path();
                let (service, rpc) = path
                    .trim_start_matches('/')
                    .split_once('/')
                    .unwrap_or(("", path));
                // Paths nobody serves are one series, whatever callers send.
                let (service, rpc) = if self.known.contains(service) {
                    (service, rpc)
                } else {
                    ("unknown", "unknown")
                };
                let span = tracing::info_span!(
                    "grpc",
                    otel.name = %path.trim_start_matches('/'),
                    otel.kind = "server",
                    otel.status_code = tracing::field::Empty,
                    rpc.system = "grpc",
                    rpc.service = %service,
                    rpc.method = %rpc,
                    rpc.grpc.status_code = tracing::field::Empty,
                );
                (span, [service.to_owned(), rpc.to_owned()])
            }
            Protocol::Http => {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str())
                    .to_owned();
                let span = tracing::info_span!(
                    "http",
                    otel.name = %format!("{method} {route}"),
                    otel.kind = "server",
                    otel.status_code = tracing::field::Empty,
                    http.request.method = %method,
                    http.route = %route,
                    http.response.status_code = tracing::field::Empty,
                );
                (span, [route, method])
            }
        };
        if self.protocol == Protocol::Grpc {
            telemetry::set_parent_from_headers(&span, request.headers());
        }
        // Entered while the inner service takes the call too: clients it calls right away
        // carry this span's context.
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let metrics = self.metrics.clone();
        let protocol = self.protocol;
        Box::pin(
            async move {
                let response = future.await?;
                let (parts, body) = response.into_parts();
                let mut done = Done {
                    metrics,
                    protocol,
                    labels,
                    outcome: None,
                    started,
                    span: tracing::Span::current(),
                };
                match protocol {
                    // A call that fails at once answers with its status in the headers
                    // ("trailers-only"); otherwise it comes in the trailers.
                    Protocol::Grpc => done.grpc_status(&parts.headers),
                    Protocol::Http => done.outcome = Some(parts.status.as_str().to_owned()),
                }
                Ok(http::Response::from_parts(
                    parts,
                    Observed {
                        inner: body,
                        done: Some(done),
                    },
                ))
            }
            .instrument(span),
        )
    }
}

/// Records a request when its response has ended (or was dropped: the caller went away).
struct Done {
    metrics: Arc<RequestMetrics>,
    protocol: Protocol,
    /// (service, method) for gRPC, (route, method) for HTTP.
    labels: [String; 2],
    /// The gRPC code name or HTTP status, once known.
    outcome: Option<String>,
    started: Instant,
    span: tracing::Span,
}

impl Done {
    /// Takes the status from `grpc-status`, when `headers` carry it.
    fn grpc_status(&mut self, headers: &http::HeaderMap) {
        if let Some(code) = headers.get("grpc-status") {
            let code = code
                .to_str()
                .ok()
                .and_then(|c| c.parse::<i32>().ok())
                .unwrap_or(2);
            self.outcome = Some(code_name(tonic::Code::from_i32(code)).to_owned());
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        let took: Duration = self.started.elapsed();
        let [first, second] = &self.labels;
        match self.protocol {
            Protocol::Grpc => {
                let code = self.outcome.as_deref().unwrap_or("CANCELLED");
                self.span.record("rpc.grpc.status_code", code);
                if code != "OK" {
                    self.span.record("otel.status_code", "ERROR");
                }
                // A method that does not exist, or one asked for without credentials, may be
                // any string a caller sends: one series.
                let (service, method) = match code {
                    "UNIMPLEMENTED" => ("unknown", "unknown"),
                    "UNAUTHENTICATED" => (first.as_str(), "unknown"),
                    _ => (first.as_str(), second.as_str()),
                };
                self.metrics.rpc.observe(&[service, method, code], took);
            }
            Protocol::Http => {
                let status = self.outcome.as_deref().unwrap_or("499");
                self.span.record("http.response.status_code", status);
                if status.starts_with('5') {
                    self.span.record("otel.status_code", "ERROR");
                }
                self.metrics.http.observe(&[first, second, status], took);
            }
        }
    }
}

/// The canonical name of a gRPC code.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its request when it ends.
    pub struct Observed<B> {
        #[pin]
        inner: B,
        done: Option<Done>,
    }
}

impl<B: Body> Body for Observed<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(done)) = (frame.trailers_ref(), this.done.as_mut())
                    && done.protocol == Protocol::Grpc
                {
                    done.grpc_status(trailers);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(done) = this.done.as_mut()
                    && done.protocol == Protocol::Grpc
                    && done.outcome.is_none()
                {
                    done.outcome = Some("INTERNAL".to_owned());
                }
                this.done.take();
            }
            Poll::Ready(None) => {
                this.done.take();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
