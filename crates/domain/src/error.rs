//! Validation errors that name the field at fault, so an editor's form can point at it.

use std::fmt;

/// One bad field: its path (`title`, `positions[1].organization`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, relative to the resource being validated; callers add their prefix.
    pub field: String,
    /// A sentence for a person: what is wrong and what is allowed.
    pub description: String,
}

/// Every bad field of one input, collected so the client learns all of them at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single violation.
    pub fn one(field: impl Into<String>, description: impl std::fmt::Display) -> Self {
        let mut v = Self::new();
        v.push(field, description);
        v
    }

    /// Records that `field` is bad.
    pub fn push(&mut self, field: impl Into<String>, description: impl std::fmt::Display) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.to_string(),
        });
    }

    /// Keeps the value of `result`, or records its error against `field` and gives `None`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.push(field, description);
                None
            }
        }
    }

    /// Stores the value of `result` in `slot`, or records its error against `field`.
    pub fn assign<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        slot: &mut T,
        result: Result<T, E>,
    ) {
        if let Some(value) = self.check(field, result) {
            *slot = value;
        }
    }

    /// Keeps the value of a nested parse, or records its violations under `prefix`.
    pub fn nested<T>(&mut self, prefix: &str, result: Result<T, Violations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(inner) => {
                self.extend_prefixed(prefix, inner);
                None
            }
        }
    }

    /// Adds the violations of a nested value, its paths under `prefix`.
    pub fn extend_prefixed(&mut self, prefix: &str, other: Violations) {
        for v in other.0 {
            self.0.push(FieldViolation {
                field: join_path(prefix, &v.field),
                description: v.description,
            });
        }
    }

    /// The same violations with every path under `prefix` (`title` becomes `paper.title`).
    #[must_use]
    pub fn prefixed(self, prefix: &str) -> Self {
        let mut out = Self::new();
        out.extend_prefixed(prefix, self);
        out
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded violations, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was recorded, else these violations.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

fn join_path(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) if field.starts_with('[') => format!("{prefix}{field}"),
        (false, false) => format!("{prefix}.{field}"),
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

impl IntoIterator for Violations {
    type Item = FieldViolation;
    type IntoIter = std::vec::IntoIter<FieldViolation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_paths_and_indexes() {
        let mut inner = Violations::one("title", "must not be empty");
        inner.push("[2]", "duplicate");
        let out = inner.prefixed("paper");
        let fields: Vec<_> = out.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["paper.title", "paper[2]"]);
        assert_eq!(
            out.to_string(),
            "paper.title: must not be empty; paper[2]: duplicate"
        );
    }
}
