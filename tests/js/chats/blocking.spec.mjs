// Blocking: POST / DELETE /api/users/:userId/block, GET /api/users/blocked; while one of two
// blocks the other, in both directions: no new chat (403 BLOCKED), no message in their direct chat
// (BLOCKED, nothing stored, nothing heard), no typing in it (BLOCKED); the history stays readable
// and the chat listed with isBlocked: true; unblocking lets them talk again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckError,
  assertAckOk,
  assertRestError,
  assertTimestamp,
  clockPast,
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
  assertRestOk,
  assertUser,
  getChat,
  history,
  joinChat,
  listIds,
  openChat,
  orCreate,
  restSend,
  socketSend,
} from './helpers.mjs';

/** `POST /api/users/:userId/block` as `user`; returns `{ userId, blocked, blockedAt }`. */
async function block(user, target) {
  const res = await api('POST', `/users/${encodeURIComponent(String(target.id))}/block`, { token: user.token });
  const data = assertRestOk(res, 200, `block ${target.id}`);
  assert.deepEqual(Object.keys(data).sort(), ['blocked', 'blockedAt', 'userId']);
  assert.equal(data.userId, String(target.id));
  assert.equal(data.blocked, true);
  assertTimestamp(data.blockedAt, 'blockedAt');
  return data;
}

/** `DELETE /api/users/:userId/block` as `user`; returns the answer. */
async function unblock(user, target) {
  const res = await api('DELETE', `/users/${encodeURIComponent(String(target.id))}/block`, { token: user.token });
  const data = assertRestOk(res, 200, `unblock ${target.id}`);
  assert.deepEqual(data, { userId: String(target.id), blocked: false, blockedAt: null });
  return data;
}

