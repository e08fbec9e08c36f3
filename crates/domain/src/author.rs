//! Authors: the people credited on papers, with their bios and positions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Violations;
use crate::id::AuthorId;
use crate::mask::MaskField;
use crate::orcid::Orcid;
use crate::slug::Slug;
use crate::text::{Bio, PersonName, PositionText};
use crate::web::HttpUrl;

/// Most positions on one profile.
pub const MAX_POSITIONS: usize = 20;

/// A role an author holds or held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Job title: "Senior Program Officer".
    pub title: PositionText,
    /// Employer or affiliation: "USIP".
    pub organization: PositionText,
}

/// An author's fields as received from outside, before validation.
#[derive(Debug, Clone, Default)]
pub struct AuthorInput {
    /// Empty means "derive from the name" on create.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Biography.
    pub bio: String,
    /// (title, organization) pairs.
    pub positions: Vec<(String, String)>,
    /// ORCID iD or empty.
    pub orcid: String,
    /// Photo URL or empty.
    pub photo_url: String,
    /// The uploaded photo; `None` or blank for none.
    pub photo: Option<crate::file::ImageInput>,
    /// What the store holds of the photo (filled by the service before parsing).
    pub stored_files: crate::file::StoredFiles,
    /// The photo's smaller copies (filled by the service before parsing).
    pub stored_renditions: crate::file::StoredRenditions,
}

/// A field an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorField {
    /// `name`
    Name,
    /// `slug`
    Slug,
    /// `bio`
    Bio,
    /// `positions`
    Positions,
    /// `orcid`
    Orcid,
    /// `photo_url`
    PhotoUrl,
    /// `photo`: an uploaded image, not a link.
    Photo,
}

impl MaskField for AuthorField {
    const ALL: &'static [Self] = &[
        Self::Name,
        Self::Slug,
        Self::Bio,
        Self::Positions,
        Self::Orcid,
        Self::PhotoUrl,
        Self::Photo,
    ];

    fn path(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Slug => "slug",
            Self::Bio => "bio",
            Self::Positions => "positions",
            Self::Orcid => "orcid",
            Self::PhotoUrl => "photo_url",
            Self::Photo => "photo",
        }
    }
}

/// Stored and served as its update-mask path.
impl Serialize for AuthorField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.path())
    }
}

impl<'de> Deserialize<'de> for AuthorField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = String::deserialize(deserializer)?;
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.path() == path)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("'{path}' is not a field of an author"))
            })
    }
}

/// The editable content of an author profile, all validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorFields {
    /// Display name.
    pub name: PersonName,
    /// Biography.
    pub bio: Bio,
    /// Positions, most relevant first.
    pub positions: Vec<Position>,
    /// ORCID iD, when the author has one.
    pub orcid: Option<Orcid>,
    /// Portrait URL, when there is one.
    pub photo_url: Option<HttpUrl>,
    /// The uploaded portrait, when there is one (none on revisions saved before files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<crate::file::Image>,
}

impl AuthorFields {
    /// Validates a new author's fields. Returns the slug too when the client chose one.
    pub fn parse(input: &AuthorInput) -> Result<(Option<Slug>, Self), Violations> {
        let blank = Self {
            name: PersonName::default(),
            bio: Bio::default(),
            positions: Vec::new(),
            orcid: None,
            photo_url: None,
            photo: None,
        };
        let mut mask: Vec<AuthorField> = AuthorField::ALL.to_vec();
        if input.slug.is_empty() {
            mask.retain(|f| *f != AuthorField::Slug);
        }
        blank.apply(input, &mask)
    }

    /// These fields with the masked ones replaced from `input`; only masked fields are
    /// validated. The slug comes back when the mask names it.
    pub fn apply(
        &self,
        input: &AuthorInput,
        mask: &[AuthorField],
    ) -> Result<(Option<Slug>, Self), Violations> {
        let mut v = Violations::new();
        let mut next = self.clone();
        let mut slug = None;
        for field in mask {
            let path = field.path();
            match field {
                AuthorField::Slug => slug = v.check(path, Slug::parse(&input.slug)),
                AuthorField::Name => v.assign(path, &mut next.name, PersonName::parse(&input.name)),
                AuthorField::Bio => v.assign(path, &mut next.bio, Bio::parse(&input.bio)),
                AuthorField::Positions => {
                    if let Some(p) = v.nested(path, parse_positions(&input.positions)) {
                        next.positions = p;
                    }
                }
                AuthorField::Orcid => {
                    v.assign(path, &mut next.orcid, optional(&input.orcid, Orcid::parse));
                }
                AuthorField::PhotoUrl => {
                    let url = optional(&input.photo_url, HttpUrl::parse);
                    v.assign(path, &mut next.photo_url, url);
                }
                AuthorField::Photo => {
                    let parsed = crate::file::Image::parse(
                        input.photo.as_ref(),
                        &input.stored_files,
                        &input.stored_renditions,
                        "photo",
                    );
                    if let Some(photo) = v.nested(path, parsed) {
                        next.photo = photo;
                    }
                }
            }
        }
        v.into_result(|| (slug, next))
    }
}

