// Replies and threads: send_message { chatId, content, replyTo } and REST replyTo reply to a live
// message of the same chat; the reply carries replyTo { _id, id, senderId, content (its first 100
// characters), messageType, isDeleted }, the parent's replyCount counts its live replies, and
// GET /api/chats/messages/:messageId/replies lists the thread, oldest first. A reply to a message
// of another chat, a deleted one or none is 400 VALIDATION, nothing stored.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckError,
  assertAckOk,
  assertRestError,
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
  assertMessage,
  assertPagination,
  getChat,
  history,
  joinChat,
  openChat,
  replies,
  restSend,
  socketSend,
} from './helpers.mjs';

/** `replyTo` as a reply to `parent` shows it (live). */
function preview(parent, content = parent.content) {
  return {
    _id: parent.id,
    id: parent.id,
    senderId: parent.senderId,
    content,
    messageType: parent.messageType,
    isDeleted: false,
  };
}

/** The message `id` in `user`'s history of `chatId`. */
async function inHistory(user, chatId, id) {
  const found = (await history(user, chatId, '?limit=100')).messages.find((m) => m.id === id);
  assert.ok(found, `message ${id} is in the history`);
  return found;
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] send_message with replyTo: the reply carries replyTo, the room hears it; REST replyTo too; the parent's replyCount and thread`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(aliceSocket, chatId);
    await joinChat(bobSocket, chatId);
    const parent = await socketSend(aliceSocket, { chatId, content: 'Are you there?' });
    const unrelated = await socketSend(aliceSocket, { chatId, content: 'lunch?' });

    const heard = [aliceSocket, bobSocket].map((s) => once(s, 'message_received', undefined, (m) => m.content === 'yes!'));
    const r1 = await socketSend(bobSocket, { chatId, content: 'yes!', replyTo: parent.id });
    assertMessage(r1, { chatId, senderId: String(bob.id), seq: 3, content: 'yes!', replyTo: preview(parent) });
    for (const event of await Promise.all(heard)) assert.deepEqual(event, r1);

    // replyTo as a number names the same message; over REST too; a reply to a reply.
    const r2 = await socketSend(aliceSocket, { chatId, content: 'good', replyTo: Number(parent.id) });
    assertMessage(r2, { replyTo: preview(parent), seq: 4 });
    const heardRest = once(aliceSocket, 'message_received', undefined, (m) => m.content === 'over REST');
    const r3 = await restSend(bob, chatId, { content: 'over REST', replyTo: parent.id });
    assertMessage(r3, { replyTo: preview(parent), seq: 5, senderId: String(bob.id) });
    assert.deepEqual(await heardRest, r3);
    const nested = await restSend(alice, chatId, { content: 'to the reply', replyTo: r1.id });
    assertMessage(nested, { replyTo: preview(r1) });

    // The history: the parent counts its replies; the replies carry replyTo.
    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages.map((m) => m.id), [nested.id, r3.id, r2.id, r1.id, unrelated.id, parent.id]);
    assertMessage(messages[5], { id: parent.id, replyCount: 3 });
    assertMessage(messages[3], { id: r1.id, replyTo: preview(parent), replyCount: 1 });
    assertMessage(messages[4], { id: unrelated.id, replyCount: 0 });
    assert.deepEqual(messages.slice(1, 3), [r3, r2]);
    assert.equal((await getChat(alice, chatId)).lastSeq, 6, 'replies are messages of the chat');

    // The thread: oldest first, direct replies only.
    const thread = await replies(alice, parent.id);
    assert.deepEqual(thread.messages.map((m) => m.id), [r1.id, r2.id, r3.id]);
    assert.deepEqual(thread.messages[1], r2);
    assertPagination(thread.pagination, { page: 1, total: 3, totalPages: 1 });
    assert.equal(thread.hasMore, false);
    const p1 = await replies(bob, parent.id, '?limit=2');
    assert.deepEqual(p1.messages.map((m) => m.id), [r1.id, r2.id]);
    assertPagination(p1.pagination, { page: 1, limit: 2, total: 3, totalPages: 2 });
    assert.equal(p1.hasMore, true);
    const p2 = await replies(bob, parent.id, '?limit=2&page=2');
    assert.deepEqual(p2.messages.map((m) => m.id), [r3.id]);
    assert.equal(p2.hasMore, false);
    assert.deepEqual((await replies(bob, r1.id)).messages.map((m) => m.id), [nested.id]);
    assert.deepEqual((await replies(bob, unrelated.id)).messages, []);
  });

  test(`[${name}] replyTo a message of another chat, a deleted message or none: VALIDATION, nothing stored, nobody told`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const carol = newUser();
    const chatId = await openChat(alice, bob);
    const otherChat = await openChat(alice, carol);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    await joinChat(bobSocket, chatId);
    const live = await restSend(alice, chatId, { content: 'live' });
    const gone = await restSend(alice, chatId, { content: 'soon gone' });
    const elsewhere = await restSend(carol, otherChat, { content: 'in another chat' });
    assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: gone.id }), 'delete');

    const quiet = expectNoEvent(bobSocket, 'message_received', QUIET_MS);
    for (const [what, replyTo] of [
      ['a message of another chat', elsewhere.id],
      ['a deleted message', gone.id],
      ['no such message', '987654321'],
    ]) {
      assertAckError(
        await emitAck(aliceSocket, 'send_message', { chatId, content: 'a reply', replyTo }),
        'VALIDATION',
        `send_message replyTo ${what}`,
      );
      assertRestError(
        await api('POST', `/chats/${chatId}/messages`, { token: alice.token, body: { content: 'a reply', replyTo } }),
        400,
        'VALIDATION',
        `REST replyTo ${what}`,
      );
    }
    await quiet;
    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages.map((m) => m.id), [gone.id, live.id], 'nothing stored');
    assert.equal((await getChat(bob, chatId)).lastSeq, 2);
    assert.equal((await history(carol, otherChat)).messages[0].replyCount, 0, 'the other chat\'s message has no reply');
  });
}

