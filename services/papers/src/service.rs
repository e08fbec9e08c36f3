//! The papers use cases: drafts, edits with optimistic concurrency, publishing and withdrawing,
//! deletion, revisions, and credits checked against the authors service.

use imprint_domain::limits::MAX_PAPER_BATCH;
use imprint_domain::text::ExternalId;
use imprint_domain::{
    Actor, AuthorId, AuthorIds, Paper, PaperChange, PaperChanges, PaperField, PaperFields, PaperId,
    PaperInput, PaperStatus, RevisionKind, ScheduleAction, Slug, Term, TermId, Transition,
    Violations, Vocabulary, WorkflowError, time,
};
use imprint_platform::ServiceError;
use imprint_platform::clients::Peer;
use imprint_platform::error::from_peer;
use imprint_platform::paging::{finish_page, resume_after};
use imprint_platform::request::{Key, check_version};
use imprint_platform::revisions::Compared;
use imprint_platform::signing::Signer;
use imprint_platform::slugs::SlugChoice;
use imprint_proto::authors::BatchGetAuthorsRequest;
use imprint_proto::authors::author_service_client::AuthorServiceClient;

use crate::storage::{ListFilter, NewRow, PaperStore, Revision, revision};
use crate::taxonomy::Terms;
use std::collections::HashMap;

/// What publishing a paper changes.
const PUBLISHING: PaperChanges = PaperChanges::NONE
    .with(PaperChange::Status)
    .with(PaperChange::PublishTime);

/// What withdrawing a paper changes.
const WITHDRAWING: PaperChanges = PaperChanges::NONE.with(PaperChange::Status);

/// What the scheduler did to one paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// What was due.
    pub action: ScheduleAction,
    /// What came of it.
    pub outcome: FireOutcome,
}

/// What came of a schedule when it was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// The paper was published or withdrawn.
    Done,
    /// It already was; the schedule was cleared.
    AlreadyDone,
    /// Refused, for this reason; recorded on the paper.
    Refused(WorkflowError),
}

/// One paper of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// What to create.
    pub input: PaperInput,
    /// When publishing, the publication date to record (else now).
    pub publish_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A draft from `input` (not stored yet) and the slug it asks for.
fn new_draft(input: &PaperInput) -> Result<(Paper, SlugChoice), Violations> {
    let (slug, fields) = PaperFields::parse(input)?;
    let external_id = if input.external_id.trim().is_empty() {
        None
    } else {
        Some(ExternalId::parse(&input.external_id).map_err(|e| Violations::one("external_id", e))?)
    };
    let base = Slug::derive(fields.title.as_str(), "paper");
    let mut paper = Paper::new_draft(base.clone(), fields, time::now());
    paper.external_id = external_id;
    Ok((paper, SlugChoice::new(slug, base)))
}

/// What an edit sets: the slug and the editable fields.
struct Content {
    slug: Slug,
    fields: PaperFields,
}

/// How a client names a paper.
pub type PaperKey = Key<PaperId>;

/// The papers service's use cases.
#[derive(Debug, Clone)]
pub struct Papers {
    /// Papers, slugs, indexes and revisions.
    store: PaperStore,
    /// Asked whether credited authors exist.
    authors: AuthorServiceClient<Peer>,
    /// Signs the page tokens of lists.
    signer: Signer,
    /// Resolves the programs, regions and series papers name.
    terms: Terms,
    /// The files papers reference, looked up when a paper names them.
    files: imprint_files::Blobs,
}

impl Papers {
    /// The service over its store, with a client of the authors service, resolving terms with
    /// `terms` and signing page tokens with `signer`.
    pub fn new(
        store: PaperStore,
        authors: AuthorServiceClient<Peer>,
        terms: Terms,
        files: imprint_files::Blobs,
        signer: Signer,
    ) -> Self {
        Self {
            store,
            authors,
            signer,
            terms,
            files,
        }
    }

