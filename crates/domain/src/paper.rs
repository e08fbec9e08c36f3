//! Papers: their editable fields, topics, ordered author credits and the publishing workflow.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Violations;
use crate::file::PaperFiles;
use crate::id::{AuthorId, PaperId};
use crate::mask::MaskField;
use crate::slug::Slug;
use crate::taxonomy::{PaperTerms, TermIds, Vocabulary};
use crate::text::{Body, FundingNote, Summary, Title, clean_line};

/// Most topics on one paper.
pub const MAX_TOPICS: usize = 20;
/// Most authors credited on one paper (large collaborations run to hundreds).
pub const MAX_AUTHORS: usize = 1000;

/// The kind of a publication, as its page shows it ("Type: Report").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicationType {
    /// A report.
    Report,
    /// A discussion paper.
    DiscussionPaper,
    /// A question-and-answer piece.
    QuestionAndAnswer,
    /// An analysis.
    Analysis,
    /// An article.
    Article,
    /// A policy brief.
    PolicyBrief,
    /// A working paper.
    WorkingPaper,
    /// A preprint.
    Preprint,
    /// A paper in proceedings.
    ConferencePaper,
    /// A journal article.
    JournalArticle,
    /// A book or a chapter of one.
    Book,
}

impl PublicationType {
    /// Every type, in the order of the contract.
    pub const ALL: [Self; 11] = [
        Self::Report,
        Self::DiscussionPaper,
        Self::QuestionAndAnswer,
        Self::Analysis,
        Self::Article,
        Self::PolicyBrief,
        Self::WorkingPaper,
        Self::Preprint,
        Self::ConferencePaper,
        Self::JournalArticle,
        Self::Book,
    ];

    /// The stable storage name: `discussion_paper`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::DiscussionPaper => "discussion_paper",
            Self::QuestionAndAnswer => "question_and_answer",
            Self::Analysis => "analysis",
            Self::Article => "article",
            Self::PolicyBrief => "policy_brief",
            Self::WorkingPaper => "working_paper",
            Self::Preprint => "preprint",
            Self::ConferencePaper => "conference_paper",
            Self::JournalArticle => "journal_article",
            Self::Book => "book",
        }
    }

    /// The label a reader sees: "Question and Answer".
    pub fn label(self) -> &'static str {
        match self {
            Self::Report => "Report",
            Self::DiscussionPaper => "Discussion Paper",
            Self::QuestionAndAnswer => "Question and Answer",
            Self::Analysis => "Analysis",
            Self::Article => "Article",
            Self::PolicyBrief => "Policy Brief",
            Self::WorkingPaper => "Working Paper",
            Self::Preprint => "Preprint",
            Self::ConferencePaper => "Conference Paper",
            Self::JournalArticle => "Journal Article",
            Self::Book => "Book",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn from_str_opt(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a paper is in the editorial workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperStatus {
    /// Not public yet.
    Draft,
    /// Public.
    Published,
    /// Was public, withdrawn; can be published again.
    Archived,
}

impl PaperStatus {
    /// The stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Archived => "archived",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn from_str_opt(s: &str) -> Option<Self> {
        [Self::Draft, Self::Published, Self::Archived]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A topic tag as editors write it: "Global Policy". Compared ignoring case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Topic(String);

impl Topic {
    /// Most characters in one topic.
    pub const MAX: usize = 100;

    /// Trims, collapses inner whitespace and checks the length.
    pub fn parse(input: &str) -> Result<Self, crate::text::TextError> {
        clean_line(input, 1, Self::MAX).map(Self)
    }

    /// The topic as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form topics are matched by: lowercase.
    pub fn key(&self) -> String {
        Self::key_of(&self.0)
    }

    /// The match key of any topic text, for filters typed by users.
    pub fn key_of(text: &str) -> String {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
}

/// A paper's topics: no two equal ignoring case, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Topics(Vec<Topic>);

impl Topics {
    /// Caps the count, then validates each topic (violations under `[i]`) and drops later
    /// case-insensitive duplicates and empty entries. The count is checked first, on what was
    /// sent: de-duplicating thousands of entries before refusing them once froze the process.
    pub fn parse(inputs: &[String]) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if inputs.len() > MAX_TOPICS {
            violations.push(
                "",
                format!(
                    "at most {MAX_TOPICS} topics are allowed (got {})",
                    inputs.len()
                ),
            );
            return Err(violations);
        }
        let mut topics: Vec<Topic> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            if input.trim().is_empty() {
                continue;
            }
            if let Some(topic) = violations.check(&format!("[{i}]"), Topic::parse(input))
                && !topics.iter().any(|t| t.key() == topic.key())
            {
                topics.push(topic);
            }
        }
        violations.into_result(|| Self(topics))
    }

    /// The topics, in order.
    pub fn as_slice(&self) -> &[Topic] {
        &self.0
    }
}

/// The authors credited on a paper, in byline order, each once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthorIds(Vec<AuthorId>);

impl AuthorIds {
    /// Parses each id (violations under `[i]`) and refuses duplicates, naming both places.
    pub fn parse(inputs: &[String]) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if inputs.len() > MAX_AUTHORS {
            violations.push(
                "",
                format!(
                    "at most {MAX_AUTHORS} authors are allowed (got {})",
                    inputs.len()
                ),
            );
            return Err(violations);
        }
        let mut ids: Vec<AuthorId> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let Some(id) = violations.check(&format!("[{i}]"), AuthorId::parse(input)) else {
                continue;
            };
            if let Some(first) = ids.iter().position(|seen| *seen == id) {
                violations.push(
                    format!("[{i}]"),
                    format!("author {id} is already credited at position {first}"),
                );
            } else {
                ids.push(id);
            }
        }
        violations.into_result(|| Self(ids))
    }

    /// Wraps ids read back from storage.
    pub fn from_trusted(ids: Vec<AuthorId>) -> Self {
        Self(ids)
    }

    /// The ids, in byline order.
    pub fn as_slice(&self) -> &[AuthorId] {
        &self.0
    }

    /// True when nobody is credited.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A paper's fields as received from outside, before validation.
#[derive(Debug, Clone, Default)]
pub struct PaperInput {
    /// Empty means "derive from the title" on create.
    pub slug: String,
    /// Title text.
    pub title: String,
    /// Summary text.
    pub summary: String,
    /// Body text.
    pub body: String,
    /// `None` when the client left it unspecified.
    pub publication_type: Option<PublicationType>,
    /// Topic texts.
    pub topics: Vec<String>,
    /// Author ids as strings.
    pub author_ids: Vec<String>,
    /// Funding note text.
    pub funding_note: String,
    /// The id in the system the paper was imported from; empty when none.
    pub external_id: String,
    /// Program term ids (the service resolves slugs to ids before parsing).
    pub program_ids: Vec<String>,
    /// Region term ids.
    pub region_ids: Vec<String>,
    /// Series term ids.
    pub series_ids: Vec<String>,
    /// The downloads, in order.
    pub attachments: Vec<crate::file::AttachmentInput>,
    /// The cover image; `None` for none.
    pub cover: Option<crate::file::ImageInput>,
    /// What the store holds of the files referenced (filled by the service before parsing).
    pub stored_files: crate::file::StoredFiles,
    /// The extracted texts of the PDFs referenced (filled by the service before parsing).
    pub stored_texts: crate::file::StoredTexts,
    /// The smaller copies of the cover (filled by the service before parsing).
    pub stored_renditions: crate::file::StoredRenditions,
}

impl PaperInput {
    /// The term ids sent for `vocabulary`.
    pub fn terms(&self, vocabulary: Vocabulary) -> &[String] {
        match vocabulary {
            Vocabulary::Program => &self.program_ids,
            Vocabulary::Region => &self.region_ids,
            Vocabulary::Series => &self.series_ids,
        }
    }

    /// The term ids sent for `vocabulary`, for the service to resolve slugs in place.
    pub fn terms_mut(&mut self, vocabulary: Vocabulary) -> &mut Vec<String> {
        match vocabulary {
            Vocabulary::Program => &mut self.program_ids,
            Vocabulary::Region => &mut self.region_ids,
            Vocabulary::Series => &mut self.series_ids,
        }
    }
}

/// A field an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperField {
    /// `title`
    Title,
    /// `slug`
    Slug,
    /// `summary`
    Summary,
    /// `body`
    Body,
    /// `publication_type`
    PublicationType,
    /// `topics`
    Topics,
    /// `author_ids`
    AuthorIds,
    /// `funding_note`
    FundingNote,
    /// `program_ids`, `region_ids` or `series_ids`
    Terms(Vocabulary),
    /// `attachments`
    Attachments,
    /// `cover`
    Cover,
}

