//! Users: written when a token names them (connect, API call) or a send names them as receiver.

use std::collections::HashMap;

use entity::user;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::error::AppResult;
use crate::ids::UserId;
use crate::service::Chat;
use crate::service::cache::TtlCache;
use crate::service::views::{MessageView, UserView};

/// Display details a token may carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Profile {
    /// `name` claim.
    pub name: Option<String>,
    /// `username` claim.
    pub username: Option<String>,
    /// `email` claim.
    pub email: Option<String>,
    /// `avatar` or `picture` claim.
    pub avatar: Option<String>,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The user id from the token.
    pub user: UserId,
    /// The display details from the token.
    pub profile: Profile,
    /// When the token stops being accepted (its `exp` plus the leeway), in Unix seconds. Every
    /// accepted token has one: `exp` is required.
    pub expires_at: u64,
}

/// The profile fields other users are shown (`PUBLIC_PROFILE_FIELDS`); the id always is. A
/// field left out is sent as `null`, so every user object keeps its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicFields {
    /// `name`.
    pub name: bool,
    /// `username`.
    pub username: bool,
    /// `email`.
    pub email: bool,
    /// `avatar`.
    pub avatar: bool,
}

impl Default for PublicFields {
    /// Name, username and avatar: not the email.
    fn default() -> Self {
        Self {
            name: true,
            username: true,
            email: false,
            avatar: true,
        }
    }
}

impl PublicFields {
    /// Every field.
    pub const ALL: Self = Self {
        name: true,
        username: true,
        email: true,
        avatar: true,
    };

    /// Reads a comma-separated list of `name`, `username`, `email`, `avatar` (empty: none).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut fields = Self {
            name: false,
            username: false,
            email: false,
            avatar: false,
        };
        for field in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            match field {
                "name" => fields.name = true,
                "username" => fields.username = true,
                "email" => fields.email = true,
                "avatar" => fields.avatar = true,
                other => {
                    return Err(format!(
                        "PUBLIC_PROFILE_FIELDS: unknown field {other:?} \
                         (use name, username, email, avatar)"
                    ));
                }
            }
        }
        Ok(fields)
    }

    /// The view with only the public fields.
    pub fn show(&self, mut view: UserView) -> UserView {
        let keep = |on: bool, field: &mut Option<String>| {
            if !on {
                *field = None;
            }
        };
        keep(self.name, &mut view.name);
        keep(self.username, &mut view.username);
        keep(self.email, &mut view.email);
        keep(self.avatar, &mut view.avatar);
        view
    }

    /// The message with only the public fields of its sender and receiver.
    pub fn show_message(&self, mut message: MessageView) -> MessageView {
        message.sender = self.show(message.sender);
        message.receiver = message.receiver.map(|r| self.show(r));
        message
    }
}

/// User views by key, as last read or written by this process: a send does not read its
/// sender from the database, and an unchanged token costs no database write.
pub(crate) type Profiles = TtlCache<String, UserView>;

/// The view of the user `key`, from `cache` or the database; a key with no row (which a foreign
/// key makes impossible) gives a bare view. A row read here is not cached: `conn` may be a
/// transaction that still rolls back (the writer caches its users after its commit).
pub(crate) async fn user_view<C: ConnectionTrait>(
    conn: &C,
    cache: &Profiles,
    key: &str,
) -> Result<UserView, DbErr> {
    if let Some(view) = cache.get(key) {
        return Ok(view);
    }
    let found = user::Entity::find_by_id(key.to_owned()).one(conn).await?;
    Ok(match found {
        Some(m) => UserView::from_model(m),
        None => UserView::bare(UserId::from_stored(key.to_owned(), false)),
    })
}

impl Chat {
    /// Records the caller's id type and display details, unless this process read or wrote the
    /// same ones in the last minute.
    pub async fn remember_identity(&self, identity: &Identity) -> AppResult<()> {
        let view = UserView {
            id: identity.user.clone(),
            name: identity.profile.name.clone(),
            username: identity.profile.username.clone(),
            email: identity.profile.email.clone(),
            avatar: identity.profile.avatar.clone(),
        };
        let key = identity.user.key();
        if self.caches.profiles.get(key).as_ref() == Some(&view) {
            return Ok(());
        }
        let row = user_row(&identity.user, &identity.profile, crate::time::now());
        user::Entity::insert(row)
            .on_conflict(
                OnConflict::column(user::Column::Id)
                    .update_columns([
                        user::Column::IdIsNumber,
                        user::Column::Name,
                        user::Column::Username,
                        user::Column::Email,
                        user::Column::Avatar,
                        user::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        // The row now holds exactly these details.
        self.caches.profiles.put(key.to_owned(), view);
        Ok(())
    }

    /// Loads the users with these keys, as other users are shown them (only the public
    /// fields); unknown keys are left out.
    pub(crate) async fn load_users<C: ConnectionTrait>(
        &self,
        conn: &C,
        mut keys: Vec<String>,
    ) -> AppResult<HashMap<String, UserView>> {
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys))
            .all(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| {
                let view = self.limits.public_profile.show(UserView::from_model(m));
                (view.id.key().to_owned(), view)
            })
            .collect())
    }
}

/// Makes sure `id` exists as a user, creating a row with just the id if needed.
pub(crate) async fn insert_stub<C: ConnectionTrait>(
    conn: &C,
    id: &UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    user::Entity::insert(user_row(id, &Profile::default(), now))
        .on_conflict(OnConflict::column(user::Column::Id).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A new user row with these details.
fn user_row(
    id: &UserId,
    profile: &Profile,
    now: chrono::DateTime<chrono::Utc>,
) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(id.key().to_owned()),
        id_is_number: Set(id.is_numeric()),
        name: Set(profile.name.clone()),
        username: Set(profile.username.clone()),
        email: Set(profile.email.clone()),
        avatar: Set(profile.avatar.clone()),
        last_seen_at: Set(None),
        presence_status: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Picks a user from a loaded map, falling back to a bare view.
pub(crate) fn pick(users: &HashMap<String, UserView>, key: &str) -> UserView {
    users
        .get(key)
        .cloned()
        .unwrap_or_else(|| UserView::bare(UserId::from_stored(key.to_owned(), false)))
}
