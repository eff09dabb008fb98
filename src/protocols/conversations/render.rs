//! The service's events in the `conversations` vocabulary, to this protocol's rooms.

use crate::protocols::conversations::wire::{
    MembershipPayload, MessageDeleted, MessageEdited, MessageNotification, MessagesRead,
    NewMessage, OnlineStatus, TypingPayload,
};
use crate::protocols::conversations::{
    MESSAGE_DELETED, MESSAGE_EDITED, MESSAGE_NOTIFICATION, MESSAGES_READ, NEW_MESSAGE,
    ONLINE_STATUS, USER_JOINED, USER_LEFT, USER_STOPPED_TYPING, USER_TYPING, conversation_room,
    user_room, user_room_of,
};
use crate::service::ChatEvent;
use crate::transport::broadcast::Broadcaster;

/// Says `event` to the rooms that should hear it:
///
/// - a new message to the conversation's room as `new_message`, and as `message_notification`
///   to each recipient's sockets that are not in that room;
/// - a delete, a read receipt, typing, and room entries and exits to the conversation's room
///   (typing and entries not to the connection they came from);
/// - presence to the personal rooms of the user's partners.
pub fn render(event: &ChatEvent<'_>, out: &Broadcaster) {
    match *event {
        ChatEvent::MessageCreated { message: m, .. } => {
            let room = conversation_room(m.conversation_id);
            out.to_room(room.clone(), NEW_MESSAGE, &NewMessage::from(m));
            let notification = MessageNotification::from(m);
            for recipient in m.recipients() {
                out.to_room_outside(
                    user_room(recipient),
                    room.clone(),
                    MESSAGE_NOTIFICATION,
                    &notification,
                );
            }
        }
        // Members join a conversation's room themselves; its first message is notified.
        ChatEvent::ConversationStarted { .. }
        | ChatEvent::MembersAdded { .. }
        | ChatEvent::RequestAnswered { .. } => {}
        ChatEvent::MemberLeft {
            conversation_id,
            user,
            ..
        } => {
            let room = conversation_room(conversation_id);
            out.leave_room(user_room(user), room.clone());
            out.to_room(
                room,
                USER_LEFT,
                &MembershipPayload {
                    user_id: user,
                    conversation_id,
                    message: format!("User {user} left the conversation"),
                },
            );
        }
        ChatEvent::MessageEdited(m) => out.to_room(
            conversation_room(m.conversation_id),
            MESSAGE_EDITED,
            &MessageEdited::from(m),
        ),
        ChatEvent::MessageDeleted(m) => out.to_room(
            conversation_room(m.conversation_id),
            MESSAGE_DELETED,
            &MessageDeleted::from(m),
        ),
        ChatEvent::MessagesRead(r) => out.to_room(
            conversation_room(r.conversation_id),
            MESSAGES_READ,
            &MessagesRead::from(r),
        ),
        // This vocabulary has online and offline only: a status change is not told.
        ChatEvent::PresenceChanged {
            presence,
            partners,
            came_or_went,
        } => {
            if came_or_went {
                out.to_rooms(
                    partners.iter().map(user_room).collect(),
                    ONLINE_STATUS,
                    &OnlineStatus::from(presence),
                );
            }
        }
        // Its members' sockets leave the room; this vocabulary has no event for it.
        ChatEvent::ConversationDissolved {
            conversation_id,
            members,
            ..
        } => {
            let room = conversation_room(conversation_id);
            for member in members {
                out.leave_room(user_room(member), room.clone());
            }
        }
        ChatEvent::Typing {
            conversation_id,
            user,
            origin,
            typing,
            hidden_from,
        } => out.to_room_hiding(
            conversation_room(conversation_id),
            origin,
            hidden_from.iter().map(|k| user_room_of(k)).collect(),
            if typing {
                USER_TYPING
            } else {
                USER_STOPPED_TYPING
            },
            &TypingPayload {
                user_id: user,
                conversation_id,
            },
        ),
        ChatEvent::RoomPresence {
            conversation_id,
            user,
            origin,
            joined,
        } => {
            let (event, verb) = if joined {
                (USER_JOINED, "joined")
            } else {
                (USER_LEFT, "left")
            };
            out.to_room_except(
                conversation_room(conversation_id),
                Some(origin),
                event,
                &MembershipPayload {
                    user_id: user,
                    conversation_id,
                    message: format!("User {user} {verb} the conversation"),
                },
            );
        }
        // Reactions and deletes for one member have no words in this vocabulary.
        ChatEvent::ReactionChanged { .. } | ChatEvent::MessageHidden { .. } => {}
    }
}