impl MaskField for PaperField {
    const ALL: &'static [Self] = &[
        Self::Title,
        Self::Slug,
        Self::Summary,
        Self::Body,
        Self::PublicationType,
        Self::Topics,
        Self::AuthorIds,
        Self::FundingNote,
        Self::Terms(Vocabulary::Program),
        Self::Terms(Vocabulary::Region),
        Self::Terms(Vocabulary::Series),
        Self::Attachments,
        Self::Cover,
    ];

    fn path(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Slug => "slug",
            Self::Summary => "summary",
            Self::Body => "body",
            Self::PublicationType => "publication_type",
            Self::Topics => "topics",
            Self::AuthorIds => "author_ids",
            Self::FundingNote => "funding_note",
            Self::Terms(vocabulary) => vocabulary.field_path(),
            Self::Attachments => "attachments",
            Self::Cover => "cover",
        }
    }
}

/// What one change of a paper touched: an editable field, or its place in the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperChange {
    /// One of the fields an editor edits.
    Field(PaperField),
    /// Draft, published or archived.
    Status,
    /// When it was (first) published.
    PublishTime,
    /// Its scheduled publication or withdrawal, or a schedule's failure.
    Schedule,
}

impl PaperChange {
    /// Every change, in the order revisions list them.
    pub(crate) const ALL: [Self; 16] = [
        Self::Field(PaperField::Title),
        Self::Field(PaperField::Slug),
        Self::Field(PaperField::Summary),
        Self::Field(PaperField::Body),
        Self::Field(PaperField::PublicationType),
        Self::Field(PaperField::Topics),
        Self::Field(PaperField::AuthorIds),
        Self::Field(PaperField::FundingNote),
        Self::Field(PaperField::Terms(Vocabulary::Program)),
        Self::Field(PaperField::Terms(Vocabulary::Region)),
        Self::Field(PaperField::Terms(Vocabulary::Series)),
        Self::Field(PaperField::Attachments),
        Self::Field(PaperField::Cover),
        Self::Status,
        Self::PublishTime,
        Self::Schedule,
    ];

    /// Its name in revisions: the field's update-mask path, `status` or `publish_time`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Field(f) => f.path(),
            Self::Status => "status",
            Self::PublishTime => "publish_time",
            Self::Schedule => "schedule",
        }
    }

    /// Its bit in [`PaperChanges`]: its place in [`PaperChange::ALL`].
    const fn bit(self) -> u16 {
        let index = match self {
            Self::Field(PaperField::Title) => 0,
            Self::Field(PaperField::Slug) => 1,
            Self::Field(PaperField::Summary) => 2,
            Self::Field(PaperField::Body) => 3,
            Self::Field(PaperField::PublicationType) => 4,
            Self::Field(PaperField::Topics) => 5,
            Self::Field(PaperField::AuthorIds) => 6,
            Self::Field(PaperField::FundingNote) => 7,
            Self::Field(PaperField::Terms(Vocabulary::Program)) => 8,
            Self::Field(PaperField::Terms(Vocabulary::Region)) => 9,
            Self::Field(PaperField::Terms(Vocabulary::Series)) => 10,
            Self::Field(PaperField::Attachments) => 11,
            Self::Field(PaperField::Cover) => 12,
            Self::Status => 13,
            Self::PublishTime => 14,
            Self::Schedule => 15,
        };
        1 << index
    }
}

