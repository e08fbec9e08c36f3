//! `imprint eval`: how good related publications are, measured against citation pairs with the
//! protocol of `shared/data/README.md` (queries with at least 3 related papers in the corpus,
//! candidates the whole corpus but the query, binary gain), precision@10 and nDCG@10, beside a
//! plain TF-IDF cosine baseline computed in the same run the way scikit-learn's
//! `TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english")` does, over title and
//! abstract.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::command::{CallFailed, failed};
use crate::dataset::{self, Record};

/// The cut-off of both metrics.
pub const K: usize = 10;

/// A corpus and its ground truth.
#[derive(Debug)]
pub struct EvalSet {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Position of each record by its id.
    pub position: HashMap<String, usize>,
    /// Queries with at least 3 related papers in the corpus, and those papers.
    pub queries: Vec<(String, HashSet<String>)>,
}

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] dataset::ReadError),
    /// A line of the corpus is not a record (the corpus must be whole to score against).
    #[error("{}:{line}: {source}", path.display())]
    Line {
        /// The corpus file.
        path: std::path::PathBuf,
        /// Its line, from 1.
        line: usize,
        /// Why.
        source: dataset::LineError,
    },
    /// `--weights` is not `name=value,…` of known weights.
    #[error("--weights: {0}")]
    Weights(String),
    /// `--weights` with a served evaluation.
    #[error("--weights: only with --offline (the server ranks with its own)")]
    WeightsServed,
    /// `--server` or the token cannot make a link.
    #[error(transparent)]
    Link(#[from] imprint_platform::clients::LinkError),
    /// A call to the server failed.
    #[error(transparent)]
    Call(#[from] CallFailed),
    /// The server holds none of the corpus.
    #[error("{0} holds none of the corpus' papers; load them first with `imprint import`")]
    Empty(String),
}

impl EvalSet {
    /// Loads `papers` and `related`; `limit` keeps the first queries only.
    pub fn load(papers: &Path, related: &Path, limit: Option<usize>) -> Result<Self, EvalError> {
        let mut records = Vec::new();
        for (line, record) in dataset::records(papers)? {
            match record {
                Ok(r) => records.push(r),
                Err(source) => {
                    return Err(EvalError::Line {
                        path: papers.to_owned(),
                        line,
                        source,
                    });
                }
            }
        }
        let position: HashMap<String, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let mut queries: Vec<(String, HashSet<String>)> = dataset::related_pairs(related)?
            .into_iter()
            .filter(|(q, _)| position.contains_key(q))
            .map(|(q, rs)| {
                let rs: HashSet<String> = rs
                    .into_iter()
                    .filter(|r| position.contains_key(r))
                    .collect();
                (q, rs)
            })
            .filter(|(_, rs)| rs.len() >= 3)
            .collect();
        // In file order, so that a `limit` picks the same queries every time.
        queries.sort_by_key(|(q, _)| position.get(q).copied().unwrap_or(usize::MAX));
        if let Some(limit) = limit {
            queries.truncate(limit);
        }
        Ok(Self {
            records,
            position,
            queries,
        })
    }
}

/// Precision@K and nDCG@K (binary gain) of `rankings` (query id → ranked ids) over the queries.
pub fn score(set: &EvalSet, rankings: &HashMap<String, Vec<String>>) -> (f64, f64) {
    let mut precision = 0.0;
    let mut ndcg = 0.0;
    for (q, relevant) in &set.queries {
        let ranked = rankings.get(q).map_or(&[][..], Vec::as_slice);
        let gains: Vec<f64> = ranked
            .iter()
            .take(K)
            .map(|id| if relevant.contains(id) { 1.0 } else { 0.0 })
            .collect();
        precision += gains.iter().sum::<f64>() / K as f64;
        let dcg: f64 = gains
            .iter()
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..relevant.len().min(K))
            .map(|i| 1.0 / ((i + 2) as f64).log2())
            .sum();
        ndcg += dcg / ideal;
    }
    let n = set.queries.len().max(1) as f64;
    (precision / n, ndcg / n)
}

