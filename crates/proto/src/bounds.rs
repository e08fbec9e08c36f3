//! The [`Bounded`] limits of every message of the contract: each list and string of every
//! request, at the sizes the domain types and [`imprint_domain::limits`] allow. Responses have
//! none. A message of the contract without an implementation here does not compile, so no new
//! request can go unchecked.

use imprint_domain::Topic;
use imprint_domain::author::MAX_POSITIONS;
use imprint_domain::file::{MAX_ALT_CHARS, MAX_ATTACHMENTS, MAX_FILE_NAME_BYTES, MAX_LABEL_CHARS};
use imprint_domain::limits::{
    MAX_AUTHOR_BATCH, MAX_AUTHOR_IDS, MAX_FILTER_TOPICS, MAX_FILTER_TYPES, MAX_ID_CHARS,
    MAX_MASK_PATH_CHARS, MAX_MASK_PATHS, MAX_ORCID_CHARS, MAX_ORIGIN_CHARS, MAX_ORIGINS,
    MAX_OVERRIDES, MAX_PAGE_TOKEN_BYTES, MAX_PAPER_BATCH, MAX_PARTNER_CHARS,
    MAX_SERVED_TOKEN_BYTES,
};
use imprint_domain::paper::{MAX_AUTHORS, MAX_TOPICS};
use imprint_domain::query::MAX_QUERY_CHARS;
use imprint_domain::slug::MAX_SLUG_LEN;
use imprint_domain::taxonomy::{MAX_TERM_KEY_CHARS, MAX_TERMS, TermName};
use imprint_domain::text::{
    Bio, Body, ExternalId, FundingNote, PersonName, PositionText, Summary, Title,
};
use imprint_domain::web::MAX_URL_LEN;

use crate::codec::{Bounded, Bounds};
use crate::{authors, gateway, papers, recommendations};

fn mask(prefix: &str, mask: Option<&prost_types::FieldMask>, out: &mut Bounds) {
    if let Some(mask) = mask {
        out.texts(
            prefix,
            "update_mask.paths",
            &mask.paths,
            MAX_MASK_PATHS,
            MAX_MASK_PATH_CHARS,
        );
    }
}

impl Bounded for papers::Paper {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
        out.text(prefix, "slug", &self.slug, MAX_SLUG_LEN);
        out.text(prefix, "title", &self.title, Title::MAX);
        out.text(prefix, "summary", &self.summary, Summary::MAX);
        out.text(prefix, "body", &self.body, Body::MAX);
        out.texts(prefix, "topics", &self.topics, MAX_TOPICS, Topic::MAX);
        out.texts(
            prefix,
            "author_ids",
            &self.author_ids,
            MAX_AUTHORS,
            MAX_ID_CHARS,
        );
        out.text(prefix, "funding_note", &self.funding_note, FundingNote::MAX);
        out.text(prefix, "external_id", &self.external_id, ExternalId::MAX);
        let term = MAX_TERM_KEY_CHARS;
        out.texts(prefix, "program_ids", &self.program_ids, MAX_TERMS, term);
        out.texts(prefix, "region_ids", &self.region_ids, MAX_TERMS, term);
        out.texts(prefix, "series_ids", &self.series_ids, MAX_TERMS, term);
        out.each(prefix, "attachments", &self.attachments, MAX_ATTACHMENTS);
        out.nested(prefix, "cover", self.cover.as_ref());
    }
}

/// `sha256:` and 64 hex digits, with room for surrounding spaces.
const FILE_KEY_CHARS: usize = 80;

impl Bounded for papers::Attachment {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "file_key", &self.file_key, FILE_KEY_CHARS);
        out.bytes(prefix, "name", &self.name, MAX_FILE_NAME_BYTES);
        out.text(prefix, "label", &self.label, MAX_LABEL_CHARS);
        out.text(prefix, "language", &self.language, MAX_ID_CHARS);
        out.text(prefix, "media_type", &self.media_type, MAX_ID_CHARS);
        out.nested(prefix, "text", self.text.as_ref());
    }
}

