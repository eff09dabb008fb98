// Reactions: add_reaction / remove_reaction { messageId, emoji } and
// POST /api/chats/messages/:messageId/reactions { emoji }, DELETE .../reactions/:emoji. The answer
// is { messageId, chatId, reactions: [{ emoji, count, users, reacted }] } (reacted for the
// caller); the room hears reaction_added / reaction_removed { messageId, chatId, userId, emoji,
// reactions } (reacted false there). Once per user and emoji: a repeat changes nothing and tells
// nobody. History messages carry reactions with reacted for the reader. One emoji of at most 64
// bytes, else 400 VALIDATION; members only (403); a deleted message is 404.

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
  assertReactionAnswer,
  assertReactions,
  assertRestOk,
  history,
  joinChat,
  openChat,
  reactionSummary,
  restReact,
  restSend,
  restUnreact,
  socketSend,
} from './helpers.mjs';

/** `[[emoji, users]]`, for comparing with the room's events (where reacted is false). */
function byEmoji(reactions) {
  return reactions.map((r) => [r.emoji, r.users]);
}

/** The reactions of message `id` in `user`'s history of `chatId`. */
async function reactionsIn(user, chatId, id) {
  const m = (await history(user, chatId)).messages.find((x) => x.id === id);
  assert.ok(m, `message ${id} in the history`);
  return m.reactions;
}

