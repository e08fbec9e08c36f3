//! Ranking related publications: a hybrid of text similarity (BM25 of the paper's own most
//! telling terms against every other paper, title, summary and body weighted as fields), shared
//! authors (and their co-authors), shared topics and closeness in publication time, then a
//! pass for diversity (no near-duplicate titles, no rail of one type when others are close).
//! Weights were tuned on `acl/related-dev.tsv` with `imprint eval` (see BENCHMARKS.md).

use imprint_domain::PublicationType;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use imprint_domain::{AuthorId, PaperId, PaperTerms, TermId, Vocabulary};

use crate::index::{Entry, Index};

/// The weights of the signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Query terms taken from the paper (its most telling ones).
    pub query_terms: usize,
    /// BM25 k1 (the index is built with it: see `index::Bm25`).
    pub k1: f32,
    /// BM25 b (the index is built with it).
    pub b: f32,
    /// Per shared author (at most 3 count).
    pub shared_author: f32,
    /// Per shared author, weighted by how few papers the author has.
    pub rare_author: f32,
    /// Per co-author of the paper's authors (at most 3 count).
    pub coauthor: f32,
    /// Per shared topic (at most 2 count).
    pub shared_topic: f32,
    /// Per vocabulary (program, region, series) in which the paper shares a term: the same
    /// center's or region's work. Small: it orders papers found by what they say, it does
    /// not find them.
    pub shared_term: f32,
    /// Closeness in publication time: weight × exp(−years apart / 5).
    pub time: f32,
    /// Score multiplier for each earlier pick of the same publication type (diversity).
    pub same_type_decay: f32,
    /// Terms in more than this share of the papers are not query terms (they say little and
    /// would make every paper a candidate).
    pub max_df: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            query_terms: 80,
            k1: 2.0,
            b: 1.0,
            shared_author: 0.15,
            rare_author: 0.1,
            coauthor: 0.01,
            shared_topic: 0.05,
            shared_term: 0.03,
            time: 0.15,
            same_type_decay: 0.97,
            max_df: 0.3,
        }
    }
}

/// What narrows the candidates.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only these types (empty: any).
    pub types: Vec<PublicationType>,
    /// Only papers with one of these topic keys (empty: any).
    pub topic_keys: Vec<String>,
    /// Only papers published at or after this time.
    pub published_after: Option<DateTime<Utc>>,
    /// Never these papers.
    pub excluded: HashSet<PaperId>,
    /// Only papers carrying, for each set, one of its terms (a region's set holds its
    /// countries): the program, region and series filters, resolved.
    pub terms: Vec<Vec<TermId>>,
}

impl Filters {
    /// Whether `e` passes.
    pub fn admits(&self, e: &Entry) -> bool {
        (self.types.is_empty() || e.publication_type.is_some_and(|t| self.types.contains(&t)))
            && (self.topic_keys.is_empty()
                || e.topic_keys.iter().any(|k| self.topic_keys.contains(k)))
            && self
                .published_after
                .is_none_or(|after| e.publish_time.is_some_and(|t| t >= after))
            && !self.excluded.contains(&e.id)
            && self
                .terms
                .iter()
                .all(|set| e.taxonomy.all().any(|t| set.contains(&t)))
    }
}

/// Why a candidate scored: kept for the reasons shown to editors.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Text similarity, 0..=1 (relative to the best candidate).
    pub text: f32,
    /// Shared authors.
    pub shared_authors: Vec<AuthorId>,
    /// Co-authors of the paper's authors among its authors.
    pub coauthors: u32,
    /// Shared topics, as the paper asked about writes them.
    pub shared_topics: Vec<String>,
    /// The vocabularies in which it shares a term with the paper asked about.
    pub shared_vocabularies: Vec<Vocabulary>,
}

/// A ranked candidate.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// Its slot in the index.
    pub slot: u32,
    /// Its score.
    pub score: f32,
    /// Why.
    pub signals: Signals,
}

/// Papers of one author that count (a prolific author's oldest papers beyond this do not).
const MAX_AUTHOR_PAPERS: usize = 200;
/// Authors of the paper that count (consortium papers list hundreds).
const MAX_QUERY_AUTHORS: usize = 50;
/// Co-authors of the paper's authors that count.
const MAX_COAUTHORS: usize = 100;
/// Papers of one co-author that count.
const MAX_COAUTHOR_PAPERS: usize = 50;
/// Per-query scratch space over the slots, kept per thread so that a query does not allocate
/// (and fault in) arrays the size of the corpus.
#[derive(Default)]
struct Scratch {
    /// Each slot's score so far; `NEG_INFINITY` for slots that may not be picked.
    score: Vec<f32>,
    /// How many of the paper's topics each slot shares.
    topics: Vec<u8>,
}

