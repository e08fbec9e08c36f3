//! ORCID iDs: 16 characters in four groups, the last a check character computed with ISO 7064
//! MOD 11-2, so a mistyped digit is caught before it is stored.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::shorten;

/// An ORCID iD in its canonical form `0000-0002-1825-0097`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Orcid(String);

/// Why an ORCID iD was refused (the input shortened for the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrcidError {
    /// Not 16 digits in four groups.
    #[error(
        "'{0}' is not an ORCID iD (expected 16 digits in four groups, such as 0000-0002-1825-0097)"
    )]
    Malformed(String),
    /// The check character does not match the digits: a typo.
    #[error(
        "'{input}' is not a valid ORCID iD: its check character is {given}, but its digits give {expected}"
    )]
    CheckCharacter {
        /// As sent.
        input: String,
        /// The last character sent.
        given: char,
        /// The one the digits give.
        expected: char,
    },
}

impl Orcid {
    /// Accepts `0000-0002-1825-0097`, the same without hyphens, or as an `https://orcid.org/` URL,
    /// and returns the canonical form.
    pub fn parse(input: &str) -> Result<Self, OrcidError> {
        let trimmed = input.trim();
        let bare = ["https://orcid.org/", "http://orcid.org/", "orcid.org/"]
            .iter()
            .find_map(|prefix| strip_prefix_ignore_case(trimmed, prefix))
            .unwrap_or(trimmed);
        let chars: Vec<char> = bare.chars().filter(|c| *c != '-').collect();
        let shape_ok = chars.len() == 16
            && chars[..15].iter().all(char::is_ascii_digit)
            && (chars[15].is_ascii_digit() || chars[15] == 'X' || chars[15] == 'x')
            && hyphens_well_placed(bare);
        if !shape_ok {
            return Err(OrcidError::Malformed(shorten(input)));
        }
        let expected = check_character(&chars[..15]);
        let given = chars[15].to_ascii_uppercase();
        if given != expected {
            return Err(OrcidError::CheckCharacter {
                input: shorten(input),
                given,
                expected,
            });
        }
        let mut canonical = String::with_capacity(19);
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i.is_multiple_of(4) {
                canonical.push('-');
            }
            canonical.push(c.to_ascii_uppercase());
        }
        Ok(Self(canonical))
    }

    /// Wraps an ORCID read back from storage, where only canonical iDs are written.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Either no hyphens, or exactly the three between the groups of four.
fn hyphens_well_placed(bare: &str) -> bool {
    if !bare.contains('-') {
        return true;
    }
    let groups: Vec<&str> = bare.split('-').collect();
    groups.len() == 4 && groups.iter().all(|g| g.chars().count() == 4)
}

/// ISO 7064 MOD 11-2 over the first 15 digits, as ORCID specifies.
fn check_character(digits: &[char]) -> char {
    let total = digits
        .iter()
        .fold(0u32, |total, c| (total + c.to_digit(10).unwrap_or(0)) * 2);
    let result = (12 - total % 11) % 11;
    char::from_digit(result, 10).unwrap_or('X')
}

impl fmt::Display for Orcid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_published_examples() {
        // Examples from ORCID's own documentation.
        for ok in [
            "0000-0002-1825-0097",
            "0000-0001-5109-3700",
            "0000-0002-1694-233X",
            "https://orcid.org/0000-0002-1694-233x",
            "0000000218250097",
        ] {
            assert!(Orcid::parse(ok).is_ok(), "{ok} refused");
        }
        assert_eq!(
            Orcid::parse("https://orcid.org/0000-0002-1694-233x")
                .unwrap()
                .as_str(),
            "0000-0002-1694-233X"
        );
    }

    #[test]
    fn refuses_a_wrong_check_digit_and_bad_shapes() {
        let err = Orcid::parse("0000-0002-1825-0098").unwrap_err().to_string();
        assert!(
            err.contains("check character is 8, but its digits give 7"),
            "{err}"
        );
        for bad in [
            "",
            "1234",
            "0000-0002-1825-009",
            "00000-002-1825-0097",
            "abcd-0002-1825-0097",
        ] {
            assert!(Orcid::parse(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn any_fifteen_digits_with_their_check_character_round_trip(digits in proptest::collection::vec(0u32..10, 15)) {
            let chars: Vec<char> = digits.iter().filter_map(|d| char::from_digit(*d, 10)).collect();
            let mut raw: String = chars.iter().collect();
            raw.push(check_character(&chars));
            let parsed = Orcid::parse(&raw);
            prop_assert!(parsed.is_ok());
            let parsed = parsed.unwrap_or_else(|_| Orcid(String::new()));
            prop_assert_eq!(Orcid::parse(parsed.as_str()), Ok(parsed));
        }

        #[test]
        fn a_changed_digit_is_caught(digits in proptest::collection::vec(0u32..10, 15), pos in 0usize..15, delta in 1u32..10) {
            let chars: Vec<char> = digits.iter().filter_map(|d| char::from_digit(*d, 10)).collect();
            let check = check_character(&chars);
            let mut typo = chars;
            typo[pos] = char::from_digit((digits[pos] + delta) % 10, 10).unwrap_or('0');
            let mut raw: String = typo.iter().collect();
            raw.push(check);
            prop_assert!(Orcid::parse(&raw).is_err());
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Orcid::parse(&s);
        }
    }
}
