// Edits (edit_message or REST PATCH within EDIT_WINDOW_SECS, message_edited, isEdited) and
// deletes for everyone (delete_message, message_deleted with forEveryone: true, a tombstone in
// the history); only the sender may.

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
  EDIT_WINDOW_SECS,
  QUIET_MS,
  TRANSPORTS,
  api,
  assertDeleted,
  assertMessage,
  assertRestOk,
  getChat,
  history,
  joinChat,
  openChat,
  socketSend,
} from './helpers.mjs';

/** Alice (two tabs, both in the room) and Bob (in the room), sharing an accepted chat. */
async function pair(t, opts) {
  const alice = newUser({ name: 'Alice' });
  const bob = newUser({ name: 'Bob' });
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token, opts);
  const aliceOtherTab = await connect(t, alice.token, opts);
  const bobSocket = await connect(t, bob.token, opts);
  for (const s of [aliceSocket, aliceOtherTab, bobSocket]) await joinChat(s, chatId);
  return { alice, bob, chatId, aliceSocket, aliceOtherTab, bobSocket };
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] edit_message by the sender: the ack and message_edited are the message edited (isEdited, editedAt); the history has it`, async (t) => {
    const { alice, bob, chatId, aliceSocket, aliceOtherTab, bobSocket } = await pair(t, opts);
    const sent = await socketSend(aliceSocket, { chatId, content: 'helo' });

    const heard = [aliceSocket, aliceOtherTab, bobSocket].map((s) => once(s, 'message_edited'));
    const edited = assertAckOk(
      await emitAck(aliceSocket, 'edit_message', { messageId: sent.id, content: 'hello' }),
      'edit_message',
    );
    assertMessage(edited, {
      id: sent.id,
      chatId,
      senderId: String(alice.id),
      seq: sent.seq,
      content: 'hello',
      isEdited: true,
      createdAt: sent.createdAt,
    });
    assert.ok(Date.parse(edited.editedAt) >= Date.parse(sent.createdAt), 'editedAt is not before createdAt');
    for (const event of await Promise.all(heard)) assert.deepEqual(event, edited);

    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages, [edited]);
    assert.equal((await getChat(alice, chatId)).lastSeq, 1, 'an edit is not a new message');

    // The messageId may be a number; the new content follows the rules of a send.
    const again = assertAckOk(
      await emitAck(aliceSocket, 'edit_message', { messageId: Number(sent.id), content: 'hello!' }),
    );
    assert.equal(again.content, 'hello!');
    assertAckError(
      await emitAck(aliceSocket, 'edit_message', { messageId: sent.id, content: '' }),
      'VALIDATION',
      'an edit to empty content',
    );
  });

  test(`[${name}] only the sender edits or deletes: others are FORBIDDEN, nothing changes and nobody hears of it`, async (t) => {
    const { bob, chatId, aliceSocket, bobSocket } = await pair(t, opts);
    const mallory = newUser();
    const mallorySocket = await connect(t, mallory.token, opts);
    const sent = await socketSend(aliceSocket, { chatId, content: 'mine' });

    const quiet = [aliceSocket, bobSocket].flatMap((s) => [
      expectNoEvent(s, 'message_edited', QUIET_MS),
      expectNoEvent(s, 'message_deleted', QUIET_MS),
    ]);
    for (const socket of [bobSocket, mallorySocket]) {
      assertAckError(
        await emitAck(socket, 'edit_message', { messageId: sent.id, content: 'yours now' }),
        'FORBIDDEN',
        'edit_message of another\'s message',
      );
      assertAckError(
        await emitAck(socket, 'delete_message', { messageId: sent.id }),
        'FORBIDDEN',
        'delete_message of another\'s message',
      );
    }
    assertAckError(
      await emitAck(aliceSocket, 'edit_message', { messageId: '987654321', content: 'x' }),
      'NOT_FOUND',
      'edit_message of an unknown message',
    );
    assertAckError(
      await emitAck(aliceSocket, 'delete_message', { messageId: 987654321 }),
      'NOT_FOUND',
      'delete_message of an unknown message',
    );
    await Promise.all(quiet);
    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages, [sent], 'unchanged');
  });

  test(`[${name}] delete_message by the sender: ack and message_deleted { messageId, chatId, deletedAt, forEveryone: true }; a tombstone stays in the history`, async (t) => {
    const { alice, bob, chatId, aliceSocket, aliceOtherTab, bobSocket } = await pair(t, opts);
    const first = await socketSend(aliceSocket, { chatId, content: 'oops' });
    const second = await socketSend(bobSocket, { chatId, content: 'what?' });

    const heard = [aliceSocket, aliceOtherTab, bobSocket].map((s) => once(s, 'message_deleted'));
    const ack = assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: first.id }), 'delete_message');
    assertDeleted(ack, { messageId: first.id, chatId, forEveryone: true }, 'delete_message ack');
    for (const event of await Promise.all(heard)) assert.deepEqual(event, ack);

    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages.map((m) => m.seq), [2, 1], 'the tombstone keeps its seq');
    assert.deepEqual(messages[0], second);
    assertMessage(messages[1], {
      id: first.id,
      chatId,
      senderId: String(alice.id),
      seq: 1,
      content: '',
      isDeleted: true,
      deletedAt: ack.deletedAt,
    });
    assert.equal((await getChat(alice, chatId)).lastSeq, 2);
  });

  test(`[${name}] REST: PATCH /api/chats/messages/:messageId { content } edits, DELETE deletes for everyone; the room hears both`, async (t) => {
    const { alice, bob, chatId, aliceOtherTab, bobSocket } = await pair(t, opts);
    const sent = await socketSend(bobSocket, { chatId, content: 'teh plan' });

    const edited = [aliceOtherTab, bobSocket].map((s) => once(s, 'message_edited'));
    const res = await api('PATCH', `/chats/messages/${sent.id}`, { token: bob.token, body: { content: 'the plan' } });
    const data = assertRestOk(res, 200, 'PATCH message');
    assertMessage(data, { id: sent.id, seq: sent.seq, senderId: String(bob.id), content: 'the plan', isEdited: true });
    for (const event of await Promise.all(edited)) assert.deepEqual(event, data);
    assert.deepEqual((await history(alice, chatId)).messages, [data]);

    // Only the sender, and the content follows the rules of a send.
    const quiet = expectNoEvent(bobSocket, 'message_edited', QUIET_MS);
    assertRestError(
      await api('PATCH', `/chats/messages/${sent.id}`, { token: alice.token, body: { content: 'mine now' } }),
      403,
      'FORBIDDEN',
      'PATCH by another member',
    );
    assertRestError(
      await api('PATCH', `/chats/messages/${sent.id}`, { token: bob.token, body: { content: '' } }),
      400,
      'VALIDATION',
      'PATCH to empty content',
    );
    assertRestError(
      await api('PATCH', '/chats/messages/987654321', { token: bob.token, body: { content: 'x' } }),
      404,
      'NOT_FOUND',
      'PATCH of an unknown message',
    );
    await quiet;

    const deleted = [aliceOtherTab, bobSocket].map((s) => once(s, 'message_deleted'));
    const del = assertRestOk(await api('DELETE', `/chats/messages/${sent.id}`, { token: bob.token }), 200, 'DELETE message');
    assertDeleted(del, { messageId: sent.id, chatId, forEveryone: true }, 'DELETE answer');
    for (const event of await Promise.all(deleted)) assert.deepEqual(event, del);
    const [tomb] = (await history(alice, chatId)).messages;
    assert.deepEqual(
      [tomb.id, tomb.isDeleted, tomb.content, tomb.deletedAt],
      [sent.id, true, '', del.deletedAt],
      `a tombstone: ${JSON.stringify(tomb)}`,
    );
  });

  test(`[${name}] an edit after EDIT_WINDOW_SECS is refused and changes nothing`, async (t) => {
    if (EDIT_WINDOW_SECS > 10) {
      t.skip(`EDIT_WINDOW_SECS is ${EDIT_WINDOW_SECS}: too long to wait out here`);
      return;
    }
    const { bob, chatId, aliceSocket, bobSocket } = await pair(t, opts);
    const sent = await socketSend(aliceSocket, { chatId, content: 'v1' });
    // Wait out the window on the server's clock (the message's createdAt), not a fixed sleep.
    const closes = Date.parse(sent.createdAt) + EDIT_WINDOW_SECS * 1000;
    while (Date.now() <= closes + 50) await new Promise((r) => setTimeout(r, 50));
    const quiet = expectNoEvent(bobSocket, 'message_edited', QUIET_MS);
    const ack = await emitAck(aliceSocket, 'edit_message', { messageId: sent.id, content: 'v2' });
    // chats.md gives no code for it; parley's other protocols say EDIT_WINDOW_EXPIRED (a 403).
    assert.equal(ack?.success, false, `an edit after the window: ${JSON.stringify(ack)}`);
    assert.ok(
      ['EDIT_WINDOW_EXPIRED', 'FORBIDDEN'].includes(ack.error?.code),
      `an edit after the window: ${JSON.stringify(ack)}`,
    );
    assert.equal(typeof ack.error.message, 'string');
    await quiet;
    const { messages } = await history(bob, chatId);
    assert.deepEqual(messages, [sent], 'unchanged');
    // Deleting has no window.
    assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: sent.id }), 'delete after the window');
  });
}
