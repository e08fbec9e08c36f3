//! The store itself: where objects live, how bytes become a named file, and how they are read.
//!
//! Object names: `blobs/sha256/<first two hex digits>/<hex>` for files (the fan-out keeps
//! directories small on the filesystem store), `staging/<uuid>` while a file is written, and
//! `uploads/<upload id>/<offset>-<uuid>` for the segments of a resumable upload, and
//! `text/sha256/<first two hex digits>/<hex>.json` for what was read of a PDF's text, and
//! `renditions/sha256/<first two hex digits>/<hex>.json` for the list of an image's copies
//! (each copy a file of its own under `blobs/`).

use std::ops::Range;
use std::path::Path as FsPath;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use imprint_domain::file::{FileText, Rendition};
use imprint_domain::{FileKey, MediaType};
use imprint_platform::settings::{StorageBackend, StorageSettings};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::IngestError;
use crate::sniff::{HEAD_BYTES, TextCheck, sniff};
use crate::text::{Extractor, MAX_PDF_BYTES, Outcome};

/// The most bytes a segment of a resumable upload holds: what a crash mid-part can lose.
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// Parts written to S3 at once while a file streams in (each up to the part size).
const PARTS_IN_FLIGHT: usize = 2;
/// Images resized at once by one process.
const RESIZINGS: usize = 2;

/// The store failed (down, refused, misconfigured): the caller's answer is UNAVAILABLE.
#[derive(Debug, thiserror::Error)]
#[error("the file store failed: {0}")]
pub struct StoreError(#[from] object_store::Error);

/// A store failure as the services answer it: UNAVAILABLE (the cause goes to the log).
impl From<StoreError> for imprint_platform::ServiceError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "the file store failed");
        Self::Unavailable("the file store is unavailable just now; try again shortly".to_owned())
    }
}

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The filesystem store's directory could not be made.
    #[error("storage.dir: {dir}: {source}")]
    Dir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store refused its settings.
    #[error("storage: {0}")]
    Store(#[from] object_store::Error),
}

/// Files by their SHA-256, on the configured store.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The part size of streamed writes: S3 needs 5 MiB at least (but for the last part).
    part_bytes: usize,
    /// What the store is, for logs and readiness.
    describe: String,
    /// Reads PDFs' text.
    extractor: Extractor,
    /// Resizings at once: each holds a decoded image.
    resizing: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

/// What an upload must be.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// The most bytes taken.
    pub max_bytes: u64,
    /// The length the uploader declared.
    pub length: Option<u64>,
    /// The SHA-256 the uploader sent.
    pub sha256: Option<FileKey>,
    /// The type the file's name or its uploader claims.
    pub claimed: Option<MediaType>,
}

/// A file once stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its key.
    pub key: FileKey,
    /// Its length.
    pub size: u64,
    /// Its type, from its bytes.
    pub media_type: MediaType,
    /// Width and height, for images.
    pub dimensions: Option<(u32, u32)>,
    /// The same bytes were stored already: nothing new was kept.
    pub existed: bool,
}

/// A stored file as the store sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described {
    /// Its length.
    pub size: u64,
    /// Its type, from its first bytes and the claim of the name it is referenced under.
    pub media_type: MediaType,
    /// Width and height, for images.
    pub dimensions: Option<(u32, u32)>,
}

/// Bytes of a stored file being read.
pub struct Reading {
    /// The whole file's length.
    pub size: u64,
    /// The bytes this reading carries.
    pub range: Range<u64>,
    /// Them.
    pub bytes: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl std::fmt::Debug for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reading")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// Bytes as they arrive, and why they stopped when they broke off. A concrete type rather than
/// a generic stream: callers' futures must be `Send` for every lifetime, which generic stream
/// bounds across awaits defeat.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// Why bytes stopped arriving before their end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client's connection broke, or it went quiet.
    #[error("{0}")]
    Client(String),
    /// The store failed while the bytes were read back from it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A request body being taken in segments: what a segment did not take waits for the next.
pub struct Body {
    stream: ByteStream,
    pending: Option<Bytes>,
    /// Why the stream stopped early, once it has.
    stopped: Option<BodyError>,
    ended: bool,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("ended", &self.ended)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl Body {
    /// The body `stream`.
    pub fn new(stream: ByteStream) -> Self {
        Self {
            stream,
            pending: None,
            stopped: None,
            ended: false,
        }
    }

    /// The next bytes, at most `max`; `None` at the end or once the stream broke.
    async fn next(&mut self, max: usize) -> Option<Bytes> {
        let mut chunk = match self.pending.take() {
            Some(chunk) => chunk,
            None if self.ended => return None,
            None => match self.stream.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    self.stopped = Some(e);
                    self.ended = true;
                    return None;
                }
                None => {
                    self.ended = true;
                    return None;
                }
            },
        };
        if chunk.len() > max {
            self.pending = Some(chunk.split_off(max));
        }
        Some(chunk)
    }

