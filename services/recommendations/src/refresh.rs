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
        for paper in store.all_overrides().await? {
            let overrides = store.overrides(paper).await?;
            state
                .overrides
                .write()
                .map_err(|_| DbErr::Custom("overrides lock poisoned".to_owned()))?
                .insert(paper, overrides);
        }
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

    /// Applies every logged change not applied yet.
    pub async fn catch_up(&mut self) -> Result<(), DbErr> {
        loop {
            let changes = self.store.changes_since(self.last, 1_000).await?;
            let Some((tail, _)) = changes.last() else {
                return Ok(());
            };
            let tail = *tail;
            let mut papers = Vec::new();
            for (_, change) in &changes {
                match change {
                    Changed::Paper(id) => {
                        if let Some(paper) = self.store.paper(*id).await? {
                            papers.push(paper);
                        }
                        let overrides = self.store.overrides(*id).await?;
                        let mut all = self
                            .state
                            .overrides
                            .write()
                            .map_err(|_| DbErr::Custom("overrides lock poisoned".to_owned()))?;
                        if overrides.update_time.is_some() {
                            all.insert(*id, overrides);
                        }
                    }
                    Changed::Author(id) => {
                        let name = self.store.author_name(*id).await?;
                        self.state
                            .index
                            .write()
                            .map_err(|_| DbErr::Custom("index lock poisoned".to_owned()))?
                            .set_name(*id, name);
                    }
                }
            }
            {
                let mut index = self
                    .state
                    .index
                    .write()
                    .map_err(|_| DbErr::Custom("index lock poisoned".to_owned()))?;
                for paper in &papers {
                    index.upsert(paper, &mut self.analyzer);
                }
            }
            self.search
                .upsert_many(&papers)
                .and_then(|()| self.search.commit())
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            self.last = tail;
        }
    }
}
