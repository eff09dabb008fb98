// Deletes for oneself: delete_message { messageId, forEveryone: false } (or deleteFor: "me"; REST
// DELETE /api/chats/messages/:messageId?forEveryone=false or ?deleteFor=me) by any member, of any
// live message: it leaves the caller's history and search, stays for everyone else, and only the
// caller's own sockets hear message_deleted { messageId, chatId, deletedAt: null,
// forEveryone: false }. A delete for everyone says forEveryone: true.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAckError, assertAckOk, assertRestError, connect, emitAck, expectNoEvent, newUser, once } from '../helpers.mjs';
import {
  QUIET_MS,
  TRANSPORTS,
  api,
  assertDeleted,
  assertRestOk,
  history,
  joinChat,
  openChat,
  restSend,
  searchIds,
  socketSend,
} from './helpers.mjs';

/** Alice (a tab in the room, a tab not in it) and Bob (in the room), sharing an accepted chat. */
async function pair(t, opts) {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token, opts);
  const aliceElsewhere = await connect(t, alice.token, opts);
  const bobSocket = await connect(t, bob.token, opts);
  await joinChat(aliceSocket, chatId);
  await joinChat(bobSocket, chatId);
  return { alice, bob, chatId, aliceSocket, aliceElsewhere, bobSocket };
}

