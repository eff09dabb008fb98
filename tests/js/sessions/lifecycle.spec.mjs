// The message lifecycle as seed 001's frontends use it: message types with attachments, read
// receipts from several readers and delivery on fetch and on a socket, chosen presence statuses
// and get_online_users, late `authenticate`, and an admin dissolving a group.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  EVENT_TIMEOUT_MS,
  assertAckError,
  assertAckOk,
  assertRestError,
  assertTimestamp,
  connect,
  emitAck,
  expectNoEvent,
  mintToken,
  newUser,
  once,
} from '../helpers.mjs';
import { QUIET_MS, TRANSPORTS, assertRestOk, history, openChat, restSend, v1 } from './helpers.mjs';

/** The server's SOCKET_AUTH_TIMEOUT_MS (the harness shortens it for this suite). */
const AUTH_TIMEOUT_MS = Number(process.env.PARLEY_SOCKET_AUTH_TIMEOUT_MS ?? 10000);

async function createGroup(admin, members, name = 'Team') {
  const res = await v1('POST', '/sessions', {
    token: admin.token,
    body: { type: 'GROUP', name, participantIds: members.map((m) => m.id) },
  });
  return assertRestOk(res, 201, 'POST /sessions GROUP');
}

async function reads(user, messageId) {
  return assertRestOk(await v1('GET', `/messages/${messageId}/reads`, { token: user.token }), 200, 'GET /messages/:id/reads');
}

/** Asks `check` again until it returns a truthy value, for at most EVENT_TIMEOUT_MS. */
async function eventually(check, what) {
  const until = Date.now() + EVENT_TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`not within ${EVENT_TIMEOUT_MS} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] messages of every type: TEXT, IMAGE, FILE, VOICE with their attachments, as sent and in history`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    const sends = [
      { type: 'TEXT', content: 'plain words' },
      {
        type: 'IMAGE',
        content: '',
        attachmentUrl: 'https://cdn.example.com/cat.png',
        attachmentName: 'cat.png',
        attachmentMimeType: 'image/png',
        attachmentSize: 48213,
      },
      {
        type: 'FILE',
        content: 'the report',
        attachmentUrl: 'https://cdn.example.com/q3.pdf',
        attachmentName: 'q3.pdf',
        attachmentMimeType: 'application/pdf',
        attachmentSize: 1048576,
      },
      {
        type: 'voice',
        attachmentUrl: 'https://cdn.example.com/note.ogg',
        attachmentMimeType: 'audio/ogg',
        attachmentDuration: 12.5,
      },
    ];
    const stored = [];
    for (const body of sends) {
      const heard = once(bobSocket, 'message_received');
      const ack = assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId, ...body }), `send ${body.type}`);
      const received = await heard;
      assert.deepEqual(received, ack, 'the room hears what the sender was answered');
      assert.equal(ack.type, body.type.toUpperCase());
      assert.equal(ack.content, body.content ?? '');
      assert.equal(ack.attachmentUrl, body.attachmentUrl ?? null);
      assert.equal(ack.attachmentName, body.attachmentName ?? null);
      assert.equal(ack.attachmentMimeType, body.attachmentMimeType ?? null);
      assert.equal(ack.attachmentSize, body.attachmentSize ?? null);
      assert.equal(ack.attachmentDuration, body.attachmentDuration ?? null);
      stored.push(ack);
    }
    // Over REST the same.
    const restImage = await restSend(bob, chatId, {
      type: 'IMAGE',
      attachmentUrl: 'https://cdn.example.com/dog.jpg',
      attachmentName: 'dog.jpg',
    });
    assert.equal(restImage.type, 'IMAGE');
    assert.equal(restImage.content, '');
    stored.push(restImage);

    const { messages } = await history(bob, chatId);
    assert.deepEqual(
      messages.map((m) => [m.id, m.type, m.attachmentName, m.attachmentDuration]),
      stored.map((m) => [m.id, m.type, m.attachmentName, m.attachmentDuration]),
    );
    // The chat list previews an attachment without a caption by its type and name.
    const chat = assertRestOk(await v1('GET', `/sessions/${chatId}`, { token: alice.token }), 200, 'GET /sessions/:id');
    assert.equal(chat.lastMessagePreview, '[image: dog.jpg]');
  });
}

