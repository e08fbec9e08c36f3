//! The taxonomy use cases: creating, renaming, moving, retiring and merging the terms of the
//! controlled vocabularies, and resolving the terms a paper or a list filter names (by id or
//! by any slug, following merges).

use imprint_domain::taxonomy::MAX_MERGE_HOPS;
use imprint_domain::{
    Actor, MaskField, PaperInput, PaperTerms, Slug, Term, TermField, TermId, TermInput, Violations,
    Vocabulary, shorten, time,
};
use imprint_platform::ServiceError;
use imprint_platform::paging::{finish_page, resume_after};
use imprint_platform::request::check_version;
use imprint_platform::signing::Signer;
use imprint_platform::slugs::SlugChoice;

pub mod grpc;

use crate::storage::{TermFilter, TermStore};

/// How a client names a term.
#[derive(Debug, Clone)]
pub enum TermKey {
    /// By id.
    Id(TermId),
    /// By a current or former slug within a vocabulary.
    Slug(Vocabulary, String),
}

/// The outcome of a merge.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The source as stored now.
    pub source: Term,
    /// The target as stored now.
    pub target: Term,
    /// How many papers moved from the source to the target.
    pub papers_moved: usize,
}

/// Resolves the terms papers and filters name. Shared by [`Taxonomy`] and the papers use
/// cases.
#[derive(Debug, Clone)]
pub struct Terms {
    /// The terms.
    store: TermStore,
}

impl Terms {
    /// Over `store`.
    pub fn new(store: TermStore) -> Self {
        Self { store }
    }

    /// The store, for the use cases that write terms.
    pub fn store(&self) -> &TermStore {
        &self.store
    }

    /// The term `key` names, if any; a slug of a merged term names its target already.
    pub async fn find(&self, key: &TermKey) -> Result<Option<Term>, ServiceError> {
        Ok(match key {
            TermKey::Id(id) => self.store.find(*id).await?,
            TermKey::Slug(vocabulary, slug) if Slug::is_valid(slug) => {
                self.store.find_by_slug(*vocabulary, slug).await?
            }
            TermKey::Slug(..) => None,
        })
    }

    /// The term `raw` (an id or a slug) names in `vocabulary`, followed through merges, or why
    /// there is none.
    async fn resolve(&self, vocabulary: Vocabulary, raw: &str) -> Result<Term, Unresolved> {
        let raw = raw.trim();
        let key = match TermId::parse(raw) {
            Ok(id) => TermKey::Id(id),
            Err(_) => TermKey::Slug(vocabulary, raw.to_owned()),
        };
        let mut term = self
            .find(&key)
            .await
            .map_err(Unresolved::Failed)?
            .ok_or_else(|| Unresolved::Unknown(format!("no {vocabulary} is '{}'; create it with TaxonomyService.CreateTerm, or use the id or slug of an existing one", shorten(raw))))?;
        for _ in 0..MAX_MERGE_HOPS {
            let Some(into) = term.merged_into else { break };
            term = self
                .store
                .find(into)
                .await
                .map_err(|e| Unresolved::Failed(e.into()))?
                .ok_or_else(|| {
                    Unresolved::Unknown(format!(
                        "{} was merged into {into}, which does not exist",
                        term.id
                    ))
                })?;
        }
        if term.vocabulary != vocabulary {
            return Err(Unresolved::Unknown(format!(
                "{} is a {}, not a {vocabulary}",
                term.id, term.vocabulary
            )));
        }
        Ok(term)
    }

    /// Replaces each term `input` names in `vocabularies` (ids or slugs, under their field
    /// paths prefixed by `prefix`) with the id of the term it resolves to. A term the paper
    /// does not carry already (`current`) must be assignable (not retired).
    pub async fn resolve_input(
        &self,
        input: &mut PaperInput,
        vocabularies: impl IntoIterator<Item = Vocabulary>,
        current: Option<&PaperTerms>,
        prefix: &str,
    ) -> Result<(), ServiceError> {
        let mut v = Violations::new();
        for vocabulary in vocabularies {
            let path = format!("{prefix}{}", vocabulary.field_path());
            // Too many is the domain's to say, before any lookup.
            if input.terms(vocabulary).len() > imprint_domain::taxonomy::MAX_TERMS {
                continue;
            }
            let mut resolved = Vec::with_capacity(input.terms(vocabulary).len());
            for (i, raw) in input.terms(vocabulary).iter().enumerate() {
                match self.resolve(vocabulary, raw).await {
                    Ok(term) => {
                        let kept =
                            current.is_some_and(|c| c.of(vocabulary).as_slice().contains(&term.id));
                        if !kept && let Err(e) = term.check_assignable() {
                            v.push(format!("{path}[{i}]"), e);
                        }
                        resolved.push(term.id.to_string());
                    }
                    Err(Unresolved::Unknown(why)) => v.push(format!("{path}[{i}]"), why),
                    Err(Unresolved::Failed(e)) => return Err(e),
                }
            }
            *input.terms_mut(vocabulary) = resolved;
        }
        v.into_result(|| ()).map_err(ServiceError::from)
    }

