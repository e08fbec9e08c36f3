//! What a file is, from its bytes: magic numbers for binary types ([`infer`]), UTF-8 for text,
//! and an image's dimensions from its header ([`imagesize`]), so that a decompression bomb is
//! refused before anything decodes it. A name's extension only has to agree.

use imprint_domain::MediaType;

use crate::IngestError;

/// How much of the start of a file the type is decided from: enough for a camera JPEG's
/// metadata before its frame header (EXIF with its thumbnail, an ICC profile, XMP: each
/// segment up to 64 KiB, often several).
pub const HEAD_BYTES: usize = 256 * 1024;

/// The most pixels an image may have (a 10,000 × 5,000 scan); a side may be 20,000 at most.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// The longest side an image may have.
pub const MAX_IMAGE_SIDE: u64 = 20_000;

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The type.
    pub media_type: MediaType,
    /// Width and height, for images.
    pub dimensions: Option<(u32, u32)>,
}

/// Decides the type of `head` (the first [`HEAD_BYTES`] of the file, or all of a shorter
/// one), given the type its name or its uploader `claimed`.
pub fn sniff(head: &[u8], claimed: Option<MediaType>) -> Result<Sniffed, IngestError> {
    let found = match infer::get(head) {
        Some(kind) => binary_type(kind).ok_or(IngestError::Unsupported {
            claimed,
            found: Some(kind.mime_type()),
        })?,
        None => text_type(head, claimed)?,
    };
    if let Some(claimed) = claimed
        && claimed != found
    {
        return Err(IngestError::Mismatch { claimed, found });
    }
    let dimensions = if found.is_image() {
        Some(image_dimensions(head)?)
    } else {
        None
    };
    Ok(Sniffed {
        media_type: found,
        dimensions,
    })
}

/// The type of a binary file that `infer` recognised, if Imprint stores that type.
fn binary_type(kind: infer::Type) -> Option<MediaType> {
    match kind.mime_type() {
        "application/pdf" => Some(MediaType::Pdf),
        "image/png" => Some(MediaType::Png),
        "image/jpeg" => Some(MediaType::Jpeg),
        "image/webp" => Some(MediaType::Webp),
        // Office documents are zip archives that infer looks inside of.
        "application/zip"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.oasis.opendocument.text"
        | "application/vnd.oasis.opendocument.spreadsheet" => Some(MediaType::Zip),
        _ => None,
    }
}

/// Text: UTF-8 without NUL bytes (a cut multi-byte character at the end of `head` is fine).
/// Which text type is the claim's to say; JSON must at least start like JSON.
fn text_type(head: &[u8], claimed: Option<MediaType>) -> Result<MediaType, IngestError> {
    if !is_text(head, true) {
        return Err(IngestError::Unsupported {
            claimed,
            found: None,
        });
    }
    Ok(match claimed {
        Some(MediaType::Json) => {
            let first = head.iter().find(|b| !b.is_ascii_whitespace());
            if matches!(first, Some(b'{' | b'[')) {
                MediaType::Json
            } else {
                MediaType::Text
            }
        }
        Some(MediaType::Csv) => MediaType::Csv,
        _ => MediaType::Text,
    })
}

/// Whether `bytes` are UTF-8 without NUL; with `cut`, the last character may be incomplete.
pub(crate) fn is_text(bytes: &[u8], cut: bool) -> bool {
    if bytes.contains(&0) {
        return false;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => cut && e.error_len().is_none(),
    }
}

/// An image's width and height from its header, refused when it is more than Imprint decodes.
fn image_dimensions(head: &[u8]) -> Result<(u32, u32), IngestError> {
    let size = imagesize::blob_size(head).map_err(|_| IngestError::ImageHeader)?;
    let (w, h) = (size.width as u64, size.height as u64);
    if w == 0 || h == 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || w * h > MAX_IMAGE_PIXELS {
        return Err(IngestError::ImageTooLarge {
            width: w,
            height: h,
        });
    }
    // Both at most MAX_IMAGE_SIDE.
    Ok((
        u32::try_from(w).unwrap_or(u32::MAX),
        u32::try_from(h).unwrap_or(u32::MAX),
    ))
}

