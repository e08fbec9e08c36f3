//! Controlled vocabularies: the programs (centers), regions (with their countries) and series
//! an institute organises its publications by, beside free topics. A term is managed (created,
//! renamed, merged, retired) by admins; a paper carries at most [`MAX_TERMS`] of each
//! vocabulary, by id. Renaming keeps the old slug resolving; merging moves the slugs and the
//! papers of one term to another; retiring keeps the term on the papers that have it but lets
//! no paper take it anew.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Violations;
use crate::id::TermId;
use crate::mask::MaskField;
use crate::slug::Slug;
use crate::text::{TextError, clean_line};

/// Most terms of one vocabulary on one paper: "a few", as sites show them.
pub const MAX_TERMS: usize = 5;

/// Most merges followed from a term to the one it ended in (a merged term's target may have
/// been merged since).
pub const MAX_MERGE_HOPS: usize = 8;

/// Longest text naming a term from outside: its id or a slug, whichever is longer.
pub const MAX_TERM_KEY_CHARS: usize = if crate::limits::MAX_ID_CHARS > crate::slug::MAX_SLUG_LEN {
    crate::limits::MAX_ID_CHARS
} else {
    crate::slug::MAX_SLUG_LEN
};

/// A managed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vocabulary {
    /// A program or center of the institute ("Asia Center").
    Program,
    /// A region ("South Asia") or, under one, a country ("Pakistan").
    Region,
    /// A series of publications ("Peaceworks").
    Series,
}

impl Vocabulary {
    /// Every vocabulary, in the contract's order.
    pub const ALL: [Self; 3] = [Self::Program, Self::Region, Self::Series];

    /// The stable storage and query name: `program`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Program => "program",
            Self::Region => "region",
            Self::Series => "series",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn from_str_opt(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The paper field that holds this vocabulary's terms: `program_ids`.
    pub fn field_path(self) -> &'static str {
        match self {
            Self::Program => "program_ids",
            Self::Region => "region_ids",
            Self::Series => "series_ids",
        }
    }

    /// Whether its terms may sit under another term of it (countries under regions).
    pub fn nests(self) -> bool {
        self == Self::Region
    }
}

impl std::fmt::Display for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A term's name as readers see it: "Asia Center". One line, 1–200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TermName(String);

impl TermName {
    /// Most characters in a name.
    pub const MAX: usize = 200;

    /// Trims, collapses inner whitespace and checks the length.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean_line(input, 1, Self::MAX).map(Self)
    }

    /// Wraps a name read back from storage.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TermName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The terms of one vocabulary on a paper: at most [`MAX_TERMS`], each once, in the order the
/// editor gave (the first is the paper's main program or region).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TermIds(Vec<TermId>);

impl TermIds {
    /// Parses each id (violations under `[i]`), refusing duplicates and more than
    /// [`MAX_TERMS`], counted as sent.
    pub fn parse(inputs: &[String], vocabulary: Vocabulary) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if inputs.len() > MAX_TERMS {
            violations.push(
                "",
                format!(
                    "at most {MAX_TERMS} {vocabulary} terms are allowed on a paper (got {})",
                    inputs.len()
                ),
            );
            return Err(violations);
        }
        let mut ids: Vec<TermId> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let Some(id) = violations.check(&format!("[{i}]"), TermId::parse(input)) else {
                continue;
            };
            if let Some(first) = ids.iter().position(|seen| *seen == id) {
                violations.push(
                    format!("[{i}]"),
                    format!("{vocabulary} {id} is already given at position {first}"),
                );
            } else {
                ids.push(id);
            }
        }
        violations.into_result(|| Self(ids))
    }

    /// Wraps ids read back from storage (or resolved by the service).
    pub fn from_trusted(ids: Vec<TermId>) -> Self {
        Self(ids)
    }

    /// The ids, in order.
    pub fn as_slice(&self) -> &[TermId] {
        &self.0
    }

    /// The same ids with `from` replaced by `to` (kept once, at the first of their places).
    #[must_use]
    pub fn replacing(&self, from: TermId, to: TermId) -> Self {
        let mut ids: Vec<TermId> = Vec::with_capacity(self.0.len());
        for id in &self.0 {
            let id = if *id == from { to } else { *id };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Self(ids)
    }
}

/// A paper's terms, one list per vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaperTerms {
    /// Its programs.
    #[serde(default)]
    pub programs: TermIds,
    /// Its regions and countries.
    #[serde(default)]
    pub regions: TermIds,
    /// Its series.
    #[serde(default)]
    pub series: TermIds,
}

