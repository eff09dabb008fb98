// Helpers of the `chats` suite: a frontend written from shared/seeds/004_2b953986d8be2634.md,
// checked against docs/protocols/chats.md (REST under /api/chats and /api/users, Socket.IO events
// join_chat, send_message, message_received ..., objects with `_id` and `id`, every id a string).
//
// The server runs with PROTOCOLS=chats and DIRECT_REQUESTS on (the default with chats): a chat
// opened with or-create is a request until its recipient answers it.

import assert from 'node:assert/strict';
import { assertAckOk, assertTimestamp, assertUserObject, emitAck, http } from '../helpers.mjs';
import { QUIET_MS, TRANSPORTS, assertPagination, assertRestOk } from '../sessions/helpers.mjs';

export { QUIET_MS, TRANSPORTS, assertPagination, assertRestOk };

/** The server's EDIT_WINDOW_SECS (the harness shortens it for this suite). */
export const EDIT_WINDOW_SECS = Number(process.env.PARLEY_EDIT_WINDOW_SECS ?? 900);

/** A chat id no test ever makes. */
export const UNKNOWN_CHAT = '987654321';

/** `http` under `/api` (`/api/chats/...`, `/api/users/...`). */
export function api(method, path, opts) {
  return http(method, `/api${path}`, opts);
}

// ---------------------------------------------------------------------------------------------
// Chats over REST

/**
 * `POST /api/chats/or-create { recipientId }` as `user`; asserts `expectStatus` (201 or 200;
 * either when null) and returns `{ chat, status }`.
 */
export async function orCreate(user, recipientId, { expectStatus = null } = {}) {
  const res = await api('POST', '/chats/or-create', { token: user.token, body: { recipientId } });
  if (expectStatus === null) {
    assert.ok(res.status === 200 || res.status === 201, `POST /chats/or-create: ${res.status} ${res.text}`);
  }
  const chat = assertRestOk(res, expectStatus ?? res.status, 'POST /chats/or-create');
  return { chat, status: res.status };
}

/** `a` opens a request to `b` (201, pending); returns the chat as `a` sees it. */
export async function openRequest(a, b) {
  return (await orCreate(a, b.id, { expectStatus: 201 })).chat;
}

/** `POST /api/chats/:id/<action>` (accept, reject, archive, unarchive, mute, unmute) as `user`. */
export async function chatAction(user, chatId, action, status = 200) {
  const res = await api('POST', `/chats/${chatId}/${action}`, { token: user.token });
  return assertRestOk(res, status, `POST /chats/${chatId}/${action}`);
}

/** `a` opens the chat with `b` and `b` accepts it; returns the chat id (a string). */
export async function openChat(a, b) {
  const chat = await openRequest(a, b);
  const accepted = await chatAction(b, chat.id, 'accept');
  assert.equal(accepted.status, 'accepted');
  return chat.id;
}

/** `GET /api/chats/:id` as `user`; returns the chat. */
export async function getChat(user, chatId) {
  return assertRestOk(await api('GET', `/chats/${chatId}`, { token: user.token }), 200, `GET /chats/${chatId}`);
}

/** `GET /api/chats/<which>` (active, requests, archived) as `user`; returns `{ chats, pagination }`. */
export async function listChats(user, which, query = '') {
  const res = await api('GET', `/chats/${which}${query}`, { token: user.token });
  const data = assertRestOk(res, 200, `GET /chats/${which}${query}`);
  assert.deepEqual(Object.keys(data).sort(), ['chats', 'pagination'], `GET /chats/${which}: keys`);
  assert.ok(Array.isArray(data.chats), 'chats should be an array');
  assertPagination(data.pagination);
  return data;
}

/** The ids of the chats in `user`'s `which` list (first page, up to 100). */
export async function listIds(user, which) {
  return (await listChats(user, which, '?limit=100')).chats.map((c) => c.id);
}

/** `POST /api/chats/:id/messages` as `user`; asserts `status` (201) and returns the message. */
export async function restSend(user, chatId, body, { headers, status = 201 } = {}) {
  const res = await api('POST', `/chats/${chatId}/messages`, { token: user.token, body, headers });
  return assertRestOk(res, status, `POST /chats/${chatId}/messages`);
}

