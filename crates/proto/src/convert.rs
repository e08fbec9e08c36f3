//! Conversions between generated messages and domain types. Outgoing conversions cannot fail;
//! incoming ones only gather the raw input, which the domain parsers then validate.

use chrono::{DateTime, Utc};
use imprint_domain as domain;
use imprint_domain::Violations;
use prost_types::Timestamp;

use crate::{authors, papers};

/// A domain time as a protobuf `Timestamp`.
pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A value from outside that the contract's types cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A `Timestamp`'s nanos outside a second.
    #[error("nanos {0} is not between 0 and 999,999,999")]
    Nanos(i32),
    /// A `Timestamp` too far from the epoch.
    #[error("{0} seconds is outside the supported range")]
    Seconds(i64),
    /// A number the named enum does not define.
    #[error("{value} is not a known {name} value")]
    UnknownEnum {
        /// The number sent.
        value: i32,
        /// The enum's protobuf name.
        name: &'static str,
    },
}

/// A protobuf `Timestamp` from outside as a domain time.
pub fn from_timestamp(t: &Timestamp) -> Result<DateTime<Utc>, ConvertError> {
    let nanos = u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or(ConvertError::Nanos(t.nanos))?;
    DateTime::from_timestamp(t.seconds, nanos).ok_or(ConvertError::Seconds(t.seconds))
}

/// The domain publication type as its proto enum.
pub fn publication_type_to_proto(t: domain::PublicationType) -> papers::PublicationType {
    use domain::PublicationType as D;
    use papers::PublicationType as P;
    match t {
        D::Report => P::Report,
        D::DiscussionPaper => P::DiscussionPaper,
        D::QuestionAndAnswer => P::QuestionAndAnswer,
        D::Analysis => P::Analysis,
        D::Article => P::Article,
        D::PolicyBrief => P::PolicyBrief,
        D::WorkingPaper => P::WorkingPaper,
        D::Preprint => P::Preprint,
        D::ConferencePaper => P::ConferencePaper,
        D::JournalArticle => P::JournalArticle,
        D::Book => P::Book,
    }
}

/// A proto publication type from outside: `None` when unspecified, an error for a number the
/// contract does not define.
pub fn publication_type_from_proto(
    value: i32,
) -> Result<Option<domain::PublicationType>, ConvertError> {
    use domain::PublicationType as D;
    use papers::PublicationType as P;
    let known = P::try_from(value).map_err(|_| ConvertError::UnknownEnum {
        value,
        name: "PublicationType",
    })?;
    Ok(match known {
        P::Unspecified => None,
        P::Report => Some(D::Report),
        P::DiscussionPaper => Some(D::DiscussionPaper),
        P::QuestionAndAnswer => Some(D::QuestionAndAnswer),
        P::Analysis => Some(D::Analysis),
        P::Article => Some(D::Article),
        P::PolicyBrief => Some(D::PolicyBrief),
        P::WorkingPaper => Some(D::WorkingPaper),
        P::Preprint => Some(D::Preprint),
        P::ConferencePaper => Some(D::ConferencePaper),
        P::JournalArticle => Some(D::JournalArticle),
        P::Book => Some(D::Book),
    })
}

/// The domain status as its proto enum.
pub fn status_to_proto(s: domain::PaperStatus) -> papers::PaperStatus {
    match s {
        domain::PaperStatus::Draft => papers::PaperStatus::Draft,
        domain::PaperStatus::Published => papers::PaperStatus::Published,
        domain::PaperStatus::Archived => papers::PaperStatus::Archived,
    }
}

/// A proto status from outside: `None` when unspecified.
pub fn status_from_proto(value: i32) -> Result<Option<domain::PaperStatus>, ConvertError> {
    let known = papers::PaperStatus::try_from(value).map_err(|_| ConvertError::UnknownEnum {
        value,
        name: "PaperStatus",
    })?;
    Ok(match known {
        papers::PaperStatus::Unspecified => None,
        papers::PaperStatus::Draft => Some(domain::PaperStatus::Draft),
        papers::PaperStatus::Published => Some(domain::PaperStatus::Published),
        papers::PaperStatus::Archived => Some(domain::PaperStatus::Archived),
    })
}