    /// The terms a list filter `raw` (an id or a slug) under `field` matches: the term, its
    /// countries, and the terms merged into it. `None` when no filter was given.
    pub async fn filter(
        &self,
        vocabulary: Vocabulary,
        field: &str,
        raw: &str,
    ) -> Result<Option<Vec<TermId>>, ServiceError> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        match self.resolve(vocabulary, raw).await {
            Ok(term) => {
                // Sorted: the set is part of a list's page-token fingerprint.
                let mut family = self.store.family(term.id).await?;
                family.sort_unstable();
                Ok(Some(family))
            }
            Err(Unresolved::Unknown(why)) => Err(Violations::one(field, why).into()),
            Err(Unresolved::Failed(e)) => Err(e),
        }
    }

    /// `terms` with each merged term replaced by the term it ended in: what a restored old
    /// version carries now.
    pub async fn current(&self, terms: &PaperTerms) -> Result<PaperTerms, ServiceError> {
        let mut current = terms.clone();
        for vocabulary in Vocabulary::ALL {
            for id in terms.of(vocabulary).as_slice() {
                match self.resolve(vocabulary, &id.to_string()).await {
                    Ok(term) if term.id != *id => {
                        let ids = current.of(vocabulary).replacing(*id, term.id);
                        *current.of_mut(vocabulary) = ids;
                    }
                    Ok(_) | Err(Unresolved::Unknown(_)) => {}
                    Err(Unresolved::Failed(e)) => return Err(e),
                }
            }
        }
        Ok(current)
    }

    /// The terms with these ids, in the order asked (missing ones left out).
    pub async fn refs(&self, ids: &[TermId]) -> Result<Vec<Term>, ServiceError> {
        let found = self.store.find_many(ids).await?;
        Ok(ids
            .iter()
            .filter_map(|id| found.iter().find(|t| t.id == *id).cloned())
            .collect())
    }
}

/// Why a named term resolves to none.
enum Unresolved {
    /// Nothing (of that vocabulary) is called that; says what was asked.
    Unknown(String),
    /// The database failed.
    Failed(ServiceError),
}

/// The taxonomy service's use cases.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    /// Term lookups and the store.
    terms: Terms,
    /// Moves papers from a merged term to its target.
    papers: crate::Papers,
    /// Signs the page tokens of lists.
    signer: Signer,
}

impl Taxonomy {
    /// The use cases over `terms`, moving papers with `papers` and signing page tokens with
    /// `signer`.
    pub fn new(terms: Terms, papers: crate::Papers, signer: Signer) -> Self {
        Self {
            terms,
            papers,
            signer,
        }
    }

    /// Creates a term; derives a free slug from the name when none is given.
    pub async fn create(&self, input: &TermInput, actor: &Actor) -> Result<Term, ServiceError> {
        let (slug, mut term) = Term::parse_new(input, time::now())?;
        if let Some(parent) = term.parent {
            let parent = self.parent(parent).await?;
            term.check_parent(&parent, false)
                .map_err(|e| Violations::one("parent_id", e))?;
        }
        let base = term.slug.clone();
        self.terms
            .store()
            .insert(&mut term, &SlugChoice::new(slug, base), actor)
            .await
            .map_err(|e| e.for_resource(term.vocabulary.as_str(), &term.id))?;
        tracing::info!(term_id = %term.id, vocabulary = %term.vocabulary, slug = %term.slug, "term created");
        Ok(term)
    }

    /// One term; NOT_FOUND names what was asked.
    pub async fn get(&self, key: &TermKey) -> Result<Term, ServiceError> {
        self.terms.find(key).await?.ok_or_else(|| match key {
            TermKey::Id(id) => ServiceError::not_found("term", id.to_string()),
            TermKey::Slug(v, slug) => ServiceError::not_found(v.as_str(), slug.clone()),
        })
    }

    /// The slugs other than its current one that resolve to `term`.
    pub async fn former_slugs(&self, term: &Term) -> Result<Vec<String>, ServiceError> {
        Ok(self.terms.store().former_slugs(term).await?)
    }

