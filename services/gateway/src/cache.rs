//! The public API's response cache: whole responses by URL, dropped as soon as an event says
//! that a paper or an author changed, so that an edit shows within a second while repeated
//! reads of a popular page cost a hash lookup.
//!
//! Invalidation is by generation: an event bumps it, and only entries made in the current
//! generation are served. A response computed from data read before an event is stored under
//! the generation it started in, so it can never outlive the event.
//!
//! Related publications and search come from the recommendations service's read model, which
//! applies the same events a moment later (its search index commits at most twice a second).
//! So a change also invalidates once more when the events have been quiet for a settling
//! period: whatever was cached from the read model before it caught up goes too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use imprint_platform::served::View;
use tokio::time::Instant;

/// A cached response.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its body.
    pub body: Bytes,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its strong ETag, quoted.
    pub etag: String,
    /// The rail of related publications it serves, when it serves one: each response of it is
    /// a serving of its own, with a fresh view.
    pub view: Option<View>,
    /// The generation it was computed in.
    generation: u64,
    /// When it was made.
    made: Instant,
}

impl Entry {
    /// An answer of `body`, not kept unless [`Cache::put`] keeps it.
    pub fn new(body: Bytes, content_type: &'static str) -> Self {
        Self {
            etag: etag(&body),
            body,
            content_type,
            view: None,
            generation: u64::MAX,
            made: Instant::now(),
        }
    }

    /// The same answer, serving the rail `view` describes.
    #[must_use]
    pub fn serving(mut self, view: Option<View>) -> Self {
        self.view = view;
        self
    }
}

/// The map and what it holds.
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Entry>,
    bytes: usize,
}

/// The most body bytes kept: past it the cache starts over, so that large answers (sitemaps)
/// under many URLs cannot exhaust memory.
const MAX_BYTES: usize = 256 * 1024 * 1024;

/// Responses by URL.
#[derive(Debug)]
pub struct Cache {
    /// Bumped by every change event.
    generation: AtomicU64,
    /// Entries by path and query, and the bytes of their bodies.
    entries: RwLock<Entries>,
    /// The most entries kept; past it the cache starts over.
    capacity: usize,
    /// The longest an entry is served: a safety net for events missed while the broker was
    /// unreachable.
    max_age: Duration,
    /// Lookups answered from the cache, and not.
    hits: AtomicU64,
    misses: AtomicU64,
    /// How long after the last change the trailing invalidation comes.
    settle: Duration,
    /// When the cache was made: the origin of `last_change_ms`.
    born: Instant,
    /// When the last change was heard of, in ms since `born`.
    last_change_ms: AtomicU64,
    /// Whether a trailing invalidation is pending.
    trailing: std::sync::atomic::AtomicBool,
}

impl Cache {
    /// A cache of at most `capacity` responses, each served for at most `max_age`, invalidated
    /// again `settle` after the last change.
    pub fn new(capacity: usize, max_age: Duration, settle: Duration) -> Arc<Self> {
        Arc::new(Self {
            generation: AtomicU64::new(0),
            entries: RwLock::new(Entries::default()),
            capacity,
            max_age,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            settle,
            born: Instant::now(),
            last_change_ms: AtomicU64::new(0),
            trailing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// An event says something changed: invalidate now, and once more when the events have
    /// been quiet for the settling period. Needs a Tokio runtime.
    pub fn changed(self: &Arc<Self>) {
        self.invalidate();
        self.last_change_ms.store(self.now_ms(), Ordering::SeqCst);
        if self.trailing.swap(true, Ordering::SeqCst) {
            return; // The pending one will see this change's time.
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let settle = u64::try_from(cache.settle.as_millis()).unwrap_or(u64::MAX);
            loop {
                let due = cache
                    .last_change_ms
                    .load(Ordering::SeqCst)
                    .saturating_add(settle);
                let now = cache.now_ms();
                if now < due {
                    tokio::time::sleep(Duration::from_millis(due - now)).await;
                    continue;
                }
                cache.trailing.store(false, Ordering::SeqCst);
                cache.invalidate();
                // A change that came while the flag was still set found it taken: go round
                // again for it rather than leave it without its trailing invalidation.
                if cache
                    .last_change_ms
                    .load(Ordering::SeqCst)
                    .saturating_add(settle)
                    > cache.now_ms()
                    && !cache.trailing.swap(true, Ordering::SeqCst)
                {
                    continue;
                }
                break;
            }
        });
    }

    /// The current generation, to pass to [`Cache::put`] for a response computed from now on.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Something changed: nothing cached so far is served again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            *entries = Entries::default();
        }
    }

