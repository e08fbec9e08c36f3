//! Preview links: a signed, expiring link to one unpublished paper, for readers without an
//! account (outside reviewers, the communications team before an embargo lifts). The token
//! seals the link's id and expiry with the deployment's signing keys, so a forged or expired
//! token is refused without asking the database; a sealed one is then looked up, so a revoked
//! link stops working at once on every gateway replica.

mod entity;
pub mod grpc;
pub(crate) mod migration;

use chrono::{DateTime, TimeDelta, Utc};
use imprint_domain::{Actor, PaperId, Violations};
use imprint_platform::clients::Peer;
use imprint_platform::signing::{Purpose, Signer};
use imprint_platform::{Database, ServiceError};
use imprint_proto::papers::paper_service_client::PaperServiceClient;
use imprint_proto::papers::{GetPaperRequest, PaperStatus, PaperView, get_paper_request};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use tonic::Code;
use uuid::Uuid;

pub use entity::Model as StoredLink;

/// A link's lifetime when the editor does not say.
pub const DEFAULT_LIFETIME: TimeDelta = TimeDelta::days(7);
/// The longest a link may work.
pub const MAX_LIFETIME: TimeDelta = TimeDelta::days(30);
/// The shortest.
pub const MIN_LIFETIME: TimeDelta = TimeDelta::minutes(1);

/// What a token seals: the link's id, then its expiry in Unix seconds (big-endian).
const SEALED_BYTES: usize = 16 + 8;

/// Preview links in the gateway's database.
#[derive(Debug, Clone)]
pub struct Links {
    /// The gateway's database.
    db: Database,
    /// Seals and opens tokens.
    signer: Signer,
    /// Asked what a link is made for.
    papers: PaperServiceClient<Peer>,
}

impl Links {
    /// Links in `db` (migrated), sealed by `signer`, checking papers through `papers`.
    pub fn new(db: Database, signer: Signer, papers: Peer) -> Self {
        Self {
            db,
            signer,
            papers: PaperServiceClient::new(papers),
        }
    }

    /// A link to the unpublished paper `paper_id`, working for `lifetime_seconds` (0: the
    /// default); the stored link and its token.
    pub async fn create(
        &self,
        paper_id: &str,
        lifetime_seconds: i64,
        actor: &Actor,
    ) -> Result<(StoredLink, String), ServiceError> {
        let mut violations = Violations::new();
        let paper = PaperId::parse(paper_id.trim()).map_err(|e| violations.push("paper_id", e));
        let lifetime =
            lifetime(lifetime_seconds).map_err(|e| violations.push("lifetime_seconds", e));
        let (Ok(paper), Ok(lifetime)) = (paper, lifetime) else {
            return Err(ServiceError::Invalid(violations));
        };
        self.check_unpublished(paper).await?;
        let now = imprint_domain::time::now();
        let creator = crate::actors::columns(actor);
        let row = entity::ActiveModel {
            id: Set(Uuid::now_v7()),
            paper_id: Set(paper.as_uuid()),
            // Whole seconds: what the token seals.
            expire_time: Set(
                DateTime::from_timestamp((now + lifetime).timestamp(), 0).unwrap_or(now)
            ),
            create_time: Set(now),
            revoke_time: Set(None),
            creator_subject: Set(creator.0),
            creator_role: Set(creator.1),
            revoker_subject: Set(None),
            revoker_role: Set(None),
        }
        .insert(self.db.conn())
        .await?;
        let token = self.token(&row);
        tracing::info!(paper_id = %paper, id = %row.id, expires = %row.expire_time, "preview link created");
        Ok((row, token))
    }

    /// Refuses a paper that is missing, or public already (its page is there for everyone).
    async fn check_unpublished(&self, paper: PaperId) -> Result<(), ServiceError> {
        let found = self
            .papers
            .clone()
            .get_paper(GetPaperRequest {
                key: Some(get_paper_request::Key::Id(paper.to_string())),
                view: PaperView::Basic.into(),
                published_only: false,
            })
            .await;
        match found {
            Ok(r)
                if r.get_ref()
                    .paper
                    .as_ref()
                    .is_some_and(|p| p.status() == PaperStatus::Published) =>
            {
                Err(ServiceError::FailedPrecondition(format!(
                    "paper {paper} is published: share its public page instead of a preview link"
                )))
            }
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::NotFound => {
                Err(ServiceError::not_found("paper", paper.to_string()))
            }
            Err(s) => Err(ServiceError::Unavailable(format!(
                "the papers service: {}",
                s.message()
            ))),
        }
    }

