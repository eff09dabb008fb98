// Direct chats and chat requests: POST /api/chats/or-create (201 a new request, 200 the pair's
// chat), chat_request, the requests and active lists, accept (chat_accepted), reject
// (chat_rejected; the initiator's sends refused), a reply from the recipient accepting, and who
// may answer a request.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckError,
  assertRestError,
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
  assertChat,
  assertMessage,
  assertPagination,
  assertUser,
  chatAction,
  getChat,
  history,
  joinChat,
  listChats,
  listIds,
  openChat,
  openRequest,
  orCreate,
  participant,
  record,
  restSend,
  socketSend,
} from './helpers.mjs';

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] or-create: 201 a pending request, chat_request to the recipient's sockets; 200 the same chat after, from either side`, async (t) => {
    const alice = newUser({
      name: 'Alice',
      claims: { username: 'alice_w', email: 'alice@example.com', avatar: 'https://example.com/a.png' },
    });
    const bob = newUser({ name: 'Bob' });
    const aliceSocket = await connect(t, alice.token, opts);
    const bob1 = await connect(t, bob.token, opts);
    const bob2 = await connect(t, bob.token, opts);

    const requested = [bob1, bob2].map((s) => once(s, 'chat_request'));
    const notToInitiator = expectNoEvent(aliceSocket, 'chat_request', QUIET_MS);
    const { chat } = await orCreate(alice, bob.id, { expectStatus: 201 });
    const fresh = {
      status: 'pending',
      initiator: String(alice.id),
      lastMessage: null,
      lastMessageAt: null,
      lastSeq: 0,
      unreadCount: 0,
      isArchived: false,
      isMuted: false,
      isBlocked: false,
    };
    assertChat(chat, [alice, bob], { ...fresh, isRequest: false }, 'the initiator\'s chat');
    assertUser(participant(chat, alice), { id: String(alice.id), name: 'Alice', username: 'alice_w' });
    assertUser(participant(chat, bob), { id: String(bob.id), name: 'Bob', username: null, email: null, avatar: null });

    const requests = await Promise.all(requested);
    await notToInitiator;

    // The pair has a chat now: or-create answers it with 200, whoever asks, whatever JSON type
    // the id has; nobody hears chat_request again.
    const quiet = [aliceSocket, bob1, bob2].map((s) => expectNoEvent(s, 'chat_request', QUIET_MS));
    const again = await orCreate(alice, String(bob.id), { expectStatus: 200 });
    assertChat(again.chat, [alice, bob], { ...fresh, id: chat.id, isRequest: false });
    const fromBob = await orCreate(bob, alice.id, { expectStatus: 200 });
    assertChat(fromBob.chat, [alice, bob], { ...fresh, id: chat.id, isRequest: true });
    const fromBobByString = await orCreate(bob, String(alice.id), { expectStatus: 200 });
    assert.equal(fromBobByString.chat.id, chat.id);
    await Promise.all(quiet);

    // GET /api/chats/:chatId shows the same chat to each member; the id may be a number.
    assertChat(await getChat(alice, chat.id), [alice, bob], { ...fresh, id: chat.id, isRequest: false });
    assertChat(await getChat(bob, Number(chat.id)), [alice, bob], { ...fresh, id: chat.id, isRequest: true });

    // The recipient's sockets got { chatId, initiator }; the chat itself, as the recipient sees
    // it (a request), is in GET /api/chats/:chatId and the requests list.
    for (const event of requests) {
      assert.deepEqual(event, { chatId: chat.id, initiator: String(alice.id) }, 'chat_request');
    }
    const asRecipient = await getChat(bob, requests[0].chatId);
    assertChat(asRecipient, [alice, bob], { ...fresh, id: chat.id, isRequest: true });
    // PUBLIC_PROFILE_FIELDS (name, username, avatar by default): another user's email is never shown.
    assertUser(participant(asRecipient, alice), {
      id: String(alice.id),
      name: 'Alice',
      username: 'alice_w',
      email: null,
      avatar: 'https://example.com/a.png',
    });
  });
}