/// scikit-learn's default tokens: runs of word characters of at least two characters,
/// lowercased.
fn sklearn_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| t.chars().count() >= 2)
        .map(str::to_owned)
        .collect()
}

/// The TF-IDF cosine baseline: for each query, every other record ranked by cosine.
pub fn tfidf_baseline(set: &EvalSet) -> HashMap<String, Vec<String>> {
    let n = set.records.len();
    let (vectors, postings) = tfidf_vectors(set);
    let mut out = HashMap::new();
    let mut scores = vec![0.0_f64; n];
    for (q, _) in &set.queries {
        let Some(&qi) = set.position.get(q) else {
            continue;
        };
        scores.iter_mut().for_each(|s| *s = 0.0);
        for (t, w) in &vectors[qi] {
            for (d, dw) in &postings[*t as usize] {
                scores[*d as usize] += w * dw;
            }
        }
        scores[qi] = f64::NEG_INFINITY;
        let mut order: Vec<usize> = (0..n).collect();
        let k = K.min(n.saturating_sub(1));
        if k == 0 {
            continue;
        }
        order.select_nth_unstable_by(k, |a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
        order.truncate(k);
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
        out.insert(
            q.clone(),
            order
                .into_iter()
                .map(|i| set.records[i].id.clone())
                .collect(),
        );
    }
    out
}

/// Sparse vectors of term ids and weights.
type Vectors = Vec<Vec<(u32, f64)>>;

/// The records' L2-normalised sublinear tf-idf vectors (scikit-learn's `TfidfVectorizer` with
/// English stop words and `min_df=2`), and postings over them: per term, the records and weights.
fn tfidf_vectors(set: &EvalSet) -> (Vectors, Vectors) {
    let stop: HashSet<&str> = imprint_recommendations::stop_words::ENGLISH
        .iter()
        .copied()
        .collect();
    let n = set.records.len();
    let docs: Vec<HashMap<String, u32>> = set
        .records
        .iter()
        .map(|r| {
            let text = format!(
                "{} {}",
                r.title.as_deref().unwrap_or(""),
                r.summary.as_deref().unwrap_or("")
            );
            let mut counts = HashMap::new();
            for t in sklearn_tokens(&text) {
                if !stop.contains(t.as_str()) {
                    *counts.entry(t).or_insert(0) += 1;
                }
            }
            counts
        })
        .collect();
    let mut df: HashMap<&str, u32> = HashMap::new();
    for d in &docs {
        for t in d.keys() {
            *df.entry(t.as_str()).or_insert(0) += 1;
        }
    }
    let mut vocab: HashMap<&str, u32> = HashMap::new();
    for (t, f) in &df {
        if *f >= 2 {
            let id = u32::try_from(vocab.len()).unwrap_or(u32::MAX);
            vocab.insert(t, id);
        }
    }
    let idf = |f: u32| ((1.0 + n as f64) / (1.0 + f64::from(f))).ln() + 1.0;
    let mut vectors: Vectors = Vec::with_capacity(n);
    let mut postings: Vectors = vec![Vec::new(); vocab.len()];
    for (i, d) in docs.iter().enumerate() {
        let mut v: Vec<(u32, f64)> = d
            .iter()
            .filter_map(|(t, tf)| {
                let id = *vocab.get(t.as_str())?;
                let f = *df.get(t.as_str())?;
                Some((id, (1.0 + f64::from(*tf).ln()) * idf(f)))
            })
            .collect();
        let norm = v.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
        if norm > 0.0 {
            for (_, w) in &mut v {
                *w /= norm;
            }
        }
        let doc = u32::try_from(i).unwrap_or(u32::MAX);
        for (t, w) in &v {
            postings[*t as usize].push((doc, *w));
        }
        vectors.push(v);
    }
    (vectors, postings)
}

/// Related publications ranked in this process: the records indexed exactly as the
/// recommendations service indexes published papers, ranked by the same code with `weights`;
/// with the p50 and p99 time of one ranking.
/// For tuning: without `--offline`, `imprint eval` measures the served path.
pub fn offline_rankings(
    set: &EvalSet,
    weights: &imprint_recommendations::ranking::Weights,
) -> (HashMap<String, Vec<String>>, [std::time::Duration; 2]) {
    use imprint_recommendations::index::{Bm25, FieldWeights, Index, english};
    use imprint_recommendations::ranking::{Filters, related};
    use imprint_recommendations::storage::RecPaper;

    let mut index = Index::new(
        FieldWeights::default(),
        Bm25 {
            k1: weights.k1,
            b: weights.b,
        },
    );
    let mut analyzer = english();
    let mut authors: HashMap<String, imprint_domain::AuthorId> = HashMap::new();
    let mut uuid_of: HashMap<&str, imprint_domain::PaperId> = HashMap::new();
    for r in &set.records {
        let id = imprint_domain::PaperId::generate();
        uuid_of.insert(r.id.as_str(), id);
        let author_ids = r
            .authors
            .iter()
            .map(|name| {
                *authors
                    .entry(imprint_domain::text::fold(name))
                    .or_insert_with(imprint_domain::AuthorId::generate)
            })
            .collect();
        index.upsert(
            &RecPaper {
                id,
                version: 1,
                published: true,
                slug: String::new(),
                external_id: Some(r.id.clone()),
                title: r.title.clone().unwrap_or_default(),
                summary: r.summary.clone().unwrap_or_default(),
                body: String::new(),
                publication_type: Some(r.publication_type()),
                topics: r.topics.clone(),
                author_ids,
                publish_time: r.publish_time(),
                terms: imprint_domain::PaperTerms::default(),
                cover: None,
            },
            &mut analyzer,
        );
    }
    let filters = Filters::default();
    let mut took = Vec::with_capacity(set.queries.len());
    let rankings = set
        .queries
        .iter()
        .filter_map(|(q, _)| {
            let slot = index.slot(*uuid_of.get(q.as_str())?)?;
            let started = std::time::Instant::now();
            let ranked = related(&index, slot, &filters, weights, K);
            took.push(started.elapsed());
            let ranked = ranked
                .into_iter()
                .filter_map(|r| index.entry(r.slot)?.external_id.clone())
                .collect();
            Some((q.clone(), ranked))
        })
        .collect();
    took.sort_unstable();
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((took.len() as f64 - 1.0) * q).round() as usize;
        took.get(i).copied().unwrap_or_default()
    };
    (rankings, [at(0.5), at(0.99)])
}

