//! Stored files: the key that names their bytes (SHA-256, so identical bytes are stored once),
//! the types Imprint takes (decided from the bytes, never from the name alone), and the name a
//! download is offered under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Violations;
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
        // Bidirectional overrides make `report\u{202e}fdp.exe` show as `reportexe.pdf`.
        let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if name.chars().any(bidi) {
            return Err(refuse("contains bidirectional formatting characters"));
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

/// The most files a paper may list.
pub const MAX_ATTACHMENTS: usize = 20;
/// The longest label of a download, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// The longest alternative text of an image, in characters.
pub const MAX_ALT_CHARS: usize = 500;

/// What a file is to its paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// The full report: what `citation_pdf_url` names.
    Report,
    /// A summary or brief of it.
    Summary,
    /// The report in another language.
    Translation,
    /// A data set behind it.
    Data,
    /// Anything else worth downloading (an annex, slides).
    Supplement,
}

impl AttachmentKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Report,
        Self::Summary,
        Self::Translation,
        Self::Data,
        Self::Supplement,
    ];

    /// Its name in JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Summary => "summary",
            Self::Translation => "translation",
            Self::Data => "data",
            Self::Supplement => "supplement",
        }
    }

    /// What a download of this kind is called when it has no label of its own.
    pub fn default_label(self) -> &'static str {
        match self {
            Self::Report => "Download the report",
            Self::Summary => "Summary",
            Self::Translation => "Translation",
            Self::Data => "Data",
            Self::Supplement => "Supplementary material",
        }
    }

    /// Reports, summaries and translations are documents: PDFs.
    fn needs_pdf(self) -> bool {
        matches!(self, Self::Report | Self::Summary | Self::Translation)
    }
}

/// A language as BCP 47 writes it (`fr`, `ar`, `zh-Hans`, `pt-BR`): its syntax checked, its
/// case normalised (language lower, script title, region upper).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LanguageTag(String);

impl LanguageTag {
    /// Parses `input`: a 2–3 letter language, then subtags of 1–8 letters or digits.
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        let bad = || {
            format!(
                "'{}' is not a language tag; use BCP 47, such as fr, ar, zh-Hans or pt-BR",
                shorten(input)
            )
        };
        let mut parts = trimmed.split(['-', '_']);
        let language = parts.next().unwrap_or_default();
        if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic())
        {
            return Err(bad());
        }
        let mut out = language.to_ascii_lowercase();
        for part in parts {
            if part.is_empty() || part.len() > 8 || !part.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(bad());
            }
            out.push('-');
            match part.len() {
                4 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                    let mut chars = part.chars();
                    out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                    out.push_str(&chars.as_str().to_ascii_lowercase());
                }
                2 => out.push_str(&part.to_ascii_uppercase()),
                _ => out.push_str(&part.to_ascii_lowercase()),
            }
        }
        if out.len() > 35 {
            return Err(bad());
        }
        Ok(Self(out))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LanguageTag {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<LanguageTag> for String {
    fn from(value: LanguageTag) -> Self {
        value.0
    }
}

/// What the store says of a file, as a paper references it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileFacts {
    /// Its length.
    pub size: u64,
    /// Its type, from its bytes.
    pub media_type: MediaType,
    /// Width and height, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<(u32, u32)>,
}

/// A file a paper offers for download.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    /// The file.
    pub file: FileKey,
    /// What it is to the paper.
    pub kind: AttachmentKind,
    /// The name it is downloaded under: unique within the paper.
    pub name: FileName,
    /// What the download link says; `None`: the kind's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its language, when not the paper's (a translation's must be given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<LanguageTag>,
    /// Its size and type, as stored when the paper referenced it.
    pub facts: FileFacts,
    /// What was made of its text, for a PDF (`None`: not a PDF, or stored before text was
    /// extracted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextExtraction>,
}

/// What was made of a PDF's text when it was stored: search, related publications and the
/// paper's body use it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TextExtraction {
    /// The text was read.
    Extracted {
        /// How many characters.
        characters: u64,
        /// From how many pages.
        pages: u32,
    },
    /// It could not be read (a scan without a text layer, a damaged or encrypted file): the
    /// file is still stored and served.
    Failed {
        /// Why, for the editor.
        reason: String,
    },
}