/// Output only, so a request's is ignored; bounded all the same.
impl Bounded for papers::TextExtraction {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "failure", &self.failure, MAX_TEXT_FAILURE_CHARS);
    }
}

/// The longest reason an extraction failed, as the store writes it.
const MAX_TEXT_FAILURE_CHARS: usize = 1_000;

/// Output only, so a request's are ignored; bounded all the same.
impl Bounded for crate::files::ImageRendition {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "file_key", &self.file_key, FILE_KEY_CHARS);
        out.text(prefix, "media_type", &self.media_type, MAX_ID_CHARS);
    }
}

/// More copies than an image is ever given.
const MAX_RENDITIONS: usize = 8;

impl Bounded for authors::AuthorPhoto {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "file_key", &self.file_key, FILE_KEY_CHARS);
        out.text(prefix, "alt", &self.alt, MAX_ALT_CHARS);
        out.text(prefix, "media_type", &self.media_type, MAX_ID_CHARS);
        out.each(prefix, "renditions", &self.renditions, MAX_RENDITIONS);
    }
}

impl Bounded for papers::CoverImage {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "file_key", &self.file_key, FILE_KEY_CHARS);
        out.text(prefix, "alt", &self.alt, MAX_ALT_CHARS);
        out.text(prefix, "media_type", &self.media_type, MAX_ID_CHARS);
        out.each(prefix, "renditions", &self.renditions, MAX_RENDITIONS);
    }
}

impl Bounded for papers::Term {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
        out.text(prefix, "slug", &self.slug, MAX_SLUG_LEN);
        out.text(prefix, "name", &self.name, TermName::MAX);
        out.text(prefix, "parent_id", &self.parent_id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::CreateTermRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "term", self.term.as_ref());
    }
}

impl Bounded for papers::UpdateTermRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "term", self.term.as_ref());
        mask(prefix, self.update_mask.as_ref(), out);
    }
}

impl Bounded for papers::GetTermRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        match &self.key {
            Some(papers::get_term_request::Key::Id(id)) => {
                out.text(prefix, "id", id, MAX_ID_CHARS);
            }
            Some(papers::get_term_request::Key::Slug(slug)) => {
                out.text(prefix, "slug", slug, MAX_SLUG_LEN);
            }
            None => {}
        }
    }
}

impl Bounded for papers::ListTermsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
        out.text(prefix, "parent_id", &self.parent_id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::MergeTermsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "source_id", &self.source_id, MAX_ID_CHARS);
        out.text(prefix, "target_id", &self.target_id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::CreatePaperRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "paper", self.paper.as_ref());
    }
}

impl Bounded for papers::BatchCreatePapersRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.each(prefix, "requests", &self.requests, MAX_PAPER_BATCH);
    }
}

impl Bounded for papers::GetPaperRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        match &self.key {
            Some(papers::get_paper_request::Key::Id(id)) => {
                out.text(prefix, "id", id, MAX_ID_CHARS);
            }
            Some(papers::get_paper_request::Key::Slug(slug)) => {
                out.text(prefix, "slug", slug, MAX_SLUG_LEN);
            }
            None => {}
        }
    }
}

impl Bounded for papers::ListPapersRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
        out.text(prefix, "topic", &self.topic, Topic::MAX);
        out.text(prefix, "author_id", &self.author_id, MAX_ID_CHARS);
        out.text(prefix, "external_id", &self.external_id, ExternalId::MAX);
        let term = MAX_TERM_KEY_CHARS;
        out.text(prefix, "program", &self.program, term);
        out.text(prefix, "region", &self.region, term);
        out.text(prefix, "series", &self.series, term);
    }
}

impl Bounded for papers::UpdatePaperRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "paper", self.paper.as_ref());
        mask(prefix, self.update_mask.as_ref(), out);
    }
}

impl Bounded for papers::PublishPaperRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::UnpublishPaperRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::SchedulePublishRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::ScheduleUnpublishRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::CancelScheduleRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::DeletePaperRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for papers::ListPaperRevisionsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
    }
}

