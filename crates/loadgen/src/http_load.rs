//! Plain HTTP/1.1 for the load generator: keep-alive connections, one request at a time each
//! (no pipelining, like browsers and most clients), and the bare axum baseline server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::error::{HttpError, LoadError};

/// One keep-alive connection to `addr`, reconnecting after an error.
#[derive(Debug)]
pub(crate) struct HttpConnection {
    addr: SocketAddr,
    stream: Mutex<Option<BufReader<TcpStream>>>,
}

impl HttpConnection {
    pub(crate) fn new(addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            addr,
            stream: Mutex::new(None),
        })
    }

    /// `GET path`; Ok when the answer is 200 or 304, its body read to the end.
    pub(crate) async fn get(&self, path: &str) -> Result<(), HttpError> {
        let mut slot = self.stream.lock().await;
        let stream = match slot.take() {
            Some(stream) => slot.insert(stream),
            None => {
                let stream = TcpStream::connect(self.addr).await?;
                stream.set_nodelay(true)?;
                slot.insert(BufReader::new(stream))
            }
        };
        let outcome = exchange(stream, self.addr, path).await;
        if outcome.is_err() {
            *slot = None;
        }
        outcome
    }
}

async fn exchange(
    stream: &mut BufReader<TcpStream>,
    addr: SocketAddr,
    path: &str,
) -> Result<(), HttpError> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::NotHttp(line.clone()))?;
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| HttpError::Length)?;
        }
        if header.to_ascii_lowercase().starts_with("transfer-encoding") {
            return Err(HttpError::Chunked);
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    if status == 200 || status == 304 {
        Ok(())
    } else {
        Err(HttpError::Status(status))
    }
}

/// The baseline: a bare axum server answering one small JSON document.
pub(crate) async fn axum_server(addr: SocketAddr) -> Result<(), LoadError> {
    let app = axum::Router::new().route(
        "/v1/hello",
        axum::routing::get(|| async {
            (
                [("content-type", "application/json")],
                r#"{"hello":"world"}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(LoadError::io(format!("binding {addr}")))?;
    axum::serve(listener, app)
        .await
        .map_err(LoadError::io(format!("serving on {addr}")))
}
