// 12. The core chat scenario over WebSocket, over HTTP long-polling, with the client's default
// (polling, then upgrade), and with the two sides on different transports.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  connect,
  emitAck,
  listMessages,
  newUser,
  once,
} from './helpers.mjs';

const variants = [
  { name: 'websocket', alice: ['websocket'], bob: ['websocket'] },
  { name: 'polling', alice: ['polling'], bob: ['polling'] },
  { name: 'default transports (polling, then upgrade)', alice: null, bob: null },
  { name: 'websocket sender, polling receiver', alice: ['websocket'], bob: ['polling'] },
];

for (const v of variants) {
  test(`core chat scenario: ${v.name}`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const aliceSocket = await connect(t, alice.token, { transports: v.alice });
    const bobSocket = await connect(t, bob.token, { transports: v.bob });
    if (v.alice) assert.equal(aliceSocket.io.engine.transport.name, v.alice[0]);
    if (v.bob) assert.equal(bobSocket.io.engine.transport.name, v.bob[0]);

    // Alice starts the conversation; bob is notified, opens it, and they talk.
    const notified = once(bobSocket, 'message_notification');
    const first = assertAckOk(
      await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'hi bob' }),
    );
    const note = await notified;
    assert.equal(note.conversationId, first.conversationId);
    assert.equal(note.from, alice.id);
    assert.equal(note.content, 'hi bob');

    const conversationId = note.conversationId;
    const joinedBob = assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId }));
    assert.equal(joinedBob.lastSeq, 1);
    const userJoined = once(bobSocket, 'user_joined');
    assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId }));
    assert.equal((await userJoined).userId, alice.id);

    const toBob = once(bobSocket, 'new_message');
    const sent = assertAckOk(
      await emitAck(aliceSocket, 'send_message', { conversationId, content: 'how are you?' }),
    );
    const got = await toBob;
    assert.equal(got.id, sent.id);
    assert.equal(got.seq, 2);
    assert.equal(got.content, 'how are you?');
    assert.equal(got.senderId, alice.id);
    assert.equal(got.sender.name, 'Alice');

    const toAlice = once(aliceSocket, 'new_message', 5000, (m) => m.senderId === bob.id);
    const typing = once(aliceSocket, 'user_typing');
    bobSocket.emit('typing', { conversationId });
    assert.equal((await typing).userId, bob.id);
    const reply = assertAckOk(
      await emitAck(bobSocket, 'send_message', { conversationId, content: 'fine, thanks' }),
    );
    const gotReply = await toAlice;
    assert.equal(gotReply.id, reply.id);
    assert.equal(gotReply.seq, 3);
    assert.equal(gotReply.receiverId, alice.id);

    // A large but legal message goes through too (several polling frames' worth).
    const big = 'ü'.repeat(10000);
    const bigLive = once(bobSocket, 'new_message');
    const bigSent = assertAckOk(await emitAck(aliceSocket, 'send_message', { conversationId, content: big }));
    assert.equal((await bigLive).content, big);
    assert.equal(bigSent.seq, 4);

    const data = await listMessages(alice, conversationId);
    assert.deepEqual(data.messages.map((m) => m.seq), [1, 2, 3, 4]);
  });
}

test('the default client upgrades from polling to websocket and keeps working', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token, { transports: null });
  const bobSocket = await connect(t, bob.token, { transports: ['websocket'] });
  if (aliceSocket.io.engine.transport.name !== 'websocket') {
    await once(aliceSocket.io.engine, 'upgrade', 5000);
  }
  assert.equal(aliceSocket.io.engine.transport.name, 'websocket');
  const first = assertAckOk(
    await emitAck(aliceSocket, 'send_message', { receiverId: bob.id, content: 'after upgrade' }),
  );
  assertAckOk(await emitAck(bobSocket, 'join_conversation', { conversationId: first.conversationId }));
  const live = once(aliceSocket, 'new_message');
  assertAckOk(await emitAck(aliceSocket, 'join_conversation', { conversationId: first.conversationId }));
  bobSocket.emit('send_message', { conversationId: first.conversationId, content: 'got it' });
  assert.equal((await live).content, 'got it');
});
