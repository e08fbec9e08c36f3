//! Partner keys at the public API: `?key=pk_…` names the partner a request is for. A key
//! works only from pages at its origins (CORS allows exactly those, `Vary: Origin`, never
//! credentials) and within its rate limit (429 with `Retry-After` past it): requests with a key
//! and no `Origin` (a partner's server) have a budget of their own, and one client address
//! takes at most a share of either ([`crate::partner_keys::ClientKind`]). Without a key the API is
//! still readable server to server, but browsers on other origins get no CORS permission, so
//! they read nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Params};
use crate::partner_keys::{ClientKind, Keys, Partner};

/// The partner a request came through, for handlers that attribute what they serve.
#[derive(Debug, Clone)]
pub struct Via(pub Arc<Partner>);

/// What the gate needs: the keys, and the proxies whose `X-Forwarded-For` names the client.
#[derive(Debug, Clone)]
pub(super) struct Gate {
    /// Partner keys and their limits.
    pub(super) keys: Arc<Keys>,
    /// `gateway.trusted_proxies`.
    pub(super) proxies: Arc<[ipnet::IpNet]>,
}

/// The address a request comes from, when it names one client: its peer's, or, when the peer
/// is a trusted proxy, the nearest address of `X-Forwarded-For` that is not one (the ones
/// before it the client may have written itself). An address inside a private network is not
/// a client's but a proxy's that nobody said to trust (a load balancer, everyone behind it):
/// `None`, so that no reader is held to one client's share.
fn client_of(request: &Request, proxies: &[ipnet::IpNet]) -> Option<IpAddr> {
    forwarded_client(request, proxies).filter(|ip| !is_internal(ip))
}

fn is_internal(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unicast_link_local()
                || v6.is_unique_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(&IpAddr::V4(v4)))
        }
    }
}

fn forwarded_client(request: &Request, proxies: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip();
    let trusted = |ip: &IpAddr| proxies.iter().any(|p| p.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted(&ip) => {}
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(peer)
}

/// Checks the key, the origin and the rate; adds CORS headers for an allowed origin.
pub(super) async fn gate(
    State(Gate { keys, proxies }): State<Gate>,
    mut request: Request,
    next: Next,
) -> Response {
    let params = Params::parse(request.uri().query());
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let key = match params.text("key", 100) {
        Ok(key) => key,
        Err(e) => return vary(e.into_response()),
    };
    let Some(key) = key else {
        // No key: readable, but no CORS permission for any browser page elsewhere.
        if request.method() == Method::OPTIONS {
            return vary(StatusCode::FORBIDDEN.into_response());
        }
        return vary(next.run(request).await);
    };
    let Some(partner) = keys.lookup(&key) else {
        return vary(
            ApiError::unauthorized("key", "is not a working partner key (unknown or revoked)")
                .into_response(),
        );
    };
    if let Some(origin) = &origin
        && !partner.allows(origin)
    {
        tracing::info!(partner = %partner.name, %origin, "partner key used from an origin it is not bound to");
        return vary(
            ApiError::forbidden(
                "key",
                &format!(
                    "is not bound to the origin {}",
                    imprint_domain::shorten(origin)
                ),
            )
            .into_response(),
        );
    }
    let kind = if origin.is_some() {
        ClientKind::Browser
    } else {
        ClientKind::Server
    };
    if let Err(wait) = keys.admit(&partner, kind, client_of(&request, &proxies)) {
        let mut response = ApiError::rate_limited(&partner.name).into_response();
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return with_cors(vary(response), origin.as_deref());
    }
    let response = if request.method() == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let h = preflight.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        preflight
    } else {
        request.extensions_mut().insert(Via(partner));
        next.run(request).await
    };
    with_cors(vary(response), origin.as_deref())
}

/// Answers differ by origin: shared caches must keep them apart.
fn vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// Lets the page at `origin` read the response (no credentials: the widget sends none).
fn with_cors(mut response: Response, origin: Option<&str>) -> Response {
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ETag, Retry-After, Imprint-View"),
        );
    }
    response
}
