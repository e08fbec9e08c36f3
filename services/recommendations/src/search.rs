//! Full-text search over published papers: a tantivy index held in memory, rebuilt from the
//! read model at start and updated with the related-publications index. BM25 over title,
//! summary and body (title counts most), the same English analyzer, every word required, filters
//! by type, topic and date, facet counts and highlighted snippets.
//!
//! The engine never sees what a visitor typed: the words and phrases of
//! [`imprint_domain::query`] become term and phrase queries built here, on the fields chosen
//! here, so no field name, range or wildcard of the engine's own syntax can be asked for.

use std::ops::Bound;
use std::sync::Mutex;

use chrono::{DateTime, Datelike, Utc};
use imprint_domain::PaperId;
use imprint_domain::PublicationType;
use imprint_domain::query::Words;
use imprint_platform::paging;
use imprint_platform::signing::Signer;
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

use crate::index::english;
use crate::storage::RecPaper;

/// How deep paging goes (like Elasticsearch's result window): past it, narrow the query.
pub const MAX_OFFSET: usize = 10_000;
/// Topic facets returned, most frequent first.
const TOPIC_FACETS: usize = 30;
/// Characters of a snippet.
const SNIPPET_CHARS: usize = 240;
/// Memory the index writer may buffer before flushing a segment.
const WRITER_BUDGET: usize = 50_000_000;

/// What went wrong with a search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The request names something invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The index failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// A lock was poisoned by a panic elsewhere.
    #[error("search index lock poisoned")]
    Poisoned,
}

/// A search request, validated by the caller except for the token.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The user's words; none lists everything, newest first.
    pub words: Words,
    /// Only these types.
    pub types: Vec<PublicationType>,
    /// Only these topics (any case).
    pub topics: Vec<String>,
    /// Published at or after.
    pub published_after: Option<DateTime<Utc>>,
    /// Published before.
    pub published_before: Option<DateTime<Utc>>,
    /// Page size (already bounded).
    pub page_size: usize,
    /// The previous page's token.
    pub page_token: String,
    /// Only papers carrying, for each set, one of its terms (resolved program, region and
    /// series filters).
    pub terms: Vec<Vec<imprint_domain::TermId>>,
}

/// One hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The paper.
    pub id: PaperId,
    /// Relevance; 0 when listing without a query.
    pub score: f32,
    /// The title, HTML-escaped, matches in `<mark>`.
    pub title_highlight: String,
    /// The best passage, HTML-escaped, matches in `<mark>`.
    pub snippet: String,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    /// Hits, best first.
    pub hits: Vec<Hit>,
    /// All matches.
    pub total: u64,
    /// Token of the next page, empty on the last.
    pub next_page_token: String,
    /// (topic, count), most frequent first.
    pub topics: Vec<(String, u64)>,
    /// (type, count), most frequent first.
    pub types: Vec<(PublicationType, u64)>,
    /// (year, count), newest first.
    pub years: Vec<(String, u64)>,
    /// (program, region or series, count), most frequent first.
    pub terms: Vec<(imprint_domain::TermId, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    summary: Field,
    body: Field,
    facets: Field,
    topic_key: Field,
    publication_type: Field,
    publish_ts: Field,
    term_id: Field,
}

/// How much a match counts in each searched field: a word in the title most, in the body least.
const FIELD_BOOSTS: [(FieldName, f32); 3] = [
    (FieldName::Title, 3.0),
    (FieldName::Summary, 1.0),
    (FieldName::Body, 0.5),
];

/// The fields words are searched in.
#[derive(Debug, Clone, Copy)]
enum FieldName {
    Title,
    Summary,
    Body,
}

/// The text part of a search.
struct TextQuery {
    /// What a paper must (and must not) contain.
    matches: Box<dyn Query>,
    /// The wanted words only, for highlighting; `None` when only exclusions were typed.
    wanted: Option<Box<dyn Query>>,
}

