//! The service's events in the `sessions` vocabulary, to this protocol's rooms.

use crate::ids::UserId;
use crate::protocols::sessions::wire::{
    ChatRef, Created, Deleted, Dissolved, Message, ParticipantLeft, Presence, Read, UserInChat,
};
use crate::protocols::sessions::{
    CHAT_CREATED, CHAT_LEFT, MESSAGE_DELETED, MESSAGE_EDITED, MESSAGE_RECEIVED, MESSAGES_READ,
    PARTICIPANT_LEFT, PRESENCE_UPDATE, USER_JOINED_CHAT, USER_LEFT_CHAT, USER_OFFLINE, USER_ONLINE,
    USER_STOPPED_TYPING, USER_TYPING, chat_room, user_room, user_room_of,
};
use crate::service::ChatEvent;
use crate::transport::broadcast::Broadcaster;

/// Says `event` to the rooms that should hear it:
///
/// - a new message to the chat's room as `message_received`, but not to the socket that sent
///   it (which gets `message_sent`);
/// - a new chat to its members as `chat_created`, their sockets into its room;
/// - a delete, a read receipt, typing, and room entries and exits to the chat's room (typing
///   and entries not to the connection they came from);
/// - presence to the personal rooms of the user's partners: `presence_update` for every change
///   they can see, and `user_online` / `user_offline` as well when the user came or went;
/// - a dissolved group to its members as `chat_left` (with `dissolved: true`), their sockets
///   out of its room.
pub fn render(event: &ChatEvent<'_>, out: &Broadcaster) {
    match *event {
        ChatEvent::MessageCreated { message: m, origin } => {
            out.to_room_except(
                chat_room(m.conversation_id),
                origin,
                MESSAGE_RECEIVED,
                &Message::from(m),
            );
        }
        ChatEvent::ConversationStarted {
            conversation_id,
            members,
            ..
        } => {
            let room = chat_room(conversation_id);
            for member in members {
                out.join_room(user_room(member), room.clone());
            }
            let created = Created {
                chat_id: conversation_id.to_string(),
                participant_ids: members.iter().map(|m| m.key()).collect(),
            };
            out.to_rooms(
                members.iter().map(user_room).collect(),
                CHAT_CREATED,
                &created,
            );
        }
        ChatEvent::MembersAdded {
            conversation_id,
            users,
            ..
        } => {
            let room = chat_room(conversation_id);
            let chat_id = conversation_id.to_string();
            // The room hears who joined before they are in it.
            for user in users {
                out.to_room(
                    room.clone(),
                    USER_JOINED_CHAT,
                    &UserInChat {
                        chat_id: chat_id.clone(),
                        user_id: user.key(),
                    },
                );
            }
            for user in users {
                out.join_room(user_room(user), room.clone());
            }
            let created = Created {
                chat_id,
                participant_ids: users.iter().map(|m| m.key()).collect(),
            };
            out.to_rooms(
                users.iter().map(user_room).collect(),
                CHAT_CREATED,
                &created,
            );
        }
        ChatEvent::MemberLeft {
            conversation_id,
            user,
            by,
        } => {
            let room = chat_room(conversation_id);
            out.leave_room(user_room(user), room.clone());
            out.to_room(
                user_room(user),
                CHAT_LEFT,
                &ChatRef::new(conversation_id, None),
            );
            out.to_room(
                room,
                PARTICIPANT_LEFT,
                &ParticipantLeft {
                    chat_id: conversation_id.to_string(),
                    user_id: user.key(),
                    removed_by: by.map(UserId::key),
                },
            );
        }
        ChatEvent::MessageEdited(m) => out.to_room(
            chat_room(m.conversation_id),
            MESSAGE_EDITED,
            &Message::from(m),
        ),
        ChatEvent::MessageDeleted(m) => out.to_room(
            chat_room(m.conversation_id),
            MESSAGE_DELETED,
            &Deleted::from(m),
        ),
        ChatEvent::MessagesRead(r) => {
            out.to_room(chat_room(r.conversation_id), MESSAGES_READ, &Read::from(r));
        }
        ChatEvent::PresenceChanged {
            presence,
            partners,
            came_or_went,
        } => {
            let rooms: Vec<String> = partners.iter().map(user_room).collect();
            let payload = Presence::from(presence);
            if came_or_went {
                let event = if presence.online() {
                    USER_ONLINE
                } else {
                    USER_OFFLINE
                };
                out.to_rooms(rooms.clone(), event, &payload);
            }
            out.to_rooms(rooms, PRESENCE_UPDATE, &payload);
        }
        ChatEvent::ConversationDissolved {
            conversation_id,
            members,
            by,
        } => {
            let room = chat_room(conversation_id);
            let rooms: Vec<String> = members.iter().map(user_room).collect();
            for member in &rooms {
                out.leave_room(member.clone(), room.clone());
            }
            out.to_rooms(
                rooms,
                CHAT_LEFT,
                &Dissolved {
                    chat_id: conversation_id.to_string(),
                    dissolved: true,
                    by: by.key(),
                },
            );
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
            &UserInChat {
                chat_id: conversation_id.to_string(),
                user_id: user.key(),
            },
        ),
        // The sessions vocabulary has no chat requests.
        ChatEvent::RequestAnswered { .. } => {}
        ChatEvent::RoomPresence {
            conversation_id,
            user,
            origin,
            joined,
        } => out.to_room_except(
            chat_room(conversation_id),
            Some(origin),
            if joined {
                USER_JOINED_CHAT
            } else {
                USER_LEFT_CHAT
            },
            &UserInChat {
                chat_id: conversation_id.to_string(),
                user_id: user.key(),
            },
        ),
        // Reactions and deletes for one member have no words in this vocabulary.
        ChatEvent::ReactionChanged { .. } | ChatEvent::MessageHidden { .. } => {}
    }
}
