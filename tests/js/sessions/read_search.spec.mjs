// Read positions (mark_as_read, POST /sessions/:id/read, messages_read), unread counts
// (GET /sessions/:id/unread), and search (GET /sessions/:id/search?q=).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertRestError,
  assertTimestamp,
  connect,
  emitAck,
  newUser,
  once,
  rand,
} from '../helpers.mjs';
import {
  TRANSPORTS,
  assertMessage,
  assertPagination,
  assertRestOk,
  getChat,
  openChat,
  restSend,
  unreadCount,
  v1,
} from './helpers.mjs';

/** `{ chatId, userId, lastReadSeq, readAt }`. */
function assertRead(r, { chatId, userId, lastReadSeq }, what = 'read') {
  assert.deepEqual(Object.keys(r).sort(), ['chatId', 'lastReadSeq', 'readAt', 'userId'], what);
  assert.equal(r.chatId, chatId, `${what}.chatId`);
  assert.equal(r.userId, userId, `${what}.userId`);
  assert.equal(r.lastReadSeq, lastReadSeq, `${what}.lastReadSeq`);
  assertTimestamp(r.readAt, `${what}.readAt`);
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] mark_as_read: ack { chatId, userId, lastReadSeq, readAt }, messages_read to the chat's room, unread counts drop to 0`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    for (const content of ['one', 'two', 'three']) await restSend(bob, chatId, { content });
    await restSend(alice, chatId, { content: 'mine' });

    // Only the others' messages count as unread.
    assert.equal(await unreadCount(alice, chatId), 3);
    assert.equal(await unreadCount(bob, chatId), 1);
    assert.equal((await getChat(alice, chatId)).unreadCount, 3);

    const aliceReading = await connect(t, alice.token, opts);
    const aliceOtherTab = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    const heard = [aliceReading, aliceOtherTab, bobSocket].map((s) => once(s, 'messages_read'));
    const ack = await emitAck(aliceReading, 'mark_as_read', { chatId });
    const read = assertAckOk(ack, 'mark_as_read');
    const expected = { chatId, userId: String(alice.id), lastReadSeq: 4 };
    assertRead(read, expected, 'mark_as_read ack');
    for (const event of await Promise.all(heard)) {
      assertRead(event, expected, 'messages_read');
      assert.deepEqual(event, read);
    }

    assert.equal(await unreadCount(alice, chatId), 0);
    assert.equal((await getChat(alice, chatId)).unreadCount, 0);
    assert.equal(await unreadCount(bob, chatId), 1, 'bob has not read alice\'s message');
  });
}

test('POST /sessions/:id/read marks everything read and tells the chat\'s sockets', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  await restSend(alice, chatId, { content: 'hi bob' });
  await restSend(alice, chatId, { content: 'are you there?' });
  assert.equal(await unreadCount(bob, chatId), 2);

  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token, { transports: null });
  const heard = [aliceSocket, bobSocket].map((s) => once(s, 'messages_read'));
  const res = await v1('POST', `/sessions/${chatId}/read`, { token: bob.token });
  const read = assertRestOk(res, 200, 'POST read');
  assertRead(read, { chatId, userId: String(bob.id), lastReadSeq: 2 }, 'POST read');
  for (const event of await Promise.all(heard)) assert.deepEqual(event, read);
  assert.equal(await unreadCount(bob, chatId), 0);

  // A new message is unread again, until the next read.
  await restSend(alice, chatId, { content: 'one more' });
  assert.equal(await unreadCount(bob, chatId), 1);
  const list = assertRestOk(await v1('GET', '/sessions', { token: bob.token }), 200);
  assert.equal(list.sessions.find((s) => s.id === chatId).unreadCount, 1);
  const again = assertRestOk(await v1('POST', `/sessions/${chatId}/read`, { token: bob.token }), 200);
  assert.equal(again.lastReadSeq, 3);
  assert.equal(await unreadCount(bob, chatId), 0);
});

