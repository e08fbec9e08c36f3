//! The `partner_keys` table as a sea-orm entity.

// sea-orm's derives generate public items reached only through this private module.
#![allow(unreachable_pub)]

use sea_orm::entity::prelude::*;

/// One partner key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_keys")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The partner's name, recorded with what is served through the key.
    pub partner: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The key's first characters, for people telling keys apart.
    pub key_prefix: String,
    /// JSON array of origins.
    pub allowed_origins: String,
    /// The rate limit.
    pub requests_per_minute: i32,
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