/// The set of what a change of a paper touched. Stored and served as a list of paths
/// ([`PaperChange::path`]); the store decides from it which index tables to rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaperChanges(u16);

impl PaperChanges {
    /// Nothing (a creation: everything is new).
    pub const NONE: Self = Self(0);

    /// The set of `changes`.
    pub fn of(changes: &[PaperChange]) -> Self {
        changes.iter().fold(Self::NONE, |set, c| set.with(*c))
    }

    /// The same set with `change` in it.
    #[must_use]
    pub const fn with(self, change: PaperChange) -> Self {
        Self(self.0 | change.bit())
    }

    /// Whether `change` is in it.
    pub fn contains(self, change: PaperChange) -> bool {
        self.0 & change.bit() != 0
    }

    /// Whether nothing is in it.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Its changes, in their canonical order.
    pub fn iter(self) -> impl Iterator<Item = PaperChange> {
        PaperChange::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }

    /// Its paths.
    pub fn paths(self) -> Vec<&'static str> {
        self.iter().map(PaperChange::path).collect()
    }

    /// The set a list of stored paths names, or the first path nothing is called.
    pub fn from_paths<S: AsRef<str>>(paths: &[S]) -> Result<Self, UnknownChange> {
        paths.iter().try_fold(Self::NONE, |set, path| {
            let path = path.as_ref();
            PaperChange::ALL
                .into_iter()
                .find(|c| c.path() == path)
                .map(|c| set.with(c))
                .ok_or_else(|| UnknownChange(path.to_owned()))
        })
    }
}

/// A stored change path that names nothing a paper has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a field of a paper")]
pub struct UnknownChange(pub String);

impl Serialize for PaperChanges {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(PaperChange::path))
    }
}

impl<'de> Deserialize<'de> for PaperChanges {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let paths = Vec::<String>::deserialize(deserializer)?;
        Self::from_paths(&paths).map_err(serde::de::Error::custom)
    }
}

/// The editable content of a paper, all validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperFields {
    /// Title.
    pub title: Title,
    /// "About the Paper".
    pub summary: Summary,
    /// Full text.
    pub body: Body,
    /// Kind of publication.
    pub publication_type: PublicationType,
    /// Topic tags.
    pub topics: Topics,
    /// Credited authors in byline order.
    pub author_ids: AuthorIds,
    /// Funding note.
    pub funding_note: FundingNote,
    /// Programs, regions and series (none on revisions saved before taxonomies).
    #[serde(default)]
    pub terms: PaperTerms,
    /// Downloads and the cover image (none on revisions saved before files).
    #[serde(default, skip_serializing_if = "PaperFiles::is_empty")]
    pub files: PaperFiles,
}

impl PaperFields {
    /// Validates a new paper's fields. Returns the slug too when the client chose one.
    pub fn parse(input: &PaperInput) -> Result<(Option<Slug>, Self), Violations> {
        let mut v = Violations::new();
        let slug = parse_optional_slug(&mut v, &input.slug);
        let title = v.check("title", Title::parse(&input.title));
        let summary = v.check("summary", Summary::parse(&input.summary));
        let body = v.check("body", Body::parse(&input.body));
        let publication_type = v.check("publication_type", required_type(input));
        let topics = v.nested("topics", Topics::parse(&input.topics));
        let author_ids = v.nested("author_ids", AuthorIds::parse(&input.author_ids));
        let funding_note = v.check("funding_note", FundingNote::parse(&input.funding_note));
        let files = PaperFiles {
            attachments: v
                .nested(
                    "attachments",
                    PaperFiles::parse_attachments(
                        &input.attachments,
                        &input.stored_files,
                        &input.stored_texts,
                    ),
                )
                .unwrap_or_default(),
            cover: v
                .nested(
                    "cover",
                    PaperFiles::parse_cover(
                        input.cover.as_ref(),
                        &input.stored_files,
                        &input.stored_renditions,
                    ),
                )
                .flatten(),
        };
        let body = body.map(|body| {
            let text = PaperFiles::body_text(
                &input.attachments,
                &files.attachments,
                &input.stored_texts,
                body.as_str().is_empty(),
            );
            text.map_or(body, Body::from_extracted)
        });
        let mut terms = PaperTerms::default();
        for vocabulary in Vocabulary::ALL {
            let parsed = TermIds::parse(input.terms(vocabulary), vocabulary);
            if let Some(ids) = v.nested(vocabulary.field_path(), parsed) {
                *terms.of_mut(vocabulary) = ids;
            }
        }
        match (
            title,
            summary,
            body,
            publication_type,
            topics,
            author_ids,
            funding_note,
        ) {
            (
                Some(title),
                Some(summary),
                Some(body),
                Some(publication_type),
                Some(topics),
                Some(author_ids),
                Some(funding_note),
            ) if v.is_empty() => Ok((
                slug,
                Self {
                    title,
                    summary,
                    body,
                    publication_type,
                    topics,
                    author_ids,
                    funding_note,
                    terms,
                    files,
                },
            )),
            _ => Err(v),
        }
    }

