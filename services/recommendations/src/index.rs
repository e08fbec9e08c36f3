//! The in-memory index of published papers behind related publications: for each paper its
//! analysed terms (title, summary and body weighted as fields), postings per term for BM25, and
//! which papers each author and topic has. Built from the read model at start, then kept up to
//! date from the change log. Related publications are whole-document queries (a paper's own
//! most telling terms against every other paper), so the index keeps each paper's term vector:
//! a query is a handful of posting-list walks, well under a millisecond at 80,000 papers.

use imprint_domain::PublicationType;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use imprint_domain::{AuthorId, PaperId};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};

use crate::storage::RecPaper;

/// The English analyzer shared by the related-publications index and search: words split on
/// non-alphanumerics, lowercased, accents folded to ASCII, scikit-learn's English stop words
/// removed, Snowball (Porter 2) stemming.
pub fn english() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(
            crate::stop_words::ENGLISH.iter().map(|w| (*w).to_owned()),
        ))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The terms of `text`, in order.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let t = &stream.token().text;
        if t.len() > 1 || t.chars().all(|c| c.is_ascii_digit()) {
            out.push(t.clone());
        }
    }
    out
}

/// A publication time in years since 1970 (NaN when unknown), for recency.
fn year_of(t: Option<DateTime<Utc>>) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    t.map_or(f32::NAN, |t| t.timestamp() as f32 / 31_557_600.0)
}

/// How much each field's terms count, as multiples of a summary term.
#[derive(Debug, Clone, Copy)]
pub struct FieldWeights {
    /// Title terms.
    pub title: f32,
    /// Summary terms.
    pub summary: f32,
    /// Body terms (bodies are long; their words say less each).
    pub body: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        Self {
            title: 2.0,
            summary: 1.0,
            body: 0.3,
        }
    }
}

/// BM25's parameters: term-frequency saturation `k1` and length normalisation `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation (0: none, 1: full).
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        let w = crate::ranking::Weights::default();
        Self { k1: w.k1, b: w.b }
    }
}

/// How far the average paper length may drift from the one the postings' impacts were
/// computed with before they are computed again.
const AVG_DRIFT: f32 = 0.02;

/// A published paper in memory: what responses show, and what ranking needs.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Id.
    pub id: PaperId,
    /// Current slug.
    pub slug: String,
    /// Id where it was imported from.
    pub external_id: Option<String>,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Its type.
    pub publication_type: Option<PublicationType>,
    /// Topics as written.
    pub topics: Vec<String>,
    /// Topics lowercased, for matching.
    pub topic_keys: Vec<String>,
    /// Topic ids in the index, in the order of `topic_keys`.
    pub topic_ids: Vec<u32>,
    /// Credited authors.
    pub author_ids: Vec<AuthorId>,
    /// When published.
    pub publish_time: Option<DateTime<Utc>>,
    /// (term, field-weighted frequency), sorted by term.
    pub terms: Vec<(u32, f32)>,
    /// Field-weighted length.
    pub len: f32,
    /// The title's terms, sorted and unique, to spot near-duplicates.
    pub title_terms: Vec<u32>,
    /// Its programs, regions and series.
    pub taxonomy: imprint_domain::PaperTerms,
    /// Its cover image.
    pub cover: Option<Box<imprint_domain::file::Image>>,
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    /// Papers by slot; a removed paper leaves `None` (slots are not reused until compaction).
    entries: Vec<Option<Entry>>,
    /// Slot of each live paper.
    slot_of: HashMap<PaperId, u32>,
    /// The paper each slug leads to, current or former (kept when papers leave: a slug
    /// resolves again when its paper is republished).
    id_by_slug: HashMap<String, PaperId>,
    /// Term ids.
    vocab: HashMap<String, u32>,
    /// Live papers containing each term.
    df: Vec<u32>,
    /// (slot, impact) per term, the impact being BM25's saturated, length-normalised term
    /// frequency, `tf × (k1 + 1) / (tf + k1 × (1 − b + b × len / avg))`, computed ahead so that
    /// scoring a posting is one multiply-add; may point at removed slots until compaction.
    postings: Vec<Vec<(u32, f32)>>,
    /// BM25's parameters.
    bm25: Bm25,
    /// The average length the impacts were computed with.
    impact_avg: f32,
    /// Sum of live papers' lengths.
    total_len: f64,
    /// Postings left pointing at removed slots.
    garbage: usize,
    /// Slots of removed papers (until compaction renumbers).
    removed: Vec<u32>,
    /// Slots of the live papers crediting each author.
    by_author: HashMap<AuthorId, Vec<u32>>,
    /// Topic ids by key.
    topic_ids: HashMap<String, u32>,
    /// Slots of the live papers carrying each topic, by topic id.
    by_topic: Vec<Vec<u32>>,
    /// Each slot's field-weighted length; negative for a removed paper. Dense, so that scoring
    /// a posting does not touch the paper's entry.
    lens: Vec<f32>,
    /// Each slot's publication time in years since 1970 (NaN when unknown).
    years: Vec<f32>,
    /// Postings of live papers.
    live_postings: usize,
    /// Authors' names, for reasons.
    names: HashMap<AuthorId, String>,
    /// Field weights used when papers were added.
    fields: FieldWeights,
}