/** A reaction event: `{ messageId, chatId, userId, emoji, reactions }`, every reacted false. */
function assertReactionEvent(e, { messageId, chatId, userId, emoji }, what) {
  assert.deepEqual(Object.keys(e).sort(), ['chatId', 'emoji', 'messageId', 'reactions', 'userId'], `${what} keys (${JSON.stringify(e)})`);
  assert.deepEqual([e.messageId, e.chatId, e.userId, e.emoji], [String(messageId), String(chatId), String(userId), emoji], what);
  assertReactions(e.reactions, `${what}.reactions`);
  for (const r of e.reactions) assert.equal(r.reacted, false, `${what}: reacted is false in the room's event`);
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] add_reaction / remove_reaction: the ack with reacted for the caller, reaction_added / reaction_removed to the room; the history carries them`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const aliceOtherTab = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    for (const s of [aliceSocket, aliceOtherTab, bobSocket]) await joinChat(s, chatId);
    const message = await socketSend(aliceSocket, { chatId, content: 'react to me' });
    const other = await socketSend(aliceSocket, { chatId, content: 'not me' });
    const room = [aliceSocket, aliceOtherTab, bobSocket];
    const A = String(alice.id);
    const B = String(bob.id);
    const messageId = message.id;

    // Bob adds 👍.
    let heard = room.map((s) => once(s, 'reaction_added'));
    let ack = assertAckOk(await emitAck(bobSocket, 'add_reaction', { messageId, emoji: '👍' }), 'add_reaction');
    assertReactionAnswer(ack, { messageId, chatId });
    assert.deepEqual(ack.reactions, [{ emoji: '👍', count: 1, users: [B], reacted: true }]);
    for (const e of await Promise.all(heard)) {
      assertReactionEvent(e, { messageId, chatId, userId: B, emoji: '👍' }, 'reaction_added');
      assert.deepEqual(byEmoji(e.reactions), [['👍', [B]]]);
    }

    // Alice adds 👍 (users earliest first), then ❤️ (emoji in the order first used); the
    // messageId may be a number.
    heard = room.map((s) => once(s, 'reaction_added'));
    ack = assertAckOk(await emitAck(aliceSocket, 'add_reaction', { messageId: Number(messageId), emoji: '👍' }));
    assertReactionAnswer(ack, { messageId, chatId });
    assert.deepEqual(ack.reactions, [{ emoji: '👍', count: 2, users: [B, A], reacted: true }]);
    for (const e of await Promise.all(heard)) assertReactionEvent(e, { messageId, chatId, userId: A, emoji: '👍' }, 'reaction_added');
    heard = room.map((s) => once(s, 'reaction_added'));
    ack = assertAckOk(await emitAck(aliceOtherTab, 'add_reaction', { messageId, emoji: '❤️' }));
    assert.deepEqual(reactionSummary(ack.reactions), [['👍', [B, A], true], ['❤️', [A], true]]);
    for (const e of await Promise.all(heard)) {
      assertReactionEvent(e, { messageId, chatId, userId: A, emoji: '❤️' }, 'reaction_added');
      assert.deepEqual(byEmoji(e.reactions), [['👍', [B, A]], ['❤️', [A]]]);
    }

    // Once per user and emoji: adding again, or removing one never added, answers the same
    // reactions and tells nobody.
    const quiet = room.flatMap((s) => [
      expectNoEvent(s, 'reaction_added', QUIET_MS),
      expectNoEvent(s, 'reaction_removed', QUIET_MS),
    ]);
    ack = assertAckOk(await emitAck(bobSocket, 'add_reaction', { messageId, emoji: '👍' }), 'a repeat');
    assertReactionAnswer(ack, { messageId, chatId });
    assert.deepEqual(reactionSummary(ack.reactions), [['👍', [B, A], true], ['❤️', [A], false]]);
    ack = assertAckOk(await emitAck(bobSocket, 'remove_reaction', { messageId, emoji: '❤️' }), 'removing one never added');
    assert.deepEqual(reactionSummary(ack.reactions), [['👍', [B, A], true], ['❤️', [A], false]]);
    await Promise.all(quiet);

    // The history: reacted for the reader; a message without reactions has none.
    assert.deepEqual(reactionSummary(await reactionsIn(alice, chatId, messageId)), [['👍', [B, A], true], ['❤️', [A], true]]);
    assert.deepEqual(reactionSummary(await reactionsIn(bob, chatId, messageId)), [['👍', [B, A], true], ['❤️', [A], false]]);
    assert.deepEqual(await reactionsIn(bob, chatId, other.id), []);

    // Bob removes 👍; alice removes ❤️: an emoji nobody uses is no longer listed.
    heard = room.map((s) => once(s, 'reaction_removed'));
    ack = assertAckOk(await emitAck(bobSocket, 'remove_reaction', { messageId, emoji: '👍' }), 'remove_reaction');
    assertReactionAnswer(ack, { messageId, chatId });
    assert.deepEqual(reactionSummary(ack.reactions), [['👍', [A], false], ['❤️', [A], false]]);
    for (const e of await Promise.all(heard)) {
      assertReactionEvent(e, { messageId, chatId, userId: B, emoji: '👍' }, 'reaction_removed');
      assert.deepEqual(byEmoji(e.reactions), [['👍', [A]], ['❤️', [A]]]);
    }
    heard = room.map((s) => once(s, 'reaction_removed'));
    ack = assertAckOk(await emitAck(aliceSocket, 'remove_reaction', { messageId, emoji: '❤️' }));
    assert.deepEqual(reactionSummary(ack.reactions), [['👍', [A], true]]);
    for (const e of await Promise.all(heard)) assertReactionEvent(e, { messageId, chatId, userId: A, emoji: '❤️' }, 'reaction_removed');
    const [m] = (await history(bob, chatId, '?limit=1&page=2')).messages;
    assertMessage(m, { id: messageId, reactions: [{ emoji: '👍', count: 1, users: [A], reacted: false }] });
  });

  test(`[${name}] reactions are for members, on live messages, one emoji of at most 64 bytes; anything else is refused and tells nobody`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const mallory = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    const mallorySocket = await connect(t, mallory.token, opts);
    await joinChat(aliceSocket, chatId);
    await joinChat(bobSocket, chatId);
    const message = await restSend(alice, chatId, { content: 'hi' });
    const gone = await restSend(alice, chatId, { content: 'gone' });
    const deleted = once(bobSocket, 'message_deleted');
    assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: gone.id }));
    await deleted;

    const quiet = [aliceSocket, bobSocket].flatMap((s) => [
      expectNoEvent(s, 'reaction_added', QUIET_MS),
      expectNoEvent(s, 'reaction_removed', QUIET_MS),
    ]);
    const tooLong = Array(10).fill('👨').join('\u200d'); // one ZWJ sequence of 67 bytes
    assert.ok(Buffer.byteLength(tooLong) > 64);
    for (const emoji of ['', 'ok', '👍👍', '<script>', tooLong, '😀'.repeat(17), 'a👍', '#']) {
      for (const event of ['add_reaction', 'remove_reaction']) {
        assertAckError(await emitAck(bobSocket, event, { messageId: message.id, emoji }), 'VALIDATION', `${event} ${JSON.stringify(emoji)}`);
      }
    }
    for (const event of ['add_reaction', 'remove_reaction']) {
      assertAckError(await emitAck(mallorySocket, event, { messageId: message.id, emoji: '👍' }), 'FORBIDDEN', `${event} by an outsider`);
      assertAckError(await emitAck(bobSocket, event, { messageId: gone.id, emoji: '👍' }), 'NOT_FOUND', `${event} on a deleted message`);
      assertAckError(await emitAck(bobSocket, event, { messageId: '987654321', emoji: '👍' }), 'NOT_FOUND', `${event} on no message`);
    }
    await Promise.all(quiet);
    assert.deepEqual(await reactionsIn(alice, chatId, message.id), [], 'nothing stored');

    // One emoji may be several code points: a skin tone, a ZWJ sequence, a flag, a keycap.
    const fine = ['👍🏽', '👨‍👩‍👧', '🇯🇵', '❤️', '1️⃣'];
    for (const emoji of fine) {
      const heard = once(aliceSocket, 'reaction_added');
      const ack = assertAckOk(await emitAck(bobSocket, 'add_reaction', { messageId: message.id, emoji }), `add_reaction ${emoji}`);
      assert.equal(ack.reactions.at(-1).emoji, emoji);
      assert.equal((await heard).emoji, emoji);
    }
    assert.deepEqual((await reactionsIn(alice, chatId, message.id)).map((r) => r.emoji), fine);
  });
}

test('REST reactions: POST /api/chats/messages/:messageId/reactions { emoji }, DELETE .../reactions/:emoji; the same rules', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const bobSocket = await connect(t, bob.token, { transports: null });
  await joinChat(bobSocket, chatId);
  const message = await restSend(bob, chatId, { content: 'rest' });
  const A = String(alice.id);

  const added = once(bobSocket, 'reaction_added');
  const res = await restReact(alice, message.id, '🎉');
  // chats.md does not say 200 or 201 for a reaction added.
  assert.ok(res.status === 200 || res.status === 201, `POST reactions: ${res.status} ${res.text}`);
  const data = assertReactionAnswer(assertRestOk(res, res.status, 'POST reactions'), { messageId: message.id, chatId });
  assert.deepEqual(data.reactions, [{ emoji: '🎉', count: 1, users: [A], reacted: true }]);
  assertReactionEvent(await added, { messageId: message.id, chatId, userId: A, emoji: '🎉' }, 'reaction_added');

  // A repeat answers the same and tells nobody; so does removing one never added.
  let quiet = [expectNoEvent(bobSocket, 'reaction_added', QUIET_MS), expectNoEvent(bobSocket, 'reaction_removed', QUIET_MS)];
  const again = await restReact(alice, message.id, '🎉');
  assert.ok(again.status === 200 || again.status === 201, `a repeat: ${again.status}`);
  assert.deepEqual(again.body.data, data);
  const never = assertRestOk(await restUnreact(alice, message.id, '👍'), 200, 'DELETE one never added');
  assert.deepEqual(never, data);
  await Promise.all(quiet);

  const removed = once(bobSocket, 'reaction_removed');
  const gone = assertRestOk(await restUnreact(alice, message.id, '🎉'), 200, 'DELETE reactions/🎉');
  assert.deepEqual(gone, { messageId: message.id, chatId, reactions: [] });
  assertReactionEvent(await removed, { messageId: message.id, chatId, userId: A, emoji: '🎉' }, 'reaction_removed');

  quiet = [expectNoEvent(bobSocket, 'reaction_added', QUIET_MS)];
  for (const emoji of ['', 'ok', '👍👍', '<script>', '😀'.repeat(17)]) {
    assertRestError(await restReact(alice, message.id, emoji), 400, 'VALIDATION', `POST ${JSON.stringify(emoji)}`);
  }
  assertRestError(await restUnreact(alice, message.id, 'ok'), 400, 'VALIDATION', 'DELETE reactions/ok');
  assertRestError(await restUnreact(alice, message.id, '<script>'), 400, 'VALIDATION', 'DELETE reactions/<script>');
  assertRestError(await restReact(mallory, message.id, '🎉'), 403, 'FORBIDDEN', 'POST by an outsider');
  assertRestError(await restUnreact(mallory, message.id, '🎉'), 403, 'FORBIDDEN', 'DELETE by an outsider');
  assertRestError(await restReact(alice, '987654321', '🎉'), 404, 'NOT_FOUND', 'POST on no message');
  assertRestError(await restReact(alice, message.id), 400, 'VALIDATION', 'no emoji');
  const del = assertRestOk(await api('DELETE', `/chats/messages/${message.id}`, { token: bob.token }), 200, 'delete the message');
  assert.equal(del.forEveryone, true);
  assertRestError(await restReact(alice, message.id, '🎉'), 404, 'NOT_FOUND', 'POST on a deleted message');
  assertRestError(await restUnreact(alice, message.id, '🎉'), 404, 'NOT_FOUND', 'DELETE on a deleted message');
  await Promise.all(quiet);
});