    /// These fields with the masked ones replaced from `input`. Only masked fields are
    /// validated: a client updating the summary does not have to resend the title. The slug
    /// comes back when the mask names it (a new slug must be given, it is not derived).
    pub fn apply(
        &self,
        input: &PaperInput,
        mask: &[PaperField],
    ) -> Result<(Option<Slug>, Self), Violations> {
        let mut v = Violations::new();
        let mut next = self.clone();
        let mut slug = None;
        let mut body_from_files = None;
        for field in mask {
            let path = field.path();
            match field {
                PaperField::Slug => slug = v.check(path, Slug::parse(&input.slug)),
                PaperField::Title => v.assign(path, &mut next.title, Title::parse(&input.title)),
                PaperField::Summary => {
                    v.assign(path, &mut next.summary, Summary::parse(&input.summary));
                }
                PaperField::Body => v.assign(path, &mut next.body, Body::parse(&input.body)),
                PaperField::PublicationType => {
                    v.assign(path, &mut next.publication_type, required_type(input));
                }
                PaperField::Topics => {
                    if let Some(t) = v.nested(path, Topics::parse(&input.topics)) {
                        next.topics = t;
                    }
                }
                PaperField::AuthorIds => {
                    if let Some(a) = v.nested(path, AuthorIds::parse(&input.author_ids)) {
                        next.author_ids = a;
                    }
                }
                PaperField::FundingNote => {
                    let note = FundingNote::parse(&input.funding_note);
                    v.assign(path, &mut next.funding_note, note);
                }
                PaperField::Terms(vocabulary) => {
                    let parsed = TermIds::parse(input.terms(*vocabulary), *vocabulary);
                    if let Some(ids) = v.nested(path, parsed) {
                        *next.terms.of_mut(*vocabulary) = ids;
                    }
                }
                PaperField::Attachments => {
                    let parsed = PaperFiles::parse_attachments(
                        &input.attachments,
                        &input.stored_files,
                        &input.stored_texts,
                    );
                    if let Some(attachments) = v.nested(path, parsed) {
                        next.files.attachments = attachments;
                        let text = PaperFiles::body_text(
                            &input.attachments,
                            &next.files.attachments,
                            &input.stored_texts,
                            if mask.contains(&PaperField::Body) {
                                input.body.trim().is_empty()
                            } else {
                                self.body.as_str().is_empty()
                            },
                        );
                        body_from_files = text.map(Body::from_extracted);
                    }
                }
                PaperField::Cover => {
                    let parsed = PaperFiles::parse_cover(
                        input.cover.as_ref(),
                        &input.stored_files,
                        &input.stored_renditions,
                    );
                    if let Some(cover) = v.nested(path, parsed) {
                        next.files.cover = cover;
                    }
                }
            }
        }
        if let Some(body) = body_from_files {
            next.body = body;
        }
        v.into_result(|| (slug, next))
    }

    /// The fields whose values differ between `self` and `other`.
    pub fn changed_fields(&self, other: &Self) -> PaperChanges {
        let differs = [
            (self.title != other.title, PaperField::Title),
            (self.summary != other.summary, PaperField::Summary),
            (self.body != other.body, PaperField::Body),
            (
                self.publication_type != other.publication_type,
                PaperField::PublicationType,
            ),
            (self.topics != other.topics, PaperField::Topics),
            (self.author_ids != other.author_ids, PaperField::AuthorIds),
            (
                self.funding_note != other.funding_note,
                PaperField::FundingNote,
            ),
            (
                self.files.attachments != other.files.attachments,
                PaperField::Attachments,
            ),
            (self.files.cover != other.files.cover, PaperField::Cover),
        ];
        let terms =
            Vocabulary::ALL.map(|v| (self.terms.of(v) != other.terms.of(v), PaperField::Terms(v)));
        differs
            .into_iter()
            .chain(terms)
            .filter(|(differs, _)| *differs)
            .fold(PaperChanges::NONE, |set, (_, f)| {
                set.with(PaperChange::Field(f))
            })
    }
}

fn parse_optional_slug(v: &mut Violations, input: &str) -> Option<Slug> {
    if input.is_empty() {
        None
    } else {
        v.check("slug", Slug::parse(input))
    }
}

fn required_type(input: &PaperInput) -> Result<PublicationType, TypeRequired> {
    input.publication_type.ok_or(TypeRequired)
}

/// A paper sent without its publication type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is required: choose a publication type such as PUBLICATION_TYPE_REPORT")]
struct TypeRequired;

/// Refuses a scheduled time that is not in the future.
fn future(field: &'static str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), WorkflowError> {
    if at <= now {
        return Err(WorkflowError::BadSchedule {
            field,
            reason: format!(
                "must be in the future (it is {}; now is {})",
                at.to_rfc3339(),
                now.to_rfc3339()
            ),
        });
    }
    Ok(())
}

/// Whether a workflow step changed anything; an unchanged paper is not saved again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The paper changed and must be saved as a new version.
    Changed,
    /// Nothing to save: the paper already was in the asked state.
    Unchanged,
}

/// Why a workflow step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// Publishing needs a byline.
    #[error("paper {0} has no authors: credit at least one author before publishing")]
    NoAuthors(PaperId),
    /// A published paper keeps at least one author.
    #[error(
        "paper {0} is published and must keep at least one author; unpublish it first to remove them all"
    )]
    PublishedWithoutAuthors(PaperId),
    /// Only a published paper can be withdrawn.
    #[error("paper {0} is a draft that was never published, so it cannot be unpublished")]
    NeverPublished(PaperId),
    /// A publish time outside what a publication date can be; says why.
    #[error("publish_time: {0}")]
    BadPublishTime(String),
    /// A scheduled time that cannot be; names the field and says why.
    #[error("{field}: {reason}")]
    BadSchedule {
        /// `publish_time` or `unpublish_time`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Only a paper that is not public can be scheduled to go public.
    #[error("paper {0} is already published; schedule a withdrawal instead")]
    AlreadyPublished(PaperId),
    /// A withdrawal needs a paper that is public or scheduled to be.
    #[error(
        "paper {0} is neither published nor scheduled to be, so it cannot be scheduled to be withdrawn"
    )]
    NothingToWithdraw(PaperId),
}

/// What a schedule does when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleAction {
    /// The paper goes public.
    Publish,
    /// The paper is withdrawn.
    Unpublish,
}

/// A schedule that could not be carried out when it was due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFailure {
    /// What was due.
    pub action: ScheduleAction,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// Why it was not done (the refusal an editor would have had).
    pub reason: String,
}