    /// Refuses to restore version `from` when a file it names was removed since (nothing
    /// referenced it for the grace period).
    async fn check_files_kept(
        &self,
        files: &imprint_domain::PaperFiles,
        from: i64,
    ) -> Result<(), ServiceError> {
        // The originals: an image's copies are made again when they are gone.
        let originals = files
            .attachments
            .iter()
            .map(|a| a.file)
            .chain(files.cover.as_ref().map(|c| c.file));
        for key in originals {
            let kept = self.files.size(&key).await?;
            if kept.is_none() {
                return Err(ServiceError::FailedPrecondition(format!(
                    "version {from} names the file {key}, removed since as nothing referenced it; upload it again and attach it"
                )));
            }
        }
        Ok(())
    }

    /// Looks up in the store every file `input` references, and the PDFs' texts, for its parse
    /// to check.
    async fn describe_files(&self, input: &mut PaperInput) -> Result<(), ServiceError> {
        let keys =
            imprint_domain::file::PaperFiles::requested(&input.attachments, input.cover.as_ref());
        input.stored_files = self.files.facts(keys).await?;
        // The PDFs' texts, read when they were uploaded: an attachment reports what became
        // of its reading, and the report's text may become the body.
        input.stored_texts = self.files.texts(&input.stored_files).await?;
        // The cover's smaller copies, made when it was uploaded, for srcset.
        let cover: imprint_domain::file::StoredFiles = input
            .cover
            .as_ref()
            .and_then(|c| imprint_domain::FileKey::parse(&c.file_key).ok())
            .and_then(|k| Some((k, input.stored_files.get(&k)?.clone())))
            .into_iter()
            .collect();
        input.stored_renditions = self.files.all_renditions(&cover).await?;
        Ok(())
    }

    /// Creates a draft; derives a free slug from the title when none is given.
    pub async fn create(&self, input: &PaperInput, actor: &Actor) -> Result<Paper, ServiceError> {
        let mut input = input.clone();
        self.terms
            .resolve_input(&mut input, Vocabulary::ALL, None, "")
            .await?;
        self.describe_files(&mut input).await?;
        let (paper, choice) = new_draft(&input)?;
        self.check_authors_exist(&paper.fields.author_ids, &[])
            .await?;
        let mut created = revision(RevisionKind::Created, PaperChanges::NONE, paper, actor);
        self.store
            .insert(&mut created, &choice)
            .await
            .map_err(|e| e.for_resource("paper", &created.state.id))?;
        let paper = created.state;
        tracing::info!(paper_id = %paper.id, slug = %paper.slug, "paper created");
        Ok(paper)
    }

    /// Creates up to [`MAX_PAPER_BATCH`] papers at once, all or none, publishing each when `publish`
    /// (at its `publish_at` when given). Violations are named `requests[i].paper.…`.
    pub async fn batch_create(
        &self,
        items: &[BatchItem],
        publish: bool,
        actor: &Actor,
    ) -> Result<Vec<Paper>, ServiceError> {
        if items.len() > MAX_PAPER_BATCH {
            return Err(Violations::one(
                "requests",
                format!(
                    "at most {MAX_PAPER_BATCH} papers per call (got {})",
                    items.len()
                ),
            )
            .into());
        }
        let mut v = Violations::new();
        let mut rows = Vec::with_capacity(items.len());
        let mut external_ids: HashMap<String, usize> = HashMap::new();
        let now = time::now();
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("requests[{i}].paper");
            let mut input = item.input.clone();
            let resolved = self
                .terms
                .resolve_input(&mut input, Vocabulary::ALL, None, &format!("{prefix}."))
                .await;
            match resolved {
                Ok(()) => {}
                Err(ServiceError::Invalid(violations)) => {
                    v.extend_prefixed("", violations);
                    continue;
                }
                Err(e) => return Err(e),
            }
            self.describe_files(&mut input).await?;
            let Some((paper, choice)) = v.nested(&prefix, new_draft(&input)) else {
                continue;
            };
            if let Some(external) = &paper.external_id
                && let Some(first) = external_ids.insert(external.to_string(), i)
            {
                v.push(
                    format!("{prefix}.external_id"),
                    format!("{external} is also the external id of requests[{first}]"),
                );
            }
            let published = if publish {
                let mut next = paper.clone();
                match next.publish(item.publish_at, now) {
                    Ok(_) => {
                        next.version += 1;
                        Some(revision(RevisionKind::Published, PUBLISHING, next, actor))
                    }
                    Err(WorkflowError::BadPublishTime(m)) => {
                        v.push(format!("{prefix}.publish_time"), m);
                        None
                    }
                    Err(_) => {
                        v.push(
                            format!("{prefix}.author_ids"),
                            "a paper published at once needs at least one author",
                        );
                        None
                    }
                }
            } else {
                None
            };
            rows.push((
                i,
                NewRow {
                    created: revision(RevisionKind::Created, PaperChanges::NONE, paper, actor),
                    published,
                    choice,
                },
            ));
        }
        // Every credited author must exist: asked once for the whole batch.
        let mut wanted: Vec<AuthorId> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (_, row) in &rows {
            for id in row.created.state.fields.author_ids.as_slice() {
                if seen.insert(*id) {
                    wanted.push(*id);
                }
            }
        }
        let mut missing = std::collections::HashSet::new();
        for chunk in wanted.chunks(1_000) {
            missing.extend(self.missing_authors(chunk).await?);
        }
        for (i, row) in &rows {
            for (j, id) in row
                .created
                .state
                .fields
                .author_ids
                .as_slice()
                .iter()
                .enumerate()
            {
                if missing.contains(id) {
                    v.push(
                        format!("requests[{i}].paper.author_ids[{j}]"),
                        format!("author {id} does not exist; create the author first"),
                    );
                }
            }
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        let mut rows: Vec<NewRow> = rows.into_iter().map(|(_, row)| row).collect();
        self.store
            .insert_batch(&mut rows)
            .await
            .map_err(|e| e.for_resource("paper", &"in this batch"))?;
        tracing::info!(papers = rows.len(), publish, "papers created in a batch");
        Ok(rows
            .into_iter()
            .map(|row| row.published.unwrap_or(row.created).state)
            .collect())
    }

