// Groups, roles, edits and deletes in the seed 001 vocabulary: a group created over
// `create_chat` and REST, membership changed by role, a removed member refused and out of the
// room, edits inside and outside the window, deletes by sender, by moderator, refused for a member.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckError,
  assertAckOk,
  connect,
  emitAck,
  expectNoEvent,
  newUser,
  once,
} from '../helpers.mjs';
import { assertRestOk, history, v1 } from './helpers.mjs';

/** Creates a group of `admin` with `members` over REST; returns the chat. */
async function createGroup(admin, members, name = 'Team') {
  const res = await v1('POST', '/sessions', {
    token: admin.token,
    body: { type: 'GROUP', name, participantIds: members.map((m) => m.id) },
  });
  return assertRestOk(res, 201, 'POST /sessions GROUP');
}

function roleOf(chat, user) {
  return chat.participants.find((p) => p.userId === String(user.id))?.role;
}

test('a group: roles, membership changes by role, and a removed member is out at once', async (t) => {
  const [ada, bob, cy, dee] = [newUser(), newUser(), newUser(), newUser()];
  const bobSocket = await connect(t, undefined, { auth: { token: bob.token } });
  const cySocket = await connect(t, undefined, { auth: { token: cy.token }, transports: null });

  // Created over create_chat: members already connected hear chat_created and are in the room.
  const created = once(bobSocket, 'chat_created');
  const adaSocket = await connect(t, ada.token);
  const ack = await emitAck(adaSocket, 'create_chat', {
    type: 'GROUP',
    name: 'Team',
    participantIds: [bob.id, String(cy.id)],
  });
  const group = assertAckOk(ack, 'create_chat');
  assert.equal(group.type, 'GROUP');
  assert.equal(group.name, 'Team');
  assert.equal(typeof group.id, 'string');
  assert.equal(roleOf(group, ada), 'ADMIN');
  assert.equal(roleOf(group, bob), 'MEMBER');
  assert.equal(roleOf(group, cy), 'MEMBER');
  const note = await created;
  assert.equal(note.chatId, group.id);

  const live = once(cySocket, 'message_received');
  assertAckOk(await emitAck(bobSocket, 'send_message', { chatId: group.id, content: 'hi all' }));
  assert.equal((await live).content, 'hi all');

  // A member cannot add or change roles; the admin can.
  const refused = await v1('POST', `/sessions/${group.id}/participants`, {
    token: bob.token,
    body: { userIds: [dee.id] },
  });
  assert.equal(refused.status, 403, refused.text);
  const promoted = await v1('PUT', `/sessions/${group.id}/participants/${bob.id}`, {
    token: ada.token,
    body: { role: 'MODERATOR' },
  });
  assert.equal(roleOf(assertRestOk(promoted, 200, 'set role'), bob), 'MODERATOR');
  const added = await v1('POST', `/sessions/${group.id}/participants`, {
    token: ada.token,
    body: { userIds: [dee.id] },
  });
  assert.equal(roleOf(assertRestOk(added, 200, 'add'), dee), 'MEMBER');

  // A moderator cannot remove the admin, but removes a member: the member's socket gets
  // chat_left, the room participant_left, and the member no longer hears or sends.
  const notAdmin = await v1('DELETE', `/sessions/${group.id}/participants/${ada.id}`, {
    token: bob.token,
  });
  assert.equal(notAdmin.status, 403, notAdmin.text);
  const left = once(cySocket, 'chat_left');
  const told = once(adaSocket, 'participant_left');
  const removed = await v1('DELETE', `/sessions/${group.id}/participants/${cy.id}`, {
    token: bob.token,
  });
  assertRestOk(removed, 200, 'remove');
  assert.equal((await left).chatId, group.id);
  const leaving = await told;
  assert.equal(leaving.userId, String(cy.id));
  assert.equal(leaving.removedBy, String(bob.id));

  const silent = expectNoEvent(cySocket, 'message_received');
  assertAckOk(await emitAck(adaSocket, 'send_message', { chatId: group.id, content: 'after' }));
  await silent;
  assertAckError(await emitAck(cySocket, 'send_message', { chatId: group.id, content: 'me?' }), 'FORBIDDEN');
  assertAckError(await emitAck(cySocket, 'join_chat', { chatId: group.id }), 'FORBIDDEN');
  const read = await v1('GET', `/sessions/${group.id}/messages`, { token: cy.token });
  assert.equal(read.status, 403, read.text);
  const { messages } = await history(ada, group.id);
  assert.deepEqual(
    messages.map((m) => m.content),
    ['hi all', 'after'],
    'the refused send stored nothing',
  );

  // The admin renames the group; the last admin leaving makes the eldest member admin.
  const renamed = await v1('PUT', `/sessions/${group.id}`, {
    token: ada.token,
    body: { name: 'Crew', description: 'the crew' },
  });
  const crew = assertRestOk(renamed, 200, 'rename');
  assert.equal(crew.name, 'Crew');
  assert.equal(crew.description, 'the crew');
  assertRestOk(await v1('DELETE', `/sessions/${group.id}`, { token: ada.token }), 200, 'leave');
  const after = assertRestOk(await v1('GET', `/sessions/${group.id}`, { token: bob.token }), 200, 'details');
  assert.equal(roleOf(after, bob), 'ADMIN');
  assert.equal(roleOf(after, ada), undefined);
});

