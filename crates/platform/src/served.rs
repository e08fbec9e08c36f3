//! What a served rail of related publications hands out, sealed by a [`Signer`]: a
//! recommendation id per item (whose rail, which paper, at which position, for which partner)
//! and a view per serving of the rail (whose rail, how many items, for which partner, when).
//! An interaction names both: the id what was shown or clicked, the view that this rail was
//! really served, with that item in it (views are made only by serving a rail, which a
//! partner's rate limit bounds). So nobody can make up pairs or positions, and each impression
//! and click counts once per serving.

use std::time::Duration;

use chrono::{DateTime, Utc};
use imprint_domain::PaperId;
use uuid::Uuid;

use crate::signing::{Purpose, Signer};

/// Longest a view is good for: reports later than this are not counted.
pub const VIEW_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How far ahead of this machine's clock another's may be, for views it made.
const CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Longest token taken back.
const MAX_TOKEN: usize = imprint_domain::limits::MAX_SERVED_TOKEN_BYTES;
/// Most items of one rail: positions are one byte.
const MAX_POSITION: i32 = imprint_domain::limits::MAX_RAIL as i32;

/// The paper id of 16 bytes.
fn paper_id(bytes: &[u8]) -> Option<PaperId> {
    Uuid::from_slice(bytes).ok().map(PaperId::from_uuid)
}

/// One served item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The paper whose rail it was on.
    pub source: PaperId,
    /// The recommended paper.
    pub target: PaperId,
    /// Its position, from 1.
    pub position: i32,
    /// The partner it was served to; `None` for first-party pages.
    pub partner: Option<String>,
}

/// One serving of a rail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Tells servings apart: 24 hex digits.
    pub id: String,
    /// The paper whose rail it was.
    pub source: PaperId,
    /// How many items it had: its positions are 1 to this.
    pub items: i32,
    /// The partner it was served to; `None` for first-party pages.
    pub partner: Option<String>,
    /// When it was served.
    pub served_at: DateTime<Utc>,
}

/// The partner's name as a token carries it: nothing for first-party pages.
fn partner_bytes(partner: Option<&String>) -> &[u8] {
    partner.map_or(&[], |p| p.as_bytes())
}