impl PaperTerms {
    /// The terms of `vocabulary`.
    pub fn of(&self, vocabulary: Vocabulary) -> &TermIds {
        match vocabulary {
            Vocabulary::Program => &self.programs,
            Vocabulary::Region => &self.regions,
            Vocabulary::Series => &self.series,
        }
    }

    /// The terms of `vocabulary`, to replace.
    pub fn of_mut(&mut self, vocabulary: Vocabulary) -> &mut TermIds {
        match vocabulary {
            Vocabulary::Program => &mut self.programs,
            Vocabulary::Region => &mut self.regions,
            Vocabulary::Series => &mut self.series,
        }
    }

    /// Every term, of every vocabulary.
    pub fn all(&self) -> impl Iterator<Item = TermId> + '_ {
        Vocabulary::ALL
            .into_iter()
            .flat_map(|v| self.of(v).as_slice().iter().copied())
    }

    /// Whether the paper carries no term at all.
    pub fn is_empty(&self) -> bool {
        self.all().next().is_none()
    }
}

/// A term of a vocabulary, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    /// Identity, never changes.
    pub id: TermId,
    /// Which vocabulary; never changes.
    pub vocabulary: Vocabulary,
    /// Current slug; former ones keep resolving.
    pub slug: Slug,
    /// What readers see.
    pub name: TermName,
    /// The region a country is in; `None` for top-level terms.
    pub parent: Option<TermId>,
    /// Kept on the papers that have it, but no paper takes it anew.
    pub retired: bool,
    /// The term it was merged into: its slugs and papers are that term's now.
    pub merged_into: Option<TermId>,
    /// Incremented on every saved change; guards against lost updates.
    pub version: i64,
    /// When created.
    pub create_time: DateTime<Utc>,
    /// When last saved.
    pub update_time: DateTime<Utc>,
}

/// A term's fields as received from outside, before validation.
#[derive(Debug, Clone, Default)]
pub struct TermInput {
    /// `None` when the client left it unspecified.
    pub vocabulary: Option<Vocabulary>,
    /// Empty means "derive from the name" on create.
    pub slug: String,
    /// The name.
    pub name: String,
    /// The parent's id; empty for none.
    pub parent_id: String,
    /// Whether it is retired.
    pub retired: bool,
}

/// A field of a term an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermField {
    /// `name`
    Name,
    /// `slug`
    Slug,
    /// `parent_id`
    ParentId,
    /// `retired`
    Retired,
}

impl MaskField for TermField {
    const ALL: &'static [Self] = &[Self::Name, Self::Slug, Self::ParentId, Self::Retired];

    fn path(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Slug => "slug",
            Self::ParentId => "parent_id",
            Self::Retired => "retired",
        }
    }
}

/// Why a change of terms is refused because of how terms relate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxonomyError {
    /// Only regions nest.
    #[error("a {0} has no parent: only regions hold countries")]
    NotNested(Vocabulary),
    /// A parent of another vocabulary.
    #[error("{parent} is a {vocabulary}, not a region")]
    ParentVocabulary {
        /// The parent asked for.
        parent: TermId,
        /// Its vocabulary.
        vocabulary: Vocabulary,
    },
    /// Countries do not hold countries: one level only.
    #[error("{0} is itself under a region; a country cannot hold another")]
    ParentNested(TermId),
    /// A region holding countries cannot become one.
    #[error("{0} holds countries, so it cannot be put under another region")]
    HasChildren(TermId),
    /// A term cannot be its own parent.
    #[error("a term cannot be its own parent")]
    OwnParent,
    /// A merged term is gone: its slugs and papers are its target's.
    #[error("{id} was merged into {into}; use {into}")]
    Merged {
        /// The term.
        id: TermId,
        /// Where it went.
        into: TermId,
    },
    /// A retired term cannot be given to a paper anew.
    #[error(
        "{vocabulary} '{slug}' is retired: it stays on the papers that have it, but no paper can take it anew"
    )]
    Retired {
        /// Its vocabulary.
        vocabulary: Vocabulary,
        /// Its slug.
        slug: Slug,
    },
    /// Terms of two vocabularies cannot be merged.
    #[error(
        "{source_vocabulary} {source_id} cannot be merged into {target_vocabulary} {target_id}: a merge stays within one vocabulary"
    )]
    MergeAcrossVocabularies {
        /// The term merged.
        source_id: TermId,
        /// Its vocabulary.
        source_vocabulary: Vocabulary,
        /// The term merged into.
        target_id: TermId,
        /// Its vocabulary.
        target_vocabulary: Vocabulary,
    },
    /// A term cannot be merged into itself or into one of its countries.
    #[error("{0} cannot be merged into itself or into a country under it")]
    MergeIntoOwn(TermId),
}