/// The requests that name a resource by id and nothing else unbounded: a revision's diff or
/// restore.
macro_rules! by_id {
    ($($message:ty),* $(,)?) => {
        $(impl Bounded for $message {
            fn bounds(&self, prefix: &str, out: &mut Bounds) {
                out.text(prefix, "id", &self.id, MAX_ID_CHARS);
            }
        })*
    };
}

by_id!(
    papers::GetPaperRevisionDiffRequest,
    papers::RestorePaperRevisionRequest,
    authors::GetAuthorRevisionDiffRequest,
    authors::RestoreAuthorRevisionRequest,
);

impl Bounded for authors::ListAuthorRevisionsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
    }
}

impl Bounded for authors::Position {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "title", &self.title, PositionText::MAX);
        out.text(
            prefix,
            "organization",
            &self.organization,
            PositionText::MAX,
        );
    }
}

impl Bounded for authors::Author {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
        out.text(prefix, "slug", &self.slug, MAX_SLUG_LEN);
        out.text(prefix, "name", &self.name, PersonName::MAX);
        out.text(prefix, "bio", &self.bio, Bio::MAX);
        out.each(prefix, "positions", &self.positions, MAX_POSITIONS);
        out.text(prefix, "orcid", &self.orcid, MAX_ORCID_CHARS);
        out.text(prefix, "photo_url", &self.photo_url, MAX_URL_LEN);
        out.nested(prefix, "photo", self.photo.as_ref());
    }
}

impl Bounded for authors::CreateAuthorRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "author", self.author.as_ref());
    }
}

impl Bounded for authors::BatchCreateAuthorsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.each(prefix, "requests", &self.requests, MAX_AUTHOR_BATCH);
    }
}

impl Bounded for authors::GetAuthorRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        match &self.key {
            Some(authors::get_author_request::Key::Id(id)) => {
                out.text(prefix, "id", id, MAX_ID_CHARS);
            }
            Some(authors::get_author_request::Key::Slug(slug)) => {
                out.text(prefix, "slug", slug, MAX_SLUG_LEN);
            }
            None => {}
        }
    }
}

impl Bounded for authors::BatchGetAuthorsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.texts(prefix, "ids", &self.ids, MAX_AUTHOR_IDS, MAX_ID_CHARS);
    }
}

impl Bounded for authors::ListAuthorsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
        out.text(prefix, "query", &self.query, PersonName::MAX);
    }
}

impl Bounded for authors::UpdateAuthorRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "author", self.author.as_ref());
        mask(prefix, self.update_mask.as_ref(), out);
    }
}

impl Bounded for authors::DeleteAuthorRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

fn filters(prefix: &str, types: &[i32], topics: &[String], out: &mut Bounds) {
    out.count(prefix, "publication_types", types.len(), MAX_FILTER_TYPES);
    out.texts(prefix, "topics", topics, MAX_FILTER_TOPICS, Topic::MAX);
}

impl Bounded for recommendations::GetRelatedPublicationsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        use recommendations::get_related_publications_request::Key;
        match &self.key {
            Some(Key::PaperId(id)) => out.text(prefix, "paper_id", id, MAX_ID_CHARS),
            Some(Key::Slug(slug)) => out.text(prefix, "slug", slug, MAX_SLUG_LEN),
            None => {}
        }
        filters(prefix, &self.publication_types, &self.topics, out);
        term_filters(prefix, [&self.programs, &self.regions, &self.series], out);
    }
}

/// The program, region and series filters of a rail or a search: a few ids or slugs each.
fn term_filters(prefix: &str, lists: [&Vec<String>; 3], out: &mut Bounds) {
    let term = MAX_TERM_KEY_CHARS;
    for (field, list) in ["programs", "regions", "series"].into_iter().zip(lists) {
        out.texts(prefix, field, list, MAX_TERMS, term);
    }
}

impl Bounded for recommendations::SearchPublicationsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "query", &self.query, MAX_QUERY_CHARS);
        filters(prefix, &self.publication_types, &self.topics, out);
        term_filters(prefix, [&self.programs, &self.regions, &self.series], out);
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
    }
}

