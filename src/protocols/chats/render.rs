//! The service's events in the `chats` vocabulary, to this protocol's rooms.

use crate::protocols::chats::wire::{Answered, Deleted, Message, Reacted, Read, Request, Typing};
use crate::protocols::chats::{
    CHAT_ACCEPTED, CHAT_REJECTED, CHAT_REQUEST, MEDIA_RECEIVED, MESSAGE_DELETED, MESSAGE_EDITED,
    MESSAGE_RECEIVED, MESSAGES_READ, REACTION_ADDED, REACTION_REMOVED, USER_STOPPED_TYPING,
    USER_TYPING, chat_room, user_room, user_room_of,
};
use crate::service::ChatEvent;
use crate::transport::broadcast::Broadcaster;

/// Says `event` to the rooms that should hear it:
///
/// - a new message, an edit, a delete, a reaction and a read receipt to the chat's room (the
///   sender's own sockets in it included); a delete for one member to their own sockets;
/// - typing to the chat's room, but the typing socket and the sockets of members who block the
///   typist;
/// - a new chat request to its recipient's sockets as `chat_request`, and its answer to the
///   initiator's as `chat_accepted` / `chat_rejected`;
/// - a member who left, or a dissolved group: their sockets leave its room.
///
/// Presence and room entries have no words in this vocabulary.
pub fn render(event: &ChatEvent<'_>, out: &Broadcaster) {
    match *event {
        ChatEvent::MessageCreated { message: m, .. } => {
            let event = if m.file_id.is_some() {
                MEDIA_RECEIVED
            } else {
                MESSAGE_RECEIVED
            };
            out.to_room(chat_room(m.conversation_id), event, &Message::from(m));
        }
        ChatEvent::ConversationStarted {
            conversation_id,
            members,
            opened_by: Some(initiator),
            request: true,
        } => {
            let rooms = members
                .iter()
                .filter(|m| m.key() != initiator.key())
                .map(user_room)
                .collect();
            out.to_rooms(
                rooms,
                CHAT_REQUEST,
                &Request {
                    chat_id: conversation_id.to_string(),
                    initiator: initiator.key(),
                },
            );
        }
        ChatEvent::RequestAnswered {
            conversation_id,
            by,
            initiator,
            accepted,
        } => out.to_room(
            user_room(initiator),
            if accepted {
                CHAT_ACCEPTED
            } else {
                CHAT_REJECTED
            },
            &Answered {
                chat_id: conversation_id.to_string(),
                user_id: by.key(),
            },
        ),
        ChatEvent::MemberLeft {
            conversation_id,
            user,
            ..
        } => out.leave_room(user_room(user), chat_room(conversation_id)),
        ChatEvent::ConversationDissolved {
            conversation_id,
            members,
            ..
        } => {
            for member in members {
                out.leave_room(user_room(member), chat_room(conversation_id));
            }
        }
        ChatEvent::MessageEdited(m) => out.to_room(
            chat_room(m.conversation_id),
            MESSAGE_EDITED,
            &Message::from(m),
        ),
        ChatEvent::MessageDeleted(m) => out.to_room(
            chat_room(m.conversation_id),
            MESSAGE_DELETED,
            &Deleted::new(m, true),
        ),
        ChatEvent::MessageHidden { message, user } => {
            out.to_room(
                user_room(user),
                MESSAGE_DELETED,
                &Deleted::new(message, false),
            );
        }
        ChatEvent::ReactionChanged {
            message_id,
            conversation_id,
            user,
            emoji,
            added,
            reactions,
        } => out.to_room(
            chat_room(conversation_id),
            if added {
                REACTION_ADDED
            } else {
                REACTION_REMOVED
            },
            &Reacted::new(message_id, conversation_id, user, emoji, reactions),
        ),
        ChatEvent::MessagesRead(r) => {
            out.to_room(chat_room(r.conversation_id), MESSAGES_READ, &Read::from(r));
        }
        ChatEvent::Typing {
            conversation_id,
            user,
            origin,
            typing,
            hidden_from,
        } => out.to_room_hiding(
            chat_room(conversation_id),
            origin,
            hidden_from.iter().map(|k| user_room_of(k)).collect(),
            if typing {
                USER_TYPING
            } else {
                USER_STOPPED_TYPING
            },
            &Typing {
                chat_id: conversation_id.to_string(),
                user_id: user.key(),
                is_typing: typing,
            },
        ),
        ChatEvent::ConversationStarted { .. }
        | ChatEvent::MembersAdded { .. }
        | ChatEvent::PresenceChanged { .. }
        | ChatEvent::RoomPresence { .. } => {}
    }
}