/** `GET /api/chats/:id/messages` as `user`; returns `{ messages, pagination, hasMore }`. */
export async function history(user, chatId, query = '') {
  const res = await api('GET', `/chats/${chatId}/messages${query}`, { token: user.token });
  const data = assertRestOk(res, 200, `GET /chats/${chatId}/messages${query}`);
  assert.deepEqual(Object.keys(data).sort(), ['hasMore', 'messages', 'pagination'], 'history keys');
  assert.ok(Array.isArray(data.messages), 'messages should be an array');
  assert.equal(typeof data.hasMore, 'boolean', 'hasMore should be a boolean');
  assertPagination(data.pagination);
  return data;
}

// ---------------------------------------------------------------------------------------------
// Sockets

/** `join_chat { chatId }` on `socket`; asserts the ack `{ chatId, lastSeq }` and returns it. */
export async function joinChat(socket, chatId) {
  const data = assertAckOk(await emitAck(socket, 'join_chat', { chatId }), `join_chat ${chatId}`);
  assert.deepEqual(Object.keys(data).sort(), ['chatId', 'lastSeq'], 'join_chat ack keys');
  assert.equal(data.chatId, String(chatId));
  assert.equal(typeof data.lastSeq, 'number');
  return data;
}

/** `send_message` on `socket`; asserts success and returns the message. */
export async function socketSend(socket, payload) {
  return assertAckOk(await emitAck(socket, 'send_message', payload), 'send_message');
}

// ---------------------------------------------------------------------------------------------
// Shapes

/** A JSON string id of digits (a chat or message id). */
export function assertStringId(value, what = 'id') {
  assert.equal(typeof value, 'string', `${what} should be a JSON string, got ${JSON.stringify(value)}`);
  assert.match(value, /^\d+$/, `${what} should be a string of digits`);
}

const USER_KEYS = ['_id', 'id', 'name', 'username', 'email', 'avatar'];

/** A user `{ _id, id, name, username, email, avatar }`; `expected` fields must match. */
export function assertUser(u, expected = {}, what = 'user') {
  assert.equal(typeof u, 'object', `${what} should be an object, got ${JSON.stringify(u)}`);
  assert.notEqual(u, null, `${what} should not be null`);
  for (const k of USER_KEYS) assert.ok(k in u, `${what}.${k} is missing (in ${JSON.stringify(u)})`);
  assertUserObject(u, {}, what);
  assert.equal(typeof u.id, 'string', `${what}.id should be a string`);
  assert.equal(u._id, u.id, `${what}._id and id`);
  for (const k of ['name', 'username', 'email', 'avatar']) {
    assert.ok(u[k] === null || typeof u[k] === 'string', `${what}.${k} should be a string or null`);
  }
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(u[k], v, `${what}.${k} (in ${JSON.stringify(u)})`);
  }
}

const MESSAGE_KEYS = [
  '_id', 'id', 'chatId', 'senderId', 'content', 'messageType', 'seq', 'clientMsgId', 'media',
  'replyTo', 'replyCount', 'reactions', 'isEdited', 'editedAt', 'isDeleted', 'deletedAt', 'createdAt',
  'updatedAt', 'sender',
];

const REPLY_TO_KEYS = ['_id', 'id', 'senderId', 'content', 'messageType', 'isDeleted'];

/**
 * A message's `replyTo`: `null`, or `{ _id, id, senderId, content, messageType, isDeleted }` of
 * the message replied to (`content` its first 100 characters, `""` once deleted).
 */
export function assertReplyTo(r, what = 'replyTo') {
  if (r === null) return;
  assert.equal(typeof r, 'object', `${what} should be null or an object, got ${JSON.stringify(r)}`);
  assert.deepEqual(Object.keys(r).sort(), [...REPLY_TO_KEYS].sort(), `${what} keys (${JSON.stringify(r)})`);
  assertStringId(r.id, `${what}.id`);
  assert.equal(r._id, r.id, `${what}._id and id`);
  assert.equal(typeof r.senderId, 'string', `${what}.senderId should be a string`);
  assert.equal(typeof r.content, 'string', `${what}.content`);
  assert.ok([...r.content].length <= 100, `${what}.content is at most 100 characters`);
  assert.equal(typeof r.messageType, 'string', `${what}.messageType`);
  assert.equal(typeof r.isDeleted, 'boolean', `${what}.isDeleted`);
  if (r.isDeleted) assert.equal(r.content, '', `${what}: a deleted message shows no content`);
}

