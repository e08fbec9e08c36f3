//! Partner keys: publishable keys that partner sites embed the widget with, each bound to
//! the partner's origins and to a rate limit, stored hashed in the gateway's own database.
//!
//! The public API looks keys up in memory: every working key's hash, reloaded from the
//! database every second (so that a key created or revoked on another gateway replica works
//! or stops within a second) and at once after a change made here.

mod entity;
pub mod grpc;
mod limiter;
pub(crate) mod migration;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use imprint_domain::Violations;
use imprint_domain::limits::{MAX_ORIGINS, MAX_PARTNER_CHARS};
use imprint_platform::{Database, ServiceError};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use entity::Model as StoredKey;
pub use limiter::ClientKind;
use limiter::Limiter;

/// Requests a minute when the admin does not say.
pub const DEFAULT_PER_MINUTE: i32 = 600;
/// The most requests a minute a key may be given.
pub const MAX_PER_MINUTE: i32 = 100_000;

/// What the public API needs to know of a working key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The key's id.
    pub id: Uuid,
    /// The partner's name.
    pub name: String,
    /// Origins allowed to use it from a browser.
    pub origins: Vec<String>,
    /// Its rate limit.
    pub per_minute: u32,
}

impl Partner {
    /// Whether a page at `origin` may use the key.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

/// Partner keys and their rate limits.
#[derive(Debug)]
pub struct Keys {
    /// The gateway's database.
    db: Database,
    /// Working keys by the SHA-256 of the key, hex.
    active: RwLock<HashMap<String, Arc<Partner>>>,
    /// Rate limits.
    limiter: Limiter,
}

/// SHA-256 of a key, hex.
fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why an origin was refused (the origin as sent, shortened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not a URL.
    #[error("'{origin}' is not an origin ({reason}); use scheme://host[:port]")]
    NotAUrl {
        /// As sent.
        origin: String,
        /// What the URL parser found.
        reason: url::ParseError,
    },
    /// Not http or https, or no host.
    #[error("'{0}' is not an http(s) origin")]
    NotHttp(String),
    /// A path, query or fragment after the host.
    #[error("'{0}' has a path; an origin is scheme://host[:port] only")]
    HasPath(String),
}

/// `scheme://host[:port]` of an origin as browsers send it, or why it is not one.
pub fn normalize_origin(origin: &str) -> Result<String, OriginError> {
    let shown = || imprint_domain::shorten(origin);
    let url = url::Url::parse(origin.trim()).map_err(|reason| OriginError::NotAUrl {
        origin: shown(),
        reason,
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(OriginError::NotHttp(shown()));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(OriginError::HasPath(shown()));
    }
    Ok(url.origin().ascii_serialization())
}

impl Keys {
    /// The keys in `db` (migrated), loaded.
    pub async fn open(db: Database) -> Result<Arc<Self>, ServiceError> {
        let keys = Arc::new(Self {
            db,
            active: RwLock::new(HashMap::new()),
            limiter: Limiter::default(),
        });
        keys.reload().await?;
        Ok(keys)
    }

    /// Reads the working keys again.
    pub async fn reload(&self) -> Result<(), ServiceError> {
        let rows = entity::Entity::find()
            .filter(entity::Column::RevokeTime.is_null())
            .all(self.db.conn())
            .await?;
        let active = rows
            .into_iter()
            .map(|row| {
                let origins: Vec<String> =
                    serde_json::from_str(&row.allowed_origins).unwrap_or_default();
                (
                    row.key_hash,
                    Arc::new(Partner {
                        id: row.id,
                        name: row.partner,
                        origins,
                        per_minute: u32::try_from(row.requests_per_minute).unwrap_or(1).max(1),
                    }),
                )
            })
            .collect();
        if let Ok(mut slot) = self.active.write() {
            *slot = active;
        }
        Ok(())
    }

    /// Reloads every second until `stop`, for changes made through other replicas.
    pub async fn follow(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "reloading partner keys; keeping the ones held");
            }
        }
    }

    /// The partner of a working `key`.
    pub fn lookup(&self, key: &str) -> Option<Arc<Partner>> {
        if key.len() > 100 {
            return None;
        }
        self.active.read().ok()?.get(&hash(key)).cloned()
    }

    /// Takes one request from `partner`'s allowance for `kind`, and from `client`'s share of
    /// it when the address is known; or says when to try again.
    pub fn admit(
        &self,
        partner: &Partner,
        kind: ClientKind,
        client: Option<std::net::IpAddr>,
    ) -> Result<(), Duration> {
        self.limiter.admit(partner, kind, client)
    }

    /// Creates a key; returns it stored, and the key itself.
    pub async fn create(
        &self,
        partner: &str,
        origins: &[String],
        per_minute: i32,
        actor: &imprint_domain::Actor,
    ) -> Result<(StoredKey, String), ServiceError> {
        let mut violations = Violations::new();
        let partner = partner.trim();
        if partner.is_empty()
            || partner.chars().count() > MAX_PARTNER_CHARS
            || partner.chars().any(char::is_control)
        {
            violations.push(
                "partner",
                format!("required: 1 to {MAX_PARTNER_CHARS} characters, no control characters"),
            );
        }
        if origins.is_empty() || origins.len() > MAX_ORIGINS {
            violations.push(
                "allowed_origins",
                format!("from 1 to {MAX_ORIGINS} origins (scheme://host[:port])"),
            );
        }
        let mut normalized = Vec::new();
        for (i, origin) in origins.iter().enumerate() {
            match normalize_origin(origin) {
                Ok(o) if !normalized.contains(&o) => normalized.push(o),
                Ok(_) => {}
                Err(e) => violations.push(format!("allowed_origins[{i}]"), e),
            }
        }
        let per_minute = if per_minute == 0 {
            DEFAULT_PER_MINUTE
        } else {
            per_minute
        };
        if !(1..=MAX_PER_MINUTE).contains(&per_minute) {
            violations.push(
                "requests_per_minute",
                format!("from 1 to {MAX_PER_MINUTE} (0 for the default, {DEFAULT_PER_MINUTE})"),
            );
        }
        if !violations.is_empty() {
            return Err(ServiceError::Invalid(violations));
        }
        let mut random = Uuid::new_v4().into_bytes().to_vec();
        random.extend_from_slice(&Uuid::new_v4().into_bytes());
        let key = format!(
            "pk_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        let creator = crate::actors::columns(actor);
        let row = entity::ActiveModel {
            id: Set(Uuid::now_v7()),
            partner: Set(partner.to_owned()),
            key_hash: Set(hash(&key)),
            key_prefix: Set(key.chars().take(10).collect()),
            allowed_origins: Set(
                serde_json::to_string(&normalized).unwrap_or_else(|_| "[]".to_owned())
            ),
            requests_per_minute: Set(per_minute),
            create_time: Set(Utc::now()),
            revoke_time: Set(None),
            creator_subject: Set(creator.0),
            creator_role: Set(creator.1),
            revoker_subject: Set(None),
            revoker_role: Set(None),
        }
        .insert(self.db.conn())
        .await?;
        self.reload().await?;
        tracing::info!(partner = %row.partner, id = %row.id, "partner key created");
        Ok((row, key))
    }

    /// Keys, newest first.
    pub async fn list(&self, include_revoked: bool) -> Result<Vec<StoredKey>, ServiceError> {
        let mut query = entity::Entity::find().order_by_desc(entity::Column::CreateTime);
        if !include_revoked {
            query = query.filter(entity::Column::RevokeTime.is_null());
        }
        Ok(query.all(self.db.conn()).await?)
    }

    /// Revokes the key with `id`; it stops working in this process before this returns.
    pub async fn revoke(
        &self,
        id: &str,
        actor: &imprint_domain::Actor,
    ) -> Result<StoredKey, ServiceError> {
        let uuid = Uuid::parse_str(id.trim())
            .map_err(|_| Violations::one("id", "is not a partner key id"))?;
        let row = entity::Entity::find_by_id(uuid)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ServiceError::not_found("partner key", id))?;
        let row = if row.revoke_time.is_some() {
            row
        } else {
            let mut active: entity::ActiveModel = row.into();
            active.revoke_time = Set(Some(Utc::now()));
            let (subject, role) = crate::actors::columns(actor);
            active.revoker_subject = Set(subject);
            active.revoker_role = Set(role);
            active.update(self.db.conn()).await?
        };
        self.reload().await?;
        tracing::info!(partner = %row.partner, id = %row.id, "partner key revoked");
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origins_normalize_or_say_why() {
        assert_eq!(
            normalize_origin("https://Example.org").unwrap(),
            "https://example.org"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8000/").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            normalize_origin("https://example.org:443").unwrap(),
            "https://example.org"
        );
        assert!(
            normalize_origin("https://example.org/widget")
                .unwrap_err()
                .to_string()
                .contains("path")
        );
        assert!(normalize_origin("ftp://example.org").is_err());
        assert!(normalize_origin("example.org").is_err());
    }
}