/// Checks that text goes on being text across chunks: keeps the bytes of a character cut at a
/// chunk's end for the next one.
#[derive(Debug, Default)]
pub(crate) struct TextCheck {
    carry: Vec<u8>,
    failed: bool,
}

impl TextCheck {
    /// Takes the next chunk.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if self.failed {
            return;
        }
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(chunk);
        if joined.contains(&0) {
            self.failed = true;
            return;
        }
        match std::str::from_utf8(&joined) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                self.carry = joined[e.valid_up_to()..].to_vec();
            }
            Err(_) => self.failed = true,
        }
    }

    /// Whether everything fed was text, the end included.
    pub(crate) fn passed(&self) -> bool {
        !self.failed && self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn types_come_from_the_bytes_and_must_agree_with_the_claim() {
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj";
        assert_eq!(
            sniff(pdf, Some(MediaType::Pdf)).unwrap().media_type,
            MediaType::Pdf
        );
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0";
        assert!(matches!(
            sniff(zip, Some(MediaType::Pdf)),
            Err(IngestError::Mismatch {
                claimed: MediaType::Pdf,
                found: MediaType::Zip
            })
        ));
        assert!(matches!(
            sniff(zip, Some(MediaType::Png)),
            Err(IngestError::Mismatch {
                found: MediaType::Zip,
                ..
            })
        ));
        assert!(matches!(
            sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", None),
            Err(IngestError::Unsupported { found: Some(_), .. })
        ));
        assert!(matches!(
            sniff(b"plain words", Some(MediaType::Pdf)),
            Err(IngestError::Mismatch {
                found: MediaType::Text,
                ..
            })
        ));
        assert_eq!(
            sniff(b"a,b\n1,2\n", Some(MediaType::Csv))
                .unwrap()
                .media_type,
            MediaType::Csv
        );
        assert_eq!(
            sniff(b" {\"a\":1}", Some(MediaType::Json))
                .unwrap()
                .media_type,
            MediaType::Json
        );
        assert!(sniff(b"not json", Some(MediaType::Json)).is_err());
        assert!(matches!(
            sniff(b"\xff\xfe\0\x01binary", None),
            Err(IngestError::Unsupported { found: None, .. })
        ));
    }

    #[test]
    fn images_are_measured_before_anything_decodes_them() {
        let ok = sniff(&png(1200, 800), Some(MediaType::Png)).unwrap();
        assert_eq!(ok.dimensions, Some((1200, 800)));
        assert!(matches!(
            sniff(&png(30_000, 30_000), Some(MediaType::Png)),
            Err(IngestError::ImageTooLarge { width: 30_000, .. })
        ));
        assert!(matches!(
            sniff(&png(10_000, 9_000), None),
            Err(IngestError::ImageTooLarge { .. })
        ));
    }

    #[test]
    fn a_jpeg_with_large_metadata_is_measured() {
        let mut jpeg = b"\xff\xd8".to_vec();
        // Three full APP segments (EXIF, ICC, XMP), 196 KiB before the frame header.
        for marker in [0xe1u8, 0xe2, 0xe1] {
            jpeg.extend_from_slice(&[0xff, marker, 0xff, 0xff]);
            jpeg.extend(std::iter::repeat_n(0u8, 0xffff - 2));
        }
        // SOF0: 8 bits, 480 high, 640 wide, 3 components.
        jpeg.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 0x03]);
        jpeg.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        jpeg.extend_from_slice(b"\xff\xd9");
        let found = sniff(&jpeg[..jpeg.len().min(HEAD_BYTES)], Some(MediaType::Jpeg)).unwrap();
        assert_eq!(found.dimensions, Some((640, 480)));
    }

    #[test]
    fn text_is_checked_across_chunks() {
        let text = "Pakistan – été".as_bytes();
        let mut check = TextCheck::default();
        for chunk in text.chunks(3) {
            check.feed(chunk);
        }
        assert!(check.passed());
        let mut cut = TextCheck::default();
        cut.feed(&text[..text.len() - 1]);
        assert!(!cut.passed());
        let mut bad = TextCheck::default();
        bad.feed(b"ok\xff");
        assert!(!bad.passed());
    }
}