/// A PDF's text as extracted, with what became of the extraction: what the store keeps beside
/// the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileText {
    /// Whether it was read.
    pub extraction: TextExtraction,
    /// The text (empty when it was not read).
    #[serde(default)]
    pub text: String,
}

impl FileText {
    /// An extraction that failed for `reason`.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self {
            extraction: TextExtraction::Failed {
                reason: reason.into(),
            },
            text: String::new(),
        }
    }

    /// The text, if it was read.
    pub fn extracted(&self) -> Option<&str> {
        match self.extraction {
            TextExtraction::Extracted { .. } => Some(&self.text),
            TextExtraction::Failed { .. } => None,
        }
    }
}

/// The extracted texts of the PDFs an input references, by key (the service fills it from the
/// store; a PDF without an entry has had no extraction).
pub type StoredTexts = std::collections::BTreeMap<FileKey, FileText>;

/// An image shown with what it shows: a paper's cover, an author's photo.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Image {
    /// The image.
    pub file: FileKey,
    /// What it shows, for readers who cannot see it.
    pub alt: String,
    /// Its size, type and dimensions.
    pub facts: FileFacts,
    /// Its smaller copies, narrowest first (none for a small image, or one stored before
    /// copies were made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<Rendition>,
}

/// A smaller copy of an image, made when it was stored: a file of its own, for `srcset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rendition {
    /// The copy.
    pub file: FileKey,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// Its length.
    pub size: u64,
    /// Its type.
    pub media_type: MediaType,
}

/// The smaller copies of the images an input references, by the image's key (the service
/// fills it from the store).
pub type StoredRenditions = std::collections::BTreeMap<FileKey, Vec<Rendition>>;

/// A paper's downloads, in the order its page lists them, and its cover image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PaperFiles {
    /// The downloads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<Image>,
}

/// A download as an editor sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentInput {
    /// `sha256:<hex>` of an uploaded file.
    pub file_key: String,
    /// Its kind; `None` when unspecified.
    pub kind: Option<AttachmentKind>,
    /// Its download name.
    pub name: String,
    /// Its label; empty: the kind's.
    pub label: String,
    /// Its language; empty: the paper's.
    pub language: String,
    /// Whether its extracted text is to become the paper's body, replacing it.
    pub use_text_as_body: bool,
}

/// An image as an editor sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInput {
    /// `sha256:<hex>` of an uploaded image.
    pub file_key: String,
    /// What it shows.
    pub alt: String,
}

impl PaperFiles {
    /// Whether the paper has neither downloads nor a cover.
    pub fn is_empty(&self) -> bool {
        self.attachments.is_empty() && self.cover.is_none()
    }

