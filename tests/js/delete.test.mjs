// 7. DELETE /messages/:id: sender only, soft delete, message_deleted broadcast.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertRestError,
  assertTimestamp,
  chat,
  connect,
  emitAck,
  expectNoEvent,
  listMessages,
  newUser,
  once,
  restSend,
} from './helpers.mjs';

test('the sender deletes a message: gone from history and search, room told', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const m1 = await restSend(alice, { receiverId: bob.id, content: 'keep me' });
  const conversationId = m1.conversation_id;
  const m2 = await restSend(alice, { conversationId, content: 'delete me' });
  const m3 = await restSend(bob, { conversationId, content: 'bob keeps this' });

  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));

  const bobTold = once(bobSocket, 'message_deleted');
  const aliceTold = once(aliceSocket, 'message_deleted');
  const res = await chat('DELETE', `/messages/${m2.id}`, { token: alice.token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.success, true);
  assert.equal(res.body.message, 'Message deleted');
  assert.equal(res.body.data.id, m2.id);
  assert.equal(res.body.data.conversation_id, conversationId);
  assertTimestamp(res.body.data.deleted_at, 'deleted_at');

  for (const event of [await bobTold, await aliceTold]) {
    assert.equal(event.messageId, m2.id);
    assert.equal(event.conversationId, conversationId);
    assertTimestamp(event.deletedAt, 'deletedAt');
  }

  const data = await listMessages(bob, conversationId);
  assert.equal(data.total, 2);
  assert.deepEqual(data.messages.map((m) => m.id), [m1.id, m3.id]);
  assert.deepEqual(data.messages.map((m) => m.seq), [1, 3], 'seq is not renumbered');

  const found = await chat('GET', `/conversations/${conversationId}/search?q=delete`, {
    token: alice.token,
  });
  assert.equal(found.status, 200);
  assert.equal(found.body.data.total, 0, 'deleted messages are not found by search');

  // New messages keep counting after the deleted one.
  const m4 = await restSend(alice, { conversationId, content: 'after' });
  assert.equal(m4.seq, 4);
});

test('only the sender may delete; unknown and malformed ids', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const m = await restSend(alice, { receiverId: bob.id, content: 'mine' });
  const bobSocket = await connect(t, bob.token);
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId: m.conversation_id }));
  const noBroadcast = expectNoEvent(bobSocket, 'message_deleted');

  assertRestError(
    await chat('DELETE', `/messages/${m.id}`, { token: bob.token }),
    403,
    'FORBIDDEN',
    'the receiver deleting',
  );
  assertRestError(
    await chat('DELETE', `/messages/${m.id}`, { token: mallory.token }),
    403,
    'FORBIDDEN',
    'an outsider deleting',
  );
  assertRestError(
    await chat('DELETE', '/messages/1999999999', { token: alice.token }),
    404,
    'NOT_FOUND',
    'unknown message',
  );
  assertRestError(
    await chat('DELETE', '/messages/abc', { token: alice.token }),
    400,
    'VALIDATION',
    'malformed message id',
  );
  await noBroadcast;
  const data = await listMessages(alice, m.conversation_id);
  assert.deepEqual(data.messages.map((x) => x.id), [m.id], 'still there');
});
