//! `imprint import FILE`: loads publication metadata (JSON Lines, gzip or plain, shaped like
//! `shared/data`) through the public gRPC API of a running Imprint, as any client would. Authors
//! are matched by name (ignoring case, accents and spacing) or created; papers are created and
//! published in batches, each record's `id` kept as the paper's `external_id`.
//!
//! Resumable: papers whose `external_id` the server already holds are skipped, so running the
//! same command again after an interruption picks up where it stopped. A record the server
//! refuses is reported with its line, id and reason, and the import goes on.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use imprint_platform::clients::Peer;
use imprint_proto::authors::author_service_client::AuthorServiceClient;
use imprint_proto::authors::{
    Author, BatchCreateAuthorsRequest, CreateAuthorRequest, ListAuthorsRequest,
};
use imprint_proto::convert::{publication_type_to_proto, timestamp};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{
    Attachment, AttachmentKind, BatchCreatePapersRequest, CreatePaperRequest, ListPapersRequest,
    Paper, PaperView,
};
use tonic::{Code, Status};

use crate::command::{CallFailed, failed};
use crate::dataset::{self, Record};
use crate::upload::Uploader;

/// Papers per `BatchCreatePapers` call by default.
pub const DEFAULT_BATCH: usize = 200;
/// The most the papers service takes per call.
pub const MAX_BATCH: usize = imprint_domain::limits::MAX_PAPER_BATCH;
/// Authors per `BatchCreateAuthors` call: the most the service takes (names alone, far under
/// its message limit).
const AUTHOR_BATCH: usize = imprint_domain::limits::MAX_AUTHOR_BATCH;
/// Attempts at a call the server could not take (restarting, overloaded) before giving up.
const ATTEMPTS: u32 = 6;

/// What to import and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The records.
    pub file: PathBuf,
    /// The server's gRPC URL.
    pub server: String,
    /// Bearer token for it.
    pub token: Option<String>,
    /// Papers per call.
    pub batch: usize,
    /// The gateway's public listener (`http://host:port`), where records' files go.
    pub files_url: String,
    /// Draw a progress bar (else a line every few seconds).
    pub progress: bool,
}

/// A record that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its line in the file, from 1.
    pub line: usize,
    /// Its id, when it has one.
    pub id: Option<String>,
    /// Why, naming the field.
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "line {} (id {id}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Records in the file.
    pub records: usize,
    /// Papers created and published.
    pub imported: usize,
    /// Records whose paper was already there (an earlier run).
    pub existing: usize,
    /// Authors created.
    pub authors_created: usize,
    /// Files the records name, uploaded.
    pub files_uploaded: usize,
    /// Records refused.
    pub rejected: Vec<Rejection>,
    /// Records whose text carried Windows-1252 punctuation as C1 control characters (text
    /// decoded as Latin-1 somewhere upstream), put right before sending.
    pub repaired: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// A record on its way in.
struct Pending {
    line: usize,
    record: Record,
    /// Its report, once uploaded.
    report: Option<Attachment>,
}

/// The importer's state.
struct Importer {
    papers: PaperServiceClient<Peer>,
    authors: AuthorServiceClient<Peer>,
    /// Author ids by folded name.
    author_ids: HashMap<String, String>,
    /// External ids the server holds, or this run imported.
    known: HashSet<String>,
    summary: Summary,
    progress: Progress,
    /// Uploads the files records name.
    uploader: Uploader,
    /// What relative file paths are relative to: the records file's directory.
    base_dir: PathBuf,
}