async function ids(user, chatId) {
  return (await history(user, chatId)).messages.map((m) => m.id);
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] delete_message { forEveryone: false }: gone from the caller's history and search only; only the caller's sockets hear it`, async (t) => {
    const { alice, bob, chatId, aliceSocket, aliceElsewhere, bobSocket } = await pair(t, opts);
    const bobs = await socketSend(bobSocket, { chatId, content: 'a secret plum' });
    const mine = await socketSend(aliceSocket, { chatId, content: 'my own plum' });
    const kept = await socketSend(bobSocket, { chatId, content: 'plum pudding' });

    // Another member's message: any member may delete any live message for themselves.
    const told = [aliceSocket, aliceElsewhere].map((s) => once(s, 'message_deleted'));
    const notToBob = expectNoEvent(bobSocket, 'message_deleted', QUIET_MS);
    const ack = assertAckOk(
      await emitAck(aliceSocket, 'delete_message', { messageId: bobs.id, forEveryone: false }),
      'delete for me',
    );
    assertDeleted(ack, { messageId: bobs.id, chatId, forEveryone: false }, 'delete for me ack');
    for (const event of await Promise.all(told)) assert.deepEqual(event, ack, 'the caller\'s sockets');
    await notToBob;

    const aliceView = await history(alice, chatId);
    assert.deepEqual(aliceView.messages.map((m) => m.id), [kept.id, mine.id], 'gone from the caller\'s history');
    assert.equal(aliceView.pagination.total, 2, 'and from its count');
    const bobView = await history(bob, chatId);
    assert.deepEqual(bobView.messages, [kept, mine, bobs], 'still there, unchanged, for the other member');
    assert.deepEqual((await searchIds(alice, chatId, { q: 'plum' })).sort(), [kept.id, mine.id].sort());
    assert.deepEqual((await searchIds(bob, chatId, { q: 'plum' })).sort(), [bobs.id, kept.id, mine.id].sort());

    // deleteFor: "me", of the caller's own message, does the same.
    const told2 = [aliceSocket, aliceElsewhere].map((s) => once(s, 'message_deleted'));
    const notToBob2 = expectNoEvent(bobSocket, 'message_deleted', QUIET_MS);
    const ack2 = assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: mine.id, deleteFor: 'me' }));
    assertDeleted(ack2, { messageId: mine.id, chatId, forEveryone: false }, 'deleteFor: me');
    for (const event of await Promise.all(told2)) assert.deepEqual(event, ack2);
    await notToBob2;
    assert.deepEqual(await ids(alice, chatId), [kept.id]);
    assert.deepEqual(await ids(bob, chatId), [kept.id, mine.id, bobs.id]);

    // A message hidden for alice is still bob's to edit, and still live for him.
    const edited = assertAckOk(
      await emitAck(bobSocket, 'edit_message', { messageId: bobs.id, content: 'a secret plum, edited' }),
      'bob edits his message alice hid',
    );
    assert.equal(edited.isDeleted, false);

    // Outsiders and unknown messages.
    const mallory = newUser();
    const mallorySocket = await connect(t, mallory.token, opts);
    assertAckError(
      await emitAck(mallorySocket, 'delete_message', { messageId: kept.id, forEveryone: false }),
      'FORBIDDEN',
      'an outsider\'s delete for me',
    );
    assertAckError(
      await emitAck(aliceSocket, 'delete_message', { messageId: '987654321', forEveryone: false }),
      'NOT_FOUND',
      'delete for me of an unknown message',
    );
    assert.deepEqual(await ids(bob, chatId), [kept.id, mine.id, bobs.id]);
  });

  test(`[${name}] delete for everyone says forEveryone: true, with forEveryone: true or deleteFor: "everyone" too; the whole room hears it`, async (t) => {
    const { bob, chatId, aliceSocket, aliceElsewhere, bobSocket } = await pair(t, opts);
    const first = await socketSend(aliceSocket, { chatId, content: 'one' });
    const second = await socketSend(aliceSocket, { chatId, content: 'two' });
    for (const [message, payload] of [
      [first, { messageId: first.id, forEveryone: true }],
      [second, { messageId: second.id, deleteFor: 'everyone' }],
    ]) {
      const heard = [aliceSocket, bobSocket].map((s) => once(s, 'message_deleted'));
      const ack = assertAckOk(await emitAck(aliceSocket, 'delete_message', payload), JSON.stringify(payload));
      assertDeleted(ack, { messageId: message.id, chatId, forEveryone: true }, JSON.stringify(payload));
      for (const event of await Promise.all(heard)) assert.deepEqual(event, ack);
    }
    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages.map((m) => [m.id, m.isDeleted, m.content]), [[second.id, true, ''], [first.id, true, '']]);
    // Bob may not delete alice's message for everyone, but may for himself.
    const third = await socketSend(aliceSocket, { chatId, content: 'three' });
    assertAckError(
      await emitAck(bobSocket, 'delete_message', { messageId: third.id, forEveryone: true }),
      'FORBIDDEN',
      'another\'s message for everyone',
    );
    const quiet = [aliceSocket, aliceElsewhere].map((s) => expectNoEvent(s, 'message_deleted', QUIET_MS));
    assertAckOk(await emitAck(bobSocket, 'delete_message', { messageId: third.id, forEveryone: false }), 'for himself');
    await Promise.all(quiet);
  });
}

test('REST DELETE /api/chats/messages/:messageId?forEveryone=false (or ?deleteFor=me): for the caller only; without it, for everyone', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token, { transports: null });
  const bobSocket = await connect(t, bob.token);
  await joinChat(bobSocket, chatId);
  const a = await restSend(bob, chatId, { content: 'first' });
  const b = await restSend(bob, chatId, { content: 'second' });
  const c = await restSend(alice, chatId, { content: 'third' });

  for (const [message, query] of [[a, '?forEveryone=false'], [b, '?deleteFor=me']]) {
    const told = once(aliceSocket, 'message_deleted');
    const quiet = expectNoEvent(bobSocket, 'message_deleted', QUIET_MS);
    const res = await api('DELETE', `/chats/messages/${message.id}${query}`, { token: alice.token });
    const data = assertRestOk(res, 200, `DELETE ${query}`);
    assertDeleted(data, { messageId: message.id, chatId, forEveryone: false }, `DELETE ${query}`);
    assert.deepEqual(await told, data, 'the caller\'s socket (not in the room) hears it');
    await quiet;
  }
  assert.deepEqual(await ids(alice, chatId), [c.id]);
  assert.deepEqual(await ids(bob, chatId), [c.id, b.id, a.id]);

  // Without the query: for everyone, the sender only.
  assertRestError(await api('DELETE', `/chats/messages/${a.id}`, { token: alice.token }), 403, 'FORBIDDEN', 'another\'s for everyone');
  const heard = once(bobSocket, 'message_deleted');
  const data = assertRestOk(await api('DELETE', `/chats/messages/${c.id}`, { token: alice.token }), 200, 'DELETE');
  assertDeleted(data, { messageId: c.id, chatId, forEveryone: true });
  assert.deepEqual(await heard, data);
  assertRestError(
    await api('DELETE', `/chats/messages/${b.id}?forEveryone=false`, { token: newUser().token }),
    403,
    'FORBIDDEN',
    'an outsider',
  );
  assertRestError(await api('DELETE', '/chats/messages/987654321?forEveryone=false', { token: alice.token }), 404, 'NOT_FOUND');
});
