// Archiving and muting: archive / unarchive move a chat between the member's active and archived
// lists, a new message brings an archived chat back unless the member muted it, unmuting keeps it
// archived until the next message; each answers the chat as the member sees it now.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertRestError, connect, newUser, once } from '../helpers.mjs';
import {
  TRANSPORTS,
  api,
  assertChat,
  assertPagination,
  chatAction,
  getChat,
  joinChat,
  listChats,
  listIds,
  openChat,
  restSend,
} from './helpers.mjs';

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] archive moves the chat to the member's archived list; they still hear it; a new message brings it back to active`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const chatId = await openChat(alice, bob);
    await restSend(bob, chatId, { content: 'first' });
    const aliceSocket = await connect(t, alice.token, opts);
    await joinChat(aliceSocket, chatId);

    const archived = await chatAction(alice, chatId, 'archive');
    assertChat(archived, [alice, bob], { id: chatId, isArchived: true, isMuted: false, status: 'accepted' });
    assert.deepEqual(await listIds(alice, 'active'), []);
    const list = await listChats(alice, 'archived');
    assertPagination(list.pagination, { page: 1, limit: 20, total: 1, totalPages: 1 });
    assertChat(list.chats[0], [alice, bob], { id: chatId, isArchived: true });
    assert.equal((await getChat(alice, chatId)).isArchived, true);
    // Archiving again changes nothing.
    assertChat(await chatAction(alice, chatId, 'archive'), [alice, bob], { isArchived: true });
    // It is alice's own setting: bob's chat is where it was.
    assert.equal((await getChat(bob, chatId)).isArchived, false);
    assert.deepEqual(await listIds(bob, 'active'), [chatId]);
    assert.deepEqual(await listIds(bob, 'archived'), []);

    // A member still, and still in the room.
    const heard = once(aliceSocket, 'message_received');
    const m = await restSend(bob, chatId, { content: 'are you there?' });
    assert.deepEqual(await heard, m);
    assert.deepEqual(await listIds(alice, 'active'), [chatId], 'the new message brought it back');
    assert.deepEqual(await listIds(alice, 'archived'), []);
    assertChat(await getChat(alice, chatId), [alice, bob], { isArchived: false, lastMessage: 'are you there?' });

    // unarchive moves it back too.
    await chatAction(alice, chatId, 'archive');
    const back = await chatAction(alice, chatId, 'unarchive');
    assertChat(back, [alice, bob], { id: chatId, isArchived: false });
    assert.deepEqual(await listIds(alice, 'active'), [chatId]);
    assert.deepEqual(await listIds(alice, 'archived'), []);
  });
}

test('muted and archived: a new message leaves it archived; unmuting keeps it archived until the next message', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);

  const muted = await chatAction(alice, chatId, 'mute');
  assertChat(muted, [alice, bob], { id: chatId, isMuted: true, isArchived: false });
  assert.equal((await getChat(bob, chatId)).isMuted, false, 'muting is the member\'s own setting');
  assertChat(await chatAction(alice, chatId, 'archive'), [alice, bob], { isMuted: true, isArchived: true });

  await restSend(bob, chatId, { content: 'psst' });
  assertChat(await getChat(alice, chatId), [alice, bob], { isMuted: true, isArchived: true, lastMessage: 'psst' });
  assert.deepEqual(await listIds(alice, 'archived'), [chatId], 'muted: still archived');
  assert.deepEqual(await listIds(alice, 'active'), []);

  const unmuted = await chatAction(alice, chatId, 'unmute');
  assertChat(unmuted, [alice, bob], { id: chatId, isMuted: false, isArchived: true });
  assert.deepEqual(await listIds(alice, 'archived'), [chatId], 'unmuting keeps it archived');
  assert.deepEqual(await listIds(alice, 'active'), []);

  await restSend(bob, chatId, { content: 'hello again' });
  assertChat(await getChat(alice, chatId), [alice, bob], { isMuted: false, isArchived: false });
  assert.deepEqual(await listIds(alice, 'active'), [chatId], 'the next message brings it back');
  assert.deepEqual(await listIds(alice, 'archived'), []);

  // Muting a chat that a new message brought back from the archive leaves it active (muting
  // never archives), and a new message keeps it there.
  assertChat(await chatAction(alice, chatId, 'mute'), [alice, bob], { isMuted: true, isArchived: false });
  assertChat(await getChat(alice, chatId), [alice, bob], { isMuted: true, isArchived: false });
  assert.deepEqual(await listIds(alice, 'active'), [chatId], 'muting does not archive');
  assert.deepEqual(await listIds(alice, 'archived'), [], 'muting does not archive');
  await restSend(bob, chatId, { content: 'muted, not archived' });
  assert.deepEqual(await listIds(alice, 'active'), [chatId]);
  assert.deepEqual(await listIds(alice, 'archived'), []);
});

test('archive, unarchive, mute, unmute: unknown chats are NOT_FOUND, outsiders FORBIDDEN, malformed ids VALIDATION', async () => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  for (const action of ['archive', 'unarchive', 'mute', 'unmute']) {
    assertRestError(await api('POST', `/chats/987654321/${action}`, { token: alice.token }), 404, 'NOT_FOUND', action);
    assertRestError(await api('POST', `/chats/${chatId}/${action}`, { token: mallory.token }), 403, 'FORBIDDEN', action);
    assertRestError(await api('POST', `/chats/abc/${action}`, { token: alice.token }), 400, 'VALIDATION', action);
    assertRestError(await api('POST', `/chats/${chatId}/${action}`), 401, 'UNAUTHORIZED', action);
  }
  assertChat(await getChat(alice, chatId), [alice, bob], { isArchived: false, isMuted: false });
});
