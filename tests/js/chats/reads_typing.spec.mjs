// Read receipts (mark_as_read, POST /api/chats/:chatId/read, messages_read with readBy, the
// unread count) and typing (typing, stop_typing, user_typing, user_stopped_typing; the server's
// own stop after TYPING_TIMEOUT_MS, to the room but the typing socket, or at a disconnect, to
// the whole room).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  TYPING_TIMEOUT_MS,
  assertAckOk,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
} from '../helpers.mjs';
import {
  QUIET_MS,
  TRANSPORTS,
  api,
  assertRead,
  assertRestOk,
  getChat,
  joinChat,
  listChats,
  openChat,
  restSend,
} from './helpers.mjs';

/** How much later than TYPING_TIMEOUT_MS the server's own stop may come. */
const TIMEOUT_MARGIN_MS = 3000;

/** Alice (two tabs) and Bob, connected, in the room of their accepted chat. */
async function trio(t, opts = {}) {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token, opts);
  const aliceOtherTab = await connect(t, alice.token, opts);
  const bobSocket = await connect(t, bob.token, opts);
  for (const s of [aliceSocket, aliceOtherTab, bobSocket]) await joinChat(s, chatId);
  return { alice, bob, chatId, aliceSocket, aliceOtherTab, bobSocket };
}

