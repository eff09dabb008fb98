//! Databases for the servers under test: a fresh SQLite file or a fresh PostgreSQL database per
//! server per scenario, the seed rows every scenario needs, and reading back what was stored.
//!
//! Group conversations cannot be created through parley's API yet, so they are seeded here in
//! SQL, through parley's own entities, for both servers alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use entity::{conversation, message, participant, user};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QuerySelect,
    TransactionTrait,
};

use crate::results::Backend;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A database made for one server run, removed by [`FreshDb::remove`].
#[derive(Debug)]
pub(crate) struct FreshDb {
    /// The URL the server and the seeding use.
    pub(crate) url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

/// `base` with its database name replaced by `name` (query string kept).
pub(crate) fn with_database(base: &str, name: &str) -> String {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let query_at = base[after_scheme..]
        .find('?')
        .map_or(base.len(), |i| after_scheme + i);
    let path_at = base[after_scheme..query_at]
        .find('/')
        .map_or(query_at, |i| after_scheme + i);
    format!("{}/{name}{}", &base[..path_at], &base[query_at..])
}

async fn connect(url: &str) -> Result<DatabaseConnection, String> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(2)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    Database::connect(opts)
        .await
        .map_err(|e| format!("connecting to {url}: {e}"))
}

impl FreshDb {
    /// A new empty database: a file in `scratch`, or a database next to `pg_admin_url`'s.
    pub(crate) async fn create(
        backend: Backend,
        scratch: &Path,
        pg_admin_url: &str,
    ) -> Result<Self, String> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        match backend {
            Backend::Sqlite => {
                let path = scratch.join(format!("bench-{n}.db"));
                remove_sqlite_files(&path);
                Ok(Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                let name = format!("parley_bench_{}_{n}", std::process::id());
                let admin = connect(pg_admin_url).await?;
                drop_database(&admin, &name).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
                let _ = admin.close().await;
                Ok(Self {
                    url: with_database(pg_admin_url, &name),
                    cleanup: Cleanup::Database {
                        admin_url: pg_admin_url.to_owned(),
                        name,
                    },
                })
            }
        }
    }

    /// Deletes the file or drops the database.
    pub(crate) async fn remove(self) -> Result<(), String> {
        match self.cleanup {
            Cleanup::File(path) => {
                remove_sqlite_files(&path);
                Ok(())
            }
            Cleanup::Database { admin_url, name } => {
                let admin = connect(&admin_url).await?;
                let result = drop_database(&admin, &name).await;
                let _ = admin.close().await;
                result
            }
        }
    }
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

async fn drop_database(admin: &DatabaseConnection, name: &str) -> Result<(), String> {
    // FORCE (PostgreSQL 13+) ends sessions a killed server may have left behind.
    if admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .is_ok()
    {
        return Ok(());
    }
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .map(|_| ())
        .map_err(|e| format!("DROP DATABASE {name}: {e}"))
}

/// PostgreSQL's `server_version` at `url`.
pub(crate) async fn postgres_version(url: &str) -> Result<String, String> {
    let db = connect(url).await?;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SHOW server_version",
        ))
        .await
        .map_err(|e| e.to_string())?;
    let _ = db.close().await;
    row.and_then(|r| r.try_get_by_index::<String>(0).ok())
        .ok_or_else(|| "no server_version".to_owned())
}

/// Seeds users `1..=users` (numeric ids) and one group conversation per entry of `groups`, whose
/// members are the next that many users, in order from user 1. Returns the conversations' ids.
pub(crate) async fn seed(url: &str, users: u32, groups: &[u32]) -> Result<Vec<i64>, String> {
    let db = connect(url).await?;
    let result = seed_on(&db, users, groups).await;
    let _ = db.close().await;
    result.map_err(|e| format!("seeding: {e}"))
}