test('read and unread: outsiders are FORBIDDEN, unknown chats NOT_FOUND, bad ids VALIDATION', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  await restSend(alice, chatId, { content: 'private' });
  assertRestError(await v1('POST', `/sessions/${chatId}/read`, { token: mallory.token }), 403, 'FORBIDDEN');
  assertRestError(await v1('GET', `/sessions/${chatId}/unread`, { token: mallory.token }), 403, 'FORBIDDEN');
  assertRestError(await v1('POST', '/sessions/987654321/read', { token: alice.token }), 404, 'NOT_FOUND');
  assertRestError(await v1('GET', '/sessions/987654321/unread', { token: alice.token }), 404, 'NOT_FOUND');
  assertRestError(await v1('GET', '/sessions/xyz/unread', { token: alice.token }), 400, 'VALIDATION');
  // Mallory's refused read changed nothing for the members.
  assert.equal(await unreadCount(bob, chatId), 1);
});

test('search finds the chat\'s messages with the words of q, best first, in pages', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const word = `kiwi${rand()}`;
  const hits = [];
  hits.push(await restSend(alice, chatId, { content: `I like ${word} a lot` }));
  await restSend(bob, chatId, { content: 'nothing to see here' });
  hits.push(await restSend(bob, chatId, { content: `${word}!` }));
  hits.push(await restSend(alice, chatId, { content: `more ${word} please` }));

  // The same word in another chat of alice's is not found here.
  const carol = newUser();
  const otherChat = await openChat(alice, carol);
  await restSend(carol, otherChat, { content: `${word} elsewhere` });

  const res = await v1('GET', `/sessions/${chatId}/search?q=${encodeURIComponent(word)}`, { token: bob.token });
  const found = assertRestOk(res, 200, 'search');
  assertPagination(found.pagination, { page: 1, total: 3, totalPages: 1 });
  const byId = (list) => [...list].sort((x, y) => Number(x.id) - Number(y.id));
  assert.deepEqual(byId(found.messages), hits);
  for (const m of found.messages) assertMessage(m, { chatId });

  const p1 = assertRestOk(
    await v1('GET', `/sessions/${chatId}/search?q=${encodeURIComponent(word)}&limit=2`, { token: alice.token }),
    200,
  );
  assertPagination(p1.pagination, { page: 1, limit: 2, total: 3, totalPages: 2 });
  assert.equal(p1.messages.length, 2);
  const p2 = assertRestOk(
    await v1('GET', `/sessions/${chatId}/search?q=${encodeURIComponent(word)}&limit=2&page=2`, { token: alice.token }),
    200,
  );
  assertPagination(p2.pagination, { page: 2, limit: 2, total: 3, totalPages: 2 });
  assert.deepEqual(
    [...p1.messages, ...p2.messages].map((m) => m.id).sort(),
    hits.map((m) => m.id).sort(),
    'the two pages hold the three hits',
  );

  const none = assertRestOk(
    await v1('GET', `/sessions/${chatId}/search?q=nomatch${rand()}`, { token: alice.token }),
    200,
  );
  assert.deepEqual(none.messages, []);
  assertPagination(none.pagination, { total: 0 });

  // q is 1 to 200 characters; outsiders may not search.
  assertRestError(await v1('GET', `/sessions/${chatId}/search?q=`, { token: alice.token }), 400, 'VALIDATION');
  assertRestError(await v1('GET', `/sessions/${chatId}/search`, { token: alice.token }), 400, 'VALIDATION');
  assertRestError(
    await v1('GET', `/sessions/${chatId}/search?q=${'a'.repeat(201)}`, { token: alice.token }),
    400,
    'VALIDATION',
  );
  assert.equal(
    (await v1('GET', `/sessions/${chatId}/search?q=${'a'.repeat(200)}`, { token: alice.token })).status,
    200,
  );
  const mallory = newUser();
  assertRestError(
    await v1('GET', `/sessions/${chatId}/search?q=${word}`, { token: mallory.token }),
    403,
    'FORBIDDEN',
  );
  assertRestError(await v1('GET', `/sessions/987654321/search?q=${word}`, { token: alice.token }), 404, 'NOT_FOUND');
});
