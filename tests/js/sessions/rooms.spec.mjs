// Rooms: a socket is in all its chats' rooms from its connect (no join_chat needed), and in the
// room of a chat created while it is connected; join_chat and leave_chat.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertFields,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
} from '../helpers.mjs';
import { QUIET_MS, TRANSPORTS, assertMessage, createDirect, getChat, restSend, v1 } from './helpers.mjs';

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] a socket connected before its chat existed hears message_received without join_chat`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    // Both connect while they share no chat at all.
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    const bobOtherTab = await connect(t, bob.token, opts);

    // Bob opens the chat over REST; nobody joins anything.
    const { chat } = await createDirect(bob, alice, { expectStatus: 201 });

    const toAlice = once(aliceSocket, 'message_received');
    const toBobsOtherTab = once(bobOtherTab, 'message_received');
    const sent = assertAckOk(
      await emitAck(bobSocket, 'send_message', { chatId: chat.id, content: 'are you there?', type: 'TEXT' }),
      'send_message',
    );
    assertMessage(sent, { chatId: chat.id, senderId: String(bob.id), seq: 1, content: 'are you there?' });
    assert.deepEqual(await toAlice, sent);
    assert.deepEqual(await toBobsOtherTab, sent);

    // The reply goes the other way just as well, over REST this time (every socket hears it).
    const toBob = [bobSocket, bobOtherTab].map((s) => once(s, 'message_received'));
    const toAliceToo = once(aliceSocket, 'message_received');
    const reply = await restSend(alice, chat.id, { content: 'yes' });
    for (const got of await Promise.all([...toBob, toAliceToo])) assert.deepEqual(got, reply);
  });

  test(`[${name}] a chat opened by create_chat puts both members' connected sockets in its room`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    const chat = assertAckOk(
      await emitAck(aliceSocket, 'create_chat', { type: 'DIRECT', targetUserId: bob.id }),
      'create_chat',
    );
    const got = once(bobSocket, 'message_received');
    const sent = assertAckOk(
      await emitAck(aliceSocket, 'send_message', { chatId: chat.id, content: 'first', type: 'TEXT' }),
    );
    assert.deepEqual(await got, sent);
  });

  test(`[${name}] a socket connected after its chat exists hears message_received without join_chat`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const { chat } = await createDirect(alice, bob);
    await restSend(alice, chat.id, { content: 'before anyone connected' });

    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const toBob = once(bobSocket, 'message_received');
    const sent = assertAckOk(
      await emitAck(aliceSocket, 'send_message', { chatId: chat.id, content: 'now live', type: 'TEXT' }),
    );
    assertMessage(sent, { seq: 2, content: 'now live' });
    assert.deepEqual(await toBob, sent);

    const toAlice = once(aliceSocket, 'message_received');
    const restReply = await restSend(bob, chat.id, { content: 'over REST' });
    assert.deepEqual(await toAlice, restReply);
  });

  test(`[${name}] join_chat answers { chatId, lastSeq } and chat_joined, and tells nobody when already in the room`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const { chat } = await createDirect(alice, bob);
    await restSend(alice, chat.id, { content: 'one' });
    await restSend(bob, chat.id, { content: 'two' });
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const joined = once(aliceSocket, 'chat_joined');
    const nobodyTold = expectNoEvent(bobSocket, 'user_joined_chat', QUIET_MS);
    const ack = assertAckOk(await emitAck(aliceSocket, 'join_chat', { chatId: chat.id }), 'join_chat');
    assert.deepEqual(ack, { chatId: chat.id, lastSeq: 2 });
    assert.deepEqual(await joined, { chatId: chat.id, lastSeq: 2 });

    // The id as a number is the same chat, and the answer still carries the string id.
    const joinedAgain = once(aliceSocket, 'chat_joined');
    const ack2 = assertAckOk(await emitAck(aliceSocket, 'join_chat', { chatId: Number(chat.id) }));
    assert.deepEqual(ack2, { chatId: chat.id, lastSeq: 2 });
    assert.deepEqual(await joinedAgain, { chatId: chat.id, lastSeq: 2 });
    await nobodyTold;
  });

  test(`[${name}] leave_chat stops the chat's events on that socket until it joins again`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const { chat } = await createDirect(alice, bob);
    await restSend(alice, chat.id, { content: 'hello' });
    const aliceLeaving = await connect(t, alice.token, opts);
    const aliceOtherTab = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const left = once(aliceLeaving, 'chat_left');
    const bobTold = once(bobSocket, 'user_left_chat');
    const otherTabTold = once(aliceOtherTab, 'user_left_chat');
    const notToSelf = expectNoEvent(aliceLeaving, 'user_left_chat', QUIET_MS);
    const ack = assertAckOk(await emitAck(aliceLeaving, 'leave_chat', { chatId: chat.id }), 'leave_chat');
    assert.equal(ack.chatId, chat.id);
    const leftEvent = await left;
    assert.equal(leftEvent.chatId, chat.id);
    assert.ok(leftEvent.lastSeq === undefined || typeof leftEvent.lastSeq === 'number');
    assertFields(await bobTold, { chatId: chat.id, userId: String(alice.id) }, 'user_left_chat');
    assertFields(await otherTabTold, { chatId: chat.id, userId: String(alice.id) }, 'user_left_chat');
    await notToSelf;

    // Bob writes (socket, then REST): the other tab hears it, the socket that left does not.
    const silence = expectNoEvent(aliceLeaving, 'message_received', QUIET_MS);
    const otherTabHears = once(aliceOtherTab, 'message_received');
    const m1 = assertAckOk(
      await emitAck(bobSocket, 'send_message', { chatId: chat.id, content: 'you left', type: 'TEXT' }),
    );
    assert.deepEqual(await otherTabHears, m1);
    const otherTabHearsRest = once(aliceOtherTab, 'message_received');
    const m2 = await restSend(bob, chat.id, { content: 'still gone?' });
    assert.deepEqual(await otherTabHearsRest, m2);
    await silence;

    // Leaving the room is not leaving the chat: alice is still a member and may still write.
    assert.equal((await getChat(alice, chat.id)).lastSeq, 3);
    const bobHears = once(bobSocket, 'message_received');
    const m3 = assertAckOk(
      await emitAck(aliceLeaving, 'send_message', { chatId: chat.id, content: 'I am here', type: 'TEXT' }),
    );
    assert.deepEqual(await bobHears, m3);

    // Joining again puts the socket back, and the others are told.
    const rejoined = once(aliceLeaving, 'chat_joined');
    const bobToldJoin = once(bobSocket, 'user_joined_chat');
    const rejoin = assertAckOk(await emitAck(aliceLeaving, 'join_chat', { chatId: chat.id }), 'join_chat');
    assert.deepEqual(rejoin, { chatId: chat.id, lastSeq: 4 });
    assert.deepEqual(await rejoined, { chatId: chat.id, lastSeq: 4 });
    assertFields(await bobToldJoin, { chatId: chat.id, userId: String(alice.id) }, 'user_joined_chat');

    const back = once(aliceLeaving, 'message_received');
    const m4 = await restSend(bob, chat.id, { content: 'welcome back' });
    assert.deepEqual(await back, m4);
  });
}

