// 13. online_status to conversation partners. 14. user_joined, user_left, join_personal_room.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NO_PAYLOAD,
  assertAckOk,
  assertTimestamp,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
  openConversation,
} from './helpers.mjs';

test('partners see a user come online with the first socket and go offline with the last', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const stranger = newUser();
  // Bob writes to alice: he took part, so she sees his presence (a stranger never does).
  await openConversation(bob, alice);
  const aliceSocket = await connect(t, alice.token);
  const strangerSocket = await connect(t, stranger.token);
  const isBob = (p) => p.userId === bob.id;

  const online = once(aliceSocket, 'online_status', 5000, isBob);
  const strangerHearsNothing = expectNoEvent(strangerSocket, 'online_status', 1500, isBob);
  const bob1 = await connect(t, bob.token);
  const up = await online;
  assert.equal(up.userId, bob.id);
  assert.equal(up.isOnline, true);
  assert.equal(up.status, 'online');
  await strangerHearsNothing;

  // A second tab is not news, and closing one of two tabs is not either.
  const quiet = expectNoEvent(aliceSocket, 'online_status', 1500, isBob);
  const bob2 = await connect(t, bob.token);
  bob2.disconnect();
  await quiet;

  const offline = once(aliceSocket, 'online_status', 5000, isBob);
  const before = Date.now();
  bob1.disconnect();
  const down = await offline;
  assert.equal(down.userId, bob.id);
  assert.equal(down.isOnline, false);
  assert.equal(down.status, 'offline');
  assertTimestamp(down.lastSeen, 'lastSeen');
  assert.ok(
    Math.abs(Date.parse(down.lastSeen) - before) < 60_000,
    `lastSeen ${down.lastSeen} should be about now`,
  );
});

test('user_joined and user_left go to the others in the room', async (t) => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const { conversationId } = await openConversation(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);

  const aliceJoin = assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
  assert.equal(aliceJoin.conversationId, conversationId);

  const joined = once(aliceSocket, 'user_joined');
  const notToSelf = expectNoEvent(bobSocket, 'user_joined');
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
  const j = await joined;
  assert.equal(j.userId, bob.id);
  assert.equal(j.conversationId, conversationId);
  assert.equal(typeof j.message, 'string');
  assert.ok(j.message.length > 0);
  await notToSelf;

  const left = once(aliceSocket, 'user_left');
  const leaveNotToSelf = expectNoEvent(bobSocket, 'user_left');
  const leaveAck = assertAckOk(await emitAck(bobSocket, 'leave_conversation', { conversationId }));
  assert.equal(leaveAck.conversationId, conversationId);
  const l = await left;
  assert.equal(l.userId, bob.id);
  assert.equal(l.conversationId, conversationId);
  assert.equal(typeof l.message, 'string');
  assert.ok(l.message.length > 0);
  await leaveNotToSelf;

  // Out of the room, bob is notified instead of receiving the message live.
  const noLive = expectNoEvent(bobSocket, 'new_message');
  const notified = once(bobSocket, 'message_notification');
  const sent = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { conversationId, content: 'are you there?' }),
  );
  const note = await notified;
  assert.equal(note.messageId, sent.id);
  assert.equal(note.from, alice.id);
  await noLive;
});

test('join_personal_room acks the user room, which already receives notifications', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const bobSocket = await connect(t, bob.token);
  const data = assertAckOk(await emitAck(bobSocket, 'join_personal_room', NO_PAYLOAD));
  assert.equal(data.room, `user:${bob.id}`);
  // Joining twice is harmless: one notification, not two.
  assertAckOk(await emitAck(bobSocket, 'join_personal_room', NO_PAYLOAD));
  const note = once(bobSocket, 'message_notification');
  const aliceSocket = await connect(t, alice.token);
  assertAckOk(await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'knock knock' }));
  assert.equal((await note).content, 'knock knock');
  await expectNoEvent(bobSocket, 'message_notification');
});

test('joining twice is harmless and a rejoin after reconnect works', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob);
  const bobSocket = await connect(t, bob.token);
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));

  const aliceSocket = await connect(t, alice.token);
  const live = once(bobSocket, 'new_message');
  const sent = assertAckOk(await emitAck(aliceSocket, 'send_message', { conversationId, content: 'once' }));
  assert.equal((await live).id, sent.id);
  await expectNoEvent(bobSocket, 'new_message');

  // A new connection starts outside every conversation room, and joins again.
  bobSocket.disconnect();
  const bobAgain = await connect(t, bob.token);
  const missed = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { conversationId, content: 'while away' }),
  );
  const rejoin = assertAckOk(await emitAck(bobAgain, 'join_conversation', { conversationId }));
  assert.equal(rejoin.lastSeq, missed.seq, 'lastSeq tells the client what it missed');
  const live2 = once(bobAgain, 'new_message');
  const after = assertAckOk(await emitAck(aliceSocket, 'send_message', { conversationId, content: 'back' }));
  assert.equal((await live2).id, after.id);
});