    /// Every file referenced, the cover and its copies included.
    pub fn keys(&self) -> impl Iterator<Item = FileKey> + '_ {
        self.attachments
            .iter()
            .map(|a| a.file)
            .chain(self.cover.iter().flat_map(Image::keys))
    }

    /// The keys `attachments` and `cover` name, parsed, for the service to look up in the store
    /// before parsing; a key that does not parse is reported by the parse.
    pub fn requested(attachments: &[AttachmentInput], cover: Option<&ImageInput>) -> Vec<FileKey> {
        attachments
            .iter()
            .map(|a| a.file_key.as_str())
            .chain(cover.map(|c| c.file_key.as_str()))
            .filter_map(|k| FileKey::parse(k).ok())
            .collect()
    }

    /// Validates the downloads an editor sent, given what the store holds (`stored`: each
    /// file's facts, `None` when it is not stored). Paths are `[1].name`, for the caller to put
    /// under its field.
    pub fn parse_attachments(
        inputs: &[AttachmentInput],
        stored: &StoredFiles,
        texts: &StoredTexts,
    ) -> Result<Vec<Attachment>, Violations> {
        let mut v = Violations::new();
        if inputs.len() > MAX_ATTACHMENTS {
            v.push(
                "",
                format!("at most {MAX_ATTACHMENTS} files (got {})", inputs.len()),
            );
            return Err(v);
        }
        let mut parsed: Vec<Attachment> = Vec::new();
        let mut body_from = None;
        for (i, input) in inputs.iter().enumerate() {
            if input.use_text_as_body {
                if let Some(first) = body_from {
                    v.push(
                        format!("[{i}].use_text_as_body"),
                        format!("only one file's text can be the body; [{first}] asks too"),
                    );
                }
                body_from.get_or_insert(i);
            }
            let Some(a) = v.nested(&format!("[{i}]"), parse_attachment(input, stored, texts))
            else {
                continue;
            };
            if parsed.iter().any(|p| p.name == a.name) {
                v.push(
                    format!("[{i}].name"),
                    format!("another file of this paper is named '{}'", a.name),
                );
            }
            if a.kind == AttachmentKind::Report
                && parsed.iter().any(|p| p.kind == AttachmentKind::Report)
            {
                v.push(
                    format!("[{i}].kind"),
                    "a paper has one full report; call this one a summary, translation or supplement",
                );
            }
            parsed.push(a);
        }
        v.into_result(|| parsed)
    }

    /// The text `attachments` give the paper as its body: that of the one the editor marked
    /// `use_text_as_body`, or, when the body is empty, the full report's; `None`: the body
    /// stays. The parse of the attachments refused a mark on a file without text.
    pub fn body_text<'t>(
        inputs: &[AttachmentInput],
        attachments: &[Attachment],
        texts: &'t StoredTexts,
        body_is_empty: bool,
    ) -> Option<&'t str> {
        let text_of = |key: &FileKey| texts.get(key).and_then(FileText::extracted);
        let marked = inputs
            .iter()
            .find(|a| a.use_text_as_body)
            .and_then(|a| FileKey::parse(&a.file_key).ok());
        if let Some(key) = marked {
            return text_of(&key);
        }
        if !body_is_empty {
            return None;
        }
        attachments
            .iter()
            .find(|a| a.kind == AttachmentKind::Report)
            .and_then(|a| text_of(&a.file))
            .filter(|t| !t.trim().is_empty())
    }

    /// Validates the cover an editor sent (`None`: no cover), given what the store holds.
    pub fn parse_cover(
        input: Option<&ImageInput>,
        stored: &StoredFiles,
        renditions: &StoredRenditions,
    ) -> Result<Option<Image>, Violations> {
        Image::parse(input, stored, renditions, "cover")
    }
}

impl Image {
    /// The image and its copies.
    pub fn keys(&self) -> impl Iterator<Item = FileKey> + '_ {
        std::iter::once(self.file).chain(self.renditions.iter().map(|r| r.file))
    }

    /// Whether `key` is this image or one of its copies, and which.
    pub fn offers(&self, key: &FileKey) -> Option<(FileKey, MediaType)> {
        if *key == self.file {
            return Some((self.file, self.facts.media_type));
        }
        self.renditions
            .iter()
            .find(|r| r.file == *key)
            .map(|r| (r.file, r.media_type))
    }

    /// Validates an image an editor sent as `what` (`None`, or both fields blank: none), given
    /// what the store holds of it and its copies.
    pub fn parse(
        input: Option<&ImageInput>,
        stored: &StoredFiles,
        renditions: &StoredRenditions,
        what: &str,
    ) -> Result<Option<Self>, Violations> {
        let Some(input) =
            input.filter(|c| !c.file_key.trim().is_empty() || !c.alt.trim().is_empty())
        else {
            return Ok(None);
        };
        let mut v = Violations::new();
        let alt = input.alt.trim();
        if alt.is_empty() {
            v.push(
                "alt",
                "required: say what the image shows, for readers who cannot see it",
            );
        } else if alt.chars().count() > MAX_ALT_CHARS {
            v.push("alt", format!("at most {MAX_ALT_CHARS} characters"));
        }
        let found = described(&mut v, "file_key", &input.file_key, stored);
        if let Some((_, facts)) = &found
            && !facts.media_type.is_image()
        {
            v.push(
                "file_key",
                format!(
                    "a {what} must be a PNG, JPEG or WebP image; this file is {}",
                    facts.media_type.label()
                ),
            );
        }
        match found {
            Some((file, facts)) => v.into_result(|| {
                Some(Self {
                    file,
                    alt: alt.to_owned(),
                    facts,
                    renditions: renditions.get(&file).cloned().unwrap_or_default(),
                })
            }),
            None => Err(v),
        }
    }
}

