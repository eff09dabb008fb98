// Shared helpers for the parley end-to-end suite.
//
// The suite plays a frontend written from the seed documents (shared/seeds/002_*.md) and checks the
// contract in docs/protocols/conversations.md. It is started by the Rust harness with:
//   PARLEY_URL          base URL of a running parley, e.g. http://127.0.0.1:41234
//   PARLEY_JWT_SECRET   the HS256 secret parley verifies tokens with
// The database is shared by every test of a run, so each test makes its own fresh users.

import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} must be set (the Rust harness sets PARLEY_URL and PARLEY_JWT_SECRET)`);
  }
  return value;
}

export const BASE_URL = requiredEnv('PARLEY_URL').replace(/\/+$/, '');
export const JWT_SECRET = requiredEnv('PARLEY_JWT_SECRET');

/** How long to wait for an event that must arrive. */
export const EVENT_TIMEOUT_MS = 5000;
/** How long to watch for an event that must not arrive (bounded negative check). */
export const ABSENCE_MS = 1000;
/** The server's TYPING_TIMEOUT_MS (parley's default 5,000 unless the harness says otherwise). */
export const TYPING_TIMEOUT_MS = Number(process.env.PARLEY_TYPING_TIMEOUT_MS ?? 5000);
/** The server's MAX_MESSAGE_LENGTH (parley's default 10,000 unless the harness says otherwise). */
export const MAX_MESSAGE_LENGTH = Number(process.env.PARLEY_MAX_MESSAGE_LENGTH ?? 10000);

// ---------------------------------------------------------------------------------------------
// Identities and tokens

/** A fresh numeric user id, large and random so that tests never share users. */
export function newNumericId() {
  return randomInt(1000, 1_000_000_000);
}

/** A fresh string user id such as "alice-k3j2h4g5". */
export function newStringId(prefix = 'u') {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** A random suffix for client message ids, idempotency keys and search terms. */
export function rand() {
  return randomBytes(6).toString('hex');
}

/** Signs claims the way the seed backends do: HS256 with JWT_SECRET, one hour of validity. */
export function mintToken(claims, { expiresIn = '1h', secret = JWT_SECRET, algorithm = 'HS256' } = {}) {
  const options = { algorithm };
  if (expiresIn !== null) options.expiresIn = expiresIn;
  return jwt.sign(claims, secret, options);
}

/** A token as `{ sub: id, name }`. */
export function tokenFor(id, name = `User ${id}`, opts) {
  return mintToken({ sub: id, name }, opts);
}

/**
 * A fresh user: `{ id, name, token }`. `{ string: true }` gives a string id ("alice-<hex>");
 * `claims` adds display claims (username, email, avatar/picture) to the token.
 */
export function newUser({ string = false, prefix, name, claims = {} } = {}) {
  const id = string ? newStringId(prefix ?? 'u') : newNumericId();
  const displayName = name ?? `${prefix ?? 'User'} ${id}`;
  const token = mintToken({ sub: id, name: displayName, ...claims });
  return { id, name: displayName, token };
}

// ---------------------------------------------------------------------------------------------
// Socket.IO

function socketOptions(token, opts = {}) {
  const { transports = ['websocket'], auth, ...rest } = opts;
  const options = {
    transports,
    forceNew: true,
    reconnection: false,
    timeout: EVENT_TIMEOUT_MS,
    ...rest,
  };
  if (auth !== undefined) options.auth = auth;
  else if (token !== undefined && token !== null) options.auth = { token };
  return options;
}

/**
 * Opens a socket and resolves once it is connected; rejects with the `connect_error`.
 * `t` (the node:test context, may be null) closes the socket when the test ends.
 * `opts.transports` defaults to ['websocket']; `opts.transports: null` leaves socket.io-client's
 * default (polling, then upgrade).
 */
export function connect(t, token, opts = {}) {
  const options = socketOptions(token, opts);
  if (opts.transports === null) delete options.transports;
  const socket = io(BASE_URL, options);
  if (t) t.after(() => socket.close());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.close();
      reject(new Error(`socket did not connect within ${EVENT_TIMEOUT_MS} ms`));
    }, EVENT_TIMEOUT_MS);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      socket.close();
      reject(err);
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** Opens a socket that must be refused; resolves with the `connect_error` error. */
export function connectRefused(t, token, opts = {}) {
  const socket = io(BASE_URL, socketOptions(token, opts));
  if (t) t.after(() => socket.close());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`neither connect nor connect_error within ${EVENT_TIMEOUT_MS} ms`));
    }, EVENT_TIMEOUT_MS);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error('the server accepted a connection it should have refused'));
    });
    socket.on('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      resolve(err);
    });
  });
}

/**
 * Resolves with the payload of the next `event` on `socket` (that satisfies `filter`, if given),
 * rejects after `timeoutMs`. Call it *before* the action that causes the event.
 */
export function once(socket, event, timeoutMs = EVENT_TIMEOUT_MS, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    function handler(payload) {
      if (!filter(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(payload);
    }
    socket.on(event, handler);
  });
}

/** Collects the next `count` payloads of `event`, in arrival order. */
export function collect(socket, event, count, timeoutMs = EVENT_TIMEOUT_MS, filter = () => true) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`only ${seen.length} of ${count} '${event}' events within ${timeoutMs} ms`));
    }, timeoutMs);
    function handler(payload) {
      if (!filter(payload)) return;
      seen.push(payload);
      if (seen.length === count) {
        clearTimeout(timer);
        socket.off(event, handler);
        resolve(seen);
      }
    }
    socket.on(event, handler);
  });
}

/**
 * Bounded negative check: resolves if no `event` (satisfying `filter`) arrives on `socket` within
 * `ms`, rejects with the payload otherwise. Start it before the action that must not cause it.
 */
export function expectNoEvent(socket, event, ms = ABSENCE_MS, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      resolve();
    }, ms);
    function handler(payload) {
      if (!filter(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      reject(new Error(`unexpected '${event}' event: ${JSON.stringify(payload)}`));
    }
    socket.on(event, handler);
  });
}

/** Pass as `emitAck`'s payload to emit the event with no data at all (only the ack callback). */
export const NO_PAYLOAD = Symbol('no payload');

/**
 * Emits `event` with `payload` and an acknowledgement callback (`socket.timeout(ms).emitWithAck`);
 * resolves with the ack, rejects if none arrives within `timeoutMs`.
 */
export function emitAck(socket, event, payload = NO_PAYLOAD, timeoutMs = EVENT_TIMEOUT_MS) {
  const args = payload === NO_PAYLOAD ? [] : [payload];
  return socket.timeout(timeoutMs).emitWithAck(event, ...args);
}

// ---------------------------------------------------------------------------------------------
// REST

/**
 * Calls the server. `body` is sent as JSON; `raw` is sent as is (with a JSON content type unless
 * headers say otherwise). Resolves with `{ status, body, text, headers }`; `body` is the parsed JSON
 * or undefined.
 */
export async function http(method, path, { token, body, raw, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/json';
    }
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(BASE_URL + path, {
    method,
    headers: h,
    body: payload,
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text, headers: res.headers };
}

/**
 * Like `http`, but on a connection of its own (node:http, no keep-alive pool), for requests the
 * server may answer before reading the whole body (an oversized upload): the response is taken as
 * soon as it arrives, and a reset of the upload afterwards is ignored.
 */
export function httpOneShot(method, path, { token, body, headers = {} } = {}) {
  const payload = Buffer.from(JSON.stringify(body));
  const h = { 'content-type': 'application/json', 'content-length': payload.length, ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = httpRequest(BASE_URL + path, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      const done = () => {
        if (settled) return;
        settled = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, body: json, text, headers: res.headers });
      };
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.setTimeout(15000, () => req.destroy(new Error('request timed out')));
    req.on('error', (err) => {
      if (!settled && !req.res) {
        settled = true;
        reject(err);
      }
    });
    req.end(payload);
  });
}

/** `http` under `/api/chat`. */
export function chat(method, path, opts) {
  return http(method, `/api/chat${path}`, opts);
}

/** POST /api/chat/send as `user`; asserts 201 and returns the message object. */
export async function restSend(user, body, headers) {
  const res = await chat('POST', '/send', { token: user.token, body, headers });
  assert.equal(res.status, 201, `POST /send: ${res.status} ${res.text}`);
  assert.equal(res.body.success, true);
  return res.body.data;
}

/** GET /api/chat/conversations/:id/messages as `user`; asserts 200 and returns `data`. */
export async function listMessages(user, conversationId, query = '') {
  const res = await chat('GET', `/conversations/${conversationId}/messages${query}`, {
    token: user.token,
  });
  assert.equal(res.status, 200, `GET messages: ${res.status} ${res.text}`);
  assert.equal(res.body.success, true);
  return res.body.data;
}

/**
 * Creates the direct conversation between `a` and `b` by a REST send from `a`; returns the
 * conversation id and the first message.
 */
export async function openConversation(a, b, content = `hello ${rand()}`) {
  const message = await restSend(a, { receiverId: b.id, content });
  return { conversationId: message.conversation_id, message };
}

// ---------------------------------------------------------------------------------------------
// Assertions

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|\+00:00)$/;

/** An RFC 3339 UTC timestamp with milliseconds, as docs/protocols/conversations.md promises. */
export function assertTimestamp(value, what = 'timestamp') {
  assert.equal(typeof value, 'string', `${what} should be a string, got ${JSON.stringify(value)}`);
  assert.match(value, TIMESTAMP, `${what} should be RFC 3339 UTC with milliseconds`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} should parse as a date`);
}

