// Bad input and permissions: outsiders (FORBIDDEN), unknown chats (NOT_FOUND), malformed payloads
// (VALIDATION), message types that do not fit their attachment (VALIDATION), the impossible
// (a chat with oneself, a group operation on a direct chat: UNPROCESSABLE), the `error` event for
// events sent without an ack; nothing is stored after a refusal, and the server keeps serving.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_MESSAGE_LENGTH,
  NO_PAYLOAD,
  assertAckError,
  assertAckOk,
  assertRestError,
  collect,
  connect,
  connectRefused,
  emitAck,
  expectNoEvent,
  mintToken,
  newUser,
} from '../helpers.mjs';
import { QUIET_MS, TRANSPORTS, getChat, history, openChat, restSend, unreadCount, v1 } from './helpers.mjs';

const UNKNOWN_CHAT = '987654321';

/** Watches every event a member could hear about a chat; resolves if none comes. */
function membersHearNothing(sockets, ms = QUIET_MS) {
  const events = ['message_received', 'message_sent', 'messages_read', 'user_typing', 'user_joined_chat', 'chat_created'];
  return Promise.all(sockets.flatMap((s) => events.map((e) => expectNoEvent(s, e, ms))));
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] an outsider's join_chat, send_message, mark_as_read and typing are FORBIDDEN; members hear nothing`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const mallory = newUser();
    const chatId = await openChat(alice, bob);
    const first = await restSend(alice, chatId, { content: 'private' });
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    const mallorySocket = await connect(t, mallory.token, opts);

    const quiet = membersHearNothing([aliceSocket, bobSocket]);
    const noJoined = expectNoEvent(mallorySocket, 'chat_joined', QUIET_MS);
    const tries = [
      ['join_chat', { chatId }],
      ['send_message', { chatId, content: 'let me in', type: 'TEXT', tempId: 'x1' }],
      ['send_message', { chatId: Number(chatId), content: 'let me in' }],
      ['mark_as_read', { chatId }],
      ['typing_start', { chatId }],
      ['typing_indicator', { chatId, isTyping: true }],
    ];
    for (const [event, payload] of tries) {
      assertAckError(await emitAck(mallorySocket, event, payload), 'FORBIDDEN', `${event} by an outsider`);
    }
    await Promise.all([quiet, noJoined]);

    // Nothing was stored or moved, and the outsider's socket is not in the room.
    const page = await history(bob, chatId);
    assert.deepEqual(page.messages.map((m) => m.id), [first.id]);
    assert.equal(await unreadCount(bob, chatId), 1);
    const noLeak = expectNoEvent(mallorySocket, 'message_received', QUIET_MS);
    await restSend(bob, chatId, { content: 'still private' });
    await noLeak;
  });
}

test('unknown chats are NOT_FOUND over the socket and over REST', async (t) => {
  const alice = newUser();
  const aliceSocket = await connect(t, alice.token);
  for (const [event, payload] of [
    ['join_chat', { chatId: UNKNOWN_CHAT }],
    ['send_message', { chatId: UNKNOWN_CHAT, content: 'hello?' }],
    ['mark_as_read', { chatId: Number(UNKNOWN_CHAT) }],
    ['typing_start', { chatId: UNKNOWN_CHAT }],
  ]) {
    assertAckError(await emitAck(aliceSocket, event, payload), 'NOT_FOUND', `${event} to an unknown chat`);
  }
  const token = alice.token;
  assertRestError(await v1('GET', `/sessions/${UNKNOWN_CHAT}/messages`, { token }), 404, 'NOT_FOUND');
  assertRestError(
    await v1('POST', `/sessions/${UNKNOWN_CHAT}/messages`, { token, body: { content: 'hello?' } }),
    404,
    'NOT_FOUND',
  );
  assertRestError(await v1('GET', `/sessions/${UNKNOWN_CHAT}`, { token }), 404, 'NOT_FOUND');
});