impl Index {
    /// An empty index with `fields` weights and BM25 parameters `bm25`.
    pub fn new(fields: FieldWeights, bm25: Bm25) -> Self {
        Self {
            fields,
            bm25,
            ..Self::default()
        }
    }

    /// The impact of a term occurring with weighted frequency `tf` in a paper of length `len`.
    fn impact(&self, tf: f32, len: f32) -> f32 {
        let Bm25 { k1, b } = self.bm25;
        let avg = if self.impact_avg > 0.0 {
            self.impact_avg
        } else {
            1.0
        };
        tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * len / avg))
    }

    /// Live papers.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// True when no paper is live.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// The slot of paper `id`, when live.
    pub fn slot(&self, id: PaperId) -> Option<u32> {
        self.slot_of.get(&id).copied()
    }

    /// The slot of the live paper whose current or former slug is `slug`.
    pub fn slot_by_slug(&self, slug: &str) -> Option<u32> {
        self.id_by_slug.get(slug).and_then(|id| self.slot(*id))
    }

    /// Records that `slug` leads to paper `id` (a former slug, loaded at start).
    pub fn remember_slug(&mut self, slug: String, id: PaperId) {
        self.id_by_slug.insert(slug, id);
    }

    /// The live paper at `slot`.
    pub fn entry(&self, slot: u32) -> Option<&Entry> {
        self.entries.get(slot as usize).and_then(Option::as_ref)
    }

    /// Slots in use (live or removed).
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Papers containing term `term`, live.
    pub fn df(&self, term: u32) -> u32 {
        self.df.get(term as usize).copied().unwrap_or(0)
    }

    /// The postings of `term`: (slot, BM25 impact).
    pub fn postings(&self, term: u32) -> &[(u32, f32)] {
        self.postings.get(term as usize).map_or(&[], Vec::as_slice)
    }

    /// The average field-weighted length of live papers.
    pub fn average_len(&self) -> f32 {
        if self.slot_of.is_empty() {
            1.0
        } else {
            (self.total_len / self.slot_of.len() as f64) as f32
        }
    }

    /// Live slots crediting `author`.
    pub fn papers_of(&self, author: AuthorId) -> &[u32] {
        self.by_author.get(&author).map_or(&[], Vec::as_slice)
    }

    /// Live slots carrying `topic_key`.
    pub fn papers_on(&self, topic_key: &str) -> &[u32] {
        self.topic_ids
            .get(topic_key)
            .map_or(&[], |id| self.papers_on_topic(*id))
    }

    /// Live slots carrying topic `id`.
    pub fn papers_on_topic(&self, id: u32) -> &[u32] {
        self.by_topic.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The field-weighted length of the paper at `slot`; negative when it was removed.
    pub fn doc_len(&self, slot: u32) -> f32 {
        self.lens.get(slot as usize).copied().unwrap_or(-1.0)
    }

    /// Slots of removed papers (their postings linger until compaction).
    pub fn removed_slots(&self) -> &[u32] {
        &self.removed
    }

    /// The publication time of the paper at `slot`, in years since 1970 (NaN when unknown).
    pub fn year(&self, slot: u32) -> f32 {
        self.years.get(slot as usize).copied().unwrap_or(f32::NAN)
    }

    /// An author's name, when known.
    pub fn name(&self, author: AuthorId) -> Option<&str> {
        self.names.get(&author).map(String::as_str)
    }

    /// Records an author's name (`None`: deleted).
    pub fn set_name(&mut self, author: AuthorId, name: Option<String>) {
        match name {
            Some(n) => {
                self.names.insert(author, n);
            }
            None => {
                self.names.remove(&author);
            }
        }
    }

    /// Adds or replaces a paper; removes it when it is not published.
    pub fn upsert(&mut self, paper: &RecPaper, analyzer: &mut TextAnalyzer) {
        self.remove(paper.id);
        if !paper.published {
            return;
        }
        let mut weighted: HashMap<u32, f32> = HashMap::new();
        let mut title_terms = Vec::new();
        for (text, weight, is_title) in [
            (&paper.title, self.fields.title, true),
            (&paper.summary, self.fields.summary, false),
            (&paper.body, self.fields.body, false),
        ] {
            for term in terms(analyzer, text) {
                let id = self.term_id(term);
                *weighted.entry(id).or_default() += weight;
                if is_title {
                    title_terms.push(id);
                }
            }
        }
        title_terms.sort_unstable();
        title_terms.dedup();
        let mut terms: Vec<(u32, f32)> = weighted.into_iter().collect();
        terms.sort_unstable_by_key(|(t, _)| *t);
        let len: f32 = terms.iter().map(|(_, w)| w).sum();
        let slot = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        for (term, weight) in &terms {
            let t = *term as usize;
            let impact = self.impact(*weight, len);
            self.postings[t].push((slot, impact));
            self.df[t] += 1;
        }
        for author in &paper.author_ids {
            self.by_author.entry(*author).or_default().push(slot);
        }
        let topic_keys: Vec<String> = paper
            .topics
            .iter()
            .map(|t| imprint_domain::Topic::key_of(t))
            .collect();
        let topic_ids: Vec<u32> = topic_keys.iter().map(|k| self.topic_id(k)).collect();
        for id in &topic_ids {
            self.by_topic[*id as usize].push(slot);
        }
        self.total_len += f64::from(len);
        self.live_postings += terms.len();
        self.lens.push(len);
        self.years.push(year_of(paper.publish_time));
        self.slot_of.insert(paper.id, slot);
        self.id_by_slug.insert(paper.slug.clone(), paper.id);
        self.entries.push(Some(Entry {
            id: paper.id,
            slug: paper.slug.clone(),
            external_id: paper.external_id.clone(),
            title: paper.title.clone(),
            summary: paper.summary.clone(),
            publication_type: paper.publication_type,
            topics: paper.topics.clone(),
            topic_keys,
            topic_ids,
            author_ids: paper.author_ids.clone(),
            publish_time: paper.publish_time,
            terms,
            len,
            title_terms,
            taxonomy: paper.terms.clone(),
            cover: paper.cover.clone(),
        }));
        let avg = self.average_len();
        if (avg - self.impact_avg).abs() > AVG_DRIFT * self.impact_avg.max(f32::MIN_POSITIVE) {
            self.compact();
        }
    }

    /// Removes a paper; its postings are dropped at the next compaction.
    pub fn remove(&mut self, id: PaperId) {
        let Some(slot) = self.slot_of.remove(&id) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        for (term, _) in &entry.terms {
            if let Some(df) = self.df.get_mut(*term as usize) {
                *df = df.saturating_sub(1);
            }
        }
        for author in &entry.author_ids {
            if let Some(slots) = self.by_author.get_mut(author) {
                slots.retain(|s| *s != slot);
            }
        }
        for id in &entry.topic_ids {
            if let Some(slots) = self.by_topic.get_mut(*id as usize) {
                slots.retain(|s| *s != slot);
            }
        }
        if let Some(len) = self.lens.get_mut(slot as usize) {
            *len = -1.0;
        }
        self.removed.push(slot);
        self.total_len -= f64::from(entry.len);
        self.live_postings -= entry.terms.len();
        self.garbage += entry.terms.len();
        if self.garbage > 1_000 && self.garbage > self.live_postings {
            self.compact();
        }
    }

    fn topic_id(&mut self, key: &str) -> u32 {
        if let Some(id) = self.topic_ids.get(key) {
            return *id;
        }
        let id = u32::try_from(self.by_topic.len()).unwrap_or(u32::MAX);
        self.topic_ids.insert(key.to_owned(), id);
        self.by_topic.push(Vec::new());
        id
    }

    fn term_id(&mut self, term: String) -> u32 {
        let next = u32::try_from(self.vocab.len()).unwrap_or(u32::MAX);
        let id = *self.vocab.entry(term).or_insert(next);
        if id as usize == self.postings.len() {
            self.postings.push(Vec::new());
            self.df.push(0);
        }
        id
    }

    /// Renumbers slots densely and rebuilds postings without removed papers, their impacts
    /// computed with the current average length.
    fn compact(&mut self) {
        self.impact_avg = self.average_len();
        let entries: Vec<Entry> = std::mem::take(&mut self.entries)
            .into_iter()
            .flatten()
            .collect();
        for postings in &mut self.postings {
            postings.clear();
        }
        self.slot_of.clear();
        self.by_author.clear();
        for slots in &mut self.by_topic {
            slots.clear();
        }
        self.lens.clear();
        self.years.clear();
        for (slot, entry) in entries.iter().enumerate() {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            for (term, weight) in &entry.terms {
                let impact = self.impact(*weight, entry.len);
                self.postings[*term as usize].push((slot, impact));
            }
            for author in &entry.author_ids {
                self.by_author.entry(*author).or_default().push(slot);
            }
            for id in &entry.topic_ids {
                self.by_topic[*id as usize].push(slot);
            }
            self.lens.push(entry.len);
            self.years.push(year_of(entry.publish_time));
            self.slot_of.insert(entry.id, slot);
        }
        self.entries = entries.into_iter().map(Some).collect();
        self.garbage = 0;
        self.removed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(title: &str, authors: &[AuthorId], published: bool) -> RecPaper {
        RecPaper {
            id: PaperId::generate(),
            version: 1,
            published,
            slug: title.to_lowercase().replace(' ', "-"),
            external_id: None,
            title: title.to_owned(),
            summary: String::new(),
            body: String::new(),
            publication_type: Some(PublicationType::Report),
            topics: vec!["Global Policy".into()],
            author_ids: authors.to_vec(),
            publish_time: None,
            terms: imprint_domain::PaperTerms::default(),
            cover: None,
        }
    }

    #[test]
    fn the_analyzer_stems_folds_and_drops_stop_words() {
        let mut a = english();
        assert_eq!(
            terms(&mut a, "The Négotiations of Counterterrorism Policies"),
            ["negoti", "counterterror", "polici"]
        );
    }

    #[test]
    fn upsert_remove_and_compaction_keep_counts_right() {
        let mut index = Index::new(FieldWeights::default(), Bm25::default());
        let mut a = english();
        let author = AuthorId::generate();
        let mut papers = Vec::new();
        for i in 0..2_000 {
            let p = paper(&format!("Policy paper {i}"), &[author], true);
            index.upsert(&p, &mut a);
            papers.push(p);
        }
        assert_eq!(index.len(), 2_000);
        let policy = index.vocab.get("polici").copied().unwrap();
        assert_eq!(index.df(policy), 2_000);
        for p in &papers[..1_500] {
            index.remove(p.id);
        }
        assert_eq!(index.len(), 500);
        assert_eq!(index.df(policy), 500);
        assert_eq!(index.papers_of(author).len(), 500);
        assert!(index.capacity() <= 2_000);
        // Compaction happened (the postings shrank), and the live ones match the count.
        assert!(index.postings(policy).len() < 2_000);
        let live = index
            .postings(policy)
            .iter()
            .filter(|(slot, _)| index.entry(*slot).is_some())
            .count();
        assert_eq!(live, 500);
        // Unpublishing removes; publishing again adds.
        let mut again = papers[1_999].clone();
        again.published = false;
        index.upsert(&again, &mut a);
        assert!(index.slot(again.id).is_none());
        again.published = true;
        index.upsert(&again, &mut a);
        assert!(index.slot(again.id).is_some());
        assert_eq!(index.len(), 500);
    }
}