    /// One paper.
    pub async fn get(&self, key: &PaperKey) -> Result<Paper, ServiceError> {
        self.get_of(key, None).await
    }

    /// The paper `key` names when it is published; NOT_FOUND otherwise, by the path a key
    /// nobody has takes.
    pub async fn get_published(&self, key: &PaperKey) -> Result<Paper, ServiceError> {
        self.get_of(key, Some(PaperStatus::Published)).await
    }

    async fn get_of(
        &self,
        key: &PaperKey,
        status: Option<PaperStatus>,
    ) -> Result<Paper, ServiceError> {
        let found = match (key, key.lookup_slug()) {
            (Key::Id(id), _) => self.store.find_with(*id, status).await?,
            (Key::Slug(_), Some(slug)) => self.store.find_by_slug(slug, status).await?,
            (Key::Slug(_), None) => None,
        };
        found
            .filter(|p| status.is_none_or(|s| p.status == s))
            .ok_or_else(|| key.not_found("paper"))
    }

    /// A page of papers matching `filter`, newest first.
    pub async fn list(
        &self,
        filter: &ListFilter,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Paper>, String), ServiceError> {
        let fingerprint = format!(
            "status={:?};topic={:?};type={:?};author={:?};external={:?};terms={:?}",
            filter.status.map(|s| s.as_str()),
            filter.topic_key,
            filter.publication_type.map(|t| t.as_str()),
            filter.author_id.map(|a| a.to_string()),
            filter.external_id,
            filter.terms,
        );
        let before: Option<uuid::Uuid> = resume_after(&self.signer, &fingerprint, page_token)?;
        let rows = self.store.list(filter, before, page_size + 1).await?;
        Ok(finish_page(
            &self.signer,
            rows,
            page_size,
            &fingerprint,
            |p| p.id.as_uuid(),
        ))
    }

    /// Applies the masked fields of `input` to paper `id`, if `version` is still current.
    /// Saving nothing new returns the paper unchanged, without a new version.
    pub async fn update(
        &self,
        id: PaperId,
        version: i64,
        input: &PaperInput,
        mask: &[PaperField],
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("paper", &id, Some(version), current.version)?;
        let mut input = input.clone();
        let vocabularies: Vec<Vocabulary> = mask
            .iter()
            .filter_map(|f| match f {
                PaperField::Terms(v) => Some(*v),
                _ => None,
            })
            .collect();
        self.terms
            .resolve_input(&mut input, vocabularies, Some(&current.fields.terms), "")
            .await?;
        if mask
            .iter()
            .any(|f| matches!(f, PaperField::Attachments | PaperField::Cover))
        {
            self.describe_files(&mut input).await?;
        }
        let (new_slug, fields) = current.fields.apply(&input, mask)?;
        let slug = new_slug.unwrap_or_else(|| current.slug.clone());
        self.edit(current, Content { slug, fields }, None, actor)
            .await
    }