test('outsiders are FORBIDDEN over REST: history, send, search; nothing stored', async () => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const token = mallory.token;
  assertRestError(await v1('GET', `/sessions/${chatId}/messages`, { token }), 403, 'FORBIDDEN');
  assertRestError(
    await v1('POST', `/sessions/${chatId}/messages`, { token, body: { content: 'hi' } }),
    403,
    'FORBIDDEN',
  );
  assertRestError(await v1('GET', `/sessions/${chatId}/search?q=hi`, { token }), 403, 'FORBIDDEN');
  const list = await v1('GET', '/sessions', { token });
  assert.deepEqual(list.body.data.sessions, [], 'the outsider has no chat');
  assert.equal((await history(alice, chatId)).pagination.total, 0);
});

test('malformed send_message payloads are VALIDATION, SYSTEM is FORBIDDEN; nothing is stored', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const quiet = Promise.all([
    expectNoEvent(bobSocket, 'message_received', QUIET_MS),
    expectNoEvent(aliceSocket, 'message_sent', QUIET_MS),
  ]);
  const bad = [
    ['no payload', NO_PAYLOAD],
    ['a string payload', 'hello'],
    ['no chatId', { content: 'where to?' }],
    ['a null chatId', { chatId: null, content: 'x' }],
    ['a chatId that is not a number', { chatId: 'abc', content: 'x' }],
    ['a negative chatId', { chatId: -3, content: 'x' }],
    ['no content', { chatId }],
    ['empty content', { chatId, content: '' }],
    ['whitespace-only content', { chatId, content: '   \n\t ' }],
    ['content that is a number', { chatId, content: 42 }],
    ['content over MAX_MESSAGE_LENGTH', { chatId, content: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) }],
    ['a control character', { chatId, content: 'ring \u0007 ring' }],
    ['an attachmentUrl that is not http(s)', { chatId, content: 'x', attachmentUrl: 'ftp://example.com/a.png' }],
    ['an attachmentUrl that is not a URL', { chatId, content: 'x', attachmentUrl: 'not a url' }],
    ['an unknown type', { chatId, content: 'x', type: 'STICKER' }],
    ['type IMAGE without an attachmentUrl', { chatId, content: 'pic', type: 'IMAGE' }],
    ['type FILE without an attachmentUrl', { chatId, content: 'doc', type: 'FILE' }],
    ['type VOICE without an attachmentUrl', { chatId, content: 'hey', type: 'VOICE' }],
    ['an IMAGE whose MIME type is not an image', { chatId, type: 'IMAGE', attachmentUrl: 'https://example.com/a.png', attachmentMimeType: 'text/html' }],
    ['a VOICE whose MIME type is not audio', { chatId, type: 'VOICE', attachmentUrl: 'https://example.com/a.ogg', attachmentMimeType: 'video/mp4' }],
    ['a MIME type that is not one', { chatId, type: 'FILE', attachmentUrl: 'https://example.com/a', attachmentMimeType: 'pdf' }],
    ['a negative attachmentSize', { chatId, type: 'FILE', attachmentUrl: 'https://example.com/a.pdf', attachmentSize: -1 }],
    ['a fractional attachmentSize', { chatId, type: 'FILE', attachmentUrl: 'https://example.com/a.pdf', attachmentSize: 1.5 }],
    ['an attachmentDuration on an IMAGE', { chatId, type: 'IMAGE', attachmentUrl: 'https://example.com/a.png', attachmentDuration: 3 }],
    ['a negative attachmentDuration', { chatId, type: 'VOICE', attachmentUrl: 'https://example.com/a.ogg', attachmentDuration: -2 }],
    ['an attachmentName with a control character', { chatId, type: 'FILE', attachmentUrl: 'https://example.com/a', attachmentName: 'a\u0000.pdf' }],
    ['attachment details without an attachmentUrl', { chatId, content: 'x', attachmentName: 'a.pdf' }],
  ];
  for (const [what, payload] of bad) {
    assertAckError(await emitAck(aliceSocket, 'send_message', payload), 'VALIDATION', `send_message with ${what}`);
  }
  // System messages are the server's.
  assertAckError(
    await emitAck(aliceSocket, 'send_message', { chatId, content: 'I am the system', type: 'SYSTEM' }),
    'FORBIDDEN',
    'send_message of type SYSTEM',
  );
  await quiet;
  assert.equal((await history(alice, chatId)).pagination.total, 0, 'nothing was stored');
  assert.equal((await getChat(bob, chatId)).lastSeq, 0);

  // The same socket keeps working.
  const ok = assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId, content: 'fine now', type: 'TEXT' }));
  assert.equal(ok.seq, 1);
});

