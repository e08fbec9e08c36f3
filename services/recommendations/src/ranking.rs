//! Ranking related publications: a hybrid of text similarity (BM25 of the paper's own most
//! telling terms against every other paper, title, summary and body weighted as fields), shared
//! authors (and their co-authors), shared topics and closeness in publication time, then a
//! pass for diversity (no near-duplicate titles, no rail of one type when others are close).
//! Weights were tuned on `acl/related-dev.tsv` with `imprint eval` (see BENCHMARKS.md).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::index::{Entry, Index};

/// The weights of the signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Query terms taken from the paper (its most telling ones).
    pub query_terms: usize,
    /// BM25 k1.
    pub k1: f32,
    /// BM25 b.
    pub b: f32,
    /// Per shared author (at most 3 count).
    pub shared_author: f32,
    /// Per shared author, weighted by how few papers the author has.
    pub rare_author: f32,
    /// Per co-author of the paper's authors (at most 3 count).
    pub coauthor: f32,
    /// Per shared topic (at most 2 count).
    pub shared_topic: f32,
    /// Closeness in publication time: weight × exp(−years apart / 5).
    pub time: f32,
    /// Score multiplier for each earlier pick of the same publication type (diversity).
    pub same_type_decay: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            query_terms: 80,
            k1: 1.2,
            b: 0.75,
            shared_author: 0.04,
            rare_author: 0.04,
            coauthor: 0.01,
            shared_topic: 0.05,
            time: 0.05,
            same_type_decay: 0.97,
        }
    }
}

/// What narrows the candidates.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only these `PublicationType` values (empty: any).
    pub types: Vec<i32>,
    /// Only papers with one of these topic keys (empty: any).
    pub topic_keys: Vec<String>,
    /// Only papers published at or after this time.
    pub published_after: Option<DateTime<Utc>>,
    /// Never these papers.
    pub excluded: HashSet<Uuid>,
}

impl Filters {
    /// Whether `e` passes.
    pub fn admits(&self, e: &Entry) -> bool {
        (self.types.is_empty() || self.types.contains(&e.publication_type))
            && (self.topic_keys.is_empty()
                || e.topic_keys.iter().any(|k| self.topic_keys.contains(k)))
            && self
                .published_after
                .is_none_or(|after| e.publish_time.is_some_and(|t| t >= after))
            && !self.excluded.contains(&e.id)
    }
}

/// Why a candidate scored: kept for the reasons shown to editors.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Text similarity, 0..=1 (relative to the best candidate).
    pub text: f32,
    /// Shared authors.
    pub shared_authors: Vec<Uuid>,
    /// Co-authors of the paper's authors among its authors.
    pub coauthors: u32,
    /// Shared topics, as the candidate writes them.
    pub shared_topics: Vec<String>,
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

/// Papers of one author followed when looking for co-authors (prolific authors would otherwise
/// pull in half a field).
const MAX_AUTHOR_PAPERS: usize = 200;
/// Co-authors followed in all.
const MAX_COAUTHORS: usize = 500;

