//! What a served rail of related publications hands out, sealed by a [`Signer`]: a
//! recommendation id per item (whose rail, which paper, at which position, for which partner)
//! and a view per serving of the rail. An interaction names both: the id what was shown or
//! clicked, the view that a rail was really served (views are made only by serving one, which a
//! partner's rate limit bounds). So nobody can make up pairs, and each impression and click
//! counts once per serving.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::signing::{Purpose, Signer};

/// Longest a view is good for: reports later than this are not counted.
pub const VIEW_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How far ahead of this machine's clock another's may be, for views it made.
const CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Longest partner name carried (a partner key's name has at most 100 characters).
const MAX_PARTNER_BYTES: usize = 400;
/// Most items of one rail: positions are one byte.
const MAX_POSITION: i32 = imprint_domain::limits::MAX_RAIL as i32;

/// One served item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The paper whose rail it was on.
    pub source: Uuid,
    /// The recommended paper.
    pub target: Uuid,
    /// Its position, from 1.
    pub position: i32,
    /// The partner it was served to ("" for first-party pages).
    pub partner: String,
}

/// One serving of a rail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Tells servings apart: 24 hex digits.
    pub id: String,
    /// The partner it was served to ("" for first-party pages).
    pub partner: String,
    /// When it was served.
    pub served_at: DateTime<Utc>,
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
        let mut payload = Vec::with_capacity(33 + self.partner.len());
        payload.extend_from_slice(self.source.as_bytes());
        payload.extend_from_slice(self.target.as_bytes());
        payload.push(u8::try_from(self.position.clamp(1, MAX_POSITION)).unwrap_or(1));
        payload.extend_from_slice(self.partner.as_bytes());
        signer.seal(Purpose::RecommendationId, b"", &payload)
    }

    /// The item a recommendation id was sealed for.
    pub fn open(signer: &Signer, id: &str) -> Result<Self, ServedError> {
        if id.len() > 2 * MAX_PARTNER_BYTES {
            return Err(ServedError::NotAnId);
        }
        let payload = signer
            .open(Purpose::RecommendationId, b"", id)
            .ok_or(ServedError::NotAnId)?;
        let (ids, rest) = payload.split_at_checked(32).ok_or(ServedError::NotAnId)?;
        let (position, partner) = rest.split_first().ok_or(ServedError::NotAnId)?;
        let (source, target) = ids.split_at(16);
        Ok(Self {
            source: Uuid::from_slice(source).map_err(|_| ServedError::NotAnId)?,
            target: Uuid::from_slice(target).map_err(|_| ServedError::NotAnId)?,
            position: i32::from(*position),
            partner: String::from_utf8(partner.to_vec()).map_err(|_| ServedError::NotAnId)?,
        })
    }
}

impl View {
    /// A new serving for `partner`, now.
    pub fn new(partner: &str) -> Self {
        let nonce = Uuid::new_v4().simple().to_string();
        Self {
            id: nonce[..24].to_owned(),
            partner: partner.to_owned(),
            served_at: Utc::now(),
        }
    }

    /// The token a client sends back as `view_id`.
    pub fn seal(&self, signer: &Signer) -> String {
        let mut payload = Vec::with_capacity(32 + self.partner.len());
        payload.extend_from_slice(self.id.as_bytes());
        payload.extend_from_slice(&self.served_at.timestamp().to_be_bytes());
        payload.extend_from_slice(self.partner.as_bytes());
        signer.seal(Purpose::View, b"", &payload)
    }

    /// The serving a `view_id` names, if it was made by this deployment within
    /// [`VIEW_LIFETIME`] of `now`.
    pub fn open(signer: &Signer, token: &str, now: DateTime<Utc>) -> Result<Self, ServedError> {
        if token.len() > 2 * MAX_PARTNER_BYTES {
            return Err(ServedError::NotAView);
        }
        let payload = signer
            .open(Purpose::View, b"", token)
            .ok_or(ServedError::NotAView)?;
        let (id, rest) = payload.split_at_checked(24).ok_or(ServedError::NotAView)?;
        let (secs, partner) = rest.split_at_checked(8).ok_or(ServedError::NotAView)?;
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
            partner: String::from_utf8(partner.to_vec()).map_err(|_| ServedError::NotAView)?,
            served_at,
        })
    }
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
            source: Uuid::now_v7(),
            target: Uuid::now_v7(),
            position: 3,
            partner: "Партнёр.org".to_owned(),
        };
        let id = served.seal(&s);
        assert_eq!(Served::open(&s, &id), Ok(served.clone()));
        // The old scheme: readable base64 anyone could write.
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!(
                "1|{}|{}|1|p",
                served.source.simple(),
                served.target.simple()
            ),
        );
        for bad in ["", "x", forged.as_str(), &"A".repeat(5000)] {
            assert_eq!(Served::open(&s, bad), Err(ServedError::NotAnId), "{bad}");
        }
        assert_eq!(
            Served::open(&s, &View::new("p").seal(&s)),
            Err(ServedError::NotAnId),
            "a view is not an id"
        );
    }

    #[test]
    fn views_expire() {
        let s = signer();
        let view = View::new("partner.example");
        let token = view.seal(&s);
        let opened = View::open(&s, &token, Utc::now()).unwrap();
        assert_eq!(
            (opened.id.len(), opened.partner.as_str()),
            (24, "partner.example")
        );
        assert_eq!(opened.id, view.id);
        let later = Utc::now() + chrono::Duration::hours(25);
        assert_eq!(View::open(&s, &token, later), Err(ServedError::Expired));
        let earlier = Utc::now() - chrono::Duration::hours(1);
        assert_eq!(View::open(&s, &token, earlier), Err(ServedError::Expired));
        assert_ne!(View::new("p").id, View::new("p").id);
    }
}
