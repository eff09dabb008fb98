// send_message over the socket (ack, message_sent, message_received), idempotent tempId and
// clientMsgId, REST sends (POST /sessions/:id/messages), and the history with its cursors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_MESSAGE_LENGTH,
  assertAckError,
  assertAckOk,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
  rand,
} from '../helpers.mjs';
import {
  ALL_TRANSPORTS,
  TRANSPORTS,
  assertMessage,
  assertPagination,
  assertRestOk,
  createDirect,
  getChat,
  history,
  openChat,
  restSend,
  v1,
  QUIET_MS,
} from './helpers.mjs';

for (const { name, opts } of ALL_TRANSPORTS) {
  test(`[${name}] send_message: the ack is the stored message, message_sent goes to the sending socket, message_received to every other socket`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chatId = await openChat(alice, bob);
    const aliceSending = await connect(t, alice.token, opts);
    const aliceOtherTab = await connect(t, alice.token, opts);
    const bob1 = await connect(t, bob.token, opts);
    const bob2 = await connect(t, bob.token, opts);

    const tempId = `temp-${rand()}`;
    const sentEvent = once(aliceSending, 'message_sent');
    const received = [aliceOtherTab, bob1, bob2].map((s) => once(s, 'message_received'));
    const noEcho = expectNoEvent(aliceSending, 'message_received', QUIET_MS);
    const sentOnlyToSender = [aliceOtherTab, bob1, bob2].map((s) => expectNoEvent(s, 'message_sent', QUIET_MS));

    const ack = await emitAck(aliceSending, 'send_message', {
      chatId,
      content: 'Hello from Socket.IO!',
      type: 'TEXT',
      tempId,
    });
    const message = assertAckOk(ack, 'send_message');
    assertMessage(message, {
      chatId,
      senderId: String(alice.id),
      content: 'Hello from Socket.IO!',
      type: 'TEXT',
      attachmentUrl: null,
      seq: 1,
      sender: { id: String(alice.id), name: 'Alice' },
    });

    const sent = await sentEvent;
    assert.equal(sent.tempId, tempId, 'message_sent carries the tempId');
    const { tempId: _, ...sentMessage } = sent;
    assert.deepEqual(sentMessage, message, 'message_sent is the message plus tempId');

    for (const got of await Promise.all(received)) assert.deepEqual(got, message);
    await Promise.all([noEcho, ...sentOnlyToSender]);

    // The ack came after the commit: the history has it, and the chat moved on.
    const page = await history(bob, chatId);
    assert.deepEqual(page.messages, [message]);
    const chat = await getChat(bob, chatId);
    assert.equal(chat.lastSeq, 1);
    assert.equal(chat.lastMessagePreview, 'Hello from Socket.IO!');
    assert.equal(chat.lastMessageAt, message.createdAt);
  });
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] a repeated tempId or clientMsgId stores nothing new and answers the same message`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const tempId = `temp-${rand()}`;
    const payload = { chatId, content: 'only once', type: 'TEXT', tempId };
    const first = assertAckOk(await emitAck(aliceSocket, 'send_message', payload), 'first send');
    const againSent = once(aliceSocket, 'message_sent');
    const again = assertAckOk(await emitAck(aliceSocket, 'send_message', payload), 'repeat');
    assert.equal(again.id, first.id, 'the same message id');
    assert.equal(again.seq, first.seq);
    assert.equal(again.createdAt, first.createdAt);
    // The repeat is answered like the first send: message_sent with the same tempId.
    const sentAgain = await againSent;
    assert.equal(sentAgain.id, first.id);
    assert.equal(sentAgain.tempId, tempId);

    const clientMsgId = `cmid-${rand()}`;
    const c1 = assertAckOk(
      await emitAck(bobSocket, 'send_message', { chatId, content: 'by clientMsgId', clientMsgId }),
    );
    const c2 = assertAckOk(
      await emitAck(bobSocket, 'send_message', { chatId, content: 'by clientMsgId', clientMsgId }),
    );
    assert.equal(c2.id, c1.id);
    assert.equal(c1.clientMsgId, clientMsgId);

    const page = await history(alice, chatId);
    assert.deepEqual(page.messages.map((m) => m.id), [first.id, c1.id]);
    assert.deepEqual(page.messages.map((m) => m.seq), [1, 2]);
    assert.equal(page.pagination.total, 2);
  });
}

test('a tempId reused for a different message is refused as CONFLICT and stores nothing', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const tempId = `temp-${rand()}`;
  const first = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { chatId, content: 'original', tempId }),
  );
  assertAckError(
    await emitAck(aliceSocket, 'send_message', { chatId, content: 'something else', tempId }),
    'CONFLICT',
    'reused tempId',
  );
  const page = await history(bob, chatId);
  assert.deepEqual(page.messages.map((m) => [m.id, m.content]), [[first.id, 'original']]);
});

test('send_message takes chatId as a string or a number; without a tempId, message_sent says tempId null', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);

  const sent1 = once(aliceSocket, 'message_sent');
  const got1 = once(bobSocket, 'message_received');
  const m1 = assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId: Number(chatId), content: 'numeric' }));
  assertMessage(m1, { chatId, seq: 1, type: 'TEXT' });
  assert.equal((await sent1).tempId, null);
  assert.equal((await got1).chatId, chatId, 'a frontend comparing chatId === route param still matches');

  const m2 = assertAckOk(
    await emitAck(aliceSocket, 'send_message', {
      chatId,
      content: 'with a picture link\n\tand a tab',
      type: 'TEXT',
      attachmentUrl: 'https://example.com/image.jpg',
    }),
  );
  assertMessage(m2, {
    chatId,
    seq: 2,
    content: 'with a picture link\n\tand a tab',
    attachmentUrl: 'https://example.com/image.jpg',
  });

  // Content of exactly MAX_MESSAGE_LENGTH characters is accepted.
  const long = 'x'.repeat(MAX_MESSAGE_LENGTH);
  const m3 = assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId, content: long }));
  assert.equal(m3.content.length, MAX_MESSAGE_LENGTH);
  assert.equal(m3.seq, 3);
});

test('send_message without an ack callback (as the seed\'s client does) is stored and broadcast, with no error event', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const got = once(bobSocket, 'message_received');
  const sent = once(aliceSocket, 'message_sent');
  const noError = expectNoEvent(aliceSocket, 'error', QUIET_MS);
  aliceSocket.emit('send_message', { chatId, content: 'Hello from Socket.IO!', type: 'TEXT' });
  const m = await got;
  assertMessage(m, { chatId, content: 'Hello from Socket.IO!', seq: 1, senderId: String(alice.id) });
  const s = await sent;
  assert.equal(s.id, m.id);
  assert.equal(s.tempId, null);
  await noError;
});

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] POST /sessions/:id/messages: 201 with the message, message_received on every socket of both members`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chatId = await openChat(alice, bob);
    const sockets = [
      await connect(t, alice.token, opts),
      await connect(t, alice.token, opts),
      await connect(t, bob.token, opts),
    ];
    const received = sockets.map((s) => once(s, 'message_received'));
    const noSent = sockets.map((s) => expectNoEvent(s, 'message_sent', QUIET_MS));
    const res = await v1('POST', `/sessions/${chatId}/messages`, {
      token: alice.token,
      body: { content: 'Hello! This is a test message.' },
    });
    const message = assertRestOk(res, 201, 'POST messages');
    assertMessage(message, {
      chatId,
      senderId: String(alice.id),
      content: 'Hello! This is a test message.',
      seq: 1,
      sender: { id: String(alice.id), name: 'Alice' },
    });
    for (const got of await Promise.all(received)) assert.deepEqual(got, message);
    await Promise.all(noSent);
  });
}

