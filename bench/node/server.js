// The Node reference server parley is benchmarked against: the Express + Socket.IO + SQL chat
// backend of shared/seeds (002 and 000), in its best configuration, speaking parley's Socket.IO
// protocol for the events the benchmark uses (docs/PROTOCOL.md).
//
// Layout of this file, top to bottom:
//   settings        PORT, JWT_SECRET, DATABASE_URL, DB_MAX_CONNECTIONS, SQLITE_SYNCHRONOUS
//   wire helpers    errors and their ack envelope, id parsing, timestamps, the message view
//   SQL             the statements, shared by both stores
//   sqliteStore     better-sqlite3: WAL, statements prepared once, db.transaction()
//   postgresStore   pg.Pool: one pooled client per send, named prepared statements
//   auth            the io.use() connect middleware (JWT HS256)
//   handlers        join_conversation, leave_conversation, send_message, typing, stop_typing,
//                   mark_as_read, join_personal_room
//   main            Express (/health), Socket.IO, shutdown on SIGTERM / SIGINT
//
// The schema is parley's migration; this server never creates or alters a table, and never
// creates users: every user a token names must already have a row.

import http from 'node:http';
import process from 'node:process';

import Database from 'better-sqlite3';
import express from 'express';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { Server } from 'socket.io';

// ---------------------------------------------------------------------------------------------
// Settings

const PORT = Number.parseInt(process.env.PORT ?? '3010', 10);
const HOST = '127.0.0.1';
const JWT_SECRET = process.env.JWT_SECRET ?? '';
const DATABASE_URL = process.env.DATABASE_URL ?? 'sqlite://parley.db?mode=rwc';
const DB_MAX_CONNECTIONS = Number.parseInt(process.env.DB_MAX_CONNECTIONS ?? '10', 10) || 10;
const SQLITE_SYNCHRONOUS = (process.env.SQLITE_SYNCHRONOUS ?? 'full').toLowerCase() === 'normal'
  ? 'NORMAL'
  : 'FULL';

/** Same limits as parley's defaults. */
const MAX_MESSAGE_LENGTH = 10_000;
const MAX_ATTACHMENT_URL = 2_048;
const MAX_CLIENT_MSG_ID = 128;
const MAX_USER_ID_BYTES = 128;
const PREVIEW_CHARS = 500;
/** Clock skew tolerated on `exp`, in seconds (parley's JWT_LEEWAY_SECS default). */
const JWT_LEEWAY_SECS = 30;
/** Events a socket may have waiting before new ones are refused (parley's queue depth). */
const QUEUE_DEPTH = 64;
/** SQLite busy timeout, as parley's. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;
/** Time given to in-flight work at shutdown. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

if (JWT_SECRET === '') {
  console.error('JWT_SECRET must be set');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Wire helpers

/** A failure answered as `{success:false, error:{code, message}}`. */
class ChatError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const validation = (message) => new ChatError('VALIDATION', message);

/** The ack (or `error` event) body of any thrown value; internal details are logged, not sent. */
function errorBody(err) {
  if (err instanceof ChatError) {
    return { code: err.code, message: err.message };
  }
  console.error('internal error:', err?.message ?? err);
  return { code: 'INTERNAL', message: 'internal error' };
}

/** How serde names a JSON value in its "invalid type" errors, so messages read as parley's. */
function serdeUnexpected(v) {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `boolean \`${v}\``;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  return Array.isArray(v) ? 'sequence' : 'map';
}

/** The payload of a client event: it must be a JSON object. */
function objectPayload(payload) {
  if (payload === undefined) {
    throw validation('payload must be a JSON object');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    const kind = payload === null
      ? 'nothing'
      : Array.isArray(payload) ? 'an array' : `a ${typeof payload}`;
    throw validation(`payload must be a JSON object, got ${kind}`);
  }
  return payload;
}

/**
 * A conversation id field: a positive integer, as a JSON number or a string of digits. `null`
 * when the field is optional and absent (or null).
 */
