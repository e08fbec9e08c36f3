//! The recommendations use cases: related publications with editorial overrides and reasons,
//! overrides, interactions and click-through rates.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use imprint_domain::PaperId;
use imprint_domain::Violations;
use imprint_domain::limits::MAX_OVERRIDES;
use imprint_platform::ServiceError;
use imprint_platform::served::{Served, View};
use imprint_platform::signing::Signer;

use crate::index::{Entry, Index};
use crate::ranking::{self, Filters, Signals, Weights};
use crate::search::{SearchError, SearchIndex, SearchPage, SearchRequest};
use crate::storage::{Counts, Interaction, InteractionKind, Overrides, RecStore, Slice};

/// What the service shares with its refresher: the index and the overrides, both in memory.
#[derive(Debug, Default)]
pub struct State {
    /// Published papers.
    pub index: RwLock<Index>,
    /// Editorial overrides by paper.
    pub overrides: RwLock<HashMap<PaperId, Overrides>>,
}

/// How a client names the paper a rail is for.
#[derive(Debug, Clone)]
pub enum PaperRef {
    /// By id.
    Id(PaperId),
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
    /// The partner the rail is served to (`None` for first-party pages): who calls, never what a
    /// request says.
    pub partner: Option<String>,
}

/// One serving of a rail.
#[derive(Debug, Clone)]
pub struct Rail {
    /// Its items, best first.
    pub items: Vec<Item>,
    /// The view its interactions name.
    pub view_id: String,
}

/// Impressions and clicks, sliced three ways.
#[derive(Debug, Clone)]
pub struct Rates {
    /// By position, every partner together.
    pub by_position: Vec<Counts>,
    /// By partner.
    pub by_partner: Vec<Counts>,
    /// By partner, then position.
    pub by_partner_position: Vec<Counts>,
}

/// The use cases.
#[derive(Debug, Clone)]
pub struct Recommendations {
    /// The read model's database.
    store: RecStore,
    /// Index and overrides.
    state: Arc<State>,
    /// Full-text search.
    search: Arc<SearchIndex>,
    /// Ranking weights.
    weights: Weights,
    /// Seals recommendation ids and views.
    signer: Signer,
}

/// A search hit with the paper it found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The paper.
    pub entry: Entry,
    /// The hit.
    pub hit: crate::search::Hit,
}

impl Recommendations {
    /// The service over `store` and `state`, sealing what it serves with `signer`.
    pub fn new(
        store: RecStore,
        state: Arc<State>,
        search: Arc<SearchIndex>,
        weights: Weights,
        signer: Signer,
    ) -> Self {
        Self {
            store,
            state,
            search,
            weights,
            signer,
        }
    }

    /// The term sets the program, region and series filters of a request name, one per
    /// vocabulary given: each entry (an id or any slug, under `field[i]`) with its countries
    /// and the terms merged into it. Unknown terms are violations.
    pub async fn term_filters(
        &self,
        filters: [(imprint_domain::Vocabulary, &str, &[String]); 3],
    ) -> Result<Vec<Vec<imprint_domain::TermId>>, ServiceError> {
        let mut v = imprint_domain::Violations::new();
        let mut sets = Vec::new();
        for (vocabulary, field, entries) in filters {
            if entries.is_empty() {
                continue;
            }
            let mut set = Vec::new();
            for (i, raw) in entries.iter().enumerate() {
                match self.store.term_family(vocabulary, raw).await? {
                    Some(family) => set.extend(family),
                    None => v.push(
                        format!("{field}[{i}]"),
                        format!(
                            "no {vocabulary} is '{}'",
                            imprint_domain::shorten(raw.trim())
                        ),
                    ),
                }
            }
            sets.push(set);
        }
        v.into_result(|| sets).map_err(ServiceError::from)
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

    /// The term facets of a search page: each term's label with its count, most frequent
    /// first (ties by name), terms the read model does not know (yet) left out.
    pub async fn term_facets(
        &self,
        counts: &[(imprint_domain::TermId, u64)],
    ) -> Result<Vec<(crate::storage::TermLabel, u64)>, ServiceError> {
        let ids: Vec<imprint_domain::TermId> = counts.iter().map(|(id, _)| *id).collect();
        let labels = self.store.term_labels(&ids).await?;
        let mut facets: Vec<(crate::storage::TermLabel, u64)> = counts
            .iter()
            .filter_map(|(id, n)| labels.iter().find(|l| l.id == *id).map(|l| (l.clone(), *n)))
            .collect();
        // Ties by name, as a reader scans them.
        facets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
        Ok(facets)
    }

    /// The related publications of a paper, pinned ones first, served once.
    pub fn related(&self, paper: &PaperRef, request: &RailRequest) -> Result<Rail, ServiceError> {
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
            items.push(self.item(
                source.id,
                entry,
                0.0,
                vec!["pinned by an editor".to_owned()],
                items.len() + 1,
                request.partner.as_deref(),
            ));
        }
        let wanted = request.limit - items.len();
        for ranked in ranking::related(&index, slot, &filters, &self.weights, wanted) {
            let Some(entry) = index.entry(ranked.slot) else {
                continue;
            };
            let reasons = reasons(&index, &ranked.signals);
            items.push(self.item(
                source.id,
                entry,
                ranked.score,
                reasons,
                items.len() + 1,
                request.partner.as_deref(),
            ));
        }
        let view = View::new(source.id, items.len(), request.partner.as_deref());
        Ok(Rail {
            items,
            view_id: view.seal(&self.signer),
        })
    }