    /// Makes a new version of paper `id` whose content is that of its version `from`, if
    /// `version` is still current. The workflow (status, publication, schedule) stays.
    pub async fn restore(
        &self,
        id: PaperId,
        version: i64,
        from: i64,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("paper", &id, Some(version), current.version)?;
        let mut old = self.state_at(&current, from, "revision_version").await?;
        self.check_files_kept(&old.fields.files, from).await?;
        // Terms merged since are restored as the terms they were merged into.
        old.fields.terms = self.terms.current(&old.fields.terms).await?;
        let content = Content {
            slug: old.slug,
            fields: old.fields,
        };
        // What the old content fails now (an author deleted since) is about the version asked
        // for: the request has no author_ids to name.
        self.edit(current, content, Some(from), actor)
            .await
            .map_err(|e| restore_refused(e, from))
    }

    /// Saves `content` as the next version of `current`: an update, or a restore of version
    /// `restored_from`. Nothing new returns `current` unchanged.
    async fn edit(
        &self,
        current: Paper,
        content: Content,
        restored_from: Option<i64>,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let Content { slug, fields } = content;
        let mut changed = current.fields.changed_fields(&fields);
        if slug != current.slug {
            changed = changed.with(PaperChange::Field(PaperField::Slug));
        }
        if changed.is_empty() {
            return Ok(current);
        }
        current.check_edit(&fields).map_err(workflow_error)?;
        if fields.author_ids != current.fields.author_ids {
            self.check_authors_exist(&fields.author_ids, current.fields.author_ids.as_slice())
                .await?;
        }
        let expected = current.version;
        let next = Paper {
            slug,
            fields,
            version: current.version + 1,
            update_time: time::now(),
            ..current
        };
        let saved = revision(RevisionKind::Updated, changed, next, actor).restoring(restored_from);
        self.save_revision(saved, expected).await
    }

