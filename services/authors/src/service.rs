//! The authors use cases: create, read, list, update and delete profiles, keeping slugs and
//! ORCID iDs unique and refusing to delete anyone a paper still credits.

use std::collections::HashMap;

use imprint_domain::text::{PersonName, fold};
use imprint_domain::{
    Actor, Author, AuthorField, AuthorFields, AuthorId, AuthorInput, Orcid, RevisionKind, Slug,
    Violations, time,
};
use imprint_platform::ServiceError;
use imprint_platform::clients::Peer;
use imprint_platform::error::from_peer;
use imprint_platform::paging::{finish_page, resume_after};
use imprint_platform::request::{Key, check_version};
use imprint_platform::revisions::Compared;
use imprint_platform::signing::Signer;
use imprint_platform::slugs::SlugChoice;
use imprint_proto::papers::ListPapersRequest;
use imprint_proto::papers::paper_service_client::PaperServiceClient;

use imprint_domain::limits::{MAX_AUTHOR_BATCH, MAX_AUTHOR_IDS};

use crate::storage::{AuthorStore, ListKey, Revision, revision};

/// An author from `input` (not stored yet) and the slug it asks for.
fn new_author(input: &AuthorInput) -> Result<(Author, SlugChoice), Violations> {
    let (slug, fields) = AuthorFields::parse(input)?;
    let base = Slug::derive(fields.name.as_str(), "author");
    Ok((
        Author::new(base.clone(), fields, time::now()),
        SlugChoice::new(slug, base),
    ))
}

/// How a client names an author.
pub type AuthorKey = Key<AuthorId>;

/// The authors service's use cases.
#[derive(Debug, Clone)]
pub struct Authors {
    /// Profiles and slugs.
    store: AuthorStore,
    /// Asked, before a delete, whether any paper credits the author.
    papers: PaperServiceClient<Peer>,
    /// Signs the page tokens of lists.
    signer: Signer,
    /// The uploaded photos, looked up when a profile names one.
    files: imprint_files::Blobs,
}

impl Authors {
    /// The service over its store, with a client of the papers service and the store of
    /// uploaded photos, signing page tokens with `signer`.
    pub fn new(
        store: AuthorStore,
        papers: PaperServiceClient<Peer>,
        files: imprint_files::Blobs,
        signer: Signer,
    ) -> Self {
        Self {
            store,
            papers,
            signer,
            files,
        }
    }

    /// Creates an author; derives a free slug from the name when none is given.
    pub async fn create(&self, input: &AuthorInput, actor: &Actor) -> Result<Author, ServiceError> {
        let input = &self.with_photo(input).await?;
        let (mut author, choice) = new_author(input)?;
        self.check_orcid_free(author.fields.orcid.as_ref(), None)
            .await?;
        self.store
            .insert(&mut author, &choice, actor)
            .await
            .map_err(|e| e.for_resource("author", &author.id))?;
        tracing::info!(author_id = %author.id, slug = %author.slug, "author created");
        Ok(author)
    }