    fn item(
        &self,
        source: PaperId,
        entry: &Entry,
        score: f32,
        reasons: Vec<String>,
        position: usize,
        partner: Option<&str>,
    ) -> Item {
        Item {
            entry: entry.clone(),
            score,
            reasons,
            recommendation_id: Served {
                source,
                target: entry.id,
                position: i32::try_from(position).unwrap_or(i32::MAX),
                partner: partner.map(str::to_owned),
            }
            .seal(&self.signer),
        }
    }

    /// A paper's overrides.
    pub fn overrides(&self, paper: PaperId) -> Result<Overrides, ServiceError> {
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
        paper: PaperId,
        pinned: &[String],
        excluded: &[String],
        actor: &imprint_domain::Actor,
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
        self.store.set_overrides(paper, &overrides, actor).await?;
        self.state
            .overrides
            .write()
            .map_err(|_| ServiceError::Internal("the overrides lock is poisoned".to_owned()))?
            .insert(paper, overrides.clone());
        Ok(overrides)
    }

    /// Records an impression or a click of a served recommendation, for `caller` (the partner
    /// the call is made for, `None` first-party): the id and the view must have been served to
    /// it, the item on that view's rail. Each counts once per view and position.
    pub async fn record(
        &self,
        recommendation_id: &str,
        view_id: &str,
        kind: InteractionKind,
        caller: Option<&str>,
    ) -> Result<(), ServiceError> {
        let mut v = Violations::new();
        let served = v.check(
            "recommendation_id",
            Served::open(&self.signer, recommendation_id).map_err(|e| e.to_string()),
        );
        let view = if view_id.is_empty() {
            v.push(
                "view_id",
                "required: the view_id served with the rail the item was in",
            );
            None
        } else {
            v.check(
                "view_id",
                View::open(&self.signer, view_id, Utc::now()).map_err(|e| e.to_string()),
            )
        };
        let (Some(served), Some(view), true) = (served, view, v.is_empty()) else {
            return Err(v.into());
        };
        let refused =
            |field: &str, why: &str| -> ServiceError { Violations::one(field, why).into() };
        if served.partner.as_deref() != caller {
            return Err(refused(
                "recommendation_id",
                "was not served to the partner reporting it",
            ));
        }
        if view.partner.as_deref() != caller {
            return Err(refused(
                "view_id",
                "was not served to the partner reporting it",
            ));
        }
        // One view, one rail: its own items, at its own positions.
        if !view.holds(&served) {
            return Err(refused(
                "recommendation_id",
                "was not on the rail the view_id names",
            ));
        }
        let counted = self
            .store
            .record(&Interaction {
                kind,
                view: view.id,
                source: served.source,
                target: served.target,
                position: served.position,
                partner: served.partner.unwrap_or_default(),
            })
            .await?;
        if !counted {
            tracing::debug!(?kind, "interaction already counted for this view");
        }
        Ok(())
    }

    /// Impressions and clicks by position, by partner and by both, for `partner` (all when
    /// `None`) since `since`.
    pub async fn click_through(
        &self,
        partner: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Rates, ServiceError> {
        Ok(Rates {
            by_position: self.store.counts(Slice::Position, partner, since).await?,
            by_partner: self.store.counts(Slice::Partner, partner, since).await?,
            by_partner_position: self
                .store
                .counts(Slice::PartnerPosition, partner, since)
                .await?,
        })
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

fn parse_ids(v: &mut Violations, field: &str, raw: &[String]) -> Vec<PaperId> {
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
            Ok(id) if !out.contains(&id) => out.push(id),
            Ok(id) => v.push(
                format!("{field}[{i}]"),
                format!("paper {id} is listed twice"),
            ),
            Err(e) => v.push(format!("{field}[{i}]"), e),
        }
    }
    out
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
    for vocabulary in &signals.shared_vocabularies {
        out.push(format!("same {vocabulary}"));
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
