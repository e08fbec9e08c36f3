//! The audit trail: who made each change ([`Actor`], with the [`Role`] it acted with), what kind
//! of change it was ([`RevisionKind`]), and what two versions of a resource differ in, field by
//! field ([`diff`] over any [`Audited`] resource). Papers and authors keep the same trail, so
//! the rules live here once.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an editorial caller may do. Each role can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, drafts included.
    Viewer,
    /// Creates and edits drafts and authors.
    Editor,
    /// Publishes, unpublishes and deletes.
    Publisher,
    /// Pins related publications and manages partner keys.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Publisher, Role::Admin];

    /// Its name in tokens and settings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Publisher => "publisher",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a role; use viewer, editor, publisher or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRole(crate::id::shorten(s)))
    }
}

/// The subject of a caller's token: a static token's name, or a JWT's `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subject(String);

/// A subject that cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Nothing, or only spaces.
    #[error("the token's subject is empty")]
    Empty,
    /// Longer than [`Subject::MAX`] characters.
    #[error("the token's subject is longer than {} characters", Subject::MAX)]
    TooLong,
    /// Holds a control character.
    #[error("the token's subject holds a control character")]
    Control,
}

impl Subject {
    /// Most characters a subject may have (identity providers' `sub` claims are short; a long
    /// one is a forged or broken token, not a person).
    pub const MAX: usize = 255;

    /// Checks a subject from a token.
    pub fn parse(input: &str) -> Result<Self, SubjectError> {
        let s = input.trim();
        if s.is_empty() {
            Err(SubjectError::Empty)
        } else if s.chars().count() > Self::MAX {
            Err(SubjectError::TooLong)
        } else if s.chars().any(char::is_control) {
            Err(SubjectError::Control)
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    /// The subject as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// Imprint itself: the scheduler, reactions to other services' events (the demo loader
    /// acts with a token of its own, `demo-loader`).
    System,
    /// A caller the gateway authenticated, with the role it acted with.
    Caller {
        /// Its token's subject.
        subject: Subject,
        /// The strongest role its token grants.
        role: Role,
    },
}

impl Actor {
    /// The name [`Actor::System`] is recorded under.
    pub const SYSTEM: &'static str = "system";

    /// The subject recorded: the caller's, or `system`.
    pub fn subject(&self) -> &str {
        match self {
            Self::System => Self::SYSTEM,
            Self::Caller { subject, .. } => subject.as_str(),
        }
    }

    /// The role recorded; `None` for the system.
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::System => None,
            Self::Caller { role, .. } => Some(*role),
        }
    }

    /// The actor stored in a subject and a role column: `None` when no subject was stored
    /// (written before actors were recorded), the system when no role was.
    pub fn from_columns(
        subject: Option<&str>,
        role: Option<&str>,
    ) -> Result<Option<Self>, StoredActorError> {
        match (subject, role) {
            (None, None) => Ok(None),
            (Some(Self::SYSTEM), None) => Ok(Some(Self::System)),
            // Only the system is stored without a role, and nobody without a subject.
            (Some(_), None) | (None, Some(_)) => Err(StoredActorError::Incomplete),
            (Some(subject), Some(role)) => Ok(Some(Self::from_record(
                subject,
                Some(role.parse::<Role>()?),
            )?)),
        }
    }

    /// The actor recorded as `subject` with `role` (`None`: the system).
    pub fn from_record(subject: &str, role: Option<Role>) -> Result<Self, SubjectError> {
        match role {
            None => Ok(Self::System),
            Some(role) => Ok(Self::Caller {
                subject: Subject::parse(subject)?,
                role,
            }),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str(Self::SYSTEM),
            Self::Caller { subject, role } => write!(f, "{subject} ({role})"),
        }
    }
}

/// Stored actor columns that no actor was written as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredActorError {
    /// The role column names no role.
    #[error("actor role: {0}")]
    Role(#[from] UnknownRole),
    /// The subject column cannot be a subject.
    #[error("actor subject: {0}")]
    Subject(#[from] SubjectError),
    /// A role without a subject, or a subject other than the system's without a role.
    #[error("actor: a subject and a role go together (only the system has no role)")]
    Incomplete,
}

/// What a saved change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevisionKind {
    /// The resource was created.
    Created,
    /// Fields were edited.
    Updated,
    /// The paper was published.
    Published,
    /// The paper was withdrawn.
    Unpublished,
    /// A paper's publication or withdrawal was scheduled or cancelled, or a schedule failed.
    Scheduled,
    /// The content of an older revision was restored.
    Restored,
}