/** `GET /api/users/blocked` as `user`; returns `users`. */
async function blockedList(user) {
  const data = assertRestOk(await api('GET', '/users/blocked', { token: user.token }), 200, 'GET /users/blocked');
  assert.deepEqual(Object.keys(data), ['users']);
  assert.ok(Array.isArray(data.users));
  for (const entry of data.users) {
    assert.deepEqual(Object.keys(entry).sort(), ['blockedAt', 'user']);
    assertUser(entry.user, {}, 'blocked user');
    assertTimestamp(entry.blockedAt, 'blockedAt');
  }
  return data.users;
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] a block stops messages and typing both ways (BLOCKED, nothing stored, nothing heard); the history stays readable; unblock lets them talk again`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chatId);
    await joinChat(bobSocket, chatId);
    const beforeHeard = [aliceSocket, bobSocket].map((s) => once(s, 'message_received'));
    const before = await socketSend(bobSocket, { chatId, content: 'hi alice' });
    await Promise.all(beforeHeard); // before watching for silence

    // Alice blocks Bob; repeating it changes nothing.
    const blocked = await block(alice, bob);
    assert.deepEqual(await block(alice, bob), blocked, 'a repeated block answers the same');
    const list = await blockedList(alice);
    assert.equal(list.length, 1);
    assertUser(list[0].user, { id: String(bob.id), name: 'Bob' });
    assert.equal(list[0].blockedAt, blocked.blockedAt);
    assert.deepEqual(await blockedList(bob), [], 'bob blocked nobody');

    const quiet = [aliceSocket, bobSocket].flatMap((s) => [
      expectNoEvent(s, 'message_received', QUIET_MS),
      expectNoEvent(s, 'user_typing', QUIET_MS),
    ]);
    // The blocked user's sends to the blocker, and the blocker's to the blocked: both refused.
    for (const [who, socket] of [[bob, bobSocket], [alice, aliceSocket]]) {
      assertAckError(
        await emitAck(socket, 'send_message', { chatId, content: 'can you hear me?' }),
        'BLOCKED',
        `send_message by ${who.name}`,
      );
      assertRestError(
        await api('POST', `/chats/${chatId}/messages`, { token: who.token, body: { content: 'REST?' } }),
        403,
        'BLOCKED',
        `REST send by ${who.name}`,
      );
      assertAckError(await emitAck(socket, 'typing', { chatId }), 'BLOCKED', `typing by ${who.name}`);
    }
    await Promise.all(quiet);

    // Nothing stored; both still read the history, and both still list the chat, isBlocked.
    for (const who of [alice, bob]) {
      const page = await history(who, chatId);
      assert.deepEqual(page.messages, [before], `${who.name} reads the history, unchanged`);
      const chat = await getChat(who, chatId);
      assert.equal(chat.isBlocked, true, `${who.name} sees isBlocked`);
      assert.equal(chat.lastSeq, 1);
      assert.deepEqual(await listIds(who, 'active'), [chatId], `${who.name} still lists the chat`);
    }

    // Unblocking: the same answer when repeated; they talk again.
    await unblock(alice, bob);
    await unblock(alice, bob);
    assert.deepEqual(await blockedList(alice), []);
    assert.equal((await getChat(bob, chatId)).isBlocked, false);
    const heard = once(aliceSocket, 'message_received');
    const after = await socketSend(bobSocket, { chatId, content: 'back again' });
    assert.equal(after.seq, 2);
    assert.deepEqual(await heard, after);
    const typing = once(bobSocket, 'user_typing');
    assertAckOk(await emitAck(aliceSocket, 'typing', { chatId }), 'typing after unblocking');
    assert.equal((await typing).userId, String(alice.id));
  });
}

test('or-create between a blocked pair without a chat is 403 BLOCKED, both ways, and tells nobody; after unblocking it opens', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token, { transports: null });
  await block(bob, alice);
  const quiet = [aliceSocket, bobSocket].map((s) => expectNoEvent(s, 'chat_request', QUIET_MS));
  for (const [from, to] of [[alice, bob], [bob, alice]]) {
    assertRestError(
      await api('POST', '/chats/or-create', { token: from.token, body: { recipientId: to.id } }),
      403,
      'BLOCKED',
      'or-create for a blocked pair',
    );
  }
  await Promise.all(quiet);
  assert.deepEqual(await listIds(alice, 'active'), []);
  assert.deepEqual(await listIds(bob, 'requests'), []);

  await unblock(bob, alice);
  const requested = once(bobSocket, 'chat_request');
  const { chat } = await orCreate(alice, bob.id, { expectStatus: 201 });
  assert.deepEqual(await requested, { chatId: chat.id, initiator: String(alice.id) });
});

test('a block holds while either one blocks: both block, one unblocks, still BLOCKED; the blocked list is latest first', async () => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  await listIds(carol, 'active'); // carol has been seen by the server
  const chatId = await openChat(alice, bob);
  const first = await block(alice, bob);
  await block(bob, alice);
  await unblock(alice, bob);
  assertRestError(
    await api('POST', `/chats/${chatId}/messages`, { token: alice.token, body: { content: 'now?' } }),
    403,
    'BLOCKED',
    'bob still blocks alice',
  );
  assert.equal((await getChat(alice, chatId)).isBlocked, true);
  await unblock(bob, alice);
  assert.equal((await restSend(alice, chatId, { content: 'now' })).seq, 1);

  // Latest first.
  await clockPast(first.blockedAt);
  const b = await block(alice, bob);
  await clockPast(b.blockedAt);
  const c = await block(alice, carol);
  const list = await blockedList(alice);
  assert.deepEqual(list.map((e) => e.user.id), [String(carol.id), String(bob.id)]);
  assert.deepEqual(list.map((e) => e.blockedAt), [c.blockedAt, b.blockedAt]);
});

test('blocking yourself is 422 UNPROCESSABLE; the block routes need a token', async () => {
  const alice = newUser();
  const bob = newUser();
  assertRestError(await api('POST', `/users/${alice.id}/block`, { token: alice.token }), 422, 'UNPROCESSABLE', 'block yourself');
  assert.deepEqual(await blockedList(alice), []);
  assertRestError(await api('POST', `/users/${bob.id}/block`), 401, 'UNAUTHORIZED');
  assertRestError(await api('DELETE', `/users/${bob.id}/block`), 401, 'UNAUTHORIZED');
  assertRestError(await api('GET', '/users/blocked'), 401, 'UNAUTHORIZED');
});
