//! Stored files: the key that names their bytes (SHA-256, so identical bytes are stored once),
//! the types Imprint takes (decided from the bytes, never from the name alone), and the name a
//! download is offered under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::shorten;

/// Longest file name kept, in bytes: what file systems and `Content-Disposition` handle.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// The SHA-256 of a file's bytes: its identity in the store. Written `sha256:<64 hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey([u8; 32]);

/// Why a file key, type or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Not `sha256:` and 64 hex digits.
    #[error("'{0}' is not a file key: expected sha256: and 64 hexadecimal digits")]
    Key(String),
    /// A file name that is empty, too long, or a path.
    #[error("the file name '{name}' {reason}")]
    Name {
        /// As sent, shortened.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A media type Imprint does not store.
    #[error("'{0}' is not a type Imprint stores ({1})")]
    MediaType(String, &'static str),
}

impl FileKey {
    /// The key of bytes whose SHA-256 is `digest`.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The digest.
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, as object names and ETags use them.
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// Parses `sha256:<hex>`, or the bare 64 hex digits (what `sha256sum` prints).
    pub fn parse(input: &str) -> Result<Self, FileError> {
        let trimmed = input.trim();
        let hex = trimmed.strip_prefix("sha256:").unwrap_or(trimmed);
        Self::from_hex(hex).ok_or_else(|| FileError::Key(shorten(input)))
    }

    fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(Self(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for FileKey {
    type Err = FileError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for FileKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FileKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The types Imprint stores: what a publication's downloads and images are. Decided from the
/// bytes at upload; a name's extension only has to agree with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    /// A report, summary or translation.
    Pdf,
    /// A cover image or photo.
    Png,
    /// A cover image or photo.
    Jpeg,
    /// A cover image or photo.
    Webp,
    /// Data sets and office documents (xlsx, docx, zip) are zip archives.
    Zip,
    /// Data as comma-separated values: UTF-8 text.
    Csv,
    /// Data as JSON: UTF-8 text.
    Json,
    /// Plain UTF-8 text (read-me files, code books).
    Text,
}

impl MediaType {
    /// Every type, for messages and tests.
    pub const ALL: [Self; 8] = [
        Self::Pdf,
        Self::Png,
        Self::Jpeg,
        Self::Webp,
        Self::Zip,
        Self::Csv,
        Self::Json,
        Self::Text,
    ];

    /// The IANA media type, as `Content-Type` carries it.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Zip => "application/zip",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Text => "text/plain; charset=utf-8",
        }
    }

    /// The type whose IANA name is `mime` (parameters ignored).
    pub fn from_mime(mime: &str) -> Result<Self, FileError> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.mime().split(';').next() == Some(essence.as_str()))
            .ok_or_else(|| {
                FileError::MediaType(
                    shorten(mime),
                    "use a PDF, PNG, JPEG, WebP, zip, CSV, JSON or text file",
                )
            })
    }

    /// Whether pages may show it as an image.
    pub fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::Webp)
    }

    /// Whether its bytes are text (sniffed as UTF-8, not by magic numbers).
    pub fn is_text(self) -> bool {
        matches!(self, Self::Csv | Self::Json | Self::Text)
    }

    /// The extensions a name of this type may have (office documents are zip archives).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Pdf => &["pdf"],
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::Webp => &["webp"],
            Self::Zip => &["zip", "xlsx", "docx", "pptx", "odt", "ods"],
            Self::Csv => &["csv"],
            Self::Json => &["json"],
            Self::Text => &["txt", "md"],
        }
    }

    /// What the type is called in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF",
            Self::Png => "a PNG image",
            Self::Jpeg => "a JPEG image",
            Self::Webp => "a WebP image",
            Self::Zip => "a zip archive",
            Self::Csv => "CSV text",
            Self::Json => "JSON",
            Self::Text => "plain text",
        }
    }

    /// The type a name's extension claims, if it claims one Imprint knows.
    pub fn claimed_by(name: &FileName) -> Option<Self> {
        let ext = name.extension()?.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.extensions().contains(&ext.as_str()))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

/// The name a file is downloaded under: one path segment of printable characters, so that it
/// can never climb out of a directory nor break a header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Checks `input` (trimmed): not empty, at most [`MAX_FILE_NAME_BYTES`], no `/` or `\`, no
    /// control characters, not `.` or `..`.
    pub fn parse(input: &str) -> Result<Self, FileError> {
        let name = input.trim();
        let refuse = |reason| FileError::Name {
            name: shorten(input),
            reason,
        };
        if name.is_empty() {
            return Err(refuse("is empty"));
        }
        if name.len() > MAX_FILE_NAME_BYTES {
            return Err(refuse("is longer than 255 bytes"));
        }
        if name.contains(['/', '\\']) {
            return Err(refuse("contains a path separator: send the name alone"));
        }
        if name.chars().any(char::is_control) {
            return Err(refuse("contains control characters"));
        }
        if name == "." || name == ".." {
            return Err(refuse("is not a name"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What follows the last dot, if anything does.
    pub fn extension(&self) -> Option<&str> {
        let (stem, ext) = self.0.rsplit_once('.')?;
        (!stem.is_empty() && !ext.is_empty()).then_some(ext)
    }

    /// The name with only ASCII letters, digits and `._-` (others become `_`): the fallback
    /// `filename=` of `Content-Disposition` beside the exact UTF-8 `filename*=`.
    pub fn ascii_fallback(&self) -> String {
        self.0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl TryFrom<String> for FileName {
    type Error = FileError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<FileName> for String {
    fn from(value: FileName) -> Self {
        value.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_refuse_what_is_not_one() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let key = FileKey::parse(hex).unwrap();
        assert_eq!(key.hex(), hex);
        assert_eq!(key.to_string(), format!("sha256:{hex}"));
        assert_eq!(FileKey::parse(&key.to_string()).unwrap(), key);
        assert_eq!(FileKey::parse(&hex.to_uppercase()).unwrap(), key);
        for bad in [
            "",
            "sha256:",
            &hex[1..],
            &format!("{hex}0"),
            &hex.replace('e', "g"),
        ] {
            assert!(FileKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_one_printable_segment() {
        assert_eq!(
            FileName::parse(" report.pdf ").unwrap().as_str(),
            "report.pdf"
        );
        for bad in [
            "",
            "../etc/passwd",
            "a/b.pdf",
            "a\\b.pdf",
            "a\u{0}.pdf",
            "x\n.pdf",
            "..",
            ".",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FileName::parse(&"a".repeat(256)).is_err());
        let name = FileName::parse("Rapport – été.pdf").unwrap();
        assert_eq!(name.ascii_fallback(), "Rapport____t_.pdf");
        assert_eq!(MediaType::claimed_by(&name), Some(MediaType::Pdf));
        assert_eq!(
            MediaType::claimed_by(&FileName::parse(".pdf").unwrap()),
            None
        );
        assert_eq!(
            MediaType::claimed_by(&FileName::parse("Data.XLSX").unwrap()),
            Some(MediaType::Zip)
        );
    }

    #[test]
    fn media_types_by_their_iana_names() {
        for t in MediaType::ALL {
            assert_eq!(MediaType::from_mime(t.mime()).unwrap(), t);
        }
        assert_eq!(
            MediaType::from_mime("Application/PDF").unwrap(),
            MediaType::Pdf
        );
        assert!(MediaType::from_mime("application/x-msdownload").is_err());
    }
}
