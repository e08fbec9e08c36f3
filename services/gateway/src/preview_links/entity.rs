//! The `preview_links` table as a sea-orm entity.

// sea-orm's derives generate public items reached only through this private module.
#![allow(unreachable_pub)]

use sea_orm::entity::prelude::*;

/// One preview link.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "preview_links")]
pub struct Model {
    /// UUIDv7; what the link's token seals.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The paper it shows.
    pub paper_id: Uuid,
    /// When it stops working.
    pub expire_time: DateTimeUtc,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Revocation time.
    pub revoke_time: Option<DateTimeUtc>,
    pub creator_subject: Option<String>,
    pub creator_role: Option<String>,
    pub revoker_subject: Option<String>,
    pub revoker_role: Option<String>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
