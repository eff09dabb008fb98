//! parley's schema migrations. Every migration runs the same on SQLite and PostgreSQL.
//!
//! # Layout
//!
//! - [`Migrator`]: the ordered list of migrations, applied by `parley migrate` and at `parley serve`.
//! - `mYYYYMMDD_NNNNNN_<verb_noun>`: one module per migration.

pub use sea_orm_migration;
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_chat_tables;
mod m20261207_000001_add_participant_accepted_at;
mod m20261207_000002_add_group_details;
mod m20261207_000003_create_message_edits;
mod m20261207_000004_add_receipts_kinds_presence;
mod m20261208_000001_add_requests_blocks_mutes;
mod m20261208_000002_add_reactions_replies_hidden;
mod m20261208_000003_add_message_search;
mod m20261208_000004_create_media_files;

/// The ordered list of parley's migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_chat_tables::Migration),
            Box::new(m20261207_000001_add_participant_accepted_at::Migration),
            Box::new(m20261207_000002_add_group_details::Migration),
            Box::new(m20261207_000003_create_message_edits::Migration),
            Box::new(m20261207_000004_add_receipts_kinds_presence::Migration),
            Box::new(m20261208_000001_add_requests_blocks_mutes::Migration),
            Box::new(m20261208_000002_add_reactions_replies_hidden::Migration),
            Box::new(m20261208_000003_add_message_search::Migration),
            Box::new(m20261208_000004_create_media_files::Migration),
        ]
    }
}
