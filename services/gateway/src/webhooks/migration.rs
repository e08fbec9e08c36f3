//! The webhook tables (issue 15): endpoints, deliveries with the indexes the dispatcher reads
//! (an endpoint's pending deliveries, an aggregate's earlier ones), attempts, and the terms
//! each paper last carried.

use sea_orm_migration::prelude::*;

/// Creates `webhook_endpoints`, `webhook_deliveries` and `webhook_attempts`.
pub(crate) struct CreateWebhooks;

impl MigrationName for CreateWebhooks {
    fn name(&self) -> &str {
        "m20261204_000005_webhooks"
    }
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

fn endpoints() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("webhook_endpoints"))
        .col(col("id").uuid().not_null().primary_key())
        .col(col("url").text().not_null())
        .col(col("description").text().not_null())
        .col(col("filter").text().not_null())
        .col(col("secret").text().not_null())
        .col(col("enabled").boolean().not_null())
        .col(col("disabled_reason").text().null())
        .col(col("failing_since").timestamp_with_time_zone().null())
        .col(col("version").big_integer().not_null())
        .col(col("create_time").timestamp_with_time_zone().not_null())
        .col(col("update_time").timestamp_with_time_zone().not_null())
        .col(col("creator_subject").string_len(255).null())
        .col(col("creator_role").string_len(255).null())
        .to_owned()
}

fn deliveries() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("webhook_deliveries"))
        .col(col("id").uuid().not_null().primary_key())
        .col(col("endpoint_id").uuid().not_null())
        .col(col("event_id").string_len(64).not_null())
        .col(col("event_type").string_len(100).not_null())
        .col(col("kind").string_len(40).not_null())
        .col(col("aggregate_id").uuid().not_null())
        .col(col("aggregate_version").big_integer().not_null())
        .col(col("body").text().not_null())
        .col(col("status").string_len(20).not_null())
        .col(col("failures").integer().not_null())
        .col(
            col("next_attempt_time")
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(col("first_attempt_time").timestamp_with_time_zone().null())
        .col(col("create_time").timestamp_with_time_zone().not_null())
        .foreign_key(
            ForeignKey::create()
                .from(Alias::new("webhook_deliveries"), Alias::new("endpoint_id"))
                .to(Alias::new("webhook_endpoints"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn attempts() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("webhook_attempts"))
        .col(col("delivery_id").uuid().not_null())
        .col(col("attempt").integer().not_null())
        .col(col("time").timestamp_with_time_zone().not_null())
        .col(col("status_code").integer().not_null())
        .col(col("error").text().not_null())
        .col(col("duration_ms").big_integer().not_null())
        .primary_key(
            Index::create()
                .col(Alias::new("delivery_id"))
                .col(Alias::new("attempt")),
        )
        .foreign_key(
            ForeignKey::create()
                .from(Alias::new("webhook_attempts"), Alias::new("delivery_id"))
                .to(Alias::new("webhook_deliveries"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

/// The terms each paper (aggregate) carried at its last change, so that an endpoint filtered
/// by a term hears that a paper left it (an edit removing the term, a deletion).
fn aggregate_terms() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("webhook_aggregate_terms"))
        .col(col("aggregate_id").uuid().not_null().primary_key())
        .col(col("version").big_integer().not_null())
        .col(col("terms").text().not_null())
        .to_owned()
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateWebhooks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(endpoints()).await?;
        manager.create_table(deliveries()).await?;
        // A change is delivered to an endpoint once, however often its event is consumed and
        // whatever restates it (a republish has a new event id, the same version).
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_change_key")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("endpoint_id"))
                    .col(Alias::new("kind"))
                    .col(Alias::new("aggregate_id"))
                    .col(Alias::new("aggregate_version"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The dispatcher's look for an earlier pending change of the same aggregate.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_aggregate_idx")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("endpoint_id"))
                    .col(Alias::new("kind"))
                    .col(Alias::new("aggregate_id"))
                    .col(Alias::new("status"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_endpoint_status_id_idx")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("endpoint_id"))
                    .col(Alias::new("status"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await?;
        manager.create_table(attempts()).await?;
        manager.create_table(aggregate_terms()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "webhook_aggregate_terms",
            "webhook_attempts",
            "webhook_deliveries",
            "webhook_endpoints",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