impl Scratch {
    fn reset(&mut self, capacity: usize) {
        self.score.clear();
        self.score.resize(capacity, 0.0);
        self.topics.clear();
        self.topics.resize(capacity, 0);
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// A score ordered for a heap (lowest on top, then highest slot, so ties keep low slots).
#[derive(Clone, Copy, PartialEq)]
struct Low(f32, u32);

impl Eq for Low {}

impl PartialOrd for Low {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Low {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// The `limit` publications most related to the paper at `slot`, best first.
///
/// Costs a few posting-list walks and passes over dense arrays: the query is the paper's most
/// telling terms (at most `query_terms`, none in more than `max_df` of the papers), authors
/// and topics come from their own small lists, and recency is computed only for candidates
/// that can still make the rail.
pub fn related(
    index: &Index,
    slot: u32,
    filters: &Filters,
    weights: &Weights,
    limit: usize,
) -> Vec<Ranked> {
    let Some(query) = index.entry(slot) else {
        return Vec::new();
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => rank(index, slot, query, filters, weights, limit, &mut scratch),
        Err(_) => rank(
            index,
            slot,
            query,
            filters,
            weights,
            limit,
            &mut Scratch::default(),
        ),
    })
}

fn rank(
    index: &Index,
    slot: u32,
    query: &Entry,
    filters: &Filters,
    weights: &Weights,
    limit: usize,
    scratch: &mut Scratch,
) -> Vec<Ranked> {
    scratch.reset(index.capacity());
    text_scores(index, slot, query, weights, &mut scratch.score);
    for s in filters.excluded.iter().filter_map(|id| index.slot(*id)) {
        if let Some(score) = scratch.score.get_mut(s as usize) {
            *score = f32::NEG_INFINITY;
        }
    }
    let (boosts, coauthors) = author_boosts(index, slot, query, weights, &mut scratch.score);
    for id in &query.topic_ids {
        for s in index.papers_on_topic(*id) {
            let i = *s as usize;
            if let (Some(count), Some(score)) =
                (scratch.topics.get_mut(i), scratch.score.get_mut(i))
            {
                *count = count.saturating_add(1);
                if *count <= 2 {
                    *score += weights.shared_topic;
                }
            }
        }
    }

    if !query.taxonomy.is_empty() {
        shared_term_boosts(index, query, weights, &mut scratch.score);
    }

    // Everything but recency is in `score` now; recency adds at most `weights.time`, so only
    // papers within that of the `head`-th best can still make the rail.
    let head = limit.saturating_mul(4).max(20);
    let plain = filters.types.is_empty()
        && filters.topic_keys.is_empty()
        && filters.published_after.is_none()
        && filters.terms.is_empty();
    let admits = |s: usize| {
        plain
            || u32::try_from(s)
                .ok()
                .and_then(|s| index.entry(s))
                .is_some_and(|e| filters.admits(e))
    };
    let mut best: std::collections::BinaryHeap<Low> = std::collections::BinaryHeap::new();
    let mut floor = 0.0_f32;
    for (i, score) in scratch.score.iter().enumerate() {
        if *score > floor && admits(i) {
            best.push(Low(*score, u32::try_from(i).unwrap_or(u32::MAX)));
            if best.len() > head {
                best.pop();
            }
            if best.len() == head {
                floor = best.peek().map_or(0.0, |l| l.0);
            }
        }
    }
    let threshold = if best.len() == head {
        (floor - weights.time).max(f32::MIN_POSITIVE)
    } else {
        f32::MIN_POSITIVE
    };
    // Second pass: recency, for those still in reach of the best `head` so far.
    let query_year = index.year(slot);
    let mut top: std::collections::BinaryHeap<Low> =
        std::collections::BinaryHeap::with_capacity(head + 1);
    for (i, score) in scratch.score.iter().enumerate() {
        if *score < threshold
            || (top.len() == head && top.peek().is_some_and(|l| *score + weights.time <= l.0))
            || !admits(i)
        {
            continue;
        }
        let s = u32::try_from(i).unwrap_or(u32::MAX);
        let apart = (query_year - index.year(s)).abs();
        let time = if apart.is_nan() {
            0.0
        } else {
            (-apart / 5.0).exp()
        };
        top.push(Low(score + weights.time * time, s));
        if top.len() > head {
            top.pop();
        }
    }
    let own: HashSet<AuthorId> = query.author_ids.iter().copied().collect();
    let mut ranked: Vec<Ranked> = top
        .into_iter()
        .map(|Low(score, s)| {
            let i = s as usize;
            let mut signals = signals(index, query, &own, &coauthors, s, 0.0);
            #[allow(clippy::cast_precision_loss)]
            let shared_terms = signals.shared_vocabularies.len() as f32;
            signals.text = scratch.score[i]
                - boosts.get(&s).copied().unwrap_or(0.0)
                - weights.shared_topic * f32::from(scratch.topics[i].min(2))
                - weights.shared_term * shared_terms;
            Ranked {
                slot: s,
                score,
                signals,
            }
        })
        .collect();
    if ranked.len() < limit {
        fill_with_neighbours_in_time(index, slot, filters, &mut ranked, limit);
    }
    ranked.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.slot.cmp(&b.slot)));
    diversify(index, query, ranked, weights, limit)
}

/// BM25 of the paper's most telling terms against every other paper, into `score`, scaled so
/// that the best live paper scores 1; the paper's own and removed papers' slots get
/// `NEG_INFINITY`.
fn text_scores(index: &Index, slot: u32, query: &Entry, weights: &Weights, score: &mut [f32]) {
    #[allow(clippy::cast_precision_loss)]
    let n = index.len() as f32;
    let idf = |df: u32| {
        #[allow(clippy::cast_precision_loss)]
        let df = df as f32;
        ((n - df + 0.5) / (df + 0.5)).ln_1p()
    };
    #[allow(clippy::cast_precision_loss)]
    let max_df = (weights.max_df * n).max(2.0);
    let mut terms: Vec<(u32, f32)> = query
        .terms
        .iter()
        .filter(|(t, _)| {
            #[allow(clippy::cast_precision_loss)]
            let df = index.df(*t) as f32;
            df <= max_df
        })
        .map(|(t, tf)| (*t, (1.0 + tf.ln().max(0.0)) * idf(index.df(*t))))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    terms.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
    terms.truncate(weights.query_terms);
    // The hot loop: one multiply-add per posting into a dense array (the index holds each
    // posting's BM25 impact). Whatever lands in removed papers' slots is overwritten below.
    for (term, w) in &terms {
        for (s, impact) in index.postings(*term) {
            if let Some(acc) = score.get_mut(*s as usize) {
                *acc += w * impact;
            }
        }
    }
    for s in index.removed_slots().iter().chain(std::iter::once(&slot)) {
        if let Some(acc) = score.get_mut(*s as usize) {
            *acc = f32::NEG_INFINITY;
        }
    }
    // The maximum in eight lanes, which compiles to vector instructions.
    let mut lanes = [0.0_f32; 8];
    let chunks = score.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = if *v > *lane { *v } else { *lane };
        }
    }
    let best = lanes
        .iter()
        .chain(rest)
        .fold(0.0_f32, |m, v| if *v > m { *v } else { m });
    if best > 0.0 {
        let scale = 1.0 / best;
        for acc in score.iter_mut() {
            *acc *= scale;
        }
    }
}

