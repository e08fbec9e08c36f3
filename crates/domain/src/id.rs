//! Identifiers: UUIDv7, so ids sort by creation time and index well in B-trees.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why an id was refused; `what` is the kind of id ("a paper", "an author").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing was sent.
    #[error("{0} id is required")]
    Missing(&'static str),
    /// Not a UUID (the input shortened for the message).
    #[error(
        "'{input}' is not {what} id (expected a UUID such as 0190f2a4-7d1c-7b3e-8f00-0123456789ab)"
    )]
    Malformed {
        /// The kind of id.
        what: &'static str,
        /// As sent.
        input: String,
    },
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read back from storage.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the canonical hyphenated form, with a message naming the problem.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                let trimmed = input.trim();
                if trimmed.is_empty() {
                    return Err(IdError::Missing($what));
                }
                Uuid::try_parse(trimmed).map(Self).map_err(|_| IdError::Malformed {
                    what: $what,
                    input: shorten(trimmed),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// Identifies a paper.
    PaperId,
    "a paper"
);
uuid_id!(
    /// Identifies an author.
    AuthorId,
    "an author"
);
uuid_id!(
    /// Identifies a term of a controlled vocabulary (a program, a region, a series).
    TermId,
    "a term"
);

/// Cuts echoed input so that an error message stays readable, and small enough to travel in a
/// response header, when the input is huge.
pub fn shorten(input: &str) -> String {
    const MAX: usize = 64;
    if input.chars().count() <= MAX {
        input.to_owned()
    } else {
        let head: String = input.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_round_trip_and_sort_by_time() {
        let a = PaperId::generate();
        let b = PaperId::generate();
        assert!(a < b);
        assert_eq!(PaperId::parse(&a.to_string()), Ok(a));
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn refuses_junk_with_a_message() {
        let err = AuthorId::parse("nope").unwrap_err().to_string();
        assert!(err.starts_with("'nope' is not an author id"), "{err}");
        assert_eq!(
            AuthorId::parse("  ").unwrap_err().to_string(),
            "an author id is required"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = PaperId::parse(&s);
        }

        #[test]
        fn any_uuid_round_trips(bytes in any::<[u8; 16]>()) {
            let id = AuthorId::from_uuid(Uuid::from_bytes(bytes));
            prop_assert_eq!(AuthorId::parse(&id.to_string()), Ok(id));
        }
    }
}
