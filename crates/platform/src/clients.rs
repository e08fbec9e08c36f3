//! Channels to other Imprint services. They connect lazily, so start-up order does not matter,
//! and every call carries a deadline, so a service that is down costs a caller an UNAVAILABLE
//! quickly instead of a hang.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::auth::Bearer;

/// A channel to another service that carries this process's token, if it has one.
pub type Peer = InterceptedService<Channel, Bearer>;

/// [`channel`] with `token` attached to every call.
pub fn peer(url: &str, timeout_ms: u64, token: Option<&str>) -> Result<Peer, String> {
    Ok(InterceptedService::new(
        channel(url, timeout_ms)?,
        Bearer::new(token)?,
    ))
}

/// A lazily connecting channel to `url` with a per-call deadline of `timeout_ms`.
pub fn channel(url: &str, timeout_ms: u64) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| format!("'{url}' is not a valid service URL: {e}"))?
        .connect_timeout(Duration::from_millis(timeout_ms.min(2_000)))
        .timeout(Duration::from_millis(timeout_ms))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}
