// 10. Bad input over the socket and over REST: refused, nothing stored, connection kept.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_MESSAGE_LENGTH,
  NO_PAYLOAD,
  assertAckError,
  assertAckOk,
  assertRestError,
  chat,
  connect,
  emitAck,
  expectNoEvent,
  httpOneShot,
  listMessages,
  newUser,
  once,
  openConversation,
  rand,
} from './helpers.mjs';

test('invalid send_message payloads are VALIDATION errors and store nothing', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob, 'the only valid one so far');
  const socket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
  const bobGetsNothing = expectNoEvent(bobSocket, 'new_message', 1000);

  const cases = [
    ['empty content', { conversationId, content: '' }],
    ['whitespace-only content', { conversationId, content: '  \n\t  ' }],
    ['content too long', { conversationId, content: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) }],
    ['content of multi-byte chars too long', { conversationId, content: 'é'.repeat(MAX_MESSAGE_LENGTH + 1) }],
    ['content missing', { conversationId }],
    ['content a number', { conversationId, content: 42 }],
    ['content null', { conversationId, content: null }],
    ['javascript: attachment', { conversationId, content: 'hi', attachmentUrl: 'javascript:alert(1)' }],
    ['relative attachment', { conversationId, content: 'hi', attachmentUrl: '/etc/passwd' }],
    ['ftp attachment', { conversationId, content: 'hi', attachmentUrl: 'ftp://example.com/x' }],
    [
      'attachment too long',
      { conversationId, content: 'hi', attachmentUrl: `https://example.com/${'a'.repeat(2048)}` },
    ],
    ['conversationId "abc"', { conversationId: 'abc', content: 'hi' }],
    ['conversationId "abc" with receiverId', { conversationId: 'abc', receiverId: bob.id, content: 'hi' }],
    ['conversationId an object', { conversationId: { id: 1 }, content: 'hi' }],
    ['neither receiverId nor conversationId', { content: 'hi' }],
    ['receiverId an object', { receiverId: { id: bob.id }, content: 'hi' }],
    ['clientMsgId too long', { conversationId, content: 'hi', clientMsgId: 'c'.repeat(129) }],
    ['a NUL in content', { conversationId, content: 'a\u0000b' }],
    ['an escape sequence in content', { conversationId, content: 'red \u001b[31m' }],
    ['a lone carriage return in content', { conversationId, content: 'over\rwrite' }],
    ['a string payload', 'hello'],
    ['a number payload', 42],
    ['a null payload', null],
    ['an array payload', [{ conversationId, content: 'hi' }]],
    ['no payload', NO_PAYLOAD],
  ];
  for (const [what, payload] of cases) {
    const ack = await emitAck(socket, 'send_message', payload);
    assertAckError(ack, 'VALIDATION', what);
    assert.equal(socket.connected, true, `still connected after ${what}`);
  }

  // Without an ack callback the client gets an error event instead.
  const errorEvent = once(socket, 'error');
  socket.emit('send_message', { conversationId, content: '' });
  const err = await errorEvent;
  assert.equal(err.event, 'send_message');
  assert.equal(err.code, 'VALIDATION');
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0);

  const stringError = once(socket, 'error');
  socket.emit('send_message', 'hello');
  const err2 = await stringError;
  assert.equal(err2.event, 'send_message');
  assert.equal(err2.code, 'VALIDATION');

  await bobGetsNothing;
  assert.equal(socket.connected, true);

  // The socket still works and only valid messages were ever stored.
  const bobLive = once(bobSocket, 'new_message');
  const ok = assertAckOk(
    await emitAck(socket, 'send_message', { conversationId, content: 'valid after\r\nall that' }),
  );
  assert.equal(ok.seq, 2, 'no seq was consumed by refused sends');
  assert.equal((await bobLive).id, ok.id);
  const data = await listMessages(alice, conversationId);
  assert.equal(data.total, 2);
  assert.deepEqual(data.messages.map((m) => m.content), ['the only valid one so far', 'valid after\r\nall that']);
});

test('content of exactly MAX_MESSAGE_LENGTH characters is accepted', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const socket = await connect(t, alice.token);
  const ascii = 'a'.repeat(MAX_MESSAGE_LENGTH);
  const m1 = assertAckOk(await emitAck(socket, 'send_message', { receiverId: bob.id, content: ascii }));
  assert.equal(m1.content.length, MAX_MESSAGE_LENGTH);
  // Characters, not bytes: 10,000 two-byte characters are still 10,000 characters.
  const accented = 'é'.repeat(MAX_MESSAGE_LENGTH);
  const m2 = assertAckOk(
    await emitAck(socket, 'send_message', { conversationId: m1.conversationId, content: accented }),
  );
  assert.equal(m2.content, accented);
  // Surrounding whitespace is content too, and unicode survives the round trip.
  const text = `  Grüße, 世界 🌍 ${rand()}  `;
  const m3 = assertAckOk(
    await emitAck(socket, 'send_message', { conversationId: m1.conversationId, content: text }),
  );
  const data = await listMessages(bob, m1.conversationId);
  assert.equal(data.total, 3);
  assert.equal(data.messages[2].id, m3.id);
  assert.equal(data.messages[2].content, m3.content);
  assert.ok(m3.content.includes('Grüße, 世界 🌍'));
});