/// What the store holds of the files an input references: each key looked up, with its facts
/// (the type from its bytes, text as plain text), or why the store refuses it.
pub type StoredFiles = std::collections::BTreeMap<FileKey, Result<FileFacts, String>>;

fn described(
    v: &mut Violations,
    field: &str,
    key: &str,
    stored: &StoredFiles,
) -> Option<(FileKey, FileFacts)> {
    let key = v.check(field, FileKey::parse(key))?;
    match stored.get(&key) {
        None => {
            v.push(
                field,
                format!("no file {key} is stored: upload it first (POST /editor/v1/files)"),
            );
            None
        }
        Some(Err(why)) => {
            v.push(field, why);
            None
        }
        Some(Ok(facts)) => Some((key, *facts)),
    }
}

/// The type a file is referenced as: the bytes' type, which the name's extension must agree
/// with; text is whichever text type the name says (CSV, JSON, plain).
fn as_named(found: MediaType, name: &FileName) -> Result<MediaType, String> {
    match MediaType::claimed_by(name) {
        None => Ok(found),
        Some(claimed) if claimed == found => Ok(found),
        Some(claimed) if claimed.is_text() && found.is_text() => Ok(claimed),
        Some(claimed) => Err(format!(
            "the name says {} but the file is {}",
            claimed.label(),
            found.label()
        )),
    }
}

