// Direct chats: POST /sessions and create_chat, chat_created, GET /sessions, GET /sessions/:id.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertRestError,
  assertUserObject,
  clockPast,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
} from '../helpers.mjs';
import {
  TRANSPORTS,
  assertChat,
  assertPagination,
  assertRestOk,
  createDirect,
  getChat,
  participant,
  restSend,
  v1,
  QUIET_MS,
} from './helpers.mjs';

const sortedIds = (...users) => users.map((u) => String(u.id)).sort();

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] POST /sessions: 201 with a new direct chat, 200 with the same one after; chat_created to both members`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const alice1 = await connect(t, alice.token, opts);
    const alice2 = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const created = [alice1, alice2, bobSocket].map((s) => once(s, 'chat_created'));
    const { chat } = await createDirect(alice, bob, { expectStatus: 201 });
    assertChat(chat, [alice, bob], {
      lastMessagePreview: null,
      lastMessageAt: null,
      lastSeq: 0,
      unreadCount: 0,
    });
    assertUserObject(participant(chat, alice).user, { id: String(alice.id), name: 'Alice' });

    for (const event of await Promise.all(created)) {
      assert.deepEqual(Object.keys(event).sort(), ['chatId', 'participantIds']);
      assert.equal(event.chatId, chat.id);
      assert.deepEqual([...event.participantIds].sort(), sortedIds(alice, bob));
    }

    // The chat exists now: asking again (either member, the id as a number or a string) is 200
    // with the same chat, and nobody hears chat_created again.
    const noMore = [alice1, alice2, bobSocket].map((s) => expectNoEvent(s, 'chat_created', QUIET_MS));
    const again = await createDirect(alice, bob, { expectStatus: 200 });
    assert.equal(again.chat.id, chat.id);
    assertChat(again.chat, [alice, bob]);
    const fromBob = await createDirect(bob, alice, { expectStatus: 200, targetUserId: String(alice.id) });
    assert.equal(fromBob.chat.id, chat.id);
    await Promise.all(noMore);
  });

  test(`[${name}] create_chat opens the direct chat over the socket; chat_created to both, a repeat answers the same chat`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const aliceCreated = once(aliceSocket, 'chat_created');
    const bobCreated = once(bobSocket, 'chat_created');
    const chat = assertAckOk(
      await emitAck(bobSocket, 'create_chat', { type: 'DIRECT', targetUserId: alice.id }),
      'create_chat',
    );
    assertChat(chat, [alice, bob], { lastSeq: 0, unreadCount: 0, lastMessagePreview: null });
    for (const event of [await aliceCreated, await bobCreated]) {
      assert.equal(event.chatId, chat.id);
      assert.deepEqual([...event.participantIds].sort(), sortedIds(alice, bob));
    }

    const quiet = [aliceSocket, bobSocket].map((s) => expectNoEvent(s, 'chat_created', QUIET_MS));
    const repeat = assertAckOk(
      await emitAck(bobSocket, 'create_chat', { type: 'DIRECT', targetUserId: String(alice.id) }),
      'create_chat again',
    );
    assert.equal(repeat.id, chat.id);
    const fromAlice = assertAckOk(
      await emitAck(aliceSocket, 'create_chat', { type: 'DIRECT', targetUserId: bob.id }),
      'create_chat by the other member',
    );
    assert.equal(fromAlice.id, chat.id);
    // The REST door knows it too.
    const rest = await createDirect(alice, bob, { expectStatus: 200 });
    assert.equal(rest.chat.id, chat.id);
    await Promise.all(quiet);
  });
}

test('GET /sessions lists the caller\'s chats, most recent message first, in pages', async () => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const carol = newUser({ name: 'Carol' });
  const dave = newUser({ name: 'Dave' });
  const toBob = (await createDirect(alice, bob)).chat.id;
  const toCarol = (await createDirect(carol, alice)).chat.id;
  const toDave = (await createDirect(alice, dave)).chat.id;

  // Messages in the order bob, dave, carol: carol's chat is the most recent.
  let m = await restSend(alice, toBob, { content: 'to bob' });
  await clockPast(m.createdAt);
  m = await restSend(dave, toDave, { content: 'from dave' });
  await clockPast(m.createdAt);
  m = await restSend(alice, toCarol, { content: 'to carol' });

  const res = await v1('GET', '/sessions', { token: alice.token });
  const all = assertRestOk(res, 200, 'GET /sessions');
  assert.deepEqual(Object.keys(all).sort(), ['pagination', 'sessions']);
  assertPagination(all.pagination, { page: 1, limit: 20, total: 3, totalPages: 1 });
  assert.deepEqual(all.sessions.map((s) => s.id), [toCarol, toDave, toBob]);
  const [carolChat, daveChat, bobChat] = all.sessions;
  assertChat(carolChat, [alice, carol], {
    lastMessagePreview: 'to carol',
    lastMessageAt: m.createdAt,
    lastSeq: 1,
    unreadCount: 0,
  });
  assertChat(daveChat, [alice, dave], { lastMessagePreview: 'from dave', lastSeq: 1, unreadCount: 1 });
  assertChat(bobChat, [alice, bob], { lastMessagePreview: 'to bob', lastSeq: 1, unreadCount: 0 });

  const page1 = assertRestOk(await v1('GET', '/sessions?limit=2', { token: alice.token }), 200);
  assertPagination(page1.pagination, { page: 1, limit: 2, total: 3, totalPages: 2 });
  assert.deepEqual(page1.sessions.map((s) => s.id), [toCarol, toDave]);
  const page2 = assertRestOk(await v1('GET', '/sessions?limit=2&page=2', { token: alice.token }), 200);
  assertPagination(page2.pagination, { page: 2, limit: 2, total: 3, totalPages: 2 });
  assert.deepEqual(page2.sessions.map((s) => s.id), [toBob]);

  // Bob sees only his own chat, with alice's message unread.
  const bobs = assertRestOk(await v1('GET', '/sessions', { token: bob.token }), 200);
  assertPagination(bobs.pagination, { page: 1, total: 1, totalPages: 1 });
  assert.deepEqual(bobs.sessions.map((s) => s.id), [toBob]);
  assertChat(bobs.sessions[0], [alice, bob], { unreadCount: 1, lastSeq: 1 });

  // A user with no chat gets an empty first page.
  const loner = newUser();
  const none = assertRestOk(await v1('GET', '/sessions', { token: loner.token }), 200);
  assert.deepEqual(none.sessions, []);
  assertPagination(none.pagination, { page: 1, total: 0 });
});

test('GET /sessions/:id shows the chat with its participants and their public details', async () => {
  const alice = newUser({
    name: 'Alice',
    claims: { username: 'alice_w', email: 'alice@example.com', avatar: 'https://example.com/a.png' },
  });
  const bob = newUser({ name: 'Bob' });
  const { chat } = await createDirect(alice, bob, { expectStatus: 201 });
  const first = await restSend(alice, chat.id, { content: 'Hello!' });

  // Bob has never been seen by the server yet, but he is a member: his view is complete.
  const seen = await getChat(bob, chat.id);
  assertChat(seen, [alice, bob], {
    id: chat.id,
    lastMessagePreview: 'Hello!',
    lastMessageAt: first.createdAt,
    lastSeq: 1,
    unreadCount: 1,
  });
  // PUBLIC_PROFILE_FIELDS (name, username, avatar by default): email is never shown.
  assertUserObject(participant(seen, alice).user, {
    id: String(alice.id),
    name: 'Alice',
    username: 'alice_w',
    email: null,
    avatar: 'https://example.com/a.png',
  });
  assert.equal(participant(seen, bob).user.id, String(bob.id));

  const aliceView = await getChat(alice, chat.id);
  assertChat(aliceView, [alice, bob], { unreadCount: 0, lastSeq: 1 });
  assertUserObject(participant(aliceView, bob).user, { id: String(bob.id), name: 'Bob' });
  // The id works as the number too.
  assert.equal((await getChat(alice, Number(chat.id))).id, chat.id);

  // Outsiders, unknown and malformed ids.
  const mallory = newUser();
  assertRestError(await v1('GET', `/sessions/${chat.id}`, { token: mallory.token }), 403, 'FORBIDDEN');
  assertRestError(await v1('GET', '/sessions/987654321', { token: alice.token }), 404, 'NOT_FOUND');
  assertRestError(await v1('GET', '/sessions/not-an-id', { token: alice.token }), 400, 'VALIDATION');
  assertRestError(await v1('GET', `/sessions/${chat.id}`), 401, 'UNAUTHORIZED');
});
