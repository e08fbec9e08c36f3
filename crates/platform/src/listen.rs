//! Accepting connections with the limits every listener needs, so that no connection is kept
//! for nothing and every answer, even to a request nobody could read, is the documented one.
//!
//! - HTTP/1.1 listeners (the public API, health and metrics) are served here with hyper, with a
//!   header-read timeout: a request's headers must arrive within it, and a connection idle
//!   between requests is closed after it (slow-header and idle connections were once kept
//!   forever). hyper answers a request it cannot read (a URI or headers too large, garbage) on
//!   its own, with an empty body; those answers are rewritten on their way out into the body
//!   the listener's owner gives ([`Unreadable`]).
//! - The gRPC listener's connections ([`grpc_incoming`]) must start speaking within the same
//!   timeout: the HTTP/2 preface, or a whole HTTP/1.1 request head (gRPC-Web); after that
//!   HTTP/2 keep-alive pings close dead peers, and tonic's HTTP/1.1 header timeout the rest.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The answer to a request hyper could not read, by its status (400, 414 or 431): a media
/// type and a body.
pub type Unreadable = Arc<dyn Fn(StatusCode) -> (&'static str, Vec<u8>) + Send + Sync>;

/// How an HTTP/1.1 listener treats its connections.
#[derive(Clone)]
pub struct HttpLimits {
    /// How long a request's headers may take to arrive, and a connection may sit idle.
    pub header_read_timeout: Duration,
    /// How long the requests in flight get to finish once the listener stops.
    pub drain: Duration,
    /// The body of hyper's own answers.
    pub unreadable: Unreadable,
}

impl std::fmt::Debug for HttpLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLimits")
            .field("header_read_timeout", &self.header_read_timeout)
            .finish_non_exhaustive()
    }
}

/// Serves `router` on `listener` until `stop`, then lets the requests in flight finish (for
/// [`HttpLimits::drain`] at most: a client that stops reading cannot hold the process).
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: HttpLimits,
    stop: CancellationToken,
) -> io::Result<()> {
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection that failed as it was accepted (reset, out of descriptors):
                // the listener goes on.
                Err(e) => {
                    tracing::debug!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let io = TokioIo::new(Rewriting::new(stream, limits.unreadable.clone()));
            // Handlers may ask who is calling (axum's `ConnectInfo`).
            let service = TowerToHyperService::new(router.map_request(
                move |r: http::Request<hyper::body::Incoming>| {
                    let mut r = r.map(axum::body::Body::new);
                    r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    r
                },
            ));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "HTTP connection ended");
                    }
                }
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    connections.close();
    if tokio::time::timeout(limits.drain, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "HTTP connections still open after the grace period; leaving them"
        );
    }
    Ok(())
}

/// The status line hyper writes for a request it cannot read, and the status it means.
const UNREADABLE: [(&[u8], StatusCode); 3] = [
    (b"HTTP/1.1 400 ", StatusCode::BAD_REQUEST),
    (b"HTTP/1.1 414 ", StatusCode::URI_TOO_LONG),
    (
        b"HTTP/1.1 431 ",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ),
];

/// Longest response head looked at for hyper's own answers.
const MAX_HEAD: usize = 1024;

/// An HTTP/1.1 connection whose automatic error answers are rewritten. The service's own
/// answers always carry a body, so an error head with `content-length: 0` is hyper's.
struct Rewriting<S> {
    inner: S,
    unreadable: Unreadable,
    /// A rewritten answer still to write, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> Rewriting<S> {
    fn new(inner: S, unreadable: Unreadable) -> Self {
        Self {
            inner,
            unreadable,
            pending: None,
        }
    }

    /// The answer to write instead of `head`, when `head` is hyper's own error answer.
    fn rewrite(&self, head: &[u8]) -> Option<Vec<u8>> {
        let (_, status) = UNREADABLE.iter().find(|(line, _)| head.starts_with(line))?;
        let end = head
            .windows(4)
            .take(MAX_HEAD)
            .position(|w| w == b"\r\n\r\n")?;
        let fields = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        if !fields.contains("\r\ncontent-length: 0") || end + 4 != head.len() {
            return None;
        }
        let (content_type, body) = (self.unreadable)(*status);
        let mut answer = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        Some(answer)
    }
}

