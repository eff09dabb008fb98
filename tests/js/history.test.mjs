// 3. seq numbering per conversation, history over REST with pagination and after_seq.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertPage,
  assertRestError,
  chat,
  collect,
  connect,
  emitAck,
  listMessages,
  newUser,
  restSend,
} from './helpers.mjs';

test('seq is 1, 2, 3... per conversation and history pages are correct', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const aliceSocket = await connect(t, alice.token);

  const sent = [];
  for (let i = 1; i <= 5; i++) {
    const body = { receiverId: bob.id, content: `message ${i}` };
    if (sent.length > 0) body.conversationId = sent[0].conversationId;
    sent.push(assertAckOk(await emitAck(aliceSocket, 'send_message', body), `send ${i}`));
  }
  assert.deepEqual(sent.map((m) => m.seq), [1, 2, 3, 4, 5]);
  const conversationId = sent[0].conversationId;
  assert.ok(sent.every((m) => m.conversationId === conversationId));
  assert.equal(new Set(sent.map((m) => m.id)).size, 5, 'distinct message ids');

  // Another conversation of the same sender starts again at 1.
  const other = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: carol.id, content: 'to carol' }),
  );
  assert.notEqual(other.conversationId, conversationId);
  assert.equal(other.seq, 1);

  // Default page: everything, oldest first.
  let data = await listMessages(alice, conversationId);
  assertPage(data, { total: 5, page: 1, totalPages: 1, count: 5 });
  assert.deepEqual(data.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
  assert.deepEqual(data.messages.map((m) => m.content), sent.map((m) => m.content));
  assert.deepEqual(data.messages.map((m) => m.id), sent.map((m) => m.id));

  // limit 2: three pages, the last with one message.
  data = await listMessages(alice, conversationId, '?page=1&limit=2');
  assertPage(data, { total: 5, page: 1, totalPages: 3, count: 2 });
  assert.deepEqual(data.messages.map((m) => m.seq), [1, 2]);
  data = await listMessages(bob, conversationId, '?page=2&limit=2');
  assertPage(data, { total: 5, page: 2, totalPages: 3, count: 2 });
  assert.deepEqual(data.messages.map((m) => m.seq), [3, 4]);
  data = await listMessages(alice, conversationId, '?page=3&limit=2');
  assertPage(data, { total: 5, page: 3, totalPages: 3, count: 1 });
  assert.deepEqual(data.messages.map((m) => m.content), ['message 5']);
  data = await listMessages(alice, conversationId, '?page=4&limit=2');
  assertPage(data, { total: 5, page: 4, totalPages: 3, count: 0 });

  // after_seq (parley): what a client missed, oldest first, up to limit.
  data = await listMessages(alice, conversationId, '?after_seq=3');
  assert.deepEqual(data.messages.map((m) => m.seq), [4, 5]);
  data = await listMessages(alice, conversationId, '?after_seq=0&limit=2');
  assert.deepEqual(data.messages.map((m) => m.seq), [1, 2]);
  data = await listMessages(alice, conversationId, '?after_seq=5');
  assert.deepEqual(data.messages, []);

  // join_conversation tells the client the last seq.
  const joined = assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  assert.equal(joined.lastSeq, 5);
});

test('an unparsable page parameter is a VALIDATION error', async () => {
  const alice = newUser();
  const bob = newUser();
  const { conversation_id: conversationId } = await restSend(alice, {
    receiverId: bob.id,
    content: 'x',
  });
  const bad = await chat('GET', `/conversations/${conversationId}/messages?page=abc`, {
    token: alice.token,
  });
  assertRestError(bad, 400, 'VALIDATION', 'page=abc');
  const badId = await chat('GET', '/conversations/abc/messages', { token: alice.token });
  assertRestError(badId, 400, 'VALIDATION', 'conversation id abc');
});

test('new_message events arrive in seq order while several senders race', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const alice1 = await connect(t, alice.token);
  const alice2 = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const watcher = await connect(t, bob.token);
  const first = assertAckOk(
    await emitAck(alice1, 'send_message', { receiverId: bob.id, content: 'start' }),
  );
  const conversationId = first.conversationId;
  assertAckOk(await emitAck(watcher, 'join_conversation', { conversationId }));

  const N = 12;
  const arrived = collect(watcher, 'new_message', N, 10000);
  const senders = [alice1, alice2, bobSocket];
  const acks = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      emitAck(senders[i % senders.length], 'send_message', {
        conversationId,
        content: `race ${i}`,
      }, 10000),
    ),
  );
  const seqs = acks.map((a) => assertAckOk(a).seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i + 2), 'seq has no gaps or repeats');
  const events = await arrived;
  assert.deepEqual(
    events.map((m) => m.seq),
    Array.from({ length: N }, (_, i) => i + 2),
    'new_message in seq order',
  );
  const data = await listMessages(bob, conversationId, '?limit=100');
  assert.equal(data.total, N + 1);
  assert.deepEqual(data.messages.map((m) => m.seq), Array.from({ length: N + 1 }, (_, i) => i + 1));
});
