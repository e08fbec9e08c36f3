//! A PDF's text, read when it is uploaded so that search, related publications and the paper's
//! body can use it. The reader (`pdf-extract`, over `lopdf`) is pure Rust, but a hostile file
//! can make it panic, run for ever or recurse until the stack overflows (a form that draws
//! itself), which no panic guard catches. So the server reads each PDF in a child process of
//! its own binary (`imprint read-pdf-text`, see [`read_in_child_processes`]): killed at the time
//! limit, its crash the file's failure and never the server's. Where no binary is set (a test
//! that runs the services in its own process) the reading runs on the blocking pool behind a
//! panic guard. Either way a bound limits how many run at once, and a file that cannot be
//! read is still stored and served, the failure being what the editor sees.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::StoreError;

use imprint_domain::file::{FileText, TextExtraction};
use tokio::sync::Semaphore;

/// The largest PDF read for its text: the reader holds the whole file, parsed, in memory.
pub const MAX_PDF_BYTES: u64 = 256 * 1024 * 1024;
/// How long one file's reading may take before it is reported as failed.
pub const EXTRACTION_TIMEOUT: Duration = Duration::from_secs(120);
/// The most characters of a PDF's text kept: twice a body's limit, for search and the body.
/// A hostile file can inflate to gigabytes of text; the reader's answer stays this small.
pub const MAX_TEXT_CHARS: usize = 2_000_000;
/// Readings at once in one process (one per core here): more wait their turn.
const CONCURRENT_EXTRACTIONS: usize = 2;

/// The subcommand of the server's binary that reads one PDF's text: the PDF on its standard
/// input, the [`FileText`] as JSON on its standard output.
pub const READER_COMMAND: &str = "read-pdf-text";

/// The binary whose [`READER_COMMAND`] reads PDFs, once the server has said so.
static READER: OnceLock<PathBuf> = OnceLock::new();

/// Reads every PDF from now on in a child process, `program read-pdf-text`: what the server's
/// binary says of itself when it starts serving. Only the first call counts.
pub fn read_in_child_processes(program: PathBuf) {
    let _ = READER.set(program);
}

/// The child's side of [`READER_COMMAND`]: reads a PDF of at most [`MAX_PDF_BYTES`] from
/// standard input and writes what was made of its text, as JSON, to standard output.
pub fn serve_reader() -> std::io::Result<()> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_PDF_BYTES + 1)
        .read_to_end(&mut bytes)?;
    let text = if bytes.len() as u64 > MAX_PDF_BYTES {
        FileText::failed("the PDF is too large to read its text")
    } else {
        extract_pdf(&bytes)
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &text).map_err(std::io::Error::other)?;
    out.flush()
}

/// Reads PDFs' text, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct Extractor {
    permits: Arc<Semaphore>,
}

impl Default for Extractor {
    fn default() -> Self {
        Self {
            permits: Arc::new(Semaphore::new(CONCURRENT_EXTRACTIONS)),
        }
    }
}

/// What a reading came to, and whether it is worth keeping.
#[derive(Debug)]
pub enum Outcome {
    /// Final for these bytes (the text, or why these bytes have none): kept beside the file.
    Final(FileText),
    /// This attempt only (every reader busy past the time limit): not kept, so a later
    /// reference tries again.
    Transient(FileText),
}

impl Outcome {
    /// What the editor is told either way.
    pub fn text(&self) -> &FileText {
        match self {
            Self::Final(t) | Self::Transient(t) => t,
        }
    }
}

impl Extractor {
    /// The text of the PDF `bytes`, read on the blocking pool within [`EXTRACTION_TIMEOUT`].
    /// The text of the PDF whose bytes `chunks` bring, streamed to the child reader (the
    /// server never holds the whole file; the child does), or gathered for the in-process one.
    pub async fn extract(&self, mut chunks: Chunks) -> Result<Outcome, StoreError> {
        let Ok(Ok(permit)) =
            tokio::time::timeout(EXTRACTION_TIMEOUT, self.permits.clone().acquire_owned()).await
        else {
            return Ok(Outcome::Transient(FileText::failed(
                "every text reader was busy; the text is read when the file is next attached",
            )));
        };
        if let Some(program) = READER.get() {
            // The child is killed when its time is up, and the permit released with it.
            let outcome = in_child(program, chunks).await;
            drop(permit);
            return outcome;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = chunks.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        // The permit goes with the reading: a file that never finishes keeps its reader, so
        // runaway readings can never outnumber the bound.
        let reading = tokio::task::spawn_blocking(move || {
            let text = extract_pdf(&bytes);
            drop(permit);
            text
        });
        Ok(
            match tokio::time::timeout(EXTRACTION_TIMEOUT, reading).await {
                Ok(Ok(text)) => Outcome::Final(text),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "a PDF's text reading failed");
                    Outcome::Transient(FileText::failed("the text reader failed; try again"))
                }
                Err(_) => Outcome::Final(FileText::failed(format!(
                    "reading its text took longer than {} s",
                    EXTRACTION_TIMEOUT.as_secs()
                ))),
            },
        )
    }
}