test('a pending request is in the recipient\'s requests list, not their active list; the initiator has it among their active chats', async () => {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const chat = await openRequest(alice, bob);

  const bobRequests = await listChats(bob, 'requests');
  assertPagination(bobRequests.pagination, { page: 1, limit: 20, total: 1, totalPages: 1 });
  assert.equal(bobRequests.chats.length, 1);
  assertChat(bobRequests.chats[0], [alice, bob], {
    id: chat.id,
    status: 'pending',
    initiator: String(alice.id),
    isRequest: true,
  });
  const bobActive = await listChats(bob, 'active');
  assertPagination(bobActive.pagination, { page: 1, limit: 20, total: 0 });
  assert.deepEqual(bobActive.chats, []);

  const aliceActive = await listChats(alice, 'active');
  assertPagination(aliceActive.pagination, { page: 1, total: 1, totalPages: 1 });
  assertChat(aliceActive.chats[0], [alice, bob], { id: chat.id, status: 'pending', isRequest: false });
  assert.deepEqual((await listChats(alice, 'requests')).chats, [], 'the initiator has no request to answer');
  assert.deepEqual((await listChats(alice, 'archived')).chats, []);
});

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] while pending the initiator sends, a recipient who joined hears it, it is not unread; accept: both active, chat_accepted to the initiator`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chat = await openRequest(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const aliceOtherTab = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chat.id);
    assert.deepEqual(await joinChat(bobSocket, chat.id), { chatId: chat.id, lastSeq: 0 });

    const heard = once(bobSocket, 'message_received');
    const m1 = await socketSend(aliceSocket, { chatId: chat.id, content: 'Hi Bob, it is Alice' });
    assertMessage(m1, { chatId: chat.id, senderId: String(alice.id), seq: 1, sender: { name: 'Alice' } });
    assert.deepEqual(await heard, m1);
    const heardRest = once(bobSocket, 'message_received');
    const m2 = await restSend(alice, chat.id, { content: 'over REST too' });
    assert.equal(m2.seq, 2);
    assert.deepEqual(await heardRest, m2);

    // The recipient reads them, but they are not unread: the chat is still a request.
    assert.deepEqual((await history(bob, chat.id)).messages.map((m) => m.id), [m2.id, m1.id]);
    assertChat(await getChat(bob, chat.id), [alice, bob], {
      status: 'pending',
      isRequest: true,
      unreadCount: 0,
      lastSeq: 2,
      lastMessage: 'over REST too',
      lastMessageAt: m2.createdAt,
    });
    const [asRequest] = (await listChats(bob, 'requests')).chats;
    assert.equal(asRequest.id, chat.id);
    assert.equal(asRequest.unreadCount, 0, 'the requests list does not count them either');

    // Accept: the initiator's sockets (joined or not) get chat_accepted, the recipient's do not.
    const accepted = [aliceSocket, aliceOtherTab].map((s) => once(s, 'chat_accepted'));
    const notToRecipient = expectNoEvent(bobSocket, 'chat_accepted', QUIET_MS);
    const answer = await chatAction(bob, chat.id, 'accept');
    assertChat(answer, [alice, bob], { id: chat.id, status: 'accepted', isRequest: false, initiator: String(alice.id) });
    for (const event of await Promise.all(accepted)) {
      assert.deepEqual(event, { chatId: chat.id, userId: String(bob.id) });
    }
    await notToRecipient;

    assert.deepEqual(await listIds(bob, 'active'), [chat.id]);
    assert.deepEqual(await listIds(bob, 'requests'), []);
    assert.deepEqual(await listIds(alice, 'active'), [chat.id]);
    assertChat(await getChat(alice, chat.id), [alice, bob], { status: 'accepted', isRequest: false });

    // Answering it again answers the same chat, and tells nobody again; it cannot be rejected now.
    const noSecond = expectNoEvent(aliceSocket, 'chat_accepted', QUIET_MS);
    const twice = await chatAction(bob, chat.id, 'accept');
    assertChat(twice, [alice, bob], { id: chat.id, status: 'accepted' });
    assertRestError(
      await api('POST', `/chats/${chat.id}/reject`, { token: bob.token }),
      409,
      'CONFLICT',
      'rejecting an accepted chat',
    );
    await noSecond;
    assert.equal((await getChat(alice, chat.id)).status, 'accepted');

    // Messages after the acceptance count as unread.
    await restSend(alice, chat.id, { content: 'thanks!' });
    assert.ok((await getChat(bob, chat.id)).unreadCount >= 1, 'a message after acceptance is unread');
  });

  test(`[${name}] reject: gone from the recipient's lists, chat_rejected to the initiator, whose sends are FORBIDDEN and not stored; the recipient may accept later`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chat = await openRequest(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chat.id);
    await joinChat(bobSocket, chat.id);
    const firstHeard = [aliceSocket, bobSocket].map((s) => once(s, 'message_received'));
    const first = await socketSend(aliceSocket, { chatId: chat.id, content: 'may I?' });
    await Promise.all(firstHeard); // before watching for silence

    const rejected = once(aliceSocket, 'chat_rejected');
    const notToRecipient = expectNoEvent(bobSocket, 'chat_rejected', QUIET_MS);
    const answer = await chatAction(bob, chat.id, 'reject');
    assertChat(answer, [alice, bob], { id: chat.id, status: 'rejected', isRequest: false });
    assert.deepEqual(await rejected, { chatId: chat.id, userId: String(bob.id) });
    await notToRecipient;

    assert.deepEqual(await listIds(bob, 'requests'), [], 'no longer a request');
    assert.deepEqual(await listIds(bob, 'active'), [], 'not an active chat of the recipient');
    assert.deepEqual(await listIds(bob, 'archived'), []);
    assertChat(await getChat(alice, chat.id), [alice, bob], { status: 'rejected', initiator: String(alice.id) });

    // Every further send by the initiator is refused, stored nowhere, heard by nobody.
    const silent = [aliceSocket, bobSocket].map((s) => expectNoEvent(s, 'message_received', QUIET_MS));
    assertAckError(
      await emitAck(aliceSocket, 'send_message', { chatId: chat.id, content: 'please?' }),
      'FORBIDDEN',
      'send_message to a rejected request',
    );
    assertRestError(
      await api('POST', `/chats/${chat.id}/messages`, { token: alice.token, body: { content: 'please??' } }),
      403,
      'FORBIDDEN',
      'REST send to a rejected request',
    );
    await Promise.all(silent);
    const after = await history(alice, chat.id);
    assert.deepEqual(after.messages.map((m) => m.id), [first.id], 'nothing stored');
    assert.equal(after.pagination.total, 1);
    assert.equal((await getChat(alice, chat.id)).lastSeq, 1);

    // The recipient changes their mind: accepted, the initiator told, and may send again.
    const accepted = once(aliceSocket, 'chat_accepted');
    assertChat(await chatAction(bob, chat.id, 'accept'), [alice, bob], { status: 'accepted' });
    assert.deepEqual(await accepted, { chatId: chat.id, userId: String(bob.id) });
    assert.deepEqual(await listIds(bob, 'active'), [chat.id]);
    // The recipient's frontend opens the chat again (joining a room the socket is in answers the same).
    await joinChat(bobSocket, chat.id);
    const heard = once(bobSocket, 'message_received');
    const m = await socketSend(aliceSocket, { chatId: chat.id, content: 'thank you' });
    assert.equal(m.seq, 2);
    assert.deepEqual(await heard, m);
  });

  test(`[${name}] a message from the recipient accepts the request; the initiator's sockets get chat_accepted just before it`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chat = await openRequest(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const aliceNotJoined = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chat.id);
    await joinChat(bobSocket, chat.id);
    const aliceHeard = record(aliceSocket);
    const otherTabHeard = record(aliceNotJoined);
    const bobHeard = record(bobSocket);

    const accepted = once(aliceNotJoined, 'chat_accepted');
    const heard = once(aliceSocket, 'message_received');
    const reply = await socketSend(bobSocket, { chatId: chat.id, content: 'hello, stranger' });
    assertMessage(reply, { chatId: chat.id, senderId: String(bob.id), seq: 1 });
    assert.deepEqual(await heard, reply);
    const expected = { chatId: chat.id, userId: String(bob.id) };
    assert.deepEqual(await accepted, expected, 'a socket of the initiator not in the room');

    // In the room: chat_accepted, then the message, nothing between them.
    const names = aliceHeard.map(([e]) => e);
    const at = names.indexOf('message_received');
    assert.ok(at >= 1, `chat_accepted before the message: ${JSON.stringify(names)}`);
    assert.deepEqual(aliceHeard[at - 1], ['chat_accepted', expected], `just before it: ${JSON.stringify(aliceHeard)}`);
    assert.equal(names.filter((e) => e === 'chat_accepted').length, 1, 'told once');

    // The recipient's own sockets are not told (they accepted it).
    const quiet = expectNoEvent(bobSocket, 'chat_accepted', QUIET_MS);
    const second = await socketSend(bobSocket, { chatId: chat.id, content: 'and again' });
    assert.equal(second.seq, 2);
    await quiet;
    assert.ok(!bobHeard.some(([e]) => e === 'chat_accepted'), `the recipient heard ${JSON.stringify(bobHeard)}`);
    assert.equal(otherTabHeard.filter(([e]) => e === 'chat_accepted').length, 1, 'a later message tells nobody again');
    assert.equal(aliceHeard.filter(([e]) => e === 'chat_accepted').length, 1, 'a later message tells nobody again');

    assertChat(await getChat(bob, chat.id), [alice, bob], { status: 'accepted', isRequest: false });
    assertChat(await getChat(alice, chat.id), [alice, bob], { status: 'accepted', isRequest: false, unreadCount: 2 });
    assert.deepEqual(await listIds(bob, 'active'), [chat.id]);
    assert.deepEqual(await listIds(bob, 'requests'), []);
  });
}

