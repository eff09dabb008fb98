//! Opening the database (SQLite file by default, PostgreSQL by URL) and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::Config;

/// Opens the pool for `config.database_url`. SQLite runs in WAL mode with foreign keys on and
/// `synchronous` as configured; an in-memory SQLite database gets exactly one connection, which
/// it lives and dies with.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    connect_with(config, config.db_max_connections).await
}

/// The connection the message writer uses on an SQLite file: one connection of its own, so the
/// pages it writes stay in its cache from one transaction to the next (a pool hands out its
/// connections in turn, and each would re-read what the others wrote). `None` on PostgreSQL,
/// where the writers share the pool, and on in-memory SQLite, which has one connection anyway.
pub async fn connect_writer(config: &Config) -> Result<Option<DatabaseConnection>, DbErr> {
    let url = &config.database_url;
    if !url.starts_with("sqlite:") || is_memory(url) {
        return Ok(None);
    }
    Ok(Some(connect_with(config, 1).await?))
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

async fn connect_with(config: &Config, connections: u32) -> Result<DatabaseConnection, DbErr> {
    let url = &config.database_url;
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_millis(config.db_acquire_timeout_ms))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        let synchronous = match config.sqlite_synchronous.as_str() {
            "normal" => SqliteSynchronous::Normal,
            _ => SqliteSynchronous::Full,
        };
        let busy_timeout = Duration::from_millis(config.sqlite_busy_timeout_ms);
        opts.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
                .create_if_missing(true)
        });
        if is_memory(url) {
            opts.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
    }
    Database::connect(opts).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}