impl From<&domain::Paper> for papers::Paper {
    fn from(p: &domain::Paper) -> Self {
        let f = &p.fields;
        Self {
            id: p.id.to_string(),
            slug: p.slug.to_string(),
            title: f.title.to_string(),
            summary: f.summary.to_string(),
            body: f.body.to_string(),
            publication_type: publication_type_to_proto(f.publication_type).into(),
            topics: f
                .topics
                .as_slice()
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            author_ids: f
                .author_ids
                .as_slice()
                .iter()
                .map(ToString::to_string)
                .collect(),
            funding_note: f.funding_note.to_string(),
            status: status_to_proto(p.status).into(),
            publish_time: p.publish_time.map(timestamp),
            version: p.version,
            create_time: Some(timestamp(p.create_time)),
            update_time: Some(timestamp(p.update_time)),
            external_id: p
                .external_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            scheduled_publish_time: p.schedule.publish_at.map(timestamp),
            scheduled_unpublish_time: p.schedule.unpublish_at.map(timestamp),
            schedule_failure: p
                .schedule
                .failure
                .as_ref()
                .map(|f| papers::ScheduleFailure {
                    action: schedule_action_to_proto(Some(f.action)).into(),
                    due_time: Some(timestamp(f.due)),
                    reason: f.reason.clone(),
                }),
            program_ids: term_ids(&f.terms, domain::Vocabulary::Program),
            region_ids: term_ids(&f.terms, domain::Vocabulary::Region),
            series_ids: term_ids(&f.terms, domain::Vocabulary::Series),
            // Resolved by the papers service, which holds the terms.
            terms: Vec::new(),
            attachments: f
                .files
                .attachments
                .iter()
                .map(attachment_to_proto)
                .collect(),
            cover: f.files.cover.as_ref().map(cover_to_proto),
        }
    }
}