/// Boosts for papers sharing an author (more for a rarer author) or crediting a co-author of
/// the paper's authors, added to `score`; returns each boosted paper's boost, and how many
/// co-authors each such paper has.
fn author_boosts(
    index: &Index,
    slot: u32,
    query: &Entry,
    weights: &Weights,
    score: &mut [f32],
) -> (HashMap<u32, f32>, HashMap<u32, u32>) {
    let own: Vec<AuthorId> = query
        .author_ids
        .iter()
        .take(MAX_QUERY_AUTHORS)
        .copied()
        .collect();
    let mut boosts: HashMap<u32, f32> = HashMap::new();
    let mut shared: HashMap<u32, u32> = HashMap::new();
    let mut coauthors: Vec<AuthorId> = Vec::new();
    for author in &own {
        let papers = index.papers_of(*author);
        #[allow(clippy::cast_precision_loss)]
        let rarity = 1.0 / (2.0 + papers.len() as f32).ln();
        for s in papers.iter().rev().take(MAX_AUTHOR_PAPERS) {
            if *s == slot {
                continue;
            }
            let count = shared.entry(*s).or_default();
            *count += 1;
            let mut boost = weights.rare_author * rarity;
            if *count <= 3 {
                boost += weights.shared_author;
            }
            *boosts.entry(*s).or_default() += boost;
            if weights.coauthor > 0.0
                && coauthors.len() < MAX_COAUTHORS
                && let Some(e) = index.entry(*s)
            {
                for co in &e.author_ids {
                    if coauthors.len() < MAX_COAUTHORS
                        && !own.contains(co)
                        && !coauthors.contains(co)
                    {
                        coauthors.push(*co);
                    }
                }
            }
        }
    }
    let mut by_coauthors: HashMap<u32, u32> = HashMap::new();
    for co in &coauthors {
        for s in index.papers_of(*co).iter().rev().take(MAX_COAUTHOR_PAPERS) {
            if *s == slot {
                continue;
            }
            let count = by_coauthors.entry(*s).or_default();
            *count += 1;
            if *count <= 3 {
                *boosts.entry(*s).or_default() += weights.coauthor;
            }
        }
    }
    for (s, boost) in &boosts {
        if let Some(acc) = score.get_mut(*s as usize) {
            *acc += boost;
        }
    }
    (boosts, by_coauthors)
}

