//! The files' tables as sea-orm entities.

// sea-orm's derives generate public items reached only through this private module.
#![allow(unreachable_pub)]

/// `files`: one row per distinct file uploaded.
pub mod file {
    use sea_orm::entity::prelude::*;

    /// One file.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "files")]
    pub struct Model {
        /// The SHA-256 of its bytes, in hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// Its length.
        pub size: i64,
        /// Its type ([`imprint_domain::MediaType`] in snake case).
        pub media_type: String,
        /// An image's width.
        pub width: Option<i32>,
        /// An image's height.
        pub height: Option<i32>,
        /// When it was first uploaded.
        pub create_time: DateTimeUtc,
        /// Who first uploaded it.
        pub creator_subject: Option<String>,
        /// With which role.
        pub creator_role: Option<String>,
        /// Since when no paper or author references it (its upload, at first); `None` while
        /// one does.
        pub unreferenced_since: Option<DateTimeUtc>,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `file_owners`: the version of each paper or author whose references are recorded.
pub mod file_owner {
    use sea_orm::entity::prelude::*;

    /// One owner.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "file_owners")]
    pub struct Model {
        /// The paper's or author's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner_id: Uuid,
        /// The version its references are of.
        pub version: i64,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `file_refs`: which owner references which file.
pub mod file_ref {
    use sea_orm::entity::prelude::*;

    /// One reference.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "file_refs")]
    pub struct Model {
        /// The paper or author.
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner_id: Uuid,
        /// The file's SHA-256, in hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub file_key: String,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `uploads`: a resumable upload, until it expires.
pub mod upload {
    use sea_orm::entity::prelude::*;

    /// One upload.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "uploads")]
    pub struct Model {
        /// UUIDv7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The declared length.
        pub length: i64,
        /// Bytes received and kept (the tus `Upload-Offset`).
        pub received: i64,
        /// The file's name.
        pub name: String,
        /// The SHA-256 the uploader sent, in hex.
        pub sha256: Option<String>,
        /// The file made, once whole.
        pub file_key: Option<String>,
        /// Creation time.
        pub create_time: DateTimeUtc,
        /// When it is given up unless a part arrives.
        pub expire_time: DateTimeUtc,
        /// Who started it.
        pub creator_subject: Option<String>,
        /// With which role.
        pub creator_role: Option<String>,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `upload_segments`: the stored parts of an upload, in order of `start`.
pub mod segment {
    use sea_orm::entity::prelude::*;

    /// One segment.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upload_segments")]
    pub struct Model {
        /// The upload.
        #[sea_orm(primary_key, auto_increment = false)]
        pub upload_id: Uuid,
        /// Its first byte's offset in the file.
        #[sea_orm(primary_key, auto_increment = false)]
        pub start: i64,
        /// Its length.
        pub length: i64,
        /// Its object in the store.
        pub object: String,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `downloads`: public downloads of a paper's file on a day.
pub mod download {
    use sea_orm::entity::prelude::*;

    /// One paper, file and day.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "downloads")]
    pub struct Model {
        /// The paper.
        #[sea_orm(primary_key, auto_increment = false)]
        pub paper_id: Uuid,
        /// The file's SHA-256, in hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub file_key: String,
        /// The day, YYYY-MM-DD (UTC).
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: String,
        /// Downloads begun that day.
        pub count: i64,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