test('malformed payloads of the other events are VALIDATION; a chat with oneself is UNPROCESSABLE', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const quiet = membersHearNothing([bobSocket]);
  const bad = [
    ['join_chat', NO_PAYLOAD],
    ['join_chat', {}],
    ['join_chat', { chatId: 'abc' }],
    ['leave_chat', { chatId: 'abc' }],
    ['mark_as_read', NO_PAYLOAD],
    ['mark_as_read', { chatId: { id: chatId } }],
    ['typing_start', {}],
    ['typing_stop', { chatId: 'abc' }],
    ['typing_indicator', { chatId }],
    ['typing_indicator', { chatId, isTyping: 'yes' }],
    ['create_chat', NO_PAYLOAD],
    ['create_chat', { type: 'DIRECT' }],
    ['create_chat', { type: 'DIRECT', targetUserId: { id: bob.id } }],
    ['create_chat', { type: 'CHANNEL', targetUserId: bob.id }],
    // Groups: a name of 1 to 100 characters, members given as a list.
    ['create_chat', { type: 'GROUP', participantIds: [bob.id] }],
    ['create_chat', { type: 'GROUP', name: '', participantIds: [bob.id] }],
    ['create_chat', { type: 'GROUP', name: 'x'.repeat(101), participantIds: [bob.id] }],
    ['create_chat', { type: 'GROUP', name: 'Team', participantIds: String(bob.id) }],
    ['create_chat', { type: 'GROUP', name: 'Team', participantIds: [bob.id], avatarUrl: 'ftp://example.com/a.png' }],
  ];
  for (const [event, payload] of bad) {
    assertAckError(await emitAck(aliceSocket, event, payload), 'VALIDATION', `${event} ${JSON.stringify(payload)}`);
  }
  assertAckError(
    await emitAck(aliceSocket, 'create_chat', { type: 'DIRECT', targetUserId: alice.id }),
    'UNPROCESSABLE',
    'create_chat with oneself',
  );
  await quiet;
  // No chat was made by any of it.
  const list = await v1('GET', '/sessions', { token: alice.token });
  assert.deepEqual(list.body.data.sessions.map((s) => s.id), [chatId]);
});

test('REST: malformed bodies and ids are 400 VALIDATION, impossible requests 422, nothing stored', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const token = alice.token;
  const post = (body) => v1('POST', `/sessions/${chatId}/messages`, { token, body });

  assertRestError(await post({ content: '' }), 400, 'VALIDATION', 'empty content');
  assertRestError(await post({}), 400, 'VALIDATION', 'no content');
  assertRestError(await post({ content: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) }), 400, 'VALIDATION', 'too long');
  assertRestError(await post({ content: 'pic', type: 'IMAGE' }), 400, 'VALIDATION', 'type IMAGE');
  assertRestError(await post({ content: 'x', attachmentUrl: 'javascript:alert(1)' }), 400, 'VALIDATION', 'bad URL');
  assertRestError(
    await v1('POST', `/sessions/${chatId}/messages`, { token, raw: '{"content": "unfinished' }),
    400,
    'VALIDATION',
    'malformed JSON',
  );
  assertRestError(
    await v1('POST', '/sessions/abc/messages', { token, body: { content: 'x' } }),
    400,
    'VALIDATION',
    'chat id abc',
  );
  assertRestError(await v1('GET', `/sessions/${chatId}/messages?before=abc`, { token }), 400, 'VALIDATION', 'before=abc');
  assertRestError(await v1('GET', `/sessions/${chatId}/messages?after=-1`, { token }), 400, 'VALIDATION', 'after=-1');

  const create = (body) => v1('POST', '/sessions', { token, body });
  assertRestError(await create({ type: 'GROUP', participantIds: [bob.id] }), 400, 'VALIDATION', 'GROUP without a name');
  assertRestError(
    await create({ type: 'GROUP', name: 'x'.repeat(101), participantIds: [bob.id] }),
    400,
    'VALIDATION',
    'GROUP name over 100 characters',
  );
  assertRestError(await create({ type: 'CHANNEL', targetUserId: bob.id }), 400, 'VALIDATION', 'unknown type');
  // A group operation on a direct chat is impossible.
  assertRestError(
    await v1('PUT', `/sessions/${chatId}`, { token, body: { name: 'Renamed' } }),
    422,
    'UNPROCESSABLE',
    'PUT on a direct chat',
  );
  assertRestError(await create({ type: 'DIRECT' }), 400, 'VALIDATION', 'no targetUserId');
  assertRestError(await create({ type: 'DIRECT', targetUserId: alice.id }), 422, 'UNPROCESSABLE', 'with oneself');
  assertRestError(
    await v1('POST', '/sessions', { token, raw: '{"type": "DIRECT", ' }),
    400,
    'VALIDATION',
    'malformed JSON',
  );

  assert.equal((await history(bob, chatId)).pagination.total, 0, 'nothing was stored');
  const list = await v1('GET', '/sessions', { token });
  assert.deepEqual(list.body.data.sessions.map((s) => s.id), [chatId], 'no chat was made');
  // The server keeps serving.
  assert.equal((await restSend(alice, chatId, { content: 'fine' })).seq, 1);
});