test('read receipts from two readers in a group, delivery on fetch and on a socket, the read-by list', async (t) => {
  const [ada, bob, cy, dee] = [newUser(), newUser(), newUser(), newUser()];
  const group = await createGroup(ada, [bob, cy, dee]);
  const adaSocket = await connect(t, ada.token);
  const bobSocket = await connect(t, bob.token);
  await connect(t, cy.token); // connected, silent
  // Bob takes part (so his presence, and with it a delivery to his socket, may be seen).
  assertAckOk(await emitAck(bobSocket, 'send_message', { chatId: group.id, content: 'hi all' }));

  const sent = assertAckOk(await emitAck(adaSocket, 'send_message', { chatId: group.id, content: 'read me' }));
  // Bob has a socket: it reaches him there.
  await eventually(async () => (await reads(ada, sent.id)).deliveredTo.includes(String(bob.id)), 'delivered to bob');
  let receipt = await reads(ada, sent.id);
  assert.deepEqual(receipt.readBy, [], 'nobody read it yet');
  assert.ok(!receipt.deliveredTo.includes(String(dee.id)), 'dee has neither a socket nor fetched');
  // Cy is connected but has not taken part: his socket does not show through the receipts.
  assert.ok(!receipt.deliveredTo.includes(String(cy.id)), 'a silent member is not seen online');

  // Dee fetches the history: delivered, not read.
  await history(dee, group.id);
  receipt = await reads(ada, sent.id);
  assert.ok(receipt.deliveredTo.includes(String(dee.id)), 'fetching delivers');
  assert.deepEqual(receipt.readBy, []);

  // Bob reads over the socket, Cy over REST; Ada hears both.
  const heard = [];
  adaSocket.on('messages_read', (e) => heard.push(e));
  const bobRead = assertAckOk(await emitAck(bobSocket, 'mark_as_read', { chatId: group.id }));
  assert.equal(bobRead.lastReadSeq, sent.seq);
  assertRestOk(await v1('POST', `/sessions/${group.id}/read`, { token: cy.token }), 200, 'POST /sessions/:id/read');
  await eventually(() => heard.length === 2, 'ada hears two messages_read');
  assert.deepEqual(heard.map((e) => e.userId).sort(), [String(bob.id), String(cy.id)].sort());

  receipt = await reads(dee, sent.id);
  assert.equal(receipt.messageId, sent.id);
  assert.equal(receipt.chatId, group.id);
  assert.equal(receipt.seq, sent.seq);
  assert.deepEqual(receipt.readBy.map((r) => r.userId).sort(), [String(bob.id), String(cy.id)].sort());
  for (const r of receipt.readBy) assertTimestamp(r.readAt, 'readAt');
  assert.deepEqual(receipt.deliveredTo.sort(), [String(bob.id), String(cy.id), String(dee.id)].sort());
  assert.ok(!receipt.readBy.some((r) => r.userId === String(ada.id)), 'the sender is not among its readers');

  // A later message is unread by all of them; an outsider may not ask.
  const later = assertAckOk(await emitAck(adaSocket, 'send_message', { chatId: group.id, content: 'later' }));
  assert.deepEqual((await reads(bob, later.id)).readBy, []);
  assertRestError(await v1('GET', `/messages/${sent.id}/reads`, { token: newUser().token }), 403, 'FORBIDDEN');
  assertRestError(await v1('GET', '/messages/999999999/reads', { token: ada.token }), 404, 'NOT_FOUND');
});