test('POST /sessions/:id/messages is idempotent by Idempotency-Key, tempId and clientMsgId (200 for a repeat)', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const bobSocket = await connect(t, bob.token);

  const key = `key-${rand()}`;
  const firstHeard = once(bobSocket, 'message_received');
  const first = await restSend(alice, chatId, { content: 'keyed' }, { headers: { 'Idempotency-Key': key } });
  assert.deepEqual(await firstHeard, first);
  // A repeat stores nothing new, so it tells nobody of a new message either.
  const noRepeatBroadcast = expectNoEvent(bobSocket, 'message_received', QUIET_MS, (m) => m.id === first.id);
  const repeat = await restSend(alice, chatId, { content: 'keyed' }, { headers: { 'Idempotency-Key': key }, status: 200 });
  assert.deepEqual(repeat, first);

  const tempId = `temp-${rand()}`;
  const t1 = await restSend(alice, chatId, { content: 'temp', tempId });
  const t2 = await restSend(alice, chatId, { content: 'temp', tempId }, { status: 200 });
  assert.equal(t2.id, t1.id);

  const clientMsgId = `cmid-${rand()}`;
  const c1 = await restSend(bob, chatId, { content: 'cmid', clientMsgId, type: 'TEXT' });
  const c2 = await restSend(bob, chatId, { content: 'cmid', clientMsgId, type: 'TEXT' }, { status: 200 });
  assert.equal(c2.id, c1.id);

  const page = await history(alice, chatId);
  assert.deepEqual(page.messages.map((m) => m.id), [first.id, t1.id, c1.id]);
  assert.deepEqual(page.messages.map((m) => m.seq), [1, 2, 3]);
  await noRepeatBroadcast;
});