/// Why the paper at `s` is related, for the reasons shown to editors.
fn signals(
    index: &Index,
    query: &Entry,
    own: &HashSet<AuthorId>,
    coauthors: &HashMap<u32, u32>,
    s: u32,
    text: f32,
) -> Signals {
    let Some(e) = index.entry(s) else {
        return Signals::default();
    };
    Signals {
        text,
        shared_authors: e
            .author_ids
            .iter()
            .filter(|a| own.contains(a))
            .copied()
            .collect(),
        coauthors: coauthors.get(&s).copied().unwrap_or(0),
        shared_topics: query
            .topic_ids
            .iter()
            .zip(&query.topics)
            .filter(|(id, _)| e.topic_ids.contains(id))
            .map(|(_, written)| written.clone())
            .collect(),
        shared_vocabularies: shared_vocabularies(&query.taxonomy, &e.taxonomy),
    }
}

/// The vocabularies in which `a` and `b` share a term.
fn shared_vocabularies(a: &PaperTerms, b: &PaperTerms) -> Vec<Vocabulary> {
    Vocabulary::ALL
        .into_iter()
        .filter(|v| {
            a.of(*v)
                .as_slice()
                .iter()
                .any(|t| b.of(*v).as_slice().contains(t))
        })
        .collect()
}

/// Adds `shared_term` per shared vocabulary to every candidate (a slot something else found)
/// of the same program, region or series as `query`.
fn shared_term_boosts(index: &Index, query: &Entry, weights: &Weights, score: &mut [f32]) {
    for (i, score) in score.iter_mut().enumerate() {
        if *score <= 0.0 {
            continue;
        }
        let Some(e) = u32::try_from(i).ok().and_then(|s| index.entry(s)) else {
            continue;
        };
        #[allow(clippy::cast_precision_loss)]
        let shared = shared_vocabularies(&query.taxonomy, &e.taxonomy).len() as f32;
        *score += weights.shared_term * shared;
    }
}

/// When text, authors and topics find too little (a paper of a few rare words), the papers
/// published closest in time fill the rail, so it is never empty while others exist.
fn fill_with_neighbours_in_time(
    index: &Index,
    slot: u32,
    filters: &Filters,
    ranked: &mut Vec<Ranked>,
    limit: usize,
) {
    let have: HashSet<u32> = ranked.iter().map(|r| r.slot).collect();
    let query_year = index.year(slot);
    let mut extra: Vec<(f32, u32)> = (0..u32::try_from(index.capacity()).unwrap_or(u32::MAX))
        .filter(|s| *s != slot && !have.contains(s))
        .filter_map(|s| {
            let e = index.entry(s)?;
            if !filters.admits(e) {
                return None;
            }
            let apart = (query_year - index.year(s)).abs();
            Some((if apart.is_nan() { f32::MAX } else { apart }, s))
        })
        .collect();
    extra.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (_, s) in extra.into_iter().take(limit - ranked.len()) {
        ranked.push(Ranked {
            slot: s,
            score: 0.0,
            signals: Signals::default(),
        });
    }
}