    /// Whether everything was taken (or the stream broke).
    pub fn ended(&self) -> bool {
        self.ended && self.pending.is_none()
    }

    /// Whether nothing at all is left to take: waits for the stream's next bytes, if any, and
    /// keeps them.
    pub async fn exhausted(&mut self) -> bool {
        loop {
            match self.next(usize::MAX).await {
                Some(chunk) if chunk.is_empty() => {}
                Some(chunk) => {
                    self.pending = Some(chunk);
                    return false;
                }
                None => return true,
            }
        }
    }

    /// Why the client's stream broke, if it did.
    pub fn cut(&self) -> Option<&str> {
        match &self.stopped {
            Some(BodyError::Client(reason)) => Some(reason),
            _ => None,
        }
    }

    /// Why the bytes stopped early, as a refusal: the client's cut, or the store's failure.
    fn failure(&mut self, received: u64) -> Option<IngestError> {
        match self.stopped.take()? {
            BodyError::Client(reason) => Some(IngestError::Cut { received, reason }),
            BodyError::Store(e) => Some(IngestError::Store(e)),
        }
    }
}

/// One segment of a resumable upload, as written and as the upload's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Its object.
    pub object: String,
    /// Its bytes.
    pub len: u64,
}

impl Blobs {
    /// The store `settings` name, the filesystem one under `data_dir/files` unless another
    /// directory is set.
    pub fn open(settings: &StorageSettings, data_dir: &FsPath) -> Result<Self, OpenError> {
        match settings.backend {
            StorageBackend::Filesystem => {
                let dir = settings
                    .dir
                    .as_ref()
                    .map_or_else(|| data_dir.join("files"), std::path::PathBuf::from);
                Self::filesystem(&dir)
            }
            StorageBackend::S3 => Self::s3(settings),
        }
    }

