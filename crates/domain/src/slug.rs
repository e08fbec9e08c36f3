//! Slugs: the readable last part of a publication's or author's URL.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::shorten;

/// Longest slug accepted; URLs stay shareable.
pub const MAX_SLUG_LEN: usize = 100;
/// Longest slug derived from a title; leaves room for a `-2` style suffix.
const DERIVED_MAX: usize = 80;

/// Lowercase ASCII letters and digits in hyphen-separated words: `rethinking-us-pakistan-relations`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

/// Lowercase letters, digits and single hyphens between words.
fn well_formed(input: &str) -> bool {
    input
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !input.starts_with('-')
        && !input.ends_with('-')
        && !input.contains("--")
}

/// Why a slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// Nothing was sent.
    #[error("must not be empty")]
    Empty,
    /// Longer than a slug may be.
    #[error("must be at most {MAX_SLUG_LEN} characters (got {got})")]
    TooLong {
        /// Characters sent.
        got: usize,
    },
    /// Characters or hyphens a slug may not hold (the input, shortened for the message).
    #[error(
        "'{0}' is not a slug: use lowercase letters a-z, digits and single hyphens between words"
    )]
    Malformed(String),
}

impl Slug {
    /// Checks a slug an editor typed. It is not rewritten: a slug is part of a URL someone may
    /// already have shared, so a surprise rewrite would be worse than a clear refusal.
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        if input.is_empty() {
            return Err(SlugError::Empty);
        }
        if input.len() > MAX_SLUG_LEN {
            return Err(SlugError::TooLong {
                got: input.chars().count(),
            });
        }
        if !well_formed(input) {
            return Err(SlugError::Malformed(shorten(input)));
        }
        Ok(Self(input.to_owned()))
    }

    /// Whether `input` is a slug, by the rule of [`Slug::parse`]. An input that is not one is
    /// nobody's slug (none was ever stored that is not), so a lookup of it need ask nobody.
    pub fn is_valid(input: &str) -> bool {
        !input.is_empty() && input.len() <= MAX_SLUG_LEN && well_formed(input)
    }

    /// Derives a slug from a title or name: transliterated to ASCII ("Zürich" → "zurich"),
    /// lowercased, words joined by hyphens, cut at a word boundary. Falls back to `fallback` when
    /// nothing usable is left (a title in symbols only).
    pub fn derive(text: &str, fallback: &str) -> Self {
        let ascii = deunicode::deunicode(text);
        let mut out = String::with_capacity(ascii.len().min(DERIVED_MAX));
        let mut pending_hyphen = false;
        for c in ascii.chars() {
            if c.is_ascii_alphanumeric() {
                if pending_hyphen && !out.is_empty() {
                    out.push('-');
                }
                pending_hyphen = false;
                out.push(c.to_ascii_lowercase());
            } else if c == '\'' || c == '’' {
                // "Pakistan's" reads better as "pakistans" than "pakistan-s".
            } else {
                pending_hyphen = true;
            }
        }
        if out.len() > DERIVED_MAX {
            let cut = out[..=DERIVED_MAX].rfind('-').unwrap_or(DERIVED_MAX);
            out.truncate(cut);
        }
        if out.is_empty() {
            return Self(fallback.to_owned());
        }
        Self(out)
    }

    /// This slug with a numeric suffix, to make a derived slug unique: `title`, `title-2`, …
    pub fn with_suffix(&self, n: u32) -> Self {
        if n <= 1 {
            self.clone()
        } else {
            Self(format!("{}-{n}", self.0))
        }
    }

    /// This slug with a random suffix (`title-k3x9qa`), for when the numbered ones are taken.
    pub fn with_random_suffix(&self) -> Self {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let random = uuid::Uuid::new_v4().as_u128();
        let suffix: String = (0..6)
            .map(|i| char::from(ALPHABET[usize::try_from((random >> (i * 6)) % 36).unwrap_or(0)]))
            .collect();
        Self(format!("{}-{suffix}", self.0))
    }

    /// Wraps a slug read back from storage, where only valid slugs are written.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn derives_readable_slugs() {
        assert_eq!(
            Slug::derive(
                "What Does Further Expansion Mean for the Shanghai Cooperation Organization?",
                "paper"
            )
            .as_str(),
            "what-does-further-expansion-mean-for-the-shanghai-cooperation-organization"
        );
        assert_eq!(
            Slug::derive("Pakistan’s “Right-Sized” Ties — Zürich", "paper").as_str(),
            "pakistans-right-sized-ties-zurich"
        );
        assert_eq!(Slug::derive("???", "paper").as_str(), "paper");
        assert_eq!(
            Slug::derive("Dr. Adnan Rafiq", "author").as_str(),
            "dr-adnan-rafiq"
        );
    }

    #[test]
    fn long_titles_are_cut_at_a_word() {
        let title = "word ".repeat(40);
        let slug = Slug::derive(&title, "paper");
        assert!(slug.as_str().len() <= 80);
        assert!(slug.as_str().ends_with("word"));
    }

    #[test]
    fn refuses_bad_slugs_with_the_rule() {
        for bad in [
            "",
            "Upper",
            "a--b",
            "-a",
            "a-",
            "a b",
            "ü",
            &"a".repeat(101),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Slug::parse("a-b-1").is_ok());
        assert!(
            Slug::parse("a b")
                .unwrap_err()
                .to_string()
                .contains("lowercase letters")
        );
    }

    #[test]
    fn suffixes() {
        let s = Slug::parse("t").unwrap();
        assert_eq!(s.with_suffix(1).as_str(), "t");
        assert_eq!(s.with_suffix(3).as_str(), "t-3");
        let random = s.with_random_suffix();
        assert_eq!(random.as_str().len(), 8);
        assert_ne!(random, s.with_random_suffix());
        assert_eq!(Slug::parse(random.as_str()), Ok(random));
    }

    proptest! {
        #[test]
        fn derived_slugs_always_parse(text in ".{0,400}") {
            let slug = Slug::derive(&text, "paper");
            prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
            prop_assert!(slug.with_suffix(99).as_str().len() <= MAX_SLUG_LEN);
            prop_assert!(slug.with_random_suffix().as_str().len() <= MAX_SLUG_LEN);
        }

        #[test]
        fn parse_never_panics(text in ".*") {
            let _ = Slug::parse(&text);
        }
    }
}
