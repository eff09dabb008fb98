// 9. Authentication of sockets and REST calls.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertAckOk,
  assertRestError,
  chat,
  connect,
  connectRefused,
  emitAck,
  mintToken,
  newNumericId,
  newUser,
  NO_PAYLOAD,
  restSend,
} from './helpers.mjs';

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

/** An unsigned token (`alg: none`) naming `sub`. */
function noneToken(sub) {
  const now = Math.floor(Date.now() / 1000);
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub, iat: now, exp: now + 3600 })}.`;
}

function expiredToken(sub) {
  const now = Math.floor(Date.now() / 1000);
  return mintToken({ sub, iat: now - 7200, exp: now - 3600 }, { expiresIn: null });
}

for (const transports of [['websocket'], ['polling']]) {
  const via = transports[0];

  test(`${via}: a socket without a token is refused`, async (t) => {
    const err = await connectRefused(t, null, { transports });
    assert.match(err.message, /missing token/i);
  });

  test(`${via}: a token with a bad signature is refused`, async (t) => {
    const id = newNumericId();
    const forged = mintToken({ sub: id, name: 'Mallory' }, { secret: 'not-the-secret' });
    const err = await connectRefused(t, forged, { transports });
    assert.match(err.message, /invalid token/i);
  });

  test(`${via}: an expired token is refused`, async (t) => {
    const err = await connectRefused(t, expiredToken(newNumericId()), { transports });
    assert.match(err.message, /expired/i);
  });

  test(`${via}: an alg=none token is refused`, async (t) => {
    const err = await connectRefused(t, noneToken(newNumericId()), { transports });
    assert.match(err.message, /token/i);
  });

  test(`${via}: token in an Authorization header (extraHeaders)`, async (t) => {
    const user = newUser();
    const socket = await connect(t, null, {
      transports,
      extraHeaders: { Authorization: `Bearer ${user.token}` },
    });
    const data = assertAckOk(await emitAck(socket, 'join_personal_room', NO_PAYLOAD));
    assert.equal(data.room, `user:${user.id}`);
  });

  test(`${via}: token in the query string`, async (t) => {
    const user = newUser();
    const socket = await connect(t, null, { transports, query: { token: user.token } });
    const data = assertAckOk(await emitAck(socket, 'join_personal_room', NO_PAYLOAD));
    assert.equal(data.room, `user:${user.id}`);
  });
}

test('other refused tokens: garbage, no exp, empty auth token', async (t) => {
  let err = await connectRefused(t, 'not.a.jwt');
  assert.match(err.message, /invalid token/i);
  const noExp = mintToken({ sub: newNumericId() }, { expiresIn: null });
  err = await connectRefused(t, noExp);
  assert.match(err.message, /token/i);
  err = await connectRefused(t, '');
  assert.match(err.message, /token/i);
});

test('REST without a valid token is 401 UNAUTHORIZED', async () => {
  const id = newNumericId();
  const cases = [
    ['no header', {}],
    ['garbage bearer', { headers: { authorization: 'Bearer garbage' } }],
    ['basic scheme', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }],
    ['wrong secret', { token: mintToken({ sub: id }, { secret: 'not-the-secret' }) }],
    ['expired', { token: expiredToken(id) }],
    ['alg none', { token: noneToken(id) }],
  ];
  for (const [what, opts] of cases) {
    for (const [method, path, body] of [
      ['GET', '/conversations'],
      ['GET', '/unread-count'],
      ['POST', '/send', { receiverId: 2, content: 'hi' }],
    ]) {
      const res = await chat(method, path, { ...opts, body });
      assertRestError(res, 401, 'UNAUTHORIZED', `${what} ${method} ${path}`);
    }
  }
});

test('the user id comes from sub, id, userId or user_id', async () => {
  const receiver = newUser();
  for (const claim of ['sub', 'id', 'userId', 'user_id']) {
    const id = newNumericId();
    const token = mintToken({ [claim]: id, name: `via ${claim}` });
    const m = await restSend({ token }, { receiverId: receiver.id, content: `from ${claim}` });
    assert.equal(m.sender_id, id, `user id from ${claim}`);
    assert.equal(m.sender.name, `via ${claim}`);
  }
});

test('token times: nbf in the future is refused, a float exp is read as a number (both doors)', async (t) => {
  const now = Date.now() / 1000;
  const id = newNumericId();
  // What PyJWT writes: floats, from time.time().
  const tomorrow = mintToken({ sub: id, nbf: now + 86_400, exp: now + 2 * 86_400 }, { expiresIn: null });
  const pastFloat = mintToken({ sub: id, iat: now - 7200.25, exp: now - 3600.5 }, { expiresIn: null });
  const futureIat = mintToken({ sub: id, iat: now + 86_400, exp: now + 2 * 86_400 }, { expiresIn: null });
  const validFloat = mintToken({ sub: id, iat: now, nbf: now - 1.5, exp: now + 3600.5 }, { expiresIn: null });
  for (const transports of [['websocket'], ['polling']]) {
    let err = await connectRefused(t, tomorrow, { transports });
    assert.match(err.message, /not yet valid/i);
    err = await connectRefused(t, futureIat, { transports });
    assert.match(err.message, /not yet valid/i);
    err = await connectRefused(t, pastFloat, { transports });
    assert.match(err.message, /expired/i);
  }
  for (const [what, token] of [['nbf tomorrow', tomorrow], ['iat tomorrow', futureIat], ['float exp past', pastFloat]]) {
    const res = await chat('GET', '/unread-count', { token });
    assertRestError(res, 401, 'UNAUTHORIZED', what);
  }
  const res = await chat('GET', '/unread-count', { token: validFloat });
  assert.equal(res.status, 200, res.text);
  const socket = await connect(t, validFloat);
  const data = assertAckOk(await emitAck(socket, 'join_personal_room', NO_PAYLOAD));
  assert.equal(data.room, `user:${id}`);
});