test('only the recipient answers a request: the initiator and outsiders are FORBIDDEN, unknown chats NOT_FOUND', async () => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chat = await openRequest(alice, bob);
  for (const action of ['accept', 'reject']) {
    assertRestError(
      await api('POST', `/chats/${chat.id}/${action}`, { token: alice.token }),
      403,
      'FORBIDDEN',
      `${action} by the initiator`,
    );
    assertRestError(
      await api('POST', `/chats/${chat.id}/${action}`, { token: mallory.token }),
      403,
      'FORBIDDEN',
      `${action} by an outsider`,
    );
    assertRestError(
      await api('POST', `/chats/987654321/${action}`, { token: bob.token }),
      404,
      'NOT_FOUND',
      `${action} of an unknown chat`,
    );
  }
  // Nothing changed: still a request to bob.
  assertChat(await getChat(bob, chat.id), [alice, bob], { status: 'pending', isRequest: true });
  assert.deepEqual(await listIds(bob, 'requests'), [chat.id]);
});

test('users with string ids: or-create by a string recipientId, every id a string as the token gave it', async () => {
  const alice = newUser({ string: true, prefix: 'alice' });
  const bob = newUser({ string: true, prefix: 'bob' });
  const { chat } = await orCreate(alice, bob.id, { expectStatus: 201 });
  assertChat(chat, [alice, bob], { initiator: alice.id, status: 'pending' });
  assert.equal((await orCreate(bob, alice.id, { expectStatus: 200 })).chat.id, chat.id);
  const m = await restSend(alice, chat.id, { content: 'hi' });
  assertMessage(m, { senderId: alice.id, chatId: chat.id, seq: 1 });
  assertUser(m.sender, { id: alice.id, _id: alice.id });
  // A numeric-sub user named by a string recipientId is the same user, and the same chat.
  const carol = newUser();
  const byNumber = await orCreate(alice, carol.id, { expectStatus: 201 });
  const byString = await orCreate(alice, String(carol.id), { expectStatus: 200 });
  assert.equal(byString.chat.id, byNumber.chat.id);
  assertChat(byString.chat, [alice, carol], { initiator: alice.id });
});

