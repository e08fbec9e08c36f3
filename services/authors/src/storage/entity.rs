//! The `authors` table as a sea-orm entity. Positions are stored as a JSON array: they are
//! always read and written with their author, never queried on their own.

// sea-orm's derives generate public items (Column, ActiveModel, …) reached only through this
// private module.
#![allow(unreachable_pub)]

use sea_orm::entity::prelude::*;

/// One author row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authors")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Current slug (every slug ever held is in `author_slugs`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The name folded for search and ordering: ASCII, lowercase.
    pub name_key: String,
    /// Biography.
    pub bio: String,
    /// JSON array of `{title, organization}`.
    pub positions: String,
    /// Canonical ORCID iD.
    pub orcid: Option<String>,
    /// Portrait URL.
    pub photo_url: Option<String>,
    /// The uploaded portrait, as JSON of its key, alt text and facts.
    pub photo: Option<String>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Creation time.
    pub create_time: DateTimeUtc,
    /// Last save.
    pub update_time: DateTimeUtc,
    /// Papers crediting the author (read model of paper events).
    pub paper_count: i32,
}

/// No relations: slugs are handled by the shared slug registry.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