impl Term {
    /// A new term, version 1, named and slugged; its parent is checked by the caller
    /// ([`Term::check_parent`]), which alone can read it.
    pub fn parse_new(
        input: &TermInput,
        now: DateTime<Utc>,
    ) -> Result<(Option<Slug>, Self), Violations> {
        let mut v = Violations::new();
        let vocabulary = v.check("vocabulary", input.vocabulary.ok_or(VocabularyRequired));
        let name = v.check("name", TermName::parse(&input.name));
        let slug = if input.slug.trim().is_empty() {
            None
        } else {
            v.check("slug", Slug::parse(&input.slug))
        };
        let parent = v
            .check("parent_id", parse_parent(&input.parent_id))
            .flatten();
        match (vocabulary, name) {
            (Some(vocabulary), Some(name)) if v.is_empty() => {
                if parent.is_some() && !vocabulary.nests() {
                    return Err(Violations::one(
                        "parent_id",
                        TaxonomyError::NotNested(vocabulary),
                    ));
                }
                let derived = Slug::derive(name.as_str(), vocabulary.as_str());
                Ok((
                    slug,
                    Self {
                        id: TermId::generate(),
                        vocabulary,
                        slug: derived,
                        name,
                        parent,
                        retired: input.retired,
                        merged_into: None,
                        version: 1,
                        create_time: now,
                        update_time: now,
                    },
                ))
            }
            _ => Err(v),
        }
    }

    /// This term with the masked fields replaced from `input`: a new slug must be given
    /// (it is not derived on a rename, so links stay predictable). A merged term is not edited.
    pub fn apply(&self, input: &TermInput, mask: &[TermField]) -> Result<Self, Violations> {
        if let Some(into) = self.merged_into {
            return Err(Violations::one(
                "id",
                TaxonomyError::Merged { id: self.id, into },
            ));
        }
        let mut v = Violations::new();
        let mut next = self.clone();
        for field in mask {
            let path = field.path();
            match field {
                TermField::Name => v.assign(path, &mut next.name, TermName::parse(&input.name)),
                TermField::Slug => v.assign(path, &mut next.slug, Slug::parse(&input.slug)),
                TermField::ParentId => {
                    if let Some(parent) = v.check(path, parse_parent(&input.parent_id)) {
                        if parent.is_some() && !self.vocabulary.nests() {
                            v.push(path, TaxonomyError::NotNested(self.vocabulary));
                        } else if parent == Some(self.id) {
                            v.push(path, TaxonomyError::OwnParent);
                        }
                        next.parent = parent;
                    }
                }
                TermField::Retired => next.retired = input.retired,
            }
        }
        v.into_result(|| next)
    }

    /// Checks that `parent` may hold this term: a top-level region, not the term itself, and
    /// this term holding no countries of its own (`has_children`).
    pub fn check_parent(&self, parent: &Term, has_children: bool) -> Result<(), TaxonomyError> {
        if parent.id == self.id {
            return Err(TaxonomyError::OwnParent);
        }
        if parent.vocabulary != Vocabulary::Region {
            return Err(TaxonomyError::ParentVocabulary {
                parent: parent.id,
                vocabulary: parent.vocabulary,
            });
        }
        if let Some(into) = parent.merged_into {
            return Err(TaxonomyError::Merged {
                id: parent.id,
                into,
            });
        }
        if parent.parent.is_some() {
            return Err(TaxonomyError::ParentNested(parent.id));
        }
        if has_children {
            return Err(TaxonomyError::HasChildren(self.id));
        }
        Ok(())
    }

    /// Checks that this term may be merged into `target`: same vocabulary, not itself nor one
    /// of its countries, and, when it holds countries, into a top-level region (they move
    /// with it).
    pub fn check_merge(&self, target: &Term, has_children: bool) -> Result<(), TaxonomyError> {
        if let Some(into) = target.merged_into {
            return Err(TaxonomyError::Merged {
                id: target.id,
                into,
            });
        }
        if self.vocabulary != target.vocabulary {
            return Err(TaxonomyError::MergeAcrossVocabularies {
                source_id: self.id,
                source_vocabulary: self.vocabulary,
                target_id: target.id,
                target_vocabulary: target.vocabulary,
            });
        }
        if target.id == self.id || target.parent == Some(self.id) {
            return Err(TaxonomyError::MergeIntoOwn(self.id));
        }
        if has_children && target.parent.is_some() {
            return Err(TaxonomyError::ParentNested(target.id));
        }
        Ok(())
    }

