//! Keeps this replica's in-memory index and overrides in step with the read model: everything
//! is loaded at start, then the change log is followed (every 200 ms, and at once when this
//! process applied an event). Every replica does the same, so each serves changes within a
//! second whichever replica consumed the event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::DbErr;
use tantivy::tokenizer::TextAnalyzer;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::index::english;
use crate::search::SearchIndex;
use crate::service::State;
use crate::storage::{Changed, RecStore};

/// How often the change log is read when nothing rang.
const POLL: Duration = Duration::from_millis(200);
/// The least time between two commits of the search index: each commit makes a segment that
/// must be merged later, so under a bulk import changes are made searchable in batches.
const SEARCH_COMMIT: Duration = Duration::from_millis(500);
/// How long change-log entries are kept (a replica stopped longer rebuilds at start anyway).
const KEEP_CHANGES: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Follows the change log into the index.
pub struct Refresher {
    /// The read model.
    store: RecStore,
    /// What it keeps up to date.
    state: Arc<State>,
    /// Search over the same papers.
    search: Arc<SearchIndex>,
    /// Rung by this process's event handler.
    wake: Arc<Notify>,
    /// The last change applied.
    last: i64,
    /// The analyzer for new papers.
    analyzer: TextAnalyzer,
    /// Whether the search index has changes not yet committed.
    search_dirty: bool,
    /// When the search index was last committed.
    search_committed: Instant,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// Loads every published paper, author name and override, then returns the refresher that
    /// follows what changes after.
    pub async fn load(
        store: RecStore,
        state: Arc<State>,
        search: Arc<SearchIndex>,
        wake: Arc<Notify>,
    ) -> Result<Self, DbErr> {
        let started = Instant::now();
        // Read the position first: a change logged while loading is applied again, harmlessly.
        let last = store.last_change().await?;
        let mut analyzer = english();
        {
            let slugs = store.slugs().await?;
            let mut index = state
                .index
                .write()
                .map_err(|_| DbErr::Custom("index lock poisoned".to_owned()))?;
            for (slug, id) in slugs {
                index.remember_slug(slug, id);
            }
        }
        let mut after = None;
        let mut count = 0;
        loop {
            let page = store.published(after, 1_000).await?;
            let Some(tail) = page.last() else { break };
            after = Some(tail.id);
            count += page.len();
            {
                let mut index = state
                    .index
                    .write()
                    .map_err(|_| DbErr::Custom("index lock poisoned".to_owned()))?;
                for paper in &page {
                    index.upsert(paper, &mut analyzer);
                }
            }
            search
                .upsert_many(&page)
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        search.commit().map_err(|e| DbErr::Custom(e.to_string()))?;
        {
            let names = store.author_names().await?;
            let mut index = state
                .index
                .write()
                .map_err(|_| DbErr::Custom("index lock poisoned".to_owned()))?;
            for (id, name) in names {
                index.set_name(id, Some(name));
            }
        }
        let overrides = store.overrides_of(None).await?;
        state
            .overrides
            .write()
            .map_err(|_| DbErr::Custom("overrides lock poisoned".to_owned()))?
            .extend(overrides);
        tracing::info!(
            papers = count,
            elapsed_ms = started.elapsed().as_millis(),
            "recommendations index loaded"
        );
        Ok(Self {
            store,
            state,
            search,
            wake,
            last,
            analyzer,
            search_dirty: false,
            search_committed: Instant::now(),
        })
    }

    /// Follows the change log until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut pruned = Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "refreshing the recommendations index");
            }
            if pruned.elapsed() > Duration::from_secs(3600) {
                pruned = Instant::now();
                if let Err(e) = self.store.prune_changes(Utc::now() - KEEP_CHANGES).await {
                    tracing::warn!(error = %e, "pruning the change log");
                }
            }
        }
    }

    /// Applies every logged change not applied yet, a thousand at a time: the changed rows
    /// are read in a few queries, then the indexes are updated under one lock each.
    pub async fn catch_up(&mut self) -> Result<(), DbErr> {
        loop {
            let changes = self.store.changes_since(self.last, 1_000).await?;
            let Some((tail, _)) = changes.last() else {
                return self.commit_search();
            };
            let tail = *tail;
            let mut paper_ids = Vec::new();
            let mut author_ids = Vec::new();
            let mut papers_seen = std::collections::HashSet::new();
            let mut authors_seen = std::collections::HashSet::new();
            for (_, change) in &changes {
                match *change {
                    Changed::Paper(id) if papers_seen.insert(id) => paper_ids.push(id),
                    Changed::Author(id) if authors_seen.insert(id) => author_ids.push(id),
                    _ => {}
                }
            }
            let papers = self.store.papers_by_id(&paper_ids).await?;
            let mut overrides = self.store.overrides_of(Some(&paper_ids)).await?;
            let names = self.store.author_names_of(&author_ids).await?;
            {
                let mut index = self
                    .state
                    .index
                    .write()
                    .map_err(|_| DbErr::Custom("index lock poisoned".to_owned()))?;
                for paper in &papers {
                    index.upsert(paper, &mut self.analyzer);
                }
                for id in &author_ids {
                    index.set_name(*id, names.get(id).cloned());
                }
            }
            {
                let mut all = self
                    .state
                    .overrides
                    .write()
                    .map_err(|_| DbErr::Custom("overrides lock poisoned".to_owned()))?;
                for id in &paper_ids {
                    match overrides.remove(id) {
                        Some(o) => {
                            all.insert(*id, o);
                        }
                        None => {
                            all.remove(id);
                        }
                    }
                }
            }
            self.search
                .upsert_many(&papers)
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            self.search_dirty |= !papers.is_empty();
            self.last = tail;
            self.commit_search()?;
        }
    }

    /// Commits the search index when it has changes and the last commit is old enough; the
    /// run loop comes back within `POLL` for changes held back.
    fn commit_search(&mut self) -> Result<(), DbErr> {
        if self.search_dirty && self.search_committed.elapsed() >= SEARCH_COMMIT {
            self.search
                .commit()
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            self.search_dirty = false;
            self.search_committed = Instant::now();
        }
        Ok(())
    }
}
