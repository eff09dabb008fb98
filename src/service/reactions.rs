//! Reactions: a member adds or removes an emoji on a message of their conversation, at most
//! once per emoji. The answer carries the message's reactions by emoji, with whether the caller
//! is among each; the room is told of every change.

use std::collections::HashMap;

use entity::reaction;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::views::{MessageView, ReactionCount, ReactionsView};
use crate::service::{Chat, ChatEvent, users};

/// Longest reaction, in bytes: room for the longest emoji sequences (families, flags of
/// regions), nothing more.
pub const MAX_REACTION_BYTES: usize = 64;

impl Chat {
    /// `user` adds (`add`) or removes `emoji` on message `message_id` of a conversation they
    /// are in. A change tells the room ([`ChatEvent::ReactionChanged`]) and draws on the user's
    /// allowance; a repeat (adding an emoji they already added, removing one they had not)
    /// changes nothing and tells nobody. A deleted message takes no reactions (`NOT_FOUND`).
    pub async fn react(
        &self,
        user: &UserId,
        message_id: i64,
        emoji: &str,
        add: bool,
    ) -> AppResult<ReactionsView> {
        let emoji = check_emoji(emoji)?;
        let (message, conv) = self.live_message(user, message_id).await?;
        crate::service::blocks::refuse_in_direct(&self.db, &conv).await?;
        let exists =
            reaction::Entity::find_by_id((message_id, user.key().to_owned(), emoji.to_owned()))
                .one(&self.db)
                .await?
                .is_some();
        if exists != add {
            self.charge(user)?;
            let changed = if add {
                users::insert_stub(&self.db, user, crate::time::now()).await?;
                reaction::Entity::insert(reaction::ActiveModel {
                    message_id: Set(message_id),
                    user_id: Set(user.key().to_owned()),
                    emoji: Set(emoji.to_owned()),
                    created_at: Set(crate::time::now()),
                })
                .on_conflict(
                    OnConflict::columns([
                        reaction::Column::MessageId,
                        reaction::Column::UserId,
                        reaction::Column::Emoji,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await?
                    > 0
            } else {
                reaction::Entity::delete_by_id((
                    message_id,
                    user.key().to_owned(),
                    emoji.to_owned(),
                ))
                .exec(&self.db)
                .await?
                .rows_affected
                    > 0
            };
            if changed {
                let all = reactions_of(&self.db, &[message_id], None).await?;
                self.publish(&ChatEvent::ReactionChanged {
                    message_id,
                    conversation_id: message.conversation_id,
                    user,
                    emoji,
                    added: add,
                    reactions: all.get(&message_id).map_or(&[], Vec::as_slice),
                });
            }
        }
        let mut all = reactions_of(&self.db, &[message_id], Some(user)).await?;
        Ok(ReactionsView {
            message_id,
            conversation_id: message.conversation_id,
            reactions: all.remove(&message_id).unwrap_or_default(),
        })
    }
}

impl Chat {
    /// `view` with its reactions (`mine` for nobody: the view is told to many).
    pub(crate) async fn with_reactions(&self, mut view: MessageView) -> AppResult<MessageView> {
        let mut all = reactions_of(&self.db, &[view.id], None).await?;
        view.reactions = all.remove(&view.id).unwrap_or_default();
        Ok(view)
    }
}

/// The reactions of each of `messages`, by emoji in the order each was first used, `mine` for
/// `viewer`.
pub(crate) async fn reactions_of<C: ConnectionTrait>(
    conn: &C,
    messages: &[i64],
    viewer: Option<&UserId>,
) -> Result<HashMap<i64, Vec<ReactionCount>>, DbErr> {
    let mut by_message: HashMap<i64, Vec<ReactionCount>> = HashMap::new();
    if messages.is_empty() {
        return Ok(by_message);
    }
    let rows = reaction::Entity::find()
        .filter(reaction::Column::MessageId.is_in(messages.iter().copied()))
        .order_by_asc(reaction::Column::CreatedAt)
        .order_by_asc(reaction::Column::UserId)
        .all(conn)
        .await?;
    for row in rows {
        let counts = by_message.entry(row.message_id).or_default();
        let mine = viewer.is_some_and(|v| v.key() == row.user_id);
        match counts.iter_mut().find(|c| c.emoji == row.emoji) {
            Some(count) => {
                count.count += 1;
                count.mine |= mine;
                count.users.push(row.user_id);
            }
            None => counts.push(ReactionCount {
                emoji: row.emoji,
                count: 1,
                users: vec![row.user_id],
                mine,
            }),
        }
    }
    Ok(by_message)
}

/// A reaction is exactly one emoji (with its skin tone or variation, if any), at most
/// [`MAX_REACTION_BYTES`] long; returns it trimmed.
fn check_emoji(text: &str) -> AppResult<&str> {
    let emoji = text.trim();
    if emoji.is_empty() || emoji.len() > MAX_REACTION_BYTES || emojis::get(emoji).is_none() {
        return Err(AppError::validation(
            "emoji must be exactly one emoji, such as 👍",
        ));
    }
    Ok(emoji)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaction_is_one_emoji_and_nothing_else() {
        for ok in ["👍", " 🎉 ", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷"] {
            assert!(check_emoji(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "a",
            "👍👍",
            "ok 👍",
            "<script>",
            "\u{0}",
            &"👍".repeat(20),
        ] {
            assert!(check_emoji(bad).is_err(), "{bad:?}");
        }
    }
}
