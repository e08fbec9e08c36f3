//! Who made and who revoked the gateway's own records (partner keys, preview links): the
//! columns both tables keep, the migration that adds them, and their reading back. The actor is
//! the one the edge authenticated ([`imprint_platform::caller::actor`]).

use imprint_domain::Actor;
use sea_orm_migration::prelude::*;

/// The columns every such table gains: the creator's and the revoker's subject and role.
const COLUMNS: [&str; 4] = [
    "creator_subject",
    "creator_role",
    "revoker_subject",
    "revoker_role",
];

/// An actor as its two columns hold it: its subject, and its role's name (none: the system).
pub fn columns(actor: &Actor) -> (Option<String>, Option<String>) {
    (
        Some(actor.subject().to_owned()),
        actor.role().map(|r| r.name().to_owned()),
    )
}

/// The actor in two columns, for the API. Only the gateway writes them, from actors it
/// authenticated; a row it cannot read back shows no actor rather than failing the list.
pub fn stored(subject: Option<&str>, role: Option<&str>) -> Option<imprint_proto::audit::Actor> {
    match Actor::from_columns(subject, role) {
        Ok(actor) => actor.as_ref().map(Into::into),
        Err(e) => {
            tracing::error!(error = %e, "a stored actor is corrupt");
            None
        }
    }
}

/// Adds [`COLUMNS`] to `table`, nullable (empty on the rows made before), one per statement:
/// SQLite adds one column at a time.
pub(crate) struct AddActorColumns {
    /// The migration's name.
    pub name: &'static str,
    /// The table.
    pub table: &'static str,
}

impl MigrationName for AddActorColumns {
    fn name(&self) -> &str {
        self.name
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddActorColumns {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            let mut def = ColumnDef::new(Alias::new(column));
            def.string_len(255).null();
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(self.table))
                        .add_column(&mut def)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS.into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(self.table))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
