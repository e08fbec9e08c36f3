//! Files at the edge: editors upload reports, images and data over HTTP, whole
//! (`POST /editor/v1/files`) or resumable with tus 1.0 (`/editor/v1/uploads`, any replica takes
//! the next part), with the same bearer tokens and roles as gRPC; the bytes go to the store
//! ([`imprint_files::Blobs`]) as they arrive, never whole in memory. Downloads, editorial and
//! public, are answered by [`download`] with ETags and ranges.

pub mod download;
mod entity;
pub mod http;
pub(crate) mod migration;
pub mod records;
pub mod references;
pub mod stats;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use imprint_domain::file::{Rendition, TextExtraction};
use imprint_domain::{Actor, FileKey, FileName, MediaType};
use imprint_files::{Blobs, Body, Expect, IngestError, Segment, Stored};
use sea_orm::DbErr;
use uuid::Uuid;

use records::{Records, Upload};

/// A request body as it arrives.
pub use imprint_files::ByteStream as Incoming;

/// Why an upload was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The bytes are not what was declared, or not a file Imprint takes.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// No such upload (never started, terminated or expired).
    #[error("no upload {0}: it was never started, or was terminated or expired")]
    NotFound(Uuid),
    /// A part sent for another offset than the upload's.
    #[error("the upload has {received} bytes; send the part at that offset, not at {sent}")]
    Offset {
        /// Where the upload is.
        received: u64,
        /// Where the part said it was.
        sent: u64,
    },
    /// Another request is writing this upload.
    #[error("another request is writing this upload just now; ask for its offset and resume")]
    Busy,
    /// The upload is whole already.
    #[error("the upload is complete: it is the file {0}")]
    Complete(FileKey),
    /// The database failed.
    #[error("the files' records failed: {0}")]
    Db(#[from] DbErr),
}

/// A file once uploaded, as the uploader is told.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// What was stored.
    pub stored: Stored,
    /// The name it was uploaded under (the name papers and authors reference it by is theirs).
    pub name: FileName,
    /// What was read of a PDF's text (`None` for other files, or when the store failed to
    /// give it: the paper that attaches it reads it then).
    pub text: Option<TextExtraction>,
    /// An image's smaller copies, narrowest first.
    pub renditions: Vec<Rendition>,
}

/// What a part of a resumable upload did.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Bytes kept now.
    pub received: u64,
    /// The file, when this part made the upload whole.
    pub file: Option<Uploaded>,
    /// When the upload is given up unless the next part arrives.
    pub expire_time: chrono::DateTime<Utc>,
}

/// Uploads and their records.
#[derive(Debug, Clone)]
pub struct Files {
    blobs: Blobs,
    records: Records,
    /// The largest file taken.
    max_bytes: u64,
    /// How long an upload waits for its next part.
    expiry: Duration,
    /// Uploads a request of this replica is writing (another replica's are caught by the
    /// offset check when the segment is recorded).
    writing: Arc<Mutex<HashSet<Uuid>>>,
    /// Bodies taken at once: each holds a few parts' worth of buffers, so this bounds the
    /// memory uploads use; more wait their turn.
    permits: Arc<tokio::sync::Semaphore>,
}

/// Upload bodies taken at once by one process.
const CONCURRENT_UPLOADS: usize = 32;

/// Releases an upload for other requests when its writer is done, however it ends.
struct Writing {
    set: Arc<Mutex<HashSet<Uuid>>>,
    id: Uuid,
}

impl Drop for Writing {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.id);
        }
    }
}

