// Messages: send_message over the socket (the ack after the commit, message_received to every
// socket in the chat's room, the sender's own included), join_chat / leave_chat, idempotent
// tempId and clientMsgId, REST sends with Idempotency-Key, the history (newest first, page,
// limit, the `before` cursor, hasMore). Search is in search.spec.mjs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_MESSAGE_LENGTH,
  assertAckError,
  assertAckOk,
  assertRestError,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
  rand,
} from '../helpers.mjs';
import {
  QUIET_MS,
  TRANSPORTS,
  api,
  assertMessage,
  assertPagination,
  assertRestOk,
  getChat,
  history,
  joinChat,
  openChat,
  restSend,
  socketSend,
} from './helpers.mjs';

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] send_message: the ack is the stored message; message_received to every socket that joined the chat, the sender's included`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chatId = await openChat(alice, bob);
    const aliceSending = await connect(t, alice.token, opts);
    const aliceOtherTab = await connect(t, alice.token, opts);
    const bob1 = await connect(t, bob.token, opts);
    const bob2 = await connect(t, bob.token, opts);
    const bobNotJoined = await connect(t, bob.token, opts);
    for (const s of [aliceSending, aliceOtherTab, bob1, bob2]) await joinChat(s, chatId);

    const received = [aliceSending, aliceOtherTab, bob1, bob2].map((s) => once(s, 'message_received'));
    const notInRoom = expectNoEvent(bobNotJoined, 'message_received', QUIET_MS);
    const message = await socketSend(aliceSending, { chatId, content: 'Hello!' });
    assertMessage(message, {
      chatId,
      senderId: String(alice.id),
      content: 'Hello!',
      messageType: 'text',
      seq: 1,
      clientMsgId: null,
      sender: { id: String(alice.id), name: 'Alice' },
    });
    for (const got of await Promise.all(received)) assert.deepEqual(got, message);
    await notInRoom;

    // The ack came after the commit: the history has it, and the chat moved on.
    const page = await history(bob, chatId);
    assert.deepEqual(page.messages, [message]);
    const chat = await getChat(bob, chatId);
    assert.equal(chat.lastSeq, 1);
    assert.equal(chat.lastMessage, 'Hello!');
    assert.equal(chat.lastMessageAt, message.createdAt);
    assert.equal(chat.unreadCount, 1);

    // chatId as a number names the same chat; content keeps its tabs and newlines, and may be
    // MAX_MESSAGE_LENGTH characters long.
    const heard = once(bob1, 'message_received');
    const m2 = await socketSend(aliceSending, { chatId: Number(chatId), content: 'two lines\n\tand a tab' });
    assertMessage(m2, { chatId, seq: 2, content: 'two lines\n\tand a tab' });
    assert.equal((await heard).chatId, chatId, 'a frontend comparing chatId to its route param still matches');
    const long = await socketSend(bob1, { chatId, content: 'x'.repeat(MAX_MESSAGE_LENGTH) });
    assert.equal(long.content.length, MAX_MESSAGE_LENGTH);
    assert.equal(long.seq, 3);
  });

  test(`[${name}] join_chat answers { chatId, lastSeq } and again the same; after leave_chat the socket hears no more`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    await restSend(alice, chatId, { content: 'before anyone joined' });
    const bobSocket = await connect(t, bob.token, opts);
    assert.deepEqual(await joinChat(bobSocket, chatId), { chatId, lastSeq: 1 });
    assert.deepEqual(await joinChat(bobSocket, Number(chatId)), { chatId, lastSeq: 1 }, 'joining again');

    const heard = once(bobSocket, 'message_received');
    const m = await restSend(alice, chatId, { content: 'you are in' });
    assert.deepEqual(await heard, m);

    const left = assertAckOk(await emitAck(bobSocket, 'leave_chat', { chatId }), 'leave_chat');
    assert.deepEqual(left, { chatId });
    const silent = expectNoEvent(bobSocket, 'message_received', QUIET_MS);
    await restSend(alice, chatId, { content: 'you left' });
    await silent;
    assert.equal((await history(bob, chatId)).pagination.total, 3, 'the history still has everything');
  });

  test(`[${name}] a repeated tempId or clientMsgId answers the stored message and stores nothing new`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(bobSocket, chatId);

    const tempId = `temp-${rand()}`;
    const heard = once(bobSocket, 'message_received');
    const first = await socketSend(aliceSocket, { chatId, content: 'only once', tempId });
    assert.deepEqual(await heard, first);
    const again = await socketSend(aliceSocket, { chatId, content: 'only once', tempId });
    assert.equal(again.id, first.id, 'the same message');
    assert.equal(again.seq, first.seq);
    assert.equal(again.createdAt, first.createdAt);

    const clientMsgId = `cmid-${rand()}`;
    const c1 = await socketSend(bobSocket, { chatId, content: 'by clientMsgId', clientMsgId });
    assert.equal(c1.clientMsgId, clientMsgId);
    const c2 = await socketSend(bobSocket, { chatId, content: 'by clientMsgId', clientMsgId });
    assert.equal(c2.id, c1.id);

    // A client id reused for a different message is a conflict.
    assertAckError(
      await emitAck(aliceSocket, 'send_message', { chatId, content: 'something else', tempId }),
      'CONFLICT',
      'a tempId reused for another message',
    );

    const page = await history(alice, chatId);
    assert.deepEqual(page.messages.map((m) => m.id), [c1.id, first.id], 'newest first, each once');
    assert.deepEqual(page.messages.map((m) => m.content), ['by clientMsgId', 'only once']);
    assert.equal(page.pagination.total, 2);
  });

  test(`[${name}] POST /api/chats/:chatId/messages: 201, message_received in the room; the same Idempotency-Key again is 200 with the same message`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chatId);
    await joinChat(bobSocket, chatId);

    const key = `key-${rand()}`;
    const heard = [aliceSocket, bobSocket].map((s) => once(s, 'message_received'));
    const res = await api('POST', `/chats/${chatId}/messages`, {
      token: alice.token,
      body: { content: 'Hello! This is a test message.' },
      headers: { 'Idempotency-Key': key },
    });
    const first = assertRestOk(res, 201, 'POST messages');
    assertMessage(first, {
      chatId,
      senderId: String(alice.id),
      content: 'Hello! This is a test message.',
      seq: 1,
      sender: { name: 'Alice' },
    });
    for (const got of await Promise.all(heard)) assert.deepEqual(got, first);

    const repeat = await restSend(alice, chatId, { content: 'Hello! This is a test message.' }, {
      headers: { 'Idempotency-Key': key },
      status: 200,
    });
    assert.deepEqual(repeat, first);

    // tempId and clientMsgId in the body do the same.
    const tempId = `temp-${rand()}`;
    const t1 = await restSend(bob, chatId, { content: 'temp', tempId });
    const t2 = await restSend(bob, chatId, { content: 'temp', tempId }, { status: 200 });
    assert.equal(t2.id, t1.id);
    const clientMsgId = `cmid-${rand()}`;
    const c1 = await restSend(bob, chatId, { content: 'cmid', clientMsgId });
    const c2 = await restSend(bob, chatId, { content: 'cmid', clientMsgId }, { status: 200 });
    assert.equal(c2.id, c1.id);

    const page = await history(alice, chatId);
    assert.deepEqual(page.messages.map((m) => m.id), [c1.id, t1.id, first.id]);
    assert.deepEqual(page.messages.map((m) => m.seq), [3, 2, 1]);
  });
}

