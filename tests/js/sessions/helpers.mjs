// Helpers of the `sessions` suite: a frontend written from shared/seeds/001_ce074002c2e62a93.md,
// checked against docs/protocols/sessions.md (REST under /api/v1/chat, Socket.IO events
// join_chat, send_message, message_received ..., every id a JSON string).

import assert from 'node:assert/strict';
import { assertTimestamp, assertUserObject, http } from '../helpers.mjs';

/**
 * How long a bounded absence check watches (an event that must not come). Everything here runs on
 * one machine, where an event that does come arrives within milliseconds.
 */
export const QUIET_MS = 700;

/** The socket transports every socket test runs on (options for `connect`). */
export const TRANSPORTS = [
  { name: 'websocket', opts: {} },
  // socket.io-client's default: long-polling first, then an upgrade to WebSocket.
  { name: 'polling then upgrade', opts: { transports: null } },
];

/** The same, plus long-polling only (for the central send test). */
export const ALL_TRANSPORTS = [...TRANSPORTS, { name: 'polling only', opts: { transports: ['polling'] } }];

/** `http` under `/api/v1/chat`. */
export function v1(method, path, opts) {
  return http(method, `/api/v1/chat${path}`, opts);
}

/** A successful REST answer with `status`; returns its `data`. */
export function assertRestOk(res, status, what = 'response') {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text}`);
  assert.ok(res.body, `${what}: the body should be JSON, got ${JSON.stringify(res.text)}`);
  assert.equal(res.body.success, true, `${what}: success should be true (${res.text})`);
  if (res.body.message !== undefined) assert.equal(typeof res.body.message, 'string');
  assert.ok('data' in res.body, `${what}: data missing (${res.text})`);
  return res.body.data;
}

/**
 * `POST /sessions {type:'DIRECT', targetUserId}` as `a` towards `b`; asserts `expectStatus`
 * (201 or 200; either when null) and returns `{ chat, status }`.
 */
export async function createDirect(a, b, { expectStatus = null, targetUserId = b.id } = {}) {
  const res = await v1('POST', '/sessions', {
    token: a.token,
    body: { type: 'DIRECT', targetUserId },
  });
  if (expectStatus === null) {
    assert.ok(res.status === 200 || res.status === 201, `POST /sessions: ${res.status} ${res.text}`);
  }
  const chat = assertRestOk(res, expectStatus ?? res.status, 'POST /sessions');
  return { chat, status: res.status };
}

/** Opens the direct chat of `a` and `b` over REST; returns its id (a string). */
export async function openChat(a, b) {
  const { chat } = await createDirect(a, b);
  return chat.id;
}

/** `POST /sessions/:id/messages` as `user`; asserts `status` (201) and returns the message. */
export async function restSend(user, chatId, body, { headers, status = 201 } = {}) {
  const res = await v1('POST', `/sessions/${chatId}/messages`, { token: user.token, body, headers });
  return assertRestOk(res, status, `POST /sessions/${chatId}/messages`);
}

/** `GET /sessions/:id/messages` as `user`; returns `{ messages, pagination }`. */
export async function history(user, chatId, query = '') {
  const res = await v1('GET', `/sessions/${chatId}/messages${query}`, { token: user.token });
  const data = assertRestOk(res, 200, `GET /sessions/${chatId}/messages${query}`);
  assert.ok(Array.isArray(data.messages), 'messages should be an array');
  assertPagination(data.pagination);
  return data;
}

/** `GET /sessions/:id` as `user`; returns the chat. */
export async function getChat(user, chatId) {
  const res = await v1('GET', `/sessions/${chatId}`, { token: user.token });
  return assertRestOk(res, 200, `GET /sessions/${chatId}`);
}

/** `GET /sessions/:id/unread` as `user`; returns `unreadCount`. */
export async function unreadCount(user, chatId) {
  const res = await v1('GET', `/sessions/${chatId}/unread`, { token: user.token });
  const data = assertRestOk(res, 200, `GET /sessions/${chatId}/unread`);
  assert.deepEqual(data, { chatId: String(chatId), unreadCount: data.unreadCount });
  assert.equal(typeof data.unreadCount, 'number');
  return data.unreadCount;
}

/** A JSON string id (a chat or message id: digits). */
export function assertStringId(value, what = 'id') {
  assert.equal(typeof value, 'string', `${what} should be a JSON string, got ${JSON.stringify(value)}`);
  assert.match(value, /^\d+$/, `${what} should be a string of digits`);
}

/** `{ page, limit, total, totalPages }`, all numbers; `expected` values if given. */
export function assertPagination(p, expected = {}) {
  assert.equal(typeof p, 'object', `pagination should be an object, got ${JSON.stringify(p)}`);
  assert.notEqual(p, null);
  for (const k of ['page', 'limit', 'total', 'totalPages']) {
    assert.equal(typeof p[k], 'number', `pagination.${k} should be a number (${JSON.stringify(p)})`);
  }
  for (const [k, v] of Object.entries(expected)) {
    assert.equal(p[k], v, `pagination.${k} (in ${JSON.stringify(p)})`);
  }
}

const MESSAGE_KEYS = [
  'id', 'chatId', 'senderId', 'content', 'type', 'attachmentUrl', 'replyToId', 'seq',
  'clientMsgId', 'isEdited', 'editedAt', 'isDeleted', 'deletedAt', 'createdAt', 'updatedAt',
  'sender',
];

/**
 * A `ChatMessage` as docs/protocols/sessions.md shows it; `expected` fields must match.
 * `sender` in `expected` is `{ id, name }` of the sender.
 */
export function assertMessage(m, expected = {}, what = 'message') {
  assert.equal(typeof m, 'object', `${what} should be an object, got ${JSON.stringify(m)}`);
  assert.notEqual(m, null, `${what} should not be null`);
  for (const k of MESSAGE_KEYS) {
    assert.ok(k in m, `${what}.${k} is missing (in ${JSON.stringify(m)})`);
  }
  assertStringId(m.id, `${what}.id`);
  assertStringId(m.chatId, `${what}.chatId`);
  assert.equal(typeof m.senderId, 'string', `${what}.senderId should be a string`);
  assert.equal(typeof m.content, 'string');
  assert.equal(m.type, 'TEXT', `${what}.type`);
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1, `${what}.seq should be a positive integer`);
  assert.equal(m.replyToId, null, `${what}.replyToId`);
  assert.equal(m.isEdited, false, `${what}.isEdited`);
  assert.equal(m.editedAt, null, `${what}.editedAt`);
  assert.equal(m.isDeleted, false, `${what}.isDeleted`);
  assert.equal(m.deletedAt, null, `${what}.deletedAt`);
  assertTimestamp(m.createdAt, `${what}.createdAt`);
  assertTimestamp(m.updatedAt, `${what}.updatedAt`);
  assertUserObject(m.sender, { id: m.senderId }, `${what}.sender`);
  const { sender, ...rest } = expected;
  for (const [k, v] of Object.entries(rest)) {
    assert.deepEqual(m[k], v, `${what}.${k} (in ${JSON.stringify(m)})`);
  }
  if (sender) assertUserObject(m.sender, sender, `${what}.sender`);
}

const CHAT_KEYS = [
  'id', 'type', 'name', 'lastMessagePreview', 'lastMessageAt', 'lastSeq', 'unreadCount',
  'createdAt', 'updatedAt', 'participants',
];

/**
 * A direct `ChatSession` as its member sees it, between the users `members` (objects with `id`);
 * its participants are `{ userId, role: 'MEMBER', joinedAt, user }`. `expected` fields must match.
 */
export function assertChat(c, members, expected = {}, what = 'chat') {
  assert.equal(typeof c, 'object', `${what} should be an object, got ${JSON.stringify(c)}`);
  assert.notEqual(c, null);
  for (const k of CHAT_KEYS) {
    assert.ok(k in c, `${what}.${k} is missing (in ${JSON.stringify(c)})`);
  }
  assertStringId(c.id, `${what}.id`);
  assert.equal(c.type, 'DIRECT', `${what}.type`);
  assert.equal(c.name, null, `${what}.name`);
  assert.equal(typeof c.lastSeq, 'number', `${what}.lastSeq`);
  assert.equal(typeof c.unreadCount, 'number', `${what}.unreadCount`);
  assertTimestamp(c.createdAt, `${what}.createdAt`);
  assertTimestamp(c.updatedAt, `${what}.updatedAt`);
  if (c.lastMessageAt !== null) assertTimestamp(c.lastMessageAt, `${what}.lastMessageAt`);
  assert.ok(Array.isArray(c.participants), `${what}.participants should be an array`);
  assert.deepEqual(
    c.participants.map((p) => p.userId).sort(),
    members.map((u) => String(u.id)).sort(),
    `${what}.participants are the members, by string id`,
  );
  for (const p of c.participants) {
    assert.equal(typeof p.userId, 'string', `${what}: participant userId should be a string`);
    assert.equal(p.role, 'MEMBER', `${what}: participant role`);
    assertTimestamp(p.joinedAt, `${what}: participant joinedAt`);
    assertUserObject(p.user, { id: p.userId }, `${what}: participant user`);
  }
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(c[k], v, `${what}.${k} (in ${JSON.stringify(c)})`);
  }
}

/** The participant entry of `user` in `chat`. */
export function participant(chat, user) {
  const p = chat.participants.find((x) => x.userId === String(user.id));
  assert.ok(p, `no participant ${user.id} in ${JSON.stringify(chat.participants)}`);
  return p;
}