function idField(p, field, { optional = false } = {}) {
  const value = p[field];
  if (value === undefined || (optional && value === null)) {
    if (optional) return null;
    throw validation(`invalid payload: missing field \`${field}\``);
  }
  let n = null;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && /^\s*\+?\d+\s*$/.test(value)) {
    n = Number(value.trim());
  }
  if (n === null || !Number.isSafeInteger(n) || n <= 0) {
    throw validation(`invalid payload: expected a positive integer id, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A string field; `null` when optional and absent (or null). */
function stringField(p, field, { optional = false } = {}) {
  const value = p[field];
  if (value === undefined || (optional && value === null)) {
    if (optional) return null;
    throw validation(`invalid payload: missing field \`${field}\``);
  }
  if (typeof value !== 'string') {
    throw validation(`invalid payload: invalid type: ${serdeUnexpected(value)}, expected a string`);
  }
  return value;
}

/** An optional user id field (`receiverId`): its stored key, or `null`. */
function userKeyField(p, field) {
  const value = p[field];
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw validation('invalid payload: user id must be an integer or a string');
    }
    return String(value);
  }
  if (typeof value !== 'string') {
    throw validation('invalid payload: user id must be an integer or a string');
  }
  const key = value.trim();
  if (key === '') {
    throw validation('invalid payload: user id must not be empty');
  }
  if (Buffer.byteLength(key) > MAX_USER_ID_BYTES) {
    throw validation(`invalid payload: user id is longer than ${MAX_USER_ID_BYTES} bytes`);
  }
  if (ANY_CONTROL.test(key)) {
    throw validation('invalid payload: user id contains control characters');
  }
  return key;
}

/** A user id as it goes out: a JSON number when the id is numeric, else the string. */
function wireUserId(key, numeric) {
  return numeric && /^-?\d+$/.test(key) ? Number(key) : key;
}

/** Control characters a text may not hold (tab, newline and carriage return may). */
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const ANY_CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

/** Whether `s` has more than `max` characters (Unicode scalar values, as parley counts them). */
function longerThan(s, max) {
  // UTF-16 length is an upper bound of the character count: count only when it could matter.
  return s.length > max && [...s].length > max;
}