fn term_ids(terms: &domain::PaperTerms, vocabulary: domain::Vocabulary) -> Vec<String> {
    terms
        .of(vocabulary)
        .as_slice()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A vocabulary on the wire.
pub fn vocabulary_to_proto(v: domain::Vocabulary) -> papers::Vocabulary {
    match v {
        domain::Vocabulary::Program => papers::Vocabulary::Program,
        domain::Vocabulary::Region => papers::Vocabulary::Region,
        domain::Vocabulary::Series => papers::Vocabulary::Series,
    }
}

/// A vocabulary from the wire: unspecified is `None`; an unknown number is an error.
pub fn vocabulary_from_proto(value: i32) -> Result<Option<domain::Vocabulary>, ConvertError> {
    let known = papers::Vocabulary::try_from(value).map_err(|_| ConvertError::UnknownEnum {
        value,
        name: "Vocabulary",
    })?;
    Ok(match known {
        papers::Vocabulary::Unspecified => None,
        papers::Vocabulary::Program => Some(domain::Vocabulary::Program),
        papers::Vocabulary::Region => Some(domain::Vocabulary::Region),
        papers::Vocabulary::Series => Some(domain::Vocabulary::Series),
    })
}

/// A term on the wire, with the other slugs that resolve to it.
pub fn term_to_proto(t: &domain::Term, former_slugs: Vec<String>) -> papers::Term {
    papers::Term {
        id: t.id.to_string(),
        vocabulary: vocabulary_to_proto(t.vocabulary).into(),
        slug: t.slug.to_string(),
        name: t.name.to_string(),
        parent_id: t.parent.map(|p| p.to_string()).unwrap_or_default(),
        retired: t.retired,
        merged_into_id: t.merged_into.map(|p| p.to_string()).unwrap_or_default(),
        former_slugs,
        version: t.version,
        create_time: Some(timestamp(t.create_time)),
        update_time: Some(timestamp(t.update_time)),
    }
}

/// A term as a paper shows it.
pub fn term_ref(t: &domain::Term) -> papers::TermRef {
    papers::TermRef {
        id: t.id.to_string(),
        vocabulary: vocabulary_to_proto(t.vocabulary).into(),
        slug: t.slug.to_string(),
        name: t.name.to_string(),
        parent_id: t.parent.map(|p| p.to_string()).unwrap_or_default(),
    }
}

/// The editable fields of a term message, for the domain to validate.
pub fn term_input(t: &papers::Term) -> Result<domain::TermInput, Violations> {
    let vocabulary =
        vocabulary_from_proto(t.vocabulary).map_err(|e| Violations::one("vocabulary", e))?;
    Ok(domain::TermInput {
        vocabulary,
        slug: t.slug.clone(),
        name: t.name.clone(),
        parent_id: t.parent_id.clone(),
        retired: t.retired,
    })
}

/// A schedule's action on the wire; `None` is unspecified.
pub fn schedule_action_to_proto(a: Option<domain::ScheduleAction>) -> papers::ScheduleAction {
    match a {
        None => papers::ScheduleAction::Unspecified,
        Some(domain::ScheduleAction::Publish) => papers::ScheduleAction::Publish,
        Some(domain::ScheduleAction::Unpublish) => papers::ScheduleAction::Unpublish,
    }
}

/// A schedule's action from the wire: unspecified is `None`; an unknown number is an error.
pub fn schedule_action_from_proto(
    value: i32,
) -> Result<Option<domain::ScheduleAction>, ConvertError> {
    let known = papers::ScheduleAction::try_from(value).map_err(|_| ConvertError::UnknownEnum {
        value,
        name: "ScheduleAction",
    })?;
    match known {
        papers::ScheduleAction::Unspecified => Ok(None),
        papers::ScheduleAction::Publish => Ok(Some(domain::ScheduleAction::Publish)),
        papers::ScheduleAction::Unpublish => Ok(Some(domain::ScheduleAction::Unpublish)),
    }
}

/// The editable fields of a paper message, for the domain to validate.
pub fn paper_input(p: &papers::Paper) -> Result<domain::PaperInput, Violations> {
    let publication_type = publication_type_from_proto(p.publication_type)
        .map_err(|e| Violations::one("publication_type", e))?;
    Ok(domain::PaperInput {
        slug: p.slug.clone(),
        title: p.title.clone(),
        summary: p.summary.clone(),
        body: p.body.clone(),
        publication_type,
        topics: p.topics.clone(),
        author_ids: p.author_ids.clone(),
        funding_note: p.funding_note.clone(),
        external_id: p.external_id.clone(),
        program_ids: p.program_ids.clone(),
        region_ids: p.region_ids.clone(),
        series_ids: p.series_ids.clone(),
        attachments: p.attachments.iter().map(attachment_input).collect(),
        cover: p.cover.as_ref().map(|c| domain::file::ImageInput {
            file_key: c.file_key.clone(),
            alt: c.alt.clone(),
        }),
        stored_files: domain::file::StoredFiles::new(),
        stored_texts: domain::file::StoredTexts::new(),
        stored_renditions: domain::file::StoredRenditions::new(),
    })
}

/// The kind of a download, `None` when unspecified (or unknown).
pub fn attachment_kind_from_proto(kind: i32) -> Option<domain::file::AttachmentKind> {
    use domain::file::AttachmentKind as K;
    match papers::AttachmentKind::try_from(kind).ok()? {
        papers::AttachmentKind::Unspecified => None,
        papers::AttachmentKind::Report => Some(K::Report),
        papers::AttachmentKind::Summary => Some(K::Summary),
        papers::AttachmentKind::Translation => Some(K::Translation),
        papers::AttachmentKind::Data => Some(K::Data),
        papers::AttachmentKind::Supplement => Some(K::Supplement),
    }
}

/// The proto kind of a download.
pub fn attachment_kind_to_proto(kind: domain::file::AttachmentKind) -> papers::AttachmentKind {
    use domain::file::AttachmentKind as K;
    match kind {
        K::Report => papers::AttachmentKind::Report,
        K::Summary => papers::AttachmentKind::Summary,
        K::Translation => papers::AttachmentKind::Translation,
        K::Data => papers::AttachmentKind::Data,
        K::Supplement => papers::AttachmentKind::Supplement,
    }
}

fn attachment_input(a: &papers::Attachment) -> domain::file::AttachmentInput {
    domain::file::AttachmentInput {
        file_key: a.file_key.clone(),
        kind: attachment_kind_from_proto(a.kind),
        name: a.name.clone(),
        label: a.label.clone(),
        language: a.language.clone(),
        use_text_as_body: a.use_text_as_body,
    }
}

/// What was made of a PDF's text, as the contract carries it.
pub fn text_extraction_to_proto(t: &domain::file::TextExtraction) -> papers::TextExtraction {
    use domain::file::TextExtraction as T;
    match t {
        T::Extracted { characters, pages } => papers::TextExtraction {
            state: papers::TextExtractionState::Extracted.into(),
            characters: i64::try_from(*characters).unwrap_or(i64::MAX),
            pages: i32::try_from(*pages).unwrap_or(i32::MAX),
            failure: String::new(),
        },
        T::Failed { reason } => papers::TextExtraction {
            state: papers::TextExtractionState::Failed.into(),
            failure: reason.clone(),
            ..papers::TextExtraction::default()
        },
    }
}

/// A download as the contract carries it.
pub fn attachment_to_proto(a: &domain::file::Attachment) -> papers::Attachment {
    papers::Attachment {
        file_key: a.file.to_string(),
        kind: attachment_kind_to_proto(a.kind).into(),
        name: a.name.to_string(),
        label: a.label.clone().unwrap_or_default(),
        language: a
            .language
            .as_ref()
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default(),
        size_bytes: i64::try_from(a.facts.size).unwrap_or(i64::MAX),
        media_type: a.facts.media_type.mime().to_owned(),
        use_text_as_body: false,
        text: a.text.as_ref().map(text_extraction_to_proto),
    }
}

/// An image (a cover; an author's photo in the same shape) as the contract carries it.
pub fn cover_to_proto(c: &domain::file::Image) -> papers::CoverImage {
    let (width, height) = c.facts.dimensions.unwrap_or_default();
    papers::CoverImage {
        file_key: c.file.to_string(),
        alt: c.alt.clone(),
        size_bytes: i64::try_from(c.facts.size).unwrap_or(i64::MAX),
        media_type: c.facts.media_type.mime().to_owned(),
        width: i32::try_from(width).unwrap_or(i32::MAX),
        height: i32::try_from(height).unwrap_or(i32::MAX),
        renditions: c.renditions.iter().map(rendition_to_proto).collect(),
    }
}

/// A cover as the contract carried it (in an event), back in the domain's terms; `None` when
/// its key or a type does not parse (a newer writer's).
pub fn cover_from_proto(c: &papers::CoverImage) -> Option<domain::file::Image> {
    let facts = domain::file::FileFacts {
        size: u64::try_from(c.size_bytes).ok()?,
        media_type: domain::MediaType::from_mime(&c.media_type).ok()?,
        dimensions: Some((u32::try_from(c.width).ok()?, u32::try_from(c.height).ok()?)),
    };
    // A copy that does not parse is left out, not the cover.
    let renditions = c
        .renditions
        .iter()
        .filter_map(|r| {
            Some(domain::file::Rendition {
                file: domain::FileKey::parse(&r.file_key).ok()?,
                width: u32::try_from(r.width).ok()?,
                height: u32::try_from(r.height).ok()?,
                size: u64::try_from(r.size_bytes).ok()?,
                media_type: domain::MediaType::from_mime(&r.media_type).ok()?,
            })
        })
        .collect();
    Some(domain::file::Image {
        file: domain::FileKey::parse(&c.file_key).ok()?,
        alt: c.alt.clone(),
        facts,
        renditions,
    })
}

/// An image's smaller copy as the contract carries it.
pub fn rendition_to_proto(r: &domain::file::Rendition) -> crate::files::ImageRendition {
    crate::files::ImageRendition {
        file_key: r.file.to_string(),
        width: i32::try_from(r.width).unwrap_or(i32::MAX),
        height: i32::try_from(r.height).unwrap_or(i32::MAX),
        size_bytes: i64::try_from(r.size).unwrap_or(i64::MAX),
        media_type: r.media_type.mime().to_owned(),
    }
}

impl From<&domain::Author> for authors::Author {
    fn from(a: &domain::Author) -> Self {
        let f = &a.fields;
        Self {
            id: a.id.to_string(),
            slug: a.slug.to_string(),
            name: f.name.to_string(),
            bio: f.bio.to_string(),
            positions: f
                .positions
                .iter()
                .map(|p| authors::Position {
                    title: p.title.to_string(),
                    organization: p.organization.to_string(),
                })
                .collect(),
            orcid: f
                .orcid
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            photo_url: f
                .photo_url
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            version: a.version,
            create_time: Some(timestamp(a.create_time)),
            update_time: Some(timestamp(a.update_time)),
            paper_count: a.paper_count,
            photo: f.photo.as_ref().map(|p| {
                let c = cover_to_proto(p);
                authors::AuthorPhoto {
                    file_key: c.file_key,
                    alt: c.alt,
                    size_bytes: c.size_bytes,
                    media_type: c.media_type,
                    width: c.width,
                    height: c.height,
                    renditions: c.renditions,
                }
            }),
        }
    }
}

/// The editable fields of an author message, for the domain to validate.
pub fn author_input(a: &authors::Author) -> domain::AuthorInput {
    domain::AuthorInput {
        slug: a.slug.clone(),
        name: a.name.clone(),
        bio: a.bio.clone(),
        positions: a
            .positions
            .iter()
            .map(|p| (p.title.clone(), p.organization.clone()))
            .collect(),
        orcid: a.orcid.clone(),
        photo_url: a.photo_url.clone(),
        photo: a.photo.as_ref().map(|p| domain::file::ImageInput {
            file_key: p.file_key.clone(),
            alt: p.alt.clone(),
        }),
        stored_files: domain::file::StoredFiles::new(),
        stored_renditions: domain::file::StoredRenditions::new(),
    }
}

/// A domain role as its proto enum.
pub fn role_to_proto(role: domain::Role) -> crate::audit::Role {
    use crate::audit::Role as P;
    use domain::Role as D;
    match role {
        D::Viewer => P::Viewer,
        D::Editor => P::Editor,
        D::Publisher => P::Publisher,
        D::Admin => P::Admin,
    }
}

/// A role from the wire; unspecified is `None`.
pub fn role_from_proto(role: crate::audit::Role) -> Option<domain::Role> {
    use crate::audit::Role as P;
    use domain::Role as D;
    match role {
        P::Unspecified => None,
        P::Viewer => Some(D::Viewer),
        P::Editor => Some(D::Editor),
        P::Publisher => Some(D::Publisher),
        P::Admin => Some(D::Admin),
    }
}

impl From<&domain::Actor> for crate::audit::Actor {
    fn from(actor: &domain::Actor) -> Self {
        Self {
            subject: actor.subject().to_owned(),
            role: actor
                .role()
                .map_or(crate::audit::Role::Unspecified, role_to_proto)
                .into(),
            system: matches!(actor, domain::Actor::System),
        }
    }
}

/// A JSON value as a `google.protobuf.Value`.
pub fn json_value(value: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    use serde_json::Value as J;
    let kind = match value {
        J::Null => Kind::NullValue(prost_types::NullValue::NullValue.into()),
        J::Bool(b) => Kind::BoolValue(*b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Kind::StringValue(s.clone()),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_value).collect(),
        }),
        J::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// One field of a diff, named by its path.
pub fn field_change<T: domain::Audited>(
    change: &domain::FieldChange<T::Field>,
) -> crate::audit::FieldChange {
    crate::audit::FieldChange {
        field: T::path(change.field).to_owned(),
        before: Some(json_value(&change.before)),
        after: Some(json_value(&change.after)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_refuse_bad_nanos() {
        let now = domain::time::now();
        assert_eq!(from_timestamp(&timestamp(now)), Ok(now));
        let bad = Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert!(
            from_timestamp(&bad)
                .unwrap_err()
                .to_string()
                .contains("nanos -1")
        );
        let huge = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert!(from_timestamp(&huge).is_err());
    }

    #[test]
    fn every_publication_type_maps_both_ways() {
        for t in domain::PublicationType::ALL {
            let p = publication_type_to_proto(t) as i32;
            assert_eq!(publication_type_from_proto(p), Ok(Some(t)));
        }
        assert_eq!(publication_type_from_proto(0), Ok(None));
        assert!(publication_type_from_proto(999).is_err());
    }
}