/** A successful ack; returns its `data`. */
export function assertAckOk(ack, what = 'ack') {
  assert.equal(typeof ack, 'object', `${what}: ack should be an object, got ${JSON.stringify(ack)}`);
  assert.notEqual(ack, null);
  assert.equal(ack.success, true, `${what}: expected success, got ${JSON.stringify(ack)}`);
  return ack.data;
}

/** A failed ack with the given error code and a non-empty message. */
export function assertAckError(ack, code, what = 'ack') {
  assert.equal(typeof ack, 'object', `${what}: ack should be an object, got ${JSON.stringify(ack)}`);
  assert.notEqual(ack, null);
  assert.equal(ack.success, false, `${what}: expected failure, got ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error, 'object', `${what}: error should be an object`);
  assert.equal(ack.error.code, code, `${what}: expected ${code}, got ${JSON.stringify(ack.error)}`);
  assert.equal(typeof ack.error.message, 'string');
  assert.ok(ack.error.message.length > 0, `${what}: error.message should not be empty`);
}

/** A REST error: status, `{ success: false, message, error: { code, message } }`. */
export function assertRestError(res, status, code, what = 'response') {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text}`);
  assert.ok(res.body, `${what}: the error body should be JSON, got ${JSON.stringify(res.text)}`);
  assert.equal(res.body.success, false);
  assert.equal(res.body.error?.code, code, `${what}: expected ${code}, got ${res.text}`);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, `${what}: error.message should not be empty`);
  assert.equal(typeof res.body.message, 'string', `${what}: top-level message should be a string`);
}