    /// A page of terms matching `filter`, oldest first.
    pub async fn list(
        &self,
        filter: TermFilter,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Term>, String), ServiceError> {
        let fingerprint = format!(
            "terms;vocabulary={:?};retired={};parent={:?}",
            filter.vocabulary.map(Vocabulary::as_str),
            filter.show_retired,
            filter.parent.map(|p| p.to_string()),
        );
        let after: Option<uuid::Uuid> = resume_after(&self.signer, &fingerprint, page_token)?;
        let rows = self
            .terms
            .store()
            .list(filter, after, page_size + 1)
            .await?;
        Ok(finish_page(
            &self.signer,
            rows,
            page_size,
            &fingerprint,
            |t| t.id.as_uuid(),
        ))
    }

    /// Applies the masked fields of `input` to term `id`, if `version` is still current.
    /// Saving nothing new returns the term unchanged.
    pub async fn update(
        &self,
        id: TermId,
        version: i64,
        input: &TermInput,
        mask: &[TermField],
        actor: &Actor,
    ) -> Result<Term, ServiceError> {
        let current = self.get(&TermKey::Id(id)).await?;
        check_version("term", &id, Some(version), current.version)?;
        let mut next = current.apply(input, mask)?;
        if next == current {
            return Ok(current);
        }
        if let Some(parent) = next.parent.filter(|p| current.parent != Some(*p)) {
            let parent = self.parent(parent).await?;
            let has_children = self.terms.store().has_children(id).await?;
            next.check_parent(&parent, has_children)
                .map_err(|e| Violations::one(TermField::ParentId.path(), e))?;
        }
        next.version += 1;
        next.update_time = time::now();
        self.terms
            .store()
            .save(&next, current.version, actor)
            .await
            .map_err(|e| e.for_resource(current.vocabulary.as_str(), &id))?;
        tracing::info!(term_id = %id, slug = %next.slug, "term saved");
        Ok(next)
    }

    /// Merges term `source_id` into `target_id` and moves every paper carrying the source to
    /// the target. A merge already made is finished again (papers still carrying the source
    /// move), so an interrupted merge is completed by repeating it.
    pub async fn merge(
        &self,
        source_id: TermId,
        target_id: TermId,
        actor: &Actor,
    ) -> Result<Merged, ServiceError> {
        let source = self.get(&TermKey::Id(source_id)).await?;
        let target = self.get(&TermKey::Id(target_id)).await?;
        let (source, target) = if source.merged_into == Some(target_id) {
            (source, target)
        } else {
            self.merge_terms(source, target, actor).await?
        };
        let papers_moved = self
            .papers
            .move_term(source.vocabulary, source.id, target.id, actor)
            .await?;
        tracing::info!(source = %source.id, target = %target.id, papers_moved, "terms merged");
        Ok(Merged {
            source,
            target,
            papers_moved,
        })
    }

    /// Marks `source` merged into `target` and moves its slugs and countries.
    async fn merge_terms(
        &self,
        source: Term,
        target: Term,
        actor: &Actor,
    ) -> Result<(Term, Term), ServiceError> {
        if let Some(into) = source.merged_into {
            return Err(Violations::one(
                "source_id",
                imprint_domain::TaxonomyError::Merged {
                    id: source.id,
                    into,
                },
            )
            .into());
        }
        let has_children = self.terms.store().has_children(source.id).await?;
        source
            .check_merge(&target, has_children)
            .map_err(|e| Violations::one("target_id", e))?;
        let now = time::now();
        let source = Term {
            retired: true,
            merged_into: Some(target.id),
            version: source.version + 1,
            update_time: now,
            ..source
        };
        let target = Term {
            version: target.version + 1,
            update_time: now,
            ..target
        };
        self.terms
            .store()
            .merge(&source, &target, now, actor)
            .await
            .map_err(|e| match e {
                // The request names no version: a term of the merge changed meanwhile.
                imprint_platform::store::WriteError::Stale { .. } => {
                    ServiceError::Aborted(format!(
                        "{} or {} (or a country under {}) changed meanwhile; repeat the merge",
                        source.id, target.id, source.id
                    ))
                }
                other => other.for_resource("term", &source.id),
            })?;
        Ok((source, target))
    }

    /// Term `id` as a parent, or a violation of `parent_id` when it does not exist.
    async fn parent(&self, id: TermId) -> Result<Term, ServiceError> {
        self.terms
            .store()
            .find(id)
            .await?
            .ok_or_else(|| Violations::one("parent_id", format!("no term has the id {id}")).into())
    }
}