/// A paper's scheduled publication and withdrawal (an embargo, a time-limited item).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// When the paper goes public, with this time as its publish time.
    pub publish_at: Option<DateTime<Utc>>,
    /// When the paper is withdrawn.
    pub unpublish_at: Option<DateTime<Utc>>,
    /// The last schedule that failed, until the paper is scheduled again.
    pub failure: Option<ScheduleFailure>,
}

impl Schedule {
    /// Schedules `action` at `at`, clearing an earlier failure; unchanged when it already was.
    fn set(&mut self, action: ScheduleAction, at: DateTime<Utc>) -> Transition {
        let slot = match action {
            ScheduleAction::Publish => &mut self.publish_at,
            ScheduleAction::Unpublish => &mut self.unpublish_at,
        };
        if *slot == Some(at) && self.failure.is_none() {
            return Transition::Unchanged;
        }
        *slot = Some(at);
        self.failure = None;
        Transition::Changed
    }

    /// The first action due at `now`, if any: a publication before a withdrawal.
    pub fn due(&self, now: DateTime<Utc>) -> Option<(ScheduleAction, DateTime<Utc>)> {
        match (self.publish_at, self.unpublish_at) {
            (Some(at), _) if at <= now => Some((ScheduleAction::Publish, at)),
            (None, Some(at)) if at <= now => Some((ScheduleAction::Unpublish, at)),
            _ => None,
        }
    }
}

/// A paper as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    /// Identity, never changes.
    pub id: PaperId,
    /// Current slug; former ones keep resolving.
    pub slug: Slug,
    /// The editable content.
    pub fields: PaperFields,
    /// Workflow state.
    pub status: PaperStatus,
    /// First publication (or the back-dated one); kept when unpublished.
    pub publish_time: Option<DateTime<Utc>>,
    /// Incremented on every saved change; guards against lost updates.
    pub version: i64,
    /// When created.
    pub create_time: DateTime<Utc>,
    /// When last saved.
    pub update_time: DateTime<Utc>,
    /// The id in the system it was imported from; set on create only.
    #[serde(default)]
    pub external_id: Option<crate::text::ExternalId>,
    /// Its scheduled publication and withdrawal.
    #[serde(default)]
    pub schedule: Schedule,
}

impl Paper {
    /// A new draft, version 1.
    pub fn new_draft(slug: Slug, fields: PaperFields, now: DateTime<Utc>) -> Self {
        Self {
            id: PaperId::generate(),
            slug,
            fields,
            status: PaperStatus::Draft,
            publish_time: None,
            version: 1,
            create_time: now,
            update_time: now,
            external_id: None,
            schedule: Schedule::default(),
        }
    }

    /// Checks that `fields` may replace this paper's fields: a published paper keeps a byline.
    pub fn check_edit(&self, fields: &PaperFields) -> Result<(), WorkflowError> {
        if self.status == PaperStatus::Published && fields.author_ids.is_empty() {
            return Err(WorkflowError::PublishedWithoutAuthors(self.id));
        }
        Ok(())
    }

