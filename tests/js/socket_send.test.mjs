// 2. send_message over the socket: ack, new_message to the room, message_notification elsewhere.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertTimestamp,
  assertUserObject,
  connect,
  emitAck,
  expectNoEvent,
  listMessages,
  newUser,
  once,
} from './helpers.mjs';

test('send_message acks the stored message; receivers are told by room or by notification', async (t) => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const aliceSocket = await connect(t, alice.token);
  const bobInRoom = await connect(t, bob.token);
  const bobElsewhere = await connect(t, bob.token); // another tab, conversation not open

  // First send by receiverId creates the conversation; bob has no room joined yet.
  const note1InRoomSocket = once(bobInRoom, 'message_notification');
  const note1Elsewhere = once(bobElsewhere, 'message_notification');
  const ack1 = await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'first' });
  const first = assertAckOk(ack1, 'send_message');
  assert.equal(typeof first.id, 'number');
  assert.equal(first.seq, 1);
  assert.equal(typeof first.conversationId, 'number');
  assert.equal(first.senderId, alice.id);
  assert.equal(first.receiverId, bob.id);
  assert.equal(first.content, 'first');
  assert.equal(first.attachmentUrl, null);
  assert.equal(first.isRead, false);
  assertTimestamp(first.createdAt, 'createdAt');
  assertUserObject(first.sender, { id: alice.id, name: 'Alice' }, 'sender');
  const conversationId = first.conversationId;

  for (const note of [await note1InRoomSocket, await note1Elsewhere]) {
    assert.equal(note.from, alice.id);
    assert.equal(note.conversationId, conversationId);
    assert.equal(note.messageId, first.id);
    assert.equal(note.content, 'first');
    assertTimestamp(note.timestamp, 'timestamp');
    assertUserObject(note.sender, { id: alice.id, name: 'Alice' }, 'notification sender');
  }

  // Both of alice's and one of bob's sockets open the conversation.
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  assertAckOk(await emitAck(bobInRoom, 'join_conversation', { conversationId }));

  const bobLive = once(bobInRoom, 'new_message');
  const aliceEcho = once(aliceSocket, 'new_message'); // the sender's sockets in the room get it too
  const notifiedElsewhere = once(bobElsewhere, 'message_notification');
  const noNoteInRoom = expectNoEvent(bobInRoom, 'message_notification');
  const noLiveElsewhere = expectNoEvent(bobElsewhere, 'new_message');
  const noNoteToSender = expectNoEvent(aliceSocket, 'message_notification');

  const ack2 = await emitAck(aliceSocket, 'send_message', {
    receiverId: bob.id,
    conversationId,
    content: 'Hello!',
    attachmentUrl: 'https://example.com/image.jpg',
  });
  const second = assertAckOk(ack2, 'send_message');
  assert.equal(second.seq, 2);
  assert.equal(second.conversationId, conversationId);
  assert.equal(second.attachmentUrl, 'https://example.com/image.jpg');

  const live = await bobLive;
  assert.deepEqual(live, second, 'the ack data is the message as in new_message');
  assert.equal(live.senderId, alice.id);
  assert.equal(live.receiverId, bob.id);
  assert.equal(live.content, 'Hello!');
  assert.deepEqual(await aliceEcho, second);

  const note2 = await notifiedElsewhere;
  assert.equal(note2.from, alice.id);
  assert.equal(note2.conversationId, conversationId);
  assert.equal(note2.messageId, second.id);
  assert.equal(note2.content, 'Hello!');

  await Promise.all([noNoteInRoom, noLiveElsewhere, noNoteToSender]);

  // The ack came after the commit: the message is already listed.
  const data = await listMessages(bob, conversationId);
  assert.deepEqual(data.messages.map((m) => m.id), [first.id, second.id]);
  assert.equal(data.messages[1].attachment_url, 'https://example.com/image.jpg');
});

test('the receiver replies over the socket with only conversationId', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const first = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: String(bob.id), content: 'ping' }),
  );
  assert.equal(first.receiverId, bob.id, 'a string receiverId names the numeric user');
  const conversationId = first.conversationId;
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId: String(conversationId) }));

  const got = once(aliceSocket, 'new_message');
  const reply = assertAckOk(
    await emitAck(bobSocket, 'send_message', { conversationId, content: 'pong' }),
  );
  assert.equal(reply.senderId, bob.id);
  assert.equal(reply.receiverId, alice.id);
  assert.equal(reply.conversationId, conversationId);
  assert.equal(reply.seq, 2);
  const live = await got;
  assert.equal(live.id, reply.id);
  assert.equal(live.content, 'pong');
  assert.equal(live.senderId, bob.id);
});

test('a send without an ack callback still stores and broadcasts', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const first = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'one' }),
  );
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId: first.conversationId }));
  const live = once(bobSocket, 'new_message');
  const noError = expectNoEvent(aliceSocket, 'error');
  // Exactly as the seed's React example does it: plain emit, no callback.
  aliceSocket.emit('send_message', {
    receiverId: bob.id,
    conversationId: first.conversationId,
    content: 'fire and forget',
  });
  const msg = await live;
  assert.equal(msg.content, 'fire and forget');
  assert.equal(msg.seq, 2);
  await noError;
});
