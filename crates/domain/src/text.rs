//! Free text fields: lengths in characters (what an editor sees), trimmed ends, and no control
//! characters that would corrupt a page or a feed.

use serde::{Deserialize, Serialize};

/// Why a text was refused; its message is what the editor reads beside the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace where text is required.
    #[error("must not be empty")]
    Empty,
    /// Fewer characters than allowed.
    #[error("must be at least {min} characters")]
    TooShort {
        /// Fewest allowed.
        min: usize,
    },
    /// More characters than allowed.
    #[error("must be at most {} characters (got {})", group_thousands(*.max), group_thousands(*.got))]
    TooLong {
        /// Most allowed.
        max: usize,
        /// How many were sent.
        got: usize,
    },
    /// A control character that would corrupt a page or a feed.
    #[error("must not contain the control character U+{:04X}", u32::from(*.0))]
    ControlCharacter(char),
}

/// Trims `input` and checks it holds between `min` and `max` characters.
///
/// `multiline` allows line breaks and tabs (summaries, bios, bodies); single-line fields refuse
/// them, as they do every other control character.
pub fn clean(input: &str, min: usize, max: usize, multiline: bool) -> Result<String, TextError> {
    let trimmed = input.trim();
    let count = trimmed.chars().count();
    if count < min {
        return Err(if min == 1 {
            TextError::Empty
        } else {
            TextError::TooShort { min }
        });
    }
    if count > max {
        return Err(TextError::TooLong { max, got: count });
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(TextError::ControlCharacter(c));
    }
    Ok(trimmed.to_owned())
}

/// Single-line text with inner runs of whitespace collapsed to one space: names, topics.
pub fn clean_line(input: &str, min: usize, max: usize) -> Result<String, TextError> {
    let collapsed = input.split_whitespace().collect::<Vec<_>>().join(" ");
    clean(&collapsed, min, max, false)
}

/// The form text is searched and sorted by: transliterated to ASCII, lowercase, single spaces,
/// so "Thouîn" is found by "thouin".
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// 10000 → "10,000", for messages.
fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Fewest characters allowed.
            pub const MIN: usize = $min;
            /// Most characters allowed.
            pub const MAX: usize = $max;

            /// Validates and normalises input from outside.
            pub fn parse(input: &str) -> Result<Self, TextError> {
                text_type!(@clean $kind, input, $min, $max).map(Self)
            }

            /// Wraps text read back from storage, where only validated text is written.
            pub fn from_trusted(stored: String) -> Self {
                Self(stored)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
    (@clean line, $input:expr, $min:expr, $max:expr) => { clean_line($input, $min, $max) };
    (@clean multiline, $input:expr, $min:expr, $max:expr) => { clean($input, $min, $max, true) };
}

text_type!(
    /// A paper's title, one line.
    Title, min = 1, max = 600, line
);
text_type!(
    /// "About the Paper".
    Summary, min = 0, max = 10_000, multiline
);
text_type!(
    /// A paper's full text.
    Body, min = 0, max = 1_000_000, multiline
);

impl Body {
    /// A body made of text a machine read (a PDF's): control characters but line breaks and
    /// tabs dropped, ends trimmed, and cut at the last line break or space before
    /// [`Body::MAX`] characters, so that it is always a body.
    pub fn from_extracted(text: &str) -> Self {
        let kept: String = text
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
            .collect();
        let trimmed = kept.trim();
        let Some((cut, _)) = trimmed.char_indices().nth(Self::MAX) else {
            return Self(trimmed.to_owned());
        };
        let head = &trimmed[..cut];
        let end = head.rfind(['\n', ' ']).unwrap_or(cut);
        Self(head[..end].trim_end().to_owned())
    }
}
text_type!(
    /// "This research was funded by …".
    FundingNote, min = 0, max = 2_000, multiline
);
text_type!(
    /// A person's display name, as printed in bylines.
    PersonName, min = 1, max = 200, line
);
text_type!(
    /// An author's biography, "About the Authors".
    Bio, min = 0, max = 10_000, multiline
);
text_type!(
    /// A job title or an organisation's name.
    PositionText, min = 0, max = 300, line
);
text_type!(
    /// A paper's id in the system it was imported from: "arXiv:2508.11582".
    ExternalId, min = 1, max = 200, line
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counts_characters_not_bytes() {
        assert!(Title::parse(&"é".repeat(600)).is_ok());
        assert_eq!(
            Title::parse(&"é".repeat(601)).unwrap_err().to_string(),
            "must be at most 600 characters (got 601)"
        );
        assert_eq!(
            Summary::parse(&"x".repeat(10_001)).unwrap_err().to_string(),
            "must be at most 10,000 characters (got 10,001)"
        );
    }

    #[test]
    fn extracted_text_is_always_a_body() {
        let body = Body::from_extracted("  one\u{0}two\u{c}\n\tthree  ");
        assert_eq!(body.as_str(), "onetwo\n\tthree");
        assert_eq!(Body::parse(body.as_str()).unwrap(), body);
        let long = "word ".repeat(Body::MAX / 5 + 10);
        let body = Body::from_extracted(&long);
        assert!(body.as_str().chars().count() <= Body::MAX);
        assert!(body.as_str().ends_with("word"), "cut between words");
        assert!(Body::parse(body.as_str()).is_ok());
    }

    #[test]
    fn folds_for_search() {
        assert_eq!(fold("  Benoit  Thouîn "), "benoit thouin");
    }

    #[test]
    fn trims_and_refuses_control_characters() {
        assert_eq!(clean("  a  ", 1, 10, false).unwrap(), "a");
        assert_eq!(
            Title::parse("   ").unwrap_err().to_string(),
            "must not be empty"
        );
        assert!(
            Title::parse("a\nb").is_ok(),
            "line breaks in a title collapse to a space"
        );
        assert_eq!(Title::parse("a\n b").unwrap().as_str(), "a b");
        assert!(Summary::parse("a\nb").is_ok());
        assert!(
            Summary::parse("a\u{0}b")
                .unwrap_err()
                .to_string()
                .contains("U+0000")
        );
        assert!(
            Title::parse("a\u{7}b")
                .unwrap_err()
                .to_string()
                .contains("U+0007")
        );
        assert_eq!(
            PositionText::parse(" Global \t Policy ").unwrap().as_str(),
            "Global Policy"
        );
    }

    proptest! {
        #[test]
        fn clean_output_is_within_bounds(s in ".{0,50}", max in 1usize..40) {
            if let Ok(out) = clean(&s, 1, max, true) {
                prop_assert!(out.chars().count() <= max);
                prop_assert!(!out.is_empty());
                prop_assert_eq!(out.trim(), out.as_str());
            }
        }

        #[test]
        fn titles_are_one_trimmed_line(s in "\\PC{0,640}") {
            if let Ok(t) = Title::parse(&s) {
                prop_assert!(!t.as_str().contains('\n'));
                prop_assert!((1..=600).contains(&t.as_str().chars().count()));
                prop_assert_eq!(Title::parse(t.as_str()), Ok(t));
            }
        }
    }
}
