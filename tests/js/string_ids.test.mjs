// 15. String user ids: a token with "sub": "alice-..." makes every payload carry the string.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertFields,
  assertAckOk,
  assertUserObject,
  chat,
  connect,
  emitAck,
  listMessages,
  newUser,
  NO_PAYLOAD,
  once,
  restSend,
} from './helpers.mjs';

test('string user ids round-trip through REST and socket payloads', async (t) => {
  const alice = newUser({ string: true, prefix: 'alice', name: 'Alice' });
  const bob = newUser({ string: true, prefix: 'bob', name: 'Bob' });
  assert.equal(typeof alice.id, 'string');
  const aliceSocket = await connect(t, alice.token);

  const online = once(aliceSocket, 'online_status', 5000, (p) => p.userId === bob.id);
  // A conversation first, so that alice is bob's partner.
  const first = await restSend(alice, { receiverId: bob.id, content: 'hi bob' });
  assert.equal(first.sender_id, alice.id);
  assert.equal(first.receiver_id, bob.id);
  assert.equal(typeof first.sender_id, 'string');
  assertUserObject(first.sender, { id: alice.id, name: 'Alice' });
  const conversationId = first.conversation_id;
  assert.equal(typeof conversationId, 'number', 'conversation ids stay numbers');
  // Bob writes back: he has taken part, so alice may see his presence.
  await restSend(bob, { receiverId: alice.id, content: 'hi alice' });

  const bobSocket = await connect(t, bob.token);
  const up = await online;
  assert.equal(up.userId, bob.id);
  assert.equal(up.isOnline, true);

  const personal = assertAckOk(await emitAck(bobSocket, 'join_personal_room', NO_PAYLOAD));
  assert.equal(personal.room, `user:${bob.id}`);

  const note = once(bobSocket, 'message_notification');
  const second = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'second' }),
  );
  assert.equal(second.conversationId, conversationId);
  assert.equal(second.senderId, alice.id);
  assert.equal(second.receiverId, bob.id);
  const n = await note;
  assert.equal(n.from, alice.id);
  assert.equal(n.sender.id, alice.id);

  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  const joined = once(aliceSocket, 'user_joined');
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
  assert.equal((await joined).userId, bob.id);

  const typing = once(aliceSocket, 'user_typing');
  assertAckOk(await emitAck(bobSocket, 'typing', { conversationId }));
  assertFields(await typing, { userId: bob.id, conversationId });

  const live = once(aliceSocket, 'new_message', 5000, (m) => m.senderId === bob.id);
  const reply = assertAckOk(await emitAck(bobSocket, 'send_message', { conversationId, content: 'hey' }));
  const m = await live;
  assert.equal(m.id, reply.id);
  assert.equal(m.senderId, bob.id);
  assert.equal(m.receiverId, alice.id);
  assertUserObject(m.sender, { id: bob.id, name: 'Bob' });

  const read = once(bobSocket, 'messages_read');
  assertAckOk(await emitAck(aliceSocket, 'mark_as_read', { conversationId }));
  assert.equal((await read).userId, alice.id);

  const data = await listMessages(bob, conversationId);
  assert.deepEqual(data.messages.map((x) => x.sender_id), [alice.id, bob.id, alice.id, bob.id]);
  const convs = await chat('GET', '/conversations', { token: bob.token });
  const conv = convs.body.data.conversations[0];
  assert.deepEqual([conv.participant_1_id, conv.participant_2_id].sort(), [alice.id, bob.id].sort());

  const unread = await chat('GET', '/unread', { token: bob.token });
  const entry = unread.body.data.find((e) => e.conversation_id === conversationId);
  assert.equal(entry?.unread_count, 2);
  assert.equal(entry?.other_participant?.id, alice.id);
});

test('a string user id and a numeric one can talk', async (t) => {
  const alice = newUser({ string: true, prefix: 'alice' });
  const bob = newUser();
  const bobSocket = await connect(t, bob.token);
  const note = once(bobSocket, 'message_notification');
  const m = await restSend(alice, { receiverId: bob.id, content: 'mixed' });
  assert.equal(m.sender_id, alice.id);
  assert.equal(m.receiver_id, bob.id);
  assert.equal(typeof m.receiver_id, 'number');
  const n = await note;
  assert.equal(n.from, alice.id);
  const reply = await restSend(bob, { receiverId: alice.id, content: 'back' });
  assert.equal(reply.conversation_id, m.conversation_id);
  assert.equal(reply.receiver_id, alice.id);
});