test('presence: chosen statuses reach partners, user_offline hides, get_online_users lists who is shown', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  await restSend(bob, chatId, { content: 'hi' }); // both have taken part
  const me = String(bob.id);
  const aliceSocket = await connect(t, alice.token);
  // Bob coming online reaches alice first; the statuses below come after it.
  const came = once(aliceSocket, 'presence_update', EVENT_TIMEOUT_MS, (e) => e.userId === me && e.status === 'online');
  const bobSocket = await connect(t, bob.token);
  await came;

  const listed = once(aliceSocket, 'online_users');
  const online = assertAckOk(await emitAck(aliceSocket, 'get_online_users', { chatId }));
  assert.deepEqual(await listed, online);
  assert.equal(online.chatId, chatId);
  assert.deepEqual(online.users.map((u) => [u.userId, u.status]).sort(), [[String(alice.id), 'online'], [me, 'online']].sort());

  // Away: a presence_update, no user_offline.
  const away = once(aliceSocket, 'presence_update', EVENT_TIMEOUT_MS, (e) => e.userId === me);
  const noOffline = expectNoEvent(aliceSocket, 'user_offline', QUIET_MS);
  assert.deepEqual(assertAckOk(await emitAck(bobSocket, 'presence_update', { status: 'away' })), { userId: me, status: 'away' });
  assert.equal((await away).status, 'away');
  await noOffline;

  // user_offline: shown offline while connected, and left out of the online list.
  const offline = once(aliceSocket, 'user_offline', EVENT_TIMEOUT_MS, (e) => e.userId === me);
  const update = once(aliceSocket, 'presence_update', EVENT_TIMEOUT_MS, (e) => e.userId === me);
  assertAckOk(await emitAck(bobSocket, 'user_offline'));
  assert.equal((await offline).status, 'offline');
  assert.equal((await update).status, 'offline');
  const hidden = assertAckOk(await emitAck(aliceSocket, 'get_online_users', { chatId }));
  assert.deepEqual(hidden.users.map((u) => u.userId), [String(alice.id)]);
  // Over REST the same list.
  const rest = assertRestOk(await v1('GET', `/sessions/${chatId}/online`, { token: alice.token }), 200, 'GET /sessions/:id/online');
  assert.deepEqual(rest.users.map((u) => u.userId), [String(alice.id)]);

  // Invisible stays invisible: going away and coming back tells nothing.
  const bobs = (e) => e.userId === me;
  bobSocket.close();
  await expectNoEvent(aliceSocket, 'user_offline', QUIET_MS, bobs);
  const silent = expectNoEvent(aliceSocket, 'user_online', QUIET_MS, bobs);
  const again = await connect(t, bob.token);
  await silent;

  // user_online: back.
  const back = once(aliceSocket, 'user_online', EVENT_TIMEOUT_MS, (e) => e.userId === me);
  assertAckOk(await emitAck(again, 'user_online'));
  assert.equal((await back).status, 'online');

  // Busy, then a status that does not exist; outsiders may not list a chat.
  assertAckOk(await emitAck(again, 'presence_update', { status: 'BUSY' }));
  const busy = assertAckOk(await emitAck(aliceSocket, 'get_online_users', { chatId }));
  assert.deepEqual(busy.users.find((u) => u.userId === me)?.status, 'busy');
  assertAckError(await emitAck(again, 'presence_update', { status: 'sleeping' }), 'VALIDATION');
  assertAckError(await emitAck(again, 'presence_update', {}), 'VALIDATION');
  const outsider = await connect(t, newUser().token);
  assertAckError(await emitAck(outsider, 'get_online_users', { chatId }), 'FORBIDDEN');
});

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] late authenticate: a socket without a token is refused everything until it sends one, then is its user's`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    await restSend(bob, chatId, { content: 'hi' }); // bob took part: alice sees his presence
    const aliceSocket = await connect(t, alice.token, opts);
    const anon = await connect(t, null, opts);

    const refused = await emitAck(anon, 'send_message', { chatId, content: 'sneak' });
    assertAckError(refused, 'UNAUTHORIZED');
    assert.match(refused.error.message, /authenticate/);
    const errorEvent = once(anon, 'error');
    anon.emit('join_chat', { chatId });
    const e = await errorEvent;
    assert.deepEqual([e.event, e.code], ['join_chat', 'UNAUTHORIZED']);
    assertAckError(await emitAck(anon, 'authenticate', { token: 'garbage' }), 'UNAUTHORIZED');
    assertAckError(await emitAck(anon, 'authenticate', {}), 'VALIDATION');

    const seen = once(aliceSocket, 'user_online', EVENT_TIMEOUT_MS, (p) => p.userId === String(bob.id));
    const ok = assertAckOk(await emitAck(anon, 'authenticate', { token: bob.token }));
    assert.deepEqual(ok, { userId: String(bob.id) });
    await seen;
    // Its chats' rooms are joined: it hears a message without join_chat, and may send.
    const heard = once(anon, 'message_received');
    assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId, content: 'welcome' }));
    assert.equal((await heard).content, 'welcome');
    assert.equal(assertAckOk(await emitAck(anon, 'send_message', { chatId, content: 'thanks' })).seq, 3);

    // A refresh: the same user's fresh token is taken, anyone else's refused.
    assert.deepEqual(assertAckOk(await emitAck(anon, 'authenticate', { token: bob.token })), { userId: String(bob.id) });
    assertAckError(await emitAck(anon, 'authenticate', { token: alice.token }), 'FORBIDDEN');
    assert.equal(assertAckOk(await emitAck(anon, 'send_message', { chatId, content: 'still bob' })).senderId, String(bob.id));
  });
}

