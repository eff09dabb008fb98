// 8. Outsiders are refused everywhere; unknown conversations are NOT_FOUND.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckError,
  assertAckOk,
  assertRestError,
  chat,
  connect,
  emitAck,
  expectNoEvent,
  listMessages,
  newUser,
  once,
  openConversation,
} from './helpers.mjs';

const UNKNOWN_CONVERSATION = 1999999999;

test('an outsider cannot join, send to, or read a conversation', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const { conversationId } = await openConversation(alice, bob, 'just us');
  const aliceSocket = await connect(t, alice.token);
  const carolSocket = await connect(t, carol.token);
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));

  const carolSeesNoJoin = expectNoEvent(aliceSocket, 'user_joined');
  assertAckError(
    await emitAck(carolSocket, 'join_conversation', { conversationId }),
    'FORBIDDEN',
    'outsider join',
  );
  await carolSeesNoJoin;

  const nothingLive = expectNoEvent(aliceSocket, 'new_message');
  assertAckError(
    await emitAck(carolSocket, 'send_message', { conversationId, content: 'let me in' }),
    'FORBIDDEN',
    'outsider send',
  );
  assertAckError(
    await emitAck(carolSocket, 'send_message', {
      conversationId,
      receiverId: alice.id,
      content: 'let me in',
    }),
    'FORBIDDEN',
    'outsider send with receiverId',
  );
  await nothingLive;
  const data = await listMessages(alice, conversationId);
  assert.equal(data.total, 1, 'nothing from carol was stored');
  assert.deepEqual(data.messages.map((m) => m.content), ['just us']);

  // The refused join really did not put carol in the room.
  const carolGetsNothing = expectNoEvent(carolSocket, 'new_message');
  const aliceGets = once(aliceSocket, 'new_message');
  assertAckOk(await emitAck(aliceSocket, 'send_message', { conversationId, content: 'private' }));
  await aliceGets;
  await carolGetsNothing;

  assertRestError(
    await chat('GET', `/conversations/${conversationId}/messages`, { token: carol.token }),
    403,
    'FORBIDDEN',
    'outsider GET messages',
  );
  assertRestError(
    await chat('POST', '/send', { token: carol.token, body: { conversationId, content: 'hi' } }),
    403,
    'FORBIDDEN',
    'outsider POST /send',
  );
  assert.equal((await listMessages(bob, conversationId)).total, 2);

  // Carol's own conversation list does not contain it.
  const list = await chat('GET', '/conversations', { token: carol.token });
  assert.equal(list.status, 200);
  assert.equal(list.body.data.total, 0);
});

test('a participant cannot address a third user inside a conversation', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const { conversationId } = await openConversation(alice, bob, 'first');
  const aliceSocket = await connect(t, alice.token);
  const ack = await emitAck(aliceSocket, 'send_message', {
    conversationId,
    receiverId: carol.id,
    content: 'wrong receiver',
  });
  assert.equal(ack.success, false, `expected a refusal, got ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error.code, 'string');
  assert.equal((await listMessages(alice, conversationId)).total, 1);
});

test('unknown conversations are NOT_FOUND', async (t) => {
  const alice = newUser();
  const aliceSocket = await connect(t, alice.token);
  assertAckError(
    await emitAck(aliceSocket, 'join_conversation', { conversationId: UNKNOWN_CONVERSATION }),
    'NOT_FOUND',
    'join unknown',
  );
  assertAckError(
    await emitAck(aliceSocket, 'send_message', {
      conversationId: UNKNOWN_CONVERSATION,
      content: 'anyone?',
    }),
    'NOT_FOUND',
    'send to unknown',
  );
  assertRestError(
    await chat('GET', `/conversations/${UNKNOWN_CONVERSATION}/messages`, { token: alice.token }),
    404,
    'NOT_FOUND',
    'GET messages of unknown',
  );
  assertRestError(
    await chat('POST', '/send', {
      token: alice.token,
      body: { conversationId: UNKNOWN_CONVERSATION, content: 'anyone?' },
    }),
    404,
    'NOT_FOUND',
    'POST /send to unknown',
  );
  assertRestError(
    await chat('GET', '/no-such-route', { token: alice.token }),
    404,
    'NOT_FOUND',
    'unknown route',
  );
});

test('a refused event without an ack callback gets an error event', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const { conversationId } = await openConversation(alice, bob);
  const carolSocket = await connect(t, carol.token);
  const error = once(carolSocket, 'error');
  carolSocket.emit('join_conversation', { conversationId });
  const payload = await error;
  assert.equal(payload.event, 'join_conversation');
  assert.equal(payload.code, 'FORBIDDEN');
  assert.equal(typeof payload.message, 'string');
  assert.ok(payload.message.length > 0);
  assert.equal(carolSocket.connected, true);
});
