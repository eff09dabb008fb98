//! The chat service alone, on in-memory SQLite after the real migrations, with a recording
//! event sink: what is stored, and what is told, for each call.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use parley::config::Config;
use parley::error::AppError;
use parley::ids::UserId;
use parley::service::messages::SendInput;
use parley::service::{Chat, ChatEvent, EventSink, Limits};

/// Shared with the service, which tells it every event.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl EventSink for Recorder {
    fn publish(&self, event: &ChatEvent<'_>) {
        let line = match event {
            ChatEvent::MessageCreated { message: m, .. } => {
                format!("created {} #{}", m.content, m.seq)
            }
            ChatEvent::ConversationStarted {
                members, request, ..
            } => {
                if *request {
                    format!("request to {}", members.len() - 1)
                } else {
                    format!("started with {}", members.len())
                }
            }
            ChatEvent::MembersAdded { users, by, .. } => format!("{by} added {}", users.len()),
            ChatEvent::MemberLeft { user, by, .. } => match by {
                Some(by) => format!("{by} removed {user}"),
                None => format!("{user} left"),
            },
            ChatEvent::MessageDeleted(m) => format!("deleted #{}", m.seq),
            ChatEvent::MessageHidden { message, user } => format!("{user} hid #{}", message.seq),
            ChatEvent::ReactionChanged {
                user, emoji, added, ..
            } => format!("{user} reacted {emoji} added={added}"),
            ChatEvent::MessageEdited(m) => format!("edited #{} to {}", m.seq, m.content),
            ChatEvent::MessagesRead(r) => format!("read {} up to #{}", r.user, r.last_read_seq),
            ChatEvent::PresenceChanged {
                presence,
                partners,
                came_or_went,
            } => format!(
                "{} {} online={} partners={}{}",
                presence.user,
                presence.status,
                presence.online(),
                partners.len(),
                if *came_or_went { "" } else { " (status)" }
            ),
            ChatEvent::ConversationDissolved { members, by, .. } => {
                format!("{by} dissolved, {} members", members.len())
            }
            ChatEvent::Typing {
                user,
                typing,
                hidden_from,
                ..
            } => format!("{user} typing={typing} hidden from {hidden_from:?}"),
            ChatEvent::RoomPresence { user, joined, .. } => format!("{user} in room={joined}"),
            ChatEvent::RequestAnswered {
                by,
                initiator,
                accepted,
                ..
            } => format!("{by} answered {initiator}: accepted={accepted}"),
        };
        self.0.lock().unwrap().push(line);
    }
}

/// A service on a fresh in-memory database, and the record of what it tells.
async fn chat() -> (Chat, Recorder) {
    chat_with(Some(std::time::Duration::from_secs(900))).await
}

/// [`chat`] with chat requests on.
async fn chat_with_requests() -> (Chat, Recorder) {
    service(Some(std::time::Duration::from_secs(900)), true).await
}

/// [`chat`] with the edit window `edit_window`.
async fn chat_with(edit_window: Option<std::time::Duration>) -> (Chat, Recorder) {
    service(edit_window, false).await
}

async fn service(
    edit_window: Option<std::time::Duration>,
    direct_requests: bool,
) -> (Chat, Recorder) {
    let mut config = Config::with_defaults(None);
    config.database_url = "sqlite::memory:".to_owned();
    let db = parley::db::connect(&config).await.unwrap();
    parley::db::migrate(&db).await.unwrap();
    let events = Recorder::default();
    let chat = Chat::new(
        db,
        Limits {
            max_message_length: 20,
            send_rate_per_sec: 0,
            send_burst: 1,
            public_profile: parley::service::users::PublicFields::default(),
            typing_timeout: std::time::Duration::from_secs(5),
            edit_window,
            direct_requests,
            media: None,
        },
        Arc::new(events.clone()),
    );
    (chat, events)
}

fn user(n: i64) -> UserId {
    UserId::from_json(&serde_json::json!(n)).unwrap()
}