test('replyTo shows the first 100 characters of the parent, and its deletion since; a reply deleted for everyone stops counting', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const bobSocket = await connect(t, bob.token);
  const long = 'é'.repeat(60) + 'x'.repeat(90); // 150 characters, 210 bytes
  const parent = await restSend(alice, chatId, { content: long });
  const reply = await restSend(bob, chatId, { content: 'long indeed', replyTo: parent.id });
  assertMessage(reply, { replyTo: preview(parent, long.slice(0, 100)) });
  const other = await restSend(alice, chatId, { content: 'short', replyTo: parent.id });
  assertMessage(await inHistory(bob, chatId, parent.id), { content: long, replyCount: 2 });

  // A reply deleted for everyone stops counting.
  assertAckOk(await emitAck(bobSocket, 'delete_message', { messageId: reply.id }), 'delete the reply');
  assertMessage(await inHistory(alice, chatId, parent.id), { content: long, replyCount: 1 });
  assertMessage(await inHistory(bob, chatId, parent.id), { content: long, replyCount: 1 });
  assert.deepEqual(
    (await replies(alice, parent.id)).messages.filter((m) => !m.isDeleted).map((m) => m.id),
    [other.id],
    'the thread\'s live replies',
  );

  // The parent deleted: its replies show it deleted, without its content.
  assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: parent.id }), 'delete the parent');
  assertMessage(await inHistory(bob, chatId, other.id), {
    replyTo: { ...preview(parent, ''), isDeleted: true },
  });
});

test('a reply deleted for me leaves my thread only; the replies route is for members, of known messages', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const parent = await restSend(alice, chatId, { content: 'thread' });
  const r1 = await restSend(bob, chatId, { content: 'one', replyTo: parent.id });
  const r2 = await restSend(bob, chatId, { content: 'two', replyTo: parent.id });
  assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: r1.id, forEveryone: false }), 'delete for me');
  assert.deepEqual((await replies(alice, parent.id)).messages.map((m) => m.id), [r2.id], 'gone from alice\'s thread');
  assert.deepEqual((await replies(bob, parent.id)).messages.map((m) => m.id), [r1.id, r2.id], 'still in bob\'s');

  assertRestError(await api('GET', `/chats/messages/${parent.id}/replies`, { token: mallory.token }), 403, 'FORBIDDEN', 'an outsider');
  assertRestError(await api('GET', '/chats/messages/987654321/replies', { token: alice.token }), 404, 'NOT_FOUND', 'no such message');
  assertRestError(await api('GET', '/chats/messages/abc/replies', { token: alice.token }), 400, 'VALIDATION', 'a malformed id');
  assertRestError(await api('GET', `/chats/messages/${parent.id}/replies`), 401, 'UNAUTHORIZED');
});