test('a failed event sent without an ack gets an error event { event, code, message }', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const mallorySocket = await connect(t, mallory.token, { transports: null });
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);

  const expected = [
    ['send_message', 'FORBIDDEN', { chatId, content: 'intrude' }],
    ['join_chat', 'NOT_FOUND', { chatId: UNKNOWN_CHAT }],
    ['send_message', 'VALIDATION', { chatId: 'abc', content: 'x' }],
    ['mark_as_read', 'FORBIDDEN', { chatId }],
    ['typing_start', 'FORBIDDEN', { chatId }],
    ['send_message', 'VALIDATION', { chatId, content: 'pic', type: 'IMAGE' }],
    ['create_chat', 'UNPROCESSABLE', { type: 'DIRECT', targetUserId: mallory.id }],
  ];
  const quiet = membersHearNothing([aliceSocket, bobSocket]);
  const errors = collect(mallorySocket, 'error', expected.length);
  for (const [event, , payload] of expected) mallorySocket.emit(event, payload);
  const got = await errors;
  // Events run in the order the socket sent them, so their errors come in that order.
  got.forEach((e, i) => {
    const [event, code] = expected[i];
    assert.deepEqual(Object.keys(e).sort(), ['code', 'event', 'message'], `error ${i}: ${JSON.stringify(e)}`);
    assert.equal(e.event, event, `error ${i}.event`);
    assert.equal(e.code, code, `error ${i}.code (${JSON.stringify(e)})`);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
  });
  await quiet;
  assert.equal((await history(alice, chatId)).pagination.total, 0, 'nothing was stored');

  // Alice's own failed event without an ack, then a good one: the socket keeps serving.
  const aliceError = collect(aliceSocket, 'error', 1);
  aliceSocket.emit('send_message', { chatId, content: '' });
  const [e] = await aliceError;
  assert.deepEqual([e.event, e.code], ['send_message', 'VALIDATION']);
  const noError = expectNoEvent(aliceSocket, 'error', 500);
  const m = assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId, content: 'ok' }));
  assert.equal(m.seq, 1);
  await noError;
});

test('sockets with a bad token and REST without a valid token are refused', async (t) => {
  const bad = await connectRefused(t, mintToken({ sub: 1 }, { secret: 'not-the-secret' }));
  assert.ok(bad.message.length > 0);
  assertRestError(await v1('GET', '/sessions'), 401, 'UNAUTHORIZED');
  assertRestError(await v1('GET', '/sessions', { token: 'garbage' }), 401, 'UNAUTHORIZED');
  // And after all of this suite's refusals, the server still serves a fresh pair.
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const s = await connect(t, alice.token);
  assert.equal(assertAckOk(await emitAck(s, 'send_message', { chatId, content: 'alive' })).seq, 1);
});