/** `reactions`: `[{ emoji, count, users, reacted }]`, `count` the length of `users` (string ids). */
export function assertReactions(list, what = 'reactions') {
  assert.ok(Array.isArray(list), `${what} should be an array, got ${JSON.stringify(list)}`);
  for (const r of list) {
    assert.deepEqual(Object.keys(r).sort(), ['count', 'emoji', 'reacted', 'users'], `${what} entry keys (${JSON.stringify(r)})`);
    assert.equal(typeof r.emoji, 'string', `${what}: emoji`);
    assert.ok(Array.isArray(r.users), `${what}: users`);
    for (const u of r.users) assert.equal(typeof u, 'string', `${what}: user ids are strings`);
    assert.equal(new Set(r.users).size, r.users.length, `${what}: each user once`);
    assert.equal(r.count, r.users.length, `${what}: count is the number of users (${JSON.stringify(r)})`);
    assert.ok(r.count >= 1, `${what}: an emoji nobody uses is not listed`);
    assert.equal(typeof r.reacted, 'boolean', `${what}: reacted`);
  }
  assert.equal(new Set(list.map((r) => r.emoji)).size, list.length, `${what}: each emoji once`);
}

/**
 * A live text message as docs/protocols/chats.md shows it (no `media`; not edited, not deleted,
 * no reply, replies or reactions unless `expected` says so); `expected` fields must match; `sender` in
 * `expected` is checked as a user.
 */
export function assertMessage(m, expected = {}, what = 'message') {
  assert.equal(typeof m, 'object', `${what} should be an object, got ${JSON.stringify(m)}`);
  assert.notEqual(m, null, `${what} should not be null`);
  for (const k of MESSAGE_KEYS) assert.ok(k in m, `${what}.${k} is missing (in ${JSON.stringify(m)})`);
  assertStringId(m.id, `${what}.id`);
  assert.equal(m._id, m.id, `${what}._id and id`);
  assertStringId(m.chatId, `${what}.chatId`);
  assert.equal(typeof m.senderId, 'string', `${what}.senderId should be a string`);
  assert.equal(typeof m.content, 'string', `${what}.content`);
  assert.equal(m.messageType, 'text', `${what}.messageType`);
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1, `${what}.seq should be a positive integer`);
  assertTimestamp(m.createdAt, `${what}.createdAt`);
  assertTimestamp(m.updatedAt, `${what}.updatedAt`);
  assert.ok(Number.isInteger(m.replyCount) && m.replyCount >= 0, `${what}.replyCount`);
  assertReplyTo(m.replyTo, `${what}.replyTo`);
  assertReactions(m.reactions, `${what}.reactions`);
  const { sender, ...rest } = expected;
  const state = { isEdited: false, isDeleted: false, media: null, replyTo: null, replyCount: 0, reactions: [], ...rest };
  // editedAt / deletedAt: null unless edited / deleted; then a timestamp (or the value expected).
  if (!('editedAt' in rest)) {
    if (state.isEdited) assertTimestamp(m.editedAt, `${what}.editedAt`);
    else state.editedAt = null;
  }
  if (!('deletedAt' in rest)) {
    if (state.isDeleted) assertTimestamp(m.deletedAt, `${what}.deletedAt`);
    else state.deletedAt = null;
  }
  for (const [k, v] of Object.entries(state)) {
    assert.deepEqual(m[k], v, `${what}.${k} (in ${JSON.stringify(m)})`);
  }
  assertUser(m.sender, { id: m.senderId, ...(sender ?? {}) }, `${what}.sender`);
}

const CHAT_KEYS = [
  '_id', 'id', 'type', 'name', 'participants', 'status', 'initiator', 'isRequest', 'lastMessage',
  'lastMessageAt', 'lastSeq', 'unreadCount', 'isArchived', 'isMuted', 'isBlocked', 'createdAt',
  'updatedAt',
];

