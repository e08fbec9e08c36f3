//! The dispatcher: sends what the webhooks' outbox holds. One replica dispatches at a time
//! (PostgreSQL advisory lock, as the relay); each endpoint is worked by a task of its own, so
//! a slow or dead endpoint holds up only itself. An endpoint's deliveries of one aggregate go
//! in order (the next waits until the one before is delivered or given up); of different
//! aggregates, several at once. Each attempt is signed as Standard Webhooks says, logged, and
//! on failure retried with exponential backoff within the retry window; an endpoint failing
//! for `disable_after` is disabled, with the reason.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use imprint_domain::webhook::{RetryPolicy, UrlPolicy, reserved};
use imprint_platform::Database;
use imprint_platform::leader::Leadership;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::store::{Attempt, Delivery, Endpoint, Outcome, Status, WebhookStore};

/// How often the leader looks for due deliveries when nothing rang.
const POLL: Duration = Duration::from_millis(500);
/// Deliveries of one endpoint sent at once at most (of different aggregates).
const PER_ENDPOINT: u64 = 8;
/// Most of an endpoint's answer kept in the log.
const MAX_LOGGED: usize = 200;
/// How long delivered and given-up deliveries are kept for the log.
const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the leader forgets what is older than that.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How deliveries are sent, from `webhooks.*`.
#[derive(Debug, Clone, Copy)]
pub struct DispatchSettings {
    /// When a failed delivery is tried again.
    pub retry: RetryPolicy,
    /// How long an endpoint may take to answer.
    pub timeout: Duration,
    /// An endpoint whose deliveries have failed this long is disabled.
    pub disable_after: Duration,
    /// What endpoints may point at (checked again against the addresses a name resolves to).
    pub urls: UrlPolicy,
}

/// What the dispatcher did, for `/metrics`.
#[derive(Debug, Default)]
pub struct DispatchMetrics {
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    given_up: AtomicU64,
    disabled: AtomicU64,
}

impl DispatchMetrics {
    /// The counters in the Prometheus text format.
    pub fn prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        for (name, help, counter) in [
            (
                "imprint_webhooks_delivered_total",
                "Deliveries an endpoint answered 2xx.",
                &self.delivered,
            ),
            (
                "imprint_webhooks_failed_attempts_total",
                "Attempts that failed (retried within the window).",
                &self.failed_attempts,
            ),
            (
                "imprint_webhooks_given_up_total",
                "Deliveries given up after the retry window.",
                &self.given_up,
            ),
            (
                "imprint_webhooks_endpoints_disabled_total",
                "Endpoints disabled for failing too long.",
                &self.disabled,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
    }
}

/// Sends deliveries.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: WebhookStore,
    db: Database,
    client: reqwest::Client,
    settings: DispatchSettings,
    wake: Arc<tokio::sync::Notify>,
    metrics: Arc<DispatchMetrics>,
    /// Endpoints a worker is sending for now.
    busy: Arc<Mutex<HashSet<Uuid>>>,
}

/// Why the dispatcher cannot start.
#[derive(Debug, thiserror::Error)]
#[error("the webhooks' HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