    /// The fresh entry for `key`, if any.
    pub fn get(&self, key: &str) -> Option<Entry> {
        let generation = self.generation();
        let found = self
            .entries
            .read()
            .ok()
            .and_then(|entries| entries.map.get(key).cloned())
            .filter(|e| e.generation == generation && e.made.elapsed() < self.max_age);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `entry`, computed from data read in `generation`, unless that generation has
    /// passed.
    pub fn put(&self, key: String, generation: u64, entry: Entry) -> Entry {
        let entry = Entry {
            generation,
            made: Instant::now(),
            ..entry
        };
        if self.capacity > 0
            && generation == self.generation()
            && let Ok(mut entries) = self.entries.write()
        {
            if entries.map.len() >= self.capacity || entries.bytes + entry.body.len() > MAX_BYTES {
                *entries = Entries::default();
            }
            // Checked again under the lock: an invalidation may have cleared the map since.
            if generation == self.generation() {
                entries.bytes += entry.body.len();
                if let Some(old) = entries.map.insert(key, entry.clone()) {
                    entries.bytes = entries.bytes.saturating_sub(old.body.len());
                }
            }
        }
        entry
    }

    /// Hits, misses and the hit ratio since start, in the Prometheus text format.
    pub fn prometheus(&self, text: &mut String) {
        use imprint_platform::metrics::sample;
        let (hits, misses) = self.stats();
        #[allow(clippy::cast_precision_loss)] // Counts far below 2^52.
        let (hits, misses) = (hits as f64, misses as f64);
        let total = hits + misses;
        sample(
            text,
            "imprint_gateway_cache_hits_total",
            "counter",
            "Public API answers served from the cache.",
            &[("", hits)],
        );
        sample(
            text,
            "imprint_gateway_cache_misses_total",
            "counter",
            "Public API answers computed.",
            &[("", misses)],
        );
        sample(
            text,
            "imprint_gateway_cache_hit_ratio",
            "gauge",
            "Share of public API answers served from the cache since start (0 before any).",
            &[("", if total > 0.0 { hits / total } else { 0.0 })],
        );
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// Computations in flight, by cache key: concurrent misses of one key wait for the first
/// one's answer instead of each asking the services (a popular page just invalidated would
/// otherwise cost the services one computation per waiting reader).
///
/// A flight belongs to the cache generation it started in: a request that comes after an
/// invalidation starts a flight of its own rather than take an answer read before the change.
/// If every request of a flight is dropped before it is done (their clients went away), the
/// next one computes it afresh.
#[derive(Debug)]
pub struct Flights<V> {
    map: std::sync::Mutex<HashMap<String, Flight<V>>>,
}

#[derive(Debug)]
struct Flight<V> {
    generation: u64,
    answer: Arc<tokio::sync::OnceCell<V>>,
}

/// Flights kept before those nobody waits for any more are swept out.
const FLIGHTS_BEFORE_SWEEP: usize = 1024;

impl<V> Default for Flights<V> {
    fn default() -> Self {
        Self {
            map: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> Flights<V> {
    /// The answer for `key` in `generation`: computed by `compute` if no request is computing
    /// it already, else the answer that one computes.
    pub async fn run<F, Fut>(&self, key: &str, generation: u64, compute: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = V>,
    {
        let answer = self.join(key, generation);
        let value = answer.get_or_init(compute).await.clone();
        if let Ok(mut map) = self.map.lock()
            && map
                .get(key)
                .is_some_and(|f| Arc::ptr_eq(&f.answer, &answer))
        {
            // Later requests find the answer in the cache (or, not stored, compute anew).
            map.remove(key);
        }
        value
    }

    fn join(&self, key: &str, generation: u64) -> Arc<tokio::sync::OnceCell<V>> {
        let Ok(mut map) = self.map.lock() else {
            // A poisoned map only costs the coalescing.
            return Arc::new(tokio::sync::OnceCell::new());
        };
        if let Some(flight) = map.get(key)
            && flight.generation == generation
        {
            return Arc::clone(&flight.answer);
        }
        if map.len() >= FLIGHTS_BEFORE_SWEEP {
            map.retain(|_, f| Arc::strong_count(&f.answer) > 1);
        }
        let answer = Arc::new(tokio::sync::OnceCell::new());
        map.insert(
            key.to_owned(),
            Flight {
                generation,
                answer: Arc::clone(&answer),
            },
        );
        answer
    }

    /// Flights now in the map (for tests).
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Whether no flight is in the map.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A strong ETag of `body`: 128 bits of its SHA-256.
pub fn etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    tag
}

/// Whether an `If-None-Match` header value matches `etag` (a list, `*`, or weak tags).
pub fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn concurrent_misses_of_one_key_are_computed_once() {
        let flights: Arc<Flights<u32>> = Arc::default();
        let computed = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut waiting = Vec::new();
        for _ in 0..50 {
            let (flights, computed, gate) = (flights.clone(), computed.clone(), gate.clone());
            waiting.push(tokio::spawn(async move {
                flights
                    .run("/v1/pages/a", 7, || async move {
                        computed.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        42
                    })
                    .await
            }));
        }
        // Every request is waiting on the one computation.
        while computed.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for w in waiting {
            assert_eq!(w.await.unwrap(), 42);
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty(), "a finished flight leaves the map");
        // Another key, or the same one after the flight landed, computes again.
        assert_eq!(flights.run("/v1/pages/a", 7, || async { 43 }).await, 43);
        assert_eq!(flights.run("/v1/pages/b", 7, || async { 44 }).await, 44);
    }

    #[tokio::test]
    async fn a_flight_from_before_a_change_is_not_joined_and_a_dropped_one_is_taken_over() {
        let flights: Arc<Flights<u32>> = Arc::default();
        let gate = Arc::new(tokio::sync::Notify::new());
        let stale = {
            let (flights, gate) = (flights.clone(), gate.clone());
            tokio::spawn(async move {
                flights
                    .run("/k", 1, || async move {
                        gate.notified().await;
                        1
                    })
                    .await
            })
        };
        while flights.is_empty() {
            tokio::task::yield_now().await;
        }
        // Generation 2 (an event came): its own computation, not the one in flight.
        assert_eq!(flights.run("/k", 2, || async { 2 }).await, 2);
        gate.notify_one();
        assert_eq!(stale.await.unwrap(), 1);
        // A flight whose only request is dropped mid-way: the next request computes.
        let hung = flights.run("/h", 3, std::future::pending::<u32>);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), hung)
                .await
                .is_err()
        );
        assert_eq!(flights.run("/h", 3, || async { 5 }).await, 5);
    }

    #[test]
    fn entries_die_with_their_generation() {
        let cache = Cache::new(10, Duration::from_secs(60), Duration::from_secs(1));
        let g = cache.generation();
        cache.put(
            "/a".into(),
            g,
            Entry::new(Bytes::from_static(b"one"), "application/json"),
        );
        assert_eq!(cache.get("/a").unwrap().body, "one");
        cache.invalidate();
        assert!(cache.get("/a").is_none());
        // Computed before the event, stored after it: never served.
        cache.put(
            "/a".into(),
            g,
            Entry::new(Bytes::from_static(b"stale"), "application/json"),
        );
        assert!(cache.get("/a").is_none());
        assert_eq!(cache.stats(), (1, 2));
    }

    #[test]
    fn capacity_and_age_bound_it() {
        let cache = Cache::new(2, Duration::from_millis(50), Duration::from_secs(1));
        for key in ["/a", "/b", "/c"] {
            cache.put(
                key.into(),
                0,
                Entry::new(Bytes::from_static(b"x"), "text/plain"),
            );
        }
        assert!(cache.get("/a").is_none() && cache.get("/c").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("/c").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_invalidates_again_once_events_settle() {
        let cache = Cache::new(10, Duration::from_secs(600), Duration::from_millis(1_000));
        let put = |body: &'static str| {
            cache.put(
                "/r".into(),
                cache.generation(),
                Entry::new(Bytes::from_static(body.as_bytes()), "text/plain"),
            );
        };
        cache.changed();
        // Cached from a read model that has not caught up yet.
        put("stale");
        tokio::time::sleep(Duration::from_millis(600)).await;
        cache.changed();
        put("still stale");
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(
            cache.get("/r").is_some(),
            "not yet: 1 s after the last change"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(cache.get("/r").is_none(), "gone once the changes settled");
        put("fresh");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            cache.get("/r").unwrap().body,
            "fresh",
            "no further invalidation"
        );
    }

    #[test]
    fn etags_match_lists_and_weak_forms() {
        let tag = etag(b"body");
        assert_eq!(tag.len(), 34);
        assert_ne!(tag, etag(b"other"));
        assert!(matches(&tag, &tag));
        assert!(matches(&format!("\"x\", W/{tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"x\"", &tag));
    }
}
