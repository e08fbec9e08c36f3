//! What a gRPC listener checks of the bytes themselves, before and after the services: a layer
//! inside gRPC-Web translation, so it sees plain gRPC framing either way.
//!
//! - **Request framing.** Each message of a request is a 5-byte prefix (a compressed flag and a
//!   length) and the message. A message flagged compressed when the call names no
//!   `grpc-encoding`, a flag that is neither 0 nor 1, or a body that ends inside a message is the
//!   caller's error: INVALID_ARGUMENT saying which, where tonic would answer INTERNAL.
//! - **Status messages.** Every `grpc-message` a response carries (in its headers or its
//!   trailers) is cut to [`MAX_STATUS_CHARS`] characters, whoever wrote it: messages that echo
//!   input (a 10,000-character slug) once grew past what clients accept in headers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tonic::Status;
use tower::{Layer, Service};

/// Longest `grpc-message` sent, in characters: percent-encoded it stays well under the 8 KiB
/// that clients allow a header.
pub const MAX_STATUS_CHARS: usize = 300;

const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");

/// Checks request framing and bounds status messages; see the module.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireLayer;

impl<S> Layer<S> for WireLayer {
    type Service = Wire<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Wire { inner }
    }
}

/// See [`WireLayer`].
#[derive(Debug, Clone)]
pub struct Wire<S> {
    inner: S,
}

impl<S, R> Service<http::Request<tonic::body::Body>> for Wire<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Bounded<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let is_grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        let request = if is_grpc {
            // Compressed messages are for an encoding the call names (tonic refuses the ones
            // it does not speak); without one, a compressed flag is a malformed message.
            let encoded = request
                .headers()
                .get(GRPC_ENCODING)
                .is_some_and(|v| v.as_bytes() != b"identity");
            request.map(|body| tonic::body::Body::new(Framed::new(body, encoded)))
        } else {
            request
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let (mut parts, body) = response.into_parts();
            bound_status(&mut parts.headers);
            Ok(http::Response::from_parts(parts, Bounded { inner: body }))
        })
    }
}

/// Cuts the `grpc-message` of `headers` to [`MAX_STATUS_CHARS`] characters.
fn bound_status(headers: &mut HeaderMap) {
    // Percent-encoded, a message of that many characters can take 12 bytes each.
    if headers
        .get(&GRPC_MESSAGE)
        .is_none_or(|v| v.len() <= MAX_STATUS_CHARS)
    {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.message().chars().count() <= MAX_STATUS_CHARS {
        return;
    }
    let mut cut: String = status
        .message()
        .chars()
        .take(MAX_STATUS_CHARS - 1)
        .collect();
    cut.push('…');
    let mut encoded = HeaderMap::new();
    let value = Status::new(status.code(), cut)
        .add_header(&mut encoded)
        .ok()
        .and_then(|()| encoded.remove(&GRPC_MESSAGE))
        .unwrap_or_else(|| HeaderValue::from_static("the message was too long to send"));
    headers.insert(GRPC_MESSAGE, value);
}

/// Where a request body is in its framing.
#[derive(Debug, Default)]
struct Frames {
    /// The prefix of the message being read.
    prefix: [u8; 5],
    /// Bytes of it read so far.
    have: usize,
    /// Bytes of the current message still to come.
    remaining: usize,
}

impl Frames {
    /// Follows `data`; an error for a message flagged in a way the call does not allow.
    fn feed(&mut self, mut data: &[u8], encoded: bool) -> Result<(), Status> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.prefix[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have < 5 {
                break;
            }
            self.have = 0;
            match self.prefix[0] {
                0 => {}
                1 if encoded => {}
                1 => {
                    return Err(Status::invalid_argument(
                        "a message is flagged compressed but the call names no grpc-encoding; send it uncompressed or name its encoding",
                    ));
                }
                flag => {
                    return Err(Status::invalid_argument(format!(
                        "not a gRPC message: its compressed flag is {flag} (0 or 1 are allowed)"
                    )));
                }
            }
            let [_, a, b, c, d] = self.prefix;
            self.remaining =
                usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
        }
        Ok(())
    }

    /// An error when the body ended inside a message.
    fn finish(&self) -> Result<(), Status> {
        if self.have > 0 || self.remaining > 0 {
            return Err(Status::invalid_argument(
                "the request ends inside a message: the body is shorter than its message prefix says",
            ));
        }
        Ok(())
    }
}

pin_project_lite::pin_project! {
    /// A request body whose framing is followed as it streams.
    struct Framed {
        #[pin]
        inner: tonic::body::Body,
        frames: Frames,
        encoded: bool,
        failed: bool,
    }
}

impl Framed {
    fn new(inner: tonic::body::Body, encoded: bool) -> Self {
        Self {
            inner,
            frames: Frames::default(),
            encoded,
            failed: false,
        }
    }
}

impl Body for Framed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(status) = this.frames.feed(data, *this.encoded)
                {
                    *this.failed = true;
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => match this.frames.finish() {
                Ok(()) => Poll::Ready(None),
                Err(status) => {
                    *this.failed = true;
                    Poll::Ready(Some(Err(status)))
                }
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A response body whose trailers' `grpc-message` is bounded.
    pub struct Bounded<B> {
        #[pin]
        inner: B,
    }
}

impl<B: Body> Body for Bounded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(match frame.into_trailers() {
                Ok(mut trailers) => {
                    bound_status(&mut trailers);
                    Frame::trailers(trailers)
                }
                Err(frame) => frame,
            }))),
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![flag];
        out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_are_followed_across_chunks() {
        let mut body = frame(0, b"hello");
        body.extend(frame(0, b""));
        body.extend(frame(0, &[7; 300]));
        for split in [1, 2, 3, 5, 7, 64] {
            let mut frames = Frames::default();
            for chunk in body.chunks(split) {
                frames.feed(chunk, false).unwrap();
            }
            frames.finish().unwrap();
        }
        let mut short = Frames::default();
        short.feed(&frame(0, b"hello")[..8], false).unwrap();
        assert_eq!(
            short.finish().unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn compressed_flags_need_an_encoding() {
        let compressed = frame(1, b"x");
        let e = Frames::default().feed(&compressed, false).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("grpc-encoding"), "{}", e.message());
        Frames::default().feed(&compressed, true).unwrap();
        let e = Frames::default().feed(&frame(9, b"x"), true).unwrap_err();
        assert!(e.message().contains("flag is 9"), "{}", e.message());
    }

    #[test]
    fn long_status_messages_are_cut() {
        let mut headers = HeaderMap::new();
        Status::not_found(format!("no paper has the slug '{}'", "é".repeat(10_000)))
            .add_header(&mut headers)
            .unwrap();
        assert!(headers[&GRPC_MESSAGE].len() > 50_000);
        bound_status(&mut headers);
        let status = Status::from_header_map(&headers).unwrap();
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message().chars().count(), MAX_STATUS_CHARS);
        assert!(headers[&GRPC_MESSAGE].len() < 8 * 1024);
        let mut short = HeaderMap::new();
        Status::not_found("short").add_header(&mut short).unwrap();
        let before = short.clone();
        bound_status(&mut short);
        assert_eq!(short, before);
    }
}
