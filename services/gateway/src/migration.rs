//! The gateway's database schema: partner keys, preview links, webhooks and files. Migrations are recorded in
//! `gateway_migrations`, so the gateway can share a database with other services.

use sea_orm_migration::prelude::*;

/// Every migration of the gateway, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crate::partner_keys::migration::CreatePartnerKeys),
            Box::new(crate::preview_links::migration::CreatePreviewLinks),
            Box::new(crate::actors::AddActorColumns {
                name: "m20261203_000003_preview_link_actors",
                table: "preview_links",
            }),
            Box::new(crate::actors::AddActorColumns {
                name: "m20261203_000004_partner_key_actors",
                table: "partner_keys",
            }),
            Box::new(crate::webhooks::migration::CreateWebhooks),
            Box::new(crate::files::migration::CreateFiles),
            Box::new(crate::files::migration::AddFileReferences),
            Box::new(crate::files::migration::CreateDownloads),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("gateway_migrations").into_iden()
    }
}
