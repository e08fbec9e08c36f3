//! The store on a real directory: a file is named by its SHA-256 only once whole and checked,
//! identical bytes are kept once, refusals leave nothing behind, a resumable upload's segments
//! make the same file, and ranges read what they say.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use futures::StreamExt;
use imprint_domain::{FileKey, MediaType};
use imprint_files::{Blobs, Body, BodyError, ByteStream, Expect, IngestError};
use sha2::{Digest, Sha256};

fn pdf(n: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    bytes.extend((0..n).map(|i| b"0123456789abcdef"[i % 16]));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

fn chunks(bytes: &[u8], size: usize) -> ByteStream {
    let parts: Vec<Result<Bytes, BodyError>> = bytes
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(parts))
}

fn expect(claimed: Option<MediaType>) -> Expect {
    Expect {
        max_bytes: 10_000_000,
        length: None,
        sha256: None,
        claimed,
    }
}

fn key_of(bytes: &[u8]) -> FileKey {
    FileKey::from_digest(Sha256::digest(bytes).into())
}

/// Every object under `dir`, relative.
fn objects(dir: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

async fn read_all(blobs: &Blobs, key: &FileKey, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let reading = blobs.read(key, range).await.unwrap().expect("stored");
    let mut out = Vec::new();
    let mut bytes = reading.bytes;
    while let Some(chunk) = bytes.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn files_are_named_by_their_bytes_once_whole_and_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::filesystem(dir.path()).unwrap();
    let bytes = pdf(3_000_000);
    let stored = blobs
        .ingest(
            chunks(&bytes, 70_000),
            Expect {
                sha256: Some(key_of(&bytes)),
                length: Some(bytes.len() as u64),
                ..expect(Some(MediaType::Pdf))
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.key, key_of(&bytes));
    assert_eq!(stored.size, bytes.len() as u64);
    assert_eq!(stored.media_type, MediaType::Pdf);
    assert!(!stored.existed);
    let again = blobs
        .ingest(chunks(&bytes, 1 << 20), expect(None))
        .await
        .unwrap();
    assert_eq!(again.key, stored.key);
    assert!(again.existed, "the same bytes are kept once");
    let hex = stored.key.hex();
    assert_eq!(
        objects(dir.path()),
        vec![format!("blobs/sha256/{}/{hex}", &hex[..2])]
    );
    assert_eq!(read_all(&blobs, &stored.key, None).await, bytes);
    assert_eq!(
        read_all(&blobs, &stored.key, Some(10..20)).await,
        bytes[10..20].to_vec()
    );
    // Across the store's 1 MiB reads.
    let across = 1_048_000..2_100_000;
    assert_eq!(
        read_all(&blobs, &stored.key, Some(across.clone())).await,
        bytes[1_048_000..2_100_000].to_vec()
    );
    let described = blobs
        .describe(&stored.key, Some(MediaType::Pdf))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (described.size, described.media_type),
        (bytes.len() as u64, MediaType::Pdf)
    );
    blobs.delete(&stored.key).await.unwrap();
    assert!(blobs.read(&stored.key, None).await.unwrap().is_none());
    assert!(blobs.describe(&stored.key, None).await.unwrap().is_none());
}

#[tokio::test]
async fn refusals_name_the_reason_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::filesystem(dir.path()).unwrap();
    let bytes = pdf(200_000);
    let cases: Vec<(ByteStream, Expect, &str)> = vec![
        (chunks(b"", 1), expect(None), "the file is empty"),
        (
            chunks(&bytes, 1000),
            Expect {
                max_bytes: 100_000,
                ..expect(None)
            },
            "larger than the limit of 100000",
        ),
        (
            chunks(&bytes, 1000),
            Expect {
                length: Some(10),
                ..expect(None)
            },
            "declared 10 bytes",
        ),
        (
            chunks(&bytes, 1000),
            Expect {
                length: Some(bytes.len() as u64 + 5),
                ..expect(None)
            },
            "arrived",
        ),
        (
            chunks(&bytes, 1000),
            Expect {
                sha256: Some(key_of(b"other")),
                ..expect(None)
            },
            "SHA-256",
        ),
        (
            chunks(b"PK\x03\x04\x14\0\0\0\x08\0rest of a zip", 4),
            expect(Some(MediaType::Pdf)),
            "named as a PDF but its bytes are a zip archive",
        ),
        (
            chunks(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", 4),
            expect(None),
            "Imprint stores",
        ),
        (
            Box::pin(futures::stream::iter(vec![
                Ok(Bytes::from(bytes[..5000].to_vec())),
                Err(BodyError::Client("connection reset".to_owned())),
            ])),
            expect(None),
            "cut off after 5000 bytes: connection reset",
        ),
    ];
    for (body, expect, needle) in cases {
        let e = blobs.ingest(body, expect).await.expect_err(needle);
        assert!(e.to_string().contains(needle), "{e} should say {needle}");
        assert!(!matches!(e, IngestError::Store(_)));
    }
    let left: Vec<String> = objects(dir.path());
    assert!(
        left.iter().all(|o| !o.starts_with("blobs/")),
        "nothing named: {left:?}"
    );
    assert!(
        left.iter().all(|o| !o.starts_with("staging/")),
        "no staging left: {left:?}"
    );
}

#[tokio::test]
async fn a_resumable_upload_is_whole_once_its_segments_are() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::filesystem(dir.path()).unwrap();
    let bytes = pdf(20_000_000);
    let id = uuid::Uuid::now_v7();
    let total = bytes.len() as u64;
    // The first request breaks off after 11 MB: what arrived is kept, in two segments.
    let first: ByteStream = Box::pin(
        futures::stream::iter(
            bytes[..11_000_000]
                .chunks(65_536)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        )
        .chain(futures::stream::iter(vec![Err(BodyError::Client(
            "reset".to_owned(),
        ))])),
    );
    let mut body = Body::new(first);
    let mut segments = Vec::new();
    let mut offset = 0u64;
    while !body.ended() {
        let segment = blobs
            .append(id, offset, &mut body, total - offset)
            .await
            .unwrap();
        if segment.len == 0 {
            break;
        }
        offset += segment.len;
        segments.push(segment);
    }
    assert_eq!(offset, 11_000_000);
    assert_eq!(body.cut(), Some("reset"));
    assert!(segments.iter().all(|s| s.len <= 8 * 1024 * 1024));
    let mut rest = Body::new(chunks(&bytes[offset as usize..], 100_000));
    while offset < total {
        let segment = blobs
            .append(id, offset, &mut rest, total - offset)
            .await
            .unwrap();
        offset += segment.len;
        segments.push(segment);
    }
    let stored = blobs
        .assemble(
            &segments,
            Expect {
                max_bytes: 100_000_000,
                length: Some(total),
                sha256: Some(key_of(&bytes)),
                ..expect(Some(MediaType::Pdf))
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.key, key_of(&bytes));
    assert_eq!(read_all(&blobs, &stored.key, None).await, bytes);
    // The segments stay until the caller has recorded the file.
    assert_eq!(objects(dir.path()).len(), 1 + segments.len());
    blobs.discard(&segments).await;
    let hex = stored.key.hex();
    assert_eq!(
        objects(dir.path()),
        vec![format!("blobs/sha256/{}/{hex}", &hex[..2])],
        "segments removed"
    );
    // A part longer than the upload is refused, its segment not kept.
    let mut over = Body::new(chunks(&bytes[..1000], 100));
    let e = blobs
        .append(uuid::Uuid::now_v7(), 0, &mut over, 999)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("declared 999 bytes"), "{e}");
    assert_eq!(objects(dir.path()).len(), 1);
}