    fn token(&self, row: &StoredLink) -> String {
        let mut payload = Vec::with_capacity(SEALED_BYTES);
        payload.extend_from_slice(row.id.as_bytes());
        payload.extend_from_slice(&row.expire_time.timestamp().to_be_bytes());
        self.signer.seal(Purpose::PreviewLink, b"", &payload)
    }

    /// A paper's links, newest first.
    pub async fn list(&self, paper_id: &str) -> Result<Vec<StoredLink>, ServiceError> {
        let paper = PaperId::parse(paper_id.trim()).map_err(|e| Violations::one("paper_id", e))?;
        Ok(entity::Entity::find()
            .filter(entity::Column::PaperId.eq(paper.as_uuid()))
            .order_by_desc(entity::Column::Id)
            .all(self.db.conn())
            .await?)
    }

    /// Revokes the link `id`; it stops working before this returns.
    pub async fn revoke(&self, id: &str, actor: &Actor) -> Result<StoredLink, ServiceError> {
        let uuid = Uuid::parse_str(id.trim())
            .map_err(|_| Violations::one("id", "is not a preview link id"))?;
        let row = entity::Entity::find_by_id(uuid)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ServiceError::not_found("preview link", id))?;
        if row.revoke_time.is_some() {
            return Ok(row);
        }
        let mut active: entity::ActiveModel = row.into();
        active.revoke_time = Set(Some(imprint_domain::time::now()));
        let (subject, role) = crate::actors::columns(actor);
        active.revoker_subject = Set(subject);
        active.revoker_role = Set(role);
        let row = active.update(self.db.conn()).await?;
        tracing::info!(paper_id = %row.paper_id, id = %row.id, "preview link revoked");
        Ok(row)
    }

    /// The paper a working `token` shows; `None` for a token that is forged, expired, revoked
    /// or unknown, all alike.
    pub async fn resolve(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PaperId>, ServiceError> {
        let Some(sealed) = self.signer.open(Purpose::PreviewLink, b"", token) else {
            return Ok(None);
        };
        let Some((id, expiry)) = unseal(&sealed) else {
            return Ok(None);
        };
        if expiry <= now.timestamp() {
            return Ok(None);
        }
        let row = entity::Entity::find_by_id(id).one(self.db.conn()).await?;
        Ok(row
            .filter(|r| r.revoke_time.is_none() && r.expire_time > now)
            .map(|r| PaperId::from_uuid(r.paper_id)))
    }
}

/// The lifetime asked for, or why it cannot be.
fn lifetime(seconds: i64) -> Result<TimeDelta, String> {
    if seconds == 0 {
        return Ok(DEFAULT_LIFETIME);
    }
    let asked =
        TimeDelta::try_seconds(seconds).filter(|d| (MIN_LIFETIME..=MAX_LIFETIME).contains(d));
    asked.ok_or_else(|| {
        format!(
            "from {} to {} seconds ({} days), or 0 for {} days",
            MIN_LIFETIME.num_seconds(),
            MAX_LIFETIME.num_seconds(),
            MAX_LIFETIME.num_days(),
            DEFAULT_LIFETIME.num_days()
        )
    })
}

/// The link id and expiry a token sealed.
fn unseal(sealed: &[u8]) -> Option<(Uuid, i64)> {
    if sealed.len() != SEALED_BYTES {
        return None;
    }
    let (id, expiry) = sealed.split_at(16);
    Some((
        Uuid::from_slice(id).ok()?,
        i64::from_be_bytes(expiry.try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lifetimes_are_bounded() {
        assert_eq!(lifetime(0), Ok(DEFAULT_LIFETIME));
        assert_eq!(lifetime(60), Ok(TimeDelta::minutes(1)));
        assert_eq!(lifetime(2_592_000), Ok(MAX_LIFETIME));
        for bad in [-1, 59, 2_592_001, i64::MAX] {
            assert!(lifetime(bad).unwrap_err().contains("30 days"), "{bad}");
        }
    }

    #[test]
    fn only_what_was_sealed_unseals() {
        let id = Uuid::now_v7();
        let mut sealed = id.as_bytes().to_vec();
        sealed.extend_from_slice(&42_i64.to_be_bytes());
        assert_eq!(unseal(&sealed), Some((id, 42)));
        assert_eq!(unseal(&sealed[..20]), None);
        assert_eq!(unseal(&[]), None);
    }
}