    /// Publishes: needs an author. Keeps the first publication date unless `at` back-dates it.
    pub fn publish(
        &mut self,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Transition, WorkflowError> {
        if self.fields.author_ids.is_empty() {
            return Err(WorkflowError::NoAuthors(self.id));
        }
        if let Some(at) = at {
            if at < crate::time::earliest_publish_time() {
                return Err(WorkflowError::BadPublishTime(
                    "must not be before 1900-01-01".to_owned(),
                ));
            }
            if at > now + TimeDelta::minutes(5) {
                return Err(WorkflowError::BadPublishTime(
                    "must not be in the future; publish when the paper is due".to_owned(),
                ));
            }
        }
        let publish_time = at
            .map(crate::time::truncate)
            .or(self.publish_time)
            .unwrap_or(now);
        if self.status == PaperStatus::Published && self.publish_time == Some(publish_time) {
            return Ok(Transition::Unchanged);
        }
        self.status = PaperStatus::Published;
        self.publish_time = Some(publish_time);
        // Published by hand before its time: the scheduled publication is done with.
        self.schedule.publish_at = None;
        Ok(Transition::Changed)
    }

    /// Schedules the paper to go public at `at`, which must be in the future. It stays a draft
    /// (or withdrawn) until then; a withdrawal already scheduled must come after it.
    pub fn schedule_publish(
        &mut self,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Transition, WorkflowError> {
        if self.status == PaperStatus::Published {
            return Err(WorkflowError::AlreadyPublished(self.id));
        }
        let at = crate::time::truncate(at);
        future("publish_time", at, now)?;
        // What would refuse the publication then refuses the schedule now (no byline).
        self.clone().publish(Some(at), at)?;
        if let Some(end) = self.schedule.unpublish_at.filter(|end| *end <= at) {
            return Err(WorkflowError::BadSchedule {
                field: "publish_time",
                reason: format!(
                    "must be before the scheduled withdrawal at {}",
                    end.to_rfc3339()
                ),
            });
        }
        Ok(self.schedule.set(ScheduleAction::Publish, at))
    }

    /// Schedules the paper's withdrawal at `at`: in the future, and after its scheduled
    /// publication when it has one. The paper must be public or scheduled to be.
    pub fn schedule_unpublish(
        &mut self,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Transition, WorkflowError> {
        if self.status != PaperStatus::Published && self.schedule.publish_at.is_none() {
            return Err(WorkflowError::NothingToWithdraw(self.id));
        }
        let at = crate::time::truncate(at);
        future("unpublish_time", at, now)?;
        if let Some(start) = self.schedule.publish_at.filter(|start| *start >= at) {
            return Err(WorkflowError::BadSchedule {
                field: "unpublish_time",
                reason: format!(
                    "must be after the scheduled publication at {}",
                    start.to_rfc3339()
                ),
            });
        }
        Ok(self.schedule.set(ScheduleAction::Unpublish, at))
    }

    /// Cancels the scheduled `action`, or both when `None`. Cancelling the publication of a
    /// paper that is not public cancels its withdrawal too.
    pub fn cancel_schedule(&mut self, action: Option<ScheduleAction>) -> Transition {
        let before = self.schedule.clone();
        if action != Some(ScheduleAction::Unpublish) {
            self.schedule.publish_at = None;
        }
        // A withdrawal of what will now not be published has nothing to withdraw.
        if action != Some(ScheduleAction::Publish) || self.status != PaperStatus::Published {
            self.schedule.unpublish_at = None;
        }
        if self.schedule == before {
            Transition::Unchanged
        } else {
            Transition::Changed
        }
    }

    /// Carries out what is due at `now`: publishes with the scheduled time as publish time,
    /// or withdraws. What is already so is left as it is (`Unchanged`). What cannot be done
    /// (the paper was edited since and would be refused) is recorded as the schedule's
    /// failure, and the schedule is cleared so it is not tried again. Returns what was due
    /// and what came of it.
    pub fn fire_due(
        &mut self,
        now: DateTime<Utc>,
    ) -> Option<(ScheduleAction, Result<Transition, WorkflowError>)> {
        let (action, due) = self.schedule.due(now)?;
        let done = match action {
            ScheduleAction::Publish => {
                self.schedule.publish_at = None;
                if self.status == PaperStatus::Published {
                    Ok(Transition::Unchanged)
                } else {
                    self.publish(Some(due), now)
                }
            }
            ScheduleAction::Unpublish => {
                self.schedule.unpublish_at = None;
                self.unpublish()
            }
        };
        if let Err(e) = &done {
            self.schedule.failure = Some(ScheduleFailure {
                action,
                due,
                reason: e.to_string(),
            });
            // A withdrawal after a publication that failed has nothing to withdraw.
            if action == ScheduleAction::Publish {
                self.schedule.unpublish_at = None;
            }
        }
        Some((action, done))
    }

    /// Withdraws a published paper; it becomes archived and keeps its publication date.
    pub fn unpublish(&mut self) -> Result<Transition, WorkflowError> {
        match self.status {
            PaperStatus::Draft => Err(WorkflowError::NeverPublished(self.id)),
            PaperStatus::Archived => Ok(Transition::Unchanged),
            PaperStatus::Published => {
                self.status = PaperStatus::Archived;
                // Withdrawn by hand before its end date: the scheduled withdrawal goes too.
                self.schedule.unpublish_at = None;
                Ok(Transition::Changed)
            }
        }
    }
}

impl crate::audit::Audited for Paper {
    type Field = PaperChange;
    const FIELDS: &'static [PaperChange] = &PaperChange::ALL;

    fn path(field: PaperChange) -> &'static str {
        field.path()
    }

    fn value(&self, field: PaperChange) -> serde_json::Value {
        use crate::audit::json;
        let f = &self.fields;
        match field {
            PaperChange::Field(field) => match field {
                PaperField::Title => json(&f.title),
                PaperField::Slug => json(&self.slug),
                PaperField::Summary => json(&f.summary),
                PaperField::Body => json(&f.body),
                PaperField::PublicationType => json(&f.publication_type),
                PaperField::Topics => json(&f.topics),
                PaperField::AuthorIds => json(&f.author_ids),
                PaperField::FundingNote => json(&f.funding_note),
                PaperField::Terms(vocabulary) => json(f.terms.of(vocabulary)),
                PaperField::Attachments => json(&f.files.attachments),
                PaperField::Cover => json(&f.files.cover),
            },
            PaperChange::Status => json(&self.status),
            PaperChange::PublishTime => json(&self.publish_time),
            // Named as the Paper message names them.
            PaperChange::Schedule => serde_json::json!({
                "scheduled_publish_time": self.schedule.publish_at,
                "scheduled_unpublish_time": self.schedule.unpublish_at,
                "failure": self.schedule.failure.as_ref().map(|f| f.reason.as_str()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> PaperInput {
        PaperInput {
            title: "Rethinking US-Pakistan Relations".into(),
            publication_type: Some(PublicationType::DiscussionPaper),
            topics: vec!["Global Policy".into(), " global  policy ".into(), "".into()],
            author_ids: vec![AuthorId::generate().to_string()],
            ..PaperInput::default()
        }
    }

    #[test]
    fn topics_are_trimmed_and_deduplicated_ignoring_case() {
        let (slug, fields) = PaperFields::parse(&input()).unwrap();
        assert!(slug.is_none());
        let topics: Vec<_> = fields.topics.as_slice().iter().map(Topic::as_str).collect();
        assert_eq!(topics, ["Global Policy"]);
    }

    #[test]
    fn oversized_topic_lists_are_refused_as_sent() {
        let many: Vec<String> = (0..12_000).map(|i| format!("topic {i}")).collect();
        let err = Topics::parse(&many).unwrap_err();
        assert_eq!(
            err.to_string(),
            ": at most 20 topics are allowed (got 12000)",
            "one violation, before any topic is looked at"
        );
        let doubled = vec!["Global Policy".to_owned(); MAX_TOPICS + 1];
        assert!(Topics::parse(&doubled).is_err(), "counted as sent");
    }

    #[test]
    fn every_bad_field_is_named() {
        let id = AuthorId::generate().to_string();
        let bad = PaperInput {
            slug: "Bad Slug".into(),
            title: " ".into(),
            publication_type: None,
            author_ids: vec![id.clone(), "x".into(), id],
            ..PaperInput::default()
        };
        let err = PaperFields::parse(&bad).unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "slug",
                "title",
                "publication_type",
                "author_ids[1]",
                "author_ids[2]"
            ]
        );
        assert!(err.to_string().contains("already credited at position 0"));
    }

    #[test]
    fn apply_validates_only_masked_fields() {
        let (_, fields) = PaperFields::parse(&input()).unwrap();
        let patch = PaperInput {
            summary: "New summary".into(),
            ..PaperInput::default()
        };
        let (slug, next) = fields.apply(&patch, &[PaperField::Summary]).unwrap();
        assert!(slug.is_none());
        assert_eq!(next.summary.as_str(), "New summary");
        assert_eq!(next.title, fields.title);
        assert_eq!(fields.changed_fields(&next).paths(), ["summary"]);
        let err = fields.apply(&patch, &[PaperField::Title]).unwrap_err();
        assert_eq!(err.to_string(), "title: must not be empty");
    }

    fn scheduled_draft() -> (Paper, DateTime<Utc>) {
        let (_, fields) = PaperFields::parse(&input()).unwrap();
        let now = crate::time::now();
        (
            Paper::new_draft(Slug::derive("t", "paper"), fields, now),
            now,
        )
    }

    #[test]
    fn a_schedule_fires_once_with_its_time_as_the_publish_time() {
        let (mut paper, now) = scheduled_draft();
        let at = now + TimeDelta::seconds(10);
        assert_eq!(paper.schedule_publish(at, now), Ok(Transition::Changed));
        assert_eq!(paper.schedule_publish(at, now), Ok(Transition::Unchanged));
        assert!(paper.fire_due(now + TimeDelta::seconds(9)).is_none());
        let later = now + TimeDelta::hours(3);
        let (action, done) = paper.fire_due(later).unwrap();
        assert_eq!(
            (action, done),
            (ScheduleAction::Publish, Ok(Transition::Changed))
        );
        assert_eq!(paper.status, PaperStatus::Published);
        assert_eq!(paper.publish_time, Some(at));
        assert_eq!(paper.schedule, Schedule::default());
        assert!(paper.fire_due(later).is_none());
    }

    #[test]
    fn a_withdrawal_follows_its_publication_and_both_can_be_cancelled() {
        let (mut paper, now) = scheduled_draft();
        let start = now + TimeDelta::seconds(10);
        assert!(matches!(
            paper.schedule_unpublish(start, now),
            Err(WorkflowError::NothingToWithdraw(_))
        ));
        paper.schedule_publish(start, now).unwrap();
        let early = paper.schedule_unpublish(start, now).unwrap_err();
        assert!(matches!(
            early,
            WorkflowError::BadSchedule {
                field: "unpublish_time",
                ..
            }
        ));
        let end = start + TimeDelta::days(30);
        paper.schedule_unpublish(end, now).unwrap();
        let late = paper.schedule_publish(end, now).unwrap_err();
        assert!(matches!(
            late,
            WorkflowError::BadSchedule {
                field: "publish_time",
                ..
            }
        ));
        let past = paper.schedule_publish(now, now).unwrap_err();
        assert!(matches!(
            past,
            WorkflowError::BadSchedule {
                field: "publish_time",
                ..
            }
        ));
        // Due together: the publication first, then the withdrawal.
        let (first, _) = paper.fire_due(end).unwrap();
        let (second, _) = paper.fire_due(end).unwrap();
        assert_eq!(
            (first, second),
            (ScheduleAction::Publish, ScheduleAction::Unpublish)
        );
        assert_eq!(paper.status, PaperStatus::Archived);
        let (mut other, now) = scheduled_draft();
        other
            .schedule_publish(now + TimeDelta::seconds(5), now)
            .unwrap();
        other
            .schedule_unpublish(now + TimeDelta::seconds(50), now)
            .unwrap();
        assert_eq!(
            other.cancel_schedule(Some(ScheduleAction::Unpublish)),
            Transition::Changed
        );
        assert!(other.schedule.publish_at.is_some() && other.schedule.unpublish_at.is_none());
        assert_eq!(other.cancel_schedule(None), Transition::Changed);
        assert_eq!(other.cancel_schedule(None), Transition::Unchanged);
    }

    #[test]
    fn what_an_editor_does_by_hand_ends_the_schedule_for_it() {
        let (mut paper, now) = scheduled_draft();
        paper
            .schedule_publish(now + TimeDelta::days(9), now)
            .unwrap();
        paper
            .schedule_unpublish(now + TimeDelta::days(30), now)
            .unwrap();
        // Published early by hand: the scheduled publication is gone, the end date stays.
        paper.publish(None, now).unwrap();
        assert_eq!(paper.schedule.publish_at, None);
        assert!(paper.schedule.unpublish_at.is_some());
        assert!(paper.fire_due(now + TimeDelta::days(10)).is_none());
        // Withdrawn early by hand: the end date goes too, so nothing fires later.
        paper.unpublish().unwrap();
        assert_eq!(paper.schedule, Schedule::default());
        assert!(paper.fire_due(now + TimeDelta::days(31)).is_none());
        // A withdrawal due on a paper already withdrawn changes nothing.
        let (mut other, now) = scheduled_draft();
        other.publish(None, now).unwrap();
        other
            .schedule_unpublish(now + TimeDelta::seconds(5), now)
            .unwrap();
        other.status = PaperStatus::Archived;
        let (action, done) = other.fire_due(now + TimeDelta::seconds(6)).unwrap();
        assert_eq!(
            (action, done),
            (ScheduleAction::Unpublish, Ok(Transition::Unchanged))
        );
        // Cancelling a draft's publication cancels its withdrawal: nothing is left to fail.
        let (mut third, now) = scheduled_draft();
        third
            .schedule_publish(now + TimeDelta::seconds(5), now)
            .unwrap();
        third
            .schedule_unpublish(now + TimeDelta::seconds(50), now)
            .unwrap();
        third.cancel_schedule(Some(ScheduleAction::Publish));
        assert_eq!(third.schedule, Schedule::default());
        // A paper that could not be published then cannot be scheduled now.
        let (mut lonely, now) = scheduled_draft();
        lonely.fields.author_ids = AuthorIds::default();
        assert!(matches!(
            lonely.schedule_publish(now + TimeDelta::seconds(5), now),
            Err(WorkflowError::NoAuthors(_))
        ));
    }

    #[test]
    fn a_publication_refused_when_due_is_recorded_not_retried() {
        let (mut paper, now) = scheduled_draft();
        paper
            .schedule_publish(now + TimeDelta::seconds(1), now)
            .unwrap();
        paper
            .schedule_unpublish(now + TimeDelta::seconds(2), now)
            .unwrap();
        paper.fields.author_ids = AuthorIds::default();
        let (action, done) = paper.fire_due(now + TimeDelta::seconds(5)).unwrap();
        assert_eq!(action, ScheduleAction::Publish);
        assert!(matches!(done, Err(WorkflowError::NoAuthors(_))));
        assert_eq!(paper.status, PaperStatus::Draft);
        let failure = paper.schedule.failure.clone().unwrap();
        assert!(failure.reason.contains("no authors"), "{}", failure.reason);
        // Nothing left to fire: the withdrawal of what never went out went with it.
        assert!(paper.fire_due(now + TimeDelta::seconds(5)).is_none());
        // Scheduling again, once the byline is back, clears the failure.
        let (_, fields) = PaperFields::parse(&input()).unwrap();
        paper.fields.author_ids = fields.author_ids;
        paper
            .schedule_publish(now + TimeDelta::seconds(9), now)
            .unwrap();
        assert_eq!(paper.schedule.failure, None);
    }

    #[test]
    fn mask_paths() {
        assert_eq!(PaperField::parse_mask(&[]).unwrap().len(), 13);
        let err = PaperField::parse_mask(&["status".into()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("update_mask: 'status' is not an updatable field")
        );
    }

    #[test]
    fn workflow() {
        let (_, mut fields) = PaperFields::parse(&input()).unwrap();
        let now = crate::time::now();
        let mut paper = Paper::new_draft(Slug::derive("t", "paper"), fields.clone(), now);
        assert_eq!(
            paper.unpublish(),
            Err(WorkflowError::NeverPublished(paper.id))
        );
        assert_eq!(paper.publish(None, now), Ok(Transition::Changed));
        assert_eq!(paper.publish_time, Some(now));
        assert_eq!(paper.publish(None, now), Ok(Transition::Unchanged));
        assert_eq!(paper.unpublish(), Ok(Transition::Changed));
        assert_eq!(paper.status, PaperStatus::Archived);
        assert_eq!(paper.unpublish(), Ok(Transition::Unchanged));
        let later = now + TimeDelta::days(1);
        assert_eq!(paper.publish(None, later), Ok(Transition::Changed));
        assert_eq!(
            paper.publish_time,
            Some(now),
            "first publication date is kept"
        );
        let earlier = now - TimeDelta::days(400);
        assert_eq!(paper.publish(Some(earlier), later), Ok(Transition::Changed));
        assert_eq!(paper.publish_time, Some(earlier));
        assert!(paper.publish(Some(now + TimeDelta::days(2)), now).is_err());

        let no_authors = PaperFields {
            author_ids: AuthorIds::default(),
            ..fields.clone()
        };
        assert_eq!(
            paper.check_edit(&no_authors),
            Err(WorkflowError::PublishedWithoutAuthors(paper.id))
        );
        paper.unpublish().unwrap();
        assert_eq!(paper.check_edit(&no_authors), Ok(()));

        fields.author_ids = AuthorIds::default();
        let mut lonely = Paper::new_draft(Slug::derive("t", "paper"), fields, now);
        assert_eq!(
            lonely.publish(None, now),
            Err(WorkflowError::NoAuthors(lonely.id))
        );
    }

    #[test]
    fn enum_names_round_trip() {
        for t in PublicationType::ALL {
            assert_eq!(PublicationType::from_str_opt(t.as_str()), Some(t));
        }
        assert_eq!(
            PaperStatus::from_str_opt("archived"),
            Some(PaperStatus::Archived)
        );
    }

    proptest! {
        #[test]
        fn topics_never_hold_case_duplicates(inputs in proptest::collection::vec("[a-zA-Z ]{0,12}", 0..30)) {
            if let Ok(topics) = Topics::parse(&inputs) {
                let keys: Vec<String> = topics.as_slice().iter().map(Topic::key).collect();
                let mut dedup = keys.clone();
                dedup.sort();
                dedup.dedup();
                prop_assert_eq!(keys.len(), dedup.len());
                prop_assert!(keys.len() <= MAX_TOPICS);
            }
        }

        #[test]
        fn author_ids_never_hold_duplicates(picks in proptest::collection::vec(0usize..5, 0..12)) {
            let pool: Vec<String> = (0..5).map(|_| AuthorId::generate().to_string()).collect();
            let inputs: Vec<String> = picks.iter().map(|i| pool[*i].clone()).collect();
            let mut unique = picks.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(AuthorIds::parse(&inputs).is_ok(), unique.len() == picks.len());
        }
    }

    #[test]
    fn changes_are_a_set_stored_as_paths() {
        let set = PaperChanges::of(&[
            PaperChange::PublishTime,
            PaperChange::Field(PaperField::Topics),
            PaperChange::Status,
        ]);
        assert!(set.contains(PaperChange::Status));
        assert!(!set.contains(PaperChange::Field(PaperField::AuthorIds)));
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["topics","status","publish_time"]"#);
        assert_eq!(serde_json::from_str::<PaperChanges>(&json).unwrap(), set);
        assert_eq!(
            PaperChanges::from_paths(&["title", "nonsense"]),
            Err(UnknownChange("nonsense".into()))
        );
        assert!(PaperChanges::NONE.is_empty() && PaperChanges::NONE.paths().is_empty());
        for (i, change) in PaperChange::ALL.into_iter().enumerate() {
            assert_eq!(change.bit(), 1 << i, "{change:?}");
        }
    }
}
