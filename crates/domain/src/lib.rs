//! Imprint's domain: papers, authors and the values they are made of, each validated when it is
//! built, so that a value of one of these types is always one the system may store. Nothing here
//! does I/O or knows about protobuf or the database: the services convert at their edges, and
//! every conversion from outside goes through a parser here that names what was wrong.

pub mod audit;
pub mod author;
pub mod error;
pub mod file;
pub mod id;
pub mod limits;
pub mod mask;
pub mod orcid;
pub mod paper;
pub mod query;
pub mod slug;
pub mod taxonomy;
pub mod text;
pub mod time;
pub mod web;
pub mod webhook;

pub use audit::{Actor, Audited, FieldChange, Revision, RevisionKind, Role, Subject};
pub use author::{Author, AuthorField, AuthorFields, AuthorInput, Position};
pub use error::{FieldViolation, Violations};
pub use file::{FileError, FileKey, FileName, MediaType, PaperFiles};
pub use id::{AuthorId, IdError, PaperId, TermId, shorten};
pub use mask::MaskField;
pub use orcid::{Orcid, OrcidError};
pub use paper::{
    AuthorIds, Paper, PaperChange, PaperChanges, PaperField, PaperFields, PaperInput, PaperStatus,
    PublicationType, Schedule, ScheduleAction, ScheduleFailure, Topic, Topics, Transition,
    UnknownChange, WorkflowError,
};
pub use slug::{Slug, SlugError};
pub use taxonomy::{
    PaperTerms, TaxonomyError, Term, TermField, TermIds, TermInput, TermName, Vocabulary,
};
pub use web::{HttpUrl, UrlError};
