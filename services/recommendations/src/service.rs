//! The recommendations use cases: related publications with editorial overrides and reasons,
//! overrides, interactions and click-through rates.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use imprint_domain::Violations;
use imprint_platform::ServiceError;
use uuid::Uuid;

use crate::index::{Entry, Index};
use crate::ranking::{self, Filters, Signals, Weights};
use crate::search::{SearchError, SearchIndex, SearchPage, SearchRequest};
use crate::storage::{Counts, Interaction, Overrides, RecStore};

/// Most items of one rail.
pub const MAX_LIMIT: usize = 50;
/// Default items of a rail.
pub const DEFAULT_LIMIT: usize = 3;
/// Most pinned or excluded papers per paper.
pub const MAX_OVERRIDES: usize = 50;

/// What the service shares with its refresher: the index and the overrides, both in memory.
#[derive(Debug, Default)]
pub struct State {
    /// Published papers.
    pub index: RwLock<Index>,
    /// Editorial overrides by paper.
    pub overrides: RwLock<HashMap<Uuid, Overrides>>,
}

/// How a client names the paper a rail is for.
#[derive(Debug, Clone)]
pub enum PaperRef {
    /// By id.
    Id(Uuid),
    /// By current slug.
    Slug(String),
}

/// One served item.
#[derive(Debug, Clone)]
pub struct Item {
    /// The paper.
    pub entry: Entry,
    /// Its score.
    pub score: f32,
    /// Why it is here.
    pub reasons: Vec<String>,
    /// For RecordInteraction.
    pub recommendation_id: String,
}

/// A rail request.
#[derive(Debug, Clone, Default)]
pub struct RailRequest {
    /// How many.
    pub limit: usize,
    /// Filters.
    pub filters: Filters,
    /// The partner asking.
    pub partner: String,
}

/// The use cases.
#[derive(Debug, Clone)]
pub struct RecommendationsService {
    /// The read model's database.
    store: RecStore,
    /// Index and overrides.
    state: Arc<State>,
    /// Full-text search.
    search: Arc<SearchIndex>,
    /// Ranking weights.
    weights: Weights,
}

/// A search hit with the paper it found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The paper.
    pub entry: Entry,
    /// The hit.
    pub hit: crate::search::Hit,
}

impl RecommendationsService {
    /// The service over `store` and `state`.
    pub fn new(
        store: RecStore,
        state: Arc<State>,
        search: Arc<SearchIndex>,
        weights: Weights,
    ) -> Self {
        Self {
            store,
            state,
            search,
            weights,
        }
    }

    /// Searches published papers; runs off the async workers (a search can take milliseconds).
    pub async fn search(
        &self,
        request: SearchRequest,
    ) -> Result<(Vec<Found>, SearchPage), ServiceError> {
        let search = Arc::clone(&self.search);
        let page = tokio::task::spawn_blocking(move || search.search(&request))
            .await
            .map_err(|e| ServiceError::Internal(format!("search task: {e}")))?
            .map_err(|e| match e {
                SearchError::Invalid { field, message } => Violations::one(field, message).into(),
                other => ServiceError::Internal(other.to_string()),
            })?;
        let index = self
            .state
            .index
            .read()
            .map_err(|_| ServiceError::Internal("the index lock is poisoned".to_owned()))?;
        // A paper unpublished between the two indexes' updates is skipped.
        let found = page
            .hits
            .iter()
            .filter_map(|hit| {
                let entry = index.slot(hit.id).and_then(|s| index.entry(s))?;
                Some(Found {
                    entry: entry.clone(),
                    hit: hit.clone(),
                })
            })
            .collect();
        Ok((found, page))
    }

