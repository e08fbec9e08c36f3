//! Files sent to the gateway's editorial upload endpoint (`POST /editor/v1/files`) with an
//! editor's token, as an editor's front end sends them: how the demo attaches its report and
//! `imprint import` the files its records name. Local files are streamed, never read whole.

use std::path::{Path, PathBuf};

use imprint_gateway::files::http::FileJson;

/// Why a file was not uploaded.
#[derive(Debug, thiserror::Error)]
pub enum UploadFailed {
    /// The local file could not be opened.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The gateway could not be reached, or its answer read.
    #[error("uploading {name} to {url}: {source}")]
    Http {
        /// The file's name.
        name: String,
        /// Where it was sent.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The gateway refused the file.
    #[error("the gateway refused {name} ({status}): {message}")]
    Refused {
        /// The file's name.
        name: String,
        /// Its HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
}

/// Uploads to one gateway as one editor.
#[derive(Debug, Clone)]
pub struct Uploader {
    client: reqwest::Client,
    /// `http://host:port` of the public listener.
    base: String,
    token: String,
}

impl Uploader {
    /// Uploads to the public listener at `base` (`http://host:port`) with `token`.
    pub fn new(base: impl Into<String>, token: impl Into<String>) -> Self {
        imprint_platform::tls::ensure_provider();
        Self {
            client: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_owned(),
            token: token.into(),
        }
    }

    /// Uploads `bytes` as `name`.
    pub async fn bytes(&self, name: &str, bytes: Vec<u8>) -> Result<FileJson, UploadFailed> {
        let length = bytes.len() as u64;
        self.send(name, reqwest::Body::from(bytes), length).await
    }

    /// Uploads the local file `path` as `name` (its own file name when `None`).
    pub async fn path(&self, path: &Path, name: Option<&str>) -> Result<FileJson, UploadFailed> {
        let read = |source| UploadFailed::Read {
            path: path.to_owned(),
            source,
        };
        let file = tokio::fs::File::open(path).await.map_err(read)?;
        let length = file.metadata().await.map_err(read)?.len();
        let own = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stream = tokio_util::io::ReaderStream::new(file);
        self.send(
            name.unwrap_or(&own),
            reqwest::Body::wrap_stream(stream),
            length,
        )
        .await
    }

    async fn send(
        &self,
        name: &str,
        body: reqwest::Body,
        length: u64,
    ) -> Result<FileJson, UploadFailed> {
        let url = format!("{}/editor/v1/files", self.base);
        let http = |source| UploadFailed::Http {
            name: name.to_owned(),
            url: url.clone(),
            source,
        };
        let mut parsed = reqwest::Url::parse(&url).map_err(|e| UploadFailed::Refused {
            name: name.to_owned(),
            status: 0,
            message: format!("{url} is no URL: {e}"),
        })?;
        parsed.query_pairs_mut().append_pair("name", name);
        let response = self
            .client
            .post(parsed)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body)
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            let message: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(500)
                .collect();
            return Err(UploadFailed::Refused {
                name: name.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        response.json::<FileJson>().await.map_err(http)
    }
}