function isHttpUrl(url) {
  const lower = url.toLowerCase();
  const rest = lower.startsWith('https://')
    ? lower.slice(8)
    : lower.startsWith('http://')
      ? lower.slice(7)
      : null;
  if (rest === null) {
    return false;
  }
  const host = rest.split(/[/?#]/, 1)[0];
  return host !== '' && !/[\s\u0000-\u001F\u007F-\u009F]/.test(url);
}

/** First `PREVIEW_CHARS` characters, the conversation's `last_message`. */
function preview(content) {
  if (content.length <= PREVIEW_CHARS) {
    return content;
  }
  return [...content].slice(0, PREVIEW_CHARS).join('');
}

/**
 * A timestamp as sea-orm (through sqlx) writes `timestamp_with_time_zone` into SQLite text:
 * RFC 3339 with a `T`, `+00:00`, and the fraction only when there is one (`2026-11-21T10:00:00.123+00:00`).
 */
function sqliteTime(date) {
  const iso = date.toISOString();
  return date.getUTCMilliseconds() === 0
    ? `${iso.slice(0, 19)}+00:00`
    : `${iso.slice(0, 23)}+00:00`;
}

/** A stored timestamp (SQLite text or a pg Date) as the wire's RFC 3339 with milliseconds. */
function wireTime(value) {
  if (value === null || value === undefined) {
    return null;
  }
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
}

/** `{id, name, username, email, avatar}` of a users row (a bare one when the row is missing). */
function userView(key, row) {
  if (!row) {
    return { id: key, name: null, username: null, email: null, avatar: null };
  }
  return {
    id: wireUserId(row.id, Boolean(row.id_is_number)),
    name: row.name ?? null,
    username: row.username ?? null,
    email: row.email ?? null,
    avatar: row.avatar ?? null,
  };
}

/** `new_message` and the `send_message` ack, field for field as parley sends them. */
function messageView(m, sender, receiver) {
  return {
    id: m.id,
    conversationId: m.conversation_id,
    seq: m.seq,
    senderId: sender.id,
    receiverId: receiver ? receiver.id : null,
    content: m.content,
    attachmentUrl: m.attachment_url ?? null,
    kind: m.kind,
    replyTo: m.reply_to ?? null,
    clientMsgId: m.client_msg_id ?? null,
    isRead: m.read_at !== null && m.read_at !== undefined,
    createdAt: wireTime(m.created_at),
    sender,
  };
}

/** The other user of a direct conversation (null for groups). */
function otherParticipant(conv, me) {
  if (conv.p1 === null || conv.p2 === null) {
    return null;
  }
  return conv.p1 === me ? conv.p2 : conv.p1;
}

/** The conversation, if `user` is a current participant: NOT_FOUND / FORBIDDEN otherwise. */
function requireMember(conv, conversationId) {
  if (!conv) {
    throw new ChatError('NOT_FOUND', `conversation ${conversationId} not found`);
  }
  if (!conv.member) {
    throw new ChatError('FORBIDDEN', `not a participant of conversation ${conversationId}`);
  }
  return conv;
}

/**
 * Broadcast turns per conversation, so `new_message` (and `messages_read`) leave in `seq` order,
 * as parley's do. On PostgreSQL a send takes its turn the moment its `UPDATE conversations ...
 * RETURNING last_seq` returns: that UPDATE holds the conversation's row lock until COMMIT, so
 * turns are taken in exactly the order the numbers are handed out, and only the broadcast waits
 * for the previous one (the transactions themselves are serialised by PostgreSQL alone).
 * better-sqlite3 runs a whole send in one synchronous step and needs no turns.
 */
class Turns {
  #tails = new Map();

  /** The next turn of `key`: await `ready`, broadcast, then call `done` (on every path). */
  take(key) {
    const previous = this.#tails.get(key);
    let release;
    const released = new Promise((resolve) => {
      release = resolve;
    });
    // A turn is over when its holder is done and every earlier turn is over.
    const over = previous ? Promise.all([previous, released]) : released;
    this.#tails.set(key, over);
    over.then(() => {
      if (this.#tails.get(key) === over) {
        this.#tails.delete(key);
      }
    });
    return { ready: previous, done: release };
  }
}

// ---------------------------------------------------------------------------------------------
// SQL, shared by both stores (written with PostgreSQL's `$N` placeholders).

/** The conversation and the caller's participant row, in one query: NOT_FOUND vs FORBIDDEN. */
const MEMBER_SQL = `SELECT c.last_seq AS last_seq, c.participant_1_id AS p1, c.participant_2_id AS p2,
       p.user_id AS member_id, p.left_at AS left_at
  FROM conversations c
  LEFT JOIN participants p ON p.conversation_id = c.id AND p.user_id = $1
 WHERE c.id = $2`;
const BUMP_SQL = `UPDATE conversations
   SET last_seq = last_seq + 1, last_message = $1, last_message_at = $2, updated_at = $2
 WHERE id = $3
RETURNING last_seq`;
const INSERT_SQL = `INSERT INTO messages
  (conversation_id, seq, sender_id, receiver_id, content, attachment_url, kind, reply_to,
   client_msg_id, read_at, created_at, updated_at, edited_at, deleted_at)
VALUES ($1, $2, $3, $4, $5, $6, 'text', NULL, $7, NULL, $8, $8, NULL, NULL)
RETURNING id`;
const USER_SQL = 'SELECT id, id_is_number, name, username, email, avatar FROM users WHERE id = $1';
const BY_CLIENT_ID_SQL = `SELECT id, conversation_id, seq, sender_id, receiver_id, content, attachment_url,
       kind, reply_to, client_msg_id, read_at, created_at
  FROM messages WHERE sender_id = $1 AND client_msg_id = $2`;
const LAST_SEQ_SQL = 'SELECT last_seq FROM conversations WHERE id = $1';
const READ_POSITION_SQL = `UPDATE participants SET last_read_seq = $1, last_read_at = $2
 WHERE conversation_id = $3 AND user_id = $4 AND last_read_seq < $1`;
const READ_MESSAGES_SQL = `UPDATE messages SET read_at = $1
 WHERE conversation_id = $2 AND receiver_id = $3 AND read_at IS NULL AND seq <= $4`;

/**
 * A better-sqlite3 statement from SQL written with PostgreSQL's `$N` placeholders (shared by both
 * stores): each `$N` becomes a `?`, and the call's arguments are laid out in that order.
 */
function prepareShared(db, sql) {
  const order = [];
  const stmt = db.prepare(sql.replace(/\$(\d+)/g, (_m, n) => {
    order.push(Number(n) - 1);
    return '?';
  }));
  const identity = order.every((n, i) => n === i);
  const bind = identity ? (args) => args : (args) => order.map((n) => args[n]);
  return {
    get: (...args) => stmt.get(...bind(args)),
    run: (...args) => stmt.run(...bind(args)),
  };
}

/** A UNIQUE violation, on either database (here: `uq_messages_sender_client_msg`). */
function isUniqueViolation(err) {
  return err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === '23505';
}

/** The row of MEMBER_SQL as `{lastSeq, p1, p2, member}`; `null` for an unknown conversation. */
function member(row) {
  if (!row) {
    return null;
  }
  return {
    lastSeq: row.last_seq,
    p1: row.p1 ?? null,
    p2: row.p2 ?? null,
    member: row.member_id !== null && row.member_id !== undefined
      && (row.left_at === null || row.left_at === undefined),
  };
}

// ---------------------------------------------------------------------------------------------
// SQLite: better-sqlite3, one connection, every statement prepared once.

function sqliteStore(file) {
  const db = new Database(file, { fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${SQLITE_SYNCHRONOUS}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);

  const st = {
    member: prepareShared(db, MEMBER_SQL),
    bump: prepareShared(db, BUMP_SQL),
    insert: prepareShared(db, INSERT_SQL),
    user: prepareShared(db, USER_SQL),
    byClientId: prepareShared(db, BY_CLIENT_ID_SQL),
    lastSeq: prepareShared(db, LAST_SEQ_SQL),
    readPosition: prepareShared(db, READ_POSITION_SQL),
    readMessages: prepareShared(db, READ_MESSAGES_SQL),
  };

  const store = db.transaction((m) => {
    const bumped = st.bump.get(m.preview, m.createdAt, m.conversationId);
    if (!bumped) {
      throw new Error(`conversation ${m.conversationId} vanished`);
    }
    const inserted = st.insert.get(
      m.conversationId,
      bumped.last_seq,
      m.senderId,
      m.receiverId,
      m.content,
      m.attachmentUrl,
      m.clientMsgId,
      m.createdAt,
    );
    return { id: inserted.id, seq: bumped.last_seq };
  });

  const markRead = db.transaction((conversationId, userId, now) => {
    const lastSeq = st.lastSeq.get(conversationId)?.last_seq ?? 0;
    st.readPosition.run(lastSeq, now, conversationId, userId);
    const updated = st.readMessages.run(now, conversationId, userId, lastSeq).changes;
    return { lastSeq, updated };
  });

  return {
    member: (userId, conversationId) => member(st.member.get(userId, conversationId)),
    user: (key) => st.user.get(key),
    byClientId: (senderId, clientMsgId) => st.byClientId.get(senderId, clientMsgId),
    /** Stores a message in one transaction (BEGIN IMMEDIATE, as parley's), then loads its users. */
    send(m) {
      const { id, seq } = store.immediate({ ...m, createdAt: sqliteTime(m.now) });
      return {
        stored: {
          id,
          seq,
          conversation_id: m.conversationId,
          content: m.content,
          attachment_url: m.attachmentUrl,
          kind: 'text',
          reply_to: null,
          client_msg_id: m.clientMsgId,
          read_at: null,
          created_at: m.now,
        },
        sender: st.user.get(m.senderId),
        receiver: m.receiverId === null ? null : st.user.get(m.receiverId),
      };
    },
    markRead: (conversationId, userId, now) => markRead.immediate(conversationId, userId, sqliteTime(now)),
    close: async () => db.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: pg.Pool, named prepared statements, one pooled client per transaction.

// bigint columns (ids, seq, last_seq) as JS numbers, as on SQLite and in parley's JSON.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

function postgresStore(url) {
  const pool = new pg.Pool({ connectionString: url, max: DB_MAX_CONNECTIONS });
  pool.on('error', (err) => console.error('idle PostgreSQL client error:', err.message));
  const q = (name, text) => (values) => ({ name, text, values });
  const st = {
    member: q('member', MEMBER_SQL),
    bump: q('bump', BUMP_SQL),
    insert: q('insert', INSERT_SQL),
    user: q('user', USER_SQL),
    byClientId: q('by_client_id', BY_CLIENT_ID_SQL),
    // FOR UPDATE: the read position is taken under the row lock, so its turn is in seq order.
    lastSeq: q('last_seq_for_update', `${LAST_SEQ_SQL} FOR UPDATE`),
    readPosition: q('read_position', READ_POSITION_SQL),
    readMessages: q('read_messages', READ_MESSAGES_SQL),
  };

  const turns = new Turns();

  /**
   * Runs `fn(client, takeTurn)` between BEGIN and COMMIT on one pooled client (ROLLBACK on
   * error), then `after(client, result)` on the same client before it goes back to the pool.
   * `fn` calls `takeTurn(conversationId)` right after its row-locking statement; on success
   * the turn is handed to the caller (`result.turn`), on failure it is given back here.
   */
  async function transaction(fn, after) {
    const client = await pool.connect();
    let unusable;
    let turn = null;
    const takeTurn = (key) => {
      turn = turns.take(key);
    };
    try {
      await client.query('BEGIN');
      let result;
      try {
        result = await fn(client, takeTurn);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr) => {
          unusable = rollbackErr; // the connection is gone: the pool must not hand it out again
        });
        throw err;
      }
      return { ...(after ? await after(client, result) : result), turn };
    } catch (err) {
      turn?.done();
      throw err;
    } finally {
      client.release(unusable);
    }
  }

  return {
    member: async (userId, conversationId) =>
      member((await pool.query(st.member([userId, conversationId]))).rows[0]),
    user: async (key) => (await pool.query(st.user([key]))).rows[0],
    byClientId: async (senderId, clientMsgId) =>
      (await pool.query(st.byClientId([senderId, clientMsgId]))).rows[0],
    /** BEGIN; UPDATE ... RETURNING last_seq; INSERT ... RETURNING id; COMMIT; then its users. */
    send: (m) => transaction(
      async (client, takeTurn) => {
        const bumped = (await client.query(st.bump([m.preview, m.now, m.conversationId]))).rows[0];
        if (!bumped) {
          throw new Error(`conversation ${m.conversationId} vanished`);
        }
        takeTurn(m.conversationId);
        const inserted = (await client.query(st.insert([
          m.conversationId,
          bumped.last_seq,
          m.senderId,
          m.receiverId,
          m.content,
          m.attachmentUrl,
          m.clientMsgId,
          m.now,
        ]))).rows[0];
        return { id: inserted.id, seq: bumped.last_seq };
      },
      async (client, { id, seq }) => ({
        stored: {
          id,
          seq,
          conversation_id: m.conversationId,
          content: m.content,
          attachment_url: m.attachmentUrl,
          kind: 'text',
          reply_to: null,
          client_msg_id: m.clientMsgId,
          read_at: null,
          created_at: m.now,
        },
        sender: (await client.query(st.user([m.senderId]))).rows[0],
        receiver: m.receiverId === null
          ? null
          : (await client.query(st.user([m.receiverId]))).rows[0],
      }),
    ),
    markRead: (conversationId, userId, now) => transaction(async (client, takeTurn) => {
      const lastSeq = (await client.query(st.lastSeq([conversationId]))).rows[0]?.last_seq ?? 0;
      takeTurn(conversationId);
      await client.query(st.readPosition([lastSeq, now, conversationId, userId]));
      const updated = (await client.query(st.readMessages([now, conversationId, userId, lastSeq]))).rowCount;
      return { lastSeq, updated };
    }),
    close: () => pool.end(),
  };
}

function openStore(url) {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { kind: 'postgres', store: postgresStore(url) };
  }
  if (url.startsWith('sqlite:')) {
    const file = url.replace(/^sqlite:(\/\/)?/, '').replace(/\?.*$/, '');
    return { kind: 'sqlite', store: sqliteStore(file) };
  }
  throw new Error(`DATABASE_URL must be sqlite://<path> or postgres://...: ${url}`);
}

// ---------------------------------------------------------------------------------------------
// Auth: the connect middleware. A refused token is the client's connect_error.

const USER_CLAIMS = ['sub', 'id', 'userId', 'user_id'];

function bearer(value) {
  if (typeof value !== 'string') {
    return null;
  }
  const m = /^\s*bearer\s+(\S.*?)\s*$/i.exec(value);
  return m ? m[1] : null;
}

function tokenOf(handshake) {
  const fromAuth = handshake.auth?.token;
  if (typeof fromAuth === 'string' && fromAuth.trim() !== '') {
    return bearer(fromAuth) ?? fromAuth.trim();
  }
  const fromHeader = bearer(handshake.headers.authorization);
  if (fromHeader) {
    return fromHeader;
  }
  const fromQuery = handshake.query?.token;
  return typeof fromQuery === 'string' && fromQuery !== '' ? fromQuery : null;
}

/** `{key, numeric, exp}` of a valid token; throws the connect_error text otherwise. */
function verify(token) {
  let claims;
  try {
    claims = jwt.verify(token, JWT_SECRET, {
      algorithms: ['HS256'],
      clockTolerance: JWT_LEEWAY_SECS,
    });
  } catch (err) {
    if (err.name === 'TokenExpiredError') {
      throw new Error('token expired');
    }
    if (err.message === 'invalid signature') {
      throw new Error('invalid token: bad signature');
    }
    if (err.message === 'invalid algorithm') {
      throw new Error('invalid token: algorithm not accepted');
    }
    throw new Error('invalid token: malformed');
  }
  if (typeof claims !== 'object' || claims === null) {
    throw new Error('invalid token: malformed');
  }
  if (typeof claims.exp !== 'number') {
    throw new Error('invalid token: missing exp');
  }
  const claim = USER_CLAIMS.find((c) => claims[c] !== undefined);
  if (claim === undefined) {
    throw new Error('invalid token: no user id claim');
  }
  const raw = claims[claim];
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) {
      throw new Error('invalid token: user id must be an integer or a string');
    }
    return { key: String(raw), numeric: true, exp: claims.exp };
  }
  if (typeof raw === 'string') {
    const key = raw.trim();
    if (key === '' || Buffer.byteLength(key) > MAX_USER_ID_BYTES || ANY_CONTROL.test(key)) {
      throw new Error('invalid token: bad user id');
    }
    return { key, numeric: false, exp: claims.exp };
  }
  throw new Error('invalid token: user id must be an integer or a string');
}

