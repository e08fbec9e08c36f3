//! How large a request may be, in one place: how many items each list may hold and how long
//! the strings without a domain type of their own (ids, tokens, filters) may be. The domain
//! types carry their own lengths (`Title::MAX`, `Topic::MAX`, `MAX_TOPICS`, …); the services
//! apply these when they validate, and the gRPC codec (`imprint_proto::codec`) checks every
//! decoded request against both before any handler runs, so that no work in proportion to an
//! oversized field is ever done.

/// An id, as text (a UUID has 36 characters).
pub const MAX_ID_CHARS: usize = 64;
/// A page token or cursor, as handed out. The authors' list resumes after a name as it is
/// sorted (folded to ASCII, where an emoji becomes its name): the longest name makes a token of
/// about 12 KiB.
pub const MAX_PAGE_TOKEN_BYTES: usize = 16 * 1024;
/// A recommendation id or a view, as handed out (well under this).
pub const MAX_SERVED_TOKEN_BYTES: usize = 1024;
/// Papers per `BatchCreatePapers` call.
pub const MAX_PAPER_BATCH: usize = 200;
/// Authors per `BatchCreateAuthors` call.
pub const MAX_AUTHOR_BATCH: usize = 500;
/// Ids per `BatchGetAuthors` call.
pub const MAX_AUTHOR_IDS: usize = 1000;
/// Items of one rail of related publications.
pub const MAX_RAIL: usize = 50;
/// Items of a rail when a request does not say.
pub const DEFAULT_RAIL: usize = 3;
/// The items of a rail a request asks for: 0 means the default, more than [`MAX_RAIL`] or
/// fewer than 0 is refused, saying what is allowed.
pub fn rail_size(requested: i32) -> Result<usize, RailSizeError> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_RAIL),
        Ok(n) if n <= MAX_RAIL => Ok(n),
        _ => Err(RailSizeError),
    }
}

/// A rail size outside what [`rail_size`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and {MAX_RAIL} (0 for the default, {DEFAULT_RAIL})")]
pub struct RailSizeError;

/// Interactions in one report: an impression and a click for every item of a rail.
pub const MAX_REPORTED_INTERACTIONS: usize = 2 * MAX_RAIL;
/// Topics one filter may name.
pub const MAX_FILTER_TOPICS: usize = 50;
/// Publication types one filter may name (each type once, and some room).
pub const MAX_FILTER_TYPES: usize = 20;
/// Pinned, and excluded, papers of one paper's rail.
pub const MAX_OVERRIDES: usize = 50;
/// Origins one partner key may be bound to.
pub const MAX_ORIGINS: usize = 20;
/// An origin (`https://www.example.org:8443`).
pub const MAX_ORIGIN_CHARS: usize = 300;
/// A partner's name.
pub const MAX_PARTNER_CHARS: usize = 100;
/// Paths of one update mask (a resource has fewer fields than this).
pub const MAX_MASK_PATHS: usize = 20;
/// One path of an update mask.
pub const MAX_MASK_PATH_CHARS: usize = 100;
/// An ORCID iD as sent (`https://orcid.org/0000-0002-1825-0097` fits).
pub const MAX_ORCID_CHARS: usize = 64;

/// Largest request the papers service takes: one paper at its largest (a body of a million
/// characters is up to 4 MiB of UTF-8) with room to spare, or a batch of smaller ones.
pub const PAPERS_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// Largest request the authors service takes: a batch of authors with long biographies.
pub const AUTHORS_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Largest request the recommendations service and the gateway's own services take: their
/// largest legitimate requests (50 topics in a filter, 100 override ids) are a few kilobytes.
pub const SMALL_MESSAGE_BYTES: usize = 64 * 1024;