    /// Whether a paper may be given this term anew.
    pub fn check_assignable(&self) -> Result<(), TaxonomyError> {
        if let Some(into) = self.merged_into {
            return Err(TaxonomyError::Merged { id: self.id, into });
        }
        if self.retired {
            return Err(TaxonomyError::Retired {
                vocabulary: self.vocabulary,
                slug: self.slug.clone(),
            });
        }
        Ok(())
    }
}

/// A parent id as sent: empty for none.
fn parse_parent(input: &str) -> Result<Option<TermId>, crate::id::IdError> {
    if input.trim().is_empty() {
        Ok(None)
    } else {
        TermId::parse(input).map(Some)
    }
}

/// A term sent without its vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is required: choose VOCABULARY_PROGRAM, VOCABULARY_REGION or VOCABULARY_SERIES")]
struct VocabularyRequired;

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str) -> Term {
        let input = TermInput {
            vocabulary: Some(Vocabulary::Region),
            name: name.to_owned(),
            ..TermInput::default()
        };
        Term::parse_new(&input, Utc::now()).unwrap().1
    }

    #[test]
    fn a_new_term_derives_its_slug_and_needs_a_vocabulary() {
        let south_asia = region("  South   Asia ");
        assert_eq!(south_asia.name.as_str(), "South Asia");
        assert_eq!(south_asia.slug.as_str(), "south-asia");
        let err = Term::parse_new(&TermInput::default(), Utc::now()).unwrap_err();
        let fields: Vec<_> = err.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["vocabulary", "name"]);
    }

    #[test]
    fn only_regions_nest_and_only_one_level_deep() {
        let program = TermInput {
            vocabulary: Some(Vocabulary::Program),
            name: "Asia Center".into(),
            parent_id: TermId::generate().to_string(),
            ..TermInput::default()
        };
        let err = Term::parse_new(&program, Utc::now()).unwrap_err();
        assert!(
            err.to_string()
                .contains("parent_id: a program has no parent")
        );

        let south_asia = region("South Asia");
        let mut pakistan = region("Pakistan");
        assert_eq!(pakistan.check_parent(&south_asia, false), Ok(()));
        pakistan.parent = Some(south_asia.id);
        let sindh = region("Sindh");
        assert_eq!(
            sindh.check_parent(&pakistan, false),
            Err(TaxonomyError::ParentNested(pakistan.id))
        );
        let asia = region("Asia");
        assert_eq!(
            south_asia.check_parent(&asia, true),
            Err(TaxonomyError::HasChildren(south_asia.id))
        );
        assert_eq!(
            south_asia.check_parent(&south_asia, false),
            Err(TaxonomyError::OwnParent)
        );
    }

    #[test]
    fn merges_stay_in_one_vocabulary_and_never_into_their_own() {
        let south_asia = region("South Asia");
        let mut pakistan = region("Pakistan");
        pakistan.parent = Some(south_asia.id);
        assert_eq!(
            south_asia.check_merge(&pakistan, true),
            Err(TaxonomyError::MergeIntoOwn(south_asia.id))
        );
        let mut program = region("Asia Center");
        program.vocabulary = Vocabulary::Program;
        assert!(matches!(
            south_asia.check_merge(&program, false),
            Err(TaxonomyError::MergeAcrossVocabularies { .. })
        ));
        let asia = region("Asia");
        assert_eq!(south_asia.check_merge(&asia, true), Ok(()));
    }

    #[test]
    fn term_lists_are_bounded_deduplicated_and_renamed_by_merges() {
        let a = TermId::generate();
        let b = TermId::generate();
        let err = TermIds::parse(&[a.to_string(), a.to_string()], Vocabulary::Region)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[1]: region"), "{err}");
        let many: Vec<String> = (0..=MAX_TERMS)
            .map(|_| TermId::generate().to_string())
            .collect();
        assert!(TermIds::parse(&many, Vocabulary::Series).is_err());
        let ids = TermIds::from_trusted(vec![a, b]);
        assert_eq!(ids.replacing(a, b).as_slice(), [b]);
    }

    #[test]
    fn retired_and_merged_terms_are_not_given_anew() {
        let mut t = region("Levant");
        assert_eq!(t.check_assignable(), Ok(()));
        t.retired = true;
        assert!(
            t.check_assignable()
                .unwrap_err()
                .to_string()
                .contains("retired")
        );
        let err = t
            .apply(
                &TermInput {
                    name: "Levant".into(),
                    ..TermInput::default()
                },
                &[TermField::Name],
            )
            .map(|next| next.retired);
        assert_eq!(err, Ok(true), "a rename keeps it retired");
    }
}
