// 5. Read receipts and unread counts: mark_as_read, PUT .../read, GET /unread-count, GET /unread.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertRestError,
  assertTimestamp,
  chat,
  connect,
  emitAck,
  listMessages,
  newUser,
  once,
  restSend,
} from './helpers.mjs';

async function unreadCount(user) {
  const res = await chat('GET', '/unread-count', { token: user.token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.success, true);
  assert.equal(typeof res.body.data.unread_count, 'number');
  return res.body.data.unread_count;
}

async function unreadByConversation(user) {
  const res = await chat('GET', '/unread', { token: user.token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.success, true);
  assert.ok(Array.isArray(res.body.data), `data should be an array: ${res.text}`);
  return res.body.data;
}

/** The unread entry of one conversation; conversations with nothing unread may be left out. */
function unreadOf(list, conversationId) {
  const entry = list.find((e) => e.conversation_id === conversationId);
  return entry ? entry.unread_count : 0;
}

test('mark_as_read clears the unread count and tells the sender', async (t) => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const carol = newUser({ name: 'Carol' });
  assert.equal(await unreadCount(bob), 0);

  const m1 = await restSend(alice, { receiverId: bob.id, content: 'one' });
  const conversationId = m1.conversation_id;
  await restSend(alice, { receiverId: bob.id, content: 'two' });
  await restSend(alice, { receiverId: bob.id, content: 'three' });
  const fromCarol = await restSend(carol, { receiverId: bob.id, content: 'from carol' });

  assert.equal(await unreadCount(bob), 4, 'three from alice and one from carol');
  assert.equal(await unreadCount(alice), 0, 'her own messages do not count');
  let list = await unreadByConversation(bob);
  const entry = list.find((e) => e.conversation_id === conversationId);
  assert.ok(entry, `an entry for the conversation with alice: ${JSON.stringify(list)}`);
  assert.equal(entry.unread_count, 3);
  assert.equal(entry.other_participant?.id, alice.id);
  assert.equal(entry.other_participant?.name, 'Alice');
  assert.equal(unreadOf(list, fromCarol.conversation_id), 1);

  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));

  const receipt = once(aliceSocket, 'messages_read');
  const ack = assertAckOk(await emitAck(bobSocket, 'mark_as_read', { conversationId }));
  assert.equal(ack.conversationId, conversationId);
  assert.equal(ack.lastReadSeq, 3, 'the last seq of the conversation');
  assert.ok('updated' in ack, 'ack data has updated');

  const read = await receipt;
  assert.equal(read.conversationId, conversationId);
  assert.equal(read.userId, bob.id);
  assert.equal(read.lastReadSeq, 3);
  assertTimestamp(read.readAt, 'readAt');

  assert.equal(await unreadCount(bob), 1, 'only carol\'s message is left');
  list = await unreadByConversation(bob);
  assert.equal(unreadOf(list, conversationId), 0);
  assert.equal(unreadOf(list, fromCarol.conversation_id), 1);

  // Bob writes back: unread for alice, and bob's reading earlier does not cover it.
  await restSend(bob, { receiverId: alice.id, content: 'bob writes back' });
  assert.equal(await unreadCount(alice), 1);
  assert.equal(await unreadCount(bob), 1);

  // Alice sees her messages as read; bob's own message to alice is still unread.
  const data = await listMessages(alice, conversationId);
  for (const m of data.messages) {
    if (m.sender_id === alice.id) {
      assert.equal(m.is_read, true, `message ${m.seq} is read`);
      assertTimestamp(m.read_at, 'read_at');
    } else {
      assert.equal(m.is_read, false, 'bob\'s message has not been read by alice');
      assert.equal(m.read_at, null);
    }
  }
});

test('PUT /conversations/:id/read marks read and broadcasts messages_read', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversation_id: conversationId } = await restSend(alice, {
    receiverId: bob.id,
    content: 'a',
  });
  await restSend(alice, { conversationId, content: 'b' });
  assert.equal(await unreadCount(bob), 2);

  const aliceSocket = await connect(t, alice.token);
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  const receipt = once(aliceSocket, 'messages_read');
  const res = await chat('PUT', `/conversations/${conversationId}/read`, { token: bob.token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.success, true);
  assert.equal(res.body.message, 'Messages marked as read');
  assert.equal(res.body.data.conversation_id, conversationId);
  assert.equal(res.body.data.last_read_seq, 2);
  assert.ok('updated' in res.body.data);

  const read = await receipt;
  assert.equal(read.conversationId, conversationId);
  assert.equal(read.userId, bob.id);
  assert.equal(read.lastReadSeq, 2);
  assert.equal(await unreadCount(bob), 0);
  assert.equal(unreadOf(await unreadByConversation(bob), conversationId), 0);

  // New messages after the read are unread again.
  await restSend(alice, { conversationId, content: 'c' });
  assert.equal(await unreadCount(bob), 1);
  assert.equal(unreadOf(await unreadByConversation(bob), conversationId), 1);
});

test('outsiders and unknown conversations cannot be marked read', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const { conversation_id: conversationId } = await restSend(alice, {
    receiverId: bob.id,
    content: 'private',
  });
  assertRestError(
    await chat('PUT', `/conversations/${conversationId}/read`, { token: mallory.token }),
    403,
    'FORBIDDEN',
    'outsider PUT read',
  );
  assertRestError(
    await chat('PUT', '/conversations/1999999999/read', { token: mallory.token }),
    404,
    'NOT_FOUND',
    'unknown conversation PUT read',
  );
  const mallorySocket = await connect(t, mallory.token);
  const ack = await emitAck(mallorySocket, 'mark_as_read', { conversationId });
  assert.equal(ack.success, false);
  assert.equal(ack.error.code, 'FORBIDDEN');
  assert.equal(await unreadCount(bob), 1, 'nothing was marked read');
});
