//! Channels to other Imprint services. They connect lazily, so start-up order does not matter,
//! and every call carries a deadline, so a service that is down costs a caller an UNAVAILABLE
//! quickly instead of a hang.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

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