impl Bounded for recommendations::RelatedOverrides {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "paper_id", &self.paper_id, MAX_ID_CHARS);
        for (field, ids) in [
            ("pinned_paper_ids", &self.pinned_paper_ids),
            ("excluded_paper_ids", &self.excluded_paper_ids),
        ] {
            out.texts(prefix, field, ids, MAX_OVERRIDES, MAX_ID_CHARS);
        }
    }
}

impl Bounded for recommendations::SetRelatedOverridesRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "overrides", self.overrides.as_ref());
    }
}

impl Bounded for recommendations::GetRelatedOverridesRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "paper_id", &self.paper_id, MAX_ID_CHARS);
    }
}

impl Bounded for recommendations::RecordInteractionRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.bytes(
            prefix,
            "recommendation_id",
            &self.recommendation_id,
            MAX_SERVED_TOKEN_BYTES,
        );
        out.bytes(prefix, "view_id", &self.view_id, MAX_SERVED_TOKEN_BYTES);
    }
}

impl Bounded for recommendations::GetClickThroughRatesRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "partner", &self.partner, MAX_PARTNER_CHARS);
    }
}

impl Bounded for gateway::GetPublicationPageRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "slug", &self.slug, MAX_SLUG_LEN);
    }
}

impl Bounded for gateway::CreatePartnerKeyRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "partner", &self.partner, MAX_PARTNER_CHARS);
        out.texts(
            prefix,
            "allowed_origins",
            &self.allowed_origins,
            MAX_ORIGINS,
            MAX_ORIGIN_CHARS,
        );
    }
}

impl Bounded for gateway::RevokePartnerKeyRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for gateway::CreatePreviewLinkRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "paper_id", &self.paper_id, MAX_ID_CHARS);
    }
}

impl Bounded for gateway::ListPreviewLinksRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "paper_id", &self.paper_id, MAX_ID_CHARS);
    }
}

impl Bounded for gateway::RevokePreviewLinkRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
    }
}

impl Bounded for gateway::Webhook {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        use imprint_domain::webhook::{MAX_DESCRIPTION, MAX_EVENT_TYPES, MAX_FILTER_TERMS};
        out.text(prefix, "id", &self.id, MAX_ID_CHARS);
        out.text(prefix, "url", &self.url, MAX_URL_LEN);
        out.text(prefix, "description", &self.description, MAX_DESCRIPTION);
        out.texts(
            prefix,
            "event_types",
            &self.event_types,
            MAX_EVENT_TYPES,
            100,
        );
        out.texts(
            prefix,
            "term_ids",
            &self.term_ids,
            MAX_FILTER_TERMS,
            MAX_ID_CHARS,
        );
    }
}

impl Bounded for gateway::CreateWebhookRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "webhook", self.webhook.as_ref());
    }
}

impl Bounded for gateway::UpdateWebhookRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.nested(prefix, "webhook", self.webhook.as_ref());
        mask(prefix, self.update_mask.as_ref(), out);
    }
}

impl Bounded for gateway::ListWebhooksRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
    }
}

impl Bounded for gateway::ListWebhookDeliveriesRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "webhook_id", &self.webhook_id, MAX_ID_CHARS);
        out.bytes(prefix, "page_token", &self.page_token, MAX_PAGE_TOKEN_BYTES);
    }
}

impl Bounded for gateway::RedeliverWebhookRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "delivery_id", &self.delivery_id, MAX_ID_CHARS);
    }
}

by_id!(gateway::DeleteWebhookRequest);

/// Messages that come in with nothing to bound (a flag, a number) and every response: what the
/// services send is theirs, already within the limits.
macro_rules! unbounded {
    ($($message:ty),* $(,)?) => {
        $(impl Bounded for $message {})*
    };
}

