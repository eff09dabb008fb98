// Bad input: malformed ids and bodies (400 VALIDATION), a replyTo naming no message of the chat,
// or-create with oneself (422), unknown routes (404 JSON), wrong methods (405), missing and bad
// tokens (401, connect_error), garbage socket payloads (a failed ack, or an `error` event when
// the event asked for no ack); nothing is stored after a refusal, and the server keeps serving.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_MESSAGE_LENGTH,
  NO_PAYLOAD,
  assertAckError,
  assertRestError,
  collect,
  connect,
  connectRefused,
  emitAck,
  expectNoEvent,
  http,
  mintToken,
  newUser,
  once,
} from '../helpers.mjs';
import {
  QUIET_MS,
  TRANSPORTS,
  UNKNOWN_CHAT,
  api,
  getChat,
  history,
  joinChat,
  listIds,
  openChat,
  restSend,
  socketSend,
} from './helpers.mjs';

/** Watches every event a member could hear about a chat; resolves if none comes. */
function hearNothing(sockets, ms = QUIET_MS) {
  const events = [
    'message_received', 'message_edited', 'message_deleted', 'messages_read', 'user_typing',
    'user_stopped_typing', 'chat_request', 'chat_accepted', 'chat_rejected', 'reaction_added',
    'reaction_removed',
  ];
  return Promise.all(sockets.flatMap((s) => events.map((e) => expectNoEvent(s, e, ms))));
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] garbage socket payloads are answered { success: false, error: { code: VALIDATION, message } }; nothing stored, nobody told`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chatId);
    await joinChat(bobSocket, chatId);
    const bobHeard = once(bobSocket, 'message_received');
    const mine = await socketSend(aliceSocket, { chatId, content: 'the only message' });
    await bobHeard; // before watching for silence

    const quiet = hearNothing([bobSocket]);
    const bad = [
      ['join_chat', NO_PAYLOAD],
      ['join_chat', 'just a string'],
      ['join_chat', {}],
      ['join_chat', { chatId: null }],
      ['join_chat', { chatId: 'abc' }],
      ['join_chat', { chatId: { id: chatId } }],
      ['join_chat', { chatId: -3 }],
      ['leave_chat', {}],
      ['leave_chat', { chatId: 'abc' }],
      ['send_message', NO_PAYLOAD],
      ['send_message', 42],
      ['send_message', [chatId, 'hi']],
      ['send_message', { content: 'where to?' }],
      ['send_message', { chatId: 'abc', content: 'x' }],
      ['send_message', { chatId }],
      ['send_message', { chatId, content: '' }],
      ['send_message', { chatId, content: 42 }],
      ['send_message', { chatId, content: null }],
      ['send_message', { chatId, content: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) }],
      ['send_message', { chatId, content: 'ring \u0007 ring' }],
      ['send_message', { chatId, content: 'nul \u0000' }],
      // A reply to no message, or a malformed one.
      ['send_message', { chatId, content: 'a reply', replyTo: '987654321' }],
      ['send_message', { chatId, content: 'a reply', replyTo: 'abc' }],
      ['send_message', { chatId, content: 'a reply', replyTo: { id: mine.id } }],
      ['mark_as_read', NO_PAYLOAD],
      ['mark_as_read', { chatId: 'abc' }],
      ['typing', {}],
      ['typing', { chatId: 'abc' }],
      ['typing', { chatId, isTyping: 'yes' }],
      ['stop_typing', {}],
      ['stop_typing', { chatId: [] }],
      ['edit_message', NO_PAYLOAD],
      ['edit_message', { content: 'no id' }],
      ['edit_message', { messageId: 'abc', content: 'x' }],
      ['edit_message', { messageId: mine.id }],
      ['edit_message', { messageId: mine.id, content: '' }],
      ['edit_message', { messageId: mine.id, content: 42 }],
      ['delete_message', {}],
      ['delete_message', { messageId: 'abc' }],
      ['delete_message', { messageId: null }],
      ['delete_message', { messageId: mine.id, forEveryone: 'no' }],
      ['delete_message', { messageId: mine.id, deleteFor: 'nobody' }],
      ['add_reaction', NO_PAYLOAD],
      ['add_reaction', {}],
      ['add_reaction', { emoji: '👍' }],
      ['add_reaction', { messageId: mine.id }],
      ['add_reaction', { messageId: 'abc', emoji: '👍' }],
      ['add_reaction', { messageId: mine.id, emoji: 42 }],
      ['add_reaction', { messageId: mine.id, emoji: null }],
      ['remove_reaction', {}],
      ['remove_reaction', { messageId: mine.id }],
      ['remove_reaction', { messageId: [], emoji: '👍' }],
    ];
    for (const [event, payload] of bad) {
      const what = `${event} ${payload === NO_PAYLOAD ? '(no payload)' : JSON.stringify(payload).slice(0, 80)}`;
      assertAckError(await emitAck(aliceSocket, event, payload), 'VALIDATION', what);
    }
    await quiet;
    assert.deepEqual((await history(bob, chatId)).messages, [mine], 'nothing stored or changed');
    assert.equal((await getChat(bob, chatId)).lastSeq, 1);

    // The same socket keeps working.
    const ok = await socketSend(aliceSocket, { chatId, content: 'fine now' });
    assert.equal(ok.seq, 2);
  });
}

test('a failed event sent without an ack gets an error event { event, code, message }, in the order sent', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const mallorySocket = await connect(t, mallory.token, { transports: null });
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  await joinChat(aliceSocket, chatId);
  await joinChat(bobSocket, chatId);

  const expected = [
    ['send_message', 'FORBIDDEN', { chatId, content: 'intrude' }],
    ['join_chat', 'NOT_FOUND', { chatId: UNKNOWN_CHAT }],
    ['send_message', 'VALIDATION', { chatId: 'abc', content: 'x' }],
    ['mark_as_read', 'FORBIDDEN', { chatId }],
    ['typing', 'FORBIDDEN', { chatId }],
    ['edit_message', 'VALIDATION', { messageId: 'abc', content: 'x' }],
    ['join_chat', 'FORBIDDEN', { chatId }],
  ];
  const quiet = hearNothing([aliceSocket, bobSocket]);
  const errors = collect(mallorySocket, 'error', expected.length);
  for (const [event, , payload] of expected) mallorySocket.emit(event, payload);
  const got = await errors;
  got.forEach((e, i) => {
    const [event, code] = expected[i];
    assert.deepEqual(Object.keys(e).sort(), ['code', 'event', 'message'], `error ${i}: ${JSON.stringify(e)}`);
    assert.equal(e.event, event, `error ${i}.event (${JSON.stringify(e)})`);
    assert.equal(e.code, code, `error ${i}.code (${JSON.stringify(e)})`);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
  });
  await quiet;
  assert.equal((await history(alice, chatId)).pagination.total, 0, 'nothing was stored');

  // A member's failed event without an ack, then a good one: the socket keeps serving, and a
  // send that succeeds without an ack (as the seed's client sends) gets no error event.
  const aliceError = collect(aliceSocket, 'error', 1);
  aliceSocket.emit('send_message', { chatId, content: '' });
  const [e] = await aliceError;
  assert.deepEqual([e.event, e.code], ['send_message', 'VALIDATION']);
  const noError = expectNoEvent(aliceSocket, 'error', QUIET_MS);
  const heard = collect(bobSocket, 'message_received', 1);
  aliceSocket.emit('send_message', { chatId, content: 'Hello!' });
  const [m] = await heard;
  assert.equal(m.content, 'Hello!');
  assert.equal(m.seq, 1);
  await noError;
});

test('REST: malformed ids, bodies and queries are 400 VALIDATION; a replyTo naming no message is refused; or-create with oneself 422; nothing stored', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const token = alice.token;

  // Malformed ids.
  for (const [method, path] of [
    ['GET', '/chats/abc'],
    ['GET', '/chats/abc/messages'],
    ['POST', '/chats/-1/accept'],
    ['POST', '/chats/abc/reject'],
    ['POST', '/chats/12abc/read'],
    ['GET', '/chats/abc/search?q=x'],
    ['GET', '/chats/messages/abc/replies'],
    ['DELETE', '/chats/messages/abc'],
    ['DELETE', '/chats/messages/-4/reactions/%F0%9F%91%8D'],
  ]) {
    assertRestError(await api(method, path, { token }), 400, 'VALIDATION', `${method} ${path}`);
  }
  assertRestError(
    await api('POST', '/chats/abc/messages', { token, body: { content: 'x' } }),
    400,
    'VALIDATION',
    'POST /chats/abc/messages',
  );
  assertRestError(
    await api('PATCH', '/chats/messages/abc', { token, body: { content: 'x' } }),
    400,
    'VALIDATION',
    'PATCH /chats/messages/abc',
  );
  assertRestError(
    await api('POST', '/chats/messages/abc/reactions', { token, body: { emoji: '👍' } }),
    400,
    'VALIDATION',
    'POST /chats/messages/abc/reactions',
  );
  assertRestError(await api('GET', `/chats/${chatId}/messages?before=abc`, { token }), 400, 'VALIDATION', 'before=abc');
  assertRestError(await api('GET', `/chats/${chatId}/messages?limit=abc`, { token }), 400, 'VALIDATION', 'limit=abc');

  // Message bodies.
  const post = (body) => api('POST', `/chats/${chatId}/messages`, { token, body });
  assertRestError(await post({}), 400, 'VALIDATION', 'no content');
  assertRestError(await post({ content: '' }), 400, 'VALIDATION', 'empty content');
  assertRestError(await post({ content: 17 }), 400, 'VALIDATION', 'content a number');
  assertRestError(await post({ content: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) }), 400, 'VALIDATION', 'content too long');
  assertRestError(await post({ content: 'bell \u0007' }), 400, 'VALIDATION', 'a control character');
  const first = await restSend(alice, chatId, { content: 'the first' });
  assertRestError(await post({ content: 'a reply', replyTo: '987654321' }), 400, 'VALIDATION', 'replyTo no message');
  assertRestError(await post({ content: 'a reply', replyTo: 'abc' }), 400, 'VALIDATION', 'replyTo malformed');
  assertRestError(await post({ content: 'a reply', replyTo: true }), 400, 'VALIDATION', 'replyTo a boolean');
  assertRestError(
    await api('POST', `/chats/${chatId}/messages`, { token, raw: '{"content": "unfinished' }),
    400,
    'VALIDATION',
    'malformed JSON',
  );

  // or-create.
  const create = (body) => api('POST', '/chats/or-create', { token, body });
  assertRestError(await create({}), 400, 'VALIDATION', 'no recipientId');
  assertRestError(await create({ recipientId: null }), 400, 'VALIDATION', 'a null recipientId');
  assertRestError(await create({ recipientId: '' }), 400, 'VALIDATION', 'an empty recipientId');
  assertRestError(await create({ recipientId: { id: bob.id } }), 400, 'VALIDATION', 'an object recipientId');
  assertRestError(await create({ recipientId: [bob.id] }), 400, 'VALIDATION', 'a list recipientId');
  assertRestError(
    await api('POST', '/chats/or-create', { token, raw: '{"recipientId": ' }),
    400,
    'VALIDATION',
    'malformed JSON',
  );
  assertRestError(await create({ recipientId: alice.id }), 422, 'UNPROCESSABLE', 'a chat with oneself');
  assertRestError(await create({ recipientId: String(alice.id) }), 422, 'UNPROCESSABLE', 'a chat with oneself');

  assert.deepEqual((await history(bob, chatId)).messages.map((m) => m.id), [first.id], 'nothing else stored');
  assert.deepEqual(await listIds(alice, 'active'), [chatId], 'no chat was made');
  assert.deepEqual(await listIds(bob, 'requests'), []);
});

test('unknown routes are 404 NOT_FOUND and known routes with another method 405 METHOD_NOT_ALLOWED, as JSON', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const token = alice.token;
  for (const [method, path] of [
    ['GET', '/api/nothing-here'],
    ['GET', `/api/chats/${chatId}/nothing-here`],
    ['POST', `/api/chats/${chatId}/messages/extra/segments`],
    ['GET', '/api/users/nothing/here/at-all'],
  ]) {
    const res = await http(method, path, { token });
    assertRestError(res, 404, 'NOT_FOUND', `${method} ${path}`);
  }
  for (const [method, path] of [
    ['GET', `/api/chats/${chatId}/accept`],
    ['PUT', `/api/chats/${chatId}/messages`],
    ['DELETE', `/api/chats/${chatId}/archive`],
    ['GET', `/api/chats/${chatId}/read`],
    ['PUT', `/api/users/${bob.id}/block`],
    ['POST', '/api/users/blocked'],
    ['DELETE', '/api/chats/or-create'],
    ['POST', '/api/chats/search'],
    ['POST', `/api/chats/${chatId}/search`],
    ['PUT', '/api/chats/messages/1/replies'],
    ['GET', '/api/chats/messages/1/reactions'],
  ]) {
    const res = await http(method, path, { token });
    assertRestError(res, 405, 'METHOD_NOT_ALLOWED', `${method} ${path}`);
  }
  // Nothing of it changed the chat.
  const chat = await getChat(alice, chatId);
  assert.equal(chat.lastSeq, 0);
  assert.equal(chat.isArchived, false);
});

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] a missing or bad token: REST 401 UNAUTHORIZED, sockets refused with connect_error; the server keeps serving`, async (t) => {
    const user = newUser();
    for (const [what, token] of [
      ['no token', undefined],
      ['garbage', 'garbage'],
      ['signed with another secret', mintToken({ sub: user.id }, { secret: 'not-the-secret' })],
      ['expired', mintToken({ sub: user.id, exp: Math.floor(Date.now() / 1000) - 3600 }, { expiresIn: null })],
    ]) {
      for (const path of ['/chats/active', '/chats/requests', '/users/blocked']) {
        assertRestError(await api('GET', path, { token }), 401, 'UNAUTHORIZED', `GET ${path} with ${what}`);
      }
      assertRestError(
        await api('POST', '/chats/or-create', { token, body: { recipientId: newUser().id } }),
        401,
        'UNAUTHORIZED',
        `or-create with ${what}`,
      );
      // connectRefused needs explicit transports: socket.io-client's default is polling, then WebSocket.
      const err = await connectRefused(t, token, opts.transports === null ? { transports: ['polling', 'websocket'] } : opts);
      assert.ok(typeof err.message === 'string' && err.message.length > 0, `connect_error with ${what}`);
    }

    // After all of this suite's refusals, the server still serves a fresh pair.
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const s = await connect(t, alice.token, opts);
    await joinChat(s, chatId);
    assert.equal((await socketSend(s, { chatId, content: 'alive' })).seq, 1);
  });
}