fn partner_from(bytes: &[u8]) -> Option<Option<String>> {
    if bytes.is_empty() {
        return Some(None);
    }
    String::from_utf8(bytes.to_vec()).ok().map(Some)
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ServedError {
    /// Not an id served by Imprint.
    #[error("is not a recommendation id served by GetRelatedPublications")]
    NotAnId,
    /// Not a view served by Imprint.
    #[error("is not a view_id served with a rail of related publications")]
    NotAView,
    /// Served too long ago.
    #[error("was served more than 24 hours ago; reports that late are not counted")]
    Expired,
}

impl Served {
    /// The item's recommendation id.
    pub fn seal(&self, signer: &Signer) -> String {
        let partner = partner_bytes(self.partner.as_ref());
        let mut payload = Vec::with_capacity(33 + partner.len());
        payload.extend_from_slice(self.source.as_uuid().as_bytes());
        payload.extend_from_slice(self.target.as_uuid().as_bytes());
        payload.push(u8::try_from(self.position.clamp(1, MAX_POSITION)).unwrap_or(1));
        payload.extend_from_slice(partner);
        signer.seal(Purpose::RecommendationId, b"", &payload)
    }

    /// The item a recommendation id was sealed for.
    pub fn open(signer: &Signer, id: &str) -> Result<Self, ServedError> {
        if id.len() > MAX_TOKEN {
            return Err(ServedError::NotAnId);
        }
        let payload = signer
            .open(Purpose::RecommendationId, b"", id)
            .ok_or(ServedError::NotAnId)?;
        let (ids, rest) = payload.split_at_checked(32).ok_or(ServedError::NotAnId)?;
        let (position, partner) = rest.split_first().ok_or(ServedError::NotAnId)?;
        let (source, target) = ids.split_at(16);
        Ok(Self {
            source: paper_id(source).ok_or(ServedError::NotAnId)?,
            target: paper_id(target).ok_or(ServedError::NotAnId)?,
            position: i32::from(*position),
            partner: partner_from(partner).ok_or(ServedError::NotAnId)?,
        })
    }
}

impl View {
    /// A new serving of the rail of `source`, with `items` items, for `partner`, now.
    pub fn new(source: PaperId, items: usize, partner: Option<&str>) -> Self {
        Self {
            id: nonce(),
            source,
            items: i32::try_from(items)
                .unwrap_or(MAX_POSITION)
                .min(MAX_POSITION),
            partner: partner.map(str::to_owned),
            served_at: Utc::now(),
        }
    }

    /// Another serving of the same rail, now: what a cached answer is served with each time.
    #[must_use]
    pub fn again(&self) -> Self {
        Self {
            id: nonce(),
            served_at: Utc::now(),
            ..self.clone()
        }
    }

    /// Whether `item` was on this serving's rail, for the same partner.
    pub fn holds(&self, item: &Served) -> bool {
        item.source == self.source
            && (1..=self.items).contains(&item.position)
            && item.partner == self.partner
    }

    /// The token a client sends back as `view_id`.
    pub fn seal(&self, signer: &Signer) -> String {
        let partner = partner_bytes(self.partner.as_ref());
        let mut payload = Vec::with_capacity(49 + partner.len());
        payload.extend_from_slice(self.id.as_bytes());
        payload.extend_from_slice(&self.served_at.timestamp().to_be_bytes());
        payload.extend_from_slice(self.source.as_uuid().as_bytes());
        payload.push(u8::try_from(self.items.clamp(0, MAX_POSITION)).unwrap_or(0));
        payload.extend_from_slice(partner);
        signer.seal(Purpose::View, b"", &payload)
    }

    /// The serving a `view_id` names, if it was made by this deployment within
    /// [`VIEW_LIFETIME`] of `now`.
    pub fn open(signer: &Signer, token: &str, now: DateTime<Utc>) -> Result<Self, ServedError> {
        if token.len() > MAX_TOKEN {
            return Err(ServedError::NotAView);
        }
        let payload = signer
            .open(Purpose::View, b"", token)
            .ok_or(ServedError::NotAView)?;
        let (id, rest) = payload.split_at_checked(24).ok_or(ServedError::NotAView)?;
        let (secs, rest) = rest.split_at_checked(8).ok_or(ServedError::NotAView)?;
        let (source, rest) = rest.split_at_checked(16).ok_or(ServedError::NotAView)?;
        let (items, partner) = rest.split_first().ok_or(ServedError::NotAView)?;
        let secs = i64::from_be_bytes(secs.try_into().map_err(|_| ServedError::NotAView)?);
        let served_at = DateTime::from_timestamp(secs, 0).ok_or(ServedError::NotAView)?;
        let age = now.signed_duration_since(served_at);
        let lifetime = chrono::Duration::from_std(VIEW_LIFETIME).unwrap_or(chrono::Duration::MAX);
        let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap_or(chrono::Duration::zero());
        if age > lifetime || age < -skew {
            return Err(ServedError::Expired);
        }
        Ok(Self {
            id: String::from_utf8(id.to_vec()).map_err(|_| ServedError::NotAView)?,
            source: paper_id(source).ok_or(ServedError::NotAView)?,
            items: i32::from(*items),
            partner: partner_from(partner).ok_or(ServedError::NotAView)?,
            served_at,
        })
    }
}

/// 24 hex digits no other serving has: a random prefix per process (48 bits: processes of one
/// deployment do not meet) and a counter. It need not be secret, only unique: the view is
/// sealed, so knowing the next one does not let anybody make it.
fn nonce() -> String {
    static PREFIX: std::sync::LazyLock<u128> =
        std::sync::LazyLock::new(|| Uuid::new_v4().as_u128());
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{:012x}{:012x}",
        *PREFIX & 0xffff_ffff_ffff,
        n & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signer() -> Signer {
        Signer::new(&["the served tokens' test key, 32 bytes long".to_owned()]).unwrap()
    }

    #[test]
    fn ids_round_trip_and_cannot_be_made_up() {
        let s = signer();
        let served = Served {
            source: PaperId::generate(),
            target: PaperId::generate(),
            position: 3,
            partner: Some("Партнёр.org".to_owned()),
        };
        let id = served.seal(&s);
        assert_eq!(Served::open(&s, &id), Ok(served.clone()));
        // The old scheme: readable base64 anyone could write.
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!(
                "1|{}|{}|1|p",
                served.source.as_uuid().simple(),
                served.target.as_uuid().simple()
            ),
        );
        for bad in ["", "x", forged.as_str(), &"A".repeat(5000)] {
            assert_eq!(Served::open(&s, bad), Err(ServedError::NotAnId), "{bad}");
        }
        assert_eq!(
            Served::open(&s, &View::new(served.source, 3, None).seal(&s)),
            Err(ServedError::NotAnId),
            "a view is not an id"
        );
        let first_party = Served {
            partner: None,
            ..served
        };
        assert_eq!(Served::open(&s, &first_party.seal(&s)), Ok(first_party));
    }

    #[test]
    fn views_hold_the_items_of_their_rail_only() {
        let source = PaperId::generate();
        let view = View::new(source, 2, Some("p"));
        let item = |source, position, partner: Option<&str>| Served {
            source,
            target: PaperId::generate(),
            position,
            partner: partner.map(str::to_owned),
        };
        assert!(view.holds(&item(source, 1, Some("p"))));
        assert!(view.holds(&item(source, 2, Some("p"))));
        assert!(
            !view.holds(&item(source, 3, Some("p"))),
            "past the rail's length"
        );
        assert!(
            !view.holds(&item(PaperId::generate(), 1, Some("p"))),
            "another paper's rail"
        );
        assert!(
            !view.holds(&item(source, 1, None)),
            "served to someone else"
        );
        let again = view.again();
        assert_ne!(again.id, view.id);
        assert_eq!((again.source, again.items), (view.source, view.items));
    }

    #[test]
    fn views_expire() {
        let s = signer();
        let view = View::new(PaperId::generate(), 3, Some("partner.example"));
        let token = view.seal(&s);
        let opened = View::open(&s, &token, Utc::now()).unwrap();
        let truncated = View {
            served_at: DateTime::from_timestamp(view.served_at.timestamp(), 0).unwrap(),
            ..view.clone()
        };
        assert_eq!(opened, truncated);
        let later = Utc::now() + chrono::Duration::hours(25);
        assert_eq!(View::open(&s, &token, later), Err(ServedError::Expired));
        let earlier = Utc::now() - chrono::Duration::hours(1);
        assert_eq!(View::open(&s, &token, earlier), Err(ServedError::Expired));
        assert_ne!(
            View::new(view.source, 1, None).id,
            View::new(view.source, 1, None).id
        );
    }
}
