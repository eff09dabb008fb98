// 1. REST send, WebSocket receive; the REST message object and conversation list.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertPage,
  assertTimestamp,
  assertUserObject,
  chat,
  clockPast,
  connect,
  emitAck,
  expectNoEvent,
  http,
  listMessages,
  newUser,
  once,
  openConversation,
  rand,
  restSend,
} from './helpers.mjs';

test('GET /health answers ok without a token', async () => {
  const res = await http('GET', '/health');
  assert.equal(res.status, 200);
  assert.equal(res.body?.status, 'ok');
});

test('POST /send answers 201 with the snake_case envelope, and the receiver gets it live', async (t) => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const bobSocket = await connect(t, bob.token);

  // First message: bob is connected but in no conversation room, so he is notified.
  const notified = once(bobSocket, 'message_notification');
  const res = await chat('POST', '/send', {
    token: alice.token,
    body: { receiverId: bob.id, content: 'Hello! How are you?' },
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.success, true);
  assert.equal(res.body.message, 'Message sent');
  const first = res.body.data;
  assert.equal(typeof first.id, 'number');
  assert.equal(first.sender_id, alice.id);
  assert.equal(typeof first.sender_id, 'number');
  assert.equal(first.receiver_id, bob.id);
  assert.equal(typeof first.receiver_id, 'number');
  assert.equal(typeof first.conversation_id, 'number');
  assert.equal(first.content, 'Hello! How are you?');
  assert.equal(first.attachment_url, null);
  assert.equal(first.is_read, false);
  assert.equal(first.read_at, null);
  assert.equal(first.seq, 1);
  assert.equal(first.kind, 'text');
  assert.equal(first.reply_to, null);
  assert.equal(first.client_msg_id, null);
  assert.equal(first.edited_at, null);
  assertTimestamp(first.createdAt, 'createdAt');
  assertTimestamp(first.updatedAt, 'updatedAt');
  assertUserObject(first.sender, { id: alice.id, name: 'Alice' }, 'sender');
  assertUserObject(first.receiver, { id: bob.id }, 'receiver');

  const note = await notified;
  assert.equal(note.from, alice.id);
  assert.equal(note.conversationId, first.conversation_id);
  assert.equal(note.messageId, first.id);
  assert.equal(note.content, 'Hello! How are you?');
  assertTimestamp(note.timestamp, 'timestamp');
  assertUserObject(note.sender, { id: alice.id, name: 'Alice' }, 'notification sender');

  // Bob opens the conversation, as the seed's ChatWindow does.
  const joined = assertAckOk(
    await emitAck(bobSocket, 'join_conversation', { conversationId: first.conversation_id }),
  );
  assert.equal(joined.conversationId, first.conversation_id);
  assert.equal(joined.lastSeq, 1);

  const live = once(bobSocket, 'new_message');
  const noNote = expectNoEvent(bobSocket, 'message_notification');
  const second = await restSend(alice, {
    receiverId: bob.id,
    content: 'Second one',
    attachmentUrl: 'https://example.com/image.jpg',
  });
  assert.equal(second.conversation_id, first.conversation_id, 'one conversation per pair');
  assert.equal(second.seq, 2);
  assert.equal(second.attachment_url, 'https://example.com/image.jpg');

  const msg = await live;
  assert.equal(msg.id, second.id);
  assert.equal(msg.conversationId, first.conversation_id);
  assert.equal(msg.seq, 2);
  assert.equal(msg.senderId, alice.id);
  assert.equal(msg.receiverId, bob.id);
  assert.equal(msg.content, 'Second one');
  assert.equal(msg.attachmentUrl, 'https://example.com/image.jpg');
  assert.equal(msg.kind, 'text');
  assert.equal(msg.replyTo, null);
  assert.equal(msg.clientMsgId, null);
  assert.equal(msg.isRead, false);
  assertTimestamp(msg.createdAt, 'createdAt');
  assert.equal(msg.createdAt, second.createdAt, 'same createdAt over REST and socket');
  assertUserObject(msg.sender, { id: alice.id, name: 'Alice' }, 'sender');
  // No snake_case leaking into the socket payload.
  assert.equal(msg.sender_id, undefined);
  assert.equal(msg.conversation_id, undefined);
  await noNote;
});

test('receiverId given as a string of digits names the same user', async () => {
  const alice = newUser();
  const bob = newUser();
  const a = await restSend(alice, { receiverId: bob.id, content: 'as a number' });
  const b = await restSend(alice, { receiverId: String(bob.id), content: 'as a string' });
  assert.equal(b.receiver_id, bob.id);
  assert.equal(typeof b.receiver_id, 'number');
  assert.equal(b.conversation_id, a.conversation_id);
  assert.equal(b.seq, 2);
  // The other direction finds the same conversation too.
  const c = await restSend(bob, { receiverId: alice.id, content: 'reply' });
  assert.equal(c.conversation_id, a.conversation_id);
  assert.equal(c.sender_id, bob.id);
  assert.equal(c.receiver_id, alice.id);
  assert.equal(c.seq, 3);
});