/// The search index.
pub struct SearchIndex {
    fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// The analyzer the text fields were indexed with, to make terms of the words typed.
    analyzer: TextAnalyzer,
    /// Signs page tokens.
    signer: Signer,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// An empty index in memory, signing its page tokens with `signer`.
    pub fn new(signer: Signer) -> Result<Self, SearchError> {
        let mut schema = Schema::builder();
        let text = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("english")
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let fields = Fields {
            id: schema.add_text_field("id", STRING | STORED),
            title: schema.add_text_field("title", text.clone()),
            summary: schema.add_text_field("summary", text.clone()),
            body: schema.add_text_field("body", text),
            facets: schema.add_facet_field("facets", FacetOptions::default()),
            topic_key: schema.add_text_field("topic_key", STRING),
            publication_type: schema.add_text_field("publication_type", STRING),
            publish_ts: schema.add_i64_field("publish_ts", INDEXED | FAST),
            term_id: schema.add_text_field("term_id", STRING),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register("english", english());
        let writer = index.writer_with_num_threads(1, WRITER_BUDGET)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            fields,
            writer: Mutex::new(writer),
            reader,
            analyzer: english(),
            signer,
        })
    }

    /// Adds, replaces or removes (when not published) papers; visible after [`Self::commit`].
    pub fn upsert_many(&self, papers: &[RecPaper]) -> Result<(), SearchError> {
        let writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        let f = self.fields;
        for paper in papers {
            writer.delete_term(Term::from_field_text(f.id, &paper.id.to_string()));
            if !paper.published {
                continue;
            }
            let mut doc = TantivyDocument::default();
            doc.add_text(f.id, paper.id.to_string());
            doc.add_text(f.title, &paper.title);
            doc.add_text(f.summary, &paper.summary);
            doc.add_text(f.body, &paper.body);
            for topic in &paper.topics {
                doc.add_facet(f.facets, Facet::from_path(["topic", topic.as_str()]));
                doc.add_text(f.topic_key, imprint_domain::Topic::key_of(topic));
            }
            for term in paper.terms.all() {
                doc.add_text(f.term_id, term.to_string());
                doc.add_facet(f.facets, Facet::from_path(["term", &term.to_string()]));
            }
            if let Some(kind) = paper.publication_type {
                doc.add_facet(f.facets, Facet::from_path(["type", kind.as_str()]));
                doc.add_text(f.publication_type, kind.as_str());
            }
            if let Some(at) = paper.publish_time {
                doc.add_facet(
                    f.facets,
                    Facet::from_path(["year", at.year().to_string().as_str()]),
                );
                doc.add_i64(f.publish_ts, at.timestamp_micros());
            }
            writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Makes every change so far visible to searches.
    pub fn commit(&self) -> Result<(), SearchError> {
        self.writer
            .lock()
            .map_err(|_| SearchError::Poisoned)?
            .commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Papers searchable now.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether nothing is searchable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs a search.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchPage, SearchError> {
        let filters = filters(request);
        let offset = paging::decode_token::<usize>(&self.signer, &filters, &request.page_token)
            .map_err(|e| SearchError::Invalid {
                field: "page_token",
                message: e.to_string(),
            })?
            .filter(|o| *o <= MAX_OFFSET)
            .unwrap_or(0);
        let f = self.fields;
        let text = self.text_query(&request.words);
        let query = self.query(text.as_ref(), request);
        let searcher = self.reader.searcher();
        let mut facets = FacetCollector::for_field("facets");
        facets.add_facet("/topic");
        facets.add_facet("/type");
        facets.add_facet("/year");
        facets.add_facet("/term");
        let limit = request.page_size.max(1);
        let (addresses, total, facet_counts): (Vec<(f32, DocAddress)>, usize, _) =
            if text.as_ref().is_some_and(|t| t.wanted.is_some()) {
                let top = TopDocs::with_limit(limit)
                    .and_offset(offset)
                    .order_by_score();
                searcher.search(&query, &(top, Count, facets))?
            } else {
                let top = TopDocs::with_limit(limit)
                    .and_offset(offset)
                    .order_by_fast_field::<i64>("publish_ts", Order::Desc);
                let (docs, total, facets) = searcher.search(&query, &(top, Count, facets))?;
                (
                    docs.into_iter().map(|(_, d)| (0.0, d)).collect(),
                    total,
                    facets,
                )
            };
        let generators = match text.as_ref().and_then(|t| t.wanted.as_ref()) {
            Some(q) => Some(Generators::new(&searcher, q.as_ref(), f)?),
            None => None,
        };
        let hits = self.hits(&searcher, addresses, generators.as_ref())?;
        let total = total as u64;
        let shown = offset + hits.len();
        let next_page_token = if (shown as u64) < total && shown < MAX_OFFSET && !hits.is_empty() {
            paging::encode_token(&self.signer, &filters, &shown)
        } else {
            String::new()
        };
        let mut topics = children(&facet_counts, "/topic");
        topics.truncate(TOPIC_FACETS);
        let types = children(&facet_counts, "/type")
            .into_iter()
            .filter_map(|(name, n)| PublicationType::from_str_opt(&name).map(|t| (t, n)))
            .collect();
        let mut years = children(&facet_counts, "/year");
        years.sort_by(|a, b| b.0.cmp(&a.0));
        let terms = children(&facet_counts, "/term")
            .into_iter()
            .filter_map(|(id, n)| imprint_domain::TermId::parse(&id).ok().map(|t| (t, n)))
            .collect();
        Ok(SearchPage {
            hits,
            total,
            next_page_token,
            topics,
            types,
            years,
            terms,
        })
    }

    /// What `text` and the filters of `request` ask for, together.
    fn query(&self, text: Option<&TextQuery>, request: &SearchRequest) -> BooleanQuery {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        clauses.push((
            Occur::Must,
            text.map_or_else(
                || Box::new(AllQuery) as Box<dyn Query>,
                |t| t.matches.box_clone(),
            ),
        ));
        if !request.types.is_empty() {
            clauses.push((
                Occur::Must,
                any_of(
                    request
                        .types
                        .iter()
                        .map(|t| Term::from_field_text(f.publication_type, t.as_str())),
                ),
            ));
        }
        if !request.topics.is_empty() {
            clauses.push((
                Occur::Must,
                any_of(request.topics.iter().map(|t| {
                    Term::from_field_text(f.topic_key, &imprint_domain::Topic::key_of(t))
                })),
            ));
        }
        for set in &request.terms {
            clauses.push((
                Occur::Must,
                any_of(
                    set.iter()
                        .map(|t| Term::from_field_text(f.term_id, &t.to_string())),
                ),
            ));
        }
        if request.published_after.is_some() || request.published_before.is_some() {
            let bound = |t: Option<DateTime<Utc>>, included: bool| match t {
                None => Bound::Unbounded,
                Some(t) if included => {
                    Bound::Included(Term::from_field_i64(f.publish_ts, t.timestamp_micros()))
                }
                Some(t) => {
                    Bound::Excluded(Term::from_field_i64(f.publish_ts, t.timestamp_micros()))
                }
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(request.published_after, true),
                    bound(request.published_before, false),
                )),
            ));
        }
        BooleanQuery::new(clauses)
    }

    /// The hits at `addresses`, highlighted by `generators` when words were typed.
    fn hits(
        &self,
        searcher: &tantivy::Searcher,
        addresses: Vec<(f32, DocAddress)>,
        generators: Option<&Generators>,
    ) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let Ok(id) = PaperId::parse(&text(f.id)) else {
                continue;
            };
            let (title, summary, body) = (text(f.title), text(f.summary), text(f.body));
            let (title_highlight, snippet) = match generators {
                Some(g) => g.highlight(&title, &summary, &body),
                None => (escape(&title), escape(&lead(&summary, SNIPPET_CHARS))),
            };
            hits.push(Hit {
                id,
                score,
                title_highlight,
                snippet,
            });
        }
        Ok(hits)
    }
}

