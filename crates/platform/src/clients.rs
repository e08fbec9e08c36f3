//! Channels to other Imprint services. They connect lazily, so start-up order does not matter,
//! and every call carries a deadline, so a service that is down costs a caller an UNAVAILABLE
//! quickly instead of a hang.
//!
//! A service calls another through a [`Link`]: over the network to a role elsewhere, or, when
//! the other service runs in this very process (`imprint serve`), to it directly ([`Local`]):
//! the same generated client, the same interceptor (token, trace context), the same layers on
//! the serving side (identity, metrics, wire checks) and a deadline, without HTTP/2 framing, a
//! socket or a second task per call.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::body::Body;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tower::{Service, ServiceExt};

use crate::auth::{BadToken, Bearer};

/// A channel to another service that carries this process's token, if it has one.
pub type Peer = InterceptedService<Link, Bearer>;

/// Why a link to another service cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The service's URL is not one.
    #[error("'{url}' is not a valid service URL: {reason}")]
    Url {
        /// What was given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token cannot be sent.
    #[error(transparent)]
    Token(#[from] BadToken),
}

/// [`channel`] with `token` attached to every call.
pub fn peer(url: &str, timeout_ms: u64, token: Option<&str>) -> Result<Peer, LinkError> {
    Ok(InterceptedService::new(
        Link::Network(channel(url, timeout_ms)?),
        Bearer::new(token)?,
    ))
}

/// A link to the services of this process, calls taking at most `timeout_ms`, with `token`
/// attached to every call.
pub fn local(local: &Local, timeout_ms: u64, token: Option<&str>) -> Result<Peer, LinkError> {
    Ok(InterceptedService::new(
        Link::Local(local.clone(), Duration::from_millis(timeout_ms)),
        Bearer::new(token)?,
    ))
}

/// Where a peer's calls go.
#[derive(Debug, Clone)]
pub enum Link {
    /// To a role elsewhere.
    Network(Channel),
    /// To a service of this process, calls taking at most this long (as a network channel's
    /// timeout).
    Local(Local, Duration),
}

impl From<Channel> for Link {
    fn from(channel: Channel) -> Self {
        Self::Network(channel)
    }
}

/// A boxed error of a call that did not get an answer.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<http::Request<Body>> for Link {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Self::Network(channel) => channel.poll_ready(cx).map_err(Into::into),
            Self::Local(..) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self {
            Self::Network(channel) => {
                let call = channel.call(request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
            Self::Local(local, timeout) => local.call(request, *timeout),
        }
    }
}

/// The layered gRPC services of this process, as one service.
pub type LocalService =
    tower::util::BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// The gRPC services of this process, reached without a network. Made before the services are
/// (they call each other: papers checks credits with authors, authors counts papers), and
/// connected to them once they all exist; a call before that answers UNAVAILABLE.
#[derive(Clone)]
pub struct Local {
    /// The services, once connected.
    services: Arc<OnceLock<LocalService>>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("connected", &self.services.get().is_some())
            .finish()
    }
}

impl Default for Local {
    fn default() -> Self {
        Self::new()
    }
}

impl Local {
    /// Not yet connected.
    pub fn new() -> Self {
        Self {
            services: Arc::new(OnceLock::new()),
        }
    }

    /// Connects every clone of this to `services`. A second connection is ignored.
    pub fn connect(&self, services: LocalService) {
        if self.services.set(services).is_err() {
            tracing::warn!("the in-process services were connected twice; keeping the first");
        }
    }

    fn call(
        &self,
        request: http::Request<Body>,
        timeout: Duration,
    ) -> <Link as Service<http::Request<Body>>>::Future {
        let Some(services) = self.services.get().cloned() else {
            return Box::pin(std::future::ready(Ok(tonic::Status::unavailable(
                "the in-process services are not started yet",
            )
            .into_http())));
        };
        // The caller's deadline (grpc-timeout), within the link's own, as on the network.
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map_or(timeout, |d| d.min(timeout));
        Box::pin(async move {
            match tokio::time::timeout(deadline, services.oneshot(request)).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(never)) => match never {},
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "no answer within {} ms",
                    deadline.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

/// A `grpc-timeout` header value (`<digits><unit>`, at most 8 digits).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A lazily connecting channel to `url` with a per-call deadline of `timeout_ms`.
pub fn channel(url: &str, timeout_ms: u64) -> Result<Channel, LinkError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| LinkError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .connect_timeout(Duration::from_millis(timeout_ms.min(2_000)))
        .timeout(Duration::from_millis(timeout_ms))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn grpc_timeouts_parse_by_the_spec() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("10u"), Some(Duration::from_micros(10)));
        for bad in ["", "m", "123456789m", "1x", "-1m", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_local_link_answers_unavailable_until_connected_and_keeps_deadlines() {
        use imprint_proto::papers::GetPaperRequest;
        use imprint_proto::papers::paper_service_client::PaperServiceClient;
        let services = Local::new();
        let mut client = PaperServiceClient::new(super::local(&services, 50, None).unwrap());
        let status = client
            .get_paper(GetPaperRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        // Connected to a service that never answers: the link's deadline ends the call.
        services.connect(LocalService::new(tower::service_fn(
            |_: http::Request<Body>| async {
                std::future::pending::<Result<http::Response<Body>, Infallible>>().await
            },
        )));
        let status = client
            .get_paper(GetPaperRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    }
}
