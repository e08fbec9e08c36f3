//! Imprint's file store: the PDFs, images and data sets that papers and authors reference,
//! behind one interface ([`object_store`]) over a directory (the embedded default) or any
//! S3-compatible store. Files are named by the SHA-256 of their bytes ([`FileKey`]), so identical
//! bytes are stored once, and a file gets that name only once every byte is written and checked
//! (length, the checksum its uploader sent, its type from its bytes): a crash leaves at most
//! staging objects nobody references, which [`Blobs::sweep_staging`] removes. Resumable uploads
//! are kept as segments of their own until they are whole ([`Blobs::append`],
//! [`Blobs::assemble`]), so that any replica can take the next part after a dropped connection
//! or a restart. A PDF's text is read when it is stored ([`text`]) and kept beside it, for
//! search and the paper's body; an image's smaller copies ([`rendition`]) are files of their
//! own, listed beside it; [`pdf`] writes plain PDFs of known text.

pub mod pdf;
pub mod rendition;
mod sniff;
mod store;
pub mod text;

pub use sniff::{HEAD_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, Sniffed, sniff};
pub use store::{
    Blobs, Body, BodyError, ByteStream, Described, Expect, OpenError, Reading, Segment, StoreError,
    Stored, check_declared,
};

use imprint_domain::{FileKey, MediaType};

/// Why a file was not stored. Each names what was wrong, for the uploader.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Nothing was sent.
    #[error("the file is empty")]
    Empty,
    /// More than the limit, declared or sent.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The declared length and what arrived differ.
    #[error("the upload declared {declared} bytes but {got} arrived")]
    Length {
        /// As declared.
        declared: u64,
        /// As received.
        got: u64,
    },
    /// The bytes' SHA-256 is not the one the uploader sent.
    #[error(
        "the file's SHA-256 is {got}, not {expected} as sent: it was changed or cut on the way"
    )]
    Checksum {
        /// As sent.
        expected: FileKey,
        /// Of the bytes.
        got: FileKey,
    },
    /// A type Imprint does not store.
    #[error("{}", unsupported(*.claimed, *.found))]
    Unsupported {
        /// What the name or uploader said.
        claimed: Option<MediaType>,
        /// What the bytes look like, when recognised.
        found: Option<&'static str>,
    },
    /// The name or the uploader says one type, the bytes another.
    #[error("the file is named as {} but its bytes are {}", .claimed.label(), .found.label())]
    Mismatch {
        /// What the name or uploader said.
        claimed: MediaType,
        /// What the bytes are.
        found: MediaType,
    },
    /// An image whose header gives no size.
    #[error("the image's header gives no width and height")]
    ImageHeader,
    /// An image too large to decode safely.
    #[error(
        "the image is {width} × {height} pixels: at most {MAX_IMAGE_SIDE} a side and {MAX_IMAGE_PIXELS} in all"
    )]
    ImageTooLarge {
        /// Its width.
        width: u64,
        /// Its height.
        height: u64,
    },
    /// Declared text that is not UTF-8 throughout.
    #[error("the file is {} at first but not UTF-8 text throughout", .0.label())]
    NotText(MediaType),
    /// The client's stream broke before the end.
    #[error("the upload was cut off after {received} bytes: {reason}")]
    Cut {
        /// Bytes received.
        received: u64,
        /// What the connection said.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn unsupported(claimed: Option<MediaType>, found: Option<&str>) -> String {
    let allowed = "Imprint stores PDF, PNG, JPEG and WebP files, zip archives (office documents too) and UTF-8 text (CSV, JSON)";
    let named = claimed.map_or_else(
        || "the file's bytes are".to_owned(),
        |c| format!("the file is named as {} but its bytes are", c.label()),
    );
    match found {
        Some(mime) => format!("{named} {mime}: {allowed}"),
        None => format!("{named} of no type Imprint recognises: {allowed}"),
    }
}