impl SearchIndex {
    /// The query for what was typed; `None` when nothing was.
    fn text_query(&self, words: &Words) -> Option<TextQuery> {
        if words.is_empty() {
            return None;
        }
        let mut analyzer = self.analyzer.clone();
        let mut wanted = Vec::new();
        let mut unwanted = Vec::new();
        for term in &words.terms {
            // Stop words and punctuation make no terms; such a word asks for nothing.
            let Some(clause) = self.term_query(&mut analyzer, &term.text) else {
                continue;
            };
            if term.excluded {
                unwanted.push((Occur::MustNot, clause));
            } else {
                wanted.push(clause);
            }
        }
        if wanted.is_empty() && unwanted.is_empty() {
            // Words that make no terms (stop words, punctuation) ask for nothing: when some were
            // wanted, no paper is about them; when all were left out, nothing is left out.
            if words.terms.iter().all(|t| t.excluded) {
                return None;
            }
            return Some(TextQuery {
                matches: Box::new(EmptyQuery),
                wanted: None,
            });
        }
        let highlight = (!wanted.is_empty()).then(|| {
            Box::new(BooleanQuery::new(
                wanted
                    .iter()
                    .map(|q| (Occur::Should, q.box_clone()))
                    .collect(),
            )) as Box<dyn Query>
        });
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            wanted.into_iter().map(|q| (Occur::Must, q)).collect();
        if clauses.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        clauses.extend(unwanted);
        Some(TextQuery {
            matches: Box::new(BooleanQuery::new(clauses)),
            wanted: highlight,
        })
    }