/// Picks `limit` of the ranked candidates, best first, skipping titles that nearly repeat the
/// paper's or an earlier pick's, and letting a type that is already on the rail yield to a
/// close candidate of another type.
fn diversify(
    index: &Index,
    query: &Entry,
    ranked: Vec<Ranked>,
    weights: &Weights,
    limit: usize,
) -> Vec<Ranked> {
    let mut pool: Vec<Ranked> = ranked
        .into_iter()
        .take(limit.saturating_mul(4).max(20))
        .collect();
    let mut picked: Vec<Ranked> = Vec::with_capacity(limit);
    let mut type_count: HashMap<Option<PublicationType>, i32> = HashMap::new();
    while picked.len() < limit && !pool.is_empty() {
        let mut best: Option<(usize, f32)> = None;
        for (i, r) in pool.iter().enumerate() {
            let Some(e) = index.entry(r.slot) else {
                continue;
            };
            let repeats = type_count.get(&e.publication_type).copied().unwrap_or(0);
            let adjusted = r.score * weights.same_type_decay.powi(repeats);
            if best.is_none_or(|(_, b)| adjusted > b) {
                best = Some((i, adjusted));
            }
        }
        let Some((i, _)) = best else { break };
        let candidate = pool.remove(i);
        let Some(e) = index.entry(candidate.slot) else {
            continue;
        };
        let near_duplicate = near_duplicate(&e.title_terms, &query.title_terms)
            || picked.iter().any(|p| {
                index
                    .entry(p.slot)
                    .is_some_and(|pe| near_duplicate(&e.title_terms, &pe.title_terms))
            });
        if near_duplicate {
            continue;
        }
        *type_count.entry(e.publication_type).or_default() += 1;
        picked.push(candidate);
    }
    picked
}

