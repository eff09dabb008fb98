//! Groups: conversations of any number of members, each with a role.
//!
//! - The creator is `admin`; everyone else starts as `member`.
//! - Admins add and remove members, change roles and the group's details.
//! - Moderators remove members (not admins or other moderators) and delete others' messages
//!   (see `Chat::delete_message`).
//! - Any member may leave; when the last admin leaves, the longest-standing member left becomes
//!   admin, so a group always has one while it has members.
//! - A member who left or was removed can no longer read, send or enter the room: their
//!   membership ends in the same transaction, the membership cache forgets it, and their sockets
//!   leave the room when the change is told ([`ChatEvent::MemberLeft`]).
//! - Every change reads the members inside the transaction that makes it, under the
//!   conversation's row lock ([`lock_members`]), so concurrent changes cannot leave a group
//!   without an admin or over its size.

use entity::{conversation, participant};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::views::ConversationView;
use crate::service::{Chat, ChatEvent, settle, users};

/// Longest group name, in characters.
pub const MAX_GROUP_NAME: usize = 100;
/// Longest group description, in characters.
pub const MAX_GROUP_DESCRIPTION: usize = 1_000;
/// Most members a group may have.
pub const MAX_GROUP_MEMBERS: usize = 1_000;

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads and writes.
    Member,
    /// Also removes members and deletes others' messages.
    Moderator,
    /// Also adds members, changes roles and the group's details.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => participant::ROLE_MEMBER,
            Self::Moderator => participant::ROLE_MODERATOR,
            Self::Admin => participant::ROLE_ADMIN,
        }
    }

    /// The role a stored name, or a client's (any case), names.
    pub fn parse(name: &str) -> AppResult<Self> {
        match name.to_ascii_lowercase().as_str() {
            participant::ROLE_MEMBER => Ok(Self::Member),
            participant::ROLE_MODERATOR => Ok(Self::Moderator),
            participant::ROLE_ADMIN => Ok(Self::Admin),
            _ => Err(AppError::validation(format!(
                "role must be ADMIN, MODERATOR or MEMBER, got {name:?}"
            ))),
        }
    }
}

/// What a new group is made of.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its avatar: an http(s) URL.
    pub avatar_url: Option<String>,
    /// The members besides the creator.
    pub members: Vec<UserId>,
}

/// A change to a group's details; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    /// A new name.
    pub name: Option<String>,
    /// A new description, or none.
    pub description: Option<Option<String>>,
    /// A new avatar, or none.
    pub avatar_url: Option<Option<String>>,
}