impl<S: AsyncWrite + Unpin> Rewriting<S> {
    /// Writes what is pending; ready when nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            if *written == answer.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewriting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewriting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = self.rewrite(buf) {
            self.pending = Some((answer, 0));
            // hyper's bytes are taken whole; ours go out instead, now or at the next flush.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // hyper queues a response's head and body as separate buffers and writes them together;
    // its own error answers are a head alone, written as one buffer.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let mut written = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (written.next(), written.next())
            && let Some(answer) = self.rewrite(only)
        {
            self.pending = Some((answer, 0));
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The gRPC listener's connections, each of which must start speaking within `head_timeout`.
pub fn grpc_incoming(
    listener: TcpListener,
    head_timeout: Duration,
) -> impl futures::Stream<Item = io::Result<Speaking>> + Send + 'static {
    futures::stream::unfold(listener, move |listener| async move {
        let accepted = match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                Ok(Speaking::new(stream, head_timeout))
            }
            Err(e) => {
                // The server goes on after an error (reset, out of descriptors): not at once.
                tokio::time::sleep(Duration::from_millis(10)).await;
                Err(e)
            }
        };
        Some((accepted, listener))
    })
}

/// The HTTP/2 connection preface.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Most bytes a connection may send before its first head is complete.
const MAX_FIRST_HEAD: usize = 64 * 1024;

/// A gRPC connection that must start speaking within a deadline.
pub struct Speaking {
    inner: TcpStream,
    /// Until the first head is complete: when it must be, and what of it was seen.
    head: Option<Head>,
}

struct Head {
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// Bytes read so far.
    read: usize,
    /// Whether those bytes are the start of the HTTP/2 preface.
    preface: bool,
    /// The last four bytes, for the end of an HTTP/1.1 head.
    last: [u8; 4],
}

impl Head {
    /// Follows `data`; whether the first head is complete.
    fn feed(&mut self, data: &[u8]) -> bool {
        for &byte in data {
            if self.read < PREFACE.len() {
                self.preface &= PREFACE[self.read] == byte;
            }
            self.read += 1;
            self.last = [self.last[1], self.last[2], self.last[3], byte];
            if (self.preface && self.read == PREFACE.len()) || &self.last == b"\r\n\r\n" {
                return true;
            }
        }
        false
    }
}

impl Speaking {
    fn new(inner: TcpStream, head_timeout: Duration) -> Self {
        Self {
            inner,
            head: Some(Head {
                deadline: Box::pin(tokio::time::sleep(head_timeout)),
                read: 0,
                preface: true,
                last: [0; 4],
            }),
        }
    }
}

impl std::fmt::Debug for Speaking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaking")
            .field("started", &self.head.is_none())
            .finish_non_exhaustive()
    }
}

impl tonic::transport::server::Connected for Speaking {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for Speaking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some(head) = &mut this.head else {
            return polled;
        };
        if let Poll::Ready(Ok(())) = &polled {
            if head.feed(&buf.filled()[before..]) {
                this.head = None;
                return polled;
            }
            if head.read > MAX_FIRST_HEAD {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "no request head in the first 64 KiB",
                )));
            }
        }
        if head.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection did not start a request in time",
            )));
        }
        polled
    }
}

impl AsyncWrite for Speaking {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A listener that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({what}): {source}")]
pub struct BindError {
    /// Which listener.
    pub what: &'static str,
    /// The address asked for.
    pub addr: std::net::SocketAddr,
    /// Why.
    pub source: std::io::Error,
}

/// Binds the listener `what` on `addr`; returns it with where it really is (port 0 resolved).
pub async fn bind(
    what: &'static str,
    addr: std::net::SocketAddr,
) -> Result<(TcpListener, std::net::SocketAddr), BindError> {
    let error = |source| BindError { what, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

/// An address this process can dial to reach its own listener at `addr` (an unspecified
/// address, `0.0.0.0`, is reached on loopback).
pub fn loopback_for(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head() -> Head {
        Head {
            deadline: Box::pin(tokio::time::sleep(Duration::from_secs(1))),
            read: 0,
            preface: true,
            last: [0; 4],
        }
    }

    #[tokio::test]
    async fn first_heads_are_recognised_in_pieces() {
        let mut h2 = head();
        assert!(!h2.feed(&PREFACE[..10]));
        assert!(h2.feed(&PREFACE[10..]));
        let mut h1 = head();
        assert!(!h1.feed(b"POST /x HTTP/1.1\r\nHost: a\r\n"));
        assert!(!h1.feed(b"\r"));
        assert!(h1.feed(b"\n"));
        let mut trickle = head();
        for _ in 0..1000 {
            assert!(!trickle.feed(b"G"));
        }
    }

    #[test]
    fn only_hypers_empty_error_answers_are_rewritten() {
        let unreadable: Unreadable = Arc::new(|status| {
            (
                "application/json",
                format!("{{\"status\":{}}}", status.as_u16()).into_bytes(),
            )
        });
        let r = Rewriting::new((), unreadable);
        let hypers =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(r.rewrite(hypers).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(answer.ends_with("\r\n\r\n{\"status\":431}"), "{answer}");
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n{\"error\":1}";
        assert!(r.rewrite(ours).is_none());
        assert!(
            r.rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .is_none()
        );
    }
}
