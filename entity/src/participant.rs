//! `participants`: membership of users in conversations.

use sea_orm::entity::prelude::*;

/// `role` of an ordinary participant.
pub const ROLE_MEMBER: &str = "member";
/// `role` of a group member who may remove members and delete others' messages.
pub const ROLE_MODERATOR: &str = "moderator";
/// `role` of a group member who may also add members, change roles and the group's details.
pub const ROLE_ADMIN: &str = "admin";

/// A user's membership in a conversation, with their read position.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participants")]
pub struct Model {
    /// The conversation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: i64,
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// [`ROLE_MEMBER`], [`ROLE_MODERATOR`] or [`ROLE_ADMIN`] (direct conversations: member).
    pub role: String,
    /// When the user joined.
    pub joined_at: DateTimeUtc,
    /// Every message with `seq` up to this one is read by this user.
    pub last_read_seq: i64,
    /// When the read position last moved.
    pub last_read_at: Option<DateTimeUtc>,
    /// Every message with `seq` up to this one reached this user (fetched, or received on a
    /// socket); never behind `last_read_seq`.
    pub last_delivered_seq: i64,
    /// When the delivered position last moved.
    pub last_delivered_at: Option<DateTimeUtc>,
    /// When the user archived the conversation, if they did.
    pub archived_at: Option<DateTimeUtc>,
    /// When the user left, if they did; a user who left is no longer a participant.
    pub left_at: Option<DateTimeUtc>,
    /// When the user took part: sent in the conversation, or joined the group. A direct
    /// conversation someone else opened is not accepted until the user writes in it; the user's
    /// presence is shown only in conversations they accepted.
    pub accepted_at: Option<DateTimeUtc>,
    /// When the recipient of a chat request declined it (cleared when they accept it after
    /// all); the initiator may not write while it is set.
    pub rejected_at: Option<DateTimeUtc>,
    /// When the member muted the conversation, if they did.
    pub muted_at: Option<DateTimeUtc>,
    /// The conversation's last `seq` when the member archived it: it is archived for them
    /// while no later message came (or while they mute it). `None`: not archived.
    pub archived_seq: Option<i64>,
}

/// No navigable relations are declared; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl ActiveModel {
    /// A new ordinary member of `conversation_id`, joined at `now`, who has read nothing yet;
    /// `accepted` when they took part from the start (they opened it, or joined a group).
    pub fn member(conversation_id: i64, user_id: String, now: DateTimeUtc, accepted: bool) -> Self {
        Self {
            conversation_id: sea_orm::Set(conversation_id),
            user_id: sea_orm::Set(user_id),
            role: sea_orm::Set(ROLE_MEMBER.to_owned()),
            joined_at: sea_orm::Set(now),
            last_read_seq: sea_orm::Set(0),
            last_read_at: sea_orm::Set(None),
            last_delivered_seq: sea_orm::Set(0),
            last_delivered_at: sea_orm::Set(None),
            archived_at: sea_orm::Set(None),
            left_at: sea_orm::Set(None),
            accepted_at: sea_orm::Set(accepted.then_some(now)),
            rejected_at: sea_orm::Set(None),
            muted_at: sea_orm::Set(None),
            archived_seq: sea_orm::Set(None),
        }
    }
}