impl RevisionKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::Updated,
        Self::Published,
        Self::Unpublished,
        Self::Scheduled,
        Self::Restored,
    ];

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Scheduled => "scheduled",
            Self::Restored => "restored",
        }
    }

    /// The kind stored as `s`.
    pub fn from_str_opt(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl<T, C> Revision<T, C> {
    /// The same edit, as a restore of version `from` when there is one: an edit and a restore
    /// are saved alike, and only the kind and the restored version tell them apart.
    #[must_use]
    pub fn restoring(mut self, from: Option<i64>) -> Self {
        if from.is_some() {
            self.kind = RevisionKind::Restored;
            self.restored_from = from;
        }
        self
    }
}

/// A resource as one saved change left it, with who made the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision<T, C> {
    /// What the change did.
    pub kind: RevisionKind,
    /// What the change touched.
    pub changed: C,
    /// The resource after the change; its version is the revision's.
    pub state: T,
    /// Who made it; `None` for revisions saved before actors were recorded.
    pub actor: Option<Actor>,
    /// For [`RevisionKind::Restored`]: the version whose content it restored.
    pub restored_from: Option<i64>,
    /// When it was saved.
    pub time: DateTime<Utc>,
}

/// A resource whose versions can be compared field by field.
pub trait Audited {
    /// Names its fields.
    type Field: Copy + Eq + 'static;

    /// Every field compared, in the order a diff lists them.
    const FIELDS: &'static [Self::Field];

    /// A field's path, as update masks name it.
    fn path(field: Self::Field) -> &'static str;

    /// A field's value, as JSON: what a diff shows.
    fn value(&self, field: Self::Field) -> serde_json::Value;
}

/// One field as two versions have it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange<F> {
    /// Which field.
    pub field: F,
    /// Its value in the older version.
    pub before: serde_json::Value,
    /// Its value in the newer version.
    pub after: serde_json::Value,
}

/// Each field that differs between `before` and `after`, in the resource's order.
pub fn diff<T: Audited>(before: &T, after: &T) -> Vec<FieldChange<T::Field>> {
    T::FIELDS
        .iter()
        .filter_map(|&field| {
            let (b, a) = (before.value(field), after.value(field));
            (b != a).then_some(FieldChange {
                field,
                before: b,
                after: a,
            })
        })
        .collect()
}

/// A value as JSON; a type that cannot be is a bug caught by the tests, shown as null.
pub(crate) fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_by_name() {
        assert!(Role::Viewer < Role::Editor && Role::Publisher < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .to_string()
                .contains("'root'")
        );
    }

    #[test]
    fn subjects_are_bounded_and_printable() {
        assert_eq!(Subject::parse(" alice ").unwrap().as_str(), "alice");
        assert_eq!(Subject::parse(" "), Err(SubjectError::Empty));
        assert_eq!(Subject::parse("a\nb"), Err(SubjectError::Control));
        assert_eq!(Subject::parse(&"x".repeat(256)), Err(SubjectError::TooLong));
        assert!(Subject::parse(&"é".repeat(255)).is_ok());
    }

    #[test]
    fn actors_round_trip_through_their_record() {
        let alice = Actor::Caller {
            subject: Subject::parse("alice@example.org").unwrap(),
            role: Role::Editor,
        };
        assert_eq!(
            Actor::from_record(alice.subject(), alice.role()).unwrap(),
            alice
        );
        assert_eq!(
            Actor::from_record(Actor::System.subject(), None).unwrap(),
            Actor::System
        );
        assert_eq!(alice.to_string(), "alice@example.org (editor)");
        // As two columns: nothing stored, the system, a caller, and what no actor is.
        assert_eq!(Actor::from_columns(None, None), Ok(None));
        assert_eq!(
            Actor::from_columns(Some("system"), None),
            Ok(Some(Actor::System))
        );
        assert_eq!(
            Actor::from_columns(Some("alice@example.org"), Some("editor")),
            Ok(Some(alice))
        );
        assert!(Actor::from_columns(Some("x"), Some("root")).is_err());
        assert!(Actor::from_columns(Some(""), Some("editor")).is_err());
        assert!(Actor::from_columns(Some("alice"), None).is_err());
        assert!(Actor::from_columns(None, Some("editor")).is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for kind in RevisionKind::ALL {
            assert_eq!(RevisionKind::from_str_opt(kind.as_str()), Some(kind));
        }
        assert_eq!(RevisionKind::from_str_opt("edited"), None);
    }
}