/// Parses `name=value,…` over the default weights.
pub fn parse_weights(spec: &str) -> Result<imprint_recommendations::ranking::Weights, EvalError> {
    let mut w = imprint_recommendations::ranking::Weights::default();
    for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| EvalError::Weights(format!("'{pair}' is not name=value")))?;
        let v: f32 = value
            .trim()
            .parse()
            .map_err(|_| EvalError::Weights(format!("'{value}' is not a number")))?;
        match name.trim() {
            "query_terms" => w.query_terms = v.max(1.0) as usize,
            "k1" => w.k1 = v,
            "b" => w.b = v,
            "shared_author" => w.shared_author = v,
            "rare_author" => w.rare_author = v,
            "coauthor" => w.coauthor = v,
            "shared_topic" => w.shared_topic = v,
            "shared_term" => w.shared_term = v,
            "time" => w.time = v,
            "same_type_decay" => w.same_type_decay = v,
            "max_df" => w.max_df = v,
            other => return Err(EvalError::Weights(format!("no weight named '{other}'"))),
        }
    }
    Ok(w)
}

/// Related publications as the server ranks them: each query's paper found by its external
/// id, then `GetRelatedPublications` with the default filters.
pub async fn served_rankings(
    set: &EvalSet,
    server: &str,
    bearer: Option<&str>,
) -> Result<HashMap<String, Vec<String>>, EvalError> {
    use imprint_proto::papers::paper_service_client::PaperServiceClient;
    use imprint_proto::papers::{ListPapersRequest, PaperStatus, PaperView};
    use imprint_proto::recommendations::GetRelatedPublicationsRequest;
    use imprint_proto::recommendations::get_related_publications_request::Key;
    use imprint_proto::recommendations::recommendation_service_client::RecommendationServiceClient;

    let channel = imprint_platform::clients::peer(server, 30_000, bearer)?;
    let mut papers = PaperServiceClient::new(channel.clone());
    let mut paper_ids: HashMap<String, String> = HashMap::new();
    let mut token = String::new();
    loop {
        let page = papers
            .list_papers(ListPapersRequest {
                page_size: 100,
                page_token: token,
                status: PaperStatus::Published.into(),
                view: PaperView::Basic.into(),
                ..ListPapersRequest::default()
            })
            .await
            .map_err(failed(format!("listing the papers of {server}")))?
            .into_inner();
        for p in page.papers {
            if !p.external_id.is_empty() {
                paper_ids.insert(p.external_id, p.id);
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let missing = set
        .records
        .iter()
        .filter(|r| !paper_ids.contains_key(&r.id))
        .count();
    if missing == set.records.len() {
        return Err(EvalError::Empty(server.to_owned()));
    }
    if missing > 0 {
        tracing::warn!(
            missing,
            "papers of the corpus are not published on the server"
        );
    }
    let mut recommendations = RecommendationServiceClient::new(channel);
    let mut out = HashMap::new();
    for (query, _) in &set.queries {
        let Some(id) = paper_ids.get(query) else {
            continue;
        };
        let related = recommendations
            .get_related_publications(GetRelatedPublicationsRequest {
                key: Some(Key::PaperId(id.clone())),
                limit: i32::try_from(K).unwrap_or(10),
                ..GetRelatedPublicationsRequest::default()
            })
            .await
            .map_err(failed(format!("related publications of {query}")))?
            .into_inner()
            .publications;
        out.insert(
            query.clone(),
            related.into_iter().map(|p| p.external_id).collect(),
        );
    }
    Ok(out)
}

/// `imprint eval`.
#[allow(clippy::print_stdout)] // The report.
pub async fn run(args: &crate::cli::EvalArgs) -> Result<(), EvalError> {
    let started = std::time::Instant::now();
    let set = EvalSet::load(&args.papers, &args.related, args.limit)?;
    println!(
        "corpus {} papers, {} queries with at least 3 related papers in it ({:.1}s)",
        set.records.len(),
        set.queries.len(),
        started.elapsed().as_secs_f64()
    );
    let baseline = score(&set, &tfidf_baseline(&set));
    println!(
        "TF-IDF baseline          P@10 {:.4}  nDCG@10 {:.4}",
        baseline.0, baseline.1
    );
    let t = std::time::Instant::now();
    let (label, rankings) = if args.offline {
        let weights = parse_weights(args.weights.as_deref().unwrap_or(""))?;
        let (rankings, [p50, p99]) = offline_rankings(&set, &weights);
        println!(
            "ranking time per query   p50 {:.3} ms  p99 {:.3} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        ("Imprint (offline)", rankings)
    } else {
        if args.weights.is_some() {
            return Err(EvalError::WeightsServed);
        }
        (
            "Imprint (served)",
            served_rankings(&set, &args.server, args.token.as_deref()).await?,
        )
    };
    let ours = score(&set, &rankings);
    println!(
        "{label:<24} P@10 {:.4}  nDCG@10 {:.4}  = {:.2}× the baseline's nDCG ({:.1}s)",
        ours.0,
        ours.1,
        ours.1 / baseline.1.max(f64::MIN_POSITIVE),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