test('other events validate their payloads too', async (t) => {
  const alice = newUser();
  const socket = await connect(t, alice.token);
  for (const event of ['join_conversation', 'leave_conversation', 'typing', 'stop_typing', 'mark_as_read']) {
    for (const [what, payload] of [
      ['conversationId "abc"', { conversationId: 'abc' }],
      ['missing conversationId', {}],
      ['a string payload', 'hello'],
      ['no payload', NO_PAYLOAD],
    ]) {
      assertAckError(await emitAck(socket, event, payload), 'VALIDATION', `${event}: ${what}`);
    }
  }
  assert.equal(socket.connected, true);
  const data = assertAckOk(await emitAck(socket, 'join_personal_room', NO_PAYLOAD));
  assert.equal(data.room, `user:${alice.id}`);
});

test('REST: malformed JSON, wrong shapes, oversized bodies, messaging yourself', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob, 'baseline');

  assertRestError(
    await chat('POST', '/send', { token: alice.token, raw: '{"receiverId": 2, "content": ' }),
    400,
    'VALIDATION',
    'malformed JSON',
  );
  assertRestError(
    await chat('POST', '/send', { token: alice.token, raw: '"just a string"' }),
    400,
    'VALIDATION',
    'a JSON string body',
  );
  assertRestError(
    await chat('POST', '/send', { token: alice.token, body: { conversationId, content: '   ' } }),
    400,
    'VALIDATION',
    'whitespace content',
  );
  assertRestError(
    await chat('POST', '/send', {
      token: alice.token,
      body: { conversationId, content: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) },
    }),
    400,
    'VALIDATION',
    'content too long',
  );
  assertRestError(
    await chat('POST', '/send', {
      token: alice.token,
      body: { conversationId, content: 'hi', attachmentUrl: 'javascript:alert(1)' },
    }),
    400,
    'VALIDATION',
    'javascript: attachment',
  );
  assertRestError(
    await chat('POST', '/send', { token: alice.token, body: { conversationId: 'abc', content: 'hi' } }),
    400,
    'VALIDATION',
    'conversationId abc',
  );

  // 2 MB is over any sensible MAX_BODY_BYTES.
  const huge = await httpOneShot('POST', '/api/chat/send', {
    token: alice.token,
    body: { conversationId, content: 'x'.repeat(2 * 1024 * 1024) },
  });
  assertRestError(huge, 413, 'PAYLOAD_TOO_LARGE', '2 MB body');

  // Messaging yourself is well-formed but impossible.
  assertRestError(
    await chat('POST', '/send', { token: alice.token, body: { receiverId: alice.id, content: 'me' } }),
    422,
    'UNPROCESSABLE',
    'messaging yourself',
  );
  assertRestError(
    await chat('POST', '/send', {
      token: alice.token,
      body: { receiverId: String(alice.id), content: 'me' },
    }),
    422,
    'UNPROCESSABLE',
    'messaging yourself by string id',
  );
  const socket = await connect(t, alice.token);
  assertAckError(
    await emitAck(socket, 'send_message', { receiverId: alice.id, content: 'me' }),
    'UNPROCESSABLE',
    'messaging yourself over the socket',
  );

  const data = await listMessages(alice, conversationId);
  assert.equal(data.total, 1, 'none of the bad requests stored anything');
  const conversations = await chat('GET', '/conversations', { token: alice.token });
  assert.equal(conversations.body.data.total, 1, 'no conversation with herself was created');
});

for (const transports of [['websocket'], ['polling']]) {
  test(`${transports[0]}: an oversized socket packet closes only that connection`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const { conversationId } = await openConversation(alice, bob, 'before');
    const greedy = await connect(t, alice.token, { transports });
    const aliceOk = await connect(t, alice.token);
    const bobSocket = await connect(t, bob.token);
    assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));

    const closed = once(greedy, 'disconnect', 10000);
    greedy.emit('send_message', { conversationId, content: 'x'.repeat(4 * 1024 * 1024) });
    await closed;
    assert.equal(greedy.connected, false);

    // Everybody else carries on.
    const live = once(bobSocket, 'new_message');
    const m = assertAckOk(await emitAck(aliceOk, 'send_message', { conversationId, content: 'after' }));
    assert.equal((await live).id, m.id);
    const data = await listMessages(bob, conversationId);
    assert.deepEqual(data.messages.map((x) => x.content), ['before', 'after']);
  });
}