/// The bytes of a stored file as the store reads them.
pub type Chunks = futures::stream::BoxStream<'static, Result<bytes::Bytes, StoreError>>;

/// The text of the PDF `chunks` bring as `program read-pdf-text` reads it, within the time
/// limit; a store failure while the file is read is the caller's.
async fn in_child(program: &Path, mut chunks: Chunks) -> Result<Outcome, StoreError> {
    let spawned = tokio::process::Command::new(program)
        .arg(READER_COMMAND)
        // Nothing of the server's configuration or secrets goes to the reader.
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(program = %program.display(), error = %e, "the PDF text reader could not be started");
            return Ok(Outcome::Transient(FileText::failed(
                "the text reader could not be started; the text is read when the file is next attached",
            )));
        }
    };
    let stdin = child.stdin.take();
    let feed = async move {
        let Some(mut stdin) = stdin else {
            return Ok(());
        };
        while let Some(chunk) = chunks.next().await {
            // A reader that gives up early closes its input: its answer says why.
            if stdin.write_all(&chunk?).await.is_err() {
                break;
            }
        }
        Ok::<(), StoreError>(())
    };
    let run = async move { tokio::join!(feed, child.wait_with_output()) };
    let answered = match tokio::time::timeout(EXTRACTION_TIMEOUT, run).await {
        Ok((fed, output)) => {
            fed?;
            Ok(output)
        }
        Err(elapsed) => Err(elapsed),
    };
    Ok(match answered {
        Err(_) => Outcome::Final(FileText::failed(format!(
            "reading its text took longer than {} s",
            EXTRACTION_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the PDF text reader failed");
            Outcome::Transient(FileText::failed("the text reader failed; try again"))
        }
        Ok(Ok(output)) if output.status.success() => {
            match serde_json::from_slice::<FileText>(&output.stdout) {
                Ok(text) => Outcome::Final(text),
                Err(e) => {
                    tracing::warn!(error = %e, "the PDF text reader's answer did not parse");
                    Outcome::Transient(FileText::failed("the text reader failed; try again"))
                }
            }
        }
        Ok(Ok(output)) => {
            use std::os::unix::process::ExitStatusExt;
            tracing::warn!(status = %output.status, "a PDF made the text reader fail");
            // Killed (out of memory, or the pod stopping): not a property of the file, so
            // not kept; an abort (the reader's stack overflowed on the file) is.
            if output.status.signal() == Some(9) {
                return Ok(Outcome::Transient(FileText::failed(
                    "the text reader was stopped; the text is read when the file is next attached",
                )));
            }
            Outcome::Final(FileText::failed(
                "the PDF's structure made the text reader fail (a damaged or hostile file)",
            ))
        }
    })
}

/// The text of the PDF `bytes`, page by page, or why there is none. Never panics: the reader's
/// panics on damaged files are caught and reported as the failure.
pub fn extract_pdf(bytes: &[u8]) -> FileText {
    let read = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    }));
    let pages = match read {
        Ok(Ok(pages)) => pages,
        Ok(Err(e)) => return FileText::failed(describe(&e)),
        Err(_) => {
            return FileText::failed(
                "the PDF's structure is damaged or uses features the text reader does not know",
            );
        }
    };
    let mut text = pages
        .iter()
        .map(|p| tidy(p))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let characters = text.chars().count() as u64;
    if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(cut);
    }
    if text.is_empty() {
        return FileText::failed(
            "the PDF has no text layer (a scan or images only): nothing could be read",
        );
    }
    FileText {
        extraction: TextExtraction::Extracted {
            characters,
            pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        },
        text,
    }
}

/// The reader's error, as the editor reads it.
fn describe(e: &pdf_extract::OutputError) -> String {
    let detail = e.to_string();
    let lower = detail.to_lowercase();
    if lower.contains("encrypt") || lower.contains("password") || lower.contains("decrypt") {
        return "the PDF is encrypted: its text cannot be read without its password".to_owned();
    }
    let detail: String = detail.chars().take(300).collect();
    format!("the PDF could not be read: {detail}")
}

/// One page's text with control characters dropped, each line's trailing spaces trimmed, and
/// runs of blank lines made one.
fn tidy(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut blank = 0;
    for line in page.lines() {
        let line: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_tidied() {
        assert_eq!(tidy("  a \t\n\n\n\u{0}b\u{7}  \n c"), "  a\n\nb\n c");
        assert_eq!(tidy("\n\n"), "");
    }

    #[test]
    fn what_is_no_pdf_fails_with_a_reason_and_no_panic() {
        for bytes in [
            &b""[..],
            b"%PDF-1.7\n",
            b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
            b"\x89PNG\r\n\x1a\n",
        ] {
            let text = extract_pdf(bytes);
            assert!(
                matches!(text.extraction, TextExtraction::Failed { ref reason } if !reason.is_empty()),
                "{bytes:?}: {text:?}"
            );
        }
    }
}
