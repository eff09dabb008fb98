// 4. Typing indicators: user_typing, user_stopped_typing, the server-side expiry and disconnects.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertFields,
  TYPING_TIMEOUT_MS,
  assertAckError,
  assertAckOk,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
} from './helpers.mjs';

/** Alice and Bob, both connected and both in their conversation room. */
async function pair(t) {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const first = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'hi' }),
  );
  const conversationId = first.conversationId;
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
  return { alice, bob, aliceSocket, bobSocket, conversationId };
}

test('typing and stop_typing reach the other participant, not the typist', async (t) => {
  const { alice, aliceSocket, bobSocket, conversationId } = await pair(t);

  const typing = once(bobSocket, 'user_typing');
  const notToSelf = expectNoEvent(aliceSocket, 'user_typing');
  const ack = assertAckOk(await emitAck(aliceSocket, 'typing', { conversationId }));
  assert.equal(ack.conversationId, conversationId);
  assertFields(await typing, { userId: alice.id, conversationId });
  await notToSelf;

  const stopped = once(bobSocket, 'user_stopped_typing');
  const stopNotToSelf = expectNoEvent(aliceSocket, 'user_stopped_typing');
  const stopAck = assertAckOk(await emitAck(aliceSocket, 'stop_typing', { conversationId }));
  assert.equal(stopAck.conversationId, conversationId);
  assertFields(await stopped, { userId: alice.id, conversationId });
  await stopNotToSelf;
});

test('typing without stop_typing expires on the server', async (t) => {
  const { alice, aliceSocket, bobSocket, conversationId } = await pair(t);
  const typing = once(bobSocket, 'user_typing');
  const started = Date.now();
  const stopped = once(bobSocket, 'user_stopped_typing', TYPING_TIMEOUT_MS + 4000);
  aliceSocket.emit('typing', { conversationId }); // no ack, as the seed's frontend does
  await typing;
  const payload = await stopped;
  const elapsed = Date.now() - started;
  assertFields(payload, { userId: alice.id, conversationId });
  assert.ok(
    elapsed >= TYPING_TIMEOUT_MS - 500,
    `user_stopped_typing came after ${elapsed} ms, before the ${TYPING_TIMEOUT_MS} ms timeout`,
  );
});

test('each typing event restarts the expiry timer', async (t) => {
  const { alice, aliceSocket, bobSocket, conversationId } = await pair(t);
  const typing = once(bobSocket, 'user_typing');
  assertAckOk(await emitAck(aliceSocket, 'typing', { conversationId }));
  await typing;
  const step = Math.round(TYPING_TIMEOUT_MS * 0.6);
  // Still typing well before the timeout...
  await expectNoEvent(bobSocket, 'user_stopped_typing', step);
  // ...typing again restarts the timer, so nothing at the original deadline either.
  assertAckOk(await emitAck(aliceSocket, 'typing', { conversationId }));
  const restartedAt = Date.now();
  await expectNoEvent(bobSocket, 'user_stopped_typing', step);
  const payload = await once(bobSocket, 'user_stopped_typing', TYPING_TIMEOUT_MS + 4000);
  assertFields(payload, { userId: alice.id, conversationId });
  assert.ok(Date.now() - restartedAt >= TYPING_TIMEOUT_MS - 500);
});

test('a typist who disconnects stops typing at once', async (t) => {
  const { alice, aliceSocket, bobSocket, conversationId } = await pair(t);
  const typing = once(bobSocket, 'user_typing');
  assertAckOk(await emitAck(aliceSocket, 'typing', { conversationId }));
  await typing;
  // Well under the typing timeout, so only the disconnect can explain the event.
  const stopped = once(bobSocket, 'user_stopped_typing', Math.min(4000, TYPING_TIMEOUT_MS - 500));
  aliceSocket.disconnect();
  assertFields(await stopped, { userId: alice.id, conversationId });
});

test('after stop_typing the expiry timer does not fire a second user_stopped_typing', async (t) => {
  const { aliceSocket, bobSocket, conversationId } = await pair(t);
  const stopped = once(bobSocket, 'user_stopped_typing');
  assertAckOk(await emitAck(aliceSocket, 'typing', { conversationId }));
  assertAckOk(await emitAck(aliceSocket, 'stop_typing', { conversationId }));
  await stopped;
  await expectNoEvent(bobSocket, 'user_stopped_typing', TYPING_TIMEOUT_MS + 1000);
});

test('outsiders may not type in a conversation', async (t) => {
  const { bobSocket, conversationId } = await pair(t);
  const mallory = newUser();
  const mallorySocket = await connect(t, mallory.token);
  const noTyping = expectNoEvent(bobSocket, 'user_typing');
  assertAckError(await emitAck(mallorySocket, 'typing', { conversationId }), 'FORBIDDEN', 'typing');
  await noTyping;
});