/// Why an import stopped. Records the server refuses do not stop it: they are reported in
/// the summary.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `--batch` out of range.
    #[error("--batch: must be between 1 and {MAX_BATCH}")]
    Batch,
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] dataset::ReadError),
    /// The server's address or the token cannot make a link.
    #[error(transparent)]
    Link(#[from] imprint_platform::clients::LinkError),
    /// A call failed for a reason other than the records sent (after retries).
    #[error("{failed}{advice}", failed = .0, advice = resume_advice(.0))]
    Call(#[from] CallFailed),
    /// The server refused a batch for a reason that names no record of it.
    #[error("the server refused the {what} as a whole: {field}: {message}")]
    RefusedWhole {
        /// `batch` or `authors`.
        what: &'static str,
        /// The field path it named.
        field: String,
        /// Its description.
        message: String,
    },
    /// The server refused a batch without naming a field.
    #[error("the server refused the {what} without naming {which}: {message}")]
    RefusedUnnamed {
        /// `batch` or `authors`.
        what: &'static str,
        /// What it should have named.
        which: &'static str,
        /// Its message.
        message: String,
    },
}

/// After a failure not of the caller's token, how to go on.
fn resume_advice(failed: &CallFailed) -> &'static str {
    if failed.is_authorization() {
        ""
    } else {
        "; nothing of the current batch was written. Run the same command again to resume"
    }
}

