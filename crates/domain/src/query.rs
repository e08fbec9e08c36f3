//! Search queries: what a visitor types into a search box, read by rules of our own: words, `"quoted
//! phrases"` and a leading `-` to leave a word or phrase out. Nothing else is syntax: a colon, a
//! bracket, a star or `AND` is text like any other, so field names, ranges and wildcards never
//! reach the search engine, and no input nests (the reader is one loop, not a recursion, so no
//! input can exhaust a stack). Length and the number of words are bounded before any other work.

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words and phrases in one query: a pasted sentence fits, a pasted page does not.
pub const MAX_TERMS: usize = 64;

/// One word or phrase of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The text as typed (a phrase without its quotes); the analyzer makes words of it.
    pub text: String,
    /// Written in quotes: its words must appear together, in order.
    pub phrase: bool,
    /// Written with a leading `-`: papers containing it are left out.
    pub excluded: bool,
}

/// A query read into its words and phrases, in the order typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words {
    /// The terms.
    pub terms: Vec<Term>,
}

impl Words {
    /// Whether nothing was typed but blanks.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Longer than [`MAX_QUERY_CHARS`].
    #[error("at most {MAX_QUERY_CHARS} characters (got {0})")]
    TooLong(usize),
    /// More than [`MAX_TERMS`] words and phrases.
    #[error("at most {MAX_TERMS} words and phrases (got more)")]
    TooManyTerms,
}

/// Reads `input` into words and phrases. Never fails on what the text says, only on its size:
/// an unclosed quote runs to the end, a `-` alone is a word, control characters separate words.
pub fn parse(input: &str) -> Result<Words, QueryError> {
    // Counting is the only work done before the size is known to be fine (and the input was
    // bounded by the message or URL it came in).
    let count = input.chars().count();
    if count > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong(count));
    }
    let separator = |c: char| c.is_whitespace() || c.is_control();
    let mut terms = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start_matches(separator);
        if rest.is_empty() {
            break;
        }
        let mut excluded = false;
        if let Some(after) = rest.strip_prefix('-')
            && after.starts_with(|c: char| !separator(c))
        {
            excluded = true;
            rest = after;
        }
        let (text, phrase, next) = if let Some(after) = rest.strip_prefix('"') {
            match after.find('"') {
                Some(end) => (&after[..end], true, &after[end + 1..]),
                None => (after, true, ""),
            }
        } else {
            let end = rest.find(separator).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        rest = next;
        if text.trim_matches(separator).is_empty() {
            continue;
        }
        if terms.len() == MAX_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        terms.push(Term {
            text: text.to_owned(),
            phrase,
            excluded,
        });
    }
    Ok(Words { terms })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn term(text: &str, phrase: bool, excluded: bool) -> Term {
        Term {
            text: text.to_owned(),
            phrase,
            excluded,
        }
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let w = parse(r#"  violent "South Asia" -Pakistan -"civil war" - x"#).unwrap();
        assert_eq!(
            w.terms,
            [
                term("violent", false, false),
                term("South Asia", true, false),
                term("Pakistan", false, true),
                term("civil war", true, true),
                term("-", false, false),
                term("x", false, false),
            ]
        );
        assert_eq!(
            parse("\"unclosed phrase").unwrap().terms,
            [term("unclosed phrase", true, false)]
        );
        assert!(parse("   \t\u{0} \"\" ").unwrap().is_empty());
    }

    #[test]
    fn query_syntax_is_plain_text() {
        for odd in [
            "body:*",
            "title:*",
            "publication_type:[0 TO 100]",
            "a AND b",
            "x^9",
            "~1",
        ] {
            let w = parse(odd).unwrap();
            assert!(
                w.terms.iter().all(|t| !t.phrase && !t.excluded),
                "{odd}: {w:?}"
            );
            let joined: Vec<&str> = w.terms.iter().map(|t| t.text.as_str()).collect();
            assert_eq!(joined.join(" "), odd);
        }
    }

    #[test]
    fn size_is_bounded() {
        assert_eq!(parse(&"é".repeat(501)), Err(QueryError::TooLong(501)));
        assert!(parse(&"é".repeat(500)).is_ok());
        assert_eq!(
            parse(&"x".repeat(1_000_000)),
            Err(QueryError::TooLong(1_000_000))
        );
        assert_eq!(
            parse(r#""a"b"#).unwrap().terms.len(),
            2,
            "a phrase and a word"
        );
        assert_eq!(parse(&"a ".repeat(65)), Err(QueryError::TooManyTerms));
        assert_eq!(parse(&"a ".repeat(64)).unwrap().terms.len(), 64);
    }

    #[test]
    fn deep_nesting_is_flat_even_on_a_small_stack() {
        // The runtime's workers have 2 MiB stacks; a recursive reader overflowed on a few
        // hundred brackets. This one reads a million of them on a quarter of that.
        let nested = format!("{}word{}", "(".repeat(1_000_000), ")".repeat(1_000_000));
        let outcome = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let chars = nested.chars().count();
                // Past the size limit, and within it once cut to size.
                let long = parse(&nested);
                let cut: String = nested.chars().skip(chars / 2 - 240).take(490).collect();
                (long, parse(&cut).map(|w| w.terms.len()))
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(matches!(outcome.0, Err(QueryError::TooLong(_))));
        assert_eq!(outcome.1, Ok(1));
    }

    proptest! {
        #[test]
        fn any_text_reads_or_is_refused_for_its_size(s in r#"[()\[\]{}"'\-+:*?~^\\/!&| a-zA-Z0-9\x00-\x1f\u{80}-\u{10ffff}]{0,600}"#) {
            match parse(&s) {
                Ok(w) => {
                    prop_assert!(s.chars().count() <= MAX_QUERY_CHARS);
                    prop_assert!(w.terms.len() <= MAX_TERMS);
                    for t in &w.terms {
                        prop_assert!(!t.text.trim().is_empty());
                    }
                }
                Err(QueryError::TooLong(n)) => prop_assert!(n > MAX_QUERY_CHARS),
                Err(QueryError::TooManyTerms) => {
                    // Each term starts at a separator's end or at a quote.
                    let starts = s
                        .split(|c: char| c.is_whitespace() || c.is_control())
                        .filter(|p| !p.is_empty())
                        .count()
                        + s.matches('"').count();
                    prop_assert!(starts > MAX_TERMS);
                }
            }
        }
    }
}