function authenticate(socket, next) {
  const token = tokenOf(socket.handshake);
  if (!token) {
    next(new Error('missing token: pass auth.token'));
    return;
  }
  try {
    socket.data.user = verify(token);
  } catch (err) {
    next(err);
    return;
  }
  next();
}

// ---------------------------------------------------------------------------------------------
// Handlers

const conversationRoom = (id) => `conversation:${id}`;
const userRoom = (key) => `user:${key}`;

function makeHandlers(io, store) {
  /** The conversation a `{conversationId}` payload names, if the socket's user is in it. */
  async function memberOf(socket, payload) {
    const conversationId = idField(objectPayload(payload), 'conversationId');
    const conv = requireMember(await store.member(socket.data.user.key, conversationId), conversationId);
    return { conversationId, conv };
  }

  function announce(socket, event, conversationId, verb) {
    const { key, numeric } = socket.data.user;
    socket.to(conversationRoom(conversationId)).emit(event, {
      userId: wireUserId(key, numeric),
      conversationId,
      message: `User ${key} ${verb} the conversation`,
    });
  }

  /** The answer to a repeated clientMsgId: the stored message, if the repeat asks the same. */
  async function repeat(existing, conversationId, content, attachmentUrl) {
    if (existing.conversation_id !== conversationId
        || existing.content !== content
        || (existing.attachment_url ?? null) !== attachmentUrl) {
      throw new ChatError('CONFLICT', 'clientMsgId was already used for a different message');
    }
    const sender = userView(existing.sender_id, await store.user(existing.sender_id));
    const receiver = existing.receiver_id === null
      ? null
      : userView(existing.receiver_id, await store.user(existing.receiver_id));
    return messageView(existing, sender, receiver);
  }

  return {
    async join_conversation(socket, payload) {
      const { conversationId, conv } = await memberOf(socket, payload);
      socket.join(conversationRoom(conversationId));
      announce(socket, 'user_joined', conversationId, 'joined');
      return { conversationId, lastSeq: conv.lastSeq };
    },

    async leave_conversation(socket, payload) {
      const conversationId = idField(objectPayload(payload), 'conversationId');
      const room = conversationRoom(conversationId);
      if (socket.rooms.has(room)) {
        socket.leave(room);
        announce(socket, 'user_left', conversationId, 'left');
      }
      return { conversationId };
    },

    async send_message(socket, payload) {
      const p = objectPayload(payload);
      const receiverKey = userKeyField(p, 'receiverId');
      const conversationId = idField(p, 'conversationId', { optional: true });
      const content = stringField(p, 'content');
      let attachmentUrl = stringField(p, 'attachmentUrl', { optional: true });
      const clientMsgId = stringField(p, 'clientMsgId', { optional: true });
      if (content.trim() === '') {
        throw validation('content must not be empty');
      }
      if (FORBIDDEN_CONTROL.test(content)) {
        throw validation('content must not contain control characters other than tab and newline');
      }
      if (longerThan(content, MAX_MESSAGE_LENGTH)) {
        throw validation(`content must be at most ${MAX_MESSAGE_LENGTH} characters`);
      }
      if (attachmentUrl !== null) {
        attachmentUrl = attachmentUrl.trim();
        if (Buffer.byteLength(attachmentUrl) > MAX_ATTACHMENT_URL) {
          throw validation(`attachmentUrl must be at most ${MAX_ATTACHMENT_URL} characters`);
        }
        if (!isHttpUrl(attachmentUrl)) {
          throw validation('attachmentUrl must be an http:// or https:// URL');
        }
      }
      if (clientMsgId !== null
          && (clientMsgId === '' || longerThan(clientMsgId, MAX_CLIENT_MSG_ID) || ANY_CONTROL.test(clientMsgId))) {
        throw validation(`clientMsgId must be 1 to ${MAX_CLIENT_MSG_ID} printable characters`);
      }
      if (conversationId === null && receiverKey === null) {
        throw validation('receiverId or conversationId is required');
      }
      const me = socket.data.user.key;
      if (receiverKey === me) {
        throw new ChatError('UNPROCESSABLE', 'cannot send a message to yourself');
      }
      if (conversationId === null) {
        throw validation('receiverId-only sends are not supported by the reference');
      }
      const conv = requireMember(await store.member(me, conversationId), conversationId);
      const receiverId = otherParticipant(conv, me);
      if (receiverKey !== null && receiverId !== null && receiverKey !== receiverId) {
        throw validation(`receiverId is not the other participant of conversation ${conversationId}`);
      }

      let sent;
      try {
        sent = await store.send({
          conversationId,
          senderId: me,
          receiverId,
          content,
          attachmentUrl,
          clientMsgId,
          preview: preview(content),
          now: new Date(),
        });
      } catch (err) {
        if (clientMsgId !== null && isUniqueViolation(err)) {
          const existing = await store.byClientId(me, clientMsgId);
          if (existing) {
            // An earlier send with this clientMsgId committed: answer it, emit nothing.
            return repeat(existing, conversationId, content, attachmentUrl);
          }
        }
        throw err;
      }
      const sender = userView(me, sent.sender);
      const receiver = receiverId === null ? null : userView(receiverId, sent.receiver);
      const view = messageView(sent.stored, sender, receiver);
      try {
        if (sent.turn?.ready) {
          await sent.turn.ready;
        }
        const room = conversationRoom(conversationId);
        io.to(room).emit('new_message', view);
        if (receiver !== null) {
          io.to(userRoom(receiverId)).except(room).emit('message_notification', {
            from: sender.id,
            conversationId,
            messageId: view.id,
            content: view.content,
            timestamp: view.createdAt,
            sender,
          });
        }
      } finally {
        sent.turn?.done();
      }
      return view;
    },

    async typing(socket, payload) {
      const { conversationId } = await memberOf(socket, payload);
      const { key, numeric } = socket.data.user;
      socket.to(conversationRoom(conversationId))
        .emit('user_typing', { userId: wireUserId(key, numeric), conversationId });
      return { conversationId };
    },

    async stop_typing(socket, payload) {
      const { conversationId } = await memberOf(socket, payload);
      const { key, numeric } = socket.data.user;
      socket.to(conversationRoom(conversationId))
        .emit('user_stopped_typing', { userId: wireUserId(key, numeric), conversationId });
      return { conversationId };
    },

    async mark_as_read(socket, payload) {
      const { conversationId } = await memberOf(socket, payload);
      const { key, numeric } = socket.data.user;
      const now = new Date();
      const { lastSeq, updated, turn } = await store.markRead(conversationId, key, now);
      try {
        if (turn?.ready) {
          await turn.ready;
        }
        io.to(conversationRoom(conversationId)).emit('messages_read', {
          conversationId,
          userId: wireUserId(key, numeric),
          lastReadSeq: lastSeq,
          readAt: now.toISOString(),
        });
      } finally {
        turn?.done();
      }
      return { conversationId, lastReadSeq: lastSeq, updated };
    },

    async join_personal_room(socket) {
      const room = userRoom(socket.data.user.key);
      socket.join(room);
      return { room };
    },
  };
}