    /// The related publications of a paper, pinned ones first.
    pub fn related(
        &self,
        paper: &PaperRef,
        request: &RailRequest,
    ) -> Result<Vec<Item>, ServiceError> {
        let index = self
            .state
            .index
            .read()
            .map_err(|_| ServiceError::Internal("the index lock is poisoned".to_owned()))?;
        let slot = match paper {
            PaperRef::Id(id) => index.slot(*id),
            PaperRef::Slug(slug) => index.slot_by_slug(slug),
        }
        .ok_or_else(|| match paper {
            PaperRef::Id(id) => ServiceError::not_found("published paper", id.to_string()),
            PaperRef::Slug(s) => ServiceError::not_found("published paper", s.clone()),
        })?;
        let Some(source) = index.entry(slot) else {
            return Err(ServiceError::Internal(
                "an indexed slot is empty".to_owned(),
            ));
        };
        let overrides = self
            .state
            .overrides
            .read()
            .map_err(|_| ServiceError::Internal("the overrides lock is poisoned".to_owned()))?
            .get(&source.id)
            .cloned()
            .unwrap_or_default();
        let mut filters = request.filters.clone();
        filters.excluded.extend(overrides.excluded.iter().copied());
        filters.excluded.extend(overrides.pinned.iter().copied());

        let mut items: Vec<Item> = Vec::with_capacity(request.limit);
        for pinned in &overrides.pinned {
            if items.len() >= request.limit {
                break;
            }
            let Some(entry) = index.slot(*pinned).and_then(|s| index.entry(s)) else {
                continue;
            };
            if !admits_pinned(&request.filters, entry) || *pinned == source.id {
                continue;
            }
            items.push(item(
                source.id,
                entry,
                0.0,
                vec!["pinned by an editor".to_owned()],
                items.len() + 1,
                &request.partner,
            ));
        }
        let wanted = request.limit - items.len();
        for ranked in ranking::related(&index, slot, &filters, &self.weights, wanted) {
            let Some(entry) = index.entry(ranked.slot) else {
                continue;
            };
            let reasons = reasons(&index, &ranked.signals);
            items.push(item(
                source.id,
                entry,
                ranked.score,
                reasons,
                items.len() + 1,
                &request.partner,
            ));
        }
        Ok(items)
    }

    /// A paper's overrides.
    pub fn overrides(&self, paper: Uuid) -> Result<Overrides, ServiceError> {
        Ok(self
            .state
            .overrides
            .read()
            .map_err(|_| ServiceError::Internal("the overrides lock is poisoned".to_owned()))?
            .get(&paper)
            .cloned()
            .unwrap_or_default())
    }