    /// Creates up to [`MAX_AUTHOR_BATCH`] authors at once, all or none. Violations are named
    /// `requests[i].author.…`.
    pub async fn batch_create(
        &self,
        inputs: &[AuthorInput],
        actor: &Actor,
    ) -> Result<Vec<Author>, ServiceError> {
        if inputs.len() > MAX_AUTHOR_BATCH {
            return Err(Violations::one(
                "requests",
                format!(
                    "at most {MAX_AUTHOR_BATCH} authors per call (got {})",
                    inputs.len()
                ),
            )
            .into());
        }
        let mut v = Violations::new();
        let mut authors = Vec::with_capacity(inputs.len());
        let mut orcids: HashMap<String, usize> = HashMap::new();
        for (i, input) in inputs.iter().enumerate() {
            let prefix = format!("requests[{i}].author");
            let input = &self.with_photo(input).await?;
            let Some((author, choice)) = v.nested(&prefix, new_author(input)) else {
                continue;
            };
            if let Some(orcid) = &author.fields.orcid {
                if let Some(first) = orcids.insert(orcid.to_string(), i) {
                    v.push(
                        format!("{prefix}.orcid"),
                        format!("{orcid} is also the ORCID iD of requests[{first}]"),
                    );
                } else if let Err(e) = self.check_orcid_free(Some(orcid), None).await {
                    v.push(format!("{prefix}.orcid"), e.to_string());
                }
            }
            authors.push((author, choice));
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        self.store
            .insert_batch(&mut authors, actor)
            .await
            .map_err(|e| e.for_resource("author", &"in this batch"))?;
        tracing::info!(authors = authors.len(), "authors created in a batch");
        Ok(authors.into_iter().map(|(a, _)| a).collect())
    }

    /// `input` with what the store holds of the photo it names, for its parse to check.
    async fn with_photo(&self, input: &AuthorInput) -> Result<AuthorInput, ServiceError> {
        let mut input = input.clone();
        let key = input
            .photo
            .as_ref()
            .and_then(|p| imprint_domain::FileKey::parse(&p.file_key).ok());
        input.stored_files = self.files.facts(key).await?;
        input.stored_renditions = self.files.all_renditions(&input.stored_files).await?;
        Ok(input)
    }

    /// One author.
    pub async fn get(&self, key: &AuthorKey) -> Result<Author, ServiceError> {
        let found = match (key, key.lookup_slug()) {
            (Key::Id(id), _) => self.store.find(*id).await?,
            (Key::Slug(_), Some(slug)) => self.store.find_by_slug(slug).await?,
            (Key::Slug(_), None) => None,
        };
        found.ok_or_else(|| key.not_found("author"))
    }

    /// The authors named by `ids` in the order asked (each once), and the ids naming nobody.
    pub async fn batch_get(
        &self,
        ids: &[String],
    ) -> Result<(Vec<Author>, Vec<String>), ServiceError> {
        if ids.len() > MAX_AUTHOR_IDS {
            return Err(Violations::one(
                "ids",
                format!("at most {MAX_AUTHOR_IDS} ids per call (got {})", ids.len()),
            )
            .into());
        }
        let mut violations = Violations::new();
        let mut parsed = Vec::with_capacity(ids.len());
        for (i, raw) in ids.iter().enumerate() {
            if let Some(id) = violations.check(&format!("ids[{i}]"), AuthorId::parse(raw))
                && !parsed.contains(&id)
            {
                parsed.push(id);
            }
        }
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let mut found: HashMap<AuthorId, Author> = self
            .store
            .find_many(&parsed)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let mut authors = Vec::with_capacity(found.len());
        let mut missing = Vec::new();
        for id in parsed {
            match found.remove(&id) {
                Some(author) => authors.push(author),
                None => missing.push(id.to_string()),
            }
        }
        Ok((authors, missing))
    }

    /// A page of authors ordered by name, filtered by a name substring.
    pub async fn list(
        &self,
        query: &str,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Author>, String), ServiceError> {
        let query = if query.trim().is_empty() {
            String::new()
        } else {
            let name = PersonName::parse(query).map_err(|e| Violations::one("query", e))?;
            fold(name.as_str())
        };
        let filters = format!("query={query}");
        let after: Option<ListKey> = resume_after(&self.signer, &filters, page_token)?;
        let rows = self
            .store
            .list(&query, after.as_ref(), page_size + 1)
            .await?;
        Ok(finish_page(&self.signer, rows, page_size, &filters, |a| {
            (fold(a.fields.name.as_str()), a.id.as_uuid())
        }))
    }

    /// Applies the masked fields of `input` to author `id`, if `version` is still current.
    pub async fn update(
        &self,
        id: AuthorId,
        version: i64,
        input: &AuthorInput,
        mask: &[AuthorField],
        actor: &Actor,
    ) -> Result<Author, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("author", &id, Some(version), current.version)?;
        let input = &self.with_photo(input).await?;
        let (new_slug, fields) = current.fields.apply(input, mask)?;
        let slug = new_slug.unwrap_or_else(|| current.slug.clone());
        self.edit(current, slug, fields, None, actor).await
    }