    /// A word or phrase in any searched field, weighted by the field; `None` when it makes no
    /// terms. Several terms (a phrase, or "U.S.-Pakistan") must appear in order, with the gaps
    /// that removed stop words leave.
    fn term_query(&self, analyzer: &mut TextAnalyzer, text: &str) -> Option<Box<dyn Query>> {
        let mut tokens: Vec<(usize, String)> = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            let token = stream.token();
            tokens.push((token.position, token.text.clone()));
        }
        let first = tokens.first()?.0;
        let per_field = FIELD_BOOSTS.map(|(name, boost)| {
            let field = match name {
                FieldName::Title => self.fields.title,
                FieldName::Summary => self.fields.summary,
                FieldName::Body => self.fields.body,
            };
            let query: Box<dyn Query> = if let [(_, only)] = tokens.as_slice() {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, only),
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                Box::new(PhraseQuery::new_with_offset(
                    tokens
                        .iter()
                        .map(|(at, text)| (at - first, Term::from_field_text(field, text)))
                        .collect(),
                ))
            };
            (
                Occur::Should,
                Box::new(BoostQuery::new(query, boost)) as Box<dyn Query>,
            )
        });
        Some(Box::new(BooleanQuery::new(per_field.into())))
    }
}

/// Highlighters for one query.
struct Generators {
    title: SnippetGenerator,
    summary: SnippetGenerator,
    body: SnippetGenerator,
}

impl Generators {
    fn new(
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        f: Fields,
    ) -> Result<Self, SearchError> {
        let mut title = SnippetGenerator::create(searcher, query, f.title)?;
        title.set_max_num_chars(1_000);
        let mut summary = SnippetGenerator::create(searcher, query, f.summary)?;
        summary.set_max_num_chars(SNIPPET_CHARS);
        let mut body = SnippetGenerator::create(searcher, query, f.body)?;
        body.set_max_num_chars(SNIPPET_CHARS);
        Ok(Self {
            title,
            summary,
            body,
        })
    }

    /// (title, snippet), highlighted.
    fn highlight(&self, title: &str, summary: &str, body: &str) -> (String, String) {
        let mark = |generator: &SnippetGenerator, text: &str| {
            let mut snippet = generator.snippet(text);
            if snippet.highlighted().is_empty() {
                return None;
            }
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            Some(snippet.to_html())
        };
        let title = mark(&self.title, title).unwrap_or_else(|| escape(title));
        let snippet = mark(&self.summary, summary)
            .or_else(|| mark(&self.body, body))
            .unwrap_or_else(|| escape(&lead(summary, SNIPPET_CHARS)));
        (title, snippet)
    }
}

fn any_of(terms: impl Iterator<Item = Term>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        terms
            .map(|t| {
                (
                    Occur::Should,
                    Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>,
                )
            })
            .collect(),
    ))
}

