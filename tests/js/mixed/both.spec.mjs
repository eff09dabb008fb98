// Both vocabularies on one server (PROTOCOLS=conversations,sessions): a socket speaks the first
// listed unless its handshake names another, each REST prefix answers, and a message sent
// through one protocol reaches the other protocol's sockets in their own shape.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  connect,
  connectRefused,
  emitAck,
  expectNoEvent,
  http,
  newUser,
  once,
  restSend,
} from '../helpers.mjs';

test('a message sent over /api/chat reaches a sessions socket as message_received, and back', async (t) => {
  const alice = newUser({ name: 'Alice' }); // a seed 002 frontend
  const bob = newUser({ name: 'Bob' }); // a seed 001 frontend

  const aliceSocket = await connect(t, alice.token); // the default: conversations
  const bobSocket = await connect(t, undefined, { auth: { token: bob.token, protocol: 'sessions' } });

  // Alice's first message opens the direct conversation; Bob's sessions socket enters its room.
  const received = once(bobSocket, 'message_received');
  const first = await restSend(alice, { receiverId: bob.id, content: 'hello from /api/chat' });
  const m = await received;
  assert.equal(m.id, String(first.id));
  assert.equal(m.chatId, String(first.conversation_id));
  assert.equal(m.senderId, String(alice.id));
  assert.equal(m.content, 'hello from /api/chat');
  assert.equal(m.type, 'TEXT');
  assert.equal(m.seq, 1);

  // Alice opens the conversation in her frontend; Bob answers through /api/v1/chat (a REST send
  // reaches all of Bob's sockets too: none of them sent it).
  const conversationId = first.conversation_id;
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  const live = once(aliceSocket, 'new_message');
  const reply = await http('POST', `/api/v1/chat/sessions/${m.chatId}/messages`, {
    token: bob.token,
    body: { content: 'hello from /api/v1/chat' },
  });
  assert.equal(reply.status, 201, reply.text);
  const got = await live;
  assert.equal(got.id, Number(reply.body.data.id));
  assert.equal(got.conversationId, conversationId);
  assert.equal(got.senderId, bob.id);
  assert.equal(got.seq, 2);

  // Each socket hears only its own vocabulary.
  const noNewMessage = expectNoEvent(bobSocket, 'new_message');
  const noReceived = expectNoEvent(aliceSocket, 'message_received');
  const next = once(bobSocket, 'message_received', undefined, (msg) => msg.content === 'third');
  assertAckOk(await emitAck(aliceSocket, 'send_message', { conversationId, content: 'third' }));
  assert.equal((await next).seq, 3);
  await noNewMessage;
  await noReceived;

  // Both REST prefixes list the conversation, each in its shape.
  const list = await http('GET', '/api/chat/conversations', { token: alice.token });
  assert.equal(list.body.data.conversations[0].id, conversationId);
  const sessions = await http('GET', '/api/v1/chat/sessions', { token: bob.token });
  assert.equal(sessions.body.data.sessions[0].id, String(conversationId));
});

test('a handshake naming a protocol the server does not speak is refused', async (t) => {
  const carol = newUser();
  const err = await connectRefused(t, undefined, { auth: { token: carol.token, protocol: 'chats' } });
  assert.match(err.message, /does not speak protocol "chats"/);
});
