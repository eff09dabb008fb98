// 11. clientMsgId and Idempotency-Key: a repeated send answers the stored message, stores nothing.

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
  rand,
} from './helpers.mjs';

test('send_message twice with one clientMsgId stores and broadcasts once', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const opener = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'opener' }),
  );
  const conversationId = opener.conversationId;
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));

  const clientMsgId = `cm-${rand()}`;
  const payload = { conversationId, receiverId: bob.id, content: 'exactly once', clientMsgId };
  const live = once(bobSocket, 'new_message');
  const first = assertAckOk(await emitAck(aliceSocket, 'send_message', payload));
  assert.equal(first.clientMsgId, clientMsgId);
  assert.equal(first.seq, 2);
  const received = await live;
  assert.equal(received.id, first.id);
  assert.equal(received.clientMsgId, clientMsgId);

  // The retry (e.g. after a lost ack) answers the same message and broadcasts nothing.
  const noSecond = expectNoEvent(bobSocket, 'new_message', 1500);
  const noNote = expectNoEvent(bobSocket, 'message_notification', 1500);
  const again = assertAckOk(await emitAck(aliceSocket, 'send_message', payload));
  assert.equal(again.id, first.id);
  assert.equal(again.seq, first.seq);
  assert.equal(again.conversationId, conversationId);
  assert.equal(again.content, 'exactly once');
  assert.equal(again.createdAt, first.createdAt);
  await Promise.all([noSecond, noNote]);

  // A retry from another socket of the same user is the same send too.
  const otherTab = await connect(t, alice.token);
  const fromTab = assertAckOk(await emitAck(otherTab, 'send_message', payload));
  assert.equal(fromTab.id, first.id);

  let data = await listMessages(alice, conversationId);
  assert.equal(data.total, 2, 'the opener and one copy');
  assert.equal(data.messages[1].client_msg_id, clientMsgId);

  // The next new message takes the next seq: no seq was burnt by the repeats.
  const next = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { conversationId, content: 'next' }),
  );
  assert.equal(next.seq, 3);
});

test('reusing a clientMsgId for something else is a CONFLICT', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const socket = await connect(t, alice.token);
  const clientMsgId = `cm-${rand()}`;
  const first = assertAckOk(
    await emitAck(socket, 'send_message', { receiverId: bob.id, content: 'original', clientMsgId }),
  );
  assertAckError(
    await emitAck(socket, 'send_message', {
      conversationId: first.conversationId,
      content: 'different content',
      clientMsgId,
    }),
    'CONFLICT',
    'same clientMsgId, other content',
  );
  assertAckError(
    await emitAck(socket, 'send_message', { receiverId: carol.id, content: 'original', clientMsgId }),
    'CONFLICT',
    'same clientMsgId, other conversation',
  );
  const data = await listMessages(alice, first.conversationId);
  assert.equal(data.total, 1);
  const conversations = await chat('GET', '/conversations', { token: carol.token });
  assert.equal(conversations.body.data.total, 0, 'nothing was stored for carol');
});

test('clientMsgId is per user: another user may use the same one', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const clientMsgId = `cm-${rand()}`;
  const a = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'same', clientMsgId }),
  );
  const b = assertAckOk(
    await emitAck(bobSocket, 'send_message', {
      conversationId: a.conversationId,
      content: 'same',
      clientMsgId,
    }),
  );
  assert.notEqual(b.id, a.id);
  assert.equal(b.senderId, bob.id);
  assert.equal(b.seq, 2);
  assert.equal((await listMessages(alice, a.conversationId)).total, 2);
});

test('POST /send with an Idempotency-Key answers the stored message on repeat', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const key = `idem-${rand()}`;
  const body = { receiverId: bob.id, content: 'over REST, once' };
  const first = await chat('POST', '/send', { token: alice.token, body, headers: { 'Idempotency-Key': key } });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.body.data.client_msg_id, key);

  const bobSocket = await connect(t, bob.token);
  const conversationId = first.body.data.conversation_id;
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
  const noLive = expectNoEvent(bobSocket, 'new_message', 1500);
  const repeat = await chat('POST', '/send', { token: alice.token, body, headers: { 'Idempotency-Key': key } });
  assert.equal(repeat.status, 200, `a repeat answers 200: ${repeat.text}`);
  assert.equal(repeat.body.success, true);
  assert.equal(repeat.body.data.id, first.body.data.id);
  assert.equal(repeat.body.data.seq, first.body.data.seq);
  await noLive;

  const conflict = await chat('POST', '/send', {
    token: alice.token,
    body: { receiverId: bob.id, content: 'something else' },
    headers: { 'Idempotency-Key': key },
  });
  assertRestError(conflict, 409, 'CONFLICT', 'same key, other content');
  assert.equal((await listMessages(alice, conversationId)).total, 1);
});

test('an Idempotency-Key equal to an earlier socket clientMsgId returns that message', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const socket = await connect(t, alice.token);
  const clientMsgId = `cm-${rand()}`;
  const sent = assertAckOk(
    await emitAck(socket, 'send_message', { receiverId: bob.id, content: 'socket first', clientMsgId }),
  );
  const res = await chat('POST', '/send', {
    token: alice.token,
    body: { receiverId: bob.id, content: 'socket first' },
    headers: { 'Idempotency-Key': clientMsgId },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.id, sent.id);
  assert.equal(res.body.data.seq, sent.seq);
  assert.equal(res.body.data.conversation_id, sent.conversationId);
  assert.equal(res.body.data.client_msg_id, clientMsgId);
  assert.equal((await listMessages(bob, sent.conversationId)).total, 1);
});