/// Runs an import, printing each rejection and the progress to stderr.
pub async fn run(options: &Options) -> Result<Summary, ImportError> {
    let started = Instant::now();
    if options.batch == 0 || options.batch > MAX_BATCH {
        return Err(ImportError::Batch);
    }
    let total = count(&options.file)?;
    let channel =
        imprint_platform::clients::peer(&options.server, 60_000, options.token.as_deref())?;
    let mut importer = Importer {
        papers: PaperServiceClient::new(channel.clone())
            .max_decoding_message_size(64 * 1024 * 1024),
        authors: AuthorServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
        author_ids: HashMap::new(),
        known: HashSet::new(),
        summary: Summary {
            records: total,
            ..Summary::default()
        },
        progress: Progress::new(total, options.progress),
        uploader: Uploader::new(
            options.files_url.clone(),
            options.token.clone().unwrap_or_default(),
        ),
        base_dir: options
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    importer.load_existing().await?;
    let mut batch: Vec<Pending> = Vec::with_capacity(options.batch);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, parsed) in dataset::records(&options.file)? {
        let record = match parsed {
            Ok(r) => r,
            Err(reason) => {
                importer.reject(line, None, reason.to_string());
                continue;
            }
        };
        let id = record.id.trim().to_owned();
        if id.is_empty() {
            importer.reject(line, None, "id: must not be empty".to_owned());
            continue;
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            importer.reject(
                line,
                Some(id),
                format!("id: the same id is on line {first}"),
            );
            continue;
        }
        if importer.known.contains(&id) {
            importer.summary.existing += 1;
            importer.progress.advance(1, &importer.summary);
            continue;
        }
        let mut record = record;
        if repair(&mut record) {
            importer.summary.repaired += 1;
        }
        batch.push(Pending {
            line,
            record,
            report: None,
        });
        if batch.len() == options.batch {
            importer.flush(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        importer.flush(batch).await?;
    }
    importer.progress.finish(&importer.summary);
    let mut summary = importer.summary;
    summary.rejected.sort_by_key(|r| r.line);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Non-empty lines of the file, for the progress bar.
fn count(path: &Path) -> Result<usize, dataset::ReadError> {
    use std::io::BufRead;
    let mut n = 0;
    for line in dataset::open(path)?.lines() {
        let line = line.map_err(dataset::ReadError::of(path))?;
        if !line.trim().is_empty() {
            n += 1;
        }
    }
    Ok(n)
}

/// Retries `call` while the server is unavailable, with doubling pauses.
async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    let mut pause = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(s)
                if attempt < ATTEMPTS
                    && matches!(
                        s.code(),
                        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted
                    ) =>
            {
                tracing::warn!(what, attempt, error = %s.message(), "retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The positions in `names` of the authors a refusal names, each noted in `refused` with why;
/// an error when it names none, or the request as a whole.
fn refused_authors(
    status: &tonic::Status,
    names: &[String],
    refused: &mut HashMap<String, String>,
) -> Result<HashSet<usize>, ImportError> {
    let mut bad: HashSet<usize> = HashSet::new();
    for (field, message) in imprint_proto::status::field_violations(status) {
        let Some((i, rest)) = request_index(&field) else {
            return Err(ImportError::RefusedWhole {
                what: "authors",
                field,
                message,
            });
        };
        if let Some(name) = names.get(i) {
            let rest = rest.strip_prefix("author.").unwrap_or(rest);
            refused.insert(
                imprint_domain::text::fold(name),
                format!("author '{name}': {rest}: {message}"),
            );
            bad.insert(i);
        }
    }
    if bad.is_empty() {
        return Err(ImportError::RefusedUnnamed {
            what: "authors",
            which: "one",
            message: status.message().to_owned(),
        });
    }
    Ok(bad)
}

/// The request index and the rest of a violation path such as `requests[3].paper.title`.
fn request_index(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("requests[")?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest.trim_start_matches('.')))
}

impl Importer {
    fn reject(&mut self, line: usize, id: Option<String>, reason: String) {
        let rejection = Rejection { line, id, reason };
        self.progress.note(&format!("rejected {rejection}"));
        self.summary.rejected.push(rejection);
        self.progress.advance(1, &self.summary);
    }

    /// Reads which papers and authors the server already has.
    async fn load_existing(&mut self) -> Result<(), ImportError> {
        let mut token = String::new();
        loop {
            let request = ListPapersRequest {
                page_size: 100,
                page_token: token.clone(),
                view: PaperView::Basic.into(),
                ..ListPapersRequest::default()
            };
            let page = retrying("listing papers", || {
                let mut papers = self.papers.clone();
                let request = request.clone();
                async move { papers.list_papers(request).await }
            })
            .await
            .map_err(failed("listing the papers already there"))?
            .into_inner();
            self.known.extend(
                page.papers
                    .into_iter()
                    .map(|p| p.external_id)
                    .filter(|e| !e.is_empty()),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let mut token = String::new();
        loop {
            let request = ListAuthorsRequest {
                page_size: 100,
                page_token: token.clone(),
                ..ListAuthorsRequest::default()
            };
            let page = retrying("listing authors", || {
                let mut authors = self.authors.clone();
                let request = request.clone();
                async move { authors.list_authors(request).await }
            })
            .await
            .map_err(failed("listing the authors already there"))?
            .into_inner();
            for author in page.authors {
                // The first (oldest by name order) of homonyms wins, as in later runs.
                self.author_ids
                    .entry(imprint_domain::text::fold(&author.name))
                    .or_insert(author.id);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        if !self.known.is_empty() {
            self.progress.note(&format!(
                "the server holds {} imported papers and {} authors; those papers are skipped",
                self.known.len(),
                self.author_ids.len()
            ));
        }
        Ok(())
    }

    /// Creates the authors `batch` needs, then its papers, published.
    async fn flush(&mut self, batch: Vec<Pending>) -> Result<(), ImportError> {
        let batch = self.upload_files(batch).await;
        let mut batch = self.create_authors(batch).await?;
        while !batch.is_empty() {
            let requests: Vec<CreatePaperRequest> = batch
                .iter()
                .map(|p| CreatePaperRequest {
                    paper: Some(Paper {
                        attachments: p.report.iter().cloned().collect(),
                        ..self.paper(&p.record)
                    }),
                })
                .collect();
            let request = BatchCreatePapersRequest {
                requests,
                publish: true,
            };
            let result = retrying("creating papers", || {
                let mut papers = self.papers.clone();
                let request = request.clone();
                async move { papers.batch_create_papers(request).await }
            })
            .await;
            match result {
                Ok(created) => {
                    let n = created.into_inner().papers.len();
                    for p in &batch {
                        self.known.insert(p.record.id.trim().to_owned());
                    }
                    self.summary.imported += n;
                    self.progress.advance(n, &self.summary);
                    return Ok(());
                }
                Err(status) if status.code() == Code::InvalidArgument => {
                    batch = self.drop_refused(batch, &status, "paper")?;
                }
                Err(status) if status.code() == Code::AlreadyExists => {
                    // Another import got there first: skip what exists now, retry the rest.
                    batch = self.drop_existing(batch).await?;
                }
                Err(status) => return Err(failed("creating papers")(status).into()),
            }
        }
        Ok(())
    }

    /// Removes the records `status` names, reporting each; fails when it names none.
    fn drop_refused(
        &mut self,
        batch: Vec<Pending>,
        status: &Status,
        resource: &str,
    ) -> Result<Vec<Pending>, ImportError> {
        let mut reasons: HashMap<usize, Vec<String>> = HashMap::new();
        for (field, message) in imprint_proto::status::field_violations(status) {
            let Some((i, rest)) = request_index(&field) else {
                return Err(ImportError::RefusedWhole {
                    what: "batch",
                    field,
                    message,
                });
            };
            let rest = rest
                .strip_prefix(resource)
                .map_or(rest, |r| r.trim_start_matches('.'));
            reasons.entry(i).or_default().push(if rest.is_empty() {
                message
            } else {
                format!("{rest}: {message}")
            });
        }
        if reasons.is_empty() {
            return Err(ImportError::RefusedUnnamed {
                what: "batch",
                which: "a record",
                message: status.message().to_owned(),
            });
        }
        let mut kept = Vec::with_capacity(batch.len());
        for (i, p) in batch.into_iter().enumerate() {
            match reasons.remove(&i) {
                Some(why) => {
                    let id = p.record.id.trim().to_owned();
                    self.reject(p.line, Some(id), why.join("; "));
                }
                None => kept.push(p),
            }
        }
        Ok(kept)
    }

    /// Uploads the files `batch`'s records name; a record whose file cannot be read or is
    /// refused is rejected with the reason.
    async fn upload_files(&mut self, batch: Vec<Pending>) -> Vec<Pending> {
        let mut kept = Vec::with_capacity(batch.len());
        for mut p in batch {
            let Some(file) = p
                .record
                .file
                .as_deref()
                .map(str::trim)
                .filter(|f| !f.is_empty())
            else {
                kept.push(p);
                continue;
            };
            let path = self.base_dir.join(file);
            match self.uploader.path(&path, None).await {
                Ok(uploaded) => {
                    p.report = Some(Attachment {
                        file_key: uploaded.key,
                        kind: AttachmentKind::Report.into(),
                        name: uploaded.name,
                        ..Attachment::default()
                    });
                    self.summary.files_uploaded += 1;
                    kept.push(p);
                }
                Err(e) => {
                    let id = p.record.id.trim().to_owned();
                    self.reject(p.line, Some(id), format!("file: {e}"));
                }
            }
        }
        kept
    }

    /// Removes the records whose paper exists now.
    async fn drop_existing(&mut self, batch: Vec<Pending>) -> Result<Vec<Pending>, ImportError> {
        let mut kept = Vec::with_capacity(batch.len());
        for p in batch {
            let id = p.record.id.trim().to_owned();
            let request = ListPapersRequest {
                external_id: id.clone(),
                page_size: 1,
                ..ListPapersRequest::default()
            };
            let found = retrying("looking up a paper", || {
                let mut papers = self.papers.clone();
                let request = request.clone();
                async move { papers.list_papers(request).await }
            })
            .await
            .map_err(failed("looking up a paper by external id"))?
            .into_inner()
            .papers;
            if found.is_empty() {
                kept.push(p);
            } else {
                self.known.insert(id);
                self.summary.existing += 1;
                self.progress.advance(1, &self.summary);
            }
        }
        Ok(kept)
    }

    /// Creates the authors of `batch` the server does not have; records whose author names
    /// the server refuses are rejected.
    async fn create_authors(&mut self, batch: Vec<Pending>) -> Result<Vec<Pending>, ImportError> {
        let missing = self.missing_authors(&batch);
        let mut refused: HashMap<String, String> = HashMap::new();
        for chunk in missing.chunks(AUTHOR_BATCH) {
            self.create_author_chunk(chunk.to_vec(), &mut refused)
                .await?;
        }
        if refused.is_empty() {
            return Ok(batch);
        }
        let mut kept = Vec::with_capacity(batch.len());
        for p in batch {
            let why: Vec<&str> = p
                .record
                .authors
                .iter()
                .filter_map(|n| refused.get(&imprint_domain::text::fold(n)))
                .map(String::as_str)
                .collect();
            if why.is_empty() {
                kept.push(p);
            } else {
                let id = p.record.id.trim().to_owned();
                self.reject(p.line, Some(id), why.join("; "));
            }
        }
        Ok(kept)
    }

    /// The names credited in `batch` that no author known so far has, each once.
    fn missing_authors(&self, batch: &[Pending]) -> Vec<String> {
        let mut missing: Vec<String> = Vec::new();
        let mut queued: HashSet<String> = HashSet::new();
        for p in batch {
            for name in &p.record.authors {
                let key = imprint_domain::text::fold(name);
                if !key.is_empty() && !self.author_ids.contains_key(&key) && queued.insert(key) {
                    missing.push(name.trim().to_owned());
                }
            }
        }
        missing
    }

    /// Creates the authors `names` in one call; those the server refuses go into `refused`
    /// (by folded name, with why) and the rest are sent again without them.
    async fn create_author_chunk(
        &mut self,
        mut names: Vec<String>,
        refused: &mut HashMap<String, String>,
    ) -> Result<(), ImportError> {
        while !names.is_empty() {
            let request = BatchCreateAuthorsRequest {
                requests: names
                    .iter()
                    .map(|name| CreateAuthorRequest {
                        author: Some(Author {
                            name: name.clone(),
                            ..Author::default()
                        }),
                    })
                    .collect(),
            };
            let result = retrying("creating authors", || {
                let mut authors = self.authors.clone();
                let request = request.clone();
                async move { authors.batch_create_authors(request).await }
            })
            .await;
            match result {
                Ok(created) => {
                    let created = created.into_inner().authors;
                    self.summary.authors_created += created.len();
                    for author in created {
                        self.author_ids
                            .insert(imprint_domain::text::fold(&author.name), author.id);
                    }
                    return Ok(());
                }
                Err(status) if status.code() == Code::InvalidArgument => {
                    let bad = refused_authors(&status, &names, refused)?;
                    names = names
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !bad.contains(i))
                        .map(|(_, n)| n)
                        .collect();
                }
                Err(status) => return Err(failed("creating authors")(status).into()),
            }
        }
        Ok(())
    }

    /// The paper a record becomes; its authors exist by now.
    fn paper(&self, r: &Record) -> Paper {
        let mut author_ids: Vec<String> = Vec::with_capacity(r.authors.len());
        for name in &r.authors {
            if let Some(id) = self.author_ids.get(&imprint_domain::text::fold(name)) {
                // A name twice in one byline is one credit.
                if !author_ids.contains(id) {
                    author_ids.push(id.clone());
                }
            }
        }
        Paper {
            title: r.title.clone().unwrap_or_default(),
            summary: r.summary.clone().unwrap_or_default(),
            publication_type: publication_type_to_proto(r.publication_type()).into(),
            topics: r.topics.clone(),
            author_ids,
            external_id: r.id.trim().to_owned(),
            publish_time: r.publish_time().map(timestamp),
            ..Paper::default()
        }
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, else a line every 10 seconds.
struct Progress {
    total: usize,
    done: usize,
    bar: bool,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(total: usize, bar: bool) -> Self {
        Self {
            total,
            done: 0,
            bar: bar && std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: Instant::now(),
        }
    }

    fn line(&self, summary: &Summary) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        #[allow(clippy::cast_precision_loss)]
        let rate = self.done as f64 / elapsed;
        #[allow(clippy::cast_precision_loss)]
        let eta = if rate > 0.0 {
            (self.total.saturating_sub(self.done)) as f64 / rate
        } else {
            0.0
        };
        let width = 30;
        let filled = (self.done * width)
            .checked_div(self.total)
            .unwrap_or(width)
            .min(width);
        format!(
            "[{}{}] {}/{} records, {} imported, {} already there, {} rejected, {rate:.0}/s, ETA {eta:.0}s",
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.done,
            self.total,
            summary.imported,
            summary.existing,
            summary.rejected.len(),
        )
    }

    fn advance(&mut self, n: usize, summary: &Summary) {
        self.done += n;
        if self.bar {
            if self.last.elapsed() > Duration::from_millis(100) {
                self.last = Instant::now();
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{}", self.line(summary));
                let _ = err.flush();
            }
        } else if self.last.elapsed() > Duration::from_secs(10) {
            self.last = Instant::now();
            eprintln!("{}", self.line(summary));
        }
    }

    /// A message above the bar.
    fn note(&self, message: &str) {
        if self.bar {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{message}");
    }

    fn finish(&self, summary: &Summary) {
        if self.bar {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{}", self.line(summary));
    }
}

/// Replaces C1 control characters (U+0080 to U+009F) in a record's text with the Windows-1252
/// characters they stand for: text that went through a Latin-1 decoder upstream carries its
/// curly quotes and dashes that way (ACL abstracts do), and the API rightly refuses control
/// characters. Code points Windows-1252 leaves undefined are dropped. True when anything changed.
fn repair(record: &mut Record) -> bool {
    let mut changed = false;
    let fields = record
        .title
        .iter_mut()
        .chain(record.summary.iter_mut())
        .chain(record.authors.iter_mut());
    for text in fields {
        if text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
            *text = text.chars().filter_map(windows_1252).collect();
            changed = true;
        }
    }
    changed
}

/// The Windows-1252 character a C1 control character stands for; other characters as they are.
fn windows_1252(c: char) -> Option<char> {
    const TABLE: [Option<char>; 32] = [
        Some('€'),
        None,
        Some('‚'),
        Some('ƒ'),
        Some('„'),
        Some('…'),
        Some('†'),
        Some('‡'),
        Some('ˆ'),
        Some('‰'),
        Some('Š'),
        Some('‹'),
        Some('Œ'),
        None,
        Some('Ž'),
        None,
        None,
        Some('‘'),
        Some('’'),
        Some('“'),
        Some('”'),
        Some('•'),
        Some('–'),
        Some('—'),
        Some('˜'),
        Some('™'),
        Some('š'),
        Some('›'),
        Some('œ'),
        None,
        Some('ž'),
        Some('Ÿ'),
    ];
    match u32::from(c) {
        n @ 0x80..=0x9f => TABLE
            .get(usize::try_from(n - 0x80).unwrap_or(usize::MAX))
            .copied()
            .flatten(),
        _ => Some(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_punctuation_in_c1_controls_is_put_right() {
        let mut record: Record = serde_json::from_str(
            r#"{"id":"x","title":"A \u0093quoted\u0094 title","abstract":"It\u0092s \u0096 fine\u0081","authors":["Ren\u00e9e"]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(repair(&mut record));
        assert_eq!(record.title.as_deref(), Some("A “quoted” title"));
        assert_eq!(record.summary.as_deref(), Some("It’s – fine"));
        assert_eq!(record.authors, ["Renée"]);
        assert!(!repair(&mut record));
    }

    #[test]
    fn violation_paths_name_their_request() {
        assert_eq!(
            request_index("requests[12].paper.title"),
            Some((12, "paper.title"))
        );
        assert_eq!(request_index("requests[0]"), Some((0, "")));
        assert_eq!(request_index("requests"), None);
        assert_eq!(request_index("requests[x].paper"), None);
    }
}
