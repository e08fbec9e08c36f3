//! The read model's tables as sea-orm entities. Topics, author ids and override lists are JSON
//! arrays on their rows: the read model reads a paper or a paper's overrides whole, and filters
//! on none of them in SQL (its indexes are in memory).

// sea-orm's derives generate public items (Column, ActiveModel, …) reached only through this
// private module.
#![allow(unreachable_pub)]

/// `rec_papers`: each paper as the latest event described it; tombstones for papers that are
/// not public, so that an older event cannot bring them back.
pub mod rec_paper {
    use sea_orm::entity::prelude::*;

    /// One paper row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_papers")]
    pub struct Model {
        /// The paper's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The aggregate version of the last event applied.
        pub version: i64,
        /// Whether it is public.
        pub published: bool,
        /// Current slug.
        pub slug: String,
        /// The id where it was imported from.
        pub external_id: Option<String>,
        /// Title.
        pub title: String,
        /// Summary.
        pub summary: String,
        /// Full text.
        pub body: String,
        /// The domain's name of its type; none for a tombstone.
        pub publication_type: Option<String>,
        /// JSON array of topics as written.
        pub topics: String,
        /// JSON array of author ids in byline order.
        pub author_ids: String,
        /// When published.
        pub publish_time: Option<DateTimeUtc>,
        /// JSON of its programs', regions' and series' ids.
        pub terms: String,
        /// JSON of its cover image; none for none.
        pub cover: Option<String>,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_terms`: each taxonomy term as the latest `term.*` event described it.
pub mod rec_term {
    use sea_orm::entity::prelude::*;

    /// One term row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_terms")]
    pub struct Model {
        /// The term's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The aggregate version of the last event applied.
        pub version: i64,
        /// The domain's name of its vocabulary.
        pub vocabulary: String,
        /// Current slug.
        pub slug: String,
        /// Name.
        pub name: String,
        /// The region a country is in.
        pub parent_id: Option<Uuid>,
        /// The term it was merged into.
        pub merged_into: Option<Uuid>,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_term_slugs`: every slug that resolves to a term, per vocabulary.
pub mod rec_term_slug {
    use sea_orm::entity::prelude::*;

    /// One slug.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_term_slugs")]
    pub struct Model {
        /// The vocabulary's name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub vocabulary: String,
        /// The slug.
        #[sea_orm(primary_key, auto_increment = false)]
        pub slug: String,
        /// The term it resolves to.
        pub term_id: Uuid,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_authors`: each author's name as the latest event described it.
pub mod rec_author {
    use sea_orm::entity::prelude::*;

    /// One author row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_authors")]
    pub struct Model {
        /// The author's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The aggregate version of the last event applied.
        pub version: i64,
        /// Their name.
        pub name: String,
        /// Whether they were deleted (kept, like a paper's tombstone).
        pub deleted: bool,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_changes`: the change log replicas refresh their in-memory indexes from.
pub mod rec_change {
    use sea_orm::entity::prelude::*;

    /// One logged change: a paper's or an author's row (exactly one of the two is set).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_changes")]
    pub struct Model {
        /// Position in the log.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// The paper whose row changed.
        pub paper_id: Option<Uuid>,
        /// The author whose row changed.
        pub author_id: Option<Uuid>,
        /// When logged, for pruning.
        pub created_at: DateTimeUtc,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_slugs`: every slug a published paper had, with the paper it leads to.
pub mod rec_slug {
    use sea_orm::entity::prelude::*;

    /// One slug.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_slugs")]
    pub struct Model {
        /// The slug.
        #[sea_orm(primary_key, auto_increment = false)]
        pub slug: String,
        /// The paper it leads to.
        pub paper_id: Uuid,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_overrides`: editors' pins and exclusions for a paper's rail.
pub mod rec_override {
    use sea_orm::entity::prelude::*;

    /// One paper's overrides.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_overrides")]
    pub struct Model {
        /// The paper whose rail they shape.
        #[sea_orm(primary_key, auto_increment = false)]
        pub paper_id: Uuid,
        /// JSON array of paper ids shown first, in order.
        pub pinned: String,
        /// JSON array of paper ids never shown.
        pub excluded: String,
        /// When last set.
        pub update_time: DateTimeUtc,
        /// One more each time they are set; their events carry it.
        pub version: i64,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `rec_interactions`: impressions and clicks of served recommendations.
pub mod rec_interaction {
    use sea_orm::entity::prelude::*;

    /// One interaction.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rec_interactions")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `impression` or `click`.
        pub kind: String,
        /// The serving of the rail it happened in (none for rows from before views existed).
        pub view_id: Option<String>,
        /// The paper whose rail it was on.
        pub source_id: Uuid,
        /// The recommended paper.
        pub target_id: Uuid,
        /// Its position, from 1.
        pub position: i32,
        /// The partner that served it ("" for first-party pages).
        pub partner: String,
        /// When recorded.
        pub created_at: DateTimeUtc,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