unbounded!(
    papers::CreatePaperResponse,
    papers::BatchCreatePapersResponse,
    papers::GetPaperResponse,
    papers::ListPapersResponse,
    papers::UpdatePaperResponse,
    papers::PublishPaperResponse,
    papers::UnpublishPaperResponse,
    papers::DeletePaperResponse,
    papers::ListPaperRevisionsResponse,
    papers::SchedulePublishResponse,
    papers::ScheduleUnpublishResponse,
    papers::CancelScheduleResponse,
    papers::GetPaperRevisionDiffResponse,
    papers::RestorePaperRevisionResponse,
    papers::CreateTermResponse,
    papers::GetTermResponse,
    papers::ListTermsResponse,
    papers::UpdateTermResponse,
    papers::MergeTermsResponse,
    authors::CreateAuthorResponse,
    authors::BatchCreateAuthorsResponse,
    authors::GetAuthorResponse,
    authors::BatchGetAuthorsResponse,
    authors::ListAuthorsResponse,
    authors::UpdateAuthorResponse,
    authors::DeleteAuthorResponse,
    authors::ListAuthorRevisionsResponse,
    authors::GetAuthorRevisionDiffResponse,
    authors::RestoreAuthorRevisionResponse,
    recommendations::GetRelatedPublicationsResponse,
    recommendations::SearchPublicationsResponse,
    recommendations::SetRelatedOverridesResponse,
    recommendations::GetRelatedOverridesResponse,
    recommendations::RecordInteractionResponse,
    recommendations::GetClickThroughRatesResponse,
    gateway::GetPublicationPageResponse,
    gateway::CreatePartnerKeyResponse,
    gateway::ListPartnerKeysRequest,
    gateway::ListPartnerKeysResponse,
    gateway::RevokePartnerKeyResponse,
    gateway::CreatePreviewLinkResponse,
    gateway::ListPreviewLinksResponse,
    gateway::RevokePreviewLinkResponse,
    gateway::CreateWebhookResponse,
    gateway::ListWebhooksResponse,
    gateway::GetDownloadStatsResponse,
    gateway::UpdateWebhookResponse,
    gateway::DeleteWebhookResponse,
    gateway::ListWebhookDeliveriesResponse,
    gateway::RedeliverWebhookResponse,
);

impl Bounded for gateway::GetDownloadStatsRequest {
    fn bounds(&self, prefix: &str, out: &mut Bounds) {
        out.text(prefix, "paper_id", &self.paper_id, MAX_ID_CHARS);
        out.text(prefix, "start_date", &self.start_date, MAX_ID_CHARS);
        out.text(prefix, "end_date", &self.end_date, MAX_ID_CHARS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<(), imprint_domain::Violations>) -> Vec<String> {
        result
            .err()
            .map(|v| v.iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn oversized_lists_are_refused_before_their_items_are_looked_at() {
        let request = papers::CreatePaperRequest {
            paper: Some(papers::Paper {
                topics: vec!["x".repeat(10_000); 12_000],
                title: "t".repeat(Title::MAX * 4 + 1),
                ..papers::Paper::default()
            }),
        };
        assert_eq!(
            fields(Bounds::check(&request)),
            ["paper.title", "paper.topics"],
            "one violation for the list, none per item"
        );
        let batch = papers::BatchCreatePapersRequest {
            requests: vec![
                papers::CreatePaperRequest::default(),
                papers::CreatePaperRequest {
                    paper: Some(papers::Paper {
                        author_ids: vec!["a".repeat(65 * 4)],
                        ..papers::Paper::default()
                    }),
                },
            ],
            publish: false,
        };
        assert_eq!(
            fields(Bounds::check(&batch)),
            ["requests[1].paper.author_ids[0]"]
        );
    }

    #[test]
    fn what_the_domain_allows_passes() {
        let request = papers::UpdatePaperRequest {
            paper: Some(papers::Paper {
                title: "é".repeat(Title::MAX),
                topics: vec!["Global Policy".to_owned(); MAX_TOPICS],
                author_ids: vec![uuid_text(); MAX_AUTHORS],
                ..papers::Paper::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".to_owned()],
            }),
        };
        assert!(Bounds::check(&request).is_ok());
        let author = authors::CreateAuthorRequest {
            author: Some(authors::Author {
                positions: vec![authors::Position::default(); MAX_POSITIONS + 1],
                ..authors::Author::default()
            }),
        };
        assert_eq!(fields(Bounds::check(&author)), ["author.positions"]);
    }

    fn uuid_text() -> String {
        "0190f2a4-7d1c-7b3e-8f00-0123456789ab".to_owned()
    }
}