test('history: page 1 holds the newest messages, each page oldest first; before/after are seq cursors', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const sent = [];
  for (let i = 1; i <= 7; i++) {
    if (i % 2) {
      sent.push(assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId, content: `m${i}` })));
    } else {
      sent.push(await restSend(bob, chatId, { content: `m${i}` }));
    }
  }
  assert.deepEqual(sent.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
  const seqs = (data) => data.messages.map((m) => m.seq);

  const all = await history(bob, chatId);
  assertPagination(all.pagination, { page: 1, limit: 50, total: 7, totalPages: 1 });
  assert.deepEqual(all.messages, sent, 'the history holds the messages as they were answered');
  for (const m of all.messages) assertMessage(m, { chatId });

  const p1 = await history(alice, chatId, '?limit=3');
  assertPagination(p1.pagination, { page: 1, limit: 3, total: 7, totalPages: 3 });
  assert.deepEqual(seqs(p1), [5, 6, 7]);
  const p2 = await history(alice, chatId, '?limit=3&page=2');
  assertPagination(p2.pagination, { page: 2, limit: 3, total: 7, totalPages: 3 });
  assert.deepEqual(seqs(p2), [2, 3, 4]);
  const p3 = await history(alice, chatId, '?limit=3&page=3');
  assert.deepEqual(seqs(p3), [1]);
  const p4 = await history(alice, chatId, '?limit=3&page=4');
  assert.deepEqual(seqs(p4), []);

  // Scrolling up: before the oldest message shown.
  assert.deepEqual(seqs(await history(alice, chatId, '?before=5&limit=3')), [2, 3, 4]);
  assert.deepEqual(seqs(await history(alice, chatId, '?before=2&limit=3')), [1]);
  assert.deepEqual(seqs(await history(alice, chatId, '?before=1')), []);
  // Catching up: after the newest message seen.
  assert.deepEqual(seqs(await history(alice, chatId, '?after=4')), [5, 6, 7]);
  assert.deepEqual(seqs(await history(alice, chatId, '?after=7')), []);
  assert.deepEqual(seqs(await history(alice, chatId, '?after=0')), [1, 2, 3, 4, 5, 6, 7]);
  // Both: a window.
  assert.deepEqual(seqs(await history(alice, chatId, '?after=2&before=6')), [3, 4, 5]);
});

test('a message sent over REST and one over the socket land in the same history, in order', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { chat } = await createDirect(alice, bob);
  const bobSocket = await connect(t, bob.token);
  const r = await restSend(alice, chat.id, { content: 'rest' });
  const s = assertAckOk(await emitAck(bobSocket, 'send_message', { chatId: chat.id, content: 'socket' }));
  assert.deepEqual([r.seq, s.seq], [1, 2]);
  const page = await history(alice, chat.id);
  assert.deepEqual(page.messages.map((m) => [m.content, m.senderId]), [
    ['rest', String(alice.id)],
    ['socket', String(bob.id)],
  ]);
});
