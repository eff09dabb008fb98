// Every id parley sends in the sessions protocol is a JSON string (chat, message, user ids,
// whatever JSON type the token gave the user); every id it reads may be a string or a number.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAckOk, connect, emitAck, newUser, once } from '../helpers.mjs';
import { TRANSPORTS, assertStringId, assertRestOk, history, v1 } from './helpers.mjs';

/** Walks a scenario between `alice` and `bob` and checks every id on the way is `String(id)`. */
async function walk(t, alice, bob, opts) {
  const A = String(alice.id);
  const B = String(bob.id);
  const aliceSocket = await connect(t, alice.token, opts);
  const bobSocket = await connect(t, bob.token, opts);
  const str = (v, what) => assert.equal(typeof v, 'string', `${what} should be a string: ${JSON.stringify(v)}`);

  // create_chat with the target id in the JSON type the token gave it.
  const created = once(bobSocket, 'chat_created');
  const chat = assertAckOk(await emitAck(aliceSocket, 'create_chat', { type: 'DIRECT', targetUserId: bob.id }));
  assertStringId(chat.id, 'chat.id');
  assert.deepEqual(chat.participants.map((p) => p.userId).sort(), [A, B].sort());
  for (const p of chat.participants) {
    str(p.userId, 'participant.userId');
    assert.equal(p.user.id, p.userId, 'participant.user.id');
  }
  const c = await created;
  assert.equal(c.chatId, chat.id);
  assert.deepEqual([...c.participantIds].sort(), [A, B].sort());
  c.participantIds.forEach((id) => str(id, 'participantIds[]'));

  // send_message with chatId as a number; everything comes back as strings.
  const received = once(bobSocket, 'message_received');
  const sent = once(aliceSocket, 'message_sent');
  const m = assertAckOk(await emitAck(aliceSocket, 'send_message', { chatId: Number(chat.id), content: 'ids' }));
  assertStringId(m.id, 'message.id');
  assert.equal(m.chatId, chat.id);
  assert.equal(m.senderId, A);
  assert.equal(m.sender.id, A);
  assert.deepEqual(await received, m);
  assert.equal((await sent).chatId, chat.id);

  // The reply, with chatId as a string.
  const r = assertAckOk(await emitAck(bobSocket, 'send_message', { chatId: chat.id, content: 'back' }));
  assert.equal(r.senderId, B);

  // Events that carry a user id.
  const read = once(aliceSocket, 'messages_read');
  const ack = assertAckOk(await emitAck(bobSocket, 'mark_as_read', { chatId: Number(chat.id) }));
  assert.deepEqual([ack.chatId, ack.userId], [chat.id, B]);
  assert.deepEqual(await read, ack);
  const typing = once(aliceSocket, 'user_typing');
  assert.deepEqual(assertAckOk(await emitAck(bobSocket, 'typing_start', { chatId: Number(chat.id) })), { chatId: chat.id });
  assert.deepEqual(await typing, { chatId: chat.id, userId: B });
  assert.deepEqual(assertAckOk(await emitAck(bobSocket, 'typing_stop', { chatId: chat.id })), { chatId: chat.id });
  const joined = assertAckOk(await emitAck(aliceSocket, 'join_chat', { chatId: Number(chat.id) }));
  assert.equal(joined.chatId, chat.id);
  const left = once(aliceSocket, 'user_left_chat');
  assert.equal(assertAckOk(await emitAck(bobSocket, 'leave_chat', { chatId: Number(chat.id) })).chatId, chat.id);
  assert.deepEqual(await left, { chatId: chat.id, userId: B });

  // REST: the list, the details, the history, the unread count.
  const list = assertRestOk(await v1('GET', '/sessions', { token: alice.token }), 200);
  assert.equal(list.sessions[0].id, chat.id);
  const detail = assertRestOk(await v1('GET', `/sessions/${chat.id}`, { token: bob.token }), 200);
  assert.deepEqual(detail.participants.map((p) => p.userId).sort(), [A, B].sort());
  const page = await history(alice, chat.id);
  assert.deepEqual(page.messages.map((x) => x.senderId), [A, B]);
  page.messages.forEach((x) => { assertStringId(x.id); assertStringId(x.chatId); });
  const unread = assertRestOk(await v1('GET', `/sessions/${chat.id}/unread`, { token: alice.token }), 200);
  assert.equal(unread.chatId, chat.id);
  return chat;
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] users with a numeric sub appear with string ids everywhere`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    assert.equal(typeof alice.id, 'number');
    await walk(t, alice, bob, opts);
  });
}

test('users with a string sub keep their id, as a string', async (t) => {
  const alice = newUser({ string: true, prefix: 'alice' });
  const bob = newUser({ string: true, prefix: 'bob' });
  await walk(t, alice, bob, {});
});

test('a numeric-sub user named by a string targetUserId is the same user (and the same chat)', async (t) => {
  const alice = newUser({ string: true, prefix: 'alice' });
  const bob = newUser();
  const byNumber = assertRestOk(
    await v1('POST', '/sessions', { token: alice.token, body: { type: 'DIRECT', targetUserId: bob.id } }),
    201,
  );
  const byString = assertRestOk(
    await v1('POST', '/sessions', { token: alice.token, body: { type: 'DIRECT', targetUserId: String(bob.id) } }),
    200,
  );
  assert.equal(byString.id, byNumber.id);
  // Bob, whose token says sub: <number>, sees the chat under his string id.
  const bobSocket = await connect(t, bob.token);
  const m = assertAckOk(await emitAck(bobSocket, 'send_message', { chatId: byNumber.id, content: 'hi' }));
  assert.equal(m.senderId, String(bob.id));
});
