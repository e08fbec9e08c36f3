//! The webhook tables as sea-orm entities: endpoints, their deliveries (the webhooks' outbox:
//! one row per event and endpoint, written when the event is consumed) and each delivery's
//! attempts.

// sea-orm's derives generate public items reached only through this private module.
#![allow(unreachable_pub)]

/// `webhook_endpoints`: one row per registered endpoint.
pub mod endpoint {
    use sea_orm::entity::prelude::*;

    /// One endpoint.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        /// UUIDv7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Where deliveries go.
        pub url: String,
        /// What it is for.
        pub description: String,
        /// JSON of its filter (event types, term ids).
        pub filter: String,
        /// The signing secret, `whsec_…` (kept whole: every delivery is signed with it).
        pub secret: String,
        /// Whether deliveries are sent.
        pub enabled: bool,
        /// Why the system disabled it.
        pub disabled_reason: Option<String>,
        /// Since when its deliveries fail.
        pub failing_since: Option<DateTimeUtc>,
        /// Optimistic-concurrency version.
        pub version: i64,
        /// Creation time.
        pub create_time: DateTimeUtc,
        /// Last change.
        pub update_time: DateTimeUtc,
        /// Who registered it.
        pub creator_subject: Option<String>,
        /// With which role.
        pub creator_role: Option<String>,
    }

    /// Deliveries are written by the store directly.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `webhook_deliveries`: one event for one endpoint, until it is delivered or given up.
pub mod delivery {
    use sea_orm::entity::prelude::*;

    /// One delivery.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        /// UUIDv7, in the order events were consumed.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The endpoint.
        pub endpoint_id: Uuid,
        /// The event's id (the `webhook-id` header).
        pub event_id: String,
        /// Its routing key.
        pub event_type: String,
        /// What changed, the routing key's first word (`paper`, `recommendation`): versions
        /// count per kind and aggregate.
        pub kind: String,
        /// The aggregate that changed (deliveries of one go out in order).
        pub aggregate_id: Uuid,
        /// The aggregate's version after the change.
        pub aggregate_version: i64,
        /// The JSON body sent.
        pub body: String,
        /// `pending`, `delivered` or `failed`.
        pub status: String,
        /// Failed attempts in a row.
        pub failures: i32,
        /// When the next attempt is due.
        pub next_attempt_time: DateTimeUtc,
        /// When the first attempt was made (the retry window runs from it).
        pub first_attempt_time: Option<DateTimeUtc>,
        /// When the change happened.
        pub create_time: DateTimeUtc,
    }

    /// Attempts are written by the store directly.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `webhook_attempts`: the log of each delivery's tries.
pub mod attempt {
    use sea_orm::entity::prelude::*;

    /// One try.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_attempts")]
    pub struct Model {
        /// The delivery.
        #[sea_orm(primary_key, auto_increment = false)]
        pub delivery_id: Uuid,
        /// Its number, from 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub attempt: i32,
        /// When it was made.
        pub time: DateTimeUtc,
        /// The HTTP status; 0 for none.
        pub status_code: i32,
        /// Why it failed; empty when it succeeded.
        pub error: String,
        /// How long it took.
        pub duration_ms: i64,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `webhook_aggregate_terms`: the terms each paper carried at its last change.
pub mod aggregate_terms {
    use sea_orm::entity::prelude::*;

    /// One paper's terms.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_aggregate_terms")]
    pub struct Model {
        /// The paper.
        #[sea_orm(primary_key, auto_increment = false)]
        pub aggregate_id: Uuid,
        /// The version of the change they are from.
        pub version: i64,
        /// JSON array of term ids.
        pub terms: String,
    }

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
