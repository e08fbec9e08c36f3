//! The papers tables as sea-orm entities. Topics and author ids are stored twice on purpose: as
//! JSON arrays on the paper row, so a paper is read in one query, and as rows of
//! `paper_topics`/`paper_authors`, which are the indexes the list filters use.

// sea-orm's derives generate public items (Column, ActiveModel, …) reached only through this
// private module.
#![allow(unreachable_pub)]

/// `papers`: one row per paper, its current state.
pub mod paper {
    use sea_orm::entity::prelude::*;

    /// One paper row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "papers")]
    pub struct Model {
        /// UUIDv7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Current slug (every slug ever held is in `paper_slugs`).
        pub slug: String,
        /// Title.
        pub title: String,
        /// Summary.
        pub summary: String,
        /// Full text.
        pub body: String,
        /// Storage name of the publication type.
        pub publication_type: String,
        /// JSON array of topics as written.
        pub topics: String,
        /// JSON array of author ids in byline order.
        pub author_ids: String,
        /// Funding note.
        pub funding_note: String,
        /// Storage name of the status.
        pub status: String,
        /// First (or back-dated) publication.
        pub publish_time: Option<DateTimeUtc>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub create_time: DateTimeUtc,
        /// Last save.
        pub update_time: DateTimeUtc,
        /// The id in the system the paper was imported from.
        pub external_id: Option<String>,
        /// When the scheduler publishes the paper.
        pub scheduled_publish_time: Option<DateTimeUtc>,
        /// When the scheduler withdraws the paper.
        pub scheduled_unpublish_time: Option<DateTimeUtc>,
        /// The last schedule that failed, as JSON.
        pub schedule_failure: Option<String>,
        /// Its programs, regions and series, as JSON of their ids.
        pub terms: String,
        /// Its downloads and cover image, as JSON.
        pub files: String,
    }

    /// Children are written by the store directly.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `paper_topics`: which paper carries which topic (lowercase key), for the topic filter.
pub mod paper_topic {
    use sea_orm::entity::prelude::*;

    /// One (paper, topic) pair.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "paper_topics")]
    pub struct Model {
        /// The paper.
        #[sea_orm(primary_key, auto_increment = false)]
        pub paper_id: Uuid,
        /// Lowercase topic.
        #[sea_orm(primary_key, auto_increment = false)]
        pub topic_key: String,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `paper_authors`: which paper credits which author, for the author filter and credit checks.
pub mod paper_author {
    use sea_orm::entity::prelude::*;

    /// One credit.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "paper_authors")]
    pub struct Model {
        /// The paper.
        #[sea_orm(primary_key, auto_increment = false)]
        pub paper_id: Uuid,
        /// The author.
        #[sea_orm(primary_key, auto_increment = false)]
        pub author_id: Uuid,
        /// Place in the byline, from 0.
        pub position: i32,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `terms`: one row per term of a controlled vocabulary.
pub mod term {
    use sea_orm::entity::prelude::*;

    /// One term row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "terms")]
    pub struct Model {
        /// UUIDv7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Storage name of the vocabulary.
        pub vocabulary: String,
        /// Current slug (every slug it ever held is in its vocabulary's slug table).
        pub slug: String,
        /// Name.
        pub name: String,
        /// The region a country is under.
        pub parent_id: Option<Uuid>,
        /// Whether it is retired.
        pub retired: bool,
        /// The term it was merged into.
        pub merged_into: Option<Uuid>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub create_time: DateTimeUtc,
        /// Last save.
        pub update_time: DateTimeUtc,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `paper_terms`: which paper carries which term, for the program, region and series filters
/// and for merges.
pub mod paper_term {
    use sea_orm::entity::prelude::*;

    /// One (paper, term) pair.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "paper_terms")]
    pub struct Model {
        /// The paper.
        #[sea_orm(primary_key, auto_increment = false)]
        pub paper_id: Uuid,
        /// The term.
        #[sea_orm(primary_key, auto_increment = false)]
        pub term_id: Uuid,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