impl Chat {
    /// Creates a group of `creator` (its admin) and `group.members`; everyone in it is told
    /// ([`ChatEvent::ConversationStarted`]).
    pub async fn create_group(
        &self,
        creator: &UserId,
        group: NewGroup,
    ) -> AppResult<ConversationView> {
        let name = group_name(&group.name)?;
        let description = group_description(group.description.as_deref())?;
        let avatar = avatar_url(group.avatar_url.as_deref())?;
        let mut named = Vec::with_capacity(group.members.len() + 1);
        named.push(creator.clone());
        named.extend(group.members);
        let members = distinct(named)?;
        self.charge(creator)?;
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let created = async {
            let conv = conversation::ActiveModel {
                kind: Set(conversation::KIND_GROUP.to_owned()),
                title: Set(Some(name)),
                description: Set(description),
                avatar_url: Set(avatar),
                participant_1_id: Set(None),
                participant_2_id: Set(None),
                last_message: Set(None),
                last_message_at: Set(None),
                last_seq: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                opened_by: Set(Some(creator.key().to_owned())),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            for member in &members {
                users::insert_stub(&txn, member, now).await?;
            }
            // The creator has taken part; the others have once they write in it, and only then is
            // their presence shown to the group (so adding a stranger reveals nothing of them).
            let rows = members.iter().map(|m| {
                let creator_row = m.key() == creator.key();
                let mut row =
                    participant::ActiveModel::member(conv.id, m.key().to_owned(), now, creator_row);
                if creator_row {
                    row.role = Set(Role::Admin.as_str().to_owned());
                }
                row
            });
            participant::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
            Ok::<_, DbErr>(conv)
        }
        .await;
        let conv = settle(txn, created).await?;
        self.publish(&ChatEvent::ConversationStarted {
            conversation_id: conv.id,
            members: &members,
            opened_by: Some(creator),
            request: false,
        });
        self.conversation_view(creator, conv.id).await
    }

    /// Adds `users` to a group (admins only); members who left come back as members. Those
    /// added are told, and their sockets enter the room ([`ChatEvent::MembersAdded`]).
    pub async fn add_members(
        &self,
        actor: &UserId,
        conversation_id: i64,
        users: Vec<UserId>,
    ) -> AppResult<ConversationView> {
        if users.is_empty() {
            return Err(AppError::validation("name at least one user to add"));
        }
        let users = distinct(users)?;
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let stored = async {
            let members = lock_members(&txn, conversation_id, now).await?;
            require(&members, actor, Role::Admin, "add members")?;
            let added: Vec<UserId> = users
                .into_iter()
                .filter(|u| !members.iter().any(|m| m.user_id == u.key()))
                .collect();
            if members.len() + added.len() > MAX_GROUP_MEMBERS {
                return Err(AppError::validation(format!(
                    "a group has at most {MAX_GROUP_MEMBERS} members"
                )));
            }
            if added.is_empty() {
                return Ok(added);
            }
            self.charge(actor)?;
            for user in &added {
                users::insert_stub(&txn, user, now).await?;
            }
            // Not taken part yet: their presence is shown once they write in the group.
            let rows = added.iter().map(|u| {
                participant::ActiveModel::member(conversation_id, u.key().to_owned(), now, false)
            });
            // A member who left comes back: a fresh membership, read position kept.
            participant::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        participant::Column::ConversationId,
                        participant::Column::UserId,
                    ])
                    .update_columns([
                        participant::Column::Role,
                        participant::Column::JoinedAt,
                        participant::Column::LeftAt,
                        participant::Column::AcceptedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            Ok(added)
        }
        .await;
        let added = settle(txn, stored).await?;
        if !added.is_empty() {
            for user in &added {
                self.caches
                    .members
                    .remove(&(conversation_id, user.key().to_owned()));
            }
            self.publish(&ChatEvent::MembersAdded {
                conversation_id,
                users: &added,
                by: actor,
            });
        }
        self.conversation_view(actor, conversation_id).await
    }

    /// Removes `target` from a group: admins remove anyone but themselves (they leave), and
    /// moderators remove members. The room is told, and the target's sockets leave it.
    pub async fn remove_member(
        &self,
        actor: &UserId,
        conversation_id: i64,
        target: &UserId,
    ) -> AppResult<()> {
        if actor.key() == target.key() {
            return self.leave_group(actor, conversation_id).await;
        }
        self.end_membership(conversation_id, target, Some(actor))
            .await
    }

    /// `user` leaves a group. When the last admin leaves, the longest-standing member left
    /// becomes admin. Direct conversations cannot be left.
    pub async fn leave_group(&self, user: &UserId, conversation_id: i64) -> AppResult<()> {
        self.end_membership(conversation_id, user, None).await
    }

    /// Dissolves a group (admins only): every membership ends in one transaction and the group
    /// is marked dissolved; its history stays in the database, read by no one. Every member is
    /// told ([`ChatEvent::ConversationDissolved`]) and their sockets leave its room.
    pub async fn dissolve_group(&self, actor: &UserId, conversation_id: i64) -> AppResult<()> {
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let dissolved = async {
            let members = lock_members(&txn, conversation_id, now).await?;
            require(&members, actor, Role::Admin, "dissolve the group")?;
            participant::Entity::update_many()
                .col_expr(participant::Column::LeftAt, Expr::value(now))
                .filter(participant::Column::ConversationId.eq(conversation_id))
                .filter(participant::Column::LeftAt.is_null())
                .exec(&txn)
                .await?;
            conversation::Entity::update_many()
                .col_expr(conversation::Column::DissolvedAt, Expr::value(now))
                .filter(conversation::Column::Id.eq(conversation_id))
                .exec(&txn)
                .await?;
            let keys: Vec<String> = members.into_iter().map(|m| m.user_id).collect();
            self.load_users(&txn, keys).await
        }
        .await;
        let members = settle(txn, dissolved).await?;
        let members: Vec<UserId> = members.into_values().map(|u| u.id).collect();
        for member in &members {
            self.caches
                .members
                .remove(&(conversation_id, member.key().to_owned()));
        }
        self.publish(&ChatEvent::ConversationDissolved {
            conversation_id,
            members: &members,
            by: actor,
        });
        Ok(())
    }

    /// Changes `target`'s role in a group (admins only). The last admin cannot step down while
    /// others remain (they make someone else admin first, or leave).
    pub async fn set_role(
        &self,
        actor: &UserId,
        conversation_id: i64,
        target: &UserId,
        role: Role,
    ) -> AppResult<ConversationView> {
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let changed = async {
            let members = lock_members(&txn, conversation_id, now).await?;
            require(&members, actor, Role::Admin, "change roles")?;
            let current =
                role_of(&members, target).ok_or_else(|| not_member(target, conversation_id))?;
            if current == role {
                return Ok(());
            }
            let admins = members
                .iter()
                .filter(|m| m.role == participant::ROLE_ADMIN)
                .count();
            if current == Role::Admin && admins == 1 && members.len() > 1 {
                return Err(AppError::Unprocessable(
                    "a group needs an admin: make another member admin first".to_owned(),
                ));
            }
            participant::Entity::update_many()
                .col_expr(participant::Column::Role, Expr::value(role.as_str()))
                .filter(participant::Column::ConversationId.eq(conversation_id))
                .filter(participant::Column::UserId.eq(target.key()))
                .filter(participant::Column::LeftAt.is_null())
                .exec(&txn)
                .await?;
            Ok(())
        }
        .await;
        settle(txn, changed).await?;
        self.conversation_view(actor, conversation_id).await
    }

    /// Changes a group's details (admins only).
    pub async fn update_group(
        &self,
        actor: &UserId,
        conversation_id: i64,
        change: GroupChange,
    ) -> AppResult<ConversationView> {
        let mut row = conversation::ActiveModel {
            id: sea_orm::Unchanged(conversation_id),
            ..Default::default()
        };
        if let Some(name) = &change.name {
            row.title = Set(Some(group_name(name)?));
        }
        if let Some(description) = &change.description {
            row.description = Set(group_description(description.as_deref())?);
        }
        if let Some(avatar) = &change.avatar_url {
            row.avatar_url = Set(avatar_url(avatar.as_deref())?);
        }
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let changed = async {
            let members = lock_members(&txn, conversation_id, now).await?;
            require(&members, actor, Role::Admin, "change the group's details")?;
            if row.is_changed() {
                row.update(&txn).await?;
            }
            Ok::<_, AppError>(())
        }
        .await;
        settle(txn, changed).await?;
        self.conversation_view(actor, conversation_id).await
    }

    /// Ends `user`'s membership (removed `by` someone, or left), promoting the longest-standing
    /// member when the last admin goes; tells the room. Every check reads the members inside
    /// the transaction that changes them, under the conversation's row lock.
    async fn end_membership(
        &self,
        conversation_id: i64,
        user: &UserId,
        by: Option<&UserId>,
    ) -> AppResult<()> {
        let now = crate::time::now();
        let txn = self.begin_write().await?;
        let ended = async {
            let members = lock_members(&txn, conversation_id, now).await?;
            if let Some(actor) = by {
                let actor_role = require(&members, actor, Role::Moderator, "remove members")?;
                let target_role =
                    role_of(&members, user).ok_or_else(|| not_member(user, conversation_id))?;
                if actor_role != Role::Admin && target_role != Role::Member {
                    return Err(AppError::Forbidden(
                        "only an admin may remove an admin or a moderator".to_owned(),
                    ));
                }
            } else if role_of(&members, user).is_none() {
                return Err(AppError::Forbidden(format!(
                    "not a participant of conversation {conversation_id}"
                )));
            }
            let was_admin = role_of(&members, user) == Some(Role::Admin);
            participant::Entity::update_many()
                .col_expr(participant::Column::LeftAt, Expr::value(now))
                .filter(participant::Column::ConversationId.eq(conversation_id))
                .filter(participant::Column::UserId.eq(user.key()))
                .filter(participant::Column::LeftAt.is_null())
                .exec(&txn)
                .await?;
            if was_admin {
                promote_if_no_admin(&txn, conversation_id).await?;
            }
            Ok(())
        }
        .await;
        settle(txn, ended).await?;
        self.caches
            .members
            .remove(&(conversation_id, user.key().to_owned()));
        self.publish(&ChatEvent::MemberLeft {
            conversation_id,
            user,
            by,
        });
        Ok(())
    }
}

/// Locks group `conversation_id` for a membership change and reads its current members, oldest
/// first. The lock is an update of the conversation's row: PostgreSQL holds it until the
/// transaction ends, and SQLite's write transactions (`BEGIN IMMEDIATE`) run one at a time, so
/// two changes of one group never decide on the same members. `NOT_FOUND` for no conversation,
/// `UNPROCESSABLE` for a direct one.
async fn lock_members(
    txn: &DatabaseTransaction,
    conversation_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<participant::Model>> {
    let conv = conversation::Entity::find_by_id(conversation_id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("conversation {conversation_id} not found")))?;
    if conv.kind != conversation::KIND_GROUP {
        return Err(AppError::Unprocessable(format!(
            "conversation {conversation_id} is a direct conversation, not a group"
        )));
    }
    conversation::Entity::update_many()
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conversation_id))
        .exec(txn)
        .await?;
    Ok(participant::Entity::find()
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::LeftAt.is_null())
        .order_by_asc(participant::Column::JoinedAt)
        .order_by_asc(participant::Column::UserId)
        .all(txn)
        .await?)
}