test('history: newest first; page 1 holds the newest; page, limit, the before cursor (a message id) and hasMore', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const sent = [];
  for (let i = 1; i <= 7; i++) {
    if (i % 2) sent.push(await socketSend(aliceSocket, { chatId, content: `m${i}` }));
    else sent.push(await restSend(bob, chatId, { content: `m${i}` }));
  }
  assert.deepEqual(sent.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
  const seqs = (data) => data.messages.map((m) => m.seq);
  const id = (seq) => sent[seq - 1].id;

  const all = await history(bob, chatId);
  assertPagination(all.pagination, { page: 1, limit: 50, total: 7, totalPages: 1 });
  assert.equal(all.hasMore, false);
  assert.deepEqual(all.messages, [...sent].reverse(), 'the history holds the messages as they were answered, newest first');
  for (const m of all.messages) assertMessage(m, { chatId });

  const p1 = await history(alice, chatId, '?limit=3');
  assertPagination(p1.pagination, { page: 1, limit: 3, total: 7, totalPages: 3 });
  assert.deepEqual(seqs(p1), [7, 6, 5]);
  assert.equal(p1.hasMore, true);
  const p2 = await history(alice, chatId, '?limit=3&page=2');
  assertPagination(p2.pagination, { page: 2, limit: 3, total: 7, totalPages: 3 });
  assert.deepEqual(seqs(p2), [4, 3, 2]);
  assert.equal(p2.hasMore, true);
  const p3 = await history(alice, chatId, '?limit=3&page=3');
  assert.deepEqual(seqs(p3), [1]);
  assert.equal(p3.hasMore, false);
  const p4 = await history(alice, chatId, '?limit=3&page=4');
  assert.deepEqual(seqs(p4), []);
  assert.equal(p4.hasMore, false);

  // Scrolling up: before the oldest message shown (a message id, as a frontend holds it).
  const b1 = await history(alice, chatId, `?before=${id(5)}&limit=3`);
  assert.deepEqual(seqs(b1), [4, 3, 2]);
  assert.equal(b1.hasMore, true);
  const b2 = await history(alice, chatId, `?before=${id(2)}&limit=3`);
  assert.deepEqual(seqs(b2), [1]);
  assert.equal(b2.hasMore, false);
  const b3 = await history(alice, chatId, `?before=${id(1)}`);
  assert.deepEqual(seqs(b3), []);
  assert.equal(b3.hasMore, false);
  // page counts within the messages before the cursor.
  const b4 = await history(alice, chatId, `?before=${id(6)}&limit=2&page=2`);
  assert.deepEqual(seqs(b4), [3, 2]);
  assert.equal(b4.hasMore, true);
});

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] members only: an outsider's join_chat, send_message, mark_as_read, typing and REST are FORBIDDEN; unknown chats NOT_FOUND`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const mallory = newUser();
    const chatId = await openChat(alice, bob);
    const first = await restSend(alice, chatId, { content: 'private' });
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(bobSocket, chatId);
    const mallorySocket = await connect(t, mallory.token, opts);

    const quiet = expectNoEvent(bobSocket, 'message_received', QUIET_MS);
    assertAckError(await emitAck(mallorySocket, 'join_chat', { chatId }), 'FORBIDDEN', 'join_chat by an outsider');
    assertAckError(
      await emitAck(mallorySocket, 'send_message', { chatId, content: 'let me in' }),
      'FORBIDDEN',
      'send_message by an outsider',
    );
    assertAckError(await emitAck(mallorySocket, 'mark_as_read', { chatId }), 'FORBIDDEN', 'mark_as_read by an outsider');
    assertAckError(await emitAck(mallorySocket, 'typing', { chatId }), 'FORBIDDEN', 'typing by an outsider');
    const token = mallory.token;
    assertRestError(await api('GET', `/chats/${chatId}/messages`, { token }), 403, 'FORBIDDEN', 'history');
    assertRestError(
      await api('POST', `/chats/${chatId}/messages`, { token, body: { content: 'hi' } }),
      403,
      'FORBIDDEN',
      'REST send',
    );
    assertRestError(await api('GET', `/chats/${chatId}`, { token }), 403, 'FORBIDDEN', 'GET the chat');
    assertRestError(await api('POST', `/chats/${chatId}/read`, { token }), 403, 'FORBIDDEN', 'POST read');
    assertRestError(await api('POST', `/chats/${chatId}/archive`, { token }), 403, 'FORBIDDEN', 'archive');
    await quiet;
    assert.deepEqual((await history(bob, chatId)).messages.map((m) => m.id), [first.id], 'nothing stored');

    // Unknown chats.
    for (const [event, payload] of [
      ['join_chat', { chatId: '987654321' }],
      ['send_message', { chatId: '987654321', content: 'hello?' }],
      ['mark_as_read', { chatId: 987654321 }],
    ]) {
      assertAckError(await emitAck(mallorySocket, event, payload), 'NOT_FOUND', `${event} to an unknown chat`);
    }
    assertRestError(await api('GET', '/chats/987654321', { token }), 404, 'NOT_FOUND');
    assertRestError(await api('GET', '/chats/987654321/messages', { token }), 404, 'NOT_FOUND');
    assertRestError(
      await api('POST', '/chats/987654321/messages', { token, body: { content: 'hello?' } }),
      404,
      'NOT_FOUND',
    );
  });
}