    /// Replaces a paper's overrides.
    pub async fn set_overrides(
        &self,
        paper: Uuid,
        pinned: &[String],
        excluded: &[String],
    ) -> Result<Overrides, ServiceError> {
        let mut v = Violations::new();
        let pinned = parse_ids(&mut v, "overrides.pinned_paper_ids", pinned);
        let excluded = parse_ids(&mut v, "overrides.excluded_paper_ids", excluded);
        for (i, id) in pinned.iter().enumerate() {
            if excluded.contains(id) {
                v.push(
                    format!("overrides.pinned_paper_ids[{i}]"),
                    format!("paper {id} is both pinned and excluded"),
                );
            }
            if *id == paper {
                v.push(
                    format!("overrides.pinned_paper_ids[{i}]"),
                    "a paper cannot be related to itself",
                );
            }
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        if self.store.paper(paper).await?.is_none() {
            return Err(ServiceError::not_found("paper", paper.to_string()));
        }
        let overrides = Overrides {
            pinned,
            excluded,
            update_time: Some(imprint_domain::time::now()),
        };
        self.store.set_overrides(paper, &overrides).await?;
        self.state
            .overrides
            .write()
            .map_err(|_| ServiceError::Internal("the overrides lock is poisoned".to_owned()))?
            .insert(paper, overrides.clone());
        Ok(overrides)
    }

    /// Records an impression or a click of a served recommendation; when `reporter` is given,
    /// the recommendation must have been served to that partner.
    pub async fn record(
        &self,
        recommendation_id: &str,
        click: bool,
        reporter: Option<&str>,
    ) -> Result<(), ServiceError> {
        let served = decode_recommendation_id(recommendation_id)
            .map_err(|e| Violations::one("recommendation_id", e))?;
        if let Some(reporter) = reporter
            && reporter != served.partner
        {
            return Err(Violations::one(
                "recommendation_id",
                "was not served to the partner reporting it",
            )
            .into());
        }
        self.store
            .record(&Interaction {
                kind: if click { "click" } else { "impression" },
                source: served.source,
                target: served.target,
                position: served.position,
                partner: served.partner,
            })
            .await?;
        Ok(())
    }

    /// Impressions and clicks by position and by partner.
    pub async fn click_through(
        &self,
        partner: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<(Vec<Counts>, Vec<Counts>), ServiceError> {
        let mut by_position = self.store.counts("position", partner, since).await?;
        by_position.sort_by_key(|c| c.key.parse::<i64>().unwrap_or(i64::MAX));
        let by_partner = self.store.counts("partner", partner, since).await?;
        Ok((by_position, by_partner))
    }
}

/// Pinned papers obey the rail's filters, not the exclusions (the editor chose them).
fn admits_pinned(filters: &Filters, e: &Entry) -> bool {
    let bare = Filters {
        excluded: HashSet::new(),
        ..filters.clone()
    };
    bare.admits(e)
}

fn parse_ids(v: &mut Violations, field: &str, raw: &[String]) -> Vec<Uuid> {
    if raw.len() > MAX_OVERRIDES {
        v.push(
            field,
            format!("at most {MAX_OVERRIDES} papers (got {})", raw.len()),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, id) in raw.iter().enumerate() {
        match imprint_domain::PaperId::parse(id) {
            Ok(id) if !out.contains(&id.as_uuid()) => out.push(id.as_uuid()),
            Ok(id) => v.push(
                format!("{field}[{i}]"),
                format!("paper {id} is listed twice"),
            ),
            Err(e) => v.push(format!("{field}[{i}]"), e),
        }
    }
    out
}

fn item(
    source: Uuid,
    entry: &Entry,
    score: f32,
    reasons: Vec<String>,
    position: usize,
    partner: &str,
) -> Item {
    Item {
        entry: entry.clone(),
        score,
        reasons,
        recommendation_id: encode_recommendation_id(&Served {
            source,
            target: entry.id,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            partner: partner.to_owned(),
        }),
    }
}

/// Readable reasons for a ranked item.
fn reasons(index: &Index, signals: &Signals) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(name) = signals.shared_authors.iter().find_map(|a| index.name(*a)) {
        out.push(format!("same author: {name}"));
    }
    if let Some(topic) = signals.shared_topics.first() {
        out.push(format!("shared topic: {topic}"));
    }
    if signals.text >= 0.2 {
        out.push("similar text".to_owned());
    }
    if signals.shared_authors.is_empty() && signals.coauthors > 0 {
        out.push("by co-authors of its authors".to_owned());
    }
    if out.is_empty() {
        out.push("published around the same time".to_owned());
    }
    out
}

/// What a recommendation id carries: enough to attribute an interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The paper whose rail it was on.
    pub source: Uuid,
    /// The recommended paper.
    pub target: Uuid,
    /// Its position, from 1.
    pub position: i32,
    /// The partner ("" for first-party pages).
    pub partner: String,
}

/// Encodes a served item as an opaque id.
pub fn encode_recommendation_id(served: &Served) -> String {
    let raw = format!(
        "1|{}|{}|{}|{}",
        served.source.simple(),
        served.target.simple(),
        served.position,
        served.partner
    );
    URL_SAFE_NO_PAD.encode(raw)
}

/// Decodes an id made by [`encode_recommendation_id`], naming what is wrong.
pub fn decode_recommendation_id(id: &str) -> Result<Served, String> {
    let invalid = || "is not a recommendation id served by GetRelatedPublications".to_owned();
    if id.is_empty() || id.len() > 400 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| invalid())?;
    let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = raw.splitn(5, '|');
    let (Some("1"), Some(source), Some(target), Some(position), Some(partner)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let partner = imprint_domain::text::clean_line(partner, 0, 100).map_err(|_| invalid())?;
    Ok(Served {
        source: Uuid::try_parse(source).map_err(|_| invalid())?,
        target: Uuid::try_parse(target).map_err(|_| invalid())?,
        position: position
            .parse()
            .ok()
            .filter(|p| (1..=MAX_LIMIT as i32).contains(p))
            .ok_or_else(invalid)?,
        partner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommendation_ids_round_trip_and_junk_is_refused() {
        let served = Served {
            source: Uuid::now_v7(),
            target: Uuid::now_v7(),
            position: 3,
            partner: "example.org".to_owned(),
        };
        let id = encode_recommendation_id(&served);
        assert_eq!(decode_recommendation_id(&id), Ok(served));
        for bad in ["", "x", "MXx8fHx8", &"A".repeat(500)] {
            assert!(decode_recommendation_id(bad).is_err(), "{bad}");
        }
        let forged = URL_SAFE_NO_PAD.encode(format!(
            "1|{}|{}|99|p",
            Uuid::now_v7().simple(),
            Uuid::now_v7().simple()
        ));
        assert!(
            decode_recommendation_id(&forged).is_err(),
            "position out of range"
        );
    }
}