test('a socket that never authenticates is disconnected after SOCKET_AUTH_TIMEOUT_MS', async (t) => {
  const anon = await connect(t, null);
  const gone = once(anon, 'disconnect', AUTH_TIMEOUT_MS + EVENT_TIMEOUT_MS);
  const started = Date.now();
  assert.equal(await gone, 'io server disconnect');
  assert.ok(Date.now() - started >= AUTH_TIMEOUT_MS - 1000, 'not before the timeout');
  // An expired token is no way in either.
  const late = await connect(t, null);
  const expired = mintToken({ sub: newUser().id }, { expiresIn: -60 });
  assertAckError(await emitAck(late, 'authenticate', { token: expired }), 'UNAUTHORIZED');
});

test('an admin dissolves a group: every member hears chat_left, nobody can use it after; others may not', async (t) => {
  const [ada, bob, cy] = [newUser(), newUser(), newUser()];
  const group = await createGroup(ada, [bob, cy]);
  const bobSocket = await connect(t, bob.token);
  const cySocket = await connect(t, cy.token, { transports: null });

  assertRestError(await v1('DELETE', `/sessions/${group.id}?dissolve=true`, { token: bob.token }), 403, 'FORBIDDEN');
  assertRestError(await v1('DELETE', `/sessions/${group.id}?dissolve=maybe`, { token: ada.token }), 400, 'VALIDATION');

  const told = [bobSocket, cySocket].map((s) => once(s, 'chat_left'));
  const res = await v1('DELETE', `/sessions/${group.id}?dissolve=true`, { token: ada.token });
  assert.deepEqual(assertRestOk(res, 200, 'dissolve'), { chatId: group.id, dissolved: true });
  for (const e of await Promise.all(told)) {
    assert.deepEqual(e, { chatId: group.id, dissolved: true, by: String(ada.id) });
  }
  // Out of the room, and no longer members.
  assertAckError(await emitAck(bobSocket, 'send_message', { chatId: group.id, content: 'anyone?' }), 'FORBIDDEN');
  assertAckError(await emitAck(cySocket, 'join_chat', { chatId: group.id }), 'FORBIDDEN');
  assertRestError(await v1('GET', `/sessions/${group.id}/messages`, { token: ada.token }), 403, 'FORBIDDEN');
  const list = assertRestOk(await v1('GET', '/sessions', { token: bob.token }), 200, 'GET /sessions');
  assert.ok(!list.sessions.some((s) => s.id === group.id), 'gone from the chat list');
});