    /// Makes a new version of author `id` whose profile is that of its version `from`, if
    /// `version` is still current.
    pub async fn restore(
        &self,
        id: AuthorId,
        version: i64,
        from: i64,
        actor: &Actor,
    ) -> Result<Author, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("author", &id, Some(version), current.version)?;
        let old = self.state_at(&current, from, "revision_version").await?;
        self.edit(current, old.slug, old.fields, Some(from), actor)
            .await
    }

    /// Saves `slug` and `fields` as the next version of `current`: an update, or a restore of
    /// version `restored_from`. Nothing new returns `current` unchanged.
    async fn edit(
        &self,
        current: Author,
        slug: Slug,
        fields: AuthorFields,
        restored_from: Option<i64>,
        actor: &Actor,
    ) -> Result<Author, ServiceError> {
        if fields == current.fields && slug == current.slug {
            return Ok(current);
        }
        if fields.orcid != current.fields.orcid {
            self.check_orcid_free(fields.orcid.as_ref(), Some(current.id))
                .await?;
        }
        let id = current.id;
        let expected = current.version;
        let next = Author {
            slug,
            fields,
            version: current.version + 1,
            update_time: time::now(),
            ..current.clone()
        };
        let changed = imprint_domain::audit::diff(&current, &next)
            .into_iter()
            .map(|c| c.field)
            .collect();
        let saved = revision(RevisionKind::Updated, changed, &next, actor).restoring(restored_from);
        let kind = saved.kind;
        self.store
            .update(&saved, expected)
            .await
            .map_err(|e| e.for_resource("author", &id))?;
        tracing::info!(author_id = %id, version = next.version, kind = ?kind, actor = %actor.subject(), "author saved");
        Ok(next)
    }

    /// A page of the revisions of author `id`, newest first.
    pub async fn revisions(
        &self,
        id: AuthorId,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Revision>, String), ServiceError> {
        let fingerprint = format!("author-revisions={id}");
        let before: Option<i64> = resume_after(&self.signer, &fingerprint, page_token)?;
        // NOT_FOUND for an unknown author rather than an empty list.
        self.get(&Key::Id(id)).await?;
        let rows = self.store.revisions(id, before, page_size + 1).await?;
        Ok(finish_page(
            &self.signer,
            rows,
            page_size,
            &fingerprint,
            |r| r.state.version,
        ))
    }

    /// What differs between versions `from` and `to` (the current one when `None`) of author
    /// `id`.
    pub async fn diff(
        &self,
        id: AuthorId,
        from: i64,
        to: Option<i64>,
    ) -> Result<Compared<AuthorField>, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        imprint_platform::revisions::compare(
            "author",
            &id,
            (&current, current.version),
            (from, to),
            |v| async move { Ok(self.store.revision_at(id, v).await?.map(|r| r.state)) },
        )
        .await
    }

    /// Author `current` as its version `version` was saved.
    async fn state_at(
        &self,
        current: &Author,
        version: i64,
        field: &str,
    ) -> Result<Author, ServiceError> {
        imprint_platform::revisions::state_at(
            "author",
            &current.id,
            (current, current.version),
            version,
            field,
            |v| async move {
                Ok(self
                    .store
                    .revision_at(current.id, v)
                    .await?
                    .map(|r| r.state))
            },
        )
        .await
    }

    /// Deletes author `id` unless a paper credits it. The check and the delete are two steps
    /// in two services: a paper saved crediting this author between them keeps a dangling
    /// credit. The change events (a later issue) are where that is reconciled.
    pub async fn delete(
        &self,
        id: AuthorId,
        version: Option<i64>,
        actor: &Actor,
    ) -> Result<(), ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        if let Some(v) = version {
            check_version("author", &id, Some(v), current.version)?;
        }
        let credited = self
            .papers
            .clone()
            .list_papers(ListPapersRequest {
                author_id: id.to_string(),
                page_size: 1,
                ..ListPapersRequest::default()
            })
            .await
            .map_err(|status| from_peer("papers", &status))?
            .into_inner()
            .papers;
        if let Some(paper) = credited.first() {
            return Err(ServiceError::FailedPrecondition(format!(
                "author {id} ({}) is credited on paper '{}' ({}); remove the credit from every paper first",
                current.fields.name, paper.slug, paper.id
            )));
        }
        self.store
            .delete(id, version, actor)
            .await
            .map_err(|e| e.for_resource("author", &id))?;
        tracing::info!(author_id = %id, "author deleted");
        Ok(())
    }

    async fn check_orcid_free(
        &self,
        orcid: Option<&Orcid>,
        except: Option<AuthorId>,
    ) -> Result<(), ServiceError> {
        let Some(orcid) = orcid else { return Ok(()) };
        match self.store.orcid_owner(orcid).await? {
            Some(owner) if Some(owner) != except => Err(ServiceError::AlreadyExists(format!(
                "ORCID iD {orcid} already belongs to author {owner}"
            ))),
            _ => Ok(()),
        }
    }
}