test('a socket that left the room of a chat with no message yet does not hear its first message', async (t) => {
  // leave_chat: "it no longer gets the chat's events until it joins again", the chat's first
  // message included.
  const alice = newUser();
  const bob = newUser();
  const { chat } = await createDirect(alice, bob);
  const aliceLeaving = await connect(t, alice.token);
  const aliceOtherTab = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  assertAckOk(await emitAck(aliceLeaving, 'leave_chat', { chatId: chat.id }), 'leave_chat');

  const silence = expectNoEvent(aliceLeaving, 'message_received', QUIET_MS);
  const otherTabHears = once(aliceOtherTab, 'message_received');
  const first = assertAckOk(
    await emitAck(bobSocket, 'send_message', { chatId: chat.id, content: 'first', type: 'TEXT' }),
  );
  assert.equal(first.seq, 1);
  assert.deepEqual(await otherTabHears, first);
  await silence;
});

test('a socket that left a chat room is back in it when it connects again', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { chat } = await createDirect(alice, bob);
  const first = await connect(t, alice.token);
  assertAckOk(await emitAck(first, 'leave_chat', { chatId: chat.id }));
  first.disconnect();
  const fresh = await connect(t, alice.token);
  const got = once(fresh, 'message_received');
  const m = await restSend(bob, chat.id, { content: 'hello again' });
  assert.deepEqual(await got, m);
  // GET /sessions still lists the chat for alice.
  const list = await v1('GET', '/sessions', { token: alice.token });
  assert.ok(list.body.data.sessions.some((s) => s.id === chat.id));
});