async fn seed_on(
    db: &DatabaseConnection,
    users: u32,
    groups: &[u32],
) -> Result<Vec<i64>, sea_orm::DbErr> {
    const BATCH: u32 = 500;
    let now = chrono::Utc::now();
    let txn = db.begin().await?;
    let mut from = 1;
    while from <= users {
        let to = (from + BATCH - 1).min(users);
        user::Entity::insert_many((from..=to).map(|id| user::ActiveModel {
            id: Set(id.to_string()),
            id_is_number: Set(true),
            name: Set(Some(format!("bench user {id}"))),
            username: Set(None),
            email: Set(None),
            avatar: Set(None),
            last_seen_at: Set(None),
            presence_status: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }))
        .exec(&txn)
        .await?;
        from = to + 1;
    }
    let mut conversations = Vec::with_capacity(groups.len());
    let mut members = Vec::new();
    let mut next_user = 1;
    for (k, &size) in groups.iter().enumerate() {
        let id = conversation::Entity::insert(conversation::ActiveModel {
            id: NotSet,
            kind: Set(conversation::KIND_GROUP.to_owned()),
            title: Set(Some(format!("bench group {k}"))),
            description: Set(None),
            avatar_url: Set(None),
            participant_1_id: Set(None),
            participant_2_id: Set(None),
            last_message: Set(None),
            last_message_at: Set(None),
            last_seq: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            dissolved_at: Set(None),
            opened_by: Set(None),
        })
        .exec(&txn)
        .await?
        .last_insert_id;
        conversations.push(id);
        for user in next_user..next_user + size {
            members.push((id, user));
        }
        next_user += size;
    }
    for chunk in members.chunks(BATCH as usize) {
        participant::Entity::insert_many(chunk.iter().map(|&(conversation_id, user)| {
            participant::ActiveModel::member(conversation_id, user.to_string(), now, true)
        }))
        .exec(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(conversations)
}

/// A row of `messages`, the columns the checks need.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    /// Database id.
    pub(crate) id: i64,
    /// Conversation.
    pub(crate) conversation: i64,
    /// Position in the conversation.
    pub(crate) seq: i64,
    /// `client_msg_id`.
    pub(crate) client_msg_id: Option<String>,
}

/// What the database holds after a scenario.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    /// Every message.
    pub(crate) messages: Vec<StoredMessage>,
    /// `conversations.last_seq` by conversation id.
    pub(crate) last_seq: HashMap<i64, i64>,
}

/// Reads every message and every conversation's `last_seq`.
pub(crate) async fn load(url: &str) -> Result<Stored, String> {
    let db = connect(url).await?;
    let result = async {
        let messages = message::Entity::find()
            .select_only()
            .columns([
                message::Column::Id,
                message::Column::ConversationId,
                message::Column::Seq,
                message::Column::ClientMsgId,
            ])
            .into_tuple::<(i64, i64, i64, Option<String>)>()
            .all(&db)
            .await?
            .into_iter()
            .map(|(id, conversation, seq, client_msg_id)| StoredMessage {
                id,
                conversation,
                seq,
                client_msg_id,
            })
            .collect();
        let last_seq = conversation::Entity::find()
            .select_only()
            .columns([conversation::Column::Id, conversation::Column::LastSeq])
            .into_tuple::<(i64, i64)>()
            .all(&db)
            .await?
            .into_iter()
            .collect();
        Ok::<_, sea_orm::DbErr>(Stored { messages, last_seq })
    }
    .await;
    let _ = db.close().await;
    result.map_err(|e| format!("reading back the messages: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "b1"),
            "postgres://u:p@h/b1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "b1"),
            "postgres://h:5432/b1"
        );
    }

    #[tokio::test]
    async fn seeds_groups_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("parley-bench-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = FreshDb::create(Backend::Sqlite, &dir, "").await.unwrap();
        // The real schema, as parley's migration makes it.
        let conn = connect(&db.url).await.unwrap();
        use migration_schema::create;
        create(&conn).await;
        conn.close().await.unwrap();
        let ids = seed(&db.url, 7, &[3, 4]).await.unwrap();
        assert_eq!(ids.len(), 2);
        let stored = load(&db.url).await.unwrap();
        assert!(stored.messages.is_empty());
        assert_eq!(stored.last_seq.len(), 2);
        db.remove().await.unwrap();
        let _ = std::fs::remove_dir(&dir);
    }

    /// The tables the seed touches, created from the entities (the bench does not link the
    /// migration crate; the runner uses `parley migrate up`).
    mod migration_schema {
        use sea_orm::{ConnectionTrait, DatabaseConnection, Schema};

        pub(super) async fn create(db: &DatabaseConnection) {
            let backend = db.get_database_backend();
            let schema = Schema::new(backend);
            let statements = [
                backend.build(&schema.create_table_from_entity(entity::user::Entity)),
                backend.build(&schema.create_table_from_entity(entity::conversation::Entity)),
                backend.build(&schema.create_table_from_entity(entity::participant::Entity)),
                backend.build(&schema.create_table_from_entity(entity::message::Entity)),
            ];
            for s in statements {
                db.execute_raw(s).await.unwrap();
            }
        }
    }
}