test('GET /api/chats/active: most recent message first, in pages', async () => {
  const alice = newUser();
  const [bob, carol, dave] = [newUser(), newUser(), newUser()];
  const toBob = await openChat(alice, bob);
  const toCarol = await openChat(carol, alice);
  const toDave = await openChat(alice, dave);

  // Messages in the order bob, dave, carol: carol's chat is the most recent.
  let m = await restSend(alice, toBob, { content: 'to bob' });
  await clockPast(m.createdAt);
  m = await restSend(dave, toDave, { content: 'from dave' });
  await clockPast(m.createdAt);
  m = await restSend(alice, toCarol, { content: 'to carol' });

  const all = await listChats(alice, 'active');
  assertPagination(all.pagination, { page: 1, limit: 20, total: 3, totalPages: 1 });
  assert.deepEqual(all.chats.map((c) => c.id), [toCarol, toDave, toBob]);
  assertChat(all.chats[0], [alice, carol], {
    status: 'accepted',
    initiator: String(carol.id),
    lastMessage: 'to carol',
    lastMessageAt: m.createdAt,
    lastSeq: 1,
    unreadCount: 0,
  });
  assertChat(all.chats[1], [alice, dave], { lastMessage: 'from dave', lastSeq: 1, unreadCount: 1 });
  assertChat(all.chats[2], [alice, bob], { lastMessage: 'to bob', unreadCount: 0 });

  const p1 = await listChats(alice, 'active', '?limit=2');
  assertPagination(p1.pagination, { page: 1, limit: 2, total: 3, totalPages: 2 });
  assert.deepEqual(p1.chats.map((c) => c.id), [toCarol, toDave]);
  const p2 = await listChats(alice, 'active', '?limit=2&page=2');
  assertPagination(p2.pagination, { page: 2, limit: 2, total: 3, totalPages: 2 });
  assert.deepEqual(p2.chats.map((c) => c.id), [toBob]);
});