    /// What differs between versions `from` and `to` (the current one when `None`) of paper
    /// `id`.
    pub async fn diff(
        &self,
        id: PaperId,
        from: i64,
        to: Option<i64>,
    ) -> Result<Compared<PaperChange>, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        imprint_platform::revisions::compare(
            "paper",
            &id,
            (&current, current.version),
            (from, to),
            |v| async move { Ok(self.store.revision_at(id, v).await?.map(|r| r.state)) },
        )
        .await
    }

    /// Paper `current` as its version `version` was saved; `field` names the version asked
    /// for when it is out of range.
    async fn state_at(
        &self,
        current: &Paper,
        version: i64,
        field: &str,
    ) -> Result<Paper, ServiceError> {
        imprint_platform::revisions::state_at(
            "paper",
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

    /// Publishes paper `id` (back-dated to `at` when given).
    pub async fn publish(
        &self,
        id: PaperId,
        version: Option<i64>,
        at: Option<chrono::DateTime<chrono::Utc>>,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("paper", &id, version, current.version)?;
        let mut next = current.clone();
        let now = time::now();
        match next.publish(at, now).map_err(workflow_error)? {
            Transition::Unchanged => Ok(current),
            Transition::Changed => {
                next.version += 1;
                next.update_time = now;
                let changed = with_schedule(PUBLISHING, &current, &next);
                let saved = revision(RevisionKind::Published, changed, next, actor);
                self.save_revision(saved, current.version).await
            }
        }
    }

    /// Withdraws paper `id` from the public site.
    pub async fn unpublish(
        &self,
        id: PaperId,
        version: Option<i64>,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("paper", &id, version, current.version)?;
        let mut next = current.clone();
        match next.unpublish().map_err(workflow_error)? {
            Transition::Unchanged => Ok(current),
            Transition::Changed => {
                next.version += 1;
                next.update_time = time::now();
                let changed = with_schedule(WITHDRAWING, &current, &next);
                let saved = revision(RevisionKind::Unpublished, changed, next, actor);
                self.save_revision(saved, current.version).await
            }
        }
    }

    /// Schedules paper `id`'s publication or withdrawal at `at`.
    pub async fn schedule(
        &self,
        id: PaperId,
        version: Option<i64>,
        action: ScheduleAction,
        at: chrono::DateTime<chrono::Utc>,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("paper", &id, version, current.version)?;
        let mut next = current.clone();
        let now = time::now();
        let transition = match action {
            ScheduleAction::Publish => next.schedule_publish(at, now),
            ScheduleAction::Unpublish => next.schedule_unpublish(at, now),
        }
        .map_err(workflow_error)?;
        self.save_schedule(current, next, transition, now, actor)
            .await
    }

    /// Cancels paper `id`'s scheduled `action` (both when `None`).
    pub async fn cancel_schedule(
        &self,
        id: PaperId,
        version: Option<i64>,
        action: Option<ScheduleAction>,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        check_version("paper", &id, version, current.version)?;
        let mut next = current.clone();
        let transition = next.cancel_schedule(action);
        self.save_schedule(current, next, transition, time::now(), actor)
            .await
    }

    async fn save_schedule(
        &self,
        current: Paper,
        mut next: Paper,
        transition: Transition,
        now: chrono::DateTime<chrono::Utc>,
        actor: &Actor,
    ) -> Result<Paper, ServiceError> {
        match transition {
            Transition::Unchanged => Ok(current),
            Transition::Changed => {
                next.version += 1;
                next.update_time = now;
                let changed = PaperChanges::of(&[PaperChange::Schedule]);
                let saved = revision(RevisionKind::Scheduled, changed, next, actor);
                self.save_revision(saved, current.version).await
            }
        }
    }

    /// Papers with a schedule due at `now`, at most `limit`.
    pub async fn due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u64,
    ) -> Result<Vec<PaperId>, ServiceError> {
        Ok(self.store.due(now, limit).await?)
    }

    /// Carries out what is due at `now` on paper `id`, if anything still is (another replica,
    /// or an editor, may have got there first). A publication or withdrawal is saved as such,
    /// with its event; one that is refused is saved as the schedule's failure.
    pub async fn fire_due(
        &self,
        id: PaperId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Fired>, ServiceError> {
        let current = self.get(&Key::Id(id)).await?;
        let mut next = current.clone();
        let Some((action, done)) = next.fire_due(now) else {
            return Ok(None);
        };
        next.version += 1;
        next.update_time = now;
        let (kind, changed, outcome) = match (done, action) {
            (Ok(Transition::Changed), ScheduleAction::Publish) => {
                (RevisionKind::Published, PUBLISHING, FireOutcome::Done)
            }
            (Ok(Transition::Changed), ScheduleAction::Unpublish) => {
                (RevisionKind::Unpublished, WITHDRAWING, FireOutcome::Done)
            }
            // Already so: only the schedule is cleared, and no status event goes out.
            (Ok(Transition::Unchanged), _) => (
                RevisionKind::Scheduled,
                PaperChanges::NONE,
                FireOutcome::AlreadyDone,
            ),
            (Err(e), _) => (
                RevisionKind::Scheduled,
                PaperChanges::NONE,
                FireOutcome::Refused(e),
            ),
        };
        // The scheduler acts for nobody: the schedule was set by a publisher, recorded then.
        let changed = changed.with(PaperChange::Schedule);
        let saved = revision(kind, changed, next, &Actor::System);
        self.save_revision(saved, current.version).await?;
        Ok(Some(Fired { action, outcome }))
    }

    /// Removes the credits of a deleted author from every paper, each as a new version. The
    /// last author of a published paper stays (a published paper keeps a byline) and is
    /// reported for an editor to fix. Returns how many papers changed.
    pub async fn drop_credits_of(&self, author: AuthorId) -> Result<usize, ServiceError> {
        let filter = ListFilter {
            author_id: Some(author),
            ..ListFilter::default()
        };
        // A reaction to the author's deletion, made by nobody in particular.
        self.rewrite_all(&filter, &Actor::System, |paper| {
            let remaining: Vec<AuthorId> = paper
                .fields
                .author_ids
                .as_slice()
                .iter()
                .copied()
                .filter(|a| *a != author)
                .collect();
            PaperFields {
                author_ids: AuthorIds::from_trusted(remaining),
                ..paper.fields.clone()
            }
        })
        .await
    }

    /// Moves every paper carrying term `from` (of `vocabulary`) to term `to`, each as a new
    /// version by `actor`: a merge's papers. Returns how many papers changed.
    pub async fn move_term(
        &self,
        vocabulary: Vocabulary,
        from: TermId,
        to: TermId,
        actor: &Actor,
    ) -> Result<usize, ServiceError> {
        let filter = ListFilter {
            terms: vec![vec![from]],
            ..ListFilter::default()
        };
        self.rewrite_all(&filter, actor, |paper| {
            let mut fields = paper.fields.clone();
            let ids = fields.terms.of(vocabulary).replacing(from, to);
            *fields.terms.of_mut(vocabulary) = ids;
            fields
        })
        .await
    }

    /// Gives every paper matching `filter` the fields `change` makes of its own, each as a
    /// new version by `actor`. A paper that may not take them (a published paper losing its
    /// last author) is left and reported. Returns how many papers changed.
    async fn rewrite_all(
        &self,
        filter: &ListFilter,
        actor: &Actor,
        change: impl Fn(&Paper) -> PaperFields,
    ) -> Result<usize, ServiceError> {
        let mut changed = 0;
        let mut before = None;
        loop {
            let page = self.store.list(filter, before, 100).await?;
            let Some(last) = page.last() else {
                return Ok(changed);
            };
            before = Some(last.id.as_uuid());
            for paper in page {
                if self.rewrite(paper, actor, &change).await? {
                    changed += 1;
                }
            }
        }
    }

    /// Saves `change` of `paper`, reading it again when someone saved it meanwhile.
    async fn rewrite(
        &self,
        mut paper: Paper,
        actor: &Actor,
        change: &impl Fn(&Paper) -> PaperFields,
    ) -> Result<bool, ServiceError> {
        for _ in 0..5 {
            let fields = change(&paper);
            let changed = paper.fields.changed_fields(&fields);
            if changed.is_empty() {
                return Ok(false);
            }
            if let Err(e) = paper.check_edit(&fields) {
                tracing::error!(paper_id = %paper.id, error = %e, "a paper cannot take a change made for it; an editor must fix it");
                return Ok(false);
            }
            let expected = paper.version;
            let next = Paper {
                fields,
                version: paper.version + 1,
                update_time: time::now(),
                ..paper.clone()
            };
            let saved = revision(RevisionKind::Updated, changed, next, actor);
            match self.store.save(&saved, expected).await {
                Ok(()) => {
                    tracing::info!(paper_id = %paper.id, changed = ?changed.paths(), "paper rewritten");
                    return Ok(true);
                }
                // Someone saved meanwhile: read it again and retry.
                Err(imprint_platform::store::WriteError::Stale { .. }) => {
                    match self.store.find(paper.id).await? {
                        Some(fresh) => paper = fresh,
                        None => return Ok(false),
                    }
                }
                Err(imprint_platform::store::WriteError::NotFound) => return Ok(false),
                Err(e) => return Err(e.for_resource("paper", &paper.id)),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "paper {} kept changing while it was being rewritten",
            paper.id
        )))
    }

    /// The terms `filter` (an id or slug of `vocabulary`, under `field`) matches, for a list
    /// filter; `None` when empty.
    pub async fn term_filter(
        &self,
        vocabulary: Vocabulary,
        field: &str,
        raw: &str,
    ) -> Result<Option<Vec<TermId>>, ServiceError> {
        self.terms.filter(vocabulary, field, raw).await
    }

    /// The terms `papers` carry, each once, to show beside them.
    pub async fn terms_of(&self, papers: &[&Paper]) -> Result<Vec<Term>, ServiceError> {
        let mut ids: Vec<TermId> = Vec::new();
        for paper in papers {
            for id in paper.fields.terms.all() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        self.terms.refs(&ids).await
    }

    /// Deletes paper `id` and its revisions.
    pub async fn delete(
        &self,
        id: PaperId,
        version: Option<i64>,
        actor: &Actor,
    ) -> Result<(), ServiceError> {
        self.store
            .delete(id, version, actor)
            .await
            .map_err(|e| e.for_resource("paper", &id))?;
        tracing::info!(paper_id = %id, "paper deleted");
        Ok(())
    }

    /// A page of the revisions of paper `id`, newest first.
    pub async fn revisions(
        &self,
        id: PaperId,
        page_size: u64,
        page_token: &str,
    ) -> Result<(Vec<Revision>, String), ServiceError> {
        let fingerprint = format!("revisions={id}");
        let before: Option<i64> = resume_after(&self.signer, &fingerprint, page_token)?;
        // NOT_FOUND for an unknown paper rather than an empty list.
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

    async fn save_revision(
        &self,
        saved: Revision,
        expected_version: i64,
    ) -> Result<Paper, ServiceError> {
        let id = saved.state.id;
        self.store
            .save(&saved, expected_version)
            .await
            .map_err(|e| e.for_resource("paper", &id))?;
        tracing::info!(paper_id = %id, version = saved.state.version, kind = ?saved.kind, actor = %saved.actor.as_ref().map_or(Actor::SYSTEM, Actor::subject), "paper saved");
        Ok(saved.state)
    }

    /// Refuses credits of authors that do not exist, naming each by its place in the byline.
    /// Ids in `already_credited` were checked when they were added and are not asked again.
    async fn check_authors_exist(
        &self,
        ids: &AuthorIds,
        already_credited: &[imprint_domain::AuthorId],
    ) -> Result<(), ServiceError> {
        let to_check: Vec<AuthorId> = ids
            .as_slice()
            .iter()
            .filter(|id| !already_credited.contains(id))
            .copied()
            .collect();
        if to_check.is_empty() {
            return Ok(());
        }
        let missing = self.missing_authors(&to_check).await?;
        let mut violations = Violations::new();
        for (i, id) in ids.as_slice().iter().enumerate() {
            if missing.contains(id) {
                violations.push(
                    format!("author_ids[{i}]"),
                    format!("author {id} does not exist; create the author first"),
                );
            }
        }
        violations.into_result(|| ()).map_err(ServiceError::from)
    }

    /// Which of `ids` (at most 1,000) the authors service does not know.
    async fn missing_authors(&self, ids: &[AuthorId]) -> Result<Vec<AuthorId>, ServiceError> {
        let missing = self
            .authors
            .clone()
            .batch_get_authors(BatchGetAuthorsRequest {
                ids: ids.iter().map(ToString::to_string).collect(),
            })
            .await
            .map_err(|status| from_peer("authors", &status))?
            .into_inner()
            .missing_ids;
        Ok(ids
            .iter()
            .filter(|id| missing.contains(&id.to_string()))
            .copied()
            .collect())
    }
}

/// A restore's refusal of what version `from` holds, named by the field that asked for it.
fn restore_refused(err: ServiceError, from: i64) -> ServiceError {
    match err {
        ServiceError::Invalid(v) => {
            let why: Vec<String> = v
                .iter()
                .map(|f| format!("{}: {}", f.field, f.description))
                .collect();
            Violations::one(
                "revision_version",
                format!("version {from} cannot be restored: {}", why.join("; ")),
            )
            .into()
        }
        other => other,
    }
}

/// `changes`, and the schedule when the step ended one (published or withdrawn by hand).
fn with_schedule(changes: PaperChanges, before: &Paper, after: &Paper) -> PaperChanges {
    if before.schedule == after.schedule {
        changes
    } else {
        changes.with(PaperChange::Schedule)
    }
}

fn workflow_error(err: WorkflowError) -> ServiceError {
    match err {
        WorkflowError::BadPublishTime(m) => {
            ServiceError::Invalid(Violations::one("publish_time", m))
        }
        WorkflowError::BadSchedule { field, reason } => {
            ServiceError::Invalid(Violations::one(field, reason))
        }
        other => ServiceError::FailedPrecondition(other.to_string()),
    }
}