/// Two titles with the same words, or nearly (Jaccard ≥ 0.9 over at least 4 terms).
fn near_duplicate(a: &[u32], b: &[u32]) -> bool {
    if a.len() < 4 || b.len() < 4 {
        return false;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    common as f32 / union as f32 >= 0.9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Bm25, FieldWeights, english};
    use crate::storage::RecPaper;

    fn paper(
        title: &str,
        summary: &str,
        authors: &[AuthorId],
        topics: &[&str],
        kind: i32,
    ) -> RecPaper {
        RecPaper {
            id: PaperId::generate(),
            version: 1,
            published: true,
            slug: String::new(),
            external_id: None,
            title: title.to_owned(),
            summary: summary.to_owned(),
            body: String::new(),
            publication_type: imprint_proto::convert::publication_type_from_proto(kind)
                .ok()
                .flatten(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            author_ids: authors.to_vec(),
            publish_time: None,
            terms: imprint_domain::PaperTerms::default(),
            cover: None,
        }
    }

    #[test]
    fn the_same_region_orders_equal_papers_and_filters_by_term_sets() {
        let mut index = Index::new(FieldWeights::default(), Bm25::default());
        let mut a = english();
        let south_asia = TermId::generate();
        let europe = TermId::generate();
        let in_region = |region: TermId, title: &str| {
            let mut p = paper(title, "Counterterrorism and violent extremism", &[], &[], 1);
            p.terms.regions = imprint_domain::TermIds::from_trusted(vec![region]);
            p
        };
        let q = in_region(south_asia, "Counterterrorism in South Asia");
        let far = in_region(europe, "Counterterrorism in Europe");
        let near = in_region(south_asia, "Counterterrorism in Europe");
        for p in [&q, &far, &near] {
            index.upsert(p, &mut a);
        }
        // Others, so that the shared words are telling ones.
        for i in 0..8 {
            let other = paper(&format!("Monetary policy {i}"), "Inflation", &[], &[], 1);
            index.upsert(&other, &mut a);
        }
        let slot = index.slot(q.id).unwrap();
        let got = related(&index, slot, &Filters::default(), &Weights::default(), 10);
        let first = index.entry(got[0].slot).unwrap();
        assert_eq!(first.id, near.id, "{got:?}");
        assert_eq!(got[0].signals.shared_vocabularies, [Vocabulary::Region]);
        assert!(got[1].signals.shared_vocabularies.is_empty());
        assert!(
            (got[0].signals.text - got[1].signals.text).abs() < 1e-4,
            "the bonus is not text: {got:?}"
        );
        let only_europe = Filters {
            terms: vec![vec![europe]],
            ..Filters::default()
        };
        let got = related(&index, slot, &only_europe, &Weights::default(), 10);
        let ids: Vec<PaperId> = got
            .iter()
            .map(|r| index.entry(r.slot).unwrap().id)
            .collect();
        assert_eq!(ids, [far.id]);
    }

    #[test]
    fn text_authors_and_topics_rank_and_never_the_paper_itself() {
        let mut index = Index::new(FieldWeights::default(), Bm25::default());
        let mut a = english();
        let khan = AuthorId::generate();
        let q = paper(
            "Counterterrorism in Afghanistan and Pakistan",
            "Terrorism threats from South Asia",
            &[khan],
            &["Violent Extremism"],
            1,
        );
        let text = paper(
            "Why Counterterrorism in Afghanistan Still Matters",
            "The terrorism threat remains",
            &[],
            &[],
            3,
        );
        let author = paper("Education reform in Punjab", "Schools", &[khan], &[], 1);
        let topic = paper(
            "Shanghai Cooperation Organization",
            "Regional security",
            &[],
            &["violent extremism"],
            1,
        );
        let unrelated = paper(
            "Deep learning for images",
            "Convolutional networks",
            &[],
            &[],
            1,
        );
        for p in [&q, &text, &author, &topic, &unrelated] {
            index.upsert(p, &mut a);
        }
        let slot = index.slot(q.id).unwrap();
        let got = related(&index, slot, &Filters::default(), &Weights::default(), 10);
        let ids: Vec<PaperId> = got
            .iter()
            .map(|r| index.entry(r.slot).unwrap().id)
            .collect();
        assert!(!ids.contains(&q.id));
        assert_eq!(ids[0], text.id, "{got:?}");
        assert!(ids.contains(&author.id) && ids.contains(&topic.id));
        let by_author = got
            .iter()
            .find(|r| index.entry(r.slot).unwrap().id == author.id)
            .unwrap();
        assert_eq!(by_author.signals.shared_authors, [khan]);
        let by_topic = got
            .iter()
            .find(|r| index.entry(r.slot).unwrap().id == topic.id)
            .unwrap();
        assert_eq!(by_topic.signals.shared_topics, ["Violent Extremism"]);

        // Filters and exclusions.
        let filters = Filters {
            types: vec![PublicationType::QuestionAndAnswer],
            ..Filters::default()
        };
        let only_qa = related(&index, slot, &filters, &Weights::default(), 10);
        assert_eq!(only_qa.len(), 1);
        let filters = Filters {
            excluded: [text.id].into_iter().collect(),
            ..Filters::default()
        };
        let without = related(&index, slot, &filters, &Weights::default(), 10);
        assert!(
            without
                .iter()
                .all(|r| index.entry(r.slot).unwrap().id != text.id)
        );
    }

    #[test]
    fn near_duplicates_are_skipped_and_a_titles_only_corpus_works() {
        let mut index = Index::new(FieldWeights::default(), Bm25::default());
        let mut a = english();
        let q = paper(
            "Lattice gauge theory at finite temperature",
            "",
            &[],
            &[],
            8,
        );
        let dup1 = paper(
            "Lattice gauge theory at finite temperature, revisited",
            "",
            &[],
            &[],
            8,
        );
        let dup2 = paper(
            "Lattice gauge theory at finite temperatures",
            "",
            &[],
            &[],
            8,
        );
        let other = paper("Finite temperature phase transitions", "", &[], &[], 8);
        for p in [&q, &dup1, &dup2, &other] {
            index.upsert(p, &mut a);
        }
        let got = related(
            &index,
            index.slot(q.id).unwrap(),
            &Filters::default(),
            &Weights::default(),
            3,
        );
        let ids: Vec<PaperId> = got
            .iter()
            .map(|r| index.entry(r.slot).unwrap().id)
            .collect();
        assert!(ids.contains(&other.id));
        assert!(
            !(ids.contains(&dup1.id) && ids.contains(&dup2.id)),
            "two near-duplicates"
        );
        assert!(!ids.contains(&q.id));
    }

    #[test]
    fn a_paper_with_nothing_in_common_still_gets_a_rail() {
        let mut index = Index::new(FieldWeights::default(), Bm25::default());
        let mut a = english();
        let q = paper("Zxqv", "", &[], &[], 1);
        index.upsert(&q, &mut a);
        for i in 0..5 {
            index.upsert(&paper(&format!("Other {i}"), "", &[], &[], 1), &mut a);
        }
        let got = related(
            &index,
            index.slot(q.id).unwrap(),
            &Filters::default(),
            &Weights::default(),
            3,
        );
        assert_eq!(got.len(), 3);
    }
}
