//! How partner keys' rate limits are spent. A key's allowance is a token bucket (a burst of ten
//! seconds' worth, then the rate), kept apart for browsers and for servers: browsers send an
//! `Origin` (a page cannot choose it), requests without one come from servers, which anyone
//! who has copied the public key can run, so those cannot spend what the partner's visitors
//! share. Within each, one client (an address) may take only a share of the key's rate: a
//! client that forges an `Origin` to look like a browser slows itself down, not the partner's
//! readers. (Where no address names one client, as behind a proxy nobody said to trust, only
//! the key's allowance applies.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::Partner;

/// Who spends a key's allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// A page at one of the key's origins (it sent an `Origin`).
    Browser,
    /// Anything without an `Origin`.
    Server,
}

/// The part of a key's rate one client address may take.
const CLIENT_SHARE: u32 = 10;
/// What one client may take of any key at least, per minute: a reader paging through a
/// partner's site is never held back by a small key.
const MIN_CLIENT_PER_MINUTE: u32 = 60;
/// Client buckets kept before idle ones are dropped (an idle bucket is full: dropping it
/// changes nothing).
const MAX_CLIENTS: usize = 100_000;

/// A token bucket that allows a burst of ten seconds' worth of its rate.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(per_minute: u32, now: Instant) -> Self {
        Self {
            tokens: capacity(per_minute),
            last: now,
        }
    }

    /// Refills for the time since it was last used; whether a request may be taken, or when
    /// one may.
    fn refill(&mut self, per_minute: u32, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(per_minute) / 60.0;
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate)
            .min(capacity(per_minute));
        self.last = now;
        if self.tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

fn capacity(per_minute: u32) -> f64 {
    (f64::from(per_minute) / 6.0).max(1.0)
}

/// Token buckets by key and kind of client, and by key and client address.
#[derive(Debug, Default)]
pub(super) struct Limiter {
    keys: Mutex<HashMap<(Uuid, ClientKind), Bucket>>,
    clients: Mutex<HashMap<(Uuid, IpAddr), Bucket>>,
}

impl Limiter {
    /// Takes one request from `partner`'s allowance for `kind`, and from `client`'s share of
    /// it when the address is known; or says when to try again.
    pub(super) fn admit(
        &self,
        partner: &Partner,
        kind: ClientKind,
        client: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        let share = (partner.per_minute / CLIENT_SHARE).max(MIN_CLIENT_PER_MINUTE);
        let (Ok(mut keys), Ok(mut clients)) = (self.keys.lock(), self.clients.lock()) else {
            return Ok(());
        };
        if clients.len() >= MAX_CLIENTS {
            clients.retain(|_, b| now.duration_since(b.last) < Duration::from_secs(60));
        }
        let key = keys
            .entry((partner.id, kind))
            .or_insert_with(|| Bucket::full(partner.per_minute, now));
        key.refill(partner.per_minute, now)?;
        if let Some(client) = client {
            let mine = clients
                .entry((partner.id, client))
                .or_insert_with(|| Bucket::full(share, now));
            mine.refill(share, now)?;
            mine.tokens -= 1.0;
        }
        key.tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn partner(per_minute: u32) -> Partner {
        Partner {
            id: Uuid::now_v7(),
            name: "example.org".into(),
            origins: vec![],
            per_minute,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_allow_bursts_then_the_rate() {
        let limiter = Limiter::default();
        let partner = partner(60);
        for _ in 0..10 {
            limiter.admit(&partner, ClientKind::Browser, None).unwrap();
        }
        let wait = limiter
            .admit(&partner, ClientKind::Browser, None)
            .unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        limiter
            .admit(&partner, ClientKind::Server, None)
            .expect("servers draw on a budget of their own");
        tokio::time::sleep(Duration::from_secs(1)).await;
        limiter.admit(&partner, ClientKind::Browser, None).unwrap();
        assert!(limiter.admit(&partner, ClientKind::Browser, None).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn one_client_takes_only_its_share() {
        let limiter = Limiter::default();
        let partner = partner(6_000);
        let forger: IpAddr = "203.0.113.7".parse().unwrap();
        let reader: IpAddr = "198.51.100.20".parse().unwrap();
        // A share is a tenth of 6,000 a minute: a burst of 100.
        let taken = (0..1_000)
            .take_while(|_| {
                limiter
                    .admit(&partner, ClientKind::Browser, Some(forger))
                    .is_ok()
            })
            .count();
        assert_eq!(taken, 100);
        for _ in 0..50 {
            limiter
                .admit(&partner, ClientKind::Browser, Some(reader))
                .expect("the partner's readers are still served");
        }
    }
}
