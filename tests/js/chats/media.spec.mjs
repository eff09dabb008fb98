// Media, as a frontend written from shared/seeds/004_2b953986d8be2634.md does it: upload with a
// FormData (the file first, then chatId), send_media with the upload's data, the receiver shows
// the file by its URL in an <img src> (a plain GET, no token). docs/protocols/chats.md#media.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BASE_URL,
  PNG_3X2,
  assertAckOk,
  connect,
  emitAck,
  expectNoEvent,
  fetchFile,
  http,
  newUser,
  once,
  postForm,
} from '../helpers.mjs';

/** The largest upload the harness allows (tests/js_client.rs sets MAX_UPLOAD_BYTES). */
const MAX_UPLOAD_BYTES = Number(process.env.PARLEY_MAX_UPLOAD_BYTES ?? 25 * 1024 * 1024);

const PNG = PNG_3X2;

const TRANSPORTS = [
  { name: 'websocket', opts: {} },
  { name: 'polling then upgrade', opts: { transports: null } },
];

/** `POST /api/media/upload-chat-media` as the seed's client sends it: the file first, then chatId. */
async function upload(user, chatId, bytes, name = 'cat.png', type = 'image/png') {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  form.append('chatId', String(chatId));
  return postForm('/api/media/upload-chat-media', user.token, form);
}

const download = fetchFile;

async function openChat(a, b) {
  const res = await http('POST', '/api/chats/or-create', { token: a.token, body: { recipientId: b.id } });
  assert.equal(res.status, 201, res.text);
  return res.body.data.id;
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] an uploaded PNG is sent with send_media and the receiver downloads it by its signed URL; an outsider cannot`, async (t) => {
    const alice = newUser({ name: 'Alice' });
    const bob = newUser({ name: 'Bob' });
    const carol = newUser({ name: 'Carol' });
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);
    assertAckOk(await emitAck(bobSocket, 'join_chat', { chatId }));
    assertAckOk(await emitAck(aliceSocket, 'join_chat', { chatId }));

    const up = await upload(alice, chatId, PNG);
    assert.equal(up.status, 200, up.text);
    assert.equal(up.body.success, true);
    const media = up.body.data;
    for (const key of ['url', 'messageType', 'fileId', 'fileName', 'mimeType', 'size']) {
      assert.ok(key in media, `data.${key} is missing (${up.text})`);
    }
    assert.equal(media.messageType, 'image');
    assert.equal(media.mimeType, 'image/png');
    assert.equal(media.fileName, 'cat.png');
    assert.equal(media.size, PNG.length);
    assert.equal(media.width, 3);
    assert.equal(media.height, 2);

    // Not sent yet: only its uploader may read it.
    const direct = `/api/media/files/${media.fileId}`;
    assert.equal((await download(direct, bob.token)).status, 403);
    assert.equal((await download(direct, alice.token)).status, 200);

    const received = once(bobSocket, 'media_received');
    const noText = expectNoEvent(bobSocket, 'message_received', 500);
    const ack = await emitAck(aliceSocket, 'send_media', { chatId, messageType: media.messageType, media });
    assertAckOk(ack);
    assert.equal(ack.data.messageType, 'image');
    const message = await received;
    await noText;
    assert.equal(message.senderId, String(alice.id));
    assert.equal(message.chatId, String(chatId));
    assert.equal(message.media.fileId, media.fileId);
    assert.equal(message.media.mimeType, 'image/png');

    // The receiver shows it with an <img src>: a GET without a token.
    const shown = await download(message.media.url);
    assert.equal(shown.status, 200);
    assert.equal(shown.type, 'image/png');
    assert.deepEqual(shown.bytes, PNG);
    assert.equal((await download(direct, bob.token)).status, 200, 'a member, by token');

    // An outsider: not by token, not by a link they altered.
    assert.equal((await download(direct, carol.token)).status, 403);
    const altered = message.media.url.replace(/signature=([0-9a-f])/, (m, c) => `signature=${c === '0' ? '1' : '0'}`);
    assert.equal((await download(altered)).status, 404);
    const later = message.media.url.replace(/expires=(\d+)/, (m, e) => `expires=${Number(e) + 300}`);
    assert.equal((await download(later)).status, 404, 'a longer expiry is not signed');
    const theirs = await upload(carol, chatId, PNG);
    assert.equal(theirs.status, 403, theirs.text);

    // History shows it with a working link too.
    const history = await http('GET', `/api/chats/${chatId}/messages`, { token: bob.token });
    assert.equal(history.status, 200, history.text);
    const stored = history.body.data.messages.find((m) => m.id === message.id);
    assert.equal(stored.messageType, 'image');
    assert.equal((await download(stored.media.url)).status, 200);
  });
}

test('uploads over the limit, of unaccepted or mislabelled types, or without chatId are refused', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const big = Buffer.concat([PNG, Buffer.alloc(MAX_UPLOAD_BYTES)]);
  let res = await upload(alice, chatId, big, 'big.png');
  assert.equal(res.status, 413, res.text);
  assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
  res = await upload(alice, chatId, Buffer.from('plain words, not a picture'), 'photo.png', 'image/png');
  assert.equal(res.status, 415, res.text);
  assert.equal(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(56)]);
  res = await upload(alice, chatId, elf, 'tool', 'application/octet-stream');
  assert.equal(res.status, 415, res.text);
  const form = new FormData();
  form.append('file', new Blob([PNG], { type: 'image/png' }), 'cat.png');
  const noChat = await fetch(`${BASE_URL}/api/media/upload-chat-media`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}` },
    body: form,
  });
  assert.equal(noChat.status, 400);
  const json = await http('POST', '/api/media/upload-chat-media', { token: alice.token, body: { chatId } });
  assert.equal(json.status, 400, 'not multipart');
  // The server is still there.
  assert.equal((await upload(alice, chatId, PNG)).status, 200);
});

test('bulk upload takes several files; the uploader alone deletes one, and its link then fails', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const form = new FormData();
  form.append('files', new Blob([PNG], { type: 'image/png' }), 'one.png');
  form.append('files', new Blob([Buffer.from('some notes')], { type: 'text/plain' }), 'notes.txt');
  form.append('chatId', String(chatId));
  const res = await fetch(`${BASE_URL}/api/media/bulk-upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}` },
    body: form,
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body.data.map((f) => f.messageType), ['image', 'file']);
  assert.deepEqual(body.data.map((f) => f.mimeType), ['image/png', 'text/plain']);
  const [png] = body.data;
  assert.equal((await download(png.url)).status, 200);
  const refused = await http('POST', '/api/media/delete', { token: bob.token, body: { fileId: png.fileId } });
  assert.equal(refused.status, 403, refused.text);
  const deleted = await http('POST', '/api/media/delete', { token: alice.token, body: { fileId: png.fileId } });
  assert.equal(deleted.status, 200, deleted.text);
  assert.equal((await download(png.url)).status, 404);
});