fn not_member(user: &UserId, conversation_id: i64) -> AppError {
    AppError::NotFound(format!(
        "{user} is not a member of conversation {conversation_id}"
    ))
}

/// `users` once each, refusing more than a group may hold before any work.
fn distinct(users: Vec<UserId>) -> AppResult<Vec<UserId>> {
    if users.len() > MAX_GROUP_MEMBERS {
        return Err(AppError::validation(format!(
            "a group has at most {MAX_GROUP_MEMBERS} members"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(users.len());
    Ok(users
        .into_iter()
        .filter(|u| seen.insert(u.key().to_owned()))
        .collect())
}

/// The role of `user` among `members`, if they are one.
fn role_of(members: &[participant::Model], user: &UserId) -> Option<Role> {
    members
        .iter()
        .find(|m| m.user_id == user.key())
        .and_then(|m| Role::parse(&m.role).ok())
}

/// `actor`'s role, if it is at least `least`; else `FORBIDDEN` saying who may `what`.
fn require(
    members: &[participant::Model],
    actor: &UserId,
    least: Role,
    what: &str,
) -> AppResult<Role> {
    match role_of(members, actor) {
        Some(role) if role >= least => Ok(role),
        None => Err(AppError::Forbidden(
            "not a participant of this conversation".to_owned(),
        )),
        _ => Err(AppError::Forbidden(format!(
            "only {} may {what}",
            if least == Role::Admin {
                "an admin"
            } else {
                "an admin or a moderator"
            }
        ))),
    }
}

/// Makes the longest-standing member admin when none is left.
async fn promote_if_no_admin(txn: &DatabaseTransaction, conversation_id: i64) -> Result<(), DbErr> {
    let members = participant::Entity::find()
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::LeftAt.is_null())
        .order_by_asc(participant::Column::JoinedAt)
        .order_by_asc(participant::Column::UserId)
        .all(txn)
        .await?;
    if members.iter().any(|m| m.role == participant::ROLE_ADMIN) {
        return Ok(());
    }
    if let Some(eldest) = members.first() {
        participant::Entity::update_many()
            .col_expr(
                participant::Column::Role,
                Expr::value(participant::ROLE_ADMIN),
            )
            .filter(participant::Column::ConversationId.eq(conversation_id))
            .filter(participant::Column::UserId.eq(eldest.user_id.as_str()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

fn group_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation("a group needs a name"));
    }
    if name.chars().count() > MAX_GROUP_NAME || name.chars().any(char::is_control) {
        return Err(AppError::validation(format!(
            "a group name is 1 to {MAX_GROUP_NAME} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

fn group_description(text: Option<&str>) -> AppResult<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_GROUP_DESCRIPTION
        || crate::service::messages::has_forbidden_control(text)
    {
        return Err(AppError::validation(format!(
            "a group description is at most {MAX_GROUP_DESCRIPTION} characters, without control \
             characters other than tab and newline"
        )));
    }
    Ok(Some(text.to_owned()))
}

fn avatar_url(url: Option<&str>) -> AppResult<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    crate::service::messages::check_url(url, "avatarUrl")?;
    Ok(Some(url.to_owned()))
}