/// The values under `root` with their counts, most frequent first (ties by value).
fn children(counts: &tantivy::collector::FacetCounts, root: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = counts
        .get(root)
        .filter_map(|(facet, count)| {
            facet
                .to_path()
                .last()
                .map(|value| ((*value).to_owned(), count))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The first `max` characters of `text`, cut at a word, with an ellipsis when cut.
fn lead(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

/// HTML-escapes text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a page token must have been issued for: the same words, filters and page size.
fn filters(request: &SearchRequest) -> String {
    let mut types: Vec<&str> = request.types.iter().map(|t| t.as_str()).collect();
    types.sort_unstable();
    let mut topics: Vec<String> = request
        .topics
        .iter()
        .map(|t| imprint_domain::Topic::key_of(t))
        .collect();
    topics.sort_unstable();
    let words: Vec<(bool, bool, &str)> = request
        .words
        .terms
        .iter()
        .map(|t| (t.excluded, t.phrase, t.text.as_str()))
        .collect();
    let terms: Vec<Vec<String>> = request
        .terms
        .iter()
        .map(|set| {
            let mut ids: Vec<String> = set.iter().map(ToString::to_string).collect();
            ids.sort_unstable();
            ids
        })
        .collect();
    format!(
        "search;{words:?};{types:?};{topics:?};{:?};{:?};{};{terms:?}",
        request.published_after.map(|t| t.timestamp_micros()),
        request.published_before.map(|t| t.timestamp_micros()),
        request.page_size,
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn paper(
        title: &str,
        summary: &str,
        topics: &[&str],
        kind: PublicationType,
        year: i32,
    ) -> RecPaper {
        RecPaper {
            id: PaperId::generate(),
            version: 1,
            published: true,
            slug: title.to_lowercase().replace(' ', "-"),
            external_id: None,
            title: title.to_owned(),
            summary: summary.to_owned(),
            body: String::new(),
            publication_type: Some(kind),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            author_ids: Vec::new(),
            publish_time: Utc.with_ymd_and_hms(year, 3, 1, 0, 0, 0).single(),
            terms: imprint_domain::PaperTerms::default(),
            cover: None,
        }
    }

    fn corpus() -> (SearchIndex, Vec<RecPaper>) {
        let signer =
            Signer::new(&["the search tests' signing key, 32 bytes".to_owned()]).expect("signer");
        let index = SearchIndex::new(signer).expect("index");
        let papers = vec![
            paper(
                "Countering Violent Extremism Online",
                "How platforms moderate extremist content & <scripts>.",
                &["Violent Extremism", "Technology"],
                PublicationType::Report,
                2021,
            ),
            paper(
                "Extremists and the Internet",
                "Recruitment by violent groups on social networks.",
                &["Violent Extremism"],
                PublicationType::PolicyBrief,
                2023,
            ),
            paper(
                "Water Policy in the Sahel",
                "Rivers, dams and drought.",
                &["Climate"],
                PublicationType::Report,
                2022,
            ),
        ];
        index.upsert_many(&papers).expect("upsert");
        index.commit().expect("commit");
        (index, papers)
    }

    fn request(query: &str) -> SearchRequest {
        SearchRequest {
            words: imprint_domain::query::parse(query).expect("a query of test size"),
            page_size: 10,
            ..SearchRequest::default()
        }
    }

    #[test]
    fn stems_ranks_highlights_and_counts_facets() {
        let (index, papers) = corpus();
        let page = index.search(&request("extremist")).expect("search");
        assert_eq!(page.total, 2, "stemming matches extremism and extremists");
        let first = &page.hits[0];
        assert_eq!(first.id, papers[1].id, "a title match ranks first");
        assert_eq!(
            first.title_highlight,
            "<mark>Extremists</mark> and the Internet"
        );
        let other = &page.hits[1];
        assert!(
            other.snippet.contains("<mark>extremist</mark>"),
            "{}",
            other.snippet
        );
        assert!(
            other.snippet.contains("&amp; &lt;scripts"),
            "escaped: {}",
            other.snippet
        );
        assert_eq!(page.topics[0], ("Violent Extremism".to_owned(), 2));
        assert!(page.topics.contains(&("Technology".to_owned(), 1)));
        assert_eq!(
            page.years,
            vec![("2023".to_owned(), 1), ("2021".to_owned(), 1)]
        );
        assert_eq!(page.types.len(), 2);
    }

    #[test]
    fn filters_by_type_topic_and_date_and_lists_newest_first_without_a_query() {
        let (index, papers) = corpus();
        let mut r = request("");
        let page = index.search(&r).expect("all");
        let order: Vec<PaperId> = page.hits.iter().map(|h| h.id).collect();
        assert_eq!(order, vec![papers[1].id, papers[2].id, papers[0].id]);
        r.types = vec![PublicationType::Report];
        r.topics = vec!["violent extremism".to_owned()];
        let page = index.search(&r).expect("filtered");
        assert_eq!(page.hits.len(), 1);
        assert_eq!(page.hits[0].id, papers[0].id);
        let mut r = request("");
        r.published_after = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).single();
        r.published_before = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).single();
        let page = index.search(&r).expect("dated");
        assert_eq!(page.total, 1);
        assert_eq!(page.hits[0].id, papers[2].id);
    }

    #[test]
    fn pages_follow_tokens_and_foreign_tokens_are_refused() {
        let (index, _) = corpus();
        let mut r = request("");
        r.page_size = 2;
        let first = index.search(&r).expect("first");
        assert_eq!(first.hits.len(), 2);
        assert!(!first.next_page_token.is_empty());
        r.page_token = first.next_page_token;
        let second = index.search(&r).expect("second");
        assert_eq!(second.hits.len(), 1);
        assert!(second.next_page_token.is_empty());
        r.words = request("water").words;
        let err = index.search(&r).expect_err("token of another query");
        assert!(err.to_string().contains("page_token"), "{err}");
        r.page_token = "garbage!".to_owned();
        assert!(index.search(&r).is_err());
    }

    #[test]
    fn unpublished_papers_leave_and_odd_queries_do_not_fail() {
        let (index, mut papers) = corpus();
        papers[1].published = false;
        index.upsert_many(&papers[1..2]).expect("unpublish");
        index.commit().expect("commit");
        let page = index.search(&request("extremist")).expect("search");
        assert_eq!(page.total, 1);
        for odd in ["\"unclosed", "title:", "a AND", "((", "the of"] {
            index.search(&request(odd)).expect(odd);
        }
    }

    #[test]
    fn field_names_ranges_and_wildcards_are_words() {
        let (index, papers) = corpus();
        // Before, these reached tantivy's query language: `body:*` failed with a schema error
        // and `publication_type:[0 TO 100]` ran as a range.
        for odd in [
            "body:*",
            "title:*",
            "summary:*",
            "id:*",
            "nosuchfield:*",
            "*",
        ] {
            let page = index.search(&request(odd)).expect(odd);
            assert_eq!(
                page.total, 0,
                "{odd} is the word before the colon, in no paper"
            );
        }
        let page = index
            .search(&request("publication_type:[0 TO 100]"))
            .expect("range");
        assert_eq!(
            page.total, 0,
            "no paper has the words publication, type, 0 and 100"
        );
        let page = index.search(&request("title:water")).expect("field");
        assert_eq!(
            page.total, 0,
            "`title` and `water` must both appear: no field is named"
        );
        let page = index.search(&request("water dams")).expect("words");
        assert_eq!(page.hits[0].id, papers[2].id);
    }

    #[test]
    fn phrases_and_exclusions() {
        let (index, papers) = corpus();
        let page = index
            .search(&request("\"violent groups\""))
            .expect("phrase");
        assert_eq!(
            page.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
            [papers[1].id]
        );
        let page = index.search(&request("\"groups violent\"")).expect("order");
        assert_eq!(page.total, 0, "a phrase keeps its order");
        let page = index
            .search(&request("extremist -internet"))
            .expect("exclusion");
        assert_eq!(
            page.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
            [papers[0].id]
        );
        let page = index.search(&request("-water")).expect("only an exclusion");
        assert_eq!(page.total, 2);
        assert!(
            page.hits.iter().all(|h| !h.snippet.contains("<mark>")),
            "what is left out is not highlighted"
        );
        let page = index.search(&request("the of")).expect("stop words");
        assert_eq!(page.total, 0);
        let page = index
            .search(&request("-the -!!"))
            .expect("excluded stop words");
        assert_eq!(
            page.total, 3,
            "leaving out what no paper can be found by leaves everything"
        );
    }

    #[test]
    fn deeply_nested_input_searches_on_a_worker_sized_stack() {
        let (index, _) = corpus();
        let index = std::sync::Arc::new(index);
        // Tokio's workers run on 2 MiB stacks; tantivy's recursive parser overflowed one on 260
        // brackets (a debug build), aborting the whole process.
        for open in ["(", "[", "{", "\"(", "-(", "+(", "(\""] {
            let query = format!("{}extremist", open.repeat(490 / open.len()));
            let index = index.clone();
            let page = std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || index.search(&request(&query)).map(|p| p.total))
                .unwrap()
                .join()
                .unwrap();
            assert!(page.is_ok(), "{open}: {page:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn any_query_searches_without_failing(q in r#"[()\[\]{}"'\-+:*?~^\\/!&| a-zA-Z0-9\x00-\x1f\u{80}-\u{10ffff}]{0,500}"#) {
            static CORPUS: std::sync::LazyLock<(SearchIndex, Vec<RecPaper>)> = std::sync::LazyLock::new(corpus);
            let index = &CORPUS.0;
            if let Ok(words) = imprint_domain::query::parse(&q) {
                let r = SearchRequest { words, page_size: 5, ..SearchRequest::default() };
                proptest::prop_assert!(index.search(&r).is_ok());
            }
        }
    }
}