impl Dispatcher {
    /// A dispatcher over `store` (in `db`), woken by `wake`.
    pub fn new(
        store: WebhookStore,
        db: Database,
        settings: DispatchSettings,
        wake: Arc<tokio::sync::Notify>,
        metrics: Arc<DispatchMetrics>,
    ) -> Result<Self, ClientError> {
        imprint_platform::tls::ensure_provider();
        let roots = imprint_platform::tls::mozilla_roots()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok());
        let client = reqwest::Client::builder()
            .tls_certs_merge(roots)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            // A redirect would send the signed body where nobody registered.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the endpoint's name itself, past the address check below.
            .no_proxy()
            .dns_resolver(Arc::new(Checked {
                allow_private: settings.urls.allow_private,
            }))
            .user_agent(concat!("imprint-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            db,
            client,
            settings,
            wake,
            metrics,
            busy: Arc::default(),
        })
    }

    /// Dispatches until `stop`, while this replica leads: the workers of one term of
    /// leadership stop when it ends, so that two replicas never send for one endpoint.
    pub async fn run(self, stop: CancellationToken) {
        let mut leadership = Leadership::new(&self.db, "imprint-webhooks");
        let mut term: Option<CancellationToken> = None;
        let mut pruned = Instant::now()
            .checked_sub(PRUNE_EVERY)
            .unwrap_or_else(Instant::now);
        loop {
            if leadership.ensure().await {
                let workers = term.get_or_insert_with(|| stop.child_token()).clone();
                if let Err(e) = self.start_workers(&workers).await {
                    tracing::warn!(error = %e, "reading webhook endpoints");
                }
                if pruned.elapsed() >= PRUNE_EVERY {
                    pruned = Instant::now();
                    self.prune().await;
                }
            } else if let Some(ended) = term.take() {
                ended.cancel();
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Forgets deliveries done with for longer than [`KEEP`].
    async fn prune(&self) {
        let before = Utc::now() - chrono::Duration::from_std(KEEP).unwrap_or(chrono::Duration::MAX);
        match self.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deliveries = n, "old webhook deliveries forgotten"),
            Err(e) => tracing::warn!(error = %e, "forgetting old webhook deliveries"),
        }
    }

    /// A worker for every enabled endpoint that has none running, stopping with `stop`.
    async fn start_workers(&self, stop: &CancellationToken) -> Result<(), sea_orm::DbErr> {
        for endpoint in self.store.enabled().await? {
            let claimed = self
                .busy
                .lock()
                .map(|mut busy| busy.insert(endpoint.id))
                .unwrap_or(false);
            if !claimed {
                continue;
            }
            let this = self.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let id = endpoint.id;
                tokio::select! {
                    () = stop.cancelled() => {}
                    result = this.work(id) => {
                        if let Err(e) = result {
                            tracing::warn!(endpoint = %id, error = %e, "webhook deliveries");
                        }
                    }
                }
                if let Ok(mut busy) = this.busy.lock() {
                    busy.remove(&id);
                }
            });
        }
        Ok(())
    }

    /// Sends what is due for endpoint `id` until nothing is, reading the endpoint afresh each
    /// round: an admin's change (a new URL, disabling it) counts from the next round.
    async fn work(&self, id: Uuid) -> Result<(), sea_orm::DbErr> {
        loop {
            let Some(endpoint) = self.store.find(id).await?.filter(|e| e.enabled) else {
                return Ok(());
            };
            let due = self
                .store
                .due(endpoint.id, Utc::now(), PER_ENDPOINT)
                .await?;
            if due.is_empty() {
                return Ok(());
            }
            let sent = futures::future::join_all(due.iter().map(|d| self.attempt(&endpoint, d)));
            let mut disabled = false;
            // Every outcome is recorded, those after the one that disabled the endpoint too.
            for (delivery, outcome) in due.iter().zip(sent.await) {
                disabled |= self.record(&endpoint, delivery, &outcome).await?;
            }
            if disabled {
                return Ok(());
            }
        }
    }

    /// Records `outcome`, counting what it did; whether it disabled the endpoint.
    async fn record(
        &self,
        endpoint: &Endpoint,
        d: &Delivery,
        outcome: &Outcome,
    ) -> Result<bool, sea_orm::DbErr> {
        let now = outcome.attempt.time;
        let limit = chrono::Duration::from_std(self.settings.disable_after)
            .unwrap_or(chrono::Duration::MAX);
        let reason = format!(
            "every delivery failed for {} hours (last: {})",
            self.settings.disable_after.as_secs() / 3600,
            outcome.attempt.error
        );
        let disabled = self.store.record(d, outcome, now - limit, &reason).await?;
        if outcome.status == Status::Failed {
            self.metrics.given_up.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = %endpoint.id, delivery = %d.id, "a webhook delivery is given up after its retry window");
        }
        if disabled {
            self.metrics.disabled.fetch_add(1, Ordering::Relaxed);
            tracing::error!(endpoint = %endpoint.id, url = %endpoint.url.as_str(), %reason, "webhook endpoint disabled");
        }
        Ok(disabled)
    }

    /// One attempt of `d`, and what follows from it.
    async fn attempt(&self, endpoint: &Endpoint, d: &Delivery) -> Outcome {
        let now = Utc::now();
        let started = Instant::now();
        let result = self.post(endpoint, d, now).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status_code, error) = match result {
            Ok(code) if (200..300).contains(&code) => (i32::from(code), String::new()),
            Ok(code) => (i32::from(code), format!("the endpoint answered {code}")),
            Err(e) => (0, e),
        };
        let attempt = Attempt {
            time: now,
            status_code,
            error,
            duration_ms,
        };
        if attempt.error.is_empty() {
            self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
            return Outcome {
                attempt,
                status: Status::Delivered,
                next_attempt_time: now,
            };
        }
        self.metrics.failed_attempts.fetch_add(1, Ordering::Relaxed);
        after_failure(&self.settings.retry, d, attempt, now)
    }

    /// POSTs `d` to `endpoint`, signed; the HTTP status, or why there is none.
    async fn post(
        &self,
        endpoint: &Endpoint,
        d: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<u16, String> {
        let timestamp = now.timestamp();
        let signature = sign(&endpoint.secret, &d.event_id, timestamp, &d.body)
            .ok_or_else(|| "the endpoint's secret is corrupt".to_owned())?;
        let response = self
            .client
            .post(endpoint.url.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

/// What follows from a failed attempt of `d` at `now`: the next try after the backoff, or
/// given up when that would be past the retry window from the first attempt.
fn after_failure(
    retry: &RetryPolicy,
    d: &Delivery,
    attempt: Attempt,
    now: DateTime<Utc>,
) -> Outcome {
    let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let first = d.first_attempt_time.unwrap_or(now);
    let failures = u32::try_from(d.failures).unwrap_or(0) + 1;
    let next = now + span(retry.backoff(failures));
    let status = if next - first > span(retry.window) {
        Status::Failed
    } else {
        Status::Pending
    };
    Outcome {
        attempt,
        status,
        next_attempt_time: next,
    }
}

/// Why a request got no answer, shortly.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no answer within the timeout".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text.chars().take(MAX_LOGGED).collect()
}

/// The `webhook-signature` of a delivery: `v1,` and the base64 HMAC-SHA256, with the secret's
/// key (the base64 after `whsec_`), of `id.timestamp.body`. `None` for a secret that is not one.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = Uuid::new_v4().into_bytes().to_vec();
    bytes.extend_from_slice(&Uuid::new_v4().into_bytes());
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Resolves names as the system does, and refuses addresses the server keeps to itself unless
/// they are allowed: checked at connection time, so a name that resolves elsewhere after
/// registration (DNS rebinding) reaches nothing private.
#[derive(Debug)]
struct Checked {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || reserved(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                return Err(format!("'{host}' resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(first: Option<DateTime<Utc>>, failures: i32) -> Delivery {
        let now = Utc::now();
        Delivery {
            id: Uuid::now_v7(),
            endpoint_id: Uuid::now_v7(),
            event_id: "e".into(),
            event_type: "paper.updated".into(),
            kind: "paper".into(),
            aggregate_id: Uuid::now_v7(),
            aggregate_version: 1,
            body: "{}".into(),
            status: Status::Pending,
            failures,
            next_attempt_time: now,
            first_attempt_time: first,
            create_time: now,
        }
    }

    #[test]
    fn failures_back_off_and_are_given_up_after_the_window() {
        let retry = RetryPolicy {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            window: Duration::from_secs(25 * 3600),
        };
        let now = Utc::now();
        let attempt = Attempt {
            time: now,
            status_code: 503,
            error: "the endpoint answered 503".into(),
            duration_ms: 3,
        };
        let first = after_failure(&retry, &pending(None, 0), attempt.clone(), now);
        assert_eq!(first.status, Status::Pending);
        assert_eq!(first.next_attempt_time, now + chrono::Duration::seconds(5));
        // Retried for a day: an hour apart at most, so some 30 attempts in 25 hours.
        let late = pending(Some(now - chrono::Duration::hours(24)), 20);
        let retried = after_failure(&retry, &late, attempt.clone(), now);
        assert_eq!(retried.status, Status::Pending);
        assert_eq!(retried.next_attempt_time, now + chrono::Duration::hours(1));
        let past = pending(
            Some(now - chrono::Duration::hours(24) - chrono::Duration::minutes(1)),
            21,
        );
        assert_eq!(
            after_failure(&retry, &past, attempt, now).status,
            Status::Failed
        );
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The specification's own example (standard-webhooks, spec/standard-webhooks.md).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1_614_265_330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", id, 0, body), None);
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }
}