    /// A store in `dir`, made if missing.
    pub fn filesystem(dir: &FsPath) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir {
            dir: dir.display().to_string(),
            source,
        })?;
        // Synced before a rename names them: a power loss must not leave a short file under
        // the SHA-256 of the whole.
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?
            .with_automatic_cleanup(true)
            .with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
            part_bytes: 1024 * 1024,
            describe: format!("the filesystem store in {}", dir.display()),
            extractor: Extractor::default(),
            resizing: Arc::new(tokio::sync::Semaphore::new(RESIZINGS)),
        })
    }

    fn s3(settings: &StorageSettings) -> Result<Self, OpenError> {
        imprint_platform::tls::ensure_provider();
        let bucket = settings.bucket.clone().unwrap_or_default();
        // Credentials (and AWS_* options) from the environment.
        let mut client = object_store::ClientOptions::new();
        for der in imprint_platform::tls::mozilla_roots() {
            if let Ok(root) = object_store::Certificate::from_der(der) {
                client = client.with_root_certificate(root);
            }
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_client_options(client)
            // A store that is down fails an upload within seconds, not minutes: the editor
            // retries (a resumable upload keeps its parts).
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
            })
            .with_bucket_name(&bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        Ok(Self {
            store: Arc::new(builder.build()?),
            part_bytes: 8 * 1024 * 1024,
            describe: format!(
                "the S3 bucket {bucket} at {}",
                settings.endpoint.as_deref().unwrap_or("AWS")
            ),
            extractor: Extractor::default(),
            resizing: Arc::new(tokio::sync::Semaphore::new(RESIZINGS)),
        })
    }

    /// Takes `body` whole and stores it under its SHA-256, if it is what `expect` says; nothing
    /// is named until every byte is written and checked.
    pub async fn ingest(&self, body: ByteStream, expect: Expect) -> Result<Stored, IngestError> {
        if let Some(length) = expect.length {
            check_declared(length, expect.max_bytes)?;
        }
        let staging = Path::from(format!("staging/{}", uuid::Uuid::now_v7().simple()));
        let upload = self
            .store
            .put_multipart(&staging)
            .await
            .map_err(StoreError)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_bytes);
        let mut body = Body::new(body);
        let taken = match take(&mut body, &mut writer, expect).await {
            Ok(taken) => taken,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        writer.finish().await.map_err(StoreError)?;
        self.name(&staging, taken).await
    }

    /// Gives the staged object its name, or drops it when the same bytes are there already.
    async fn name(&self, staging: &Path, taken: Taken) -> Result<Stored, IngestError> {
        let key = taken.key;
        let path = blob_path(&key);
        // One of the same length is the same bytes; another is damage, replaced.
        let existed = match self.store.head(&path).await {
            Ok(meta) => meta.size == taken.size,
            Err(object_store::Error::NotFound { .. }) => false,
            Err(e) => {
                let _ = self.store.delete(staging).await;
                return Err(StoreError(e).into());
            }
        };
        if existed {
            if let Err(e) = self.store.delete(staging).await {
                // The file is stored; the staging object waits for the sweep.
                tracing::warn!(object = %staging, error = %e, "could not remove");
            }
        } else {
            // Two uploads of the same bytes may both get here: either rename leaves them.
            self.store
                .rename(staging, &path)
                .await
                .map_err(StoreError)?;
        }
        Ok(Stored {
            key,
            size: taken.size,
            media_type: taken.media_type,
            dimensions: taken.dimensions,
            existed,
        })
    }

    /// Writes the next segment of upload `upload` at `offset`: up to 8 MiB of `body`, and no
    /// more than `remaining`. What arrived before a broken connection is kept.
    pub async fn append(
        &self,
        upload: uuid::Uuid,
        offset: u64,
        body: &mut Body,
        remaining: u64,
    ) -> Result<Segment, IngestError> {
        let object = format!(
            "uploads/{}/{offset:020}-{}",
            upload.simple(),
            uuid::Uuid::now_v7().simple()
        );
        let path = Path::from(object.as_str());
        let mut writer = None;
        let mut len = 0u64;
        let budget = SEGMENT_BYTES.min(remaining.saturating_add(1));
        while len < budget {
            let want = usize::try_from(budget - len).unwrap_or(usize::MAX);
            let Some(chunk) = body.next(want).await else {
                break;
            };
            if writer.is_none() {
                let upload = self.store.put_multipart(&path).await.map_err(StoreError)?;
                writer = Some(WriteMultipart::new_with_chunk_size(upload, self.part_bytes));
            }
            let Some(w) = writer.as_mut() else { break };
            len += chunk.len() as u64;
            if len > remaining {
                if let Some(w) = writer.take() {
                    let _ = w.abort().await;
                }
                return Err(IngestError::Length {
                    declared: offset + remaining,
                    got: offset + len,
                });
            }
            if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                if let Some(w) = writer.take() {
                    let _ = w.abort().await;
                }
                return Err(StoreError(e).into());
            }
            w.write(&chunk);
        }
        if let Some(w) = writer {
            w.finish().await.map_err(StoreError)?;
        }
        Ok(Segment { object, len })
    }

    /// Makes the file of a whole resumable upload from its `segments` in order, as
    /// [`Blobs::ingest`] does. The segments stay: the caller removes them once the file is
    /// recorded ([`Blobs::discard`]).
    pub async fn assemble(
        &self,
        segments: &[Segment],
        expect: Expect,
    ) -> Result<Stored, IngestError> {
        let store = self.store.clone();
        let paths: Vec<Path> = segments
            .iter()
            .map(|s| Path::from(s.object.as_str()))
            .collect();
        // Boxed futures: the stream must be Send for every lifetime its caller's future has.
        type Opened = futures::future::BoxFuture<
            'static,
            Result<BoxStream<'static, object_store::Result<Bytes>>, object_store::Error>,
        >;
        let stream = futures::stream::iter(paths.clone())
            .then(move |path| -> Opened {
                let store = store.clone();
                Box::pin(async move { store.get(&path).await.map(|r| r.into_stream()) })
            })
            .try_flatten()
            .map_err(|e| BodyError::Store(StoreError(e)));
        self.ingest(Box::pin(stream), expect).await
    }

    /// Removes a resumable upload's segments (terminated or expired).
    pub async fn discard(&self, segments: &[Segment]) {
        let paths: Vec<Path> = segments
            .iter()
            .map(|s| Path::from(s.object.as_str()))
            .collect();
        self.remove(&paths).await;
    }

    /// Removes one orphaned segment (written by a request that lost a race for its offset).
    pub async fn discard_segment(&self, segment: &Segment) {
        self.remove(&[Path::from(segment.object.as_str())]).await;
    }

    async fn remove(&self, paths: &[Path]) {
        for path in paths {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                // Left for the sweep of old segments.
                Err(e) => tracing::warn!(object = %path, error = %e, "could not remove"),
            }
        }
    }

    /// The file `key` as stored now, its type decided from its first bytes and the type the
    /// name it is referenced under claims; `None` if it is not stored.
    pub async fn describe(
        &self,
        key: &FileKey,
        claimed: Option<MediaType>,
    ) -> Result<Option<Result<Described, IngestError>>, StoreError> {
        let path = blob_path(key);
        let meta = match self.store.head(&path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let end = meta.size.min(HEAD_BYTES as u64);
        let head = self.store.get_range(&path, 0..end).await?;
        Ok(Some(sniff(&head, claimed).map(|s| Described {
            size: meta.size,
            media_type: s.media_type,
            dimensions: s.dimensions,
        })))
    }

    /// What the store holds of `keys`, as the parse of a paper or an author that references them
    /// checks it: each stored file's facts (its type from its first bytes), or why it is no
    /// file Imprint takes; files not stored are left out.
    pub async fn facts(
        &self,
        keys: impl IntoIterator<Item = FileKey>,
    ) -> Result<imprint_domain::file::StoredFiles, StoreError> {
        let mut out = imprint_domain::file::StoredFiles::new();
        for key in keys {
            if out.contains_key(&key) {
                continue;
            }
            if let Some(found) = self.describe(&key, None).await? {
                let facts = found
                    .map(|d| imprint_domain::file::FileFacts {
                        size: d.size,
                        media_type: d.media_type,
                        dimensions: d.dimensions,
                    })
                    .map_err(|e| e.to_string());
                out.insert(key, facts);
            }
        }
        Ok(out)
    }

    /// Reads `key`, all of it or `range` (clamped to the file); `None` if it is not stored.
    pub async fn read(
        &self,
        key: &FileKey,
        range: Option<Range<u64>>,
    ) -> Result<Option<Reading>, StoreError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self.store.get_opts(&blob_path(key), options).await {
            Ok(got) => {
                let (size, range) = (got.meta.size, got.range.clone());
                let bytes = match got.payload {
                    // object_store reads a local file 8 KiB at a time, each through the
                    // blocking pool: a fifth of the disk's speed. Larger reads, the same way.
                    object_store::GetResultPayload::File(file, _) => {
                        file_chunks(file, range.clone())
                    }
                    object_store::GetResultPayload::Stream(stream) => {
                        stream.map_err(StoreError).boxed()
                    }
                };
                Ok(Some(Reading { size, range, bytes }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the file `key` and what was read of its text; removing one that is not there
    /// is not an error.
    pub async fn delete(&self, key: &FileKey) -> Result<(), StoreError> {
        for path in [text_path(key), renditions_path(key), blob_path(key)] {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// What was read of the PDF `key`'s text, if it was read and kept.
    pub async fn text(&self, key: &FileKey) -> Result<Option<FileText>, StoreError> {
        self.get_json(&text_path(key)).await
    }

    /// The JSON record at `path`; `None` when there is none, or it does not parse (cut, or
    /// from a later version): what it records is then made again.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
    ) -> Result<Option<T>, StoreError> {
        match self.store.get(path).await {
            Ok(got) => Ok(serde_json::from_slice(&got.bytes().await?).ok()),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `value` as the JSON record at `path`.
    async fn put_json<T: serde::Serialize>(
        &self,
        path: &Path,
        value: &T,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_vec(value).unwrap_or_default();
        self.store
            .put(path, object_store::PutPayload::from(json))
            .await?;
        Ok(())
    }

    /// The whole of file `key`, in memory (for the readers that need all of it); `None` if
    /// it is not stored.
    async fn read_all(&self, key: &FileKey) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(reading) = self.read(key, None).await? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(usize::try_from(reading.size).unwrap_or(0));
        let mut chunks = reading.bytes;
        while let Some(chunk) = chunks.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(Some(bytes))
    }

    /// Reads the text of the PDF `key` of `size` bytes and keeps it beside the file (unless
    /// the failure was of this attempt only); what was read either way.
    pub async fn extract_text(&self, key: &FileKey, size: u64) -> Result<FileText, StoreError> {
        if size > MAX_PDF_BYTES {
            let text = FileText::failed(format!(
                "the PDF is larger than the {} MB whose text is read",
                MAX_PDF_BYTES / (1024 * 1024)
            ));
            self.keep_text(key, &text).await?;
            return Ok(text);
        }
        let Some(reading) = self.read(key, None).await? else {
            return Ok(FileText::failed("the file is not stored"));
        };
        match self.extractor.extract(reading.bytes).await? {
            Outcome::Final(text) => {
                self.keep_text(key, &text).await?;
                Ok(text)
            }
            Outcome::Transient(text) => Ok(text),
        }
    }

    async fn keep_text(&self, key: &FileKey, text: &FileText) -> Result<(), StoreError> {
        self.put_json(&text_path(key), text).await
    }

    /// The smaller copies of image `key`, as listed beside it, if the list is there and every
    /// copy it names is still stored.
    pub async fn renditions(&self, key: &FileKey) -> Result<Option<Vec<Rendition>>, StoreError> {
        let Some(listed) = self
            .get_json::<Vec<Rendition>>(&renditions_path(key))
            .await?
        else {
            return Ok(None);
        };
        for r in &listed {
            if self.size(&r.file).await?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(listed))
    }

    /// Makes the smaller copies of image `key` (stored as files, then listed beside it); the
    /// copies, and each as stored (for the caller's records). An image that cannot be decoded
    /// gets none, and the empty list is kept so that it is not tried again.
    pub async fn make_renditions(
        &self,
        key: &FileKey,
    ) -> Result<(Vec<Rendition>, Vec<Stored>), StoreError> {
        // Taken before the image is read: the bound is on images in memory, and it goes with
        // the resizing, which outlives a caller that gives up.
        let Ok(permit) = self.resizing.clone().acquire_owned().await else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(bytes) = self.read_all(key).await? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let rendered = tokio::task::spawn_blocking(move || {
            let rendered = crate::rendition::render(&bytes);
            drop(permit);
            rendered
        })
        .await;
        let rendered = match rendered {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(e)) => {
                tracing::info!(key = %key, error = %e, "an image gets no smaller copies");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "resizing an image failed");
                return Ok((Vec::new(), Vec::new()));
            }
        };
        let mut renditions = Vec::with_capacity(rendered.len());
        let mut stored = Vec::with_capacity(rendered.len());
        for copy in rendered {
            let Some(kept) = self.keep_copy(key, copy.bytes).await? else {
                continue;
            };
            renditions.push(Rendition {
                file: kept.key,
                width: copy.width,
                height: copy.height,
                size: kept.size,
                media_type: kept.media_type,
            });
            stored.push(kept);
        }
        self.put_json(&renditions_path(key), &renditions).await?;
        Ok((renditions, stored))
    }

    /// Stores one copy of image `key` as a file; `None` if it was refused (logged).
    async fn keep_copy(&self, key: &FileKey, bytes: Vec<u8>) -> Result<Option<Stored>, StoreError> {
        let length = bytes.len() as u64;
        let body: ByteStream =
            Box::pin(futures::stream::once(async move { Ok(Bytes::from(bytes)) }));
        let expect = Expect {
            max_bytes: length,
            length: Some(length),
            sha256: None,
            claimed: Some(MediaType::Webp),
        };
        match self.ingest(body, expect).await {
            Ok(kept) => Ok(Some(kept)),
            Err(IngestError::Store(e)) => Err(e),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "an image's copy was refused");
                Ok(None)
            }
        }
    }

    /// The smaller copies of the images among `files` (as [`Blobs::facts`] found them): as
    /// listed, or made now when they never were (or a copy was removed since).
    pub async fn all_renditions(
        &self,
        files: &imprint_domain::file::StoredFiles,
    ) -> Result<imprint_domain::file::StoredRenditions, StoreError> {
        let mut out = imprint_domain::file::StoredRenditions::new();
        for (key, facts) in files {
            let Ok(facts) = facts else { continue };
            if !facts.media_type.is_image() {
                continue;
            }
            let renditions = match self.renditions(key).await? {
                Some(listed) => listed,
                None => self.make_renditions(key).await?.0,
            };
            out.insert(*key, renditions);
        }
        Ok(out)
    }

    /// The texts of the PDFs among `files` (as [`Blobs::facts`] found them): each as kept, or
    /// read now when it never was (a file stored before texts were read, or whose reading
    /// was not kept).
    pub async fn texts(
        &self,
        files: &imprint_domain::file::StoredFiles,
    ) -> Result<imprint_domain::file::StoredTexts, StoreError> {
        let mut out = imprint_domain::file::StoredTexts::new();
        for (key, facts) in files {
            let Ok(facts) = facts else { continue };
            if facts.media_type != MediaType::Pdf {
                continue;
            }
            let text = match self.text(key).await? {
                Some(text) => text,
                None => self.extract_text(key, facts.size).await?,
            };
            out.insert(*key, text);
        }
        Ok(out)
    }

    /// The length of `key`, if it is stored.
    pub async fn size(&self, key: &FileKey) -> Result<Option<u64>, StoreError> {
        match self.store.head(&blob_path(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes staging objects older than `age` (left by crashed or cut writes); how many.
    pub async fn sweep_staging(&self, age: Duration) -> Result<usize, StoreError> {
        let now = chrono::Utc::now();
        let cutoff = chrono::Duration::from_std(age)
            .ok()
            .and_then(|age| now.checked_sub_signed(age))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let prefix = Path::from("staging");
        let old: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .try_filter_map(|meta| async move {
                Ok((meta.last_modified < cutoff).then_some(meta.location))
            })
            .try_collect()
            .await?;
        self.remove(&old).await;
        Ok(old.len())
    }
}

/// How much of a local file one read takes.
const READ_CHUNK: u64 = 1024 * 1024;

/// `range` of a local `file`, [`READ_CHUNK`] at a time, each read on the blocking pool.
fn file_chunks(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StoreError>> {
    let end = range.end;
    futures::stream::try_unfold((file, range.start), move |(mut file, at)| async move {
        if at >= end {
            return Ok(None);
        }
        let len = usize::try_from((end - at).min(READ_CHUNK)).unwrap_or(1 << 20);
        let read = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(at))?;
            let mut buffer = vec![0u8; len];
            file.read_exact(&mut buffer)?;
            Ok::<_, std::io::Error>((file, buffer))
        })
        .await;
        let local = |source: Box<dyn std::error::Error + Send + Sync>| {
            StoreError(object_store::Error::Generic {
                store: "LocalFileSystem",
                source,
            })
        };
        let (file, buffer) = read
            .map_err(|e| local(Box::new(e)))?
            .map_err(|e| local(Box::new(e)))?;
        Ok(Some((Bytes::from(buffer), (file, at + len as u64))))
    })
    .boxed()
}

/// The object of file `key`.
fn blob_path(key: &FileKey) -> Path {
    let hex = key.hex();
    Path::from(format!("blobs/sha256/{}/{hex}", &hex[..2]))
}

/// The object listing image `key`'s smaller copies.
fn renditions_path(key: &FileKey) -> Path {
    let hex = key.hex();
    Path::from(format!("renditions/sha256/{}/{hex}.json", &hex[..2]))
}

/// The object holding what was read of file `key`'s text.
fn text_path(key: &FileKey) -> Path {
    let hex = key.hex();
    Path::from(format!("text/sha256/{}/{hex}.json", &hex[..2]))
}

/// Refuses a declared length that is empty or over the limit, before anything is read.
pub fn check_declared(length: u64, max: u64) -> Result<(), IngestError> {
    if length == 0 {
        return Err(IngestError::Empty);
    }
    if length > max {
        return Err(IngestError::TooLarge { limit: max });
    }
    Ok(())
}

/// What streaming a body in found.
struct Taken {
    key: FileKey,
    size: u64,
    media_type: MediaType,
    dimensions: Option<(u32, u32)>,
}

/// What the bytes taken so far say of the file: its hash, length, first bytes and type.
struct Intake {
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    sniffed: Option<crate::Sniffed>,
    text: TextCheck,
}

impl Intake {
    fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(HEAD_BYTES),
            sniffed: None,
            text: TextCheck::default(),
        }
    }

    /// Takes `chunk`: hashed, counted, and typed once the first bytes are in.
    fn feed(&mut self, chunk: &[u8], claimed: Option<MediaType>) -> Result<(), IngestError> {
        self.size += chunk.len() as u64;
        self.hasher.update(chunk);
        match self.sniffed {
            None => {
                let room = HEAD_BYTES - self.head.len();
                let (first, rest) = chunk.split_at(chunk.len().min(room));
                self.head.extend_from_slice(first);
                if self.head.len() == HEAD_BYTES {
                    let found = sniff(&self.head, claimed)?;
                    if found.media_type.is_text() {
                        self.text.feed(&self.head);
                        self.text.feed(rest);
                    }
                    self.sniffed = Some(found);
                }
            }
            Some(found) if found.media_type.is_text() => self.text.feed(chunk),
            Some(_) => {}
        }
        Ok(())
    }

    /// The file, once every byte is in, if it is what `expect` says.
    fn finish(mut self, expect: Expect) -> Result<Taken, IngestError> {
        if self.size == 0 {
            return Err(IngestError::Empty);
        }
        if let Some(declared) = expect.length
            && declared != self.size
        {
            return Err(IngestError::Length {
                declared,
                got: self.size,
            });
        }
        let found = match self.sniffed {
            Some(found) => found,
            None => {
                let found = sniff(&self.head, expect.claimed)?;
                self.text.feed(&self.head);
                found
            }
        };
        if found.media_type.is_text() && !self.text.passed() {
            return Err(IngestError::NotText(found.media_type));
        }
        let key = FileKey::from_digest(self.hasher.finalize().into());
        if let Some(expected) = expect.sha256
            && expected != key
        {
            return Err(IngestError::Checksum { expected, got: key });
        }
        Ok(Taken {
            key,
            size: self.size,
            media_type: found.media_type,
            dimensions: found.dimensions,
        })
    }
}

/// Streams `body` into `writer`, hashing, counting and typing it; refuses as soon as it is
/// too long or of the wrong type.
async fn take(
    body: &mut Body,
    writer: &mut WriteMultipart,
    expect: Expect,
) -> Result<Taken, IngestError> {
    let limit = expect
        .length
        .unwrap_or(expect.max_bytes)
        .min(expect.max_bytes);
    let mut intake = Intake::new();
    while let Some(chunk) = body.next(usize::MAX).await {
        let got = intake.size + chunk.len() as u64;
        if got > limit {
            return Err(match expect.length {
                Some(declared) if declared < expect.max_bytes => {
                    IngestError::Length { declared, got }
                }
                _ => IngestError::TooLarge {
                    limit: expect.max_bytes,
                },
            });
        }
        intake.feed(&chunk, expect.claimed)?;
        writer
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(StoreError)?;
        writer.write(&chunk);
    }
    if let Some(failure) = body.failure(intake.size) {
        return Err(failure);
    }
    intake.finish(expect)
}