impl Files {
    /// Uploads to `blobs`, recorded in `records`.
    pub fn new(blobs: Blobs, records: Records, max_bytes: u64, expiry: Duration) -> Self {
        Self {
            blobs,
            records,
            max_bytes,
            expiry,
            writing: Arc::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_UPLOADS)),
        }
    }

    /// The store.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// The largest file taken, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Takes a whole file in one request.
    pub async fn upload(
        &self,
        body: Incoming,
        name: FileName,
        length: Option<u64>,
        sha256: Option<FileKey>,
        actor: &Actor,
    ) -> Result<Uploaded, UploadError> {
        let expect = self.expect(&name, length, sha256);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| UploadError::Busy)?;
        let stored = self.blobs.ingest(body, expect).await?;
        self.records.record_file(&stored, actor, Utc::now()).await?;
        let text = self.read_text(&stored).await;
        let renditions = self.make_copies(&stored, actor).await;
        Ok(Uploaded {
            stored,
            name,
            text,
            renditions,
        })
    }

    /// Makes an image's smaller copies once it is stored, each recorded as a file (so that
    /// it is removed once nothing references it); bytes stored before keep their copies. A
    /// failure leaves the image without copies until a paper or author attaches it.
    async fn make_copies(&self, stored: &Stored, actor: &Actor) -> Vec<Rendition> {
        if !stored.media_type.is_image() {
            return Vec::new();
        }
        let made = match self.blobs.renditions(&stored.key).await {
            // Recorded again below: the image's new grace period is its copies' too.
            Ok(Some(listed)) => {
                let copies = listed
                    .iter()
                    .map(|r| Stored {
                        key: r.file,
                        size: r.size,
                        media_type: r.media_type,
                        dimensions: Some((r.width, r.height)),
                        existed: true,
                    })
                    .collect();
                Ok((listed, copies))
            }
            Ok(None) => self.blobs.make_renditions(&stored.key).await,
            Err(e) => Err(e),
        };
        let (renditions, copies) = match made {
            Ok(made) => made,
            Err(e) => {
                tracing::warn!(key = %stored.key, error = %e, "an image's copies were not made");
                return Vec::new();
            }
        };
        for copy in &copies {
            if let Err(e) = self.records.record_file(copy, actor, Utc::now()).await {
                tracing::warn!(key = %copy.key, error = %e, "an image's copy was not recorded");
            }
        }
        renditions
    }

    /// Reads a PDF's text once it is stored, so that the paper that attaches it finds it read
    /// (bytes stored before keep what was read of them).
    async fn read_text(&self, stored: &Stored) -> Option<TextExtraction> {
        if stored.media_type != MediaType::Pdf {
            return None;
        }
        let kept = match self.blobs.text(&stored.key).await {
            Ok(Some(text)) => Ok(text),
            Ok(None) => self.blobs.extract_text(&stored.key, stored.size).await,
            Err(e) => Err(e),
        };
        match kept {
            Ok(text) => {
                if let TextExtraction::Failed { reason } = &text.extraction {
                    tracing::info!(key = %stored.key, reason, "a PDF's text could not be read");
                }
                Some(text.extraction)
            }
            Err(e) => {
                tracing::warn!(key = %stored.key, error = %e, "a PDF's text was not read");
                None
            }
        }
    }

    fn expect(&self, name: &FileName, length: Option<u64>, sha256: Option<FileKey>) -> Expect {
        Expect {
            max_bytes: self.max_bytes,
            length,
            sha256,
            claimed: MediaType::claimed_by(name),
        }
    }

    /// Starts a resumable upload of `length` bytes.
    pub async fn start(
        &self,
        length: u64,
        name: FileName,
        sha256: Option<FileKey>,
        actor: &Actor,
    ) -> Result<Upload, UploadError> {
        imprint_files::check_declared(length, self.max_bytes)?;
        let now = Utc::now();
        let upload = Upload {
            id: Uuid::now_v7(),
            length,
            received: 0,
            name,
            sha256,
            file: None,
            create_time: now,
            expire_time: now + self.expiry_delta(),
            creator: Some(actor.clone()),
        };
        self.records.create_upload(&upload).await?;
        Ok(upload)
    }

    fn expiry_delta(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.expiry).unwrap_or(chrono::Duration::hours(24))
    }

    /// Upload `id`.
    pub async fn status(&self, id: Uuid) -> Result<Upload, UploadError> {
        match self.records.upload(id).await? {
            Some(upload) if upload.file.is_some() || upload.expire_time > Utc::now() => Ok(upload),
            _ => Err(UploadError::NotFound(id)),
        }
    }

    /// Takes the part of upload `id` that starts at `offset`, segment by segment, each kept
    /// as soon as it is written. The last segment makes the file: the upload's offset reaches
    /// its length only in the transaction that records the file, so a client that sees the
    /// whole length knows the file exists.
    pub async fn append(
        &self,
        id: Uuid,
        offset: u64,
        body: Incoming,
        actor: &Actor,
    ) -> Result<Appended, UploadError> {
        let _writing = self.claim(id)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| UploadError::Busy)?;
        let upload = self.status(id).await?;
        if let Some(key) = upload.file {
            return Err(UploadError::Complete(key));
        }
        if offset != upload.received {
            return Err(UploadError::Offset {
                received: upload.received,
                sent: offset,
            });
        }
        let mut body = Body::new(body);
        let mut received = upload.received;
        let mut expire_time = upload.expire_time;
        while received < upload.length && !body.ended() {
            let remaining = upload.length - received;
            let segment = self
                .blobs
                .append(id, received, &mut body, remaining)
                .await?;
            if segment.len == 0 {
                break;
            }
            if segment.len == remaining {
                let file = self.finish(&upload, segment, &mut body, actor).await?;
                return Ok(Appended {
                    received: upload.length,
                    file: Some(file),
                    expire_time,
                });
            }
            expire_time = Utc::now() + self.expiry_delta();
            if !self
                .records
                .commit_segment(id, received, &segment, expire_time)
                .await?
            {
                self.blobs.discard_segment(&segment).await;
                return Err(UploadError::Busy);
            }
            received += segment.len;
        }
        if let Some(reason) = body.cut().map(str::to_owned) {
            tracing::info!(upload = %id, received, reason, "an upload's part was cut off; it resumes from here");
        }
        Ok(Appended {
            received,
            file: None,
            expire_time,
        })
    }

    /// Makes the file of an upload from its recorded segments and `last`, and records it with
    /// the upload's end in one transaction; only then are the segments removed. Refused (not
    /// the file its name and checksum say, more bytes than declared), the upload stays where it
    /// was, its last part not kept.
    async fn finish(
        &self,
        upload: &Upload,
        last: Segment,
        body: &mut Body,
        actor: &Actor,
    ) -> Result<Uploaded, UploadError> {
        let start = upload.length - last.len;
        if !body.exhausted().await {
            self.blobs.discard_segment(&last).await;
            return Err(IngestError::Length {
                declared: upload.length,
                got: upload.length + 1,
            }
            .into());
        }
        let mut segments = self.records.segments(upload.id).await?;
        segments.push(last.clone());
        let expect = self.expect(&upload.name, Some(upload.length), upload.sha256);
        let stored = match self.blobs.assemble(&segments, expect).await {
            Ok(stored) => stored,
            Err(e) => {
                self.blobs.discard_segment(&last).await;
                return Err(e.into());
            }
        };
        let completed = self
            .records
            .complete(upload.id, start, &stored, actor, Utc::now())
            .await;
        match completed {
            Ok(true) => {}
            Ok(false) => {
                self.blobs.discard_segment(&last).await;
                return Err(UploadError::Busy);
            }
            Err(e) => {
                self.blobs.discard_segment(&last).await;
                return Err(e.into());
            }
        }
        self.blobs.discard(&segments).await;
        let text = self.read_text(&stored).await;
        let renditions = self.make_copies(&stored, actor).await;
        Ok(Uploaded {
            stored,
            name: upload.name.clone(),
            text,
            renditions,
        })
    }

    fn claim(&self, id: Uuid) -> Result<Writing, UploadError> {
        let mut set = self.writing.lock().map_err(|_| UploadError::Busy)?;
        if !set.insert(id) {
            return Err(UploadError::Busy);
        }
        Ok(Writing {
            set: self.writing.clone(),
            id,
        })
    }

    /// Ends upload `id`, removing what it stored.
    pub async fn terminate(&self, id: Uuid) -> Result<(), UploadError> {
        let _writing = self.claim(id)?;
        let segments = self.records.segments(id).await?;
        if !self.records.delete_upload(id).await? {
            return Err(UploadError::NotFound(id));
        }
        self.blobs.discard(&segments).await;
        Ok(())
    }

    /// Removes uploads that expired and staging objects older than a day; how many uploads.
    pub async fn sweep(&self) -> Result<usize, UploadError> {
        let expired = self.records.expired(Utc::now(), 100).await?;
        for id in &expired {
            let segments = self.records.segments(*id).await?;
            self.blobs.discard(&segments).await;
            self.records.delete_upload(*id).await?;
        }
        if let Err(e) = self
            .blobs
            .sweep_staging(Duration::from_secs(24 * 3600))
            .await
        {
            tracing::warn!(error = %e, "could not sweep the store's staging objects");
        }
        Ok(expired.len())
    }
}