/**
 * Registers every handler on a socket. A socket's events run one after another in the order
 * they arrived (as parley's do); each is answered through its ack, or, failing without one,
 * with an `error` event.
 */
function register(socket, handlers) {
  let tail = Promise.resolve();
  let waiting = 0;
  for (const [event, handler] of Object.entries(handlers)) {
    socket.on(event, (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      const reply = (result) => {
        if (ack) {
          ack(result);
        } else if (!result.success) {
          socket.emit('error', { event, ...result.error });
        }
      };
      if (waiting >= QUEUE_DEPTH) {
        reply({
          error: { code: 'RATE_LIMITED', message: 'too many events waiting on this connection; slow down' },
          success: false,
        });
        return;
      }
      waiting += 1;
      tail = tail.then(async () => {
        let result;
        try {
          result = { success: true, data: await handler(socket, args[0]) };
        } catch (err) {
          result = { error: errorBody(err), success: false }; // key order as parley's
        }
        waiting -= 1;
        reply(result);
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Main

const { kind, store } = openStore(DATABASE_URL);

const app = express();
app.disable('x-powered-by');
app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});

const server = http.createServer(app);
const io = new Server(server, { perMessageDeflate: false });
const handlers = makeHandlers(io, store);

io.use(authenticate);
io.on('connection', (socket) => {
  const { key, exp } = socket.data.user;
  socket.join(userRoom(key));
  register(socket, handlers);
  // A socket is disconnected when its token expires, as parley's are.
  const left = (exp + JWT_LEEWAY_SECS) * 1000 - Date.now();
  if (left < 2 ** 31 - 1) {
    const timer = setTimeout(() => socket.disconnect(true), Math.max(left, 0));
    socket.once('disconnect', () => clearTimeout(timer));
  }
});

server.listen(PORT, HOST, () => {
  console.log(`node reference listening on ${HOST}:${server.address().port}`);
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) {
    return;
  }
  stopping = true;
  const force = setTimeout(() => {
    console.error(`shutdown took over ${SHUTDOWN_TIMEOUT_MS} ms; exiting`);
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  force.unref();
  try {
    // Closes every socket, then the HTTP server (which on Node 19+ also drops idle keep-alives).
    await new Promise((resolve) => {
      io.close(() => resolve());
    });
    await store.close();
    console.log(`node reference stopped (${signal}, ${kind})`);
    process.exit(0);
  } catch (err) {
    console.error('shutdown failed:', err);
    process.exit(1);
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