test('edits within the window are kept and heard; deletes by sender and moderator, not by a member', async (t) => {
  const [ada, bob, cy] = [newUser(), newUser(), newUser()];
  const group = await createGroup(ada, [bob, cy]);
  const adaSocket = await connect(t, ada.token);
  const bobSocket = await connect(t, bob.token, { transports: null });

  const sent = assertAckOk(
    await emitAck(bobSocket, 'send_message', { chatId: group.id, content: 'helo', type: 'TEXT' }),
  );
  const heard = once(adaSocket, 'message_edited');
  const edited = assertAckOk(await emitAck(bobSocket, 'edit_message', { messageId: sent.id, content: 'hello' }));
  assert.equal(edited.content, 'hello');
  assert.equal(edited.isEdited, true);
  const e = await heard;
  assert.equal(e.id, sent.id);
  assert.equal(e.content, 'hello');
  assert.equal(typeof e.editedAt, 'string');

  // Someone else's message cannot be edited; over REST the same.
  assertAckError(await emitAck(adaSocket, 'edit_message', { messageId: sent.id, content: 'mine' }), 'FORBIDDEN');
  const rest = await v1('PUT', `/messages/${sent.id}`, { token: bob.token, body: { content: 'hello!' } });
  assert.equal(assertRestOk(rest, 200, 'PUT /messages/:id').content, 'hello!');

  // A member cannot delete another's message; the sender and a moderator can.
  const adaMsg = assertAckOk(await emitAck(adaSocket, 'send_message', { chatId: group.id, content: 'by ada' }));
  assertAckError(await emitAck(bobSocket, 'delete_message', { messageId: adaMsg.id }), 'FORBIDDEN');
  const promoted = await v1('PUT', `/sessions/${group.id}/participants/${bob.id}`, {
    token: ada.token,
    body: { role: 'moderator' },
  });
  assertRestOk(promoted, 200, 'promote');
  const gone = once(adaSocket, 'message_deleted');
  const del = assertAckOk(await emitAck(bobSocket, 'delete_message', { messageId: adaMsg.id }));
  assert.equal(del.messageId, adaMsg.id);
  assert.equal((await gone).messageId, adaMsg.id);
  const own = await v1('DELETE', `/messages/${sent.id}`, { token: bob.token });
  assertRestOk(own, 200, 'DELETE /messages/:id');
  // Deleted messages stay in the history as tombstones: their seq, no content, deletedAt set.
  const { messages } = await history(cy, group.id);
  assert.deepEqual(messages.map((m) => m.seq), [1, 2], 'no gap in seq');
  for (const m of messages) {
    assert.equal(m.isDeleted, true, JSON.stringify(m));
    assert.equal(typeof m.deletedAt, 'string');
    assert.equal(m.content, '', 'the content is erased');
    assert.equal(m.attachmentUrl, null);
  }
  // Their edit history went with them.
  const edits = await v1('GET', `/messages/${sent.id}/edits`, { token: bob.token });
  assert.deepEqual(assertRestOk(edits, 200, 'GET /messages/:id/edits').edits, []);
});

/** The server's EDIT_WINDOW_SECS (the harness shortens it for this suite). */
const EDIT_WINDOW_SECS = Number(process.env.PARLEY_EDIT_WINDOW_SECS ?? 900);

test('an edit after the window is refused with EDIT_WINDOW_EXPIRED and changes nothing', async (t) => {
  if (EDIT_WINDOW_SECS > 10) {
    t.skip(`EDIT_WINDOW_SECS is ${EDIT_WINDOW_SECS}: too long to wait out here`);
    return;
  }
  const [ada, bob] = [newUser(), newUser()];
  const group = await createGroup(ada, [bob]);
  const adaSocket = await connect(t, ada.token);
  const sent = assertAckOk(await emitAck(adaSocket, 'send_message', { chatId: group.id, content: 'v1' }));
  // Wait out the window on the server's clock (the message's createdAt), not a fixed sleep.
  const closes = Date.parse(sent.createdAt) + EDIT_WINDOW_SECS * 1000;
  while (Date.now() <= closes) await new Promise((r) => setTimeout(r, 50));
  assertAckError(
    await emitAck(adaSocket, 'edit_message', { messageId: sent.id, content: 'v2' }),
    'EDIT_WINDOW_EXPIRED',
  );
  const rest = await v1('PUT', `/messages/${sent.id}`, { token: ada.token, body: { content: 'v2' } });
  assert.equal(rest.status, 403, rest.text);
  assert.equal(rest.body.error.code, 'EDIT_WINDOW_EXPIRED');
  const { messages } = await history(bob, group.id);
  assert.equal(messages[0].content, 'v1');
  assert.equal(messages[0].isEdited, false);
});