/** The page metadata of a paginated answer. */
export function assertPage(data, { total, page, totalPages, count }) {
  assert.equal(data.total, total, 'total');
  assert.equal(data.page, page, 'page');
  assert.equal(data.totalPages, totalPages, 'totalPages');
  if (count !== undefined) assert.equal(data.messages.length, count, 'number of messages');
}

/** `obj` has at least these fields with these values (extra fields are allowed). */
export function assertFields(obj, expected, what = 'payload') {
  assert.equal(typeof obj, 'object', `${what} should be an object, got ${JSON.stringify(obj)}`);
  assert.notEqual(obj, null, `${what} should not be null`);
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(obj[k], v, `${what}.${k} (in ${JSON.stringify(obj)})`);
  }
}

/**
 * Resolves once the local clock has passed `timestamp` (server and tests share the machine's
 * clock), so that the next thing the server stores gets a strictly later timestamp.
 */
export async function clockPast(timestamp) {
  const t = Date.parse(timestamp);
  while (Date.now() <= t) await new Promise((r) => setImmediate(r));
}

/** A `{ id, name, username, email, avatar }` user object. */
export function assertUserObject(user, expected, what = 'user') {
  assert.equal(typeof user, 'object', `${what} should be an object`);
  assert.notEqual(user, null, `${what} should not be null`);
  assert.deepEqual(
    Object.keys(user).filter((k) => ['id', 'name', 'username', 'email', 'avatar'].includes(k)).sort(),
    ['avatar', 'email', 'id', 'name', 'username'],
    `${what} should have id, name, username, email, avatar`,
  );
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(user[k], v, `${what}.${k}`);
  }
}

/** A 3 x 2 PNG, for the upload tests. */
export const PNG_3X2 = Buffer.from(
  '89504e470d0a1a0a0000000d494844520000000300000002080200000012' +
    '16f14d0000001249444154789c63f8cfc000440c106200003e8f05fbf75a' +
    'aee50000000049454e44ae426082',
  'hex',
);

/** A `multipart/form-data` POST of `form` (a `FormData`) to `path`; returns `{ status, body, text }`. */
export async function postForm(path, token, form) {
  const res = await fetch(BASE_URL + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** A GET of a file `url` (a path on the server, or a full URL), as an `<img src>` makes it (with `token` if given). */
export async function fetchFile(url, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(new URL(url, BASE_URL), { headers, signal: AbortSignal.timeout(15000) });
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}