/// The `limit` publications most related to the paper at `slot`, best first.
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
    let n = index.len() as f32;
    let idf = |df: u32| ((n - df as f32 + 0.5) / (df as f32 + 0.5)).ln_1p();

    // Text: the paper's most telling terms (sublinear frequency × idf) as a BM25 query.
    let mut query_terms: Vec<(u32, f32)> = query
        .terms
        .iter()
        .map(|(t, tf)| (*t, (1.0 + tf.ln().max(0.0)) * idf(index.df(*t))))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    query_terms.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
    query_terms.truncate(weights.query_terms);

    // Scores accumulate in a dense array over slots: a posting costs an add, not a lookup.
    let avg = index.average_len();
    let mut text = vec![0.0_f32; index.capacity()];
    let mut touched: Vec<u32> = Vec::new();
    for (term, w) in &query_terms {
        for (s, tf) in index.postings(*term) {
            if *s == slot {
                continue;
            }
            let Some(e) = index.entry(*s) else { continue };
            let bm25 = tf * (weights.k1 + 1.0)
                / (tf + weights.k1 * (1.0 - weights.b + weights.b * e.len / avg));
            let acc = &mut text[*s as usize];
            if *acc == 0.0 {
                touched.push(*s);
            }
            *acc += w * bm25;
        }
    }
    let best_text = touched
        .iter()
        .map(|s| text[*s as usize])
        .fold(0.0_f32, f32::max);
    let scale = if best_text > 0.0 {
        1.0 / best_text
    } else {
        0.0
    };
    let mut signals: HashMap<u32, Signals> = HashMap::new();

    // Authors, and the co-authors of the paper's authors.
    let own: HashSet<Uuid> = query.author_ids.iter().copied().collect();
    let mut coauthors: HashSet<Uuid> = HashSet::new();
    for author in &query.author_ids {
        for s in index.papers_of(*author).iter().take(MAX_AUTHOR_PAPERS) {
            if *s == slot {
                continue;
            }
            if let Some(e) = index.entry(*s) {
                signals.entry(*s).or_default().shared_authors.push(*author);
                for co in &e.author_ids {
                    if !own.contains(co) && coauthors.len() < MAX_COAUTHORS {
                        coauthors.insert(*co);
                    }
                }
            }
        }
    }
    for co in &coauthors {
        for s in index.papers_of(*co).iter().take(MAX_AUTHOR_PAPERS) {
            if *s != slot {
                signals.entry(*s).or_default().coauthors += 1;
            }
        }
    }

    // Topics.
    for (key, written) in query.topic_keys.iter().zip(&query.topics) {
        for s in index.papers_on(key) {
            if *s != slot {
                signals
                    .entry(*s)
                    .or_default()
                    .shared_topics
                    .push(written.clone());
            }
        }
    }

    let years = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp() as f32 / 31_557_600.0);
    let query_year = years(query.publish_time);
    let none = Signals::default();
    let mut candidates = touched;
    candidates.extend(signals.keys().filter(|s| text[**s as usize] == 0.0));
    let mut ranked: Vec<(f32, u32)> = candidates
        .into_iter()
        .filter_map(|s| {
            let e = index.entry(s)?;
            if !filters.admits(e) {
                return None;
            }
            let sig = signals.get(&s).unwrap_or(&none);
            let rare: f32 = sig
                .shared_authors
                .iter()
                .map(|a| 1.0 / (2.0 + index.papers_of(*a).len() as f32).ln())
                .sum();
            let time = match (query_year, years(e.publish_time)) {
                (Some(q), Some(c)) => (-(q - c).abs() / 5.0).exp(),
                _ => 0.0,
            };
            let score = text[s as usize] * scale
                + weights.shared_author * (sig.shared_authors.len().min(3) as f32)
                + weights.rare_author * rare
                + weights.coauthor * (sig.coauthors.min(3) as f32)
                + weights.shared_topic * (sig.shared_topics.len().min(2) as f32)
                + weights.time * time;
            Some((score, s))
        })
        .collect();
    // Only the head matters: the diversity pass looks at a few times `limit`.
    let head = limit.saturating_mul(4).max(20);
    if ranked.len() > head {
        ranked.select_nth_unstable_by(head, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(head);
    }
    let mut ranked: Vec<Ranked> = ranked
        .into_iter()
        .map(|(score, s)| {
            let mut sig = signals.remove(&s).unwrap_or_default();
            sig.text = text[s as usize] * scale;
            Ranked {
                slot: s,
                score,
                signals: sig,
            }
        })
        .collect();
    if ranked.len() < limit {
        fill_with_neighbours_in_time(index, slot, query_year, filters, &mut ranked, limit);
    }
    ranked.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.slot.cmp(&b.slot)));
    diversify(index, query, ranked, weights, limit)
}

/// When text, authors and topics find too little (a paper of a few rare words), the papers
/// published closest in time fill the rail, so it is never empty while others exist.
fn fill_with_neighbours_in_time(
    index: &Index,
    slot: u32,
    query_year: Option<f32>,
    filters: &Filters,
    ranked: &mut Vec<Ranked>,
    limit: usize,
) {
    let have: HashSet<u32> = ranked.iter().map(|r| r.slot).collect();
    let mut extra: Vec<(f32, u32)> = (0..u32::try_from(index.capacity()).unwrap_or(u32::MAX))
        .filter(|s| *s != slot && !have.contains(s))
        .filter_map(|s| {
            let e = index.entry(s)?;
            if !filters.admits(e) {
                return None;
            }
            let c = e.publish_time.map(|t| t.timestamp() as f32 / 31_557_600.0);
            let apart = match (query_year, c) {
                (Some(q), Some(c)) => (q - c).abs(),
                _ => f32::MAX,
            };
            Some((apart, s))
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
    let mut type_count: HashMap<i32, i32> = HashMap::new();
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
    use crate::index::{FieldWeights, english};
    use crate::storage::RecPaper;

    fn paper(title: &str, summary: &str, authors: &[Uuid], topics: &[&str], kind: i32) -> RecPaper {
        RecPaper {
            id: Uuid::now_v7(),
            version: 1,
            published: true,
            slug: String::new(),
            external_id: None,
            title: title.to_owned(),
            summary: summary.to_owned(),
            body: String::new(),
            publication_type: kind,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            author_ids: authors.to_vec(),
            publish_time: None,
        }
    }

    #[test]
    fn text_authors_and_topics_rank_and_never_the_paper_itself() {
        let mut index = Index::new(FieldWeights::default());
        let mut a = english();
        let khan = Uuid::now_v7();
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
        let ids: Vec<Uuid> = got
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
            types: vec![3],
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
        let mut index = Index::new(FieldWeights::default());
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
        let ids: Vec<Uuid> = got
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
        let mut index = Index::new(FieldWeights::default());
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