fn parse_attachment(
    input: &AttachmentInput,
    stored: &StoredFiles,
    texts: &StoredTexts,
) -> Result<Attachment, Violations> {
    let mut v = Violations::new();
    let name = v.check("name", FileName::parse(&input.name));
    let kind = input.kind;
    if kind.is_none() {
        v.push(
            "kind",
            "required: report, summary, translation, data or supplement",
        );
    }
    let label = input.label.trim();
    if label.chars().count() > MAX_LABEL_CHARS {
        v.push("label", format!("at most {MAX_LABEL_CHARS} characters"));
    }
    let language = (!input.language.trim().is_empty())
        .then(|| v.check("language", LanguageTag::parse(&input.language)))
        .flatten();
    if kind == Some(AttachmentKind::Translation) && input.language.trim().is_empty() {
        v.push(
            "language",
            "a translation needs its language (fr, ar, zh-Hans…)",
        );
    }
    let mut found = described(&mut v, "file_key", &input.file_key, stored);
    if let (Some(name), Some((_, facts))) = (name.as_ref(), found.as_mut()) {
        match as_named(facts.media_type, name) {
            Ok(t) => facts.media_type = t,
            Err(why) => v.push("name", why),
        }
    }
    if let (Some(kind), Some((_, facts))) = (kind, found.as_ref())
        && kind.needs_pdf()
        && facts.media_type != MediaType::Pdf
    {
        v.push(
            "file_key",
            format!(
                "a {} must be a PDF; this file is {}",
                kind.name(),
                facts.media_type.label()
            ),
        );
    }
    let text = found
        .as_ref()
        .and_then(|(file, _)| texts.get(file))
        .map(|t| t.extraction.clone());
    if input.use_text_as_body {
        match (&found, &text) {
            (Some((_, facts)), _) if facts.media_type != MediaType::Pdf => v.push(
                "use_text_as_body",
                format!(
                    "only a PDF's text can be the body; this file is {}",
                    facts.media_type.label()
                ),
            ),
            (Some(_), Some(TextExtraction::Failed { reason })) => v.push(
                "use_text_as_body",
                format!("no text could be read from this PDF: {reason}"),
            ),
            (Some(_), None) => v.push(
                "use_text_as_body",
                "no text has been read from this PDF yet; try again shortly",
            ),
            _ => {}
        }
    }
    match (name, kind, found) {
        (Some(name), Some(kind), Some((file, facts))) => v.into_result(|| Attachment {
            file,
            kind,
            name,
            label: (!label.is_empty()).then(|| label.to_owned()),
            language,
            facts,
            text,
        }),
        _ => Err(v),
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
            "report\u{202e}fdp.exe",
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

    fn key(n: u8) -> FileKey {
        FileKey::from_digest([n; 32])
    }

    fn pdf(n: u8, kind: AttachmentKind, name: &str, use_text_as_body: bool) -> AttachmentInput {
        AttachmentInput {
            file_key: key(n).to_string(),
            kind: Some(kind),
            name: name.to_owned(),
            use_text_as_body,
            ..AttachmentInput::default()
        }
    }

    fn stored(keys: &[(u8, MediaType)]) -> StoredFiles {
        keys.iter()
            .map(|(n, media_type)| {
                let facts = FileFacts {
                    size: 10,
                    media_type: *media_type,
                    dimensions: None,
                };
                (key(*n), Ok(facts))
            })
            .collect()
    }

    fn text(words: &str) -> FileText {
        FileText {
            extraction: TextExtraction::Extracted {
                characters: words.chars().count() as u64,
                pages: 1,
            },
            text: words.to_owned(),
        }
    }

    #[test]
    fn the_report_text_fills_an_empty_body_and_a_marked_file_replaces_any() {
        let files = stored(&[(1, MediaType::Pdf), (2, MediaType::Pdf)]);
        let texts: StoredTexts = [(key(1), text("the report")), (key(2), text("the summary"))]
            .into_iter()
            .collect();
        let inputs = vec![
            pdf(1, AttachmentKind::Report, "report.pdf", false),
            pdf(2, AttachmentKind::Summary, "summary.pdf", false),
        ];
        let parsed = PaperFiles::parse_attachments(&inputs, &files, &texts).unwrap();
        assert_eq!(
            parsed[0].text,
            Some(TextExtraction::Extracted {
                characters: 10,
                pages: 1
            })
        );
        let body = |inputs: &[AttachmentInput], empty| {
            PaperFiles::body_text(inputs, &parsed, &texts, empty).map(str::to_owned)
        };
        assert_eq!(body(&inputs, true).as_deref(), Some("the report"));
        assert_eq!(body(&inputs, false), None, "a written body stays");
        let marked = vec![
            pdf(1, AttachmentKind::Report, "report.pdf", false),
            pdf(2, AttachmentKind::Summary, "summary.pdf", true),
        ];
        assert_eq!(body(&marked, false).as_deref(), Some("the summary"));
    }

    #[test]
    fn a_mark_on_a_file_without_text_is_refused_naming_why() {
        let files = stored(&[
            (1, MediaType::Pdf),
            (2, MediaType::Csv),
            (3, MediaType::Pdf),
        ]);
        let texts: StoredTexts = [(key(1), FileText::failed("the PDF is encrypted"))]
            .into_iter()
            .collect();
        let inputs = vec![
            pdf(1, AttachmentKind::Report, "report.pdf", true),
            AttachmentInput {
                file_key: key(2).to_string(),
                kind: Some(AttachmentKind::Data),
                name: "data.csv".to_owned(),
                use_text_as_body: true,
                ..AttachmentInput::default()
            },
            pdf(3, AttachmentKind::Summary, "summary.pdf", false),
        ];
        let v = PaperFiles::parse_attachments(&inputs, &files, &texts).unwrap_err();
        let text = v.to_string();
        assert!(text.contains("[0].use_text_as_body"), "{text}");
        assert!(text.contains("the PDF is encrypted"), "{text}");
        assert!(text.contains("[1].use_text_as_body"), "{text}");
        assert!(text.contains("only one file's text"), "{text}");
        assert!(text.contains("only a PDF's text"), "{text}");
        // A PDF with no text is listed without an outcome, and the failed one says why.
        let fine = vec![
            pdf(1, AttachmentKind::Report, "report.pdf", false),
            inputs[2].clone(),
        ];
        let parsed = PaperFiles::parse_attachments(&fine, &files, &texts).unwrap();
        assert!(matches!(
            parsed[0].text,
            Some(TextExtraction::Failed { .. })
        ));
        assert_eq!(parsed[1].text, None);
        assert_eq!(PaperFiles::body_text(&fine, &parsed, &texts, true), None);
    }
}