/**
 * A direct chat between the users `members` (objects with `id`), as one of them sees it;
 * `expected` fields must match.
 */
export function assertChat(c, members, expected = {}, what = 'chat') {
  assert.equal(typeof c, 'object', `${what} should be an object, got ${JSON.stringify(c)}`);
  assert.notEqual(c, null, `${what} should not be null`);
  for (const k of CHAT_KEYS) assert.ok(k in c, `${what}.${k} is missing (in ${JSON.stringify(c)})`);
  assertStringId(c.id, `${what}.id`);
  assert.equal(c._id, c.id, `${what}._id and id`);
  assert.equal(c.type, 'direct', `${what}.type`);
  assert.equal(c.name, null, `${what}.name`);
  assert.ok(['pending', 'accepted', 'rejected'].includes(c.status), `${what}.status: ${c.status}`);
  if (c.initiator !== null) assert.equal(typeof c.initiator, 'string', `${what}.initiator should be a string`);
  for (const k of ['isRequest', 'isArchived', 'isMuted', 'isBlocked']) {
    assert.equal(typeof c[k], 'boolean', `${what}.${k} should be a boolean`);
  }
  assert.ok(Number.isInteger(c.lastSeq) && c.lastSeq >= 0, `${what}.lastSeq`);
  assert.ok(Number.isInteger(c.unreadCount) && c.unreadCount >= 0, `${what}.unreadCount`);
  if (c.lastMessageAt !== null) assertTimestamp(c.lastMessageAt, `${what}.lastMessageAt`);
  assertTimestamp(c.createdAt, `${what}.createdAt`);
  assertTimestamp(c.updatedAt, `${what}.updatedAt`);
  assert.ok(Array.isArray(c.participants), `${what}.participants should be an array`);
  assert.deepEqual(
    c.participants.map((p) => p?.id).sort(),
    members.map((u) => String(u.id)).sort(),
    `${what}.participants are the members, by string id`,
  );
  for (const p of c.participants) assertUser(p, {}, `${what}: participant`);
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(c[k], v, `${what}.${k} (in ${JSON.stringify(c)})`);
  }
}

/** The participant `user` of `chat`. */
export function participant(chat, user) {
  const p = chat.participants.find((x) => x.id === String(user.id));
  assert.ok(p, `no participant ${user.id} in ${JSON.stringify(chat.participants)}`);
  return p;
}

/** `{ chatId, readBy, lastReadSeq, readAt }`. */
export function assertRead(r, { chatId, readBy, lastReadSeq }, what = 'read') {
  assert.equal(typeof r, 'object', `${what} should be an object, got ${JSON.stringify(r)}`);
  assert.notEqual(r, null);
  assert.deepEqual(Object.keys(r).sort(), ['chatId', 'lastReadSeq', 'readAt', 'readBy'], `${what} keys`);
  assert.equal(r.chatId, String(chatId), `${what}.chatId`);
  assert.equal(r.readBy, String(readBy), `${what}.readBy`);
  assert.equal(r.lastReadSeq, lastReadSeq, `${what}.lastReadSeq`);
  assertTimestamp(r.readAt, `${what}.readAt`);
}

// ---------------------------------------------------------------------------------------------
// Search, replies, reactions, deletes

/** A query string of `params` (values URL-encoded; undefined ones left out), `?...` or `''`. */
export function qs(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined);
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
}

/** The search route of chat `chatId`, or across the caller's chats when `chatId` is null. */
export function searchPath(chatId, params) {
  return `${chatId === null ? '/chats/search' : `/chats/${chatId}/search`}${qs(params)}`;
}

/**
 * `GET /api/chats/:chatId/search` (or `/api/chats/search` when `chatId` is null) as `user` with
 * `params` (`q`, `page`, `limit`, `cursor`); asserts 200 and the shape
 * `{ messages, pagination, hasMore, nextCursor }` (`pagination` only for pages by number, i.e.
 * without a cursor) and returns it.
 */