fn to(receiver: i64, content: &str) -> SendInput {
    SendInput {
        receiver: Some(user(receiver)),
        content: content.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn sends_are_numbered_told_in_order_and_repeats_are_silent() {
    let (chat, events) = chat().await;
    let a = user(1);
    let first = chat.send_message(&a, to(2, "one")).await.unwrap();
    let conv = first.message.conversation_id;
    for content in ["two", "three"] {
        let input = SendInput {
            conversation_id: Some(conv),
            content: content.to_owned(),
            ..Default::default()
        };
        chat.send_message(&a, input).await.unwrap();
    }
    assert_eq!(
        events.take(),
        [
            "started with 2",
            "created one #1",
            "created two #2",
            "created three #3"
        ],
        "the first message opened the conversation, told first"
    );

    let keyed = SendInput {
        client_msg_id: Some("k".to_owned()),
        ..to(2, "four")
    };
    let stored = chat.send_message(&a, keyed.clone()).await.unwrap();
    let again = chat.send_message(&a, keyed).await.unwrap();
    assert!(stored.created && !again.created);
    assert_eq!(stored.message.id, again.message.id);
    assert_eq!(
        events.take(),
        ["created four #4"],
        "the repeat told nothing"
    );
}

#[tokio::test]
async fn refused_sends_store_and_tell_nothing() {
    let (chat, events) = chat().await;
    let a = user(1);
    let too_long = "x".repeat(21);
    let cases: Vec<(SendInput, &str)> = vec![
        (to(2, ""), "VALIDATION"),
        (to(2, &too_long), "VALIDATION"),
        (
            SendInput {
                attachment_url: Some("ftp://x".into()),
                ..to(2, "x")
            },
            "VALIDATION",
        ),
        (to(1, "myself"), "UNPROCESSABLE"),
        (
            SendInput {
                conversation_id: Some(99),
                content: "x".into(),
                ..Default::default()
            },
            "NOT_FOUND",
        ),
    ];
    for (input, code) in cases {
        let err: AppError = chat.send_message(&a, input).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    assert!(events.take().is_empty());
    let convs = chat
        .list_conversations(
            &a,
            parley::service::views::PageRequest { page: 1, limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(convs.total, 0, "no conversation was created");
}

#[tokio::test]
async fn reads_deletes_and_presence_are_told() {
    let (chat, events) = chat().await;
    let (a, b) = (user(1), user(2));
    let sent = chat.send_message(&a, to(2, "hi")).await.unwrap();
    let conv = sent.message.conversation_id;
    events.take();

    assert_eq!(chat.unread_total(&b).await.unwrap(), 1);
    let receipt = chat.mark_read(&b, conv).await.unwrap();
    assert_eq!(receipt.updated, 1);
    assert_eq!(chat.unread_total(&b).await.unwrap(), 0);

    let err = chat.delete_message(&b, sent.message.id).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.delete_message(&a, sent.message.id).await.unwrap();

    // The socket layer announces only the first join and the last leave.
    let joins = [chat.presence_join(&a), chat.presence_join(&a)];
    assert_eq!(joins, [true, false]);
    chat.announce_online(&a).await.unwrap();
    let leaves = [
        chat.presence_leave(&a),
        chat.presence_leave(&a),
        chat.presence_leave(&a),
    ];
    assert_eq!(
        leaves,
        [false, true, false],
        "a leave never counted is not a last leave"
    );
    chat.announce_offline(&a).await.unwrap();
    assert_eq!(
        events.take(),
        [
            "read 2 up to #1",
            "deleted #1",
            "1 online online=true partners=1",
            "1 offline online=false partners=1",
        ],
        "only the first connect and the last disconnect change presence"
    );
}

/// The ids of `view`'s members with their roles, in membership order.
fn roles(view: &parley::service::views::ConversationView) -> Vec<(String, String)> {
    view.members
        .iter()
        .map(|m| (m.user.id.key().to_owned(), m.role.clone()))
        .collect()
}

#[tokio::test]
async fn groups_have_roles_and_a_member_removed_can_no_longer_send() {
    use parley::service::groups::{NewGroup, Role};

    let (chat, events) = chat().await;
    let (admin, moder, member, other) = (user(1), user(2), user(3), user(4));
    let group = chat
        .create_group(
            &admin,
            NewGroup {
                name: " Team ".to_owned(),
                members: vec![moder.clone(), member.clone(), moder.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = group.id;
    assert_eq!(group.title.as_deref(), Some("Team"));
    assert_eq!(
        roles(&group),
        [
            ("1".to_owned(), "admin".to_owned()),
            ("2".to_owned(), "member".to_owned()),
            ("3".to_owned(), "member".to_owned()),
        ]
    );
    assert_eq!(events.take(), ["started with 3"]);

    // Only an admin adds and changes roles; a member cannot.
    let err = chat
        .add_members(&member, id, vec![other.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.set_role(&admin, id, &moder, Role::Moderator)
        .await
        .unwrap();
    let err = chat
        .set_role(&moder, id, &member, Role::Admin)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.add_members(&admin, id, vec![other.clone()])
        .await
        .unwrap();
    assert_eq!(events.take(), ["1 added 1"]);

    // Everyone sends; a moderator deletes a member's message, a member cannot delete others'.
    let in_group = |content: &str| SendInput {
        conversation_id: Some(id),
        content: content.to_owned(),
        ..Default::default()
    };
    let mine = chat.send_message(&member, in_group("mine")).await.unwrap();
    let theirs = chat.send_message(&other, in_group("theirs")).await.unwrap();
    let err = chat
        .delete_message(&member, theirs.message.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.delete_message(&moder, mine.message.id).await.unwrap();

    // A moderator removes a member but not an admin; the removed member can no longer send,
    // read or see the group, though their membership was cached by their send.
    let err = chat.remove_member(&moder, id, &admin).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.remove_member(&moder, id, &member).await.unwrap();
    let err = chat
        .send_message(&member, in_group("again"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    let err = chat.conversation_view(&member, id).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    events.take();

    // The last admin leaves: the longest-standing member left becomes admin.
    chat.leave_group(&admin, id).await.unwrap();
    assert_eq!(events.take(), ["1 left"]);
    let view = chat.conversation_view(&moder, id).await.unwrap();
    assert_eq!(
        roles(&view),
        [
            ("2".to_owned(), "admin".to_owned()),
            ("4".to_owned(), "member".to_owned()),
        ]
    );
    // A removed member added again is a member again.
    chat.add_members(&moder, id, vec![member.clone()])
        .await
        .unwrap();
    chat.send_message(&member, in_group("back")).await.unwrap();

    // A direct conversation is not a group.
    let direct = chat.send_message(&admin, to(2, "hi")).await.unwrap();
    let err = chat
        .leave_group(&admin, direct.message.conversation_id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "UNPROCESSABLE");
}

#[tokio::test]
async fn the_sender_edits_within_the_window_and_every_edit_is_kept() {
    let (chat, events) = chat().await;
    let (a, b) = (user(1), user(2));
    let sent = chat.send_message(&a, to(2, "helo")).await.unwrap();
    let id = sent.message.id;
    events.take();

    let err = chat
        .edit_message(&b, id, "mine now".into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    let err = chat.edit_message(&a, id, " ".into()).await.unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    let edited = chat.edit_message(&a, id, "hello".into()).await.unwrap();
    assert_eq!(edited.content, "hello");
    assert!(edited.edited_at.is_some());
    chat.edit_message(&a, id, "hello!".into()).await.unwrap();
    // The same content again changes nothing and tells nobody.
    chat.edit_message(&a, id, "hello!".into()).await.unwrap();
    assert_eq!(events.take(), ["edited #1 to hello", "edited #1 to hello!"]);
    let history: Vec<String> = chat
        .edit_history(&b, id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.previous_content)
        .collect();
    assert_eq!(history, ["helo", "hello"]);

    // Past the window, the edit is refused and nothing changes.
    let (late, events) = chat_with(Some(std::time::Duration::ZERO)).await;
    let sent = late.send_message(&a, to(2, "first")).await.unwrap();
    events.take();
    let err = late
        .edit_message(&a, sent.message.id, "second".into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "EDIT_WINDOW_EXPIRED");
    assert!(events.take().is_empty());
    assert!(
        late.edit_history(&a, sent.message.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn two_admins_stepping_down_at_once_leave_one_admin() {
    use parley::service::groups::{NewGroup, Role};

    let (chat, _events) = chat().await;
    let (a, b, c) = (user(1), user(2), user(3));
    let group = chat
        .create_group(
            &a,
            NewGroup {
                name: "pair of admins".to_owned(),
                members: vec![b.clone(), c.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    chat.set_role(&a, group.id, &b, Role::Admin).await.unwrap();
    // Each demotes the other at the same time: one must be refused.
    let (first, second) = tokio::join!(
        chat.set_role(&a, group.id, &b, Role::Member),
        chat.set_role(&b, group.id, &a, Role::Member),
    );
    assert!(
        first.is_ok() != second.is_ok(),
        "exactly one may succeed: {first:?} {second:?}"
    );
    let view = chat.conversation_view(&c, group.id).await.unwrap();
    let admins = view.members.iter().filter(|m| m.role == "admin").count();
    assert_eq!(admins, 1);
}

/// A group of `admin` with `members`.
async fn group_of(chat: &Chat, admin: &UserId, members: &[&UserId]) -> i64 {
    chat.create_group(
        admin,
        parley::service::groups::NewGroup {
            name: "Team".to_owned(),
            members: members.iter().map(|m| (*m).clone()).collect(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

fn in_group(conversation_id: i64, content: &str) -> SendInput {
    SendInput {
        conversation_id: Some(conversation_id),
        content: content.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn kinds_need_their_attachment_and_a_delete_leaves_a_tombstone() {
    use parley::service::messages::Cursor;
    use parley::service::views::{AttachmentDetails, PageRequest};

    let (chat, events) = chat().await;
    let (a, b) = (user(1), user(2));
    let first = chat.send_message(&a, to(2, "hi")).await.unwrap().message;
    let conv = first.conversation_id;
    let image = |url: Option<&str>, mime: &str| SendInput {
        conversation_id: Some(conv),
        kind: Some("IMAGE".to_owned()),
        attachment_url: url.map(str::to_owned),
        attachment: AttachmentDetails {
            name: Some("cat.png".to_owned()),
            mime: Some(mime.to_owned()),
            size: Some(10),
            duration_ms: None,
        },
        ..Default::default()
    };
    for (input, code) in [
        (image(None, "image/png"), "VALIDATION"),
        (
            image(Some("https://e.com/c.png"), "text/html"),
            "VALIDATION",
        ),
        (
            SendInput {
                kind: Some("system".to_owned()),
                ..in_group(conv, "i am root")
            },
            "FORBIDDEN",
        ),
        (
            SendInput {
                kind: Some("sticker".to_owned()),
                ..in_group(conv, "x")
            },
            "VALIDATION",
        ),
    ] {
        let err = chat.send_message(&a, input).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    let pic = chat
        .send_message(&a, image(Some("https://e.com/c.png"), "image/png"))
        .await
        .unwrap()
        .message;
    assert_eq!(
        (pic.kind.as_str(), pic.seq, pic.content.as_str()),
        ("image", 2, "")
    );
    assert_eq!(pic.attachment.name.as_deref(), Some("cat.png"));
    assert_eq!(
        chat.conversation_view(&b, conv)
            .await
            .unwrap()
            .last_message
            .as_deref(),
        Some("[image: cat.png]")
    );

    chat.edit_message(&a, first.id, "hello".to_owned())
        .await
        .unwrap();
    chat.delete_message(&a, pic.id).await.unwrap();
    chat.delete_message(&a, first.id).await.unwrap();
    let page = PageRequest { page: 1, limit: 10 };
    let all = chat
        .history(&b, conv, page, Cursor::default(), true)
        .await
        .unwrap();
    assert_eq!(all.items.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    for m in &all.items {
        assert!(m.deleted_at.is_some());
        assert_eq!(
            (m.content.as_str(), m.attachment_url.as_deref()),
            ("", None)
        );
        assert_eq!(m.attachment, AttachmentDetails::default());
    }
    assert!(chat.edit_history(&a, first.id).await.unwrap().is_empty());
    let live = chat
        .history(&b, conv, page, Cursor::default(), false)
        .await
        .unwrap();
    assert!(live.items.is_empty());
    events.take();
}

#[tokio::test]
async fn fetching_delivers_reading_is_recorded_per_reader() {
    let (chat, _events) = chat().await;
    let (a, b, c) = (user(1), user(2), user(3));
    let group = group_of(&chat, &a, &[&b, &c]).await;
    let sent = chat
        .send_message(&a, in_group(group, "news"))
        .await
        .unwrap()
        .message;
    let receipts = chat.receipts(&c, sent.id).await.unwrap();
    assert!(receipts.read_by.is_empty() && receipts.delivered_to.is_empty());

    let page = parley::service::views::PageRequest { page: 1, limit: 10 };
    chat.list_messages(&b, group, page, None).await.unwrap();
    let receipts = chat.receipts(&c, sent.id).await.unwrap();
    assert_eq!(receipts.delivered_to, std::slice::from_ref(&b));
    assert!(receipts.read_by.is_empty());

    chat.mark_read(&c, group).await.unwrap();
    let receipts = chat.receipts(&a, sent.id).await.unwrap();
    assert_eq!(receipts.read_by.len(), 1);
    assert_eq!(receipts.read_by[0].user, c);
    assert!(receipts.read_by[0].at.is_some());
    assert_eq!(receipts.delivered_to, [b.clone(), c.clone()]);
    let err = chat.receipts(&user(9), sent.id).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
}

#[tokio::test]
async fn statuses_are_told_as_partners_see_them_and_a_dissolved_group_is_gone() {
    use parley::service::presence::Status;

    let (chat, events) = chat().await;
    let (a, b, c) = (user(1), user(2), user(3));
    let group = group_of(&chat, &a, &[&b, &c]).await;
    // B takes part, so the group sees B's presence.
    chat.send_message(&b, in_group(group, "hi")).await.unwrap();
    events.take();
    // Not connected: a status is kept, nothing is told.
    chat.set_status(&b, Status::Away).await.unwrap();
    assert!(events.take().is_empty());
    assert!(chat.presence_join(&b));
    chat.announce_online(&b).await.unwrap();
    chat.set_status(&b, Status::Busy).await.unwrap();
    chat.set_status(&b, Status::Invisible).await.unwrap();
    assert!(chat.online_in(&a, group).await.unwrap().is_empty());
    chat.set_status(&b, Status::Online).await.unwrap();
    assert_eq!(
        events.take(),
        [
            "2 away online=true partners=2",
            "2 busy online=true partners=2 (status)",
            "2 offline online=false partners=2",
            "2 online online=true partners=2",
        ]
    );
    let online = chat.online_in(&a, group).await.unwrap();
    assert_eq!(
        online
            .iter()
            .map(|p| (p.user.clone(), p.status))
            .collect::<Vec<_>>(),
        [(b.clone(), "online")]
    );
    assert_eq!(Status::parse("nap").unwrap_err().code(), "VALIDATION");

    let err = chat.dissolve_group(&b, group).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    chat.dissolve_group(&a, group).await.unwrap();
    let err = chat
        .send_message(&b, in_group(group, "anyone?"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    assert!(chat.conversation_ids(&c).await.unwrap().is_empty());
    assert_eq!(events.take(), ["1 dissolved, 3 members"]);
}

/// The ids of `user`'s conversations in `folder`.
async fn folder(
    chat: &Chat,
    user: &UserId,
    folder: parley::service::conversations::Folder,
) -> Vec<i64> {
    let page = parley::service::views::PageRequest { page: 1, limit: 50 };
    let found = chat.list_folder(user, folder, page).await.unwrap();
    found.items.iter().map(|c| c.id).collect()
}

/// How many messages the conversation holds, deleted ones included.
async fn stored(chat: &Chat, user: &UserId, conversation_id: i64) -> u64 {
    let page = parley::service::views::PageRequest {
        page: 1,
        limit: 100,
    };
    let cursor = parley::service::messages::Cursor::default();
    chat.history(user, conversation_id, page, cursor, true)
        .await
        .unwrap()
        .total
}

fn in_conversation(conversation_id: i64, content: &str) -> SendInput {
    SendInput {
        conversation_id: Some(conversation_id),
        content: content.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_request_is_the_recipients_to_answer_and_a_decline_stops_the_initiator() {
    use parley::service::conversations::Folder::{Active, Archived, Requests};
    use parley::service::views::RequestStatus;

    let (chat, events) = chat_with_requests().await;
    let (a, b) = (user(1), user(2));
    let (opened, created) = chat.open_direct(&a, &b).await.unwrap();
    assert!(created);
    let id = opened.id;
    assert_eq!(opened.request, RequestStatus::Pending);
    assert_eq!(opened.opened_by.as_ref().map(UserId::key), Some("1"));
    assert!(
        !opened.standing.awaiting_answer,
        "the initiator awaits nothing"
    );
    assert_eq!(events.take(), ["request to 1"]);
    // Among the recipient's requests, not their chats; among the initiator's chats.
    assert_eq!(folder(&chat, &b, Requests).await, [id]);
    assert!(folder(&chat, &b, Active).await.is_empty());
    assert_eq!(folder(&chat, &a, Active).await, [id]);
    assert!(folder(&chat, &a, Requests).await.is_empty());
    let seen = chat.conversation_view(&b, id).await.unwrap();
    assert!(seen.standing.awaiting_answer);

    // The initiator may write while it is pending; it is not unread for the recipient.
    chat.send_message(&a, in_conversation(id, "hello?"))
        .await
        .unwrap();
    assert_eq!(chat.unread_total(&b).await.unwrap(), 0);
    let err = chat.accept_request(&a, id).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");

    // Declined: gone from the recipient's lists, and the initiator may not write.
    events.take();
    let declined = chat.reject_request(&b, id).await.unwrap();
    assert_eq!(declined.request, RequestStatus::Rejected);
    assert_eq!(events.take(), ["2 answered 1: accepted=false"]);
    for list in [Active, Requests, Archived] {
        assert!(folder(&chat, &b, list).await.is_empty(), "{list:?}");
    }
    assert_eq!(folder(&chat, &a, Active).await, [id]);
    let err = chat
        .send_message(&a, in_conversation(id, "please"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
    assert_eq!(stored(&chat, &a, id).await, 1);
    // Declining again answers the same and tells nobody.
    chat.reject_request(&b, id).await.unwrap();
    assert!(events.take().is_empty());

    // The recipient changes their mind: open for both, the earlier message now unread.
    let accepted = chat.accept_request(&b, id).await.unwrap();
    assert_eq!(accepted.request, RequestStatus::Accepted);
    assert_eq!(events.take(), ["2 answered 1: accepted=true"]);
    assert_eq!(folder(&chat, &b, Active).await, [id]);
    chat.send_message(&a, in_conversation(id, "thanks"))
        .await
        .unwrap();
    assert_eq!(chat.unread_total(&b).await.unwrap(), 2);
    let err = chat.reject_request(&b, id).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT", "{err}");

    // A reply accepts a request too.
    let c = user(3);
    let (second, _) = chat.open_direct(&c, &b).await.unwrap();
    events.take();
    chat.send_message(&b, in_conversation(second.id, "hi c"))
        .await
        .unwrap();
    assert_eq!(
        events.take(),
        ["2 answered 3: accepted=true", "created hi c #1"]
    );
    let view = chat.conversation_view(&c, second.id).await.unwrap();
    assert_eq!(view.request, RequestStatus::Accepted);
}

#[tokio::test]
async fn blocks_hold_both_ways_and_leave_history_readable() {
    use parley::service::Origin;

    let (chat, events) = chat().await;
    let (a, b, c) = (user(1), user(2), user(3));
    let id = chat
        .send_message(&a, to(2, "hi"))
        .await
        .unwrap()
        .message
        .conversation_id;
    chat.send_message(&b, to(1, "hey")).await.unwrap();
    assert_eq!(
        chat.partners_of(&a).await.unwrap(),
        std::slice::from_ref(&b)
    );
    let block = chat.block(&b, &a).await.unwrap();
    assert!(block.since.is_some());
    let again = chat.block(&b, &a).await.unwrap();
    assert_eq!(again.since, block.since, "a repeat changes nothing");
    let listed = chat.blocked_users(&b).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user.id.key(), "1");
    events.take();

    // Neither may write to the other, by conversation or by receiver; nothing is stored.
    for (from, input) in [
        (&a, in_conversation(id, "still there?")),
        (&b, in_conversation(id, "go away")),
        (&a, to(2, "by receiver")),
    ] {
        let err = chat.send_message(from, input).await.unwrap_err();
        assert_eq!(err.code(), "BLOCKED", "{err}");
        assert_eq!(err.status(), 403);
    }
    assert_eq!(stored(&chat, &a, id).await, 2, "history stays readable");
    // Nor edit or react there.
    let page = parley::service::views::PageRequest { page: 1, limit: 10 };
    let cursor = parley::service::messages::Cursor::default();
    let first = chat
        .history(&a, id, page, cursor, true)
        .await
        .unwrap()
        .items[0]
        .id;
    let err = chat
        .edit_message(&a, first, "changed".to_owned())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "BLOCKED", "{err}");
    let err = chat.react(&b, first, "👍", true).await.unwrap_err();
    assert_eq!(err.code(), "BLOCKED", "{err}");
    assert!(chat.conversation_view(&a, id).await.unwrap().blocked);
    assert!(
        chat.partners_of(&a).await.unwrap().is_empty(),
        "no presence either way"
    );
    assert!(chat.partners_of(&b).await.unwrap().is_empty());
    assert!(chat.presence_join(&b));
    assert!(
        chat.online_in(&a, id).await.unwrap().is_empty(),
        "not in online lists either"
    );
    let origin = Origin([1; 16]);
    let err = chat.set_typing(&a, id, origin, true).await.unwrap_err();
    assert_eq!(err.code(), "BLOCKED", "{err}");
    assert!(events.take().is_empty(), "nothing told");

    // No new chat with someone who blocks you: neither opened nor by a first message.
    chat.block(&c, &a).await.unwrap();
    let err = chat.open_direct(&a, &c).await.unwrap_err();
    assert_eq!(err.code(), "BLOCKED", "{err}");
    let err = chat.send_message(&a, to(3, "hello")).await.unwrap_err();
    assert_eq!(err.code(), "BLOCKED", "{err}");
    assert_eq!(chat.conversation_ids(&a).await.unwrap(), [id]);
    chat.unblock(&c, &a).await.unwrap();

    // In a group, only the blocker is spared the blocked user's typing.
    let group = parley::service::groups::NewGroup {
        name: "g".to_owned(),
        description: None,
        avatar_url: None,
        members: vec![b.clone(), c.clone()],
    };
    let group = chat.create_group(&a, group).await.unwrap().id;
    chat.send_message(&a, in_conversation(group, "all"))
        .await
        .unwrap();
    events.take();
    chat.set_typing(&a, group, origin, true).await.unwrap();
    assert_eq!(events.take(), ["1 typing=true hidden from [\"2\"]"]);

    // Unblocked, they write again and see each other online.
    chat.unblock(&b, &a).await.unwrap();
    let online = chat.online_in(&a, id).await.unwrap();
    assert_eq!(
        online.iter().map(|p| p.user.key()).collect::<Vec<_>>(),
        ["2"]
    );
    chat.send_message(&a, in_conversation(id, "friends?"))
        .await
        .unwrap();
    assert!(!chat.conversation_view(&a, id).await.unwrap().blocked);
    let err = chat.block(&a, &a).await.unwrap_err();
    assert_eq!(err.code(), "UNPROCESSABLE", "{err}");
}

#[tokio::test]
async fn an_archived_chat_comes_back_with_a_message_unless_muted() {
    use parley::service::conversations::Folder::{Active, Archived};

    let (chat, _) = chat().await;
    let (a, b) = (user(1), user(2));
    let id = chat
        .send_message(&a, to(2, "one"))
        .await
        .unwrap()
        .message
        .conversation_id;
    let view = chat.archive(&b, id, true).await.unwrap();
    assert!(view.standing.archived);
    assert_eq!(folder(&chat, &b, Archived).await, [id]);
    assert!(folder(&chat, &b, Active).await.is_empty());
    assert_eq!(
        folder(&chat, &a, Active).await,
        [id],
        "archives are per member"
    );
    chat.send_message(&a, in_conversation(id, "two"))
        .await
        .unwrap();
    assert_eq!(folder(&chat, &b, Active).await, [id]);
    assert!(
        !chat
            .conversation_view(&b, id)
            .await
            .unwrap()
            .standing
            .archived
    );

    // Muted, it stays archived; unmuted, until the next message.
    chat.archive(&b, id, true).await.unwrap();
    let view = chat.mute(&b, id, true).await.unwrap();
    assert!(view.standing.muted && view.standing.archived);
    chat.send_message(&a, in_conversation(id, "three"))
        .await
        .unwrap();
    assert_eq!(folder(&chat, &b, Archived).await, [id]);
    let view = chat.mute(&b, id, false).await.unwrap();
    assert!(!view.standing.muted && view.standing.archived);
    chat.send_message(&a, in_conversation(id, "four"))
        .await
        .unwrap();
    assert_eq!(folder(&chat, &b, Active).await, [id]);
    // Back by a message, it stays back when muted.
    let view = chat.mute(&b, id, true).await.unwrap();
    assert!(view.standing.muted && !view.standing.archived);
    assert_eq!(folder(&chat, &b, Active).await, [id]);
    chat.mute(&b, id, false).await.unwrap();
    let view = chat.archive(&b, id, false).await.unwrap();
    assert!(!view.standing.archived);
}

#[tokio::test]
async fn replies_react_and_hide_for_one_member() {
    let (chat, events) = chat().await;
    let (a, b, c) = (user(1), user(2), user(3));
    let first = chat
        .send_message(&a, to(2, "question"))
        .await
        .unwrap()
        .message;
    let id = first.conversation_id;
    let other = chat
        .send_message(&a, to(3, "elsewhere"))
        .await
        .unwrap()
        .message;

    // A reply names its parent and shows a preview; the parent counts it.
    let reply = SendInput {
        reply_to: Some(first.id),
        ..in_conversation(id, "answer")
    };
    let answered = chat.send_message(&b, reply).await.unwrap().message;
    assert_eq!(answered.reply_to, Some(first.id));
    let preview = answered.reply.as_ref().unwrap();
    assert_eq!(
        (preview.preview.as_str(), preview.sender.key()),
        ("question", "1")
    );
    // Not to a message of another chat, nor to one that does not exist: nothing stored.
    for parent in [other.id, 999_999] {
        let stray = SendInput {
            reply_to: Some(parent),
            ..in_conversation(id, "stray")
        };
        let err = chat.send_message(&b, stray).await.unwrap_err();
        assert_eq!(err.code(), "VALIDATION", "{err}");
    }
    assert_eq!(stored(&chat, &a, id).await, 2);
    let page = parley::service::views::PageRequest { page: 1, limit: 10 };
    let thread = chat.replies(&a, first.id, page).await.unwrap();
    assert_eq!(
        thread.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [answered.id]
    );
    let err = chat.replies(&c, first.id, page).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
    let history = |viewer: UserId| {
        let chat = chat.clone();
        async move {
            let cursor = parley::service::messages::Cursor::default();
            chat.history(&viewer, id, page, cursor, true)
                .await
                .unwrap()
                .items
        }
    };
    assert_eq!(history(a.clone()).await[0].reply_count, 1);

    // Reactions: once per user and emoji, counted, `mine` for the caller, told on change.
    events.take();
    let view = chat.react(&b, first.id, "👍", true).await.unwrap();
    assert_eq!((view.reactions[0].count, view.reactions[0].mine), (1, true));
    chat.react(&b, first.id, "👍", true).await.unwrap();
    let view = chat.react(&a, first.id, "👍", true).await.unwrap();
    assert_eq!(view.reactions[0].count, 2);
    assert_eq!(view.reactions[0].users, ["2", "1"]);
    assert_eq!(events.take().len(), 2, "a repeat tells nobody");
    let seen = history(b.clone()).await;
    assert_eq!(seen[0].reactions[0].count, 2);
    assert!(seen[0].reactions[0].mine);
    for bad in ["", "ok", "👍👍", "<b>"] {
        let err = chat.react(&a, first.id, bad, true).await.unwrap_err();
        assert_eq!(err.code(), "VALIDATION", "{bad:?}");
    }
    let err = chat.react(&c, first.id, "👍", true).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");
    let view = chat.react(&a, first.id, "👍", false).await.unwrap();
    assert_eq!(
        (view.reactions[0].count, view.reactions[0].mine),
        (1, false)
    );

    // Deleted for one member: gone from their history only.
    chat.delete_for_me(&b, first.id).await.unwrap();
    let ids = |items: Vec<parley::service::views::MessageView>| {
        items.iter().map(|m| m.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(history(b.clone()).await), [answered.id]);
    assert_eq!(ids(history(a.clone()).await), [first.id, answered.id]);
    let err = chat.delete_for_me(&c, first.id).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err}");

    // A reply deleted for everyone no longer counts in its thread.
    chat.delete_message(&b, answered.id).await.unwrap();
    assert_eq!(history(a.clone()).await[0].reply_count, 0);
    assert!(
        chat.replies(&a, first.id, page)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn without_requests_accept_answers_and_new_chats_sort_by_their_creation() {
    use parley::service::conversations::Folder::Active;

    let (chat, events) = chat().await;
    let (a, c) = (user(1), user(3));
    let old = chat
        .send_message(&a, to(2, "old"))
        .await
        .unwrap()
        .message
        .conversation_id;
    let (fresh, _) = chat.open_direct(&a, &c).await.unwrap();
    events.take();
    // Requests are off: either member's accept answers the chat and tells nobody.
    for member in [&a, &c] {
        let view = chat.accept_request(member, fresh.id).await.unwrap();
        assert_eq!(view.id, fresh.id);
    }
    assert!(events.take().is_empty());
    let err = chat.reject_request(&c, fresh.id).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT", "{err}");
    // A chat opened after the last message, with none yet, comes first.
    assert_eq!(folder(&chat, &a, Active).await, [fresh.id, old]);
}