async function unread(user, chatId) {
  return (await getChat(user, chatId)).unreadCount;
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] mark_as_read: ack { chatId, readBy, lastReadSeq, readAt }, messages_read to the room, the reader's unreadCount goes to 0`, async (t) => {
    const { alice, bob, chatId, aliceSocket, aliceOtherTab, bobSocket } = await trio(t, opts);
    for (const content of ['one', 'two', 'three']) await restSend(bob, chatId, { content });
    await restSend(alice, chatId, { content: 'mine' });
    // Only the others' messages are unread.
    assert.equal(await unread(alice, chatId), 3);
    assert.equal(await unread(bob, chatId), 1);

    const heard = [aliceSocket, aliceOtherTab, bobSocket].map((s) => once(s, 'messages_read'));
    const read = assertAckOk(await emitAck(aliceSocket, 'mark_as_read', { chatId }), 'mark_as_read');
    const expected = { chatId, readBy: String(alice.id), lastReadSeq: 4 };
    assertRead(read, expected, 'mark_as_read ack');
    for (const event of await Promise.all(heard)) {
      assertRead(event, expected, 'messages_read');
      assert.deepEqual(event, read);
    }
    assert.equal(await unread(alice, chatId), 0);
    const [inList] = (await listChats(alice, 'active')).chats;
    assert.equal(inList.id, chatId);
    assert.equal(inList.unreadCount, 0, 'the active list agrees');
    assert.equal(await unread(bob, chatId), 1, 'bob has not read alice\'s message');

    // POST /read does the same for bob, and the room hears it.
    const heardRest = [aliceSocket, bobSocket].map((s) => once(s, 'messages_read'));
    const data = assertRestOk(await api('POST', `/chats/${chatId}/read`, { token: bob.token }), 200, 'POST read');
    assertRead(data, { chatId, readBy: String(bob.id), lastReadSeq: 4 }, 'POST read');
    for (const event of await Promise.all(heardRest)) assert.deepEqual(event, data);
    assert.equal(await unread(bob, chatId), 0);

    // A new message is unread again, and chatId may be a number.
    await restSend(bob, chatId, { content: 'five' });
    assert.equal(await unread(alice, chatId), 1);
    const again = assertAckOk(await emitAck(aliceOtherTab, 'mark_as_read', { chatId: Number(chatId) }));
    assertRead(again, { chatId, readBy: String(alice.id), lastReadSeq: 5 });
    assert.equal(await unread(alice, chatId), 0);
  });

  test(`[${name}] typing: user_typing { chatId, userId, isTyping: true } to the room but the typing socket; stop_typing: user_stopped_typing`, async (t) => {
    const { alice, chatId, aliceSocket, aliceOtherTab, bobSocket } = await trio(t, opts);
    const typing = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_typing'));
    const notToTypist = expectNoEvent(aliceSocket, 'user_typing', QUIET_MS);
    assert.deepEqual(assertAckOk(await emitAck(aliceSocket, 'typing', { chatId }), 'typing'), { chatId });
    for (const event of await Promise.all(typing)) {
      assert.deepEqual(event, { chatId, userId: String(alice.id), isTyping: true });
    }

    const stopped = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_stopped_typing'));
    const stopNotToTypist = expectNoEvent(aliceSocket, 'user_stopped_typing', QUIET_MS);
    assert.deepEqual(assertAckOk(await emitAck(aliceSocket, 'stop_typing', { chatId }), 'stop_typing'), { chatId });
    for (const event of await Promise.all(stopped)) {
      assert.deepEqual(event, { chatId, userId: String(alice.id), isTyping: false });
    }
    await Promise.all([notToTypist, stopNotToTypist]);
  });

  test(`[${name}] typing { isTyping: false } stops the indicator; a chatId as a number is the same chat`, async (t) => {
    const { bob, chatId, aliceSocket, bobSocket } = await trio(t, opts);
    const typing = once(aliceSocket, 'user_typing');
    assertAckOk(await emitAck(bobSocket, 'typing', { chatId: Number(chatId), isTyping: true }));
    assert.deepEqual(await typing, { chatId, userId: String(bob.id), isTyping: true });
    const stopped = once(aliceSocket, 'user_stopped_typing');
    assert.deepEqual(assertAckOk(await emitAck(bobSocket, 'typing', { chatId, isTyping: false })), { chatId });
    assert.deepEqual(await stopped, { chatId, userId: String(bob.id), isTyping: false });
  });

  test(`[${name}] without a renewal the server ends the indicator after TYPING_TIMEOUT_MS: the room is told, the typing socket is not`, async (t) => {
    const { alice, chatId, aliceSocket, aliceOtherTab, bobSocket } = await trio(t, opts);
    const expected = { chatId, userId: String(alice.id), isTyping: false };
    const typing = once(bobSocket, 'user_typing');
    const wait = TYPING_TIMEOUT_MS + TIMEOUT_MARGIN_MS;
    // The room but the typing socket: the typist's other tab is told too.
    const stopped = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_stopped_typing', wait));
    const toTypist = [];
    aliceSocket.on('user_stopped_typing', (e) => toTypist.push(e));
    const started = Date.now();
    aliceSocket.emit('typing', { chatId }); // no ack, as the seed's client
    await typing;
    for (const event of await Promise.all(stopped)) assert.deepEqual(event, expected);
    const elapsed = Date.now() - started;
    assert.ok(
      elapsed >= TYPING_TIMEOUT_MS - 300,
      `user_stopped_typing came after ${elapsed} ms, before the ${TYPING_TIMEOUT_MS} ms timeout`,
    );
    // The typing socket's copy would have come with the others'.
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.deepEqual(toTypist, [], 'the typing socket is not told');
  });

  test(`[${name}] a typist who disconnects stops typing at once, for the whole room`, async (t) => {
    const { alice, chatId, aliceSocket, aliceOtherTab, bobSocket } = await trio(t, opts);
    const typing = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_typing'));
    assertAckOk(await emitAck(aliceSocket, 'typing', { chatId }));
    await Promise.all(typing);
    // Well under the typing timeout, so only the disconnect can explain it; the whole room (all
    // that is left of it) is told, the typist's other tab included.
    const within = Math.max(500, TYPING_TIMEOUT_MS - 700);
    const stopped = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_stopped_typing', within));
    aliceSocket.disconnect();
    for (const event of await Promise.all(stopped)) {
      assert.deepEqual(event, { chatId, userId: String(alice.id), isTyping: false });
    }
  });
}
