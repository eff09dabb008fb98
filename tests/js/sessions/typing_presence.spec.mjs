// Typing (typing_start, typing_stop, typing_indicator; user_typing, user_stopped_typing, the
// server's own stop after TYPING_TIMEOUT_MS) and presence (user_online, user_offline).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  TYPING_TIMEOUT_MS,
  assertAckOk,
  assertTimestamp,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
} from '../helpers.mjs';
import { QUIET_MS, TRANSPORTS, openChat, restSend } from './helpers.mjs';

/** How much later than TYPING_TIMEOUT_MS the server's own stop may come. */
const TIMEOUT_MARGIN_MS = 3000;

/** Alice (two tabs) and Bob, connected, sharing a chat. */
async function trio(t, opts = {}) {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceTyping = await connect(t, alice.token, opts);
  const aliceOtherTab = await connect(t, alice.token, opts);
  const bobSocket = await connect(t, bob.token, opts);
  return { alice, bob, chatId, aliceTyping, aliceOtherTab, bobSocket };
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] typing_start / typing_stop: user_typing and user_stopped_typing to the chat's other sockets, not the typist's`, async (t) => {
    const { alice, chatId, aliceTyping, aliceOtherTab, bobSocket } = await trio(t, opts);
    const expected = { chatId, userId: String(alice.id) };

    const typing = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_typing'));
    const notToSelf = expectNoEvent(aliceTyping, 'user_typing', QUIET_MS);
    const ack = assertAckOk(await emitAck(aliceTyping, 'typing_start', { chatId }), 'typing_start');
    assert.deepEqual(ack, { chatId });
    for (const event of await Promise.all(typing)) assert.deepEqual(event, expected);

    const stopped = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_stopped_typing'));
    const stopNotToSelf = expectNoEvent(aliceTyping, 'user_stopped_typing', QUIET_MS);
    const stopAck = assertAckOk(await emitAck(aliceTyping, 'typing_stop', { chatId }), 'typing_stop');
    assert.deepEqual(stopAck, { chatId });
    for (const event of await Promise.all(stopped)) assert.deepEqual(event, expected);
    await Promise.all([notToSelf, stopNotToSelf]);
  });

  test(`[${name}] typing_indicator { chatId, isTyping } starts and stops the indicator`, async (t) => {
    const { alice, chatId, aliceTyping, bobSocket } = await trio(t, opts);
    const expected = { chatId, userId: String(alice.id) };

    const typing = once(bobSocket, 'user_typing');
    const notToSelf = expectNoEvent(aliceTyping, 'user_typing', QUIET_MS);
    const ack = assertAckOk(
      await emitAck(aliceTyping, 'typing_indicator', { chatId: Number(chatId), isTyping: true }),
      'typing_indicator true',
    );
    assert.deepEqual(ack, { chatId });
    assert.deepEqual(await typing, expected);

    const stopped = once(bobSocket, 'user_stopped_typing');
    const stopAck = assertAckOk(
      await emitAck(aliceTyping, 'typing_indicator', { chatId, isTyping: false }),
      'typing_indicator false',
    );
    assert.deepEqual(stopAck, { chatId });
    assert.deepEqual(await stopped, expected);
    await notToSelf;
  });
}

test('typing without a stop ends on the server after TYPING_TIMEOUT_MS', async (t) => {
  const { alice, chatId, aliceTyping, aliceOtherTab, bobSocket } = await trio(t);
  const expected = { chatId, userId: String(alice.id) };
  const typing = once(bobSocket, 'user_typing');
  const wait = TYPING_TIMEOUT_MS + TIMEOUT_MARGIN_MS;
  const stopped = [bobSocket, aliceOtherTab].map((s) => once(s, 'user_stopped_typing', wait));
  const started = Date.now();
  aliceTyping.emit('typing_indicator', { chatId, isTyping: true }); // no ack, as the seed's client
  assert.deepEqual(await typing, expected);
  const [toBob, toOtherTab] = await Promise.all(stopped);
  const elapsed = Date.now() - started;
  assert.deepEqual(toBob, expected);
  assert.deepEqual(toOtherTab, expected);
  assert.ok(
    elapsed >= TYPING_TIMEOUT_MS - 300,
    `user_stopped_typing came after ${elapsed} ms, before the ${TYPING_TIMEOUT_MS} ms timeout`,
  );
});

test("when the server ends the indicator, the others are told, not the typist's socket", async (t) => {
  const { alice, chatId, aliceTyping, bobSocket } = await trio(t);
  const typing = once(bobSocket, 'user_typing');
  const wait = TYPING_TIMEOUT_MS + TIMEOUT_MARGIN_MS;
  const toBob = once(bobSocket, 'user_stopped_typing', wait);
  const notToTypist = expectNoEvent(aliceTyping, 'user_stopped_typing', wait);
  assertAckOk(await emitAck(aliceTyping, 'typing_start', { chatId }));
  await typing;
  assert.deepEqual(await toBob, { chatId, userId: String(alice.id) });
  await notToTypist;
});

test('a start while the indicator is shown only renews it', async (t) => {
  const { alice, chatId, aliceTyping, bobSocket } = await trio(t);
  const typing = once(bobSocket, 'user_typing');
  assertAckOk(await emitAck(aliceTyping, 'typing_start', { chatId }));
  await typing;

  const step = Math.round(TYPING_TIMEOUT_MS * 0.6);
  await expectNoEvent(bobSocket, 'user_stopped_typing', step);
  // Renew: not told again, and the deadline moves.
  const notAgain = expectNoEvent(bobSocket, 'user_typing', step);
  assertAckOk(await emitAck(aliceTyping, 'typing_start', { chatId }));
  const renewedAt = Date.now();
  await Promise.all([notAgain, expectNoEvent(bobSocket, 'user_stopped_typing', step)]);
  const stopped = await once(bobSocket, 'user_stopped_typing', TYPING_TIMEOUT_MS + TIMEOUT_MARGIN_MS);
  assert.deepEqual(stopped, { chatId, userId: String(alice.id) });
  const elapsed = Date.now() - renewedAt;
  assert.ok(elapsed >= TYPING_TIMEOUT_MS - 300, `stopped ${elapsed} ms after the renewal`);
});

test('after typing_stop, the expired timer sends no second user_stopped_typing', async (t) => {
  const { chatId, aliceTyping, bobSocket } = await trio(t);
  const stopped = once(bobSocket, 'user_stopped_typing');
  assertAckOk(await emitAck(aliceTyping, 'typing_start', { chatId }));
  assertAckOk(await emitAck(aliceTyping, 'typing_stop', { chatId }));
  await stopped;
  await expectNoEvent(bobSocket, 'user_stopped_typing', TYPING_TIMEOUT_MS + 700);
});

test('a typist who disconnects stops typing at once', async (t) => {
  const { alice, chatId, aliceTyping, bobSocket } = await trio(t);
  const typing = once(bobSocket, 'user_typing');
  assertAckOk(await emitAck(aliceTyping, 'typing_start', { chatId }));
  await typing;
  // Well under the typing timeout, so only the disconnect can explain it.
  const stopped = once(bobSocket, 'user_stopped_typing', Math.max(500, TYPING_TIMEOUT_MS - 700));
  aliceTyping.disconnect();
  assert.deepEqual(await stopped, { chatId, userId: String(alice.id) });
});

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] user_online with the first socket, user_offline with the last, to partners only`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const stranger = newUser();
    const chatId = await openChat(alice, bob);
    await restSend(bob, chatId, { content: 'I took part' });
    const aliceSocket = await connect(t, alice.token, opts);
    const strangerSocket = await connect(t, stranger.token, opts);
    const isBob = (p) => p.userId === String(bob.id);

    const online = once(aliceSocket, 'user_online', 5000, isBob);
    const strangerHearsNothing = expectNoEvent(strangerSocket, 'user_online', QUIET_MS, isBob);
    const bob1 = await connect(t, bob.token, opts);
    const up = await online;
    assert.equal(up.userId, String(bob.id));
    assert.equal(up.status, 'online');
    assert.ok('lastSeen' in up, `lastSeen missing in ${JSON.stringify(up)}`);
    if (up.lastSeen !== null) assertTimestamp(up.lastSeen, 'lastSeen');
    await strangerHearsNothing;

    // A second tab coming and going is not news.
    const quiet = [
      expectNoEvent(aliceSocket, 'user_online', QUIET_MS, isBob),
      expectNoEvent(aliceSocket, 'user_offline', QUIET_MS, isBob),
    ];
    const bob2 = await connect(t, bob.token, opts);
    bob2.disconnect();
    await Promise.all(quiet);

    const offline = once(aliceSocket, 'user_offline', 5000, isBob);
    const strangerStillNothing = expectNoEvent(strangerSocket, 'user_offline', QUIET_MS, isBob);
    const before = Date.now();
    bob1.disconnect();
    const down = await offline;
    assert.equal(down.userId, String(bob.id));
    assert.equal(down.status, 'offline');
    assertTimestamp(down.lastSeen, 'lastSeen');
    assert.ok(Math.abs(Date.parse(down.lastSeen) - before) < 60_000, `lastSeen ${down.lastSeen} is about now`);
    await strangerStillNothing;
  });
}