/// An optional value: blank input clears it.
fn optional<T, E>(input: &str, parse: impl Fn(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    if input.trim().is_empty() {
        Ok(None)
    } else {
        parse(input).map(Some)
    }
}

fn parse_positions(inputs: &[(String, String)]) -> Result<Vec<Position>, Violations> {
    let mut v = Violations::new();
    if inputs.len() > MAX_POSITIONS {
        v.push(
            "",
            format!(
                "at most {MAX_POSITIONS} positions are allowed (got {})",
                inputs.len()
            ),
        );
        return Err(v);
    }
    let mut out = Vec::with_capacity(inputs.len());
    for (i, (title, organization)) in inputs.iter().enumerate() {
        let title = v.check(&format!("[{i}].title"), PositionText::parse(title));
        let organization = v.check(
            &format!("[{i}].organization"),
            PositionText::parse(organization),
        );
        if let (Some(title), Some(organization)) = (title, organization) {
            if title.as_str().is_empty() && organization.as_str().is_empty() {
                v.push(format!("[{i}]"), "needs a title or an organization");
            } else {
                out.push(Position {
                    title,
                    organization,
                });
            }
        }
    }
    v.into_result(|| out)
}

/// An author as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Identity, never changes.
    pub id: AuthorId,
    /// Current slug; former ones keep resolving.
    pub slug: Slug,
    /// The editable content.
    pub fields: AuthorFields,
    /// Incremented on every saved change; guards against lost updates.
    pub version: i64,
    /// When created.
    pub create_time: DateTime<Utc>,
    /// When last saved.
    pub update_time: DateTime<Utc>,
    /// Papers crediting this author, as learned from the papers service's events. Derived, not
    /// edited: it does not change the version.
    pub paper_count: i32,
}

impl Author {
    /// A new author, version 1.
    pub fn new(slug: Slug, fields: AuthorFields, now: DateTime<Utc>) -> Self {
        Self {
            id: AuthorId::generate(),
            slug,
            fields,
            version: 1,
            create_time: now,
            update_time: now,
            paper_count: 0,
        }
    }
}

impl crate::audit::Audited for Author {
    type Field = AuthorField;
    const FIELDS: &'static [AuthorField] = <AuthorField as MaskField>::ALL;

    fn path(field: AuthorField) -> &'static str {
        field.path()
    }

    fn value(&self, field: AuthorField) -> serde_json::Value {
        use crate::audit::json;
        let f = &self.fields;
        match field {
            AuthorField::Name => json(&f.name),
            AuthorField::Slug => json(&self.slug),
            AuthorField::Bio => json(&f.bio),
            AuthorField::Positions => json(&f.positions),
            AuthorField::Orcid => json(&f.orcid),
            AuthorField::PhotoUrl => json(&f.photo_url),
            AuthorField::Photo => json(&f.photo),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_profile() {
        let input = AuthorInput {
            name: " Imran  Khan ".into(),
            bio: "Imran Khan is USIP’s country director in Pakistan.".into(),
            positions: vec![("Country Director".into(), "USIP".into())],
            orcid: "https://orcid.org/0000-0002-1825-0097".into(),
            photo_url: "https://example.org/khan.jpg".into(),
            ..AuthorInput::default()
        };
        let (slug, author) = AuthorFields::parse(&input).unwrap();
        assert!(slug.is_none());
        assert_eq!(author.name.as_str(), "Imran Khan");
        assert_eq!(author.orcid.unwrap().as_str(), "0000-0002-1825-0097");
    }

    #[test]
    fn names_every_bad_field() {
        let input = AuthorInput {
            slug: "-x".into(),
            name: "".into(),
            positions: vec![("ok".into(), "".into()), ("".into(), "".into())],
            orcid: "0000-0002-1825-0098".into(),
            photo_url: "javascript:alert(1)".into(),
            ..AuthorInput::default()
        };
        let err = AuthorFields::parse(&input).unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "slug", "positions[1]", "orcid", "photo_url"]
        );
    }

    #[test]
    fn clearing_optional_fields() {
        let input = AuthorInput {
            name: "A".into(),
            orcid: "0000-0002-1825-0097".into(),
            ..AuthorInput::default()
        };
        let (_, author) = AuthorFields::parse(&input).unwrap();
        let (_, cleared) = author
            .apply(&AuthorInput::default(), &[AuthorField::Orcid])
            .unwrap();
        assert_eq!(cleared.orcid, None);
        assert_eq!(cleared.name.as_str(), "A");
    }
}