test('POST /send with conversationId instead of receiverId', async () => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob);
  const m = await restSend(bob, { conversationId, content: 'by conversation id' });
  assert.equal(m.conversation_id, conversationId);
  assert.equal(m.sender_id, bob.id);
  assert.equal(m.receiver_id, alice.id);
  const m2 = await restSend(alice, { conversationId: String(conversationId), content: 'id as string' });
  assert.equal(m2.conversation_id, conversationId);
  assert.equal(m2.receiver_id, bob.id);
});

test('display claims of the token appear in sender objects, all but the email (not public)', async () => {
  const alice = newUser({
    name: 'Ada Lovelace',
    claims: { username: 'ada', email: 'ada@example.com', picture: 'https://example.com/ada.png' },
  });
  const bob = newUser({ name: 'Bob' });
  const m = await restSend(alice, { receiverId: bob.id, content: 'hi' });
  assertUserObject(m.sender, {
    id: alice.id,
    name: 'Ada Lovelace',
    username: 'ada',
    email: null,
    avatar: 'https://example.com/ada.png',
  });
  const list = await listMessages(bob, m.conversation_id);
  assertUserObject(list.messages[0].sender, { id: alice.id, name: 'Ada Lovelace', username: 'ada' });
});

test('GET /conversations lists the user\'s conversations, most recent first, paginated', async () => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const carol = newUser({ name: 'Carol' });
  const withBob = await restSend(alice, { receiverId: bob.id, content: 'to bob' });
  await clockPast(withBob.createdAt);
  const withCarol = await restSend(carol, { receiverId: alice.id, content: 'carol here' });
  assert.notEqual(withBob.conversation_id, withCarol.conversation_id);

  let res = await chat('GET', '/conversations', { token: alice.token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.success, true);
  let data = res.body.data;
  assert.equal(data.total, 2);
  assert.equal(data.page, 1);
  assert.equal(data.totalPages, 1);
  assert.deepEqual(
    data.conversations.map((c) => c.id),
    [withCarol.conversation_id, withBob.conversation_id],
  );
  const conv = data.conversations[0];
  assert.equal(typeof conv.type, 'string');
  assert.equal(conv.last_message, 'carol here');
  assertTimestamp(conv.last_message_at, 'last_message_at');
  assert.equal(conv.last_seq, 1);
  assert.equal(conv.unread_count, 1, 'alice has not read carol\'s message');
  assert.deepEqual(
    [conv.participant_1_id, conv.participant_2_id].map(String).sort(),
    [alice.id, carol.id].map(String).sort(),
  );
  const participants = [conv.participant1, conv.participant2];
  assert.ok(participants.some((p) => p.id === carol.id && p.name === 'Carol'));
  assert.ok(participants.some((p) => p.id === alice.id && p.name === 'Alice'));
  assertTimestamp(conv.createdAt, 'createdAt');
  assertTimestamp(conv.updatedAt, 'updatedAt');
  assert.equal(data.conversations[1].unread_count, 0, 'alice sent the only message to bob');

  // A newer message moves the bob conversation to the top.
  await clockPast(withCarol.createdAt);
  await restSend(bob, { receiverId: alice.id, content: 'bob again' });
  res = await chat('GET', '/conversations?page=1&limit=1', { token: alice.token });
  data = res.body.data;
  assert.equal(data.total, 2);
  assert.equal(data.totalPages, 2);
  assert.equal(data.conversations.length, 1);
  assert.equal(data.conversations[0].id, withBob.conversation_id);
  assert.equal(data.conversations[0].last_message, 'bob again');
  res = await chat('GET', '/conversations?page=2&limit=1', { token: alice.token });
  assert.equal(res.body.data.page, 2);
  assert.deepEqual(res.body.data.conversations.map((c) => c.id), [withCarol.conversation_id]);

  // Bob sees only his own conversation.
  res = await chat('GET', '/conversations', { token: bob.token });
  assert.deepEqual(res.body.data.conversations.map((c) => c.id), [withBob.conversation_id]);
  assert.equal(res.body.data.total, 1);
});

test('GET messages returns the full documented message objects', async () => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  // Bob has used the API before (so his token's display details are known to the server).
  assert.equal((await chat('GET', '/conversations', { token: bob.token })).status, 200);
  const sent = await restSend(alice, { receiverId: bob.id, content: `full ${rand()}` });
  const data = await listMessages(bob, sent.conversation_id);
  assertPage(data, { total: 1, page: 1, totalPages: 1, count: 1 });
  const m = data.messages[0];
  for (const key of [
    'id', 'conversation_id', 'seq', 'sender_id', 'receiver_id', 'content', 'attachment_url', 'kind',
    'reply_to', 'client_msg_id', 'is_read', 'read_at', 'createdAt', 'updatedAt', 'edited_at',
    'sender', 'receiver',
  ]) {
    assert.ok(key in m, `message object should have ${key}`);
  }
  assert.equal(m.id, sent.id);
  assert.equal(m.content, sent.content);
  assert.equal(m.sender_id, alice.id);
  assert.equal(m.receiver_id, bob.id);
  assertUserObject(m.sender, { id: alice.id, name: 'Alice' }, 'sender');
  assertUserObject(m.receiver, { id: bob.id, name: 'Bob' }, 'receiver');
});