export async function search(user, chatId, params) {
  const path = searchPath(chatId, params);
  const data = assertRestOk(await api('GET', path, { token: user.token }), 200, `GET ${path}`);
  const byCursor = params.cursor !== undefined && params.cursor !== '';
  const keys = byCursor ? ['hasMore', 'messages', 'nextCursor'] : ['hasMore', 'messages', 'nextCursor', 'pagination'];
  assert.deepEqual(Object.keys(data).sort(), keys, `GET ${path}: keys`);
  assert.ok(Array.isArray(data.messages), 'messages should be an array');
  assert.equal(typeof data.hasMore, 'boolean', 'hasMore should be a boolean');
  if (!byCursor) assertPagination(data.pagination);
  assert.ok(data.nextCursor === null || typeof data.nextCursor === 'string', `nextCursor: ${JSON.stringify(data.nextCursor)}`);
  assert.equal(data.hasMore, data.nextCursor !== null, `hasMore exactly when there is a nextCursor (${JSON.stringify(data)})`);
  if (chatId !== null) for (const m of data.messages) assert.equal(m.chatId, String(chatId), 'a result of this chat');
  return data;
}

/** The ids of `search(...)`'s messages. */
export async function searchIds(user, chatId, params) {
  return (await search(user, chatId, params)).messages.map((m) => m.id);
}

/**
 * `GET /api/chats/messages/:messageId/replies` as `user`; asserts 200 and
 * `{ messages, pagination, hasMore }` and returns it.
 */
export async function replies(user, messageId, query = '') {
  const path = `/chats/messages/${messageId}/replies${query}`;
  const data = assertRestOk(await api('GET', path, { token: user.token }), 200, `GET ${path}`);
  assert.deepEqual(Object.keys(data).sort(), ['hasMore', 'messages', 'pagination'], 'replies keys');
  assert.ok(Array.isArray(data.messages));
  assert.equal(typeof data.hasMore, 'boolean');
  assertPagination(data.pagination);
  return data;
}

/** `{ messageId, chatId, reactions }`, the answer to a reaction. */
export function assertReactionAnswer(a, { messageId, chatId }, what = 'reaction answer') {
  assert.equal(typeof a, 'object', `${what} should be an object, got ${JSON.stringify(a)}`);
  assert.deepEqual(Object.keys(a).sort(), ['chatId', 'messageId', 'reactions'], `${what} keys (${JSON.stringify(a)})`);
  assert.equal(a.messageId, String(messageId), `${what}.messageId`);
  assert.equal(a.chatId, String(chatId), `${what}.chatId`);
  assertReactions(a.reactions, `${what}.reactions`);
  return a;
}

/** The reactions of a message as a user sees them: `[[emoji, users, reacted]]`, in order. */
export function reactionSummary(reactions) {
  return reactions.map((r) => [r.emoji, r.users, r.reacted]);
}

/** `POST /api/chats/messages/:messageId/reactions { emoji }` as `user`; returns the raw response. */
export function restReact(user, messageId, emoji) {
  return api('POST', `/chats/messages/${messageId}/reactions`, { token: user.token, body: { emoji } });
}

/** `DELETE /api/chats/messages/:messageId/reactions/:emoji` as `user`; returns the raw response. */
export function restUnreact(user, messageId, emoji) {
  return api('DELETE', `/chats/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`, { token: user.token });
}

/** `{ messageId, chatId, deletedAt, forEveryone }`, the answer to a delete. */
export function assertDeleted(d, { messageId, chatId, forEveryone }, what = 'delete') {
  assert.equal(typeof d, 'object', `${what} should be an object, got ${JSON.stringify(d)}`);
  assert.deepEqual(Object.keys(d).sort(), ['chatId', 'deletedAt', 'forEveryone', 'messageId'], `${what} keys (${JSON.stringify(d)})`);
  assert.equal(d.messageId, String(messageId), `${what}.messageId`);
  assert.equal(d.chatId, String(chatId), `${what}.chatId`);
  assert.equal(d.forEveryone, forEveryone, `${what}.forEveryone`);
  if (forEveryone) assertTimestamp(d.deletedAt, `${what}.deletedAt`);
  else assert.equal(d.deletedAt, null, `${what}.deletedAt: null for a delete for me`);
  return d;
}

/** Records every event `socket` hears, in order: `[[event, payload]]`. */
export function record(socket) {
  const seen = [];
  socket.onAny((event, payload) => seen.push([event, payload]));
  return seen;
}
